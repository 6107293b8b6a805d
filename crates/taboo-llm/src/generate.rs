//! The generation loop: prompt → prefill → per step `guard.apply` → sample → `guard.advance`
//! → stream → feed, until end of generation, a stop string, the token limit or a cancel flag.
//!
//! The guard sees the logits after the model and before the sampler, so nothing downstream can
//! undo a ban; it is primed with the prompt's last characters so a word that straddles the
//! prompt/output boundary is seen too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use taboo::{LogitsGuard, TokenId};

use crate::backtrack::{Backtrack, Backtracker};
use crate::engine::{Engine, TokenPiece};
use crate::sample::{Sampler, SamplingConfig};
use crate::stream::TextStream;
use crate::{Error, Result};

/// How many prompt tokens' worth of text primes the guard: enough for any banned phrase to
/// straddle the boundary, few enough to cost nothing.
const PRIME_TOKENS: usize = 32;

/// What to generate and when to stop.
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Sampling settings.
    pub sampling: SamplingConfig,
    /// Most tokens to generate. 256 by default.
    pub max_tokens: usize,
    /// Stop (without printing it) when the output contains any of these.
    pub stop: Vec<String>,
    /// Feed the prompt as plain text to continue, instead of wrapping it in the chat template.
    pub raw: bool,
    /// Rewinding out of dead ends (see [`Backtrack`]); `None` (the default) is plain
    /// masking.
    pub backtrack: Option<Backtrack>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            sampling: SamplingConfig::default(),
            max_tokens: 256,
            stop: Vec::new(),
            raw: false,
            backtrack: None,
        }
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    Eos,
    /// `max_tokens` was reached, or the context is full.
    Length,
    /// A stop string appeared.
    Stop,
    /// The cancel flag was raised (Ctrl-C).
    Interrupted,
    /// The ban left no token to sample (every continuation would complete a banned word).
    /// The unfinished banned word at the end, if any, was dropped from the output.
    DeadEnd,
}

impl FinishReason {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Eos => "eos",
            FinishReason::Length => "length",
            FinishReason::Stop => "stop",
            FinishReason::Interrupted => "interrupted",
            FinishReason::DeadEnd => "dead_end",
        }
    }
}

/// Counters of one generation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Prompt length in tokens (after templating).
    pub prompt_tokens: usize,
    /// Tokens sampled and kept, the end-of-generation token included (rewound ones are not
    /// counted).
    pub generated_tokens: usize,
    /// Steps where the guard edited at least one logit.
    pub masked_steps: usize,
    /// Sum over steps of the probability mass the guard removed.
    pub removed_mass: f64,
    /// Rewinds out of dead ends (see [`Backtrack`]).
    pub backtracks: usize,
    /// Tokens taken back by those rewinds, in total.
    pub rewound_tokens: usize,
    /// Tokens sampled by the guard-less model that the guard reported as completing a ban
    /// (always 0 in hard mode; soft and naive modes can leak).
    pub violations: usize,
    /// Generated tokens per second of the decoding loop (prefill excluded).
    pub tokens_per_second: f64,
    /// Prompt tokens per second of the prefill.
    pub prompt_tokens_per_second: f64,
    /// Microseconds per step spent in `apply` and `advance` of the guard.
    pub guard_us_per_token: f64,
}

/// The result of one generation.
#[derive(Clone, Debug)]
pub struct Generation {
    /// The generated text (stop string and end-of-generation token excluded).
    pub text: String,
    /// Every sampled token, in order.
    pub tokens: Vec<TokenId>,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Counters.
    pub stats: Stats,
}

/// Builds the prompt tokens: the chat template unless `raw`, then the model's tokenizer.
pub fn prompt_tokens(engine: &dyn Engine, prompt: &str, raw: bool) -> Result<Vec<TokenId>> {
    let text = if raw {
        prompt.to_string()
    } else {
        engine.chat_prompt(prompt)?
    };
    let tokens = engine.tokenize(&text, true);
    if tokens.is_empty() {
        return Err(Error::Decode(
            "the prompt is empty and the model adds no start token".into(),
        ));
    }
    // One position must stay free for the first generated token.
    if tokens.len() >= engine.context_size() {
        return Err(Error::PromptTooLong {
            tokens: tokens.len(),
            context: engine.context_size(),
        });
    }
    Ok(tokens)
}

/// Primes `guard` with the prompt: the text of its last [`PRIME_TOKENS`] tokens, and the
/// tokens themselves for token-id guards.
pub(crate) fn prime_guard(engine: &dyn Engine, guard: &mut dyn LogitsGuard, prompt: &[TokenId]) {
    let mut tail = Vec::new();
    for &t in &prompt[prompt.len().saturating_sub(PRIME_TOKENS)..] {
        if let TokenPiece::Text(b) = engine.token_piece(t) {
            tail.extend_from_slice(&b);
        }
    }
    guard.prime(&tail);
    guard.prime_tokens(prompt);
}

/// Runs one generation from a fresh sequence.
///
/// `guard` edits the logits of every step (pass `None` for an unconstrained run); `sink`
/// receives printable text as it becomes final; `cancel` is polled once per token.
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use taboo_llm::{generate, EngineOptions, GenerateOptions, LlamaEngine};
/// let mut engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(),
///                                    &EngineOptions::default())?;
/// let out = generate(&mut engine, None, "What animal says meow?", &GenerateOptions::default(),
///                    &mut |text| { print!("{text}"); Ok(()) }, &AtomicBool::new(false))?;
/// println!("\n{} tokens, {:.1} tok/s", out.stats.generated_tokens, out.stats.tokens_per_second);
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub fn generate<'g>(
    engine: &mut dyn Engine,
    mut guard: Option<&mut (dyn LogitsGuard + 'g)>,
    prompt: &str,
    options: &GenerateOptions,
    sink: &mut dyn FnMut(&str) -> std::io::Result<()>,
    cancel: &AtomicBool,
) -> Result<Generation> {
    let prompt = prompt_tokens(engine, prompt, options.raw)?;
    engine.reset()?;
    let prefill = Instant::now();
    let mut logits = engine.feed(&prompt)?.to_vec();
    let prefill_secs = prefill.elapsed().as_secs_f64();

    if let Some(g) = guard.as_deref_mut() {
        prime_guard(engine, g, &prompt);
    }

    let mut sampler = Sampler::new(options.sampling.clone());
    let mut stream = TextStream::new(&options.stop);
    let mut tokens: Vec<TokenId> = Vec::new();
    let mut stats = Stats {
        prompt_tokens: prompt.len(),
        ..Stats::default()
    };
    let mut guard_secs = 0.0f64;
    let mut backtracker = options.backtrack.clone().map(Backtracker::new);
    // Byte length of the text after each kept token, to take text back on a rewind.
    let mut text_ends: Vec<usize> = Vec::new();
    let decode = Instant::now();
    let finish = loop {
        if cancel.load(Ordering::Relaxed) {
            break FinishReason::Interrupted;
        }
        if tokens.len() >= options.max_tokens || engine.position() >= engine.context_size() {
            break FinishReason::Length;
        }
        let step = tokens.len();
        let t0 = Instant::now();
        let mut mass_left = 1.0f32;
        // The text ends after the last token the limit allows, so a banned word must not be
        // left complete there either: the same rule as for the end-of-generation token.
        let last = tokens.len() + 1 >= options.max_tokens
            || engine.position() + 1 >= engine.context_size();
        if let Some(g) = guard.as_deref_mut() {
            let applied = if last {
                g.apply_final(&mut logits)
            } else {
                g.apply(&mut logits)
            };
            if applied.forbidden + applied.penalized > 0 {
                stats.masked_steps += 1;
                stats.removed_mass += f64::from(applied.removed_mass);
                mass_left = 1.0 - applied.removed_mass;
            }
        }
        guard_secs += t0.elapsed().as_secs_f64();
        if let (Some(bt), Some(g)) = (backtracker.as_mut(), guard.as_deref_mut()) {
            if let Some(at) = bt.dead_end(g.open_since(), mass_left, step) {
                let fresh = bt.rewind(engine, g, &prompt, &mut tokens, at)?;
                logits.copy_from_slice(fresh);
                text_ends.truncate(at);
                stream.truncate(text_ends.last().copied().unwrap_or(0));
                continue;
            }
            bt.forbid(step, &mut logits);
        }
        let Some(token) = sampler.sample(&mut logits, &tokens) else {
            // Cornered: every continuation completes a banned word (e.g. "Tokyo" + the first
            // byte of a character that can only be punctuation). The open partial match was
            // held back from the stream, so it can be dropped: the text ends before it.
            if let Some(at) = guard.as_deref().and_then(|g| g.open_since()) {
                tokens.truncate(at);
                text_ends.truncate(at);
                stream.truncate(text_ends.last().copied().unwrap_or(0));
            }
            break FinishReason::DeadEnd;
        };
        let t1 = Instant::now();
        if let Some(g) = guard.as_deref_mut() {
            if g.advance(token).is_err() {
                stats.violations += 1;
            }
        }
        guard_secs += t1.elapsed().as_secs_f64();
        tokens.push(token);
        if let Some(bt) = backtracker.as_mut() {
            bt.kept(step);
        }
        if engine.is_end_of_generation(token) {
            text_ends.push(stream.bytes().len());
            break FinishReason::Eos;
        }
        let mut stopped = false;
        if let TokenPiece::Text(piece) = engine.token_piece(token) {
            stopped = stream.push(&piece).is_some();
        }
        text_ends.push(stream.bytes().len());
        if stopped {
            break FinishReason::Stop;
        }
        // Only the open partial match can still be taken back by a rewind; the text before
        // the token that opened it is final.
        // A cornered generation drops it too (see `FinishReason::DeadEnd`), so it is held
        // back in every guarded mode.
        let rewindable = guard.as_deref().and_then(|g| g.open_since());
        let settled = match rewindable {
            Some(0) => 0,
            Some(at) => text_ends[at - 1],
            None => stream.bytes().len(),
        };
        let text = stream.ready_up_to(settled);
        if !text.is_empty() {
            sink(&text).map_err(Error::Output)?;
        }
        if tokens.len() >= options.max_tokens {
            break FinishReason::Length;
        }
        let next = engine.feed(&[token])?;
        logits.copy_from_slice(next);
    };
    let decode_secs = decode.elapsed().as_secs_f64();
    let rest = stream.finish();
    if !rest.is_empty() {
        sink(&rest).map_err(Error::Output)?;
    }
    stats.generated_tokens = tokens.len();
    if let Some(bt) = &backtracker {
        stats.backtracks = bt.backtracks();
        stats.rewound_tokens = bt.rewound_tokens();
    }
    if decode_secs > 0.0 {
        stats.tokens_per_second = tokens.len() as f64 / decode_secs;
    }
    if prefill_secs > 0.0 {
        stats.prompt_tokens_per_second = prompt.len() as f64 / prefill_secs;
    }
    if !tokens.is_empty() {
        stats.guard_us_per_token = guard_secs * 1e6 / tokens.len() as f64;
    }
    Ok(Generation {
        text: String::from_utf8_lossy(stream.bytes()).into_owned(),
        tokens,
        finish_reason: finish,
        stats,
    })
}
