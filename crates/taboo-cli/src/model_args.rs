//! The model flags every model-running subcommand shares (`--model`, `--threads`,
//! `--ctx-size`, `--verbose`), and where the default model is looked for.

use std::path::{Path, PathBuf};

use taboo_llm::{EngineOptions, Error, LlamaEngine};

use crate::numbers;

/// File name `scripts/fetch-models.sh` gives the default model.
pub const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct-Q4_1.gguf";

/// Which model to load and how.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// GGUF model file. Default: models/SmolLM2-135M-Instruct-Q4_1.gguf in the current
    /// directory, one of its parents, or the taboo source tree (scripts/fetch-models.sh puts
    /// it there).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// CPU threads, 1 to 256. More than the free cores slows llama.cpp down sharply.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 2,
        allow_hyphen_values = true,
        value_parser = numbers::threads,
    )]
    pub threads: usize,
    /// Context window in tokens (prompt plus output), from 16 to the model's training
    /// context.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 2048,
        allow_hyphen_values = true,
        value_parser = numbers::ctx_size,
    )]
    pub ctx_size: usize,
    /// Show llama.cpp's own log on stderr.
    #[arg(long)]
    pub verbose: bool,
}

impl ModelArgs {
    /// The model path: `--model`, else the first default location that exists.
    pub fn path(&self) -> PathBuf {
        if let Some(p) = &self.model {
            return p.clone();
        }
        find_model(DEFAULT_MODEL)
    }

    /// Loads the model.
    pub fn load(&self) -> Result<LlamaEngine, Error> {
        LlamaEngine::load(
            &self.path(),
            &EngineOptions::default()
                .with_threads(self.threads)
                .with_context_size(self.ctx_size)
                .with_verbose(self.verbose),
        )
    }
}

/// `models/<file>` in the current directory, one of its parents, or the taboo source tree,
/// whichever exists first (else `models/<file>`, for the error message).
pub fn find_model(file: &str) -> PathBuf {
    model_candidates(file)
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| Path::new("models").join(file))
}

fn model_candidates(file: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            out.push(dir.join("models").join(file));
        }
    }
    // The source tree this binary was built from: lets `target/release/taboo` find the model
    // from any directory on a developer's machine.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    out.push(repo.join("models").join(file));
    out
}
