//! Placeholder until the dictionary reader lands (branch `ru`).
use super::{data_dir, FormsError, Lexeme};

/// The Russian dictionary.
pub struct RussianDictionary;

impl RussianDictionary {
    /// Opens the dictionary in the data directory.
    pub fn locate() -> Result<RussianDictionary, FormsError> {
        Err(FormsError::DictionaryMissing {
            language: "Russian",
            searched: data_dir().map(|d| d.join("ru")),
        })
    }

    /// Lexemes of a word.
    pub fn lexemes(&self, _word: &str) -> Vec<Lexeme> {
        Vec::new()
    }
}
