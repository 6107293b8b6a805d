//! The one error type of the runtime. Messages are lowercase and speak of the library's own
//! concepts (files, contexts, tokens); an application adds what its user can do about them (the
//! `taboo` CLI names its flags and scripts, a server would name its request fields).

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong between opening a model file and the last generated token.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The model file does not exist.
    ModelMissing {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The model file exists but could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a GGUF model, or is cut short; `source` says which check failed, where.
    NotGguf {
        /// The file.
        path: PathBuf,
        /// The GGUF reader's error; it names the file, the byte offset and the key or tensor.
        source: taboo::VocabError,
    },
    /// llama.cpp refused the file (unknown architecture, missing tensors …).
    ModelLoad {
        /// The file.
        path: PathBuf,
        /// The architecture named in the file's metadata, when it could be read.
        architecture: Option<String>,
    },
    /// llama.cpp could not create an inference context (usually out of memory).
    Context(String),
    /// The requested context window is longer than the model's training context
    /// (`<architecture>.context_length` in its metadata).
    ContextTooLong {
        /// Tokens asked for per sequence.
        requested: usize,
        /// The model's training context in tokens.
        trained: usize,
    },
    /// The KV cache of the requested context (all sequences) would not fit in the machine's
    /// memory.
    ContextMemory {
        /// KV cells asked for: context size × sequences.
        tokens: usize,
        /// Estimated KV cache size in bytes (an upper bound).
        bytes: u64,
        /// The machine's memory in bytes.
        memory: u64,
    },
    /// A sampling setting is outside the range the sampler gives a meaning to
    /// ([`crate::SamplingConfig::validate`]).
    InvalidSampling {
        /// The field of [`crate::SamplingConfig`].
        name: &'static str,
        /// Its value.
        value: f32,
        /// What it may be.
        expected: &'static str,
    },
    /// The prompt does not fit in the context window.
    PromptTooLong {
        /// Prompt length in tokens.
        tokens: usize,
        /// Context size in tokens.
        context: usize,
    },
    /// The model has no chat template that llama.cpp can apply.
    ChatTemplate(String),
    /// A forward pass failed.
    Decode(String),
    /// A rewind asked for more tokens than the sequence holds, or the cache refused it.
    Rewind(String),
    /// Writing the streamed text failed (closed pipe, full disk …).
    Output(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ModelMissing { path } => write!(f, "model file {} not found", path.display()),
            Error::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            // The reader's message already names the file.
            Error::NotGguf { source, .. } if source.is_truncated() => write!(
                f,
                "{source}; the file is incomplete (an interrupted download?)"
            ),
            Error::NotGguf { source, .. } => write!(f, "{source}"),
            Error::ModelLoad { path, architecture } => match architecture {
                Some(arch) => write!(
                    f,
                    "llama.cpp could not load {} (architecture '{arch}'): the architecture is \
                     unknown to this llama.cpp build or the file is damaged",
                    path.display()
                ),
                None => write!(f, "llama.cpp could not load {}", path.display()),
            },
            Error::Context(why) => write!(f, "cannot create an inference context: {why}"),
            Error::ContextTooLong { requested, trained } => write!(
                f,
                "a context of {requested} tokens is longer than the model's training context \
                 of {trained} tokens"
            ),
            Error::ContextMemory {
                tokens,
                bytes,
                memory,
            } => write!(
                f,
                "a context of {tokens} tokens needs about {:.1} GiB of KV cache, more than this \
                 machine's {:.1} GiB of memory",
                *bytes as f64 / (1u64 << 30) as f64,
                *memory as f64 / (1u64 << 30) as f64
            ),
            Error::PromptTooLong { tokens, context } => write!(
                f,
                "the prompt is {tokens} tokens long but the context holds {context}"
            ),
            Error::InvalidSampling {
                name,
                value,
                expected,
            } => write!(
                f,
                "sampling setting {name} = {value} is out of range: expected {expected}"
            ),
            Error::ChatTemplate(why) => write!(f, "cannot apply the model's chat template ({why})"),
            Error::Decode(why) => write!(f, "forward pass failed: {why}"),
            Error::Rewind(why) => write!(f, "cannot rewind: {why}"),
            Error::Output(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::NotGguf { source, .. } => Some(source),
            Error::Output(e) => Some(e),
            _ => None,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
