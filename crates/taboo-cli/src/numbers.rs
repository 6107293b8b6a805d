//! Value parsers for the numeric flags, so that an out-of-range number is refused while the
//! command line is parsed, with the flag named and the range said (`--top-p 1.5`: "expected a
//! number in (0, 1]"), instead of being clamped or silently ignored later. NaN and infinities
//! are refused everywhere: a comparison with NaN is always false, so a NaN setting would
//! quietly turn into "off".
//!
//! The sampling ranges are the library's ([`taboo_llm::SamplingConfig::validate`]); a test
//! below checks that the two agree.

/// A float in `[lo, hi]` (`lo_open`: `(lo, hi]`), finite.
fn float_in(s: &str, lo: f32, lo_open: bool, hi: f32, expected: &str) -> Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number; expected {expected}"))?;
    let above_lo = if lo_open { v > lo } else { v >= lo };
    if v.is_finite() && above_lo && v <= hi {
        Ok(v)
    } else {
        Err(format!("expected {expected}"))
    }
}

/// An integer in `[lo, hi]`.
fn int_in(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    let expected = format!("a whole number from {lo} to {hi}");
    let v: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number; expected {expected}"))?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected {expected}"))
    }
}

/// `--temperature`: finite, at least 0.
pub fn temperature(s: &str) -> Result<f32, String> {
    float_in(
        s,
        0.0,
        false,
        f32::MAX,
        "a number of at least 0 (0: greedy)",
    )
}

/// `--top-p`: in (0, 1]; 0 would leave no token to sample.
pub fn top_p(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, true, 1.0, "a number in (0, 1] (1: keep all)")
}

/// `--min-p`: in [0, 1]; 0 is off, 1 keeps only the tokens as likely as the best.
pub fn min_p(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, false, 1.0, "a number in [0, 1] (0: off)")
}

/// `--repeat-penalty`: finite, above 0 (1 is off; below 1 favours repeats).
pub fn repeat_penalty(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, true, f32::MAX, "a number above 0 (1: off)")
}

/// `--penalty` of soft mode: a finite logit penalty of at least 0.
pub fn penalty(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, false, f32::MAX, "a number of at least 0")
}

/// A share of probability such as `--backtrack-below`: in [0, 1].
pub fn share(s: &str) -> Result<f32, String> {
    float_in(s, 0.0, false, 1.0, "a number in [0, 1]")
}

/// Most threads llama.cpp is given (the runtime clamps to the same bound).
pub const MAX_THREADS: usize = 256;

/// `--threads`: 1 to [`MAX_THREADS`].
pub fn threads(s: &str) -> Result<usize, String> {
    int_in(s, 1, MAX_THREADS)
}

/// Smallest context window llama.cpp is asked for (the runtime rounds smaller ones up).
pub const MIN_CTX: usize = 16;
/// Largest context window the runtime accepts; the model's training context, checked when
/// it is loaded, is usually far smaller.
pub const MAX_CTX: usize = 1 << 20;

/// `--ctx-size`: [`MIN_CTX`] to [`MAX_CTX`] tokens.
pub fn ctx_size(s: &str) -> Result<usize, String> {
    int_in(s, MIN_CTX, MAX_CTX)
}

/// A count that must be at least 1 (`--rounds`).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    int_in(s, 1, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use taboo_llm::SamplingConfig;

    const PROBES: [&str; 16] = [
        "-1",
        "-0.0",
        "0",
        "1e-30",
        "0.3",
        "0.999",
        "1",
        "1.0000001",
        "1.5",
        "7",
        "1e30",
        "3e38",
        "NaN",
        "inf",
        "-inf",
        "nope",
    ];

    /// The flags refuse exactly what the library refuses.
    #[test]
    fn sampling_flags_agree_with_the_library() {
        type Parse = fn(&str) -> Result<f32, String>;
        type Set = fn(&mut SamplingConfig, f32);
        let flags: [(&str, Parse, Set); 4] = [
            ("temperature", temperature, |c, v| c.temperature = v),
            ("top_p", top_p, |c, v| c.top_p = v),
            ("min_p", min_p, |c, v| c.min_p = v),
            ("repeat_penalty", repeat_penalty, |c, v| {
                c.repeat_penalty = v
            }),
        ];
        for (name, parse, set) in flags {
            for s in PROBES {
                let library = s.parse::<f32>().ok().is_some_and(|v| {
                    let mut c = SamplingConfig::default();
                    set(&mut c, v);
                    c.validate().is_ok()
                });
                assert_eq!(parse(s).is_ok(), library, "{name} = {s}");
            }
        }
    }

    #[test]
    fn ranges_are_what_the_help_says() {
        assert_eq!(top_p("1"), Ok(1.0));
        assert!(top_p("0").unwrap_err().contains("(0, 1]"));
        assert_eq!(min_p("0"), Ok(0.0));
        assert_eq!(share("0"), Ok(0.0));
        assert_eq!(share("1"), Ok(1.0));
        for s in ["-0.1", "1.1", "NaN", "inf"] {
            assert!(share(s).is_err(), "{s}");
            assert!(penalty(s).is_err() || s == "1.1", "{s}");
        }
        assert!(threads("0").is_err() && threads("257").is_err() && threads("-2").is_err());
        assert_eq!(threads("256"), Ok(256));
        assert!(ctx_size("0").is_err() && ctx_size("15").is_err());
        assert!(ctx_size(&(MAX_CTX + 1).to_string()).is_err());
        assert_eq!(ctx_size("16"), Ok(16));
        assert!(at_least_one("0").is_err());
        assert!(at_least_one("x")
            .unwrap_err()
            .contains("not a whole number"));
    }
}
