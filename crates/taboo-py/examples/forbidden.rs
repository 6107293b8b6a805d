//! The Rust side of the Python package's parity test: replays a token stream through a
//! `taboo::Guard` and prints, for every step, the ids its `apply` sets to `-inf`.
//!
//! ```text
//! forbidden (--gguf FILE | --tiktoken NAME) --ban-file FILE [--prime TEXT] [--mode hard|soft] < ids
//! ```
//!
//! Standard input holds the token ids, whitespace-separated. Output: one line per step
//! `0..=n` (step `i` is before token `i` is advanced), the forbidden ids ascending,
//! comma-separated (soft mode: the penalised ids); the last line is the final step
//! (`apply_final`). Uses the core crate only, the way a Rust user would.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use taboo::{Ban, GuardConfig, LogitsGuard, Mode, Vocabulary};

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut vocab, mut ban_file, mut prime, mut mode) = (None, None, String::new(), Mode::Hard);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--gguf" => {
                vocab = Some(Vocabulary::from_gguf_file(value()?).map_err(|e| e.to_string())?)
            }
            "--tiktoken" => {
                let name = value()?;
                let enc = taboo::TiktokenEncoding::from_name(&name)
                    .ok_or(format!("unknown tiktoken encoding {name}"))?;
                vocab = Some(Vocabulary::tiktoken(enc).map_err(|e| e.to_string())?)
            }
            "--ban-file" => ban_file = Some(value()?),
            "--prime" => prime = value()?,
            "--mode" => {
                mode = match value()?.as_str() {
                    "hard" => Mode::Hard,
                    "soft" => Mode::Soft {
                        penalty: 10.0,
                        partial_penalty: 0.0,
                    },
                    m => return Err(format!("unknown mode {m}")),
                }
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let vocab = Arc::new(vocab.ok_or("give --gguf or --tiktoken")?);
    let ban = Ban::builder()
        .file(ban_file.ok_or("give --ban-file")?)
        .build()
        .map_err(|e| e.to_string())?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| e.to_string())?;
    let tokens: Vec<u32> = input
        .split_whitespace()
        .map(|t| t.parse().map_err(|_| format!("not a token id: {t}")))
        .collect::<Result<_, _>>()?;
    let config = GuardConfig::default()
        .with_mode(mode)
        .with_max_rollback(64)
        .with_measure_mass(false);
    let mut guard = ban.guard_with(&vocab, config);
    guard.prime(prime.as_bytes());
    let mut out = String::new();
    for i in 0..=tokens.len() {
        let mut logits = vec![0.0f32; vocab.len()];
        if i == tokens.len() {
            guard.apply_final(&mut logits);
        } else {
            guard.apply(&mut logits);
        }
        let edited: Vec<String> = (0..logits.len())
            .filter(|&t| logits[t] != 0.0)
            .map(|t| t.to_string())
            .collect();
        out.push_str(&edited.join(","));
        out.push('\n');
        if let Some(&t) = tokens.get(i) {
            let _ = guard.advance(t);
        }
    }
    print!("{out}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forbidden: {e}");
            ExitCode::FAILURE
        }
    }
}
