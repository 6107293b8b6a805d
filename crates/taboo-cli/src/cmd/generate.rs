//! `taboo generate`: one prompt, streamed to stdout, with the ban guard in the loop.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use taboo_llm::{generate, FinishReason, GenerateOptions, SamplingConfig};

use crate::ban_args::BanArgs;
use crate::model_args::ModelArgs;
use crate::numbers;
use crate::output::Stdout;
use crate::CliResult;

/// Generate text with banned words masked out of the model's logits.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo generate 'What animal says meow?'\n  \
    taboo generate --ban cat 'What animal says meow?'\n  \
    taboo generate --ban cat --mode naive 'What animal says meow?'   # the weak baseline\n  \
    taboo generate --ban cat --mode hard 'What animal says meow?'    # masking only, no rewinds\n  \
    taboo generate --ban cat --backtrack-below 0.3 --backtrack-budget 8 'What animal says meow?'\n  \
    taboo generate --ban-file words.txt --temperature 0.8 --seed 3 --max-tokens 100 'Tell a story'\n  \
    echo 'Once upon a time' | taboo generate --raw --stop '\\n\\n' -\n  \
    taboo generate --json --ban cat 'What animal says meow?' | jq .stats\n\n\
    Exit status: 0 on success, 1 on an error, 130 when interrupted with Ctrl-C (the text\n\
    generated so far is printed first).")]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    ban: BanArgs,
    /// Softmax temperature, at least 0; 0 is greedy (always the most likely token).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.0,
        allow_hyphen_values = true,
        value_parser = numbers::temperature,
    )]
    temperature: f32,
    /// Sample only from the K most likely tokens (0: all).
    #[arg(long, value_name = "K", default_value_t = 0)]
    top_k: usize,
    /// Sample only from the most likely tokens that together hold probability P, in (0, 1]
    /// (1: all).
    #[arg(
        long,
        value_name = "P",
        default_value_t = 1.0,
        allow_hyphen_values = true,
        value_parser = numbers::top_p,
    )]
    top_p: f32,
    /// Drop tokens less likely than P times the most likely one, P in [0, 1] (0: keep all;
    /// 1: only the tokens tied with the most likely).
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0.0,
        allow_hyphen_values = true,
        value_parser = numbers::min_p,
    )]
    min_p: f32,
    /// Penalise tokens among the last 64 generated, X above 0 (1: off; below 1 favours
    /// them).
    #[arg(
        long,
        value_name = "X",
        default_value_t = 1.0,
        allow_hyphen_values = true,
        value_parser = numbers::repeat_penalty,
    )]
    repeat_penalty: f32,
    /// Random seed for sampling.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Most tokens to generate.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_tokens: usize,
    /// Stop when the output contains this text (not printed); repeatable. Backslash escapes
    /// \n and \t are understood.
    #[arg(long, value_name = "STR")]
    stop: Vec<String>,
    /// Continue the prompt as plain text instead of wrapping it in the model's chat template.
    #[arg(long)]
    raw: bool,
    /// Print one JSON object (text, tokens, finish_reason, stats) instead of streaming text.
    #[arg(long)]
    json: bool,
    /// The prompt; `-` reads it from standard input.
    #[arg(value_name = "PROMPT")]
    prompt: String,
}

/// Raised by Ctrl-C; the generation loop polls it once per token.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

impl Args {
    /// The prompt: the argument, or standard input for `-`.
    pub fn prompt_text(&self) -> CliResult<String> {
        if self.prompt != "-" {
            return Ok(self.prompt.clone());
        }
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the prompt from stdin: {e}"))?;
        Ok(s)
    }

    /// Sampling, stopping and backtracking settings.
    pub fn options(&self) -> GenerateOptions {
        GenerateOptions::default()
            .with_sampling(
                SamplingConfig::default()
                    .with_temperature(self.temperature)
                    .with_top_k(self.top_k)
                    .with_top_p(self.top_p)
                    .with_min_p(self.min_p)
                    .with_repeat_penalty(self.repeat_penalty)
                    .with_seed(self.seed),
            )
            .with_max_tokens(self.max_tokens)
            .with_stop(self.stop.iter().map(|s| unescape(s)).collect())
            .with_raw(self.raw)
            .with_backtrack(self.ban.backtrack())
    }

    /// The model flags.
    pub fn model(&self) -> &ModelArgs {
        &self.model
    }

    /// The ban flags.
    pub fn ban(&self) -> &BanArgs {
        &self.ban
    }

    /// `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }
}

/// Installs the Ctrl-C handler that raises [`INTERRUPTED`]; a second Ctrl-C while the
/// first is being handled kills the process.
pub fn handle_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
}

/// Runs `taboo generate`.
pub fn run(args: Args) -> CliResult {
    // Installed first, so that Ctrl-C while the model loads is an interrupt too.
    handle_ctrl_c();
    let prompt = args.prompt_text()?;
    let mut engine = args.model.load()?;
    let mut guard = args.ban.guard(&engine)?;
    let options = args.options();
    options.sampling.validate()?;

    let stdout = std::io::stdout();
    let json = args.json;
    let mut sink = |text: &str| -> std::io::Result<()> {
        if json {
            return Ok(());
        }
        let mut out = stdout.lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    };
    let out = generate(
        &mut engine,
        guard.as_deref_mut(),
        &prompt,
        &options,
        &mut sink,
        &INTERRUPTED,
    )?;

    let mut out_lock = Stdout::lock();
    if json {
        let s = &out.stats;
        let value = serde_json::json!({
            "text": out.text,
            "tokens": out.tokens,
            "finish_reason": out.finish_reason.as_str(),
            "stats": {
                "prompt_tokens": s.prompt_tokens,
                "generated_tokens": s.generated_tokens,
                "masked_steps": s.masked_steps,
                "removed_mass": s.removed_mass,
                "violations": s.violations,
                "backtracks": s.backtracks,
                "rewound_tokens": s.rewound_tokens,
                "tokens_per_second": s.tokens_per_second,
                "prompt_tokens_per_second": s.prompt_tokens_per_second,
                "guard_us_per_token": s.guard_us_per_token,
                "guard_us_median": s.guard_us_median,
            },
        });
        writeln!(out_lock, "{value}")?;
    } else {
        writeln!(out_lock)?;
    }
    out_lock.finish()?;
    Ok(if out.finish_reason == FinishReason::Interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// `\n`, `\t` and `\\` in a stop string, because typing a newline in a shell argument is awkward.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}
