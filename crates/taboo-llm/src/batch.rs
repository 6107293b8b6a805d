//! Batched decoding: several independent sequences advanced together, one llama.cpp decode
//! call per step for all of them.
//!
//! On a small model most of a decode step is fixed cost (reading every weight once), so
//! feeding eight sequences' next tokens in one `llama_batch` costs little more than feeding
//! one. [`generate_batch`] runs N generations that way — each with its own prompt, guard,
//! sampler, seed and options — with continuous batching: a finished sequence's slot takes
//! the next request at once, its prompt prefilled in the same decode as the others' tokens.
//! [`score_batch`] re-scores finished outputs under the bare model the same way.
//!
//! Per step and sequence the logic is exactly [`crate::generate`]'s: guard `apply` (or
//! `apply_final` before a limit), backtracking, sampling, `advance`, end-of-generation,
//! stop strings, the token limit. A rewind drops the sequence's KV cache from the rewind
//! point and feeds the token before it again with the next batch, so backtracking works
//! per sequence inside a batch.
//!
//! ```text
//!  step k:  seq 0 ─ " cat"  ┐
//!           seq 1 ─ " the"  ├─ one llama_batch ─► decode ─► 3 logits rows ─► 3 guards ─► 3 samplers
//!           seq 2 ─ prompt  ┘   (distinct seq ids, unified KV cache)
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use taboo::{LogitsGuard, TokenId};

use crate::backtrack::Backtracker;
use crate::engine::{Engine, TokenPiece};
use crate::generate::{
    prime_guard, prompt_tokens, FinishReason, GenerateOptions, Generation, Stats,
};
use crate::sample::Sampler;
use crate::stream::TextStream;
use crate::{Error, Result};

/// Tokens to append to one sequence in a batched decode, and which of them want logits.
#[derive(Clone, Copy, Debug)]
pub struct Feed<'a> {
    /// The sequence (0 ≤ seq < [`BatchEngine::sequences`]).
    pub seq: usize,
    /// Tokens appended to it, in order. Must not be empty.
    pub tokens: &'a [TokenId],
    /// Logits are computed for `tokens[logits_from..]` (each row predicts the token after).
    pub logits_from: usize,
}

impl<'a> Feed<'a> {
    /// A feed that wants the logits of its last token only: the next-token distribution.
    pub fn last(seq: usize, tokens: &'a [TokenId]) -> Feed<'a> {
        Feed {
            seq,
            tokens,
            logits_from: tokens.len().saturating_sub(1),
        }
    }
}

/// A model holding several independent sequences of KV cache, decoded together.
///
/// [`Engine`]'s own methods act on sequence 0; [`Engine::context_size`] is the limit of
/// each sequence.
pub trait BatchEngine: Engine {
    /// How many sequences the engine holds.
    fn sequences(&self) -> usize;

    /// Tokens currently in sequence `seq`.
    fn sequence_position(&self, seq: usize) -> usize;

    /// Appends every feed's tokens to its sequence in as few decode calls as fit, and calls
    /// `rows(feed index, token index, logits)` for each logits row asked for. A feed's rows
    /// come in token order. On error no sequence has changed.
    fn decode(
        &mut self,
        feeds: &[Feed<'_>],
        rows: &mut dyn FnMut(usize, usize, &[f32]),
    ) -> Result<()>;

    /// Drops the last `n` tokens of sequence `seq`.
    fn rewind_sequence(&mut self, seq: usize, n: usize) -> Result<()>;

    /// Drops the whole of sequence `seq`.
    fn reset_sequence(&mut self, seq: usize) -> Result<()>;
}

/// One generation of a batch: what [`crate::generate`] takes, with the guard owned.
pub struct BatchRequest<'g> {
    /// The prompt (chat-templated unless `options.raw`).
    pub prompt: String,
    /// The ban guard of this sequence; `None` is unconstrained.
    pub guard: Option<Box<dyn LogitsGuard + 'g>>,
    /// Sampling (with its own seed), limits, stop strings, backtracking.
    pub options: GenerateOptions,
}

/// One finished generation of a batch.
#[derive(Clone, Debug)]
pub struct BatchOutput {
    /// Text, tokens, finish reason and counters, as [`crate::generate`] returns them.
    /// `stats.tokens_per_second` is this sequence's own rate (its tokens over the time it was
    /// in the batch); the batch's throughput is [`BatchRun::tokens_per_second`].
    pub generation: Generation,
    /// Probability mass the guard removed at each kept step (one entry per token of
    /// `generation.tokens`; 0 where it edited nothing). Steps taken back by a rewind are gone.
    pub removed_mass: Vec<f32>,
}

/// Everything a [`generate_batch`] call produced.
#[derive(Clone, Debug)]
pub struct BatchRun {
    /// One output per request, in request order.
    pub outputs: Vec<BatchOutput>,
    /// Wall-clock time of the whole call.
    pub seconds: f64,
    /// Kept tokens of all sequences per second of wall-clock time (prefill included).
    pub tokens_per_second: f64,
}

struct Running<'g> {
    index: usize,
    seq: usize,
    guard: Option<Box<dyn LogitsGuard + 'g>>,
    options: GenerateOptions,
    prompt: Vec<TokenId>,
    sampler: Sampler,
    stream: TextStream,
    tokens: Vec<TokenId>,
    text_ends: Vec<usize>,
    removed: Vec<f32>,
    stats: Stats,
    guard_secs: f64,
    backtracker: Option<Backtracker>,
    logits: Vec<f32>,
    pending: Vec<TokenId>,
    prefilled: bool,
    decode_start: Instant,
}

/// Runs `requests` through `engine`, up to [`BatchEngine::sequences`] at a time, and returns
/// their outputs in request order. `progress` is called with the number of finished
/// requests each time one finishes; `cancel` ends every running generation as
/// `interrupted`.
///
/// With one sequence this is [`crate::generate`] run once per request; outputs are the same
/// up to the floating-point differences of batched matrix products (see the tests).
///
/// ```no_run
/// use std::sync::atomic::AtomicBool;
/// use taboo_llm::{generate_batch, BatchRequest, EngineOptions, GenerateOptions, LlamaEngine};
/// let options = EngineOptions { sequences: 4, context_size: 512, ..EngineOptions::default() };
/// let mut engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(), &options)?;
/// let requests = ["Name a fruit.", "Name a colour."].iter().map(|p| BatchRequest {
///     prompt: p.to_string(), guard: None, options: GenerateOptions::default(),
/// }).collect();
/// let run = generate_batch(&mut engine, requests, &AtomicBool::new(false), &mut |_| {})?;
/// println!("{:?} at {:.0} tok/s", run.outputs[0].generation.text, run.tokens_per_second);
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub fn generate_batch<'g, E: BatchEngine>(
    engine: &mut E,
    requests: Vec<BatchRequest<'g>>,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(usize),
) -> Result<BatchRun> {
    let started = Instant::now();
    let total = requests.len();
    let mut queue = requests.into_iter().enumerate();
    let mut results: Vec<Option<BatchOutput>> = (0..total).map(|_| None).collect();
    let mut slots: Vec<Option<Running<'g>>> = (0..engine.sequences()).map(|_| None).collect();
    let mut finished = 0usize;
    let mut kept = 0usize;
    loop {
        for (seq, slot) in slots.iter_mut().enumerate() {
            if slot.is_none() {
                if let Some((index, request)) = queue.next() {
                    *slot = Some(start(engine, seq, index, request)?);
                }
            }
        }
        if slots.iter().all(Option::is_none) {
            break;
        }
        let pending: Vec<(usize, Vec<TokenId>)> = slots
            .iter_mut()
            .flatten()
            .map(|r| (r.seq, std::mem::take(&mut r.pending)))
            .collect();
        // Prompts are prefilled one per decode call and the one-token steps of all running
        // sequences share one call: llama.cpp's CPU kernels pick their path by batch shape,
        // and a prompt decoded together with other prompts gets logits that differ in the
        // first decimal from the same prompt decoded alone, whereas a batch of single
        // tokens gives each sequence bit-identical logits (tests/batch.rs checks both).
        let mut calls: Vec<Vec<Feed<'_>>> = Vec::new();
        let mut steps: Vec<Feed<'_>> = Vec::new();
        for (seq, tokens) in &pending {
            if tokens.len() > 1 {
                calls.push(vec![Feed::last(*seq, tokens)]);
            } else {
                steps.push(Feed::last(*seq, tokens));
            }
        }
        if !steps.is_empty() {
            calls.push(steps);
        }
        let t0 = Instant::now();
        for feeds in &calls {
            engine.decode(feeds, &mut |fi, _, row| {
                if let Some(r) = slots[feeds[fi].seq].as_mut() {
                    r.logits.clear();
                    r.logits.extend_from_slice(row);
                }
            })?;
        }
        let decode_secs = t0.elapsed().as_secs_f64();
        for (seq, slot) in slots.iter_mut().enumerate() {
            let Some(r) = slot.as_mut() else {
                continue;
            };
            if !r.prefilled {
                r.prefilled = true;
                r.decode_start = Instant::now();
                if decode_secs > 0.0 {
                    r.stats.prompt_tokens_per_second = r.prompt.len() as f64 / decode_secs;
                }
            }
            if let Some(finish) = step(engine, r, cancel)? {
                let r = slot.take().expect("slot is running");
                engine.reset_sequence(seq)?;
                kept += r.tokens.len();
                let index = r.index;
                results[index] = Some(finish_output(r, finish));
                finished += 1;
                progress(finished);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(BatchRun {
        outputs: results
            .into_iter()
            .map(|r| r.expect("every request finished"))
            .collect(),
        seconds,
        tokens_per_second: if seconds > 0.0 {
            kept as f64 / seconds
        } else {
            0.0
        },
    })
}

fn start<'g, E: BatchEngine>(
    engine: &mut E,
    seq: usize,
    index: usize,
    request: BatchRequest<'g>,
) -> Result<Running<'g>> {
    let prompt = prompt_tokens(&*engine, &request.prompt, request.options.raw)?;
    engine.reset_sequence(seq)?;
    let mut guard = request.guard;
    if let Some(g) = guard.as_deref_mut() {
        prime_guard(&*engine, g, &prompt);
    }
    let options = request.options;
    Ok(Running {
        index,
        seq,
        guard,
        sampler: Sampler::new(options.sampling.clone()),
        stream: TextStream::new(&options.stop),
        backtracker: options.backtrack.clone().map(Backtracker::new),
        stats: Stats {
            prompt_tokens: prompt.len(),
            ..Stats::default()
        },
        pending: prompt.clone(),
        prompt,
        options,
        tokens: Vec::new(),
        text_ends: Vec::new(),
        removed: Vec::new(),
        guard_secs: 0.0,
        logits: Vec::new(),
        prefilled: false,
        decode_start: Instant::now(),
    })
}

/// One step of one sequence with fresh logits in `r.logits`: the body of
/// [`crate::generate`]'s loop. Returns the finish reason, or `None` with `r.pending` set to
/// what the sequence feeds next (the sampled token, or after a rewind the token before the
/// rewind point).
fn step<E: BatchEngine>(
    engine: &mut E,
    r: &mut Running<'_>,
    cancel: &AtomicBool,
) -> Result<Option<FinishReason>> {
    if cancel.load(Ordering::Relaxed) {
        return Ok(Some(FinishReason::Interrupted));
    }
    let position = engine.sequence_position(r.seq);
    let context = engine.context_size();
    if r.tokens.len() >= r.options.max_tokens || position >= context {
        return Ok(Some(FinishReason::Length));
    }
    let step = r.tokens.len();
    let t0 = Instant::now();
    let mut mass_left = 1.0f32;
    let mut removed = 0.0f32;
    let last = r.tokens.len() + 1 >= r.options.max_tokens || position + 1 >= context;
    if let Some(g) = r.guard.as_deref_mut() {
        let applied = if last {
            g.apply_final(&mut r.logits)
        } else {
            g.apply(&mut r.logits)
        };
        if applied.forbidden + applied.penalized > 0 {
            r.stats.masked_steps += 1;
            r.stats.removed_mass += f64::from(applied.removed_mass);
            mass_left = 1.0 - applied.removed_mass;
            removed = applied.removed_mass;
        }
    }
    r.guard_secs += t0.elapsed().as_secs_f64();
    if let (Some(bt), Some(g)) = (r.backtracker.as_mut(), r.guard.as_deref_mut()) {
        if let Some(at) = bt.dead_end(g.open_since(), mass_left, step) {
            let (drop, before) = bt.take_back(g, &r.prompt, &mut r.tokens, at)?;
            engine.rewind_sequence(r.seq, drop)?;
            r.text_ends.truncate(at);
            r.removed.truncate(at);
            r.stream.truncate(r.text_ends.last().copied().unwrap_or(0));
            r.pending = vec![before];
            return Ok(None);
        }
        bt.forbid(step, &mut r.logits);
    }
    let Some(token) = r.sampler.sample(&mut r.logits, &r.tokens) else {
        // Cornered: the open partial match is dropped, as in `generate`.
        if let Some(at) = r.guard.as_deref().and_then(|g| g.open_since()) {
            r.tokens.truncate(at);
            r.text_ends.truncate(at);
            r.removed.truncate(at);
            r.stream.truncate(r.text_ends.last().copied().unwrap_or(0));
        }
        return Ok(Some(FinishReason::DeadEnd));
    };
    let t1 = Instant::now();
    if let Some(g) = r.guard.as_deref_mut() {
        if g.advance(token).is_err() {
            r.stats.violations += 1;
        }
    }
    r.guard_secs += t1.elapsed().as_secs_f64();
    r.tokens.push(token);
    r.removed.push(removed);
    if let Some(bt) = r.backtracker.as_mut() {
        bt.kept(step);
    }
    if engine.is_end_of_generation(token) {
        r.text_ends.push(r.stream.bytes().len());
        return Ok(Some(FinishReason::Eos));
    }
    let mut stopped = false;
    if let TokenPiece::Text(piece) = engine.token_piece(token) {
        stopped = r.stream.push(&piece).is_some();
    }
    r.text_ends.push(r.stream.bytes().len());
    if stopped {
        return Ok(Some(FinishReason::Stop));
    }
    if r.tokens.len() >= r.options.max_tokens {
        return Ok(Some(FinishReason::Length));
    }
    r.pending = vec![token];
    Ok(None)
}

fn finish_output(r: Running<'_>, finish: FinishReason) -> BatchOutput {
    let mut stats = r.stats;
    let decode_secs = r.decode_start.elapsed().as_secs_f64();
    stats.generated_tokens = r.tokens.len();
    if let Some(bt) = &r.backtracker {
        stats.backtracks = bt.backtracks();
        stats.rewound_tokens = bt.rewound_tokens();
    }
    if decode_secs > 0.0 {
        stats.tokens_per_second = r.tokens.len() as f64 / decode_secs;
    }
    if !r.tokens.is_empty() {
        stats.guard_us_per_token = r.guard_secs * 1e6 / r.tokens.len() as f64;
    }
    BatchOutput {
        generation: Generation {
            text: String::from_utf8_lossy(r.stream.bytes()).into_owned(),
            tokens: r.tokens,
            finish_reason: finish,
            stats,
        },
        removed_mass: r.removed,
    }
}

/// `log softmax(logits)[token]`, in f64 so that unlikely tokens do not underflow to −∞.
pub fn log_prob(logits: &[f32], token: TokenId) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    logits[token as usize] as f64 - max - sum.ln()
}

/// For each `(prompt, continuation)` pair of token ids, the continuation's negative
/// log-likelihood under the bare model (no guard): Σ −log p(cᵢ | prompt, c₍<ᵢ₎), in nats.
/// Pairs are scored [`BatchEngine::sequences`] at a time, each fed whole in one go.
pub fn score_batch<E: BatchEngine>(
    engine: &mut E,
    items: &[(Vec<TokenId>, Vec<TokenId>)],
) -> Result<Vec<f64>> {
    let mut nll = vec![0.0f64; items.len()];
    let width = engine.sequences();
    let indices: Vec<usize> = (0..items.len())
        .filter(|&i| !items[i].0.is_empty() && !items[i].1.is_empty())
        .collect();
    for wave in indices.chunks(width) {
        let full: Vec<Vec<TokenId>> = wave
            .iter()
            .map(|&i| {
                let (p, c) = &items[i];
                p.iter().chain(&c[..c.len() - 1]).copied().collect()
            })
            .collect();
        for seq in 0..wave.len() {
            engine.reset_sequence(seq)?;
        }
        let feeds: Vec<Feed<'_>> = wave
            .iter()
            .zip(&full)
            .enumerate()
            .map(|(seq, (&i, tokens))| Feed {
                seq,
                tokens,
                logits_from: items[i].0.len() - 1,
            })
            .collect();
        let mut sums = vec![0.0f64; wave.len()];
        engine.decode(&feeds, &mut |fi, ti, row| {
            let (prompt, cont) = &items[wave[fi]];
            let target = cont[ti + 1 - prompt.len()];
            sums[fi] -= log_prob(row, target);
        })?;
        for (k, &i) in wave.iter().enumerate() {
            nll[i] = sums[k];
        }
    }
    for seq in 0..width.min(indices.len()) {
        engine.reset_sequence(seq)?;
    }
    if nll.iter().any(|x| x.is_nan()) {
        return Err(Error::Decode("the model returned NaN logits".into()));
    }
    Ok(nll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_prob_is_log_softmax() {
        // softmax([0, ln 3]) = [1/4, 3/4]
        let logits = [0.0f32, 3.0f32.ln()];
        assert!((log_prob(&logits, 0) - 0.25f64.ln()).abs() < 1e-6);
        assert!((log_prob(&logits, 1) - 0.75f64.ln()).abs() < 1e-6);
        // Far below the maximum: still finite.
        let logits = [0.0f32, 200.0];
        assert!((log_prob(&logits, 0) + 200.0).abs() < 1e-3);
    }
}
