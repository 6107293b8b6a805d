//! The one error type of the runtime. Messages are lowercase and say what to do, because the CLI
//! prints them as they are after `taboo: `.

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
            Error::ModelMissing { path } => write!(
                f,
                "model file {} not found; run scripts/fetch-models.sh to fetch the default model, \
                 or pass --model PATH to any GGUF file",
                path.display()
            ),
            Error::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            // The reader's message already names the file.
            Error::NotGguf { source, .. } if source.is_truncated() => write!(
                f,
                "{source}; the file is incomplete (interrupted download?): run \
                 scripts/fetch-models.sh again, or pass --model PATH to a whole GGUF file"
            ),
            Error::NotGguf { source, .. } => write!(f, "{source}"),
            Error::ModelLoad { path, architecture } => match architecture {
                Some(arch) => write!(
                    f,
                    "llama.cpp could not load {} (architecture '{arch}'): the architecture is \
                     unknown to this llama.cpp build or the file is damaged; run with --verbose \
                     for llama.cpp's own log",
                    path.display()
                ),
                None => write!(
                    f,
                    "llama.cpp could not load {}; run with --verbose for llama.cpp's own log",
                    path.display()
                ),
            },
            Error::Context(why) => write!(f, "cannot create an inference context: {why}"),
            Error::PromptTooLong { tokens, context } => write!(
                f,
                "the prompt is {tokens} tokens long but the context holds {context}; shorten it \
                 or raise --ctx-size"
            ),
            Error::ChatTemplate(why) => write!(
                f,
                "cannot apply the model's chat template ({why}); use --raw for plain continuation"
            ),
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
