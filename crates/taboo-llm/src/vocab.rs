//! The core's [`Vocabulary`] built from the model itself: every token id asked for its bytes,
//! so that what the guard matches is exactly what the model will print.

use taboo::{TokenId, Vocabulary};

use crate::engine::{Engine, TokenPiece};

/// Builds the ban engine's vocabulary from a loaded model: text tokens with their exact bytes,
/// control tokens marked special, end-of-generation tokens marked.
///
/// ```no_run
/// use taboo_llm::{vocabulary_from_engine, EngineOptions, LlamaEngine};
/// let engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(),
///                                &EngineOptions::default())?;
/// let vocab = vocabulary_from_engine(&engine);
/// assert_eq!(vocab.len(), 49_152);
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub fn vocabulary_from_engine(engine: &dyn Engine) -> Vocabulary {
    let mut b = Vocabulary::builder();
    for id in 0..engine.vocab_size() as TokenId {
        let got = match engine.token_piece(id) {
            TokenPiece::Text(bytes) => b.text(bytes),
            TokenPiece::Special(name) => b.special(name),
        };
        debug_assert_eq!(got, id);
        if engine.is_end_of_generation(id) {
            b.end_of_generation(id);
        }
    }
    b.build()
}
