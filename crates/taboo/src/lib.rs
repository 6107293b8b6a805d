//! taboo: make a language model unable to write the words you ban.
//!
//! Data flows left to right, once:
//!
//! ```text
//! BanList ──compile──► Automaton ─┐
//! Vocabulary ──► TokenTrie ───────┴─► MaskTable (state → forbidden tokens, lazy, cached)
//!                                          │
//!                  per sequence: Guard ──apply──► logits (&mut [f32])
//! ```
//!
//! The crate knows nothing about models: logits are `&mut [f32]`, tokens are `u32`,
//! vocabularies are byte strings.

#![warn(missing_docs)]

/// Builder-style setters for the fields of a settings struct (`with_field(self, value)`), so
/// that the struct can be `#[non_exhaustive]` — a field added later breaks no caller — and
/// still be written in one expression: `GuardConfig::default().with_mode(Mode::Hard)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __settings_setters {
    ($ty:ident { $($setter:ident => $field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`; see the field for its meaning and default.")]
                #[must_use]
                pub fn $setter(mut self, value: $t) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

mod automaton;
mod ban;
mod banlist;
mod bitset;
mod error;
pub mod forms;
mod guard;
mod guard_api;
pub mod lists;
mod logits;
mod mask;
mod naive;
mod shared_map;
mod spellings;
pub mod text;
pub mod trace;
mod trie;
pub mod vocab;

pub use automaton::{Automaton, CompileOptions, State};
pub use ban::{Ban, BanBuilder};
pub use banlist::{BanEntry, BanList, EntryOptions, FormsReport};
pub use bitset::TokenSet;
pub use error::{BanError, BanErrorKind};
pub use guard::{BitmaskTooShort, Guard, GuardConfig, Mode};
pub use guard_api::{Applied, LogitsGuard, RollbackError, Violation};
pub use logits::softmax;
pub use mask::{MaskStats, MaskTable, Masks, DEFAULT_CACHE_BUDGET};
pub use naive::NaiveGuard;
pub use spellings::{SpellingCount, Spellings};
pub use trie::TokenTrie;
#[cfg(feature = "tiktoken")]
pub use vocab::TiktokenEncoding;
pub use vocab::{GgufMetadata, TokenId, VocabError, Vocabulary, VocabularyBuilder};

/// The README's Rust examples, run as doctests so that they cannot drift from the API.
#[cfg(all(doctest, feature = "tiktoken"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
