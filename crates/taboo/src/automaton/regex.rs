//! The regex engine: user regexes translated onto the normalised stream, compiled into one
//! anchored dense DFA.
//!
//! Translation (see [`crate::text`] for the stream):
//! - a literal is normalised exactly as text is (decomposed, case folded when the lane folds);
//! - a class (with every case variant when folding) is split into its word characters, kept
//!   as a class, and its non-word characters, which appear in the stream as `MARK c MARK`
//!   (all whitespace as `MARK ' ' MARK`); a member the fold rewrites is taken as the stream
//!   writes it (`[é]` matches `e` + U+0301, `[ß]` under case folding matches `ss`), so a
//!   class matches a character however it is typed, composed or decomposed;
//! - repetition, concatenation and alternation are kept; capture groups are dropped.
//!
//! Because whitespace runs are written once, whitespace in a regex matches one whole run
//! (`a\s+b` and `a\sb` both match "a   b").

use std::sync::OnceLock;

use regex_automata::dfa::{dense, Automaton as _, StartKind};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::primitives::StateID;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Repetition};

use super::{DEAD, START};
use crate::error::{BanError, BanErrorKind};
use crate::text::{changed_chars, normalize, whitespace_class, word_class, Fold, MARK};

/// Largest DFA one group of regex entries may compile to, and the most memory its
/// determinization may use. Determinizing runs at roughly 10–30 MB of DFA a second, so the
/// limit is also a time bound: a regex whose DFA blows up (`(a|b)*a(a|b){20}` needs 2^21
/// states) is refused in under a second instead of compiling for most of a minute. Entries
/// that fit alone but not together are compiled in separate lanes (see `compile_regexes`).
pub(crate) const DFA_SIZE_LIMIT: usize = 16 << 20;

/// An anchored dense DFA over the normalised stream.
///
/// regex-automata's dense DFAs keep their dead state at id 0, which is also our [`START`];
/// the two are swapped at the boundary: DFA id 0 (dead) is our [`DEAD`], and the DFA's start
/// id is our 0.
#[derive(Clone, Debug)]
pub(crate) struct RegexEngine {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
}

impl RegexEngine {
    /// Compiles translated regexes (already on the normalised stream) into one DFA.
    pub(crate) fn new(hirs: &[Hir]) -> Result<RegexEngine, BanError> {
        let too_complex = |e: &dyn std::fmt::Display| {
            BanError::new(BanErrorKind::TooComplex(format!(
                "{e}; the limit is {} MiB",
                DFA_SIZE_LIMIT >> 20
            )))
        };
        let hir = Hir::alternation(hirs.to_vec());
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .which_captures(WhichCaptures::None)
                    .nfa_size_limit(Some(DFA_SIZE_LIMIT)),
            )
            .build_from_hir(&hir)
            .map_err(|e| too_complex(&e))?;
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(StartKind::Anchored)
                    .minimize(false)
                    .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                    .determinize_size_limit(Some(DFA_SIZE_LIMIT)),
            )
            .build_from_nfa(&nfa)
            .map_err(|e| too_complex(&e))?;
        let start = dfa
            .universal_start_state(Anchored::Yes)
            .ok_or_else(|| too_complex(&"no universal start state"))?;
        debug_assert!(dfa.is_dead_state(StateID::ZERO));
        Ok(RegexEngine { dfa, start })
    }

    #[inline]
    fn to_dfa(&self, s: u32) -> StateID {
        if s == START {
            self.start
        } else {
            StateID::new_unchecked(s as usize)
        }
    }

    #[inline]
    fn id_from_dfa(&self, id: StateID) -> u32 {
        if id == self.start {
            START
        } else if self.dfa.is_dead_state(id) {
            DEAD
        } else {
            id.as_u32()
        }
    }

    #[inline]
    pub(crate) fn next(&self, s: u32, b: u8) -> u32 {
        self.id_from_dfa(self.dfa.next_state(self.to_dfa(s), b))
    }

    /// A match ends at the last byte consumed (the DFA reports matches one byte late, so
    /// look through the end-of-input transition).
    #[inline]
    pub(crate) fn is_match(&self, s: u32) -> bool {
        let eoi = self.dfa.next_eoi_state(self.to_dfa(s));
        self.dfa.is_match_state(eoi)
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.dfa.memory_usage()
    }

    pub(crate) fn state_count(&self) -> usize {
        self.dfa.memory_usage() / (self.dfa.stride() * 4).max(1)
    }
}

/// Translates a parsed user regex onto the normalised stream.
pub(crate) fn translate(hir: &Hir, fold: Fold) -> Hir {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Hir::empty(),
        HirKind::Literal(lit) => {
            let text = String::from_utf8_lossy(&lit.0);
            Hir::literal(normalize(text.as_bytes(), fold, false))
        }
        HirKind::Class(Class::Unicode(cls)) => translate_class(cls, fold),
        HirKind::Class(Class::Bytes(_)) => Hir::fail(),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(translate(&r.sub, fold)),
        }),
        HirKind::Capture(c) => translate(&c.sub, fold),
        HirKind::Concat(v) => Hir::concat(v.iter().map(|h| translate(h, fold)).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(|h| translate(h, fold)).collect()),
    }
}

/// The characters whose folded form is not themselves, as a class (cached per fold).
fn changed_class(fold: Fold) -> &'static ClassUnicode {
    static CLASSES: [OnceLock<ClassUnicode>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    CLASSES[fold.index()].get_or_init(|| {
        ClassUnicode::new(
            changed_chars(fold)
                .into_iter()
                .map(|c| ClassUnicodeRange::new(c, c)),
        )
    })
}

fn translate_class(cls: &ClassUnicode, fold: Fold) -> Hir {
    let mut cls = cls.clone();
    if fold.case {
        cls.case_fold_simple();
    }
    // Characters the fold rewrites are written as the stream has them: one word character
    // joins the word class, one other character the non-word class, anything longer (a
    // decomposed letter, `ß` as `ss`) becomes a literal alternative.
    let mut changed = cls.clone();
    changed.intersect(changed_class(fold));
    cls.difference(changed_class(fold));
    let mut word = cls.clone();
    word.intersect(&word_class());
    let mut other = cls.clone();
    other.difference(&word_class());
    // Non-word characters as they appear in the stream: whitespace as one space, U+0001 as
    // U+FFFD, others as themselves.
    let whitespace = whitespace_class();
    let mut has_space = other.clone();
    has_space.intersect(&whitespace);
    let mut has_space = has_space.iter().next().is_some();
    other.difference(&whitespace);
    let marker = ClassUnicode::new([ClassUnicodeRange::new('\u{1}', '\u{1}')]);
    let mut has_marker = other.clone();
    has_marker.intersect(&marker);
    let has_marker = has_marker.iter().next().is_some();
    other.difference(&marker);
    if has_marker {
        other.push(ClassUnicodeRange::new('\u{FFFD}', '\u{FFFD}'));
    }
    let mut literals: Vec<Vec<u8>> = Vec::new();
    for c in changed.iter().flat_map(|r| r.start()..=r.end()) {
        let mut buf = [0u8; 4];
        let bytes = normalize(c.encode_utf8(&mut buf).as_bytes(), fold, false);
        let text = std::str::from_utf8(&bytes).ok();
        let mut chars = text.into_iter().flat_map(str::chars);
        let first = chars.next();
        let rest: Vec<char> = chars.collect();
        match (first, rest.as_slice()) {
            (Some(w), []) if w != MARK as char => word.push(ClassUnicodeRange::new(w, w)),
            (Some(m), [x, m2]) if m == MARK as char && *m2 == MARK as char && *x == ' ' => {
                has_space = true
            }
            (Some(m), [x, m2]) if m == MARK as char && *m2 == MARK as char => {
                other.push(ClassUnicodeRange::new(*x, *x))
            }
            _ => literals.push(bytes),
        }
    }
    literals.sort_unstable();
    literals.dedup();
    if literals.len() > MAX_CLASS_LITERALS {
        // A large class (`\w`, `\p{L}`, `.`) has thousands of members the fold writes as
        // several characters, nearly all a letter and its marks; as thousands of literal
        // alternatives they make a DFA that takes a second to build. They are matched
        // instead as one of their first characters followed by one or more of their other
        // characters: a superset (it also takes a letter with marks the class does not
        // hold), so a ban may cover more, never less.
        let mut heads = ClassUnicode::empty();
        let mut tails = ClassUnicode::empty();
        for l in &literals {
            let text = String::from_utf8_lossy(l);
            let mut chars = text.chars();
            if let Some(h) = chars.next() {
                heads.push(ClassUnicodeRange::new(h, h));
            }
            for t in chars {
                tails.push(ClassUnicodeRange::new(t, t));
            }
        }
        let merged = Hir::concat(vec![
            Hir::class(Class::Unicode(heads)),
            Hir::repetition(Repetition {
                min: 1,
                max: None,
                greedy: true,
                sub: Box::new(Hir::class(Class::Unicode(tails))),
            }),
        ]);
        literals.clear();
        return finish_class(word, other, has_space, vec![merged]);
    }
    finish_class(
        word,
        other,
        has_space,
        literals.into_iter().map(Hir::literal).collect(),
    )
}

/// More literal alternatives than this in one translated class are merged (see
/// `translate_class`).
const MAX_CLASS_LITERALS: usize = 64;

/// The translated class: its word characters, its other characters between marks, and the
/// alternatives for members written as several characters.
fn finish_class(
    word: ClassUnicode,
    mut other: ClassUnicode,
    has_space: bool,
    extra: Vec<Hir>,
) -> Hir {
    if has_space {
        other.push(ClassUnicodeRange::new(' ', ' '));
    }
    let mut alts = Vec::new();
    if word.iter().next().is_some() {
        alts.push(Hir::class(Class::Unicode(word)));
    }
    if other.iter().next().is_some() {
        alts.push(Hir::concat(vec![
            Hir::literal([MARK]),
            Hir::class(Class::Unicode(other)),
            Hir::literal([MARK]),
        ]));
    }
    alts.extend(extra);
    Hir::alternation(alts)
}
