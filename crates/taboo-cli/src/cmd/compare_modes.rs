//! `taboo compare-modes`: the flags of the mode comparison, mapped onto
//! [`taboo_eval::CompareOptions`]; the comparison itself lives in the taboo-eval crate.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use taboo_eval::{CompareMode, CompareOptions};

use crate::ban_args::{BacktrackArgs, Mode};
use crate::model_args::ModelArgs;
use crate::CliResult;

/// Compare ban modes (leaks, near-misses, perplexity, speed) over a set of eliciting prompts.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo compare-modes                                   # 35 prompts × 3 seeds × 4 modes\n  \
    taboo compare-modes --seeds 5 --max-tokens 48 --out docs/table.md\n  \
    taboo compare-modes --modes hard,backtrack --backtrack-below 0.2   # sweep the threshold\n  \
    taboo compare-modes --prompts my.tsv --temperature 1.0\n\n\
    Prompt file: one `word<TAB>prompt` per line; the word is banned (whole word, any case).\n\
    Metrics, per mode over all prompts and seeds:\n  \
    leak       the banned word appears as a whole word (any case)\n  \
    near-miss  a word w != banned word b (words: runs of letters/digits, lower-cased) with\n             \
    w = b+\"s\" or b+\"es\", or w not in --dictionary and containing b, or starting\n             \
    with b minus its last letter when b has 4+ letters (catmongoose, cats, parisi)\n  \
    perplexity exp(mean NLL of the output tokens under the model with no ban), all outputs\n  \
    tokens/s   kept tokens per second of decoding (rewound ones cost time, not count)")]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The prompt set. Default: the English eliciting prompts shipped inside the binary.
    #[arg(long, value_name = "FILE")]
    prompts: Option<PathBuf>,
    /// Seeds per prompt and mode (0, 1, …).
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// Most tokens per output.
    #[arg(long, value_name = "N", default_value_t = 48)]
    max_tokens: usize,
    /// Sampling temperature.
    #[arg(long, value_name = "T", default_value_t = 0.7)]
    temperature: f32,
    /// Modes to compare, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["off", "naive", "hard", "backtrack"])]
    modes: Vec<Mode>,
    #[command(flatten)]
    backtrack: BacktrackArgs,
    /// Word list for the near-miss rule (apt-get install wamerican).
    #[arg(long, value_name = "FILE", default_value = "/usr/share/dict/words")]
    dictionary: PathBuf,
    /// Also write the Markdown report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `taboo compare-modes`.
pub fn run(args: Args) -> CliResult {
    let mut options = CompareOptions::default();
    options.prompts = args.prompts;
    options.seeds = args.seeds;
    options.max_tokens = args.max_tokens;
    options.temperature = args.temperature;
    options.modes = args
        .modes
        .iter()
        .map(|m| match m {
            Mode::Off => CompareMode::Off,
            Mode::Naive => CompareMode::Naive,
            Mode::Soft => CompareMode::Soft,
            Mode::Hard => CompareMode::Hard,
            Mode::Backtrack => CompareMode::Backtrack,
        })
        .collect();
    options.backtrack = args.backtrack.options();
    options.dictionary = args.dictionary;
    let mut engine = args.model.load()?;
    let comparison = taboo_eval::compare(&mut engine, &options, &mut |done, total, label| {
        eprint!("\r[{done:>4}/{total}] {label:<40}")
    })?;
    eprintln!();
    let report = comparison.markdown();
    print!("{report}");
    std::io::stdout().flush()?;
    if let Some(path) = &args.out {
        std::fs::write(path, &report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
