//! Tracing what a guard does to the logits, step by step, for people who study it.
//!
//! [`Traced`] wraps any [`LogitsGuard`] and records, at every `apply`, the leading candidates
//! with their logit and their probability before and after the edit (softmax at temperature
//! 1), and at every `advance` the token chosen; `rollback` is recorded too, so the trace of a
//! backtracking run can be replayed. Since it sits behind the same trait, a generation loop
//! runs it unchanged.

use crate::guard_api::{Applied, LogitsGuard, RollbackError, Violation};
use crate::logits::softmax;
use crate::vocab::TokenId;

/// What the edit did to one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditKind {
    /// Untouched.
    Kept,
    /// Set to `-inf`.
    Masked,
    /// Lowered by a finite penalty.
    Penalized,
}

/// One candidate token at one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The token.
    pub token: TokenId,
    /// Its logit before the edit.
    pub logit: f32,
    /// Its probability before the edit.
    pub p_before: f32,
    /// Its probability after the edit (0 exactly when masked).
    pub p_after: f32,
    /// What the edit did to it.
    pub edit: EditKind,
}

/// One `apply` and the `advance` that followed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Output position (tokens advanced before this step).
    pub position: usize,
    /// The `k` most likely tokens before the edit, then any others among the `k` most likely
    /// after it, by probability before the edit.
    pub candidates: Vec<Candidate>,
    /// What `apply` reported.
    pub applied: Applied,
    /// Sum of all probabilities after the edit (1 up to rounding, unless everything was
    /// masked).
    pub p_after_sum: f32,
    /// The token chosen (`None` if generation stopped before choosing).
    pub chosen: Option<Candidate>,
    /// The chosen token completed a banned match.
    pub violation: bool,
}

/// A trace event.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// An `apply`, and the `advance` that followed.
    Step(Step),
    /// A rollback of this many tokens.
    Rewind(usize),
}

/// A guard that records what the guard it wraps does.
///
/// ```
/// use std::sync::Arc;
/// use taboo::trace::{EditKind, Event, Traced};
/// use taboo::{Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, Vocabulary};
/// let mut b = Vocabulary::builder();
/// let (cat, dot) = (b.text(" cat"), b.text("."));
/// let list = BanList::from_words(["cat"], EntryOptions::default())?;
/// let table = Arc::new(MaskTable::new(Arc::new(Automaton::compile(&list)?), Arc::new(b.build())));
/// let mut traced = Traced::new(Guard::new(table, GuardConfig::default()), 5);
/// traced.advance(cat).unwrap();
/// let mut logits = vec![0.0, 1.0];
/// traced.apply(&mut logits);
/// let Event::Step(step) = &traced.events()[0] else { panic!() };
/// assert_eq!(step.candidates[0].token, dot);
/// assert_eq!(step.candidates[0].edit, EditKind::Masked);
/// assert_eq!(step.candidates[0].p_after, 0.0);
/// # Ok::<(), taboo::BanError>(())
/// ```
pub struct Traced<G> {
    inner: G,
    k: usize,
    events: Vec<Event>,
    /// Probabilities after the last edit, to fill in the chosen token.
    last_after: Vec<f32>,
    last_before: Vec<f32>,
    last_logits: Vec<f32>,
    last_edited: Vec<f32>,
    open_step: bool,
}

impl<G: LogitsGuard> Traced<G> {
    /// Wraps `inner`, keeping the `k` leading candidates per step.
    pub fn new(inner: G, k: usize) -> Traced<G> {
        Traced {
            inner,
            k,
            events: Vec::new(),
            last_after: Vec::new(),
            last_before: Vec::new(),
            last_logits: Vec::new(),
            last_edited: Vec::new(),
            open_step: false,
        }
    }

    /// The events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The wrapped guard.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    /// Unwraps into the guard and the events.
    pub fn into_parts(self) -> (G, Vec<Event>) {
        (self.inner, self.events)
    }

    fn candidate(&self, t: TokenId) -> Candidate {
        let i = t as usize;
        let before = self
            .last_logits
            .get(i)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        let after = self
            .last_edited
            .get(i)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        let edit = if after == before {
            EditKind::Kept
        } else if after == f32::NEG_INFINITY {
            EditKind::Masked
        } else {
            EditKind::Penalized
        };
        Candidate {
            token: t,
            logit: before,
            p_before: self.last_before.get(i).copied().unwrap_or(0.0),
            p_after: self.last_after.get(i).copied().unwrap_or(0.0),
            edit,
        }
    }
}

fn top_k(p: &[f32], k: usize) -> Vec<TokenId> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    idx.select_nth_unstable_by(k - 1, |&a, &b| p[b].total_cmp(&p[a]));
    idx.truncate(k);
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    idx.into_iter().map(|i| i as TokenId).collect()
}

impl<G: LogitsGuard> LogitsGuard for Traced<G> {
    fn prime(&mut self, text: &[u8]) {
        self.inner.prime(text);
    }

    fn prime_tokens(&mut self, tokens: &[TokenId]) {
        self.inner.prime_tokens(tokens);
    }

    fn apply(&mut self, logits: &mut [f32]) -> Applied {
        self.record(logits, false)
    }

    fn apply_final(&mut self, logits: &mut [f32]) -> Applied {
        self.record(logits, true)
    }

    fn advance(&mut self, token: TokenId) -> Result<(), Violation> {
        let result = self.inner.advance(token);
        if self.open_step {
            let chosen = self.candidate(token);
            if let Some(Event::Step(step)) = self.events.last_mut() {
                step.chosen = Some(chosen);
                step.violation = result.is_err();
            }
            self.open_step = false;
        }
        result
    }

    fn rollback(&mut self, n: usize) -> Result<(), RollbackError> {
        let result = self.inner.rollback(n);
        if result.is_ok() {
            self.events.push(Event::Rewind(n));
            self.open_step = false;
        }
        result
    }

    fn position(&self) -> usize {
        self.inner.position()
    }

    fn open_since(&self) -> Option<usize> {
        self.inner.open_since()
    }

    fn ends_in_match(&self) -> bool {
        self.inner.ends_in_match()
    }
}

impl<G: LogitsGuard> Traced<G> {
    fn record(&mut self, logits: &mut [f32], last: bool) -> Applied {
        self.last_logits = logits.to_vec();
        let applied = if last {
            self.inner.apply_final(logits)
        } else {
            self.inner.apply(logits)
        };
        self.last_edited = logits.to_vec();
        self.last_before = softmax(&self.last_logits);
        self.last_after = softmax(logits);
        let mut ids = top_k(&self.last_before, self.k);
        for t in top_k(&self.last_after, self.k) {
            if !ids.contains(&t) {
                ids.push(t);
            }
        }
        let candidates = ids.into_iter().map(|t| self.candidate(t)).collect();
        let p_after_sum = self.last_after.iter().map(|&p| p as f64).sum::<f64>() as f32;
        self.events.push(Event::Step(Step {
            position: self.inner.position(),
            candidates,
            applied,
            p_after_sum,
            chosen: None,
            violation: false,
        }));
        self.open_step = true;
        applied
    }
}
