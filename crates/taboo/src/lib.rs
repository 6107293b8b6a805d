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

mod guard_api;
pub mod vocab;

pub use guard_api::{Applied, LogitsGuard, RollbackError, Violation};
#[cfg(feature = "tiktoken")]
pub use vocab::TiktokenEncoding;
pub use vocab::{GgufMetadata, TokenId, VocabError, Vocabulary, VocabularyBuilder};
