//! taboo-llm: run a GGUF model through llama.cpp with a ban guard editing its logits.
//!
//! ```text
//! GGUF ──check_gguf_file──► LlamaEngine (Engine trait) ──vocabulary_from_engine──► taboo::Vocabulary
//!                                │ feed / rewind
//! prompt ──chat template──► Sequence::step: logits ─► guard.apply ─► Sampler ─► guard.advance ─► TextStream
//!                                   ▲ driven by generate (one sequence) or Batch (many, joining and leaving)
//! ```
//!
//! Only `llama.rs` knows llama.cpp; the loop, the sampler and the vocabulary builder see the
//! [`Engine`] trait, so the core crate and any other backend stay independent of it.

mod backtrack;
mod batch;
mod engine;
mod error;
mod generate;
mod gguf;
mod llama;
mod sample;
mod sequence;
mod stream;
mod vocab;

pub use backtrack::Backtrack;
pub use batch::{
    generate_batch, log_prob, score_batch, Batch, BatchEngine, BatchOutput, BatchRequest, BatchRun,
    Feed,
};
pub use engine::{Engine, TokenPiece, TokenText};
pub use error::{Error, Result};
pub use generate::{generate, prompt_tokens, FinishReason, GenerateOptions, Generation, Stats};
pub use gguf::check_gguf_file;
pub use llama::{EngineOptions, LlamaEngine};
pub use sample::{Rng, Sampler, SamplingConfig};
pub use sequence::{Sequence, Step};
pub use stream::TextStream;
pub use vocab::vocabulary_from_engine;
