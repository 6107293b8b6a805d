//! The numbers `taboo eval` reports, as small functions with hand-checked tests: perplexity,
//! distinct-n, the distortion bound, and percentile bootstrap confidence intervals on a
//! seeded generator (taboo-llm's SplitMix64, so a report is reproducible bit for bit).

use std::collections::HashSet;

use taboo_llm::Rng;

/// exp(total negative log-likelihood / tokens); `NaN` for no tokens.
pub fn perplexity(nll: f64, tokens: usize) -> f64 {
    if tokens == 0 {
        return f64::NAN;
    }
    (nll / tokens as f64).exp()
}

/// Distinct-n over a set of texts: distinct word n-grams / all word n-grams, words being
/// lower-cased whitespace-separated pieces; n-grams never cross texts. `NaN` when no text
/// has n words.
pub fn distinct_n(texts: &[&str], n: usize) -> f64 {
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    let mut total = 0usize;
    for t in texts {
        let words: Vec<String> = t.split_whitespace().map(str::to_lowercase).collect();
        if n == 0 || words.len() < n {
            continue;
        }
        for gram in words.windows(n) {
            total += 1;
            seen.insert(gram.to_vec());
        }
    }
    if total == 0 {
        f64::NAN
    } else {
        seen.len() as f64 / total as f64
    }
}

/// −log Z for one step where the guard removed `removed` of the probability mass
/// (Z = 1 − removed). The guard measures in f32, so Z is floored at 2⁻²⁴ (f32's resolution
/// near 1): a step that removed "all" of the mass counts 16.6 nats, not infinity.
pub fn neg_log_z(removed: f32) -> f64 {
    let z = (1.0 - f64::from(removed)).max(2f64.powi(-24));
    // `+ 0.0` turns −0 (nothing removed) into 0.
    -z.ln() + 0.0
}

/// A 95% percentile-bootstrap interval of `stat` over `n` units: `resamples` times, draw `n`
/// unit indices with replacement and compute the statistic; the interval is the 2.5th and
/// 97.5th percentiles of the results (nearest rank). Non-finite results are dropped.
pub fn bootstrap_ci(
    n: usize,
    resamples: usize,
    seed: u64,
    stat: &dyn Fn(&[usize]) -> f64,
) -> (f64, f64) {
    if n == 0 || resamples == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = Rng::new(seed);
    let mut values: Vec<f64> = Vec::with_capacity(resamples);
    let mut idx = vec![0usize; n];
    for _ in 0..resamples {
        for slot in idx.iter_mut() {
            *slot = (rng.next_u64() % n as u64) as usize;
        }
        let v = stat(&idx);
        if v.is_finite() {
            values.push(v);
        }
    }
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    values.sort_by(f64::total_cmp);
    let rank =
        |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    (rank(0.025), rank(0.975))
}

/// Mean of `f` over the units `idx` picks.
pub fn mean_of(idx: &[usize], f: &dyn Fn(usize) -> f64) -> f64 {
    if idx.is_empty() {
        return f64::NAN;
    }
    idx.iter().map(|&i| f(i)).sum::<f64>() / idx.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_of_known_likelihoods() {
        // Two tokens of probability 1/2 and 1/8: NLL = ln 2 + ln 8 = ln 16; ppl = 16^(1/2) = 4.
        assert!((perplexity(16f64.ln(), 2) - 4.0).abs() < 1e-12);
        assert!((perplexity(0.0, 5) - 1.0).abs() < 1e-12);
        assert!(perplexity(1.0, 0).is_nan());
    }

    #[test]
    fn distinct_n_by_hand() {
        // "a b a b" → unigrams a,b,a,b: 2 distinct of 4; bigrams ab,ba,ab: 2 of 3.
        assert_eq!(distinct_n(&["a b a b"], 1), 0.5);
        assert!((distinct_n(&["a b a b"], 2) - 2.0 / 3.0).abs() < 1e-12);
        // Across texts: "A b" and "a c" → unigrams a,b,a,c: 3 of 4; bigrams ab, ac: 2 of 2.
        assert_eq!(distinct_n(&["A b", "a c"], 1), 0.75);
        assert_eq!(distinct_n(&["A b", "a c"], 2), 1.0);
        // Bigrams never span two texts.
        assert!(distinct_n(&["a", "b"], 2).is_nan());
    }

    #[test]
    fn neg_log_z_by_hand() {
        assert_eq!(neg_log_z(0.0), 0.0);
        assert!(neg_log_z(0.0).is_sign_positive());
        assert!((neg_log_z(0.75) - 4f64.ln()).abs() < 1e-7);
        assert!((neg_log_z(1.0) - 24.0 * 2f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn bootstrap_on_a_fixed_seed() {
        // A constant statistic has a zero-width interval.
        assert_eq!(bootstrap_ci(5, 200, 1, &|_| 3.0), (3.0, 3.0));
        // Mean of 0/1 data with 3 ones in 10: the interval holds 0.3, lies in [0, 1], and is
        // the same on every run with the same seed.
        let data = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let stat = |idx: &[usize]| mean_of(idx, &|i| data[i]);
        let (lo, hi) = bootstrap_ci(10, 2000, 42, &stat);
        assert!(lo <= 0.3 && 0.3 <= hi, "{lo} {hi}");
        assert!(lo >= 0.0 && hi <= 1.0);
        // With n = 10 and p = 0.3 the normal approximation gives 0.3 ± 0.28; the bootstrap
        // percentiles land near it, on the grid of tenths.
        assert!((0.0..=0.1).contains(&lo), "{lo}");
        assert!((0.5..=0.7).contains(&hi), "{hi}");
        assert_eq!((lo, hi), bootstrap_ci(10, 2000, 42, &stat));
        // Hand-checkable: 1 unit, any resample is that unit.
        assert_eq!(bootstrap_ci(1, 10, 7, &|idx| idx.len() as f64), (1.0, 1.0));
        assert!(bootstrap_ci(0, 10, 7, &|_| 1.0).0.is_nan());
    }
}
