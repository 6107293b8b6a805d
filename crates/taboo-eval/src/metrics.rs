//! The numbers `taboo eval` reports, as small functions with hand-checked tests: perplexity,
//! distinct-n, the distortion bound, percentile bootstrap confidence intervals on a seeded
//! generator (taboo-llm's SplitMix64, so a report is reproducible bit for bit), and the exact
//! Clopper–Pearson interval of a binomial proportion.
//!
//! The bootstrap resamples *units* and lets the statistic map them to outputs: the report
//! passes prompts as units, because the outputs of one prompt across seeds are correlated
//! (resampling outputs would pretend there are seeds × prompts independent draws and give
//! intervals that are too narrow).

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

/// Σ numerator / Σ denominator over the units `idx` picks (a rate over clustered outputs:
/// each unit is a prompt, `num` its flagged outputs, `den` its outputs); `NaN` when the
/// denominator is 0.
pub fn ratio_of(idx: &[usize], num: &dyn Fn(usize) -> f64, den: &dyn Fn(usize) -> f64) -> f64 {
    let (n, d) = idx
        .iter()
        .fold((0.0, 0.0), |(n, d), &i| (n + num(i), d + den(i)));
    if d == 0.0 {
        f64::NAN
    } else {
        n / d
    }
}

/// P(X ≤ k) for X ~ Binomial(n, p), summed in log space (no underflow for large n).
pub fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let mut log_choose = 0.0f64;
    let mut total = 0.0;
    for i in 0..=k {
        if i > 0 {
            log_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        total += (log_choose + i as f64 * lp + (n - i) as f64 * lq).exp();
    }
    total.min(1.0)
}

/// The exact (Clopper–Pearson) two-sided interval of a binomial proportion with `k`
/// successes in `n` trials at `confidence` (0.95 for 95%): the p at which P(X ≥ k) and
/// P(X ≤ k) equal (1 − confidence)/2. For k = 0 and k = n it has a closed form
/// (upper = 1 − (α/2)^(1/n) for 0/n), elsewhere it is found by bisection. `NaN`s for n = 0.
pub fn clopper_pearson(k: usize, n: usize, confidence: f64) -> (f64, f64) {
    if n == 0 || k > n {
        return (f64::NAN, f64::NAN);
    }
    let half = (1.0 - confidence) / 2.0;
    let nf = n as f64;
    // The p in [0, 1] where `f`, increasing in p, reaches `target` (bisection).
    let solve = |f: &dyn Fn(f64) -> f64, target: f64| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..100 {
            let mid = (lo + hi) / 2.0;
            if f(mid) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (lo + hi) / 2.0
    };
    let lower = match k {
        0 => 0.0,
        k if k == n => half.powf(1.0 / nf),
        // P(X ≥ k | p) = 1 − P(X ≤ k − 1 | p) grows with p.
        k => solve(&|p| 1.0 - binomial_cdf(k - 1, n, p), half),
    };
    let upper = match k {
        k if k == n => 1.0,
        0 => 1.0 - half.powf(1.0 / nf),
        // P(X ≤ k | p) falls with p, so its complement grows: solve 1 − P(X ≤ k) = 1 − α/2.
        k => solve(&|p| 1.0 - binomial_cdf(k, n, p), 1.0 - half),
    };
    (lower, upper)
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

    #[test]
    fn bootstrap_by_prompt_resamples_whole_prompts() {
        // 4 prompts × 3 seeds; prompt 0 leaks in every seed, the others never. Resampling
        // prompts keeps each prompt's seeds together, so a resampled rate is always a
        // multiple of 1/4 (k prompts of 4 drawn leaking): never 1/12 or 2/12.
        let leaks = [3.0, 0.0, 0.0, 0.0];
        let stat = |idx: &[usize]| ratio_of(idx, &|i| leaks[i], &|_| 3.0);
        assert_eq!(stat(&[0, 1, 2, 3]), 0.25);
        let (lo, hi) = bootstrap_ci(4, 2000, 9, &stat);
        for v in [lo, hi] {
            assert_eq!((v * 4.0).fract(), 0.0, "{v}");
        }
        assert_eq!(lo, 0.0);
        assert!(hi >= 0.5, "{hi}");
        // The same data as 12 independent outputs gives a narrower interval: the point of
        // resampling prompts.
        let flat: Vec<f64> = (0..12).map(|i| if i < 3 { 1.0 } else { 0.0 }).collect();
        let (flo, fhi) = bootstrap_ci(12, 2000, 9, &|idx| mean_of(idx, &|i| flat[i]));
        assert!(fhi - flo < hi - lo, "{flo} {fhi} vs {lo} {hi}");
        assert!(ratio_of(&[], &|_| 1.0, &|_| 1.0).is_nan());
    }

    #[test]
    fn clopper_pearson_against_known_values() {
        let close = |a: f64, b: f64| (a - b).abs() < 5e-5;
        // 0/10 at 95%: upper = 1 − 0.025^(1/10) = 0.30850.
        let (lo, hi) = clopper_pearson(0, 10, 0.95);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.30850), "{hi}");
        // n/n mirrors it.
        let (lo, hi) = clopper_pearson(10, 10, 0.95);
        assert!(close(lo, 0.69150) && hi == 1.0, "{lo}");
        // Tabulated exact intervals: 3/10 → [0.06674, 0.65245]; 5/10 → [0.18709, 0.81291];
        // 1/20 → [0.00127, 0.24873]; 0/72 → upper 0.04994.
        let (lo, hi) = clopper_pearson(3, 10, 0.95);
        assert!(close(lo, 0.06674) && close(hi, 0.65245), "{lo} {hi}");
        let (lo, hi) = clopper_pearson(5, 10, 0.95);
        assert!(close(lo, 0.18709) && close(hi, 0.81291), "{lo} {hi}");
        let (lo, hi) = clopper_pearson(1, 20, 0.95);
        assert!(close(lo, 0.00127) && close(hi, 0.24873), "{lo} {hi}");
        assert!(close(clopper_pearson(0, 72, 0.95).1, 0.04994));
        // The bisection agrees with the closed form where both apply (k = 0 via the CDF).
        assert!((binomial_cdf(0, 10, 0.30850) - 0.025).abs() < 1e-4);
        assert!(clopper_pearson(0, 0, 0.95).0.is_nan());
        // A CDF by hand: Binomial(2, 1/2): P(X ≤ 0) = 1/4, P(X ≤ 1) = 3/4.
        assert!((binomial_cdf(0, 2, 0.5) - 0.25).abs() < 1e-12);
        assert!((binomial_cdf(1, 2, 0.5) - 0.75).abs() < 1e-12);
        assert_eq!(binomial_cdf(2, 2, 0.5), 1.0);
    }
}
