//! `taboo serve`: the OpenAI-compatible server of the taboo-server crate, with the model and
//! ban flags every other subcommand takes.

use std::process::ExitCode;

use taboo_llm::{EngineOptions, LlamaEngine};
use taboo_server::{BanMode, ServerConfig};

use crate::ban_args::{BanArgs, Mode};
use crate::model_args::ModelArgs;
use crate::CliResult;

/// Serve the model over the OpenAI API, with exact word bans.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo serve                                         # http://127.0.0.1:8080/v1\n  \
    taboo serve --ban-list en-profanity --parallel 8    # banned for every request\n  \
    taboo serve --port 0 --api-key secret               # any free port; Bearer auth\n\n\
    Requests add bans with the extension fields banned_words, ban_lists and ban_mode:\n  \
    curl http://127.0.0.1:8080/v1/chat/completions -d '{\"messages\": [{\"role\": \"user\",\n    \
    \"content\": \"What animal says meow?\"}], \"banned_words\": [\"cat\"]}'\n\n\
    Server-wide bans (--ban, --ban-file, --ban-list) apply to every request; --mode sets the\n\
    mode of requests that name none (backtrack, hard or soft). docs/SERVER.md has the API.\n\
    Ctrl-C or SIGTERM stops the server: running requests end with what they have.")]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    ban: BanArgs,
    /// Address to listen on. The default answers only this machine.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Requests decoded together, each in its own KV sequence of --ctx-size tokens.
    #[arg(long, value_name = "N", default_value_t = 4)]
    parallel: usize,
    /// Requests that may wait for a slot; beyond them the server answers 503.
    #[arg(long, value_name = "N", default_value_t = 64)]
    queue: usize,
    /// Require `Authorization: Bearer KEY` on /v1/*. Also read from TABOO_API_KEY.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Most banned_words plus ban_lists entries in one request.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_ban_entries: usize,
    /// Compiled request bans kept in memory (least recently used go first).
    #[arg(long, value_name = "N", default_value_t = 32)]
    ban_cache: usize,
    /// Largest request body; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20)]
    max_body_bytes: usize,
}

/// Runs `taboo serve`.
pub fn run(args: Args) -> CliResult {
    let default_mode = match args.ban.mode {
        Mode::Backtrack => BanMode::Backtrack,
        Mode::Hard => BanMode::Hard,
        Mode::Soft => BanMode::Soft {
            penalty: args.ban.penalty,
        },
        Mode::Naive | Mode::Off => {
            return Err(
                "--mode must be backtrack, hard or soft to serve (requests pick \
                        theirs with ban_mode)"
                    .into(),
            )
        }
    };
    if !(1..=64).contains(&args.parallel) {
        return Err(format!("--parallel is {}; give 1 to 64", args.parallel).into());
    }
    let server_bans = args.ban.builder().written_list()?;
    let path = args.model.path();
    let model_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "taboo".into());
    let config = ServerConfig {
        model_name,
        queue: args.queue,
        api_key: args
            .api_key
            .clone()
            .or_else(|| std::env::var("TABOO_API_KEY").ok())
            .filter(|k| !k.is_empty()),
        server_bans,
        default_mode,
        backtrack: args.ban.backtrack.options(),
        max_ban_entries: args.max_ban_entries,
        ban_cache: args.ban_cache,
        max_body_bytes: args.max_body_bytes,
    };
    let options = EngineOptions::default()
        .with_threads(args.model.threads)
        .with_context_size(args.model.ctx_size)
        .with_verbose(args.model.verbose)
        .with_sequences(args.parallel);
    let load = move || LlamaEngine::load(&path, &options);
    let addr = format!("{}:{}", args.host, args.port);
    let bans = config.server_bans.len();
    taboo_server::run(&addr, load, config, |bound, model| {
        eprintln!(
            "taboo serve: listening on http://{bound} ({} slots of {} tokens, {bans} server-wide \
             ban entries)",
            model.slots, model.context_size
        );
    })?;
    eprintln!("taboo serve: stopped");
    Ok(ExitCode::SUCCESS)
}
