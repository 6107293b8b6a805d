//! The per-sequence guard: where a sequence is in the automaton, and the edit it makes to the
//! logits at each step.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::automaton::{Scratch, State};
use crate::guard_api::{Applied, LogitsGuard, RollbackError, Violation};
use crate::logits::Edit;
use crate::mask::{MaskTable, Masks};
use crate::vocab::TokenId;

/// How the guard edits logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Forbidden tokens get `-inf`: banned text has probability exactly 0.
    Hard,
    /// Logit editing: tokens that would complete a banned match — and those that bring a
    /// whole word's letters to completion (see [`Masks::pending`]) — lose `penalty`; tokens
    /// that open or extend a partial match lose `partial_penalty`. Nothing is promised.
    Soft {
        /// Subtracted from completing tokens' logits.
        penalty: f32,
        /// Subtracted from tokens that open or extend a partial match (0 to disable).
        partial_penalty: f32,
    },
}

/// Settings of a [`Guard`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GuardConfig {
    /// Hard or soft. The default is [`Mode::Hard`].
    pub mode: Mode,
    /// How many tokens [`LogitsGuard::rollback`] can undo. The default is 64.
    pub max_rollback: usize,
    /// Compute [`Applied::removed_mass`] (one softmax pass over the logits per step). On by
    /// default.
    pub measure_mass: bool,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            mode: Mode::Hard,
            max_rollback: 64,
            measure_mass: true,
        }
    }
}

/// The ban guard of one sequence. Cheap to create and clone; the heavy parts live in the
/// shared [`MaskTable`].
///
/// ```
/// use std::sync::Arc;
/// use taboo::{Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, Vocabulary};
/// let mut b = Vocabulary::builder();
/// let (cat, dot, s) = (b.text(" cat"), b.text("."), b.text("s"));
/// let list = BanList::from_words(["cat"], EntryOptions::default())?;
/// let table = Arc::new(MaskTable::new(Arc::new(Automaton::compile(&list)?), Arc::new(b.build())));
/// let mut guard = Guard::new(table, GuardConfig::default());
/// guard.advance(cat).unwrap();                  // " cat" could still become " cats"
/// let mut logits = vec![0.0; 3];
/// let applied = guard.apply(&mut logits);
/// assert_eq!(logits[dot as usize], f32::NEG_INFINITY); // but " cat." is banned
/// assert_eq!(logits[cat as usize], f32::NEG_INFINITY); // so is " cat cat"
/// assert_eq!(logits[s as usize], 0.0);                  // " cats" is another word
/// assert!((applied.removed_mass - 2.0 / 3.0).abs() < 1e-6);
/// assert!(guard.advance(dot).is_err());         // advancing anyway is a violation
/// # Ok::<(), taboo::BanError>(())
/// ```
pub struct Guard {
    table: Arc<MaskTable>,
    config: GuardConfig,
    state: State,
    history: VecDeque<State>,
    position: usize,
    scratch: Scratch,
}

impl Clone for Guard {
    fn clone(&self) -> Guard {
        Guard {
            table: Arc::clone(&self.table),
            config: self.config,
            state: self.state.clone(),
            history: self.history.clone(),
            position: self.position,
            scratch: Scratch::default(),
        }
    }
}

impl Guard {
    /// A guard at the start of a text.
    pub fn new(table: Arc<MaskTable>, config: GuardConfig) -> Guard {
        let state = table.automaton().start();
        Guard {
            table,
            config,
            state,
            history: VecDeque::new(),
            position: 0,
            scratch: Scratch::default(),
        }
    }

    /// The current automaton state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The masks of the current state.
    pub fn masks(&self) -> Arc<Masks> {
        self.table.masks(&self.state)
    }

    /// True if a banned word's letters are complete and only a boundary is missing.
    pub fn is_pending(&self) -> bool {
        self.table.automaton().end_matches(&self.state)
    }

    /// True if a banned match is partially written.
    pub fn is_open(&self) -> bool {
        self.table.automaton().is_open(&self.state)
    }

    /// Where the open partial match began: the position of the token after which the guard
    /// went from "nothing open" to "a banned match partially written" and stayed so. `None`
    /// when nothing is open, or when the match began before the rollback history (in the
    /// prompt, or more than `max_rollback` tokens ago). Rolling back to this position and
    /// forbidding the token there is how a generation loop backs out of a dead end.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use taboo::{Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, Vocabulary};
    /// let mut b = Vocabulary::builder();
    /// let (the, c, at) = (b.text("The"), b.text(" c"), b.text("at"));
    /// let list = BanList::from_words(["cat"], EntryOptions::default())?;
    /// let table = Arc::new(MaskTable::new(Arc::new(Automaton::compile(&list)?), Arc::new(b.build())));
    /// let mut guard = Guard::new(table, GuardConfig::default());
    /// guard.advance(the).unwrap();
    /// assert_eq!(guard.open_since(), None);
    /// guard.advance(c).unwrap();
    /// guard.advance(at).unwrap();
    /// assert_eq!(guard.open_since(), Some(1)); // " c" (position 1) opened "cat"
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn open_since(&self) -> Option<usize> {
        let automaton = self.table.automaton();
        if !automaton.is_open(&self.state) {
            return None;
        }
        // history[i] is the state before the token at position `position - len + i`.
        let mut pos = self.position;
        for state in self.history.iter().rev() {
            pos -= 1;
            if !automaton.is_open(state) {
                return Some(pos);
            }
        }
        None
    }

    /// The edit of one step; `last` also forbids (or penalises) pending tokens, since the
    /// text ends after this token.
    fn edit(&mut self, logits: &mut [f32], last: bool) -> Applied {
        let masks = self.table.masks(&self.state);
        let mut edit = Edit::new(logits, self.config.measure_mass);
        match self.config.mode {
            Mode::Hard => {
                for t in masks.forbidden.iter() {
                    edit.forbid(t);
                }
                if last {
                    for t in masks.pending.iter() {
                        edit.forbid(t);
                    }
                    // A special token writes no text, so after it the text would end right
                    // here: if that completes a match, it must not be the last token either.
                    if self.table.automaton().end_matches(&self.state) {
                        for t in self.table.vocab().special_tokens() {
                            edit.forbid(t);
                        }
                    }
                }
            }
            Mode::Soft {
                penalty,
                partial_penalty,
            } => {
                for t in masks.forbidden.iter().chain(masks.pending.iter()) {
                    edit.penalize(t, penalty);
                }
                if partial_penalty != 0.0 {
                    for t in masks.open.iter() {
                        if !masks.pending.contains(t) {
                            edit.penalize(t, partial_penalty);
                        }
                    }
                }
            }
        }
        edit.finish()
    }

    /// The settings.
    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// The shared mask table.
    pub fn table(&self) -> &Arc<MaskTable> {
        &self.table
    }
}

impl LogitsGuard for Guard {
    fn prime(&mut self, text: &[u8]) {
        self.table
            .automaton()
            .feed_in_place(&mut self.state, text, &mut self.scratch);
    }

    fn apply(&mut self, logits: &mut [f32]) -> Applied {
        self.edit(logits, false)
    }

    fn apply_final(&mut self, logits: &mut [f32]) -> Applied {
        self.edit(logits, true)
    }

    fn advance(&mut self, token: TokenId) -> Result<(), Violation> {
        if self.history.len() == self.config.max_rollback {
            self.history.pop_front();
        }
        if self.config.max_rollback > 0 {
            self.history.push_back(self.state.clone());
        }
        let position = self.position;
        self.position += 1;
        let table = Arc::clone(&self.table);
        let violated = if table.vocab().is_end_of_generation(token) {
            table.automaton().end_matches(&self.state)
        } else if let Some(bytes) = table.vocab().token_bytes(token) {
            table
                .automaton()
                .feed_in_place(&mut self.state, bytes, &mut self.scratch)
        } else {
            false
        };
        if violated {
            Err(Violation { token, position })
        } else {
            Ok(())
        }
    }

    fn rollback(&mut self, n: usize) -> Result<(), RollbackError> {
        if n > self.history.len() {
            return Err(RollbackError {
                requested: n,
                available: self.history.len(),
            });
        }
        for _ in 0..n {
            self.state = self.history.pop_back().expect("checked length");
        }
        self.position -= n;
        Ok(())
    }

    fn position(&self) -> usize {
        self.position
    }

    fn open_since(&self) -> Option<usize> {
        Guard::open_since(self)
    }
}
