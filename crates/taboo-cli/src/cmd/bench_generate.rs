//! `taboo bench-generate`: what a ban list costs in generation speed, side by side in one
//! run — unconstrained, then with growing lists of dictionary words, in hard mode and in the
//! CLI's default mode (backtracking, removed mass measured) — on the same model, prompt and
//! settings. Rounds are interleaved so that machine noise hits every column alike.
//!
//! Decoding slows as the context grows, so speeds are only compared between columns that
//! generated the same number of tokens: each column prints its median length, and a column
//! whose length differs from the unconstrained one by more than 5% gets no ratio.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use taboo::{Ban, Guard, GuardConfig, LogitsGuard, MaskTable};
use taboo_llm::{generate, vocabulary_from_engine, Backtrack, GenerateOptions};

use crate::model_args::ModelArgs;
use crate::numbers;
use crate::output::Stdout;
use crate::CliResult;
use taboo_eval::workload::{dictionary_words, Language};

/// Measure generation speed unconstrained and with 1,000 and 10,000 banned words.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo bench-generate\n  \
    taboo bench-generate --words 0,100,1000,10000 --rounds 5 --max-tokens 200\n  \
    taboo bench-generate --model models/gemma-3-270m-q4_k_m.gguf --raw --prompt 'Once upon a time'\n  \
    taboo bench-generate --modes default --words 0,10000\n\n\
    Word lists are spread evenly over /usr/share/dict/words (apt-get install wamerican).\n\
    Speeds are medians over the rounds; the decoding loop only (prefill excluded). Modes:\n\
    hard (masking, no mass measurement) and default (what `taboo generate` runs:\n\
    backtracking, with the removed probability mass measured).")]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Ban-list sizes to compare, comma-separated; 0 is the unconstrained run.
    #[arg(long, value_name = "N,N,…", value_delimiter = ',', default_values_t = [0, 1000, 10000])]
    words: Vec<usize>,
    /// Tokens generated per run.
    #[arg(long, value_name = "N", default_value_t = 128)]
    max_tokens: usize,
    /// Runs per list size (the median is reported).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        allow_hyphen_values = true,
        value_parser = numbers::at_least_one,
    )]
    rounds: usize,
    /// The prompt (chat-templated).
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "Write a long story about a sailor who crosses the sea to find his lost brother."
    )]
    prompt: String,
    /// Continue the prompt as plain text (base models such as Gemma 3 270M have no chat
    /// template).
    #[arg(long)]
    raw: bool,
    /// Ban modes to measure each list size in, comma-separated.
    #[arg(long, value_name = "M,M", value_enum, value_delimiter = ',', default_values_t = [BenchMode::Hard, BenchMode::Default])]
    modes: Vec<BenchMode>,
}

/// How a banned column runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum BenchMode {
    /// Masking only, the removed mass not measured.
    Hard,
    /// What `taboo generate` runs: backtracking, with the removed mass measured.
    Default,
}

struct Column {
    words: usize,
    /// `None` for the unconstrained column.
    mode: Option<BenchMode>,
    table: Option<Arc<MaskTable>>,
    compile_ms: f64,
    speeds: Vec<f64>,
    guard_us: Vec<f64>,
    guard_us_median: Vec<f64>,
    lengths: Vec<f64>,
    masked: usize,
    backtracks: usize,
    tokens: usize,
}

/// Runs `taboo bench-generate`.
pub fn run(args: Args) -> CliResult {
    let mut engine = args.model.load()?;
    let vocab = Arc::new(vocabulary_from_engine(&engine));
    let largest = args.words.iter().copied().max().unwrap_or(0);
    let dictionary = if largest > 0 {
        dictionary_words(Language::English, largest)?
    } else {
        Vec::new()
    };
    let mut columns = Vec::new();
    for &n in &args.words {
        let (table, compile_ms) = if n == 0 {
            (None, 0.0)
        } else {
            let t0 = Instant::now();
            // Every n-th word of the largest list, so each list is spread over the dictionary.
            let step = largest as f64 / n as f64;
            let words = (0..n).map(|i| dictionary[(i as f64 * step) as usize].as_str());
            let table = Ban::new(words)?.table(&vocab);
            (Some(table), t0.elapsed().as_secs_f64() * 1e3)
        };
        let modes: Vec<Option<BenchMode>> = if n == 0 {
            vec![None]
        } else {
            args.modes.iter().copied().map(Some).collect()
        };
        for mode in modes {
            columns.push(Column {
                words: n,
                mode,
                table: table.clone(),
                compile_ms,
                speeds: Vec::new(),
                guard_us: Vec::new(),
                guard_us_median: Vec::new(),
                lengths: Vec::new(),
                masked: 0,
                backtracks: 0,
                tokens: 0,
            });
        }
    }
    let hard = GenerateOptions::default()
        .with_max_tokens(args.max_tokens)
        .with_raw(args.raw);
    // The default mode is what `taboo generate` runs: backtracking, and the removed mass
    // measured (a softmax pass over the vocabulary on every step the ban edits).
    let default = hard.clone().with_backtrack(Some(Backtrack::default()));
    let never = AtomicBool::new(false);
    for _ in 0..args.rounds {
        for col in &mut columns {
            let (options, config) = match col.mode {
                Some(BenchMode::Default) => {
                    (&default, GuardConfig::default().with_measure_mass(true))
                }
                _ => (&hard, GuardConfig::default().with_measure_mass(false)),
            };
            let mut guard = col.table.as_ref().map(|t| Guard::new(t.clone(), config));
            let out = generate(
                &mut engine,
                guard.as_mut().map(|g| g as &mut dyn LogitsGuard),
                &args.prompt,
                options,
                &mut |_| Ok(()),
                &never,
            )?;
            col.speeds.push(out.stats.tokens_per_second);
            col.guard_us.push(out.stats.guard_us_per_token);
            col.guard_us_median.push(out.stats.guard_us_median);
            col.lengths.push(out.stats.generated_tokens as f64);
            col.masked += out.stats.masked_steps;
            col.backtracks += out.stats.backtracks;
            col.tokens += out.stats.generated_tokens;
        }
    }

    let base = columns
        .iter()
        .find(|c| c.words == 0)
        .map(|c| (median(&c.speeds), median(&c.lengths)));
    let mut stdout = Stdout::lock();
    writeln!(
        stdout,
        "model {} · {} threads · at most {} tokens × {} rounds (medians)",
        args.model.path().display(),
        args.model.threads,
        args.max_tokens,
        args.rounds
    )?;
    writeln!(
        stdout,
        "{:>13} {:>8} {:>11} {:>7} {:>9} {:>9} {:>15} {:>12} {:>13} {:>11}",
        "banned words",
        "mode",
        "compile ms",
        "tokens",
        "tok/s",
        "vs none",
        "guard µs/token",
        "median µs",
        "masked steps",
        "backtracks"
    )?;
    let mut unequal = false;
    for col in &columns {
        let speed = median(&col.speeds);
        let length = median(&col.lengths);
        let ratio = match base {
            None => String::from("-"),
            Some((_, l)) if (length - l).abs() > 0.05 * l => {
                unequal = true;
                String::from("len ≠")
            }
            Some((b, _)) => format!("{:.1}%", 100.0 * speed / b),
        };
        let mode = match col.mode {
            None => "none",
            Some(BenchMode::Hard) => "hard",
            Some(BenchMode::Default) => "default",
        };
        writeln!(
            stdout,
            "{:>13} {:>8} {:>11.1} {:>7.0} {:>9.1} {:>9} {:>15.1} {:>12.1} {:>12.1}% {:>11}",
            col.words,
            mode,
            col.compile_ms,
            length,
            speed,
            ratio,
            median(&col.guard_us),
            median(&col.guard_us_median),
            100.0 * col.masked as f64 / col.tokens.max(1) as f64,
            col.backtracks
        )?;
    }
    if unequal {
        writeln!(
            stdout,
            "len ≠: this column's generations ended at another length than the unconstrained \
             ones, so their speeds are not compared (decoding slows as the context grows)"
        )?;
    }
    stdout.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
