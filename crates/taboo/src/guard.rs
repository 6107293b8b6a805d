//! The per-sequence guard: where a sequence is in the automaton, and the edit it makes to the
//! logits at each step.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::automaton::{Scratch, State};
use crate::bitset::TokenSet;
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
#[non_exhaustive]
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

crate::__settings_setters!(GuardConfig {
    with_mode => mode: Mode,
    with_max_rollback => max_rollback: usize,
    with_measure_mass => measure_mass: bool,
});

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
    /// While the output has written only whitespace after a prompt that ended in
    /// whitespace: the reading in which the output's whitespace is a run of its own (see
    /// [`Automaton::seam`](crate::Automaton::seam)). Tokens are forbidden if either reading
    /// forbids them.
    seam: Option<State>,
    /// The states after [`LogitsGuard::prime`]: where [`Guard::sync_to`] restarts when its
    /// rollback history is too short.
    primed: (State, Option<State>),
    /// The states (and seam readings) before each of the last `max_rollback` tokens.
    history: VecDeque<(State, Option<State>)>,
    /// Every token advanced (after rollbacks); its length is the position.
    tokens: Vec<TokenId>,
    scratch: Scratch,
}

impl Clone for Guard {
    fn clone(&self) -> Guard {
        Guard {
            table: Arc::clone(&self.table),
            config: self.config,
            state: self.state.clone(),
            seam: self.seam.clone(),
            primed: self.primed.clone(),
            history: self.history.clone(),
            tokens: self.tokens.clone(),
            scratch: Scratch::default(),
        }
    }
}

/// [`Guard::fill_bitmask`] was given fewer words than the vocabulary needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitmaskTooShort {
    /// 32-bit words given.
    pub given: usize,
    /// 32-bit words the vocabulary needs: ⌈vocabulary size / 32⌉.
    pub needed: usize,
}

impl std::fmt::Display for BitmaskTooShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the bitmask has {} 32-bit words but the vocabulary needs {}",
            self.given, self.needed
        )
    }
}

impl std::error::Error for BitmaskTooShort {}

impl Guard {
    /// A guard at the start of a text.
    pub fn new(table: Arc<MaskTable>, config: GuardConfig) -> Guard {
        let state = table.automaton().start();
        Guard {
            table,
            config,
            primed: (state.clone(), None),
            state,
            seam: None,
            history: VecDeque::new(),
            tokens: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The tokens advanced so far, after rollbacks: the history [`Guard::sync_to`] compares
    /// against.
    pub fn tokens(&self) -> &[TokenId] {
        &self.tokens
    }

    /// Brings the guard to the generated-token history `tokens`, however it got there: keeps
    /// the longest common prefix with what it has advanced, rolls back the rest (or, if the
    /// rollback history is too short, starts again from the primed state), then advances
    /// the new tokens. Returns how many of the advanced tokens completed a banned match.
    ///
    /// This is how a runtime that hands over the whole sequence every step (Hugging Face's
    /// `input_ids`, a beam search that reorders rows) drives a guard: one call per step,
    /// one token of work in the usual case.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use taboo::{Ban, LogitsGuard, Vocabulary};
    /// let mut b = Vocabulary::builder();
    /// let (the, c, at, dog) = (b.text("The"), b.text(" c"), b.text("at"), b.text(" dog"));
    /// let vocab = Arc::new(b.build());
    /// let mut guard = Ban::new(["cat"])?.guard(&vocab);
    /// assert_eq!(guard.sync_to(&[the, c]), 0);
    /// assert_eq!(guard.sync_to(&[the, dog]), 0);   // another beam: " c" rolled back
    /// assert_eq!(guard.tokens(), &[the, dog]);
    /// assert_eq!(guard.sync_to(&[the, c, at, dog]), 1); // " cat dog" completes "cat"
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn sync_to(&mut self, tokens: &[TokenId]) -> usize {
        let n = self.tokens.len().min(tokens.len());
        // The usual call extends the history by a token: one slice comparison decides it.
        let common = if self.tokens[..n] == tokens[..n] {
            n
        } else {
            self.tokens
                .iter()
                .zip(tokens)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let back = self.tokens.len() - common;
        if back > 0 && self.rollback(back).is_err() {
            (self.state, self.seam) = self.primed.clone();
            self.history.clear();
            self.tokens.clear();
        }
        let from = self.tokens.len();
        tokens[from..]
            .iter()
            .filter(|&&t| self.advance(t).is_err())
            .count()
    }

    /// Writes the allowed tokens of the next position as a packed bitmask: bit `t % 32` of
    /// `mask[t / 32]` is set when token `t` is allowed (the layout of llguidance and
    /// xgrammar), so a runtime can apply the mask on another device in one operation. Ids
    /// past the vocabulary are not tokens and are cleared; words past `⌈vocabulary / 32⌉`
    /// are left untouched. The mask is hard mode's whatever the guard's mode: forbidden
    /// tokens, and with `last` (the text ends after this token) the tokens
    /// [`LogitsGuard::apply_final`] forbids too. Returns the number of forbidden tokens.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use taboo::{Ban, LogitsGuard, Vocabulary};
    /// let mut b = Vocabulary::builder();
    /// let (cat, dot) = (b.text(" cat"), b.text("."));
    /// let vocab = Arc::new(b.build());
    /// let mut guard = Ban::new(["cat"])?.guard(&vocab);
    /// let mut mask = [0u32; 1];
    /// assert_eq!(guard.fill_bitmask(&mut mask, true).unwrap(), 1); // " cat" then the end
    /// assert_eq!(mask[0], 0b10);
    /// guard.advance(cat).unwrap();
    /// guard.fill_bitmask(&mut mask, false).unwrap();
    /// assert_eq!(mask[0], 0b00);                  // " cat." and " cat cat" are banned
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn fill_bitmask(&self, mask: &mut [u32], last: bool) -> Result<usize, BitmaskTooShort> {
        let n = self.table.vocab().len();
        let needed = n.div_ceil(32);
        if mask.len() < needed {
            return Err(BitmaskTooShort {
                given: mask.len(),
                needed,
            });
        }
        let masks = self.current_masks();
        // Everything allowed, then the words the sets hold ids in cleared: most sets are
        // empty or sparse, so this is a fill plus a few words (see TokenSet::nonzero_words).
        let mask = &mut mask[..needed];
        mask.fill(u32::MAX);
        if n % 32 != 0 {
            mask[needed - 1] = (1u32 << (n % 32)) - 1;
        }
        let mut banned = 0usize;
        let mut clear = |set: &TokenSet| {
            for (wi, w) in set.nonzero_words() {
                for (k, half) in [(2 * wi, w as u32), (2 * wi + 1, (w >> 32) as u32)] {
                    if let Some(m) = mask.get_mut(k) {
                        banned += (*m & half).count_ones() as usize;
                        *m &= !half;
                    }
                }
            }
        };
        clear(&masks.forbidden);
        if last {
            clear(&masks.pending);
        }
        if last && self.is_pending() {
            for t in self.table.vocab().special_tokens() {
                let (w, bit) = (t as usize / 32, 1u32 << (t % 32));
                if mask[w] & bit != 0 {
                    mask[w] &= !bit;
                    banned += 1;
                }
            }
        }
        Ok(banned)
    }

    /// The current automaton state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The masks of the current state.
    pub fn masks(&self) -> Arc<Masks> {
        self.current_masks()
    }

    /// The masks of the current state, joined with those of the seam reading while there
    /// is one.
    fn current_masks(&self) -> Arc<Masks> {
        let main = self.table.masks(&self.state);
        let Some(seam) = &self.seam else {
            return main;
        };
        let other = self.table.masks(seam);
        let mut forbidden = main.forbidden.clone();
        forbidden.union_with(&other.forbidden);
        let mut pending = main.pending.clone();
        pending.union_with(&other.pending);
        pending.difference_with(&forbidden);
        let mut open = main.open.clone();
        open.union_with(&other.open);
        open.difference_with(&forbidden);
        Arc::new(Masks {
            forbidden,
            pending,
            open,
        })
    }

    /// True if a banned word's letters are complete and only a boundary is missing.
    pub fn is_pending(&self) -> bool {
        let automaton = self.table.automaton();
        automaton.end_matches(&self.state)
            || self.seam.as_ref().is_some_and(|s| automaton.end_matches(s))
    }

    /// True if a banned match is partially written.
    pub fn is_open(&self) -> bool {
        self.open_in(&self.state, &self.seam)
    }

    fn open_in(&self, state: &State, seam: &Option<State>) -> bool {
        let automaton = self.table.automaton();
        automaton.is_open(state) || seam.as_ref().is_some_and(|s| automaton.is_open(s))
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
        if !self.is_open() {
            return None;
        }
        // history[i] is the state before the token at position `position - len + i`.
        let mut pos = self.tokens.len();
        for (state, seam) in self.history.iter().rev() {
            pos -= 1;
            if !self.open_in(state, seam) {
                return Some(pos);
            }
        }
        None
    }

    /// The edit of one step; `last` also forbids (or penalises) pending tokens, since the
    /// text ends after this token.
    fn edit(&mut self, logits: &mut [f32], last: bool) -> Applied {
        let masks = self.current_masks();
        let mut edit = Edit::new(logits, self.config.measure_mass);
        match self.config.mode {
            Mode::Hard => {
                edit.forbid_set(&masks.forbidden);
                if last {
                    edit.forbid_set(&masks.pending);
                    // A special token writes no text, so after it the text would end right
                    // here: if that completes a match, it must not be the last token either.
                    if self.is_pending() {
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
            .prime_in_place(&mut self.state, text, &mut self.scratch);
        if self.tokens.is_empty() {
            self.seam = self.table.automaton().seam(&self.state);
            self.primed = (self.state.clone(), self.seam.clone());
        }
    }

    fn apply(&mut self, logits: &mut [f32]) -> Applied {
        self.edit(logits, false)
    }

    fn apply_final(&mut self, logits: &mut [f32]) -> Applied {
        self.edit(logits, true)
    }

    fn advance(&mut self, token: TokenId) -> Result<(), Violation> {
        if self.config.max_rollback > 0 {
            // Once the history is full, the oldest entry's allocations take the newest state:
            // no allocation per step.
            let entry = if self.history.len() == self.config.max_rollback {
                let (mut state, mut seam) = self.history.pop_front().expect("a full history");
                state.clone_from(&self.state);
                seam.clone_from(&self.seam);
                (state, seam)
            } else {
                (self.state.clone(), self.seam.clone())
            };
            self.history.push_back(entry);
        }
        let position = self.tokens.len();
        self.tokens.push(token);
        let table = Arc::clone(&self.table);
        let automaton = table.automaton();
        let violated = if table.vocab().is_end_of_generation(token) {
            self.is_pending()
        } else if let Some(bytes) = table.vocab().token_bytes(token) {
            let mut hit = automaton.feed_in_place(&mut self.state, bytes, &mut self.scratch);
            if let Some(seam) = self.seam.as_mut() {
                hit |= automaton.feed_in_place(seam, bytes, &mut self.scratch);
                // Past the output's first non-whitespace character both readings see the
                // same text from there on.
                if !automaton.in_whitespace_run(seam) {
                    self.seam = None;
                }
            }
            hit
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
            (self.state, self.seam) = self.history.pop_back().expect("checked length");
        }
        self.tokens.truncate(self.tokens.len() - n);
        Ok(())
    }

    fn position(&self) -> usize {
        self.tokens.len()
    }

    fn open_since(&self) -> Option<usize> {
        Guard::open_since(self)
    }

    fn ends_in_match(&self) -> bool {
        self.is_pending()
    }
}
