//! One generation as a state machine: everything that happens between two forward passes of
//! one sequence, with the forward passes left to whoever drives it.
//!
//! A [`Sequence`] owns the per-sequence half of generation — the ban guard, the sampler,
//! backtracking, stop strings, the token limit and the streaming holdback — and never touches
//! a model. Its driver feeds the model and hands each step's logits over; the sequence edits
//! them, samples, and says what the model must do next:
//!
//! ```text
//!  driver                                   Sequence
//!  feed(prompt) ──logits──────────────────► step ─┬─ Step::Feed(token)          append one token
//!  feed(token)  ──logits──────────────────► step ─┼─ Step::Rewind{drop, then}   drop n tokens, append one
//!  …                                              └─ Step::Done(reason)         finish()
//!                         take_text() after any step: text that can no longer change
//! ```
//!
//! [`crate::generate`] drives one sequence on an [`crate::Engine`]; [`crate::Batch`] drives
//! many in one llama.cpp batch, letting them join and leave between steps. Because both go
//! through this one `step`, a fix to the per-token logic is made once.
//!
//! Every end of the text — end of generation, token limit, stop string, dead end, interrupt —
//! is a word boundary, and none may leave a banned word complete or a character half
//! written:
//! - the token limit: the last step uses [`LogitsGuard::apply_final`];
//! - a stop string: if cutting the text there would leave a banned word complete (a stop
//!   that starts with a letter can cut "cats" into "cat"), the text ends before that word;
//! - a dead end and an interrupt: the open partial match, held back from the stream, is
//!   dropped;
//! - bytes of a character that never got its last byte are dropped, not printed as U+FFFD.

use std::time::Instant;

use taboo::{LogitsGuard, TokenId};

use crate::backtrack::Backtracker;
use crate::batch::BatchOutput;
use crate::engine::{Engine, TokenPiece, TokenText};
use crate::generate::{prompt_tokens, FinishReason, GenerateOptions, Generation, Stats};
use crate::sample::Sampler;
use crate::stream::TextStream;
use crate::{Error, Result};

/// How many prompt tokens' worth of text primes the guard: enough for any banned phrase to
/// straddle the boundary, few enough to cost nothing.
const PRIME_TOKENS: usize = 32;

/// What the driver must do after a [`Sequence::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Append `token` to the model's sequence and call [`Sequence::step`] with the logits of
    /// the next position.
    Feed(TokenId),
    /// Drop the last `drop` tokens of the model's sequence, append `then`, and call
    /// [`Sequence::step`] with the logits of the next position (a backtracking rewind; the
    /// token fed again is the one before the rewind point, whose logits the model does not
    /// keep).
    Rewind {
        /// Tokens to drop from the end of the model's sequence.
        drop: usize,
        /// The token to append after dropping.
        then: TokenId,
    },
    /// The generation is over: call [`Sequence::finish`].
    Done(FinishReason),
}

/// One generation's state between forward passes. See the [module docs](self).
///
/// ```no_run
/// use taboo_llm::{Engine, EngineOptions, GenerateOptions, LlamaEngine, Sequence, Step};
/// let mut engine = LlamaEngine::load("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref(),
///                                    &EngineOptions::default())?;
/// let mut seq = Sequence::new(&engine, "Name a fruit.", None, GenerateOptions::default())?;
/// engine.reset()?;
/// let mut logits = engine.feed(seq.prompt())?.to_vec();
/// loop {
///     let step = seq.step(&engine, &mut logits)?;
///     print!("{}", seq.take_text());
///     match step {
///         Step::Feed(t) => logits = engine.feed(&[t])?.to_vec(),
///         Step::Rewind { drop, then } => {
///             engine.rewind(drop)?;
///             logits = engine.feed(&[then])?.to_vec();
///         }
///         Step::Done(_) => break,
///     }
/// }
/// print!("{}", seq.take_text());
/// println!("\n{:?}", seq.finish().generation.finish_reason);
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub struct Sequence<'g> {
    guard: Option<Box<dyn LogitsGuard + 'g>>,
    options: GenerateOptions,
    context_size: usize,
    prompt: Vec<TokenId>,
    sampler: Sampler,
    stream: TextStream,
    backtracker: Option<Backtracker>,
    tokens: Vec<TokenId>,
    /// Byte length of the text after each kept token, to take text back on a rewind.
    text_ends: Vec<usize>,
    /// Probability mass the guard removed at each kept step.
    removed: Vec<f32>,
    stats: Stats,
    guard_secs: f64,
    /// Time in the guard at each step, in µs (for the median of [`Stats`]).
    guard_steps: Vec<f32>,
    /// Tokens in the model's sequence once the driver has done what the last step asked.
    kv_len: usize,
    /// Text up to here cannot change any more; past it, a rewind or an ending may take it
    /// back.
    settled: usize,
    finished: Option<FinishReason>,
    decode_start: Option<Instant>,
}

impl<'g> Sequence<'g> {
    /// A sequence for `prompt` (chat-templated unless `options.raw`), tokenized and checked
    /// against the context by `engine`; the guard is primed with the prompt's tail. Sampling
    /// and backtracking settings out of range are an error here
    /// ([`crate::SamplingConfig::validate`], [`crate::Backtrack::validate`]).
    pub fn new(
        engine: &dyn Engine,
        prompt: &str,
        guard: Option<Box<dyn LogitsGuard + 'g>>,
        options: GenerateOptions,
    ) -> Result<Sequence<'g>> {
        options.sampling.validate()?;
        if let Some(b) = &options.backtrack {
            b.validate()?;
        }
        let tokens = prompt_tokens(engine, prompt, options.raw)?;
        Ok(Sequence::from_tokens(
            engine,
            tokens,
            engine.context_size(),
            guard,
            options,
        ))
    }

    /// A sequence for an already tokenized prompt, in a model sequence of `context_size`
    /// tokens. The guard is primed with the text of the prompt's last tokens (so a word that
    /// straddles the prompt/output boundary is seen) and, for token-id guards, the tokens.
    pub fn from_tokens<T: TokenText + ?Sized>(
        text: &T,
        prompt: Vec<TokenId>,
        context_size: usize,
        mut guard: Option<Box<dyn LogitsGuard + 'g>>,
        options: GenerateOptions,
    ) -> Sequence<'g> {
        if let Some(g) = guard.as_deref_mut() {
            let mut tail = Vec::new();
            for &t in &prompt[prompt.len().saturating_sub(PRIME_TOKENS)..] {
                if let TokenPiece::Text(b) = text.token_piece(t) {
                    tail.extend_from_slice(&b);
                }
            }
            g.prime(&tail);
            g.prime_tokens(&prompt);
        }
        Sequence {
            guard,
            sampler: Sampler::new(options.sampling.clone()),
            stream: TextStream::new(&options.stop),
            backtracker: options.backtrack.clone().map(Backtracker::new),
            stats: Stats {
                prompt_tokens: prompt.len(),
                ..Stats::default()
            },
            context_size,
            kv_len: prompt.len(),
            prompt,
            options,
            tokens: Vec::new(),
            text_ends: Vec::new(),
            removed: Vec::new(),
            guard_secs: 0.0,
            guard_steps: Vec::new(),
            settled: 0,
            finished: None,
            decode_start: None,
        }
    }

    /// The prompt's tokens: what the driver feeds first.
    pub fn prompt(&self) -> &[TokenId] {
        &self.prompt
    }

    /// The tokens kept so far.
    pub fn tokens(&self) -> &[TokenId] {
        &self.tokens
    }

    /// Why it ended, once it has.
    pub fn finished(&self) -> Option<FinishReason> {
        self.finished
    }

    /// Tells the sequence how long the driver took to feed the prompt (for
    /// `prompt_tokens_per_second`); the generation's own clock starts now.
    pub fn prefilled(&mut self, seconds: f64) {
        if seconds > 0.0 {
            self.stats.prompt_tokens_per_second = self.prompt.len() as f64 / seconds;
        }
        self.decode_start = Some(Instant::now());
    }

    /// The prompt's KV cells and the logits after it were kept from an earlier request with
    /// the same prompt (see [`crate::Batch`]): nothing was prefilled. Counted in
    /// [`Stats::cached_prompt_tokens`].
    pub fn prompt_reused(&mut self) {
        self.stats.cached_prompt_tokens = self.prompt.len();
        self.decode_start = Some(Instant::now());
    }

    /// One step, with `logits` the model's scores for the next position (edited in place).
    /// Returns what the model must do next.
    pub fn step<T: TokenText + ?Sized>(&mut self, text: &T, logits: &mut [f32]) -> Result<Step> {
        if let Some(reason) = self.finished {
            return Ok(Step::Done(reason));
        }
        self.decode_start.get_or_insert_with(Instant::now);
        if self.tokens.len() >= self.options.max_tokens || self.kv_len >= self.context_size {
            return Ok(self.done(FinishReason::Length));
        }
        let step = self.tokens.len();
        let t0 = Instant::now();
        let mut mass_left = 1.0f32;
        let mut removed = 0.0f32;
        // The text ends after the last token the limit allows, so a banned word must not be
        // left complete there either: the same rule as for the end-of-generation token.
        let last = step + 1 >= self.options.max_tokens || self.kv_len + 1 >= self.context_size;
        if let Some(g) = self.guard.as_deref_mut() {
            let applied = if last {
                g.apply_final(logits)
            } else {
                g.apply(logits)
            };
            if applied.forbidden + applied.penalized > 0 {
                self.stats.masked_steps += 1;
                self.stats.removed_mass += f64::from(applied.removed_mass);
                mass_left = 1.0 - applied.removed_mass;
                removed = applied.removed_mass;
            }
        }
        let applied_secs = t0.elapsed().as_secs_f64();
        self.guard_secs += applied_secs;
        if let (Some(bt), Some(g)) = (self.backtracker.as_mut(), self.guard.as_deref_mut()) {
            if let Some(at) = bt.dead_end(g.open_since(), mass_left, step) {
                self.guard_steps.push((applied_secs * 1e6) as f32);
                let (drop, then) = bt.take_back(g, &self.prompt, &mut self.tokens, at)?;
                self.truncate_text(at);
                self.kv_len = self.kv_len - drop + 1;
                return Ok(Step::Rewind { drop, then });
            }
            bt.forbid(step, logits);
        }
        let Some(token) = self.sampler.sample(logits, &self.tokens) else {
            // Cornered: every continuation completes a banned word (e.g. "Tokyo" + the first
            // byte of a character that can only be punctuation). The open partial match was
            // held back from the stream, so it can be dropped: the text ends before it.
            self.drop_open_match();
            return Ok(self.done(FinishReason::DeadEnd));
        };
        let t1 = Instant::now();
        if let Some(g) = self.guard.as_deref_mut() {
            if g.advance(token).is_err() {
                self.stats.violations += 1;
            }
        }
        let advanced_secs = t1.elapsed().as_secs_f64();
        self.guard_secs += advanced_secs;
        if self.guard.is_some() {
            self.guard_steps
                .push(((applied_secs + advanced_secs) * 1e6) as f32);
        }
        self.tokens.push(token);
        self.removed.push(removed);
        if let Some(bt) = self.backtracker.as_mut() {
            bt.kept(step);
        }
        if text.is_end_of_generation(token) {
            self.text_ends.push(self.stream.bytes().len());
            return Ok(self.done(FinishReason::Eos));
        }
        let mut stop_at = None;
        if let TokenPiece::Text(piece) = text.token_piece(token) {
            stop_at = self.stream.push(&piece);
        }
        if let Some(cut) = stop_at {
            self.end_at_stop(cut);
            return Ok(self.done(FinishReason::Stop));
        }
        self.text_ends.push(self.stream.bytes().len());
        // Only the open partial match can still be taken back by a rewind or an ending;
        // the text before the token that opened it is final.
        self.settled = match self.guard.as_deref().and_then(|g| g.open_since()) {
            Some(0) => 0,
            Some(at) => self.text_ends[at - 1],
            None => self.stream.bytes().len(),
        };
        if self.tokens.len() >= self.options.max_tokens {
            return Ok(self.done(FinishReason::Length));
        }
        self.kv_len += 1;
        Ok(Step::Feed(token))
    }

    /// Ends the generation now (Ctrl-C, a client gone): the open partial match, never
    /// printed, is dropped, so the text does not end on a banned word.
    pub fn interrupt(&mut self) -> FinishReason {
        if let Some(reason) = self.finished {
            return reason;
        }
        self.drop_open_match();
        self.done(FinishReason::Interrupted);
        FinishReason::Interrupted
    }

    /// Text that has become final since the last call: everything before the open partial
    /// match (and any possible start of a stop string), or, once finished, all the rest.
    pub fn take_text(&mut self) -> String {
        if self.finished.is_some() {
            self.stream.finish()
        } else {
            self.stream.ready_up_to(self.settled)
        }
    }

    /// The result. Call after [`Step::Done`] (or [`Sequence::interrupt`]); called earlier,
    /// the generation is taken as interrupted.
    pub fn finish(mut self) -> BatchOutput {
        let finish = self.interrupt();
        let mut stats = self.stats;
        stats.generated_tokens = self.tokens.len();
        if let Some(bt) = &self.backtracker {
            stats.backtracks = bt.backtracks();
            stats.rewound_tokens = bt.rewound_tokens();
        }
        if let Some(start) = self.decode_start {
            let secs = start.elapsed().as_secs_f64();
            if secs > 0.0 {
                stats.tokens_per_second = self.tokens.len() as f64 / secs;
            }
        }
        if !self.tokens.is_empty() {
            stats.guard_us_per_token = self.guard_secs * 1e6 / self.tokens.len() as f64;
        }
        if !self.guard_steps.is_empty() {
            let mid = self.guard_steps.len() / 2;
            let (_, m, _) = self.guard_steps.select_nth_unstable_by(mid, f32::total_cmp);
            stats.guard_us_median = f64::from(*m);
        }
        BatchOutput {
            generation: Generation {
                text: self.stream.text(),
                tokens: self.tokens,
                finish_reason: finish,
                stats,
            },
            removed_mass: self.removed,
        }
    }

    fn done(&mut self, reason: FinishReason) -> Step {
        self.finished = Some(reason);
        Step::Done(reason)
    }

    /// Forgets the kept tokens from position `at` on, and their text.
    fn truncate_text(&mut self, at: usize) {
        self.tokens.truncate(at);
        self.text_ends.truncate(at);
        self.removed.truncate(at);
        self.stream
            .truncate(self.text_ends.last().copied().unwrap_or(0));
    }

    /// Drops the banned match now partially written, if the guard can say where it began.
    fn drop_open_match(&mut self) {
        if let Some(at) = self.guard.as_deref().and_then(|g| g.open_since()) {
            self.truncate_text(at);
        }
    }

    /// A stop string was found and the text cut at byte `cut`. The end of the text is a word
    /// boundary, so if the cut leaves a banned word complete ("cats" cut by the stop "s"),
    /// the text ends before that word instead.
    fn end_at_stop(&mut self, cut: usize) {
        let Some(g) = self.guard.as_deref_mut() else {
            self.text_ends.push(cut);
            return;
        };
        // Tokens whose text lies wholly before the cut; the rest were cut (the current token,
        // and earlier ones when the stop string spans several tokens).
        let whole = self.text_ends.partition_point(|&end| end <= cut);
        let cut_tokens = self.tokens.len() - whole;
        if g.rollback(cut_tokens).is_err() {
            // A stop string longer than the guard's history: drop everything after the
            // tokens that can be checked rather than end on an unchecked word.
            self.truncate_text(whole);
            return;
        }
        let opened = g.open_since().unwrap_or(whole);
        let start = match whole {
            0 => 0,
            w => self.text_ends[w - 1],
        };
        g.prime(&self.stream.bytes()[start..cut]);
        if g.ends_in_match() {
            self.truncate_text(opened.min(whole));
        } else {
            self.text_ends.push(cut);
        }
    }
}

/// Feeds a prompt in pieces of at most `chunk` tokens, polling `cancel` between them, and
/// returns the logits after the last piece, or `None` when cancelled first.
pub(crate) fn feed_prompt<'e>(
    engine: &'e mut dyn Engine,
    prompt: &[TokenId],
    chunk: usize,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Option<&'e [f32]>> {
    let pieces: Vec<&[TokenId]> = prompt.chunks(chunk.max(1)).collect();
    let Some((last, before)) = pieces.split_last() else {
        return Err(Error::Decode("the prompt is empty".into()));
    };
    for piece in before {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(None);
        }
        engine.feed(piece)?;
    }
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(None);
    }
    engine.feed(last).map(Some)
}
