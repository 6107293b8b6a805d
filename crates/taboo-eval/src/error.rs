//! The error type of the evaluation: what can go wrong before or while it runs, each
//! variant with a message that says what to do.

use std::fmt;
use std::path::PathBuf;

/// An evaluation could not run or could not write its results.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An option is out of range (`seeds 0`, `batch 65` …); the message names it.
    Option(String),
    /// A suite name that is not one of [`crate::SUITES`] or [`crate::SWEEP`].
    UnknownSuite(String),
    /// A suite file could not be read.
    SuiteRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A suite's text does not parse; the message names the suite and the line.
    Suite(String),
    /// A prompt file of `compare-modes` could not be read or parsed.
    Prompts(String),
    /// The word list of the near-miss rule could not be read.
    Dictionary {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A model could not be loaded (`which` is "chat" or "base"), or generation failed.
    Model {
        /// Which model, for the message: "chat model", "base model" or "model".
        which: &'static str,
        /// The runtime's error (boxed: it is large, and errors travel through every return).
        source: Box<taboo_llm::Error>,
    },
    /// A ban list could not be built.
    Ban(taboo::BanError),
    /// The word list of the sweep (Debian's wamerican) is missing.
    Workload(String),
    /// An output file could not be written.
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The results could not be encoded as JSON or CSV.
    Encode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Option(m) | Error::Suite(m) | Error::Prompts(m) | Error::Workload(m) => {
                f.write_str(m)
            }
            Error::UnknownSuite(s) => write!(
                f,
                "unknown suite {s:?}: expected one of {}, {}",
                crate::SUITES.join(", "),
                crate::SWEEP
            ),
            Error::SuiteRead { path, source } => {
                write!(f, "cannot read suite {}: {source}", path.display())
            }
            Error::Dictionary { path, source } => write!(
                f,
                "cannot read the dictionary {}: {source} (apt-get install wamerican, or pass \
                 --dictionary)",
                path.display()
            ),
            Error::Model {
                which: "base model",
                source,
            } => write!(
                f,
                "base model: {source} (the base model comes with scripts/fetch-models.sh --gemma)"
            ),
            Error::Model { which, source } => write!(f, "{which}: {source}"),
            Error::Ban(e) => write!(f, "{e}"),
            Error::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Error::Encode(m) => write!(f, "cannot encode the results: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::SuiteRead { source, .. }
            | Error::Dictionary { source, .. }
            | Error::Write { source, .. } => Some(source),
            Error::Model { source, .. } => Some(source.as_ref()),
            Error::Ban(e) => Some(e),
            _ => None,
        }
    }
}

impl From<taboo::BanError> for Error {
    fn from(e: taboo::BanError) -> Error {
        Error::Ban(e)
    }
}

impl From<taboo_llm::Error> for Error {
    fn from(source: taboo_llm::Error) -> Error {
        Error::Model {
            which: "model",
            source: Box::new(source),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
