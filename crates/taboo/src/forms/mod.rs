//! Word forms: from a word a user bans to every inflected form of it.
//!
//! A ban entry with the `forms` option stands for its whole lexeme: `кошка` for кошки, кошку,
//! кошкой …, `cat` for cats, `run` for runs, ran, running. Expansion happens before the
//! automaton is compiled, so forms are ordinary entries downstream and masks stay exact.
//!
//! - Russian words (any Cyrillic letter) come from the OpenCorpora dictionary as compiled for
//!   pymorphy3 ([`russian`]), which `scripts/fetch-models.sh` installs into the data directory
//!   ([`data_dir`]). The binary carries no path to it, so it can be moved freely.
//! - English words (Latin letters) are inflected by rule, with the irregular forms of WordNet
//!   carried inside the binary.

mod dawg;
pub mod russian;

pub use russian::{Lexeme, RussianDictionary};

use std::fmt;
use std::path::PathBuf;

/// The environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "TABOO_DATA_DIR";

/// Where taboo keeps data it does not carry inside the binary: `$TABOO_DATA_DIR`, else
/// `$XDG_DATA_HOME/taboo`, else `~/.local/share/taboo`. The Russian dictionary lives in its
/// `ru/` subdirectory.
pub fn data_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = non_empty("XDG_DATA_HOME") {
        return Some(PathBuf::from(xdg).join("taboo"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share/taboo"))
}

/// Word forms could not be produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum FormsError {
    /// The dictionary for a language is not installed where taboo looks for it.
    DictionaryMissing {
        /// The language ("Russian").
        language: &'static str,
        /// The directory that was searched (`None`: no home directory to search).
        searched: Option<PathBuf>,
    },
    /// A dictionary file exists but cannot be used.
    Corrupt {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A dictionary file could not be read.
    Io {
        /// The file.
        file: PathBuf,
        /// The reason.
        error: std::io::Error,
    },
}

impl fmt::Display for FormsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormsError::DictionaryMissing { language, searched } => {
                write!(
                    f,
                    "the {language} dictionary for word forms is not installed"
                )?;
                if let Some(dir) = searched {
                    write!(f, " (looked in {})", dir.display())?;
                }
                write!(
                    f,
                    "; run scripts/fetch-models.sh to install it, or point ${DATA_DIR_ENV} at a \
                     directory that has it"
                )
            }
            FormsError::Corrupt { file, what } => write!(
                f,
                "{}: {what}; run scripts/fetch-models.sh again to reinstall it",
                file.display()
            ),
            FormsError::Io { file, error } => write!(f, "cannot read {}: {error}", file.display()),
        }
    }
}

impl std::error::Error for FormsError {}
