//! Text normalisation: the one place where "what counts as the same text" is decided.
//!
//! Bans are matched on a *normalised byte stream*, never on raw token bytes. Raw bytes are
//! decoded as UTF-8 (invalid sequences become U+FFFD exactly as `String::from_utf8_lossy`
//! does), and every character is written to the stream as follows:
//!
//! - first the character is *folded* ([`folded`]): canonically decomposed, case-folded when
//!   the lane ignores case, and with disguise folding compatibility-decomposed, stripped of
//!   marks and invisible characters and mapped to look-alike representatives; each
//!   character of the result is then written as follows;
//! - a word character (`\w` in the Unicode sense: Alphabetic, marks, decimal digits, connector
//!   punctuation, join controls) is written as itself;
//! - a run of whitespace is written once as `MARK ' ' MARK`;
//! - any other character `c` is written as `MARK c MARK`;
//! - start and end of text are written as a single `MARK`.
//!
//! `MARK` is the byte `0x01`. A word character is never written next to a `MARK` unless a
//! non-word character (or the edge of the text) is really there, so "whole word `cat`" is the
//! plain byte string `MARK cat MARK`, and both the literal engine and a regex DFA can match word
//! boundaries by consuming bytes — no look-around, so every engine can be stepped one byte at a
//! time from any saved state. The character U+0001 itself is written as U+FFFD so that text can
//! never forge a mark.

mod classes;
mod fold;
mod normalizer;

pub use classes::{fold_char, is_word_char};
pub(crate) use classes::{whitespace_class, word_class};
pub(crate) use fold::changed_chars;
pub use fold::{folded, Folded};
pub use normalizer::{normalize, normalize_into, Emission, Fold, NormState, MARK};
