//! One generation on one engine: prompt → prefill → per step [`Sequence::step`] (guard,
//! backtracking, sampling, stops, limits) → stream → feed, until the sequence is done or a
//! cancel flag is raised. The options and results of a generation are defined here too.
//!
//! The guard sees the logits after the model and before the sampler, so nothing downstream can
//! undo a ban; it is primed with the prompt's last characters so a word that straddles the
//! prompt/output boundary is seen too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use taboo::{LogitsGuard, TokenId};

use crate::backtrack::Backtrack;
use crate::engine::Engine;
use crate::sample::SamplingConfig;
use crate::sequence::{feed_prompt, Sequence, Step};
use crate::{Error, Result};

/// What to generate and when to stop.
#[derive(Clone, Debug)]
#[non_exhaustive]
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

taboo::__settings_setters!(GenerateOptions {
    with_sampling => sampling: SamplingConfig,
    with_max_tokens => max_tokens: usize,
    with_stop => stop: Vec<String>,
    with_raw => raw: bool,
    with_backtrack => backtrack: Option<Backtrack>,
});

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
    /// Prompt tokens not prefilled because a batch slot still held the same prompt from an
    /// earlier request (0 or `prompt_tokens`; see [`crate::Batch`]).
    pub cached_prompt_tokens: usize,
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
    /// Microseconds per step spent in `apply` and `advance` of the guard (the mean, so
    /// first-time states and the steps whose removed mass is measured are in it).
    pub guard_us_per_token: f64,
    /// The median over steps of the same time: what a typical step costs.
    pub guard_us_median: f64,
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

/// Prompt tokens fed per forward pass: the engine's batch size, so that a prompt fed in
/// pieces gives the same logits as fed whole, and Ctrl-C is noticed between pieces.
const PREFILL_CHUNK: usize = 512;

/// Runs one generation from a fresh sequence: a [`Sequence`] driven on `engine`.
///
/// `guard` edits the logits of every step (pass `None` for an unconstrained run); `sink`
/// receives printable text as it becomes final; `cancel` is polled once per token and
/// between prompt chunks.
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
    guard: Option<&mut (dyn LogitsGuard + 'g)>,
    prompt: &str,
    options: &GenerateOptions,
    sink: &mut dyn FnMut(&str) -> std::io::Result<()>,
    cancel: &AtomicBool,
) -> Result<Generation> {
    let guard = guard.map(|g| Box::new(g) as Box<dyn LogitsGuard + '_>);
    let mut seq = Sequence::new(&*engine, prompt, guard, options.clone())?;
    let mut emit = |seq: &mut Sequence<'_>| -> Result<()> {
        let text = seq.take_text();
        if text.is_empty() {
            return Ok(());
        }
        sink(&text).map_err(Error::Output)
    };
    engine.reset()?;
    let prefill = Instant::now();
    let Some(first) = feed_prompt(engine, seq.prompt(), PREFILL_CHUNK, cancel)? else {
        seq.interrupt();
        return Ok(seq.finish().generation);
    };
    let mut logits = first.to_vec();
    seq.prefilled(prefill.elapsed().as_secs_f64());
    loop {
        if cancel.load(Ordering::Relaxed) {
            seq.interrupt();
            break;
        }
        let step = seq.step(&*engine, &mut logits)?;
        emit(&mut seq)?;
        match step {
            Step::Feed(token) => logits.copy_from_slice(engine.feed(&[token])?),
            Step::Rewind { drop, then } => {
                engine.rewind(drop)?;
                logits.copy_from_slice(engine.feed(&[then])?);
            }
            Step::Done(_) => break,
        }
    }
    emit(&mut seq)?;
    Ok(seq.finish().generation)
}
