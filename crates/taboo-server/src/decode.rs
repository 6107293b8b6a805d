//! The decode thread: the one thread that owns the model and the running [`Batch`].
//!
//! llama.cpp's context is not `Sync`, and one decode call per step serves every running
//! request, so the model lives on a thread of its own and the HTTP side talks to it through
//! channels:
//!
//! ```text
//!  handler ──Command::Submit(Job)──► decode thread: template + tokenize + check ─► Event::Accepted | Failed
//!                                    waiting queue ──join when a slot is free──► Batch
//!  handler ◄──Event::Text(final text)── Batch::step (one decode for all, one step each)
//!  handler ◄──Event::Done(output)────── finished sequence; its slot takes the next waiting job
//!  handler gone (receiver dropped) ───► Batch::leave at the next step: the slot is free
//! ```
//!
//! Between two steps the thread takes new commands without blocking, so requests join and
//! leave the running batch continuously; with nothing to do it sleeps on the channel.
//!
//! The queue is first come, first served, with one exception: a waiting request whose exact
//! prompt a free slot still holds starts first, with no prefill (`Batch::keeps_prompt`),
//! looking at most one batch deep and never passing any request more than one batch's worth
//! of times ([`pick_next`]). Under the load test this raised the share of prompt tokens not
//! prefilled from 14% to 50–59% (docs/SERVER.md).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

use taboo::{Guard, LogitsGuard, MaskTable, TokenId, Vocabulary};
use taboo_llm::{
    Backtrack, Batch, BatchEngine, BatchOutput, GenerateOptions, SamplingConfig, Sequence,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::bans::{BanMode, RequestGuard};
use crate::error::ApiError;

/// What a request asks the model for.
#[derive(Clone, Debug)]
pub enum Prompt {
    /// A conversation, `(role, content)` in order, formatted with the model's chat template.
    Chat(Vec<(String, String)>),
    /// Plain text to continue.
    Text(String),
}

/// One request, ready for the decode thread: its ban already compiled.
pub struct Job {
    /// What to generate from.
    pub prompt: Prompt,
    /// Most tokens to generate; `None`: up to the end of the context.
    pub max_tokens: Option<usize>,
    /// Temperature, top-p, seed.
    pub sampling: SamplingConfig,
    /// Stop strings.
    pub stop: Vec<String>,
    /// The compiled ban (server-wide and the request's), or `None` when nothing is banned.
    pub table: Option<Arc<MaskTable>>,
    /// How the ban is enforced.
    pub mode: BanMode,
    /// Added to the logits before the ban guard.
    pub logit_bias: Vec<(TokenId, f32)>,
    /// Where the request's events go; dropped by the HTTP side when the client is gone.
    pub events: UnboundedSender<Event>,
    /// Holds the request's place in the server's admission count until the job ends
    /// (never read: dropping the job gives the place back).
    #[allow(dead_code)]
    pub ticket: Ticket,
}

/// What the decode thread tells a request's handler.
#[derive(Debug)]
pub enum Event {
    /// The prompt fits: it is queued or running.
    Accepted {
        /// Prompt length in tokens, after templating.
        prompt_tokens: usize,
    },
    /// Text that is final: no rewind or ending will take it back.
    Text(String),
    /// The generation is over.
    Done(Box<BatchOutput>),
    /// The request cannot be served.
    Failed(ApiError),
}

/// What the HTTP side tells the decode thread.
pub enum Command {
    /// Run a request.
    Submit(Box<Job>),
    /// Stop: interrupt running requests (they finish with what they have), refuse waiting
    /// ones, and end the thread.
    Shutdown,
}

/// Counters shared by the decode thread and the HTTP side (`GET /health` shows them).
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests admitted and not yet ended (compiling their ban, queued or running).
    pub in_flight: AtomicUsize,
    /// Requests in the decode thread's waiting queue.
    pub queued: AtomicUsize,
    /// Requests in the running batch.
    pub running: AtomicUsize,
    /// Requests that finished generating.
    pub completed: AtomicU64,
    /// Requests whose client left before the end; their slot was freed.
    pub disconnected: AtomicU64,
    /// Requests refused with 503 because every slot and queue place was taken.
    pub refused: AtomicU64,
}

/// A request's place in [`Counters::in_flight`], given back when dropped.
#[derive(Debug)]
pub struct Ticket(Arc<Counters>);

impl Ticket {
    /// Takes a place if fewer than `limit` requests are in flight.
    pub fn take(counters: &Arc<Counters>, limit: usize) -> Option<Ticket> {
        counters
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Ticket(Arc::clone(counters)))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the HTTP side needs to know about the loaded model.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// The model's vocabulary, for compiling bans.
    pub vocab: Arc<Vocabulary>,
    /// Tokens of context per sequence.
    pub context_size: usize,
    /// Sequences decoded together (`--parallel`).
    pub slots: usize,
}

/// The running decode thread.
pub struct DecodeThread {
    /// Where commands go.
    pub commands: Sender<Command>,
    /// The model it loaded.
    pub info: ModelInfo,
    /// The thread, to join at shutdown.
    pub handle: JoinHandle<()>,
}

/// Starts the decode thread: it loads the model with `load` (on itself, so the engine never
/// crosses threads) and returns once the model and its vocabulary are ready.
pub fn spawn<E, F>(
    load: F,
    backtrack: Backtrack,
    counters: Arc<Counters>,
) -> Result<DecodeThread, taboo_llm::Error>
where
    E: BatchEngine + 'static,
    F: FnOnce() -> taboo_llm::Result<E> + Send + 'static,
{
    let (commands, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("taboo-decode".into())
        .spawn(move || {
            let mut engine = match load() {
                Ok(engine) => engine,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let info = ModelInfo {
                vocab: Arc::new(taboo_llm::vocabulary_from_engine(&engine)),
                context_size: engine.context_size(),
                slots: engine.sequences(),
            };
            if ready_tx.send(Ok(info)).is_err() {
                return;
            }
            Decoder {
                batch: Batch::new(engine.sequences()),
                slots: (0..engine.sequences()).map(|_| None).collect(),
                waiting: VecDeque::new(),
                backtrack,
                counters,
            }
            .run(&mut engine, rx);
        })
        .map_err(|e| taboo_llm::Error::Context(format!("cannot start the decode thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(info)) => Ok(DecodeThread {
            commands,
            info,
            handle,
        }),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(taboo_llm::Error::Context(
                "the decode thread stopped while loading the model".into(),
            ))
        }
    }
}

/// Which of the waiting requests, given as (times passed over, whether a free slot keeps its
/// prompt) in queue order, starts next: the first one within `depth` whose prompt is kept,
/// unless a request before it has been passed over `depth` times already; else the first.
fn pick_next(queue: impl Iterator<Item = (usize, bool)>, depth: usize) -> usize {
    for (i, (passed, kept)) in queue.take(depth).enumerate() {
        if kept {
            return i;
        }
        if passed >= depth {
            break;
        }
    }
    0
}

/// A request accepted and waiting for a slot.
struct Waiting {
    job: Box<Job>,
    tokens: Vec<TokenId>,
    max_tokens: usize,
    /// Later requests that started before this one (see [`Decoder::next_waiting`]).
    passed: usize,
}

struct Decoder {
    batch: Batch<'static>,
    /// The job in each slot of the batch.
    slots: Vec<Option<Box<Job>>>,
    waiting: VecDeque<Waiting>,
    backtrack: Backtrack,
    counters: Arc<Counters>,
}

impl Decoder {
    fn run<E: BatchEngine>(mut self, engine: &mut E, rx: Receiver<Command>) {
        loop {
            let mut stop = false;
            if self.batch.is_empty() && self.waiting.is_empty() {
                self.publish();
                match rx.recv() {
                    Ok(cmd) => stop |= self.command(engine, cmd),
                    Err(_) => stop = true,
                }
            }
            loop {
                match rx.try_recv() {
                    Ok(cmd) => stop |= self.command(engine, cmd),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        stop = true;
                        break;
                    }
                }
            }
            if stop {
                self.shut_down(engine);
                return;
            }
            self.drop_departed(engine);
            self.fill(engine);
            self.publish();
            if self.batch.is_empty() {
                continue;
            }
            self.step(engine);
        }
    }

    /// Handles one command; true for shutdown.
    fn command<E: BatchEngine>(&mut self, engine: &E, cmd: Command) -> bool {
        let job = match cmd {
            Command::Shutdown => return true,
            Command::Submit(job) => job,
        };
        match check(engine, &job) {
            Ok((tokens, max_tokens)) => {
                let accepted = Event::Accepted {
                    prompt_tokens: tokens.len(),
                };
                if job.events.send(accepted).is_ok() {
                    self.waiting.push_back(Waiting {
                        job,
                        tokens,
                        max_tokens,
                        passed: 0,
                    });
                }
            }
            Err(e) => {
                let _ = job.events.send(Event::Failed(e));
            }
        }
        false
    }

    /// Frees the slots (and queue places) of clients that left.
    fn drop_departed<E: BatchEngine>(&mut self, engine: &mut E) {
        // Counted before the job (and its ticket) is dropped, so that whoever sees the
        // request gone from `in_flight` sees it counted.
        let counters = &self.counters;
        self.waiting.retain(|w| {
            let gone = w.job.events.is_closed();
            if gone {
                counters.disconnected.fetch_add(1, Ordering::AcqRel);
            }
            !gone
        });
        for slot in 0..self.slots.len() {
            if self.slots[slot]
                .as_ref()
                .is_some_and(|job| job.events.is_closed())
            {
                self.counters.disconnected.fetch_add(1, Ordering::AcqRel);
                // Nobody reads the output; the slot is what matters.
                let _ = self.batch.leave(engine, slot);
                self.slots[slot] = None;
            }
        }
    }

    /// The waiting request to start next: first come, first served, except that a request
    /// whose prompt a free slot still holds (it starts with no prefill, see
    /// `taboo_llm::Batch`) may go first — looking at most one batch deep into the queue,
    /// and never past a request that has already been passed over that many times, so no
    /// request waits for more than one batch's worth of later ones.
    fn next_waiting(&mut self) -> Option<Waiting> {
        let depth = self.slots.len();
        let batch = &self.batch;
        let pick = pick_next(
            self.waiting
                .iter()
                .map(|w| (w.passed, batch.keeps_prompt(&w.tokens))),
            depth,
        );
        for w in self.waiting.iter_mut().take(pick) {
            w.passed += 1;
        }
        self.waiting.remove(pick)
    }

    /// Moves waiting requests into free slots.
    fn fill<E: BatchEngine>(&mut self, engine: &mut E) {
        while self.batch.has_room() {
            let Some(w) = self.next_waiting() else {
                break;
            };
            let job = w.job;
            let guard = RequestGuard::new(
                job.logit_bias.clone(),
                job.table
                    .as_ref()
                    .map(|t| Guard::new(Arc::clone(t), job.mode.guard_config())),
            )
            .map(|g| Box::new(g) as Box<dyn LogitsGuard>);
            let options = GenerateOptions::default()
                .with_sampling(job.sampling.clone())
                .with_max_tokens(w.max_tokens)
                .with_stop(job.stop.clone())
                .with_raw(true)
                .with_backtrack(
                    (job.mode == BanMode::Backtrack && job.table.is_some())
                        .then(|| self.backtrack.clone()),
                );
            let seq =
                Sequence::from_tokens(&*engine, w.tokens, engine.context_size(), guard, options);
            match self.batch.join(engine, seq) {
                Ok(slot) => self.slots[slot] = Some(job),
                Err(e) => {
                    let _ = job.events.send(Event::Failed(ApiError::internal(format!(
                        "could not start the generation: {e}"
                    ))));
                }
            }
        }
    }

    fn publish(&self) {
        self.counters
            .queued
            .store(self.waiting.len(), Ordering::Relaxed);
        self.counters
            .running
            .store(self.batch.running(), Ordering::Relaxed);
    }

    /// One decode for the whole batch and one step for each sequence.
    fn step<E: BatchEngine>(&mut self, engine: &mut E) {
        let slots = &self.slots;
        let result = self.batch.step(engine, &mut |slot, text| {
            if let Some(job) = &slots[slot] {
                let _ = job.events.send(Event::Text(text.to_string()));
            }
        });
        match result {
            Ok(finished) => {
                for (slot, out) in finished {
                    if let Some(job) = self.slots[slot].take() {
                        // Counted before the client can hear of it.
                        self.counters.completed.fetch_add(1, Ordering::AcqRel);
                        let _ = job.events.send(Event::Done(Box::new(out)));
                    }
                }
            }
            Err(e) => {
                // A failed decode leaves the model sequences in an unknown state: end every
                // running request with the error and start clean.
                for slot in 0..self.slots.len() {
                    let _ = self.batch.leave(engine, slot);
                    if let Some(job) = self.slots[slot].take() {
                        let _ = job.events.send(Event::Failed(ApiError::internal(format!(
                            "decoding failed: {e}"
                        ))));
                    }
                }
            }
        }
    }

    fn shut_down<E: BatchEngine>(&mut self, engine: &mut E) {
        for slot in 0..self.slots.len() {
            let out = self.batch.leave(engine, slot);
            if let (Some(job), Ok(Some(out))) = (self.slots[slot].take(), out) {
                let _ = job.events.send(Event::Done(Box::new(out)));
            }
        }
        for w in self.waiting.drain(..) {
            let _ = w.job.events.send(Event::Failed(ApiError::unavailable(
                "the server is shutting down",
                None,
            )));
        }
        self.publish();
    }
}

/// Formats and tokenizes the prompt and checks that it and `max_tokens` fit the context.
/// Returns the prompt's tokens and the token limit.
fn check<E: BatchEngine>(engine: &E, job: &Job) -> Result<(Vec<TokenId>, usize), ApiError> {
    let (text, param) = match &job.prompt {
        Prompt::Chat(messages) => {
            let pairs: Vec<(&str, &str)> = messages
                .iter()
                .map(|(r, c)| (r.as_str(), c.as_str()))
                .collect();
            let text = engine.chat_messages(&pairs).map_err(|e| {
                ApiError::invalid(Some("messages"), format!("cannot format the chat: {e}"))
            })?;
            (text, "messages")
        }
        Prompt::Text(text) => (text.clone(), "prompt"),
    };
    let tokens = engine.tokenize(&text, true);
    if tokens.is_empty() {
        return Err(ApiError::invalid(
            Some(param),
            "the prompt is empty and the model adds no start token",
        ));
    }
    let context = engine.context_size();
    let over = |asked: usize| {
        ApiError::invalid(
            Some(param),
            format!(
                "the prompt is {} tokens and {asked} more are asked for, over the context of \
                 {context} tokens per request; shorten the prompt, lower max_tokens, or start \
                 the server with a larger --ctx-size",
                tokens.len()
            ),
        )
        .with_code("context_length_exceeded")
    };
    let max_tokens = match job.max_tokens {
        Some(m) if tokens.len() + m > context => return Err(over(m)),
        Some(m) => m,
        None if tokens.len() >= context => return Err(over(1)),
        None => context - tokens.len(),
    };
    Ok((tokens, max_tokens))
}

#[cfg(test)]
mod tests {
    use super::pick_next;
    use std::collections::VecDeque;

    #[test]
    fn a_kept_prompt_goes_first_within_one_batch() {
        assert_eq!(pick_next([(0, false), (0, false)].into_iter(), 4), 0);
        assert_eq!(pick_next([(0, false), (0, true)].into_iter(), 4), 1);
        // Beyond the look-ahead: first come, first served.
        assert_eq!(
            pick_next([(0, false), (0, false), (0, true)].into_iter(), 2),
            0
        );
        // The head has been passed over `depth` times: it goes now.
        assert_eq!(pick_next([(2, false), (0, true)].into_iter(), 2), 0);
        // So does any request before the kept one that has.
        assert_eq!(
            pick_next([(0, false), (3, false), (0, true)].into_iter(), 3),
            0
        );
        assert_eq!(pick_next(std::iter::empty(), 3), 0);
    }

    /// Against a simulated queue: whatever the pattern of kept prompts, no request is passed
    /// over more than `depth` times, and with none kept the order is first come, first served.
    #[test]
    fn no_request_is_passed_over_more_than_one_batch() {
        let depth = 4;
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for kept_share in [0u64, 1, 3, 8] {
            // (id, passed); a request's prompt is kept with probability kept_share / 8.
            let mut queue: VecDeque<(usize, usize)> = VecDeque::new();
            let mut started = Vec::new();
            for id in 0..400 {
                queue.push_back((id, 0));
                if id % 3 == 0 {
                    continue; // arrivals outpace starts for a while
                }
                let kept: Vec<bool> = queue.iter().map(|_| next() % 8 < kept_share).collect();
                let pick = pick_next(queue.iter().zip(&kept).map(|(w, &k)| (w.1, k)), depth);
                for w in queue.iter_mut().take(pick) {
                    w.1 += 1;
                    assert!(w.1 <= depth, "request {} passed over {} times", w.0, w.1);
                }
                started.push(queue.remove(pick).unwrap().0);
            }
            if kept_share == 0 {
                assert!(
                    started.windows(2).all(|p| p[0] < p[1]),
                    "FIFO without kept prompts"
                );
            }
        }
    }
}
