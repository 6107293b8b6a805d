//! The guards of the ban conditions: one maker per (condition, ban list), built once and
//! asked for a fresh guard per sequence, so every seed of a prompt shares the compiled table.

use std::sync::Arc;

use taboo::forms::Morphology;
use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, NaiveGuard,
    TokenId, Vocabulary,
};
use taboo_llm::{Engine, LlamaEngine};

use crate::error::Result;
use crate::run::Condition;

/// The entry options of B7: every inflected form and every disguise of each word.
fn full_entry_options() -> EntryOptions {
    EntryOptions {
        disguise: true,
        forms: true,
        ..EntryOptions::default()
    }
}

fn table(
    vocab: &Arc<Vocabulary>,
    words: &[String],
    options: EntryOptions,
    morphology: &Morphology,
) -> Result<Arc<MaskTable>> {
    let list = BanList::from_words(words.iter().map(String::as_str), options)?;
    let (list, _) = list.expand_forms(morphology)?;
    let table = Arc::new(MaskTable::new(
        Arc::new(Automaton::compile(&list)?),
        vocab.clone(),
    ));
    table.warm_up();
    Ok(table)
}

/// The naive baseline's token sequences: each word as given, Capitalised and UPPER-case,
/// with the leading-space spellings (`" cat"`) or without them, tokenized by the model.
pub fn naive_sequences(
    tokenize: &dyn Fn(&str) -> Vec<TokenId>,
    words: &[String],
    leading_space: bool,
) -> Vec<Vec<TokenId>> {
    let mut seqs: Vec<Vec<TokenId>> = Vec::new();
    for word in words {
        let mut capital: String = word.chars().take(1).flat_map(char::to_uppercase).collect();
        capital.extend(word.chars().skip(1));
        for form in [word.clone(), capital, word.to_uppercase()] {
            let spaced = leading_space.then(|| format!(" {form}"));
            for text in std::iter::once(form.clone()).chain(spaced) {
                let ids = tokenize(&text);
                if !ids.is_empty() && !seqs.contains(&ids) {
                    seqs.push(ids);
                }
            }
        }
    }
    seqs
}

/// Makes the guards of one condition and ban list.
pub enum GuardMaker {
    /// Unguarded conditions (B0, B1).
    None,
    /// The token-id baseline.
    Naive(NaiveGuard),
    /// The automaton ban with this configuration.
    Automaton(Arc<MaskTable>, GuardConfig),
}

impl GuardMaker {
    /// The guard maker of `condition` for `words`.
    pub fn new(
        engine: &LlamaEngine,
        vocab: &Arc<Vocabulary>,
        condition: Condition,
        words: &[String],
        morphology: &Morphology,
    ) -> Result<GuardMaker> {
        let tokenize = |t: &str| engine.tokenize(t, false);
        Ok(match condition {
            Condition::Off | Condition::Instruct => GuardMaker::None,
            Condition::Naive | Condition::NaiveSpace => GuardMaker::Naive(NaiveGuard::new(
                vocab.clone(),
                naive_sequences(&tokenize, words, condition == Condition::NaiveSpace),
            )),
            Condition::Hard | Condition::Backtrack => GuardMaker::Automaton(
                table(vocab, words, EntryOptions::default(), morphology)?,
                GuardConfig::default(),
            ),
            Condition::Soft(penalty) => GuardMaker::Automaton(
                table(vocab, words, EntryOptions::default(), morphology)?,
                soft(penalty),
            ),
            Condition::Full => GuardMaker::Automaton(
                table(vocab, words, full_entry_options(), morphology)?,
                GuardConfig::default(),
            ),
        })
    }

    /// A fresh guard (one per sequence), or `None` for the unguarded conditions.
    pub fn make(&self) -> Option<Box<dyn LogitsGuard>> {
        match self {
            GuardMaker::None => None,
            GuardMaker::Naive(g) => Some(Box::new(g.clone())),
            GuardMaker::Automaton(table, config) => {
                Some(Box::new(Guard::new(table.clone(), *config)))
            }
        }
    }
}

/// Soft mode with this penalty on tokens that complete a banned word.
pub fn soft(penalty: f32) -> GuardConfig {
    GuardConfig {
        mode: taboo::Mode::Soft {
            penalty,
            partial_penalty: 0.0,
        },
        ..GuardConfig::default()
    }
}
