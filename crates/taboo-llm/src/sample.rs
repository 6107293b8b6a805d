//! Picking the next token from (already guarded) logits, in Rust so that the ban guard's edit
//! is the last word on the distribution: llama.cpp's sampler chain never sees the raw logits.
//!
//! Order of operations, fixed so that results are reproducible across versions:
//! repetition penalty → greedy or (temperature → top-k → min-p → top-p → draw).
//! Banned tokens arrive as `-inf` and are simply never candidates.

use taboo::TokenId;

/// Sampling settings. The default is greedy decoding with no repetition penalty.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SamplingConfig {
    /// Softmax temperature; `0` (the default) means greedy: always the most likely token.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens; `0` (the default) keeps all.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability sums to at least `p`; `1.0` (the
    /// default) keeps all.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one; `0.0` (the default) keeps all.
    pub min_p: f32,
    /// Divide positive (multiply negative) logits of recently generated tokens by this;
    /// `1.0` (the default) is off.
    pub repeat_penalty: f32,
    /// How many recent tokens the repetition penalty looks at. 64 by default.
    pub repeat_last_n: usize,
    /// Seed of the random generator, so that a sampled run can be repeated exactly.
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

taboo::__settings_setters!(SamplingConfig {
    with_temperature => temperature: f32,
    with_top_k => top_k: usize,
    with_top_p => top_p: f32,
    with_min_p => min_p: f32,
    with_repeat_penalty => repeat_penalty: f32,
    with_repeat_last_n => repeat_last_n: usize,
    with_seed => seed: u64,
});

/// SplitMix64: tiny, fast, and good enough for drawing one token per step; its only job here
/// is to be the same on every machine for the same seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// A sampler with its own random state.
///
/// ```
/// use taboo_llm::{Sampler, SamplingConfig};
/// let mut s = Sampler::new(SamplingConfig::default());
/// let mut logits = vec![0.5, 3.0, f32::NEG_INFINITY, 1.0];
/// assert_eq!(s.sample(&mut logits, &[]), Some(1));
/// ```
#[derive(Clone, Debug)]
pub struct Sampler {
    config: SamplingConfig,
    rng: Rng,
    candidates: Vec<(TokenId, f32)>,
}

impl Sampler {
    /// A sampler seeded from `config.seed`.
    pub fn new(config: SamplingConfig) -> Sampler {
        let rng = Rng::new(config.seed);
        Sampler {
            config,
            rng,
            candidates: Vec::new(),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SamplingConfig {
        &self.config
    }

    /// Picks a token. `logits` is modified (repetition penalty); `history` is the generated
    /// text so far, in tokens. Returns `None` when every logit is `-inf` or NaN.
    pub fn sample(&mut self, logits: &mut [f32], history: &[TokenId]) -> Option<TokenId> {
        let c = &self.config;
        if c.repeat_penalty != 1.0 && c.repeat_penalty > 0.0 {
            let recent = &history[history.len().saturating_sub(c.repeat_last_n)..];
            let mut seen: Vec<TokenId> = recent.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for t in seen {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 {
                        *l / c.repeat_penalty
                    } else {
                        *l * c.repeat_penalty
                    };
                }
            }
        }
        if c.temperature <= 0.0 {
            return argmax(logits);
        }
        let max = logits[argmax(logits)? as usize];
        // min-p is relative to the best token, so it can prune before anything is sorted:
        // p_i / p_max ≥ min_p  ⇔  logit_i ≥ max + T·ln(min_p).
        let floor = if c.min_p > 0.0 {
            max + c.temperature * c.min_p.min(1.0).ln()
        } else {
            f32::NEG_INFINITY
        };
        self.candidates.clear();
        self.candidates.extend(
            logits
                .iter()
                .enumerate()
                .filter(|(_, &l)| l.is_finite() && l >= floor)
                .map(|(i, &l)| (i as TokenId, (l - max) / c.temperature)),
        );
        let by_logit_desc = |a: &(TokenId, f32), b: &(TokenId, f32)| b.1.total_cmp(&a.1);
        if c.top_k > 0 && c.top_k < self.candidates.len() {
            self.candidates
                .select_nth_unstable_by(c.top_k - 1, by_logit_desc);
            self.candidates.truncate(c.top_k);
        }
        let mut probs: Vec<f64> = self
            .candidates
            .iter()
            .map(|&(_, l)| (l as f64).exp())
            .collect();
        if c.top_p < 1.0 {
            let mut order: Vec<usize> = (0..self.candidates.len()).collect();
            order.sort_unstable_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            let total: f64 = probs.iter().sum();
            let mut acc = 0.0;
            let mut keep = order.len();
            for (n, &i) in order.iter().enumerate() {
                acc += probs[i] / total;
                if acc >= c.top_p as f64 {
                    keep = n + 1;
                    break;
                }
            }
            for &i in &order[keep..] {
                probs[i] = 0.0;
            }
        }
        let total: f64 = probs.iter().sum();
        // NaN-proof: a NaN total falls back to greedy too.
        if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return argmax(logits);
        }
        let mut target = self.rng.next_f64() * total;
        for (i, p) in probs.iter().enumerate() {
            if target < *p {
                return Some(self.candidates[i].0);
            }
            target -= p;
        }
        // Rounding left the draw past the end: the last candidate with mass gets it.
        probs
            .iter()
            .rposition(|&p| p > 0.0)
            .map(|i| self.candidates[i].0)
    }
}

/// Index of the largest finite logit (first on ties), `None` if there is none.
fn argmax(logits: &[f32]) -> Option<TokenId> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_finite() && best.is_none_or(|(_, b)| l > b) {
            best = Some((i, l));
        }
    }
    best.map(|(i, _)| i as TokenId)
}

impl SamplingConfig {
    /// Checks that every number is one the sampler gives a meaning to: `temperature` finite
    /// and at least 0; `top_p` in (0, 1] (0 would keep no token); `min_p` in [0, 1], 0
    /// meaning off and 1 keeping only the tokens as likely as the best; `repeat_penalty`
    /// finite and above 0 (1 is off, below 1 favours repetition). A NaN anywhere is refused,
    /// since every comparison with it is false and the setting would be silently ignored.
    ///
    /// ```
    /// use taboo_llm::SamplingConfig;
    /// assert!(SamplingConfig::default().validate().is_ok());
    /// let hot = SamplingConfig::default().with_temperature(f32::NAN);
    /// assert!(hot.validate().unwrap_err().to_string().contains("temperature"));
    /// ```
    pub fn validate(&self) -> crate::Result<()> {
        let checks: [(&'static str, f32, bool, &'static str); 4] = [
            (
                "temperature",
                self.temperature,
                self.temperature.is_finite() && self.temperature >= 0.0,
                "a finite number of at least 0 (0: greedy)",
            ),
            (
                "top_p",
                self.top_p,
                self.top_p > 0.0 && self.top_p <= 1.0,
                "a number in (0, 1] (1: keep all)",
            ),
            (
                "min_p",
                self.min_p,
                (0.0..=1.0).contains(&self.min_p),
                "a number in [0, 1] (0: off)",
            ),
            (
                "repeat_penalty",
                self.repeat_penalty,
                self.repeat_penalty.is_finite() && self.repeat_penalty > 0.0,
                "a finite number above 0 (1: off)",
            ),
        ];
        match checks.into_iter().find(|&(_, _, ok, _)| !ok) {
            Some((name, value, _, expected)) => Err(crate::Error::InvalidSampling {
                name,
                value,
                expected,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(temperature: f32) -> SamplingConfig {
        SamplingConfig::default()
            .with_temperature(temperature)
            .with_seed(7)
    }

    #[test]
    fn greedy_skips_banned_and_nan() {
        let mut s = Sampler::new(cfg(0.0));
        let mut l = vec![f32::NEG_INFINITY, f32::NAN, 1.0, 2.0];
        assert_eq!(s.sample(&mut l, &[]), Some(3));
        let mut all_banned = vec![f32::NEG_INFINITY; 4];
        assert_eq!(s.sample(&mut all_banned, &[]), None);
        let mut all_banned = vec![f32::NEG_INFINITY; 4];
        assert_eq!(Sampler::new(cfg(1.0)).sample(&mut all_banned, &[]), None);
    }

    #[test]
    fn same_seed_same_draws() {
        let logits = vec![1.0, 1.1, 0.9, 1.05];
        let draw = |seed| {
            let mut s = Sampler::new(cfg(1.0).with_seed(seed));
            (0..50)
                .map(|_| s.sample(&mut logits.clone(), &[]).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }

    #[test]
    fn temperature_never_picks_a_banned_token() {
        let mut s = Sampler::new(cfg(5.0));
        for _ in 0..500 {
            let mut l = vec![0.0, f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
            let t = s.sample(&mut l, &[]).unwrap();
            assert!(t == 0 || t == 2);
        }
    }

    #[test]
    fn top_k_and_top_p_and_min_p_truncate() {
        let logits = vec![3.0, 2.9, 0.0, -1.0, -2.0];
        let seen = |config: SamplingConfig| {
            let mut s = Sampler::new(config);
            let mut set: Vec<TokenId> = (0..400)
                .map(|_| s.sample(&mut logits.clone(), &[]).unwrap())
                .collect();
            set.sort_unstable();
            set.dedup();
            set
        };
        assert_eq!(seen(cfg(1.0).with_top_k(2)), vec![0, 1]);
        assert_eq!(seen(cfg(1.0).with_top_p(0.5)), vec![0]);
        assert_eq!(seen(cfg(1.0).with_min_p(0.5)), vec![0, 1]);
        assert_eq!(seen(cfg(1.0)).len(), 5);
    }

    #[test]
    fn repetition_penalty_turns_greedy_away() {
        let mut s = Sampler::new(cfg(0.0).with_repeat_penalty(2.0));
        let mut l = vec![2.0, 1.5];
        assert_eq!(s.sample(&mut l, &[0]), Some(1));
    }
}

#[cfg(test)]
mod validate_tests {
    use super::SamplingConfig;

    fn config(edit: impl Fn(&mut SamplingConfig)) -> SamplingConfig {
        let mut c = SamplingConfig::default();
        edit(&mut c);
        c
    }

    #[test]
    fn out_of_range_sampling_numbers_are_refused_by_name() {
        let bad: [(&str, SamplingConfig); 10] = [
            ("temperature", config(|c| c.temperature = -0.5)),
            ("temperature", config(|c| c.temperature = f32::NAN)),
            ("temperature", config(|c| c.temperature = f32::INFINITY)),
            ("top_p", config(|c| c.top_p = 0.0)),
            ("top_p", config(|c| c.top_p = 1.5)),
            ("top_p", config(|c| c.top_p = f32::NAN)),
            ("min_p", config(|c| c.min_p = -0.1)),
            ("min_p", config(|c| c.min_p = 2.0)),
            ("repeat_penalty", config(|c| c.repeat_penalty = 0.0)),
            (
                "repeat_penalty",
                config(|c| c.repeat_penalty = f32::NEG_INFINITY),
            ),
        ];
        for (name, c) in bad {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with(&format!("sampling setting {name} = ")), "{e}");
        }
        let good = [
            SamplingConfig::default(),
            config(|c| c.temperature = 100.0),
            config(|c| c.top_p = 1e-6),
            config(|c| c.min_p = 1.0),
            config(|c| c.repeat_penalty = 0.5),
        ];
        for c in good {
            assert!(c.validate().is_ok(), "{c:?}");
        }
    }
}
