//! The seam between generation and the inference library: everything the generation loop,
//! the vocabulary builder and the guards need from a model, and nothing more. Only
//! [`crate::LlamaEngine`] touches llama.cpp; tests and future backends implement this trait.

use taboo::TokenId;

use crate::Result;

/// What one token id stands for, as the model itself renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenPiece {
    /// Ordinary text: the exact bytes (possibly a partial UTF-8 character).
    Text(Vec<u8>),
    /// A control token (`<|im_end|>`, `<bos>` …); never text, so it carries its name instead.
    Special(String),
}

/// What a token id stands for: the part of a model that a [`crate::Sequence`] needs, so
/// that the per-sequence state machine can run beside any backend.
pub trait TokenText {
    /// What a token stands for.
    fn token_piece(&self, id: TokenId) -> TokenPiece;

    /// True for tokens that end generation (EOS, end of turn …).
    fn is_end_of_generation(&self, id: TokenId) -> bool;
}

/// A loaded model with one sequence of state (its KV cache).
///
/// The sequence grows with [`Engine::feed`] and shrinks with [`Engine::rewind`]; logits are
/// always those of the last fed position.
pub trait Engine: TokenText {
    /// Number of token ids (length of every logits vector).
    fn vocab_size(&self) -> usize;

    /// Context window in tokens: the most the sequence may hold.
    fn context_size(&self) -> usize;

    /// Tokens currently in the sequence.
    fn position(&self) -> usize;

    /// Appends `tokens` to the sequence and returns the logits for the next position.
    fn feed(&mut self, tokens: &[TokenId]) -> Result<&[f32]>;

    /// Drops the last `n` tokens of the sequence, so that feeding them again reproduces the
    /// same logits without re-running the prefix.
    fn rewind(&mut self, n: usize) -> Result<()>;

    /// Drops the whole sequence.
    fn reset(&mut self) -> Result<()>;

    /// Tokenizes text. `special` adds the model's BOS (when it wants one) and parses control
    /// tokens written in the text, as a chat-templated prompt needs.
    fn tokenize(&self, text: &str, special: bool) -> Vec<TokenId>;

    /// Wraps a user message in the model's chat template, ending where the assistant speaks.
    fn chat_prompt(&self, user: &str) -> Result<String>;

    /// Formats a conversation, `(role, content)` pairs in order (`system`, `user`,
    /// `assistant` …), with the model's chat template, ending where the assistant speaks
    /// next. One user message gives what [`Engine::chat_prompt`] gives.
    fn chat_messages(&self, messages: &[(&str, &str)]) -> Result<String>;
}
