//! Why a vocabulary could not be loaded.
//!
//! One opaque error type for every loader, so that a caller (the CLI, the runtime) prints one
//! line that names the file, the place in it and the reason, and never has to match on the
//! loader that failed.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::TokenId;

/// A vocabulary (or GGUF metadata) could not be loaded: which file, where in it, and why.
///
/// The message is lowercase and names the file when there is one, the key being read and the
/// byte offset where reading failed, e.g.
/// `model.gguf: truncated at byte 1234 while reading the value of key 'tokenizer.ggml.tokens'
/// (needs 8 bytes, 3 left)`.
///
/// ```
/// use taboo::Vocabulary;
/// let err = Vocabulary::from_gguf_bytes(b"PK\x03\x04 not a model").unwrap_err();
/// assert_eq!(err.to_string(), r#"not a GGUF file (no GGUF magic; it starts with "PK\x03\x04")"#);
/// ```
#[derive(Debug)]
pub struct VocabError {
    file: Option<PathBuf>,
    kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    Io(io::Error),
    NotGguf {
        start: Vec<u8>,
    },
    /// A directory, device, FIFO or socket: not a file that could hold a model.
    NotAFile(&'static str),
    UnsupportedGgufVersion(u32),
    Truncated {
        at: u64,
        needed: u64,
        left: u64,
        context: String,
    },
    Malformed {
        at: u64,
        reason: String,
        context: String,
    },
    WrongType {
        key: String,
        at: u64,
        found: String,
        expected: &'static str,
    },
    DuplicateKey {
        key: String,
        at: u64,
    },
    MissingKey(&'static str),
    UnsupportedModel(String),
    Token {
        id: u64,
        reason: String,
    },
    Json(serde_json::Error),
    Unsupported(String),
    #[cfg_attr(not(feature = "tiktoken"), allow(dead_code))]
    Tiktoken(String),
}

impl VocabError {
    pub(crate) fn new(kind: Kind) -> VocabError {
        VocabError { file: None, kind }
    }

    pub(crate) fn in_file(mut self, path: &Path) -> VocabError {
        self.file = Some(path.to_path_buf());
        self
    }

    pub(crate) fn token(id: u64, reason: impl Into<String>) -> VocabError {
        VocabError::new(Kind::Token {
            id,
            reason: reason.into(),
        })
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> VocabError {
        VocabError::new(Kind::Unsupported(message.into()))
    }

    /// The file being read, when the vocabulary came from a file.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The byte offset in the input where reading failed, when the failure has a place.
    pub fn byte_offset(&self) -> Option<u64> {
        match &self.kind {
            Kind::Truncated { at, .. }
            | Kind::Malformed { at, .. }
            | Kind::WrongType { at, .. }
            | Kind::DuplicateKey { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// True when the input ended before the format said it would: a length, a count or a
    /// tensor's data runs past the end. For a model file this usually means an interrupted
    /// download.
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, Kind::Truncated { .. })
    }

    /// The token that could not be decoded, when one token is to blame.
    pub fn token_id(&self) -> Option<TokenId> {
        match &self.kind {
            Kind::Token { id, .. } => TokenId::try_from(*id).ok(),
            _ => None,
        }
    }
}

impl fmt::Display for VocabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match &self.kind {
            Kind::Io(e) => write!(f, "cannot read: {e}"),
            Kind::NotGguf { start } if start.is_empty() => write!(f, "not a GGUF file (it is empty)"),
            Kind::NotGguf { start } => {
                write!(
                    f,
                    "not a GGUF file (no GGUF magic; it starts with \"{}\")",
                    start.escape_ascii()
                )
            }
            Kind::NotAFile(what) => {
                write!(f, "not a GGUF file: it is {what}, not a regular file")
            }
            Kind::UnsupportedGgufVersion(v) => {
                write!(f, "unsupported GGUF version {v} (versions 2 and 3 are supported")?;
                if matches!(v.swap_bytes(), 2 | 3) {
                    write!(f, "; this looks like a big-endian file, which is not supported")?;
                }
                write!(f, ")")
            }
            Kind::Truncated {
                at,
                needed,
                left,
                context,
            } => write!(
                f,
                "truncated at byte {at} while reading {context} (needs {needed} bytes, {left} left)"
            ),
            Kind::Malformed {
                at,
                reason,
                context,
            } => write!(f, "{reason} at byte {at} while reading {context}"),
            Kind::WrongType {
                key,
                at,
                found,
                expected,
            } => write!(f, "key '{key}' at byte {at} holds {found}, expected {expected}"),
            Kind::DuplicateKey { key, at } => write!(f, "key '{key}' appears twice (again at byte {at})"),
            Kind::MissingKey(key) => write!(f, "missing key '{key}'"),
            Kind::UnsupportedModel(m) => write!(
                f,
                "unsupported tokenizer model '{m}' (supported: 'gpt2' byte-level BPE, 'llama' SentencePiece)"
            ),
            Kind::Token { id, reason } => write!(f, "token {id}: {reason}"),
            Kind::Json(e) => write!(f, "invalid tokenizer.json: {e}"),
            Kind::Unsupported(m) => write!(f, "{m}"),
            Kind::Tiktoken(m) => write!(f, "cannot build the tiktoken vocabulary: {m}"),
        }
    }
}

impl std::error::Error for VocabError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io(e) => Some(e),
            Kind::Json(e) => Some(e),
            _ => None,
        }
    }
}
