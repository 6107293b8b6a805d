//! `taboo`: ban words from a language model's output. This file only parses the command line,
//! runs the chosen subcommand and maps its outcome to an exit code; each subcommand lives in
//! its own file under `cmd/`.

mod ban_args;
mod cmd;
mod hints;
mod html;
mod model_args;
mod numbers;
mod output;
mod report;
mod show;
mod tiktoken_args;

use std::process::ExitCode;

use clap::Parser;

/// Errors the subcommands return; printed as `taboo: <message>`.
pub type CliResult<T = ExitCode> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cli.command.run() {
        Ok(code) => code,
        // `taboo generate ... | head -1` is a normal use, not a failure.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taboo: {}", hints::message(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cur = err.source();
    }
    false
}
