//! The subcommands. To add one: a file here with an `Args` struct (clap derive, `after_help`
//! with examples) and a `run(Args) -> CliResult`, then one variant in [`Command`] and one arm
//! in [`Command::run`].

// The core engine benchmark; its subcommand arguments are still to come from its owner,
// so `Bench` below runs it with the lists it was written for.
#[allow(dead_code, unused_imports)]
pub mod bench;
pub mod bench_generate;
pub mod generate;

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
    /// Measure the ban engine alone on the o200k vocabulary: compile time, mask time per new
    /// state and guard time per token, one JSON line per ban list.
    #[command(after_help = "Examples:\n  taboo bench > bench.jsonl")]
    Bench,
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self) -> CliResult {
        match self {
            Command::Generate(args) => generate::run(args),
            Command::BenchGenerate(args) => bench_generate::run(args),
            Command::Bench => run_bench(),
        }
    }
}

/// The ban lists `taboo bench` measures: 1,000 and 10,000 words in each language.
fn run_bench() -> CliResult {
    use std::sync::Arc;
    use taboo::workload::{Language, REPLAY_TEXT};
    let vocab = Arc::new(taboo::Vocabulary::tiktoken(
        taboo::TiktokenEncoding::O200kBase,
    )?);
    let bpe = tiktoken_rs::o200k_base()?;
    let tokens: Vec<u32> = bpe.encode_ordinary(REPLAY_TEXT);
    eprintln!("{} tokens", tokens.len());
    for lang in [Language::English, Language::Russian, Language::Mixed] {
        for n in [1000, 10000] {
            println!("{}", bench::measure_list(&vocab, &tokens, lang, n)?);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
