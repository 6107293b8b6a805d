//! `taboo eval`: the flags of the evaluation protocol, mapped onto
//! [`taboo_eval::EvalOptions`]; the protocol itself lives in the taboo-eval crate
//! (docs/EVAL.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use taboo_eval::{report, EvalOptions, ProgressBar};

use crate::model_args::{find_model, DEFAULT_MODEL};
use crate::CliResult;

/// File name `scripts/fetch-models.sh --gemma` gives the base model.
const BASE_MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

/// Run the evaluation protocol: ban conditions × prompt suites × seeds → leak rates at five
/// detector tiers, perplexity, diversity, distortion and cost, as results.json, results.csv,
/// report.md and SVG plots.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo eval --quick --out /tmp/eval          # the CI subset (< 5 min on 2 cores), checks invariants\n  \
    taboo eval --out eval-full                  # every suite, 3 seeds (docs/RESULTS.md)\n  \
    taboo eval --suite en-chat,sweep --seeds 5  # some suites only\n  \
    taboo eval --quick --batch 1 --out /tmp/seq # the same work one sequence at a time\n\n\
    Suites (shipped inside the binary; --suites-dir replaces them): en-chat (SmolLM2 chat:\n\
    cloze, taboo, explicit, control), en-open (long ban lists), en-gemma and ru-gemma (Gemma 3\n\
    270M continuation), sweep (ban lists of 1 … 10,000 words).\n\
    Conditions: B0 off · B1 instruction only · B2 naive token-id ban, without / with the\n\
    leading-space spellings · B4 hard · B5 soft penalty · B6 backtracking · B7 backtracking +\n\
    forms + disguises. Tiers: exact, normalised, inflected, disguised, spaced (docs/EVAL.md).")]
pub struct Args {
    /// Suites to run, comma-separated: en-chat, en-open, en-gemma, ru-gemma, sweep. Default: all.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    suite: Vec<String>,
    /// The CI subset: 2 prompts per kind, shorter outputs, one soft strength, a 3-point sweep;
    /// fails (exit 1) if an invariant breaks (a guaranteed tier leaks, a perplexity is not
    /// finite).
    #[arg(long)]
    quick: bool,
    /// Directory for results.json, results.csv, report.md and the plots (created).
    #[arg(long, value_name = "DIR", default_value = "eval-out")]
    out: PathBuf,
    /// Seeds per prompt and condition (0, 1, …).
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// Sequences decoded together (1 = one at a time).
    #[arg(long, value_name = "N", default_value_t = 8)]
    batch: usize,
    /// Sampling temperature.
    #[arg(long, value_name = "T", default_value_t = 0.7)]
    temperature: f32,
    /// Instruct model for the chat suites and the sweep. Default: models/SmolLM2-135M-Instruct-Q4_1.gguf.
    #[arg(long, value_name = "PATH")]
    chat_model: Option<PathBuf>,
    /// Base model for the continuation suites. Default: models/gemma-3-270m-q4_k_m.gguf.
    #[arg(long, value_name = "PATH")]
    base_model: Option<PathBuf>,
    /// Directory of suite files (<name>.tsv) to run instead of the shipped suites.
    #[arg(long, value_name = "DIR")]
    suites_dir: Option<PathBuf>,
    /// CPU threads.
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: usize,
    /// Bootstrap resamples per confidence interval.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    resamples: usize,
}

/// Runs `taboo eval`.
pub fn run(args: Args) -> CliResult {
    let mut options = EvalOptions::new(
        args.chat_model.unwrap_or_else(|| find_model(DEFAULT_MODEL)),
        args.base_model.unwrap_or_else(|| find_model(BASE_MODEL)),
    );
    options.suites = args.suite;
    options.quick = args.quick;
    options.seeds = args.seeds;
    options.batch = args.batch;
    options.temperature = args.temperature;
    options.suites_dir = args.suites_dir;
    options.threads = args.threads;
    options.resamples = args.resamples;
    // Bad options and an unwritable --out fail before a model loads, not after the run.
    options.validate()?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut bar = ProgressBar::new();
    let results = taboo_eval::run(&options, &AtomicBool::new(false), &mut |p| bar.show(p));
    bar.finish();
    let mut results = results?;
    let mut command: Vec<String> = std::env::args().skip(1).collect();
    command.insert(0, "taboo".into());
    results.settings.command = Some(command.join(" "));
    let violations = report::write_all(&args.out, &results)?;
    eprintln!(
        "taboo eval: {} generations in {}; wrote {}/report.md, results.json, results.csv and plots",
        results.samples.len() + results.sweep.iter().map(|p| p.outputs).sum::<usize>(),
        results.settings.wall_time,
        args.out.display()
    );
    if !violations.is_empty() {
        for v in &violations {
            eprintln!("invariant broken: {v}");
        }
        if args.quick {
            return Err(format!("{} invariant(s) broken (see report.md)", violations.len()).into());
        }
    }
    Ok(ExitCode::SUCCESS)
}
