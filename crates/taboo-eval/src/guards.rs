//! The guards of the ban conditions: one maker per (condition, ban list), built once and
//! asked for a fresh guard per sequence, so every seed of a prompt shares the compiled table.

use std::sync::Arc;

use taboo::forms::Morphology;
use taboo::{Ban, GuardConfig, LogitsGuard, NaiveGuard, Vocabulary};
use taboo_llm::{Engine, LlamaEngine};

use crate::error::Result;
use crate::run::Condition;

/// Makes the guards of one condition and ban list.
pub enum GuardMaker {
    /// Unguarded conditions (B0, B1).
    None,
    /// The token-id baseline.
    Naive(NaiveGuard),
    /// The automaton ban on this vocabulary with this configuration.
    Ban(Ban, Arc<Vocabulary>, GuardConfig),
}

impl GuardMaker {
    /// The guard maker of `condition` for `words`; the mask table is built (and warmed up)
    /// here, so the time this takes is the ban's whole set-up cost.
    pub fn new(
        engine: &LlamaEngine,
        vocab: &Arc<Vocabulary>,
        condition: Condition,
        words: &[String],
        morphology: &Arc<Morphology>,
    ) -> Result<GuardMaker> {
        let ban = |forms_and_disguises: bool| -> Result<Ban> {
            let ban = Ban::builder()
                .words(words)
                .forms(forms_and_disguises)
                .disguise(forms_and_disguises)
                .morphology(morphology.clone())
                .build()?;
            ban.table(vocab);
            Ok(ban)
        };
        Ok(match condition {
            Condition::Off | Condition::Instruct => GuardMaker::None,
            Condition::Naive | Condition::NaiveSpace => GuardMaker::Naive(NaiveGuard::from_words(
                vocab.clone(),
                words,
                &|t: &str| engine.tokenize(t, false),
                condition == Condition::NaiveSpace,
            )),
            Condition::Hard | Condition::Backtrack => {
                GuardMaker::Ban(ban(false)?, vocab.clone(), GuardConfig::default())
            }
            Condition::Soft(penalty) => GuardMaker::Ban(ban(false)?, vocab.clone(), soft(penalty)),
            // B7: every inflected form and every disguise of each word.
            Condition::Full => GuardMaker::Ban(ban(true)?, vocab.clone(), GuardConfig::default()),
        })
    }

    /// A fresh guard (one per sequence), or `None` for the unguarded conditions.
    pub fn make(&self) -> Option<Box<dyn LogitsGuard>> {
        match self {
            GuardMaker::None => None,
            GuardMaker::Naive(g) => Some(Box::new(g.clone())),
            GuardMaker::Ban(ban, vocab, config) => Some(Box::new(ban.guard_with(vocab, *config))),
        }
    }
}

/// Soft mode with this penalty on tokens that complete a banned word.
pub fn soft(penalty: f32) -> GuardConfig {
    GuardConfig::default().with_mode(taboo::Mode::Soft {
        penalty,
        partial_penalty: 0.0,
    })
}
