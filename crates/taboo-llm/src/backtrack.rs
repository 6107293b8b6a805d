//! Backtracking: hard masking, plus rewinding out of the dead ends that masking alone walks
//! into.
//!
//! A whole-word ban on "cat" must allow `" cat"` (it may still become `" cats"`), and right
//! after it the mask forbids every token that starts with a boundary. If the model meant the
//! animal, almost all of its probability is gone, and what is left is `"cats"`, `"catmongoose"`,
//! `"cat-like"`. Masking is correct but the text suffers. So at every step the generation loop
//! asks two questions: is a banned match partially written ([`LogitsGuard::open_since`]), and
//! did the mask leave less than [`Backtrack::min_mass_left`] of the probability? If both,
//! the model and the guard are rewound to the token that opened the match, that token is
//! forbidden *at that position only*, and the loop samples again from there:
//!
//! ```text
//!  … is a domesticated │ " cat" │ ← mask leaves 0.4% of the mass: dead end
//!                      └─ rewind here, forbid " cat" at this position, resample → " dog"
//! ```
//!
//! Rewinds are bounded per position ([`Backtrack::retries_per_position`]) and per generation
//! ([`Backtrack::max_backtracks`]); when they run out the loop simply goes on in hard mode.
//! Either way every sampled token went through the hard mask, so the guarantee of hard mode —
//! no banned text, ever — never depends on the backtracking. Rewinding only removes tokens
//! and forbids more.
//!
//! Streaming holds back exactly the bytes from where the open partial match began (the only
//! text a rewind can take back); everything before it is printed at once.

use taboo::{LogitsGuard, TokenId};

use crate::{Error, Result};

/// When to rewind out of a dead end. Pass it in [`crate::GenerateOptions::backtrack`]; it
/// takes effect with any guard that implements [`LogitsGuard::open_since`] (the automaton
/// [`taboo::Guard`] does; the naive baseline does not, and is never rewound).
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use std::sync::Arc;
/// use taboo::{Automaton, BanList, EntryOptions, Guard, GuardConfig, MaskTable};
/// use taboo_llm::{generate, vocabulary_from_engine, Backtrack, EngineOptions, GenerateOptions, LlamaEngine};
/// let mut engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(),
///                                    &EngineOptions::default())?;
/// let list = BanList::from_words(["cat"], EntryOptions::default()).unwrap();
/// let vocab = Arc::new(vocabulary_from_engine(&engine));
/// let table = Arc::new(MaskTable::new(Arc::new(Automaton::compile(&list).unwrap()), vocab));
/// let mut guard = Guard::new(table, GuardConfig::default());
/// let options = GenerateOptions::default().with_backtrack(Some(Backtrack::default()));
/// let out = generate(&mut engine, Some(&mut guard), "What animal says meow?", &options,
///                    &mut |_| Ok(()), &AtomicBool::new(false))?;
/// println!("{} ({} backtracks, {} tokens rewound)", out.text, out.stats.backtracks,
///          out.stats.rewound_tokens);
/// # Ok::<(), taboo_llm::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Backtrack {
    /// Rewind when a banned match is partially written and the mask leaves less than this
    /// share of the probability mass (measured on the raw logits, before temperature).
    /// 0.5 by default: below it the model wanted to end the word more than to go on with any
    /// allowed continuation; see docs/BACKTRACKING.md for the sweep behind the number.
    pub min_mass_left: f32,
    /// Most rewinds to one position (each forbids one more token there) before that position
    /// is left to hard masking. 3 by default.
    pub retries_per_position: usize,
    /// Most rewinds in one generation. 32 by default.
    pub max_backtracks: usize,
}

impl Default for Backtrack {
    fn default() -> Self {
        Backtrack {
            min_mass_left: 0.5,
            retries_per_position: 3,
            max_backtracks: 32,
        }
    }
}

taboo::__settings_setters!(Backtrack {
    with_min_mass_left => min_mass_left: f32,
    with_retries_per_position => retries_per_position: usize,
    with_max_backtracks => max_backtracks: usize,
});

impl Backtrack {
    /// Checks the settings: `min_mass_left` must be in [0, 1].
    ///
    /// ```
    /// let bad = taboo_llm::Backtrack::default().with_min_mass_left(1.5);
    /// assert!(bad.validate().unwrap_err().to_string().contains("min_mass_left"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if (0.0..=1.0).contains(&self.min_mass_left) {
            Ok(())
        } else {
            Err(Error::InvalidSampling {
                name: "min_mass_left",
                value: self.min_mass_left,
                expected: "a share of the probability in [0, 1]",
            })
        }
    }
}

/// The bookkeeping of one generation: which tokens are forbidden at which position, and how
/// much of the budget is spent.
pub(crate) struct Backtracker {
    options: Backtrack,
    /// `banned_at[p]`: tokens that led into a dead end when sampled at position `p`.
    banned_at: Vec<Vec<TokenId>>,
    backtracks: usize,
    rewound_tokens: usize,
}

impl Backtracker {
    pub(crate) fn new(options: Backtrack) -> Backtracker {
        Backtracker {
            options,
            banned_at: Vec::new(),
            backtracks: 0,
            rewound_tokens: 0,
        }
    }

    /// The position to rewind to if step `step` is a dead end: a match opened at
    /// `open_since`, the mask left `mass_left`, and that position has retries left.
    pub(crate) fn dead_end(
        &self,
        open_since: Option<usize>,
        mass_left: f32,
        step: usize,
    ) -> Option<usize> {
        let at = open_since?;
        let tried = self.banned_at.get(at).map_or(0, Vec::len);
        let cornered = mass_left < self.options.min_mass_left;
        (cornered && at < step && !self.exhausted() && tried < self.options.retries_per_position)
            .then_some(at)
    }

    /// True once the budget of the generation is spent: no more rewinds.
    pub(crate) fn exhausted(&self) -> bool {
        self.backtracks >= self.options.max_backtracks
    }

    /// Rolls back the guard and `tokens` to position `at` and records the ban there (the
    /// model's half of a rewind is left to the driver, see [`crate::Step::Rewind`]). Returns how many tokens the model's sequence
    /// must drop and the token to feed again so that its logits are those of position `at`
    /// (the engine keeps logits of the last fed position only, so it drops one token more and
    /// feeds it again: one decode step instead of a cache of 49k+ floats per position).
    pub(crate) fn take_back(
        &mut self,
        guard: &mut dyn LogitsGuard,
        prompt: &[TokenId],
        tokens: &mut Vec<TokenId>,
        at: usize,
    ) -> Result<(usize, TokenId)> {
        let depth = tokens.len() - at;
        guard
            .rollback(depth)
            .map_err(|e| Error::Rewind(e.to_string()))?;
        let before = if at > 0 {
            tokens[at - 1]
        } else {
            prompt[prompt.len() - 1]
        };
        // Positions after `at` belong to the future being thrown away.
        self.banned_at
            .resize(self.banned_at.len().max(at + 1), Vec::new());
        self.banned_at.truncate(at + 1);
        self.banned_at[at].push(tokens[at]);
        tokens.truncate(at);
        self.backtracks += 1;
        self.rewound_tokens += depth;
        Ok((depth + 1, before))
    }

    /// Forbids at position `step` the tokens that led into dead ends there — unless that
    /// would leave nothing to sample, in which case the hard mask alone decides.
    pub(crate) fn forbid(&self, step: usize, logits: &mut [f32]) {
        let Some(banned) = self.banned_at.get(step).filter(|b| !b.is_empty()) else {
            return;
        };
        let left = logits
            .iter()
            .enumerate()
            .any(|(t, &l)| l > f32::NEG_INFINITY && !banned.contains(&(t as TokenId)));
        if !left {
            return;
        }
        for &t in banned {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
    }

    /// A token was kept at `step`: bans recorded for later positions described another
    /// future.
    pub(crate) fn kept(&mut self, step: usize) {
        self.banned_at.truncate(step + 1);
    }

    pub(crate) fn backtracks(&self) -> usize {
        self.backtracks
    }

    pub(crate) fn rewound_tokens(&self) -> usize {
        self.rewound_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewinds_only_while_a_match_is_open_and_the_mass_is_low() {
        let b = Backtracker::new(Backtrack::default());
        assert_eq!(b.dead_end(None, 0.01, 5), None);
        assert_eq!(b.dead_end(Some(3), 0.9, 5), None);
        assert_eq!(b.dead_end(Some(3), 0.01, 5), Some(3));
        assert_eq!(b.dead_end(Some(5), 0.01, 5), None);
    }

    #[test]
    fn forbidding_never_empties_the_distribution() {
        let mut b = Backtracker::new(Backtrack::default());
        b.banned_at = vec![vec![], vec![1]];
        let mut only_one = vec![f32::NEG_INFINITY, 2.0, f32::NEG_INFINITY];
        b.forbid(1, &mut only_one);
        assert_eq!(only_one[1], 2.0);
        let mut two = vec![0.5, 2.0, f32::NEG_INFINITY];
        b.forbid(1, &mut two);
        assert_eq!(two, vec![0.5, f32::NEG_INFINITY, f32::NEG_INFINITY]);
        b.kept(0);
        let mut again = vec![0.5, 2.0];
        b.forbid(1, &mut again);
        assert_eq!(again, vec![0.5, 2.0]);
    }
}
