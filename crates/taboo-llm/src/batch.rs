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
//! Per step and sequence the logic is [`crate::generate`]'s, because both drive the same
//! [`Sequence::step`]; [`Batch`] only decides what is decoded together. A rewind drops the
//! sequence's KV cache from the rewind point and feeds the token before it again with the
//! next batch, so backtracking works per sequence inside a batch. Sequences join and leave
//! between steps ([`Batch::join`], [`Batch::leave`]).
//!
//! A slot whose request has finished keeps its prompt: the prompt's KV cells and the logits
//! its prefill produced. A new request with exactly the same prompt tokens joins that slot
//! and starts sampling from the kept logits with no prefill at all (a server sees the same
//! system prompt and question again and again). Only whole prompts are reused: the logits
//! are then the very numbers a fresh prefill computes, so the text is the same token for
//! token, whereas feeding the rest of a longer prompt after a shared prefix would compute
//! its last row in a batch of another shape, whose logits differ (see [`Batch::step`]).
//!
//! ```text
//!  step k:  seq 0 ─ " cat"  ┐
//!           seq 1 ─ " the"  ├─ one llama_batch ─► decode ─► 3 logits rows ─► 3 guards ─► 3 samplers
//!           seq 2 ─ prompt  ┘   (distinct seq ids, unified KV cache)
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use taboo::{LogitsGuard, TokenId};

use crate::engine::Engine;
use crate::generate::{GenerateOptions, Generation};
use crate::sequence::{Sequence, Step};
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

/// Sequences decoded together, one model sequence (KV stream) each, that join and leave
/// between steps: the continuous-batching driver of [`Sequence`]s.
///
/// Each [`Batch::step`] feeds every running sequence what it asked for — a new prompt in a
/// decode call of its own, the one-token steps of all the others together in one — then runs
/// one [`Sequence::step`] each. A slot is the index of the model sequence it uses.
///
/// ```no_run
/// use taboo_llm::{Batch, BatchEngine, EngineOptions, GenerateOptions, LlamaEngine, Sequence};
/// let options = EngineOptions::default().with_sequences(2).with_context_size(512);
/// let mut engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(), &options)?;
/// let mut batch = Batch::new(engine.sequences());
/// for prompt in ["Name a fruit.", "Name a colour."] {
///     let seq = Sequence::new(&engine, prompt, None, GenerateOptions::default())?;
///     batch.join(&mut engine, seq)?;
/// }
/// while !batch.is_empty() {
///     for (slot, out) in batch.step(&mut engine, &mut |slot, text| print!("[{slot}]{text}"))? {
///         println!("\n{slot}: {:?}", out.generation.finish_reason);
///     }
/// }
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub struct Batch<'g> {
    slots: Vec<Option<Slot<'g>>>,
    /// What each free slot's model sequence still holds from its last request.
    kept: Vec<Option<KeptPrompt>>,
    /// Counts releases, to give a new prompt the slot whose kept one is oldest.
    releases: u64,
}

struct Slot<'g> {
    seq: Sequence<'g>,
    /// What to feed at the next decode: the prompt, then one token per step.
    pending: Vec<TokenId>,
    logits: Vec<f32>,
    prefilled: bool,
    /// The logits right after the prompt, as the model computed them, while the model
    /// sequence's first cells are still the ones that prefill wrote.
    prompt_logits: Option<Vec<f32>>,
}

/// A finished request's prompt left in its slot: the model sequence holds exactly these
/// tokens, written by one prefill, and `logits` is what that prefill computed after them.
struct KeptPrompt {
    tokens: Vec<TokenId>,
    logits: Vec<f32>,
    released: u64,
}

impl<'g> Batch<'g> {
    /// A batch of `slots` sequences at most (the engine's [`BatchEngine::sequences`]).
    pub fn new(slots: usize) -> Batch<'g> {
        Batch {
            slots: (0..slots).map(|_| None).collect(),
            kept: (0..slots).map(|_| None).collect(),
            releases: 0,
        }
    }

    /// Prompts kept in free slots now (see the module doc).
    pub fn kept_prompts(&self) -> usize {
        self.kept.iter().filter(|k| k.is_some()).count()
    }

    /// True when a free slot keeps exactly `prompt`: a sequence with it would join with no
    /// prefill (a scheduler may start such a request first).
    pub fn keeps_prompt(&self, prompt: &[TokenId]) -> bool {
        self.kept
            .iter()
            .zip(&self.slots)
            .any(|(k, s)| s.is_none() && k.as_ref().is_some_and(|k| k.tokens == prompt))
    }

    /// Sequences running now.
    pub fn running(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// True when no sequence is running.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// True when a sequence can join.
    pub fn has_room(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// Adds a sequence in a free slot. A slot that kept exactly this prompt is taken as it
    /// is, and the sequence samples from the kept logits at the next [`Batch::step`];
    /// otherwise the free slot with nothing kept, or with the oldest kept prompt, is cleared
    /// and the prompt is fed with the next step. Returns the slot, or an error when every
    /// slot is taken.
    pub fn join<E: BatchEngine>(&mut self, engine: &mut E, seq: Sequence<'g>) -> Result<usize> {
        let free = || (0..self.slots.len()).filter(|&i| self.slots[i].is_none());
        let same = free().find(|&i| {
            self.kept[i]
                .as_ref()
                .is_some_and(|k| k.tokens == seq.prompt())
        });
        let Some(slot) = same.or_else(|| {
            free().min_by_key(|&i| self.kept[i].as_ref().map_or(0, |k| k.released + 1))
        }) else {
            return Err(Error::Decode("every sequence of the batch is taken".into()));
        };
        let joined = match (same, self.kept[slot].take()) {
            (Some(_), Some(kept)) => Slot {
                pending: Vec::new(),
                seq,
                logits: kept.logits.clone(),
                prefilled: false,
                prompt_logits: Some(kept.logits),
            },
            _ => {
                engine.reset_sequence(slot)?;
                Slot {
                    pending: seq.prompt().to_vec(),
                    seq,
                    logits: Vec::new(),
                    prefilled: false,
                    prompt_logits: None,
                }
            }
        };
        self.slots[slot] = Some(joined);
        Ok(slot)
    }

    /// Frees `slot`'s model sequence after its request: back to the prompt, kept for a
    /// request with the same one, when the prompt's cells are still those its prefill wrote;
    /// cleared otherwise.
    fn release<E: BatchEngine>(
        &mut self,
        engine: &mut E,
        slot: usize,
        s: Slot<'g>,
    ) -> Result<BatchOutput> {
        let prompt = s.seq.prompt().len();
        let held = engine.sequence_position(slot);
        match s.prompt_logits {
            Some(logits) if held >= prompt => {
                engine.rewind_sequence(slot, held - prompt)?;
                self.releases += 1;
                self.kept[slot] = Some(KeptPrompt {
                    tokens: s.seq.prompt().to_vec(),
                    logits,
                    released: self.releases,
                });
            }
            _ => {
                engine.reset_sequence(slot)?;
                self.kept[slot] = None;
            }
        }
        Ok(s.seq.finish())
    }

    /// Takes the sequence in `slot` out now, as interrupted (its open partial match dropped),
    /// and frees its model sequence. `None` if the slot is empty.
    pub fn leave<E: BatchEngine>(
        &mut self,
        engine: &mut E,
        slot: usize,
    ) -> Result<Option<BatchOutput>> {
        let Some(mut s) = self.slots.get_mut(slot).and_then(Option::take) else {
            return Ok(None);
        };
        s.seq.interrupt();
        self.release(engine, slot, s).map(Some)
    }

    /// One decode for every running sequence, then one step each. `text(slot, text)`
    /// receives text as it becomes final. Returns the sequences that finished, with their
    /// slots, which are free again.
    pub fn step<E: BatchEngine>(
        &mut self,
        engine: &mut E,
        text: &mut dyn FnMut(usize, &str),
    ) -> Result<Vec<(usize, BatchOutput)>> {
        let pending: Vec<(usize, Vec<TokenId>)> = self
            .slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.as_mut().map(|s| (i, std::mem::take(&mut s.pending))))
            .filter(|(_, tokens)| !tokens.is_empty())
            .collect();
        // Prompts are prefilled one per decode call and the one-token steps of all running
        // sequences share one call: llama.cpp's CPU kernels pick their path by batch shape,
        // and a prompt decoded together with other prompts gets logits that differ in the
        // first decimal from the same prompt decoded alone, whereas a batch of single
        // tokens gives each sequence bit-identical logits (tests/batch.rs checks both).
        let mut calls: Vec<Vec<Feed<'_>>> = Vec::new();
        let mut steps: Vec<Feed<'_>> = Vec::new();
        for (slot, tokens) in &pending {
            if tokens.len() > 1 {
                calls.push(vec![Feed::last(*slot, tokens)]);
            } else {
                steps.push(Feed::last(*slot, tokens));
            }
        }
        if !steps.is_empty() {
            calls.push(steps);
        }
        let t0 = Instant::now();
        for feeds in &calls {
            let slots = &mut self.slots;
            engine.decode(feeds, &mut |fi, _, row| {
                if let Some(s) = slots[feeds[fi].seq].as_mut() {
                    s.logits.clear();
                    s.logits.extend_from_slice(row);
                }
            })?;
        }
        let decode_secs = t0.elapsed().as_secs_f64();
        let mut finished = Vec::new();
        let mut done = Vec::new();
        for (slot, entry) in self.slots.iter_mut().enumerate() {
            let Some(s) = entry.as_mut() else {
                continue;
            };
            if !s.prefilled {
                s.prefilled = true;
                if s.prompt_logits.is_none() {
                    // Kept before the sampler edits them, for a later request with this prompt.
                    s.prompt_logits = Some(s.logits.clone());
                    s.seq.prefilled(decode_secs);
                } else {
                    s.seq.prompt_reused();
                }
            }
            let step = s.seq.step(&*engine, &mut s.logits)?;
            let ready = s.seq.take_text();
            if !ready.is_empty() {
                text(slot, &ready);
            }
            match step {
                Step::Feed(token) => s.pending = vec![token],
                Step::Rewind { drop, then } => {
                    // A rewind into the prompt feeds its last token again, alone: that cell
                    // is no longer the prefill's, so the prompt cannot be kept.
                    if engine.sequence_position(slot).saturating_sub(drop) < s.seq.prompt().len() {
                        s.prompt_logits = None;
                    }
                    engine.rewind_sequence(slot, drop)?;
                    s.pending = vec![then];
                }
                Step::Done(_) => done.push(slot),
            }
        }
        for slot in done {
            let s = self.slots[slot].take().expect("slot is running");
            finished.push((slot, self.release(engine, slot, s)?));
        }
        Ok(finished)
    }
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
/// let options = EngineOptions::default().with_sequences(4).with_context_size(512);
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
    let mut batch = Batch::new(engine.sequences());
    let mut request_of = vec![0usize; engine.sequences()];
    let mut finished = 0usize;
    let mut kept = 0usize;
    let mut done = |index: usize, out: BatchOutput, results: &mut Vec<Option<BatchOutput>>| {
        kept += out.generation.tokens.len();
        results[index] = Some(out);
        finished += 1;
        progress(finished);
    };
    loop {
        while batch.has_room() {
            let Some((index, request)) = queue.next() else {
                break;
            };
            let seq = Sequence::new(&*engine, &request.prompt, request.guard, request.options)?;
            let slot = batch.join(engine, seq)?;
            request_of[slot] = index;
        }
        if batch.is_empty() {
            break;
        }
        if cancel.load(Ordering::Relaxed) {
            for (slot, &index) in request_of.iter().enumerate() {
                if let Some(out) = batch.leave(engine, slot)? {
                    done(index, out, &mut results);
                }
            }
            continue;
        }
        for (slot, out) in batch.step(engine, &mut |_, _| {})? {
            done(request_of[slot], out, &mut results);
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
