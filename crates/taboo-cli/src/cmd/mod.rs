//! The subcommands. To add one: a file here with an `Args` struct (clap derive, `after_help`
//! with examples) and a `run(Args) -> CliResult`, then one variant in [`Command`] and one arm
//! in [`Command::run`].

pub mod bench;
pub mod bench_generate;
pub mod compare_modes;
pub mod eval;
pub mod explain;
pub mod forms;
pub mod generate;
pub mod serve;
pub mod trace;

use clap::{Parser, Subcommand};

use crate::CliResult;

/// taboo: make a language model unable to write the words you ban.
#[derive(Parser, Debug)]
#[command(
    name = "taboo",
    version,
    about,
    after_help = "Examples:\n  \
        scripts/fetch-models.sh                       # fetch the default model once\n  \
        taboo generate 'What animal says meow?'\n  \
        taboo generate --ban cat 'What animal says meow?'\n  \
        taboo bench-generate                          # tokens/s with 0, 1k, 10k banned words\n  \
        taboo bench                                   # the ban engine alone on o200k\n  \
        taboo explain --vocab o200k elephant          # how many ways to spell a word\n  \
        taboo forms кошка run                         # the forms a --forms ban covers\n  \
        taboo eval --quick --out /tmp/eval            # leaks, fluency, cost vs the baselines\n  \
        taboo trace --ban cat 'What animal says meow?' # what the ban did, step by step\n  \
        taboo compare-modes --out report.md           # off / naive / hard / backtrack side by side\n  \
        taboo serve --port 8080                       # OpenAI-compatible server with bans\n  \
        taboo generate --help"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// One variant per subcommand.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate text with a model, with banned words masked out of its logits.
    Generate(generate::Args),
    /// Measure generation speed unconstrained and with 1,000 and 10,000 banned words.
    BenchGenerate(bench_generate::Args),
    /// Show, step by step, what the ban does to the model's probabilities.
    Trace(trace::Args),
    /// Count the token spellings of banned words and how many a token-id ban covers.
    Explain(explain::Args),
    /// Measure the ban engine alone on a tiktoken vocabulary: compile time, mask time per
    /// new state, guard time per token and memory, as one JSON line.
    Bench(bench::Args),
    /// Compare the ban modes on prompts that elicit their banned word: leaks, near-misses
    /// ("catmongoose"), perplexity and speed, as a Markdown table.
    CompareModes(compare_modes::Args),
    /// Print the inflected forms a `forms` ban covers (кошка → кошки, кошку …; run → ran),
    /// and the bundled ban lists.
    Forms(forms::Args),
    /// Run the evaluation protocol: ban conditions × prompt suites × seeds, leak rates at five
    /// detector tiers, perplexity, distortion and cost, as JSON, CSV, Markdown and SVG plots.
    Eval(eval::Args),
    /// Serve the model over the OpenAI API (chat and text completions, streaming) with
    /// exact word bans: server-wide ones, and per request with `banned_words`.
    Serve(serve::Args),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> CliResult {
        match self {
            Command::Generate(args) => generate::run(args),
            Command::BenchGenerate(args) => bench_generate::run(args),
            Command::Bench(args) => bench::run(args),
            Command::Explain(args) => explain::run(args),
            Command::Trace(args) => trace::run(args),
            Command::CompareModes(args) => compare_modes::run(args),
            Command::Forms(args) => forms::run(args),
            Command::Eval(args) => eval::run(args),
            Command::Serve(args) => serve::run(args),
        }
    }
}
