//! The compiled form of a ban list: a byte automaton over raw text, steppable from any state.
//!
//! Raw bytes go through the normaliser ([`crate::text`]) and the normalised bytes drive one or
//! more *lanes*. A lane is an anchored engine — the literal engine for plain words, a dense DFA
//! for regexes — plus how it folds text (case, disguises). "Search anywhere" is done by the caller of the
//! engine: a [`State`] holds, per lane, the set of live anchored *threads* (one per position
//! where a partial match began and has not died), and a fresh thread starts at every byte.
//!
//! Keeping threads explicit instead of compiling an unanchored DFA is what makes masks cheap:
//! an unanchored automaton never dies, so a walk over the token trie could never prune, while
//! the threads of a state die within a few bytes (see docs/ENGINE.md §4 and [`crate::MaskTable`]).

mod literal;
mod regex;

use std::fmt;

use literal::{LiteralEngine, Patterns, SortedPatterns};
use regex::RegexEngine;

use crate::banlist::{
    entry::{check_plain, parse_regex},
    BanEntry, BanList, FormsReport,
};
use crate::error::{BanError, BanErrorKind};
use crate::forms::{LexemeMemo, Morphology};
use crate::text::{normalize_into, Emission, Fold, NormState, MARK};

/// What the plain entries of one lane gave: sorted runs of patterns (one per thread) and
/// what expanding their forms found.
#[derive(Default)]
struct Literals {
    patterns: Vec<SortedPatterns>,
    forms_entries: usize,
    /// Russian words the dictionary does not know, in entry order (repeats possible).
    unknown: Vec<String>,
}

/// `forms` entries per thread: a lane with fewer than twice this many is collected on the
/// calling thread; larger ones get a thread per this many, at most one per core.
const FORMS_PER_THREAD: usize = 2_000;

/// Collects the patterns of one lane's plain entries, each `forms` entry as all its forms.
/// Large lists of lemmas are split into contiguous chunks, one thread each, up to the
/// available cores (expanding and normalising forms is most of a lemma list's compile time);
/// the error reported is the first in entry order, as without threads.
fn collect_literals(
    entries: &[&BanEntry],
    fold: Fold,
    morphology: Option<&Morphology>,
) -> Result<Literals, BanError> {
    let forms = entries.iter().filter(|e| e.options().forms).count();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(forms / FORMS_PER_THREAD)
        .max(1);
    if threads == 1 {
        return collect_chunk(entries, fold, morphology);
    }
    let chunks: Vec<Result<Literals, BanError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(entries.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || collect_chunk(chunk, fold, morphology)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut all = Literals::default();
    for chunk in chunks {
        let chunk = chunk?;
        all.patterns.extend(chunk.patterns);
        all.forms_entries += chunk.forms_entries;
        all.unknown.extend(chunk.unknown);
    }
    Ok(all)
}

/// [`collect_literals`] on one thread.
fn collect_chunk(
    entries: &[&BanEntry],
    fold: Fold,
    morphology: Option<&Morphology>,
) -> Result<Literals, BanError> {
    let mut out = Literals::default();
    let mut patterns = Patterns::default();
    // Forms already handed over, per way of framing them (part of a word or whole).
    let mut memos = [LexemeMemo::default(), LexemeMemo::default()];
    for e in entries {
        let o = e.options();
        let located = |err: BanError| {
            let err = err.with_entry(e.text());
            match e.line() {
                Some(l) => err.with_line(l),
                None => err,
            }
        };
        if !o.forms {
            push_literal(&mut patterns, e.text(), fold, o.whole_word).map_err(located)?;
            continue;
        }
        let Some(morphology) = morphology else {
            return Err(located(BanError::new(BanErrorKind::FormsNotExpanded)));
        };
        out.forms_entries += 1;
        morphology
            .for_each_phrase_form(
                e.text(),
                &mut memos[usize::from(o.whole_word)],
                &mut |word| out.unknown.push(word.to_string()),
                &mut |form| {
                    check_plain(form, o.whole_word)?;
                    push_literal(&mut patterns, form.trim(), fold, o.whole_word)
                },
            )
            .map_err(located)?;
    }
    out.patterns.push(patterns.sorted());
    Ok(out)
}

/// Appends one plain entry's pattern: its normalised text, framed by boundary marks when it
/// must stand as a whole word.
fn push_literal(
    patterns: &mut Patterns,
    text: &str,
    fold: Fold,
    whole_word: bool,
) -> Result<(), BanError> {
    let buf = patterns.open();
    if whole_word {
        buf.push(MARK);
    }
    normalize_into(buf, text.as_bytes(), fold, false);
    if whole_word {
        buf.push(MARK);
    }
    patterns.close()
}

/// Every engine's start state.
pub(crate) const START: u32 = 0;
/// Every engine's dead state.
pub(crate) const DEAD: u32 = u32::MAX;

/// One anchored engine.
#[derive(Clone, Debug)]
pub(crate) enum Engine {
    Literal(LiteralEngine),
    Regex(Box<RegexEngine>),
}

impl Engine {
    #[inline]
    fn next(&self, s: u32, b: u8) -> u32 {
        match self {
            Engine::Literal(e) => e.next(s, b),
            Engine::Regex(e) => e.next(s, b),
        }
    }

    /// True if `s` steps to a live state on some byte of `bytes` (sorted ascending) other
    /// than `except`.
    #[inline]
    fn lives_on_any(&self, s: u32, bytes: &[u8], except: Option<u8>) -> bool {
        match self {
            Engine::Literal(e) => e.lives_on_any(s, bytes, except),
            Engine::Regex(e) => bytes
                .iter()
                .any(|&b| Some(b) != except && e.next(s, b) != DEAD),
        }
    }

    #[inline]
    fn is_match(&self, s: u32) -> bool {
        match self {
            Engine::Literal(e) => e.is_match(s),
            Engine::Regex(e) => e.is_match(s),
        }
    }

    fn memory_usage(&self) -> usize {
        match self {
            Engine::Literal(e) => e.memory_usage(),
            Engine::Regex(e) => e.memory_usage(),
        }
    }

    fn state_count(&self) -> usize {
        match self {
            Engine::Literal(e) => e.state_count(),
            Engine::Regex(e) => e.state_count(),
        }
    }
}

/// An engine and the normalisation its patterns were written in.
#[derive(Clone, Debug)]
pub(crate) struct Lane {
    pub(crate) fold: Fold,
    pub(crate) engine: Engine,
    /// The state of a thread that has read only a boundary mark: such a thread has not
    /// begun a word yet, so it does not count as an open partial match.
    pub(crate) after_mark: u32,
    /// Every pattern begins with a boundary mark (whole-word entries), so a thread can only
    /// start at a mark.
    pub(crate) starts_at_marks_only: bool,
}

impl Lane {
    fn new(fold: Fold, engine: Engine) -> Lane {
        let after_mark = engine.next(START, MARK);
        let starts_at_marks_only =
            (0..=u8::MAX).all(|b| b == MARK || engine.next(START, b) == DEAD);
        Lane {
            fold,
            engine,
            after_mark,
            starts_at_marks_only,
        }
    }

    /// Steps a thread set through normalised bytes. With `inject`, a fresh thread starts
    /// before every byte. Returns true if any thread reached a match.
    #[inline]
    pub(crate) fn step(
        &self,
        threads: &mut Vec<u32>,
        bytes: &[u8],
        inject: bool,
        scratch: &mut Vec<u32>,
    ) -> bool {
        if !inject && threads.len() == 1 {
            // The common case in mask walks: one thread, stepped without allocation.
            let mut s = threads[0];
            for &b in bytes {
                s = self.engine.next(s, b);
                if s == DEAD || self.engine.is_match(s) {
                    threads.clear();
                    return s != DEAD;
                }
            }
            threads[0] = s;
            return false;
        }
        self.step_threads(threads, bytes, inject, false, scratch)
    }

    /// [`Lane::step`] without its one-thread shortcut, and with `keep_matched` for a prompt
    /// (text the guard reads but did not write, see `Automaton::prime_in_place`): there a
    /// thread that matched is kept, because a match inside the prompt is no violation and a
    /// longer banned text it begins ("B" banned, and "Bо") may still be completed by the
    /// output.
    #[inline]
    fn step_threads(
        &self,
        threads: &mut Vec<u32>,
        bytes: &[u8],
        inject: bool,
        keep_matched: bool,
        scratch: &mut Vec<u32>,
    ) -> bool {
        let mut matched = false;
        for &b in bytes {
            scratch.clear();
            if inject {
                threads.push(START);
            }
            for &s in threads.iter() {
                let n = self.engine.next(s, b);
                if n == DEAD {
                    continue;
                }
                // In generated text a thread that matched is dropped: the text already
                // contains a match, and any longer match from the same start would only
                // repeat it. (Keeping it would also let a DFA, whose matches surface one
                // byte late, report the same match twice.) In a prompt it is kept.
                if self.engine.is_match(n) {
                    matched = true;
                    if keep_matched {
                        scratch.push(n);
                    }
                } else {
                    scratch.push(n);
                }
            }
            scratch.sort_unstable();
            scratch.dedup();
            std::mem::swap(threads, scratch);
        }
        matched
    }

    /// True if some thread has read more than a boundary mark and can still live (when a
    /// character is half read, a thread that dies on every way it can be written is already
    /// doomed). Decided thread by thread, so that the answer for a union of thread sets is
    /// the union of the answers: the mask walks rely on it.
    #[inline]
    pub(crate) fn is_open(&self, threads: &[u32], norm: &NormState) -> bool {
        let first = norm.open_char_first_bytes(self.fold);
        threads.iter().any(|&s| {
            s != START
                && s != self.after_mark
                && first.is_none_or(|f| self.engine.lives_on_any(s, f, None))
        })
    }

    /// True when a character is half read and every thread dies on every byte the
    /// character could be written as (not counting characters whose writing starts with
    /// `except`: those are accounted for elsewhere): nothing below can match, stay open or
    /// be pending.
    #[inline]
    pub(crate) fn doomed(&self, threads: &[u32], norm: &NormState, except: Option<u8>) -> bool {
        let Some(first) = norm.open_char_first_bytes(self.fold) else {
            return false;
        };
        threads
            .iter()
            .all(|&s| !self.engine.lives_on_any(s, first, except))
    }

    /// True when the thread's word is complete: a boundary mark next is a match. Every
    /// token that starts by writing a mark is then forbidden, whatever else it holds.
    #[inline]
    pub(crate) fn ends_at_boundary(&self, s: u32) -> bool {
        let n = self.engine.next(s, MARK);
        n != DEAD && self.engine.is_match(n)
    }
}

/// At most this many regex entries share one DFA. Determinizing costs about (DFA states) ×
/// (NFA states alive at once), and an anchored start keeps every entry alive at first, so
/// one DFA for 20,000 small regexes was far slower than a few smaller ones; a lane per
/// chunk keeps compilation near-linear at the price of stepping a few more lanes.
const REGEX_CHUNK: usize = 2_000;

/// Compiles regex entries into DFAs (one if they fit). When they do not fit together, each
/// entry is tried alone first, so that an entry too large by itself is named in the error
/// (quickly: the size limit stops it within a second); if each fits alone, the group is
/// split in halves, each half its own lane.
fn compile_regexes(
    hirs: &[regex_syntax::hir::Hir],
    sources: &[&crate::BanEntry],
    out: &mut Vec<RegexEngine>,
) -> Result<(), BanError> {
    let err = match RegexEngine::new(hirs) {
        Ok(e) => {
            out.push(e);
            return Ok(());
        }
        Err(e) => e,
    };
    if hirs.len() == 1 {
        let e = err.with_entry(sources[0].text());
        return Err(match sources[0].line() {
            Some(l) => e.with_line(l),
            None => e,
        });
    }
    if hirs.len() > 2 {
        for (h, e) in hirs.iter().zip(sources) {
            if let Err(err) = RegexEngine::new(std::slice::from_ref(h)) {
                let err = err.with_entry(e.text());
                return Err(match e.line() {
                    Some(l) => err.with_line(l),
                    None => err,
                });
            }
        }
    }
    let mid = hirs.len() / 2;
    compile_regexes(&hirs[..mid], &sources[..mid], out)?;
    compile_regexes(&hirs[mid..], &sources[mid..], out)
}

/// How to compile; the defaults are what a user wants, the switches exist for testing.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct CompileOptions {
    /// Compile plain words into the literal engine (fast to build). When off, every entry goes
    /// through the regex DFA; masks are identical either way. On by default.
    pub literal_engine: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            literal_engine: true,
        }
    }
}

crate::__settings_setters!(CompileOptions {
    with_literal_engine => literal_engine: bool,
});

/// A compiled ban list. Immutable, `Send + Sync`; share it behind an `Arc`.
///
/// ```
/// use taboo::{Automaton, BanList, EntryOptions};
/// let list = BanList::from_words(["cat"], EntryOptions::default())?;
/// let automaton = Automaton::compile(&list)?;
/// assert!(automaton.is_match("My CAT.".as_bytes()));
/// assert!(automaton.is_match("a cat".as_bytes()));        // the end of text is a boundary
/// assert!(!automaton.is_match("category, cats".as_bytes()));
/// # Ok::<(), taboo::BanError>(())
/// ```
#[derive(Clone)]
pub struct Automaton {
    pub(crate) lanes: Vec<Lane>,
    entries: usize,
}

/// Where an automaton is in a text: the normaliser's state and each lane's live threads.
///
/// Small, cheap to clone and hash: the mask cache is keyed by it.
#[derive(PartialEq, Eq, Hash)]
pub struct State {
    pub(crate) norm: NormState,
    /// Per lane: the number of threads, then the sorted thread states.
    pub(crate) threads: Vec<u32>,
}

impl Clone for State {
    fn clone(&self) -> State {
        State {
            norm: self.norm,
            threads: self.threads.clone(),
        }
    }

    /// Reuses the thread buffer: a guard's rollback history recycles its oldest entry this
    /// way instead of allocating a state per step.
    fn clone_from(&mut self, source: &State) {
        self.norm = source.norm;
        self.threads.clone_from(&source.threads);
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("norm", &self.norm)
            .field("threads", &self.threads)
            .finish()
    }
}

impl State {
    /// The thread sets of each lane.
    pub(crate) fn lanes(&self) -> impl Iterator<Item = &[u32]> {
        let mut rest = &self.threads[..];
        std::iter::from_fn(move || {
            let (&n, tail) = rest.split_first()?;
            let (lane, tail) = tail.split_at(n as usize);
            rest = tail;
            Some(lane)
        })
    }

    /// Heap bytes held.
    pub fn memory_usage(&self) -> usize {
        self.threads.capacity() * 4
    }
}

/// Scratch buffers reused across steps so that stepping does not allocate per byte.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) a: Vec<u32>,
    pub(crate) b: Vec<u32>,
    pub(crate) out: Vec<u32>,
}

impl Automaton {
    /// Compiles a ban list with default options. Entries with the `forms` option are refused
    /// ([`BanErrorKind::FormsNotExpanded`]): compile such a list with
    /// [`Automaton::compile_expanding`].
    pub fn compile(list: &BanList) -> Result<Automaton, BanError> {
        Automaton::compile_with(list, CompileOptions::default())
    }

    /// Compiles a ban list.
    ///
    /// Plain entries become normalised byte strings (whole-word ones framed by boundary
    /// marks) in a literal engine, the minimal automaton of those strings; regex entries are
    /// translated onto the normalised stream and compiled together into one anchored DFA.
    /// Case-sensitive and case-insensitive entries live in separate lanes.
    pub fn compile_with(list: &BanList, options: CompileOptions) -> Result<Automaton, BanError> {
        Automaton::build(list, options, None).map(|(a, _)| a)
    }

    /// Compiles a ban list whose `forms` entries stand for every form of their words: each
    /// form goes straight from the morphology into the literal engine's pattern buffer, so no
    /// entry per form is ever built. The automaton is the one
    /// [`BanList::expand_forms`] followed by [`Automaton::compile`] gives (the same states,
    /// in the same order; the tests hold the two paths to that), at a fraction of the time
    /// and memory: 1.4 million forms would otherwise be 1.4 million entries.
    ///
    /// ```
    /// use taboo::{forms::Morphology, Automaton, BanList};
    /// let list = BanList::parse("[forms] mouse\n")?;
    /// let (automaton, report) = Automaton::compile_expanding(&list, &Morphology::new())?;
    /// assert!(automaton.is_match(b"two mice"));
    /// assert_eq!(report.forms_entries, 1);
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn compile_expanding(
        list: &BanList,
        morphology: &Morphology,
    ) -> Result<(Automaton, FormsReport), BanError> {
        Automaton::build(list, CompileOptions::default(), Some(morphology))
    }

    fn build(
        list: &BanList,
        options: CompileOptions,
        morphology: Option<&Morphology>,
    ) -> Result<(Automaton, FormsReport), BanError> {
        if let (Some(morphology), false) = (morphology, options.literal_engine) {
            // Every entry through the regex DFA (a testing switch): expand as entries.
            let (expanded, report) = list.expand_forms(morphology)?;
            return Automaton::build(&expanded, options, None).map(|(a, _)| (a, report));
        }
        let mut report = FormsReport::default();
        let mut unknown_seen = std::collections::HashSet::new();
        let mut lanes = Vec::new();
        let mut entries = 0;
        let folds = [
            Fold::CASE,
            Fold::NONE,
            Fold {
                case: true,
                disguise: true,
            },
            Fold {
                case: false,
                disguise: true,
            },
        ];
        for fold in folds {
            let mut plain = Vec::new();
            let mut hirs = Vec::new();
            let mut sources = Vec::new();
            for e in list.entries() {
                let o = e.options();
                if o.fold() != fold {
                    continue;
                }
                if o.forms || (!o.regex && options.literal_engine) {
                    plain.push(e);
                    continue;
                }
                let located = |err: BanError| {
                    let err = err.with_entry(e.text());
                    match e.line() {
                        Some(l) => err.with_line(l),
                        None => err,
                    }
                };
                let hir = if o.regex {
                    parse_regex(e.text()).map_err(located)?
                } else {
                    regex_syntax::hir::Hir::literal(e.text().as_bytes())
                };
                let mut t = regex::translate(&hir, fold);
                if o.whole_word {
                    let m = regex_syntax::hir::Hir::literal([MARK]);
                    t = regex_syntax::hir::Hir::concat(vec![m.clone(), t, m]);
                }
                hirs.push(t);
                sources.push(e);
            }
            if !plain.is_empty() {
                let runs = collect_literals(&plain, fold, morphology)?;
                let engine = LiteralEngine::new(&runs.patterns);
                drop(runs.patterns);
                report.forms_entries += runs.forms_entries;
                for word in runs.unknown {
                    if unknown_seen.insert(word.clone()) {
                        report.unknown.push(word);
                    }
                }
                entries += engine.pattern_count();
                lanes.push(Lane::new(fold, Engine::Literal(engine)));
            }
            entries += hirs.len();
            let mut engines = Vec::new();
            for (hirs, sources) in hirs.chunks(REGEX_CHUNK).zip(sources.chunks(REGEX_CHUNK)) {
                compile_regexes(hirs, sources, &mut engines)?;
            }
            for engine in engines {
                lanes.push(Lane::new(fold, Engine::Regex(Box::new(engine))));
            }
        }
        Ok((Automaton { lanes, entries }, report))
    }

    /// Number of ban entries compiled in: distinct plain patterns (every form of a `forms`
    /// entry counts once; two entries that normalise alike count once) plus regex entries.
    pub fn entry_count(&self) -> usize {
        self.entries
    }

    /// The state at the start of a text (the start boundary has been read).
    pub fn start(&self) -> State {
        let mut threads = Vec::new();
        let mut scratch = Vec::new();
        for lane in &self.lanes {
            let mut t = Vec::new();
            lane.step(&mut t, &[MARK], true, &mut scratch);
            threads.push(t.len() as u32);
            threads.extend(t);
        }
        State {
            norm: NormState::new(),
            threads,
        }
    }

    /// Feeds raw bytes; returns the new state and whether a match ended inside them.
    pub fn feed(&self, state: &State, bytes: &[u8]) -> (State, bool) {
        let mut s = state.clone();
        let matched = self.feed_in_place(&mut s, bytes, &mut Scratch::default());
        (s, matched)
    }

    pub(crate) fn feed_in_place(&self, state: &mut State, bytes: &[u8], sc: &mut Scratch) -> bool {
        self.feed_lanes(state, bytes, sc, false)
    }

    /// Feeds a prompt: as [`Automaton::feed_in_place`], except that a match inside the prompt
    /// keeps its thread, so a longer banned text it begins is still seen when the output
    /// completes it (see [`Lane::step_threads`]).
    pub(crate) fn prime_in_place(&self, state: &mut State, bytes: &[u8], sc: &mut Scratch) {
        self.feed_lanes(state, bytes, sc, true);
    }

    fn feed_lanes(&self, state: &mut State, bytes: &[u8], sc: &mut Scratch, prompt: bool) -> bool {
        if bytes.is_empty() || self.lanes.is_empty() {
            // Still advance the normaliser so that the state reflects the text.
            let mut e = Emission::new();
            for &b in bytes {
                e.clear();
                state.norm.push(b, Fold::NONE, &mut e);
            }
            return false;
        }
        let mut matched = false;
        sc.out.clear();
        let mut next_norm = state.norm;
        for (i, lane) in state.lanes().enumerate() {
            let lane_def = &self.lanes[i];
            sc.a.clear();
            sc.a.extend_from_slice(lane);
            let mut norm = state.norm;
            let mut e = Emission::new();
            for &b in bytes {
                e.clear();
                norm.push(b, lane_def.fold, &mut e);
                matched |= lane_def.step_threads(&mut sc.a, e.as_bytes(), true, prompt, &mut sc.b);
            }
            next_norm = norm;
            sc.out.push(sc.a.len() as u32);
            sc.out.extend_from_slice(&sc.a);
        }
        state.norm = next_norm;
        std::mem::swap(&mut state.threads, &mut sc.out);
        matched
    }

    /// True if ending the text in this state completes a match (so an end-of-generation
    /// token must be forbidden here).
    pub fn end_matches(&self, state: &State) -> bool {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (i, lane) in state.lanes().enumerate() {
            let lane_def = &self.lanes[i];
            let mut e = Emission::new();
            state.norm.finish(lane_def.fold, &mut e);
            a.clear();
            a.extend_from_slice(lane);
            if lane_def.step(&mut a, e.as_bytes(), true, &mut b) {
                return true;
            }
        }
        false
    }

    /// The other reading of a text that ends in whitespace, for the seam between a prompt and
    /// the output that continues it: whitespace runs are written once, so output whitespace
    /// that continues the prompt's trailing run would be invisible, and a ban on whitespace
    /// itself (`[regex substring] \n`) would never see the output's own newline. The returned
    /// state is `state` with the run ended, so that the output's whitespace is a run of its
    /// own; `None` when the text does not end in whitespace. A guard follows both readings
    /// until the output writes something other than whitespace.
    pub fn seam(&self, state: &State) -> Option<State> {
        state.norm.in_whitespace_run().then(|| State {
            norm: state.norm.run_ended(),
            threads: state.threads.clone(),
        })
    }

    /// True while the text read so far ends in a whitespace run.
    pub fn in_whitespace_run(&self, state: &State) -> bool {
        state.norm.in_whitespace_run()
    }

    /// True if some lane has an open partial match (a thread past its first boundary).
    pub fn is_open(&self, state: &State) -> bool {
        state
            .lanes()
            .enumerate()
            .any(|(i, t)| self.lanes[i].is_open(t, &state.norm))
    }

    /// True if the whole text (with start and end boundaries) contains a banned match.
    pub fn is_match(&self, text: &[u8]) -> bool {
        let (s, m) = self.feed(&self.start(), text);
        m || self.end_matches(&s)
    }

    /// Heap bytes held by the compiled engines.
    pub fn memory_usage(&self) -> usize {
        self.lanes.iter().map(|l| l.engine.memory_usage()).sum()
    }

    /// Number of engine states, summed over lanes (a size indicator for reports).
    pub fn state_count(&self) -> usize {
        self.lanes.iter().map(|l| l.engine.state_count()).sum()
    }
}

impl fmt::Debug for Automaton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Automaton")
            .field("entries", &self.entries)
            .field("lanes", &self.lanes.len())
            .field("memory_usage", &self.memory_usage())
            .finish()
    }
}
