//! The interface every per-sequence ban guard implements — the full automaton [`crate::Guard`]
//! and the naive token-id baseline alike — so that a generation loop drives any of them the
//! same way: `apply` before sampling, `advance` after, `rollback` when rewinding.

use std::fmt;

use crate::TokenId;

/// What one call to [`LogitsGuard::apply`] did to the logits.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Applied {
    /// Tokens set to `-inf` (hard ban).
    pub forbidden: usize,
    /// Tokens given a finite penalty (soft ban).
    pub penalized: usize,
    /// Probability mass (under softmax of the logits as they came in) moved away from the
    /// edited tokens: 1 − Z_after / Z_before. Zero when nothing was edited.
    pub removed_mass: f32,
}

/// A token that produced banned text was passed to [`LogitsGuard::advance`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The offending token.
    pub token: TokenId,
    /// Position (number of tokens advanced before it).
    pub position: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token {} at position {} completes a banned match",
            self.token, self.position
        )
    }
}

impl std::error::Error for Violation {}

/// [`LogitsGuard::rollback`] was asked to go back further than its history holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackError {
    /// Tokens asked for.
    pub requested: usize,
    /// Tokens the history could give back.
    pub available: usize,
}

impl fmt::Display for RollbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot roll back {} tokens: only {} are kept in the history (raise max_rollback)",
            self.requested, self.available
        )
    }
}

impl std::error::Error for RollbackError {}

/// A per-sequence guard that edits logits before sampling.
pub trait LogitsGuard: Send {
    /// Feeds the tail of the prompt (text, not tokens) so that a word straddling the
    /// prompt/output boundary is seen. Matches that end inside the prompt are not violations.
    fn prime(&mut self, text: &[u8]);

    /// Feeds the prompt's tokens, for guards that work on token ids (the naive baseline);
    /// text-level guards ignore it: they are primed with [`LogitsGuard::prime`].
    fn prime_tokens(&mut self, _tokens: &[TokenId]) {}

    /// Edits `logits` (one per token id) for the next position.
    fn apply(&mut self, logits: &mut [f32]) -> Applied;

    /// Edits `logits` for the last position before generation is cut off (a token limit):
    /// the text will end after this token, so tokens that would leave a banned word complete
    /// at the end are forbidden too, exactly as the end-of-generation token is. The default
    /// is [`LogitsGuard::apply`].
    fn apply_final(&mut self, logits: &mut [f32]) -> Applied {
        self.apply(logits)
    }

    /// Records the sampled token. A token that completes a banned match is reported as a
    /// violation; the guard still advances past it so the caller can decide what to do
    /// (roll back, or go on: later matches are still caught, though partial matches that
    /// overlapped the reported one may be forgotten).
    fn advance(&mut self, token: TokenId) -> Result<(), Violation>;

    /// Forgets the last `n` advanced tokens.
    fn rollback(&mut self, n: usize) -> Result<(), RollbackError>;

    /// Number of tokens advanced so far (after rollbacks).
    fn position(&self) -> usize;

    /// The position of the token that opened the banned match now partially written, if
    /// the guard can tell and can still roll back to it. A backtracking loop rewinds there.
    /// Guards that do not track partial matches (the naive baseline) keep the default,
    /// `None`, and are never rewound.
    fn open_since(&self) -> Option<usize> {
        None
    }

    /// True if the text, ended right here, would complete a banned match: a whole word's
    /// letters are all written and the end of the text is the boundary that finishes it. A
    /// runtime that ends the text somewhere the guard did not choose (a stop string cutting
    /// a token) asks this. Guards that do not see text keep the default, `false`.
    fn ends_in_match(&self) -> bool {
        false
    }
}

/// The forwarding impl of [`LogitsGuard`] for a pointer type to a guard: every method is the
/// pointee's.
macro_rules! forward_logits_guard {
    ($(#[$doc:meta])* $ty:ty) => {
        $(#[$doc])*
        impl<G: LogitsGuard + ?Sized> LogitsGuard for $ty {
            fn prime(&mut self, text: &[u8]) {
                (**self).prime(text)
            }
            fn prime_tokens(&mut self, tokens: &[TokenId]) {
                (**self).prime_tokens(tokens)
            }
            fn apply(&mut self, logits: &mut [f32]) -> Applied {
                (**self).apply(logits)
            }
            fn apply_final(&mut self, logits: &mut [f32]) -> Applied {
                (**self).apply_final(logits)
            }
            fn advance(&mut self, token: TokenId) -> Result<(), Violation> {
                (**self).advance(token)
            }
            fn rollback(&mut self, n: usize) -> Result<(), RollbackError> {
                (**self).rollback(n)
            }
            fn position(&self) -> usize {
                (**self).position()
            }
            fn open_since(&self) -> Option<usize> {
                (**self).open_since()
            }
            fn ends_in_match(&self) -> bool {
                (**self).ends_in_match()
            }
        }
    };
}

forward_logits_guard!(
    /// A boxed guard is a guard, so that wrappers such as [`crate::trace::Traced`] take
    /// guards chosen at run time.
    Box<G>
);
forward_logits_guard!(
    /// A borrowed guard is a guard, so that a runtime owning its guards (boxed) can also run
    /// one the caller keeps.
    &mut G
);
