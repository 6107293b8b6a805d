//! The mask table: for an automaton state, which tokens would complete a banned match.
//!
//! A token is forbidden in state `s` if feeding its bytes from `s` ends a match. The match
//! either began before the token — then it is carried by one of `s`'s live threads — or began
//! inside the token. So
//!
//! ```text
//! forbidden(s) = CONST(lane, normaliser state)  ∪  WALK(threads of s)
//! ```
//!
//! `CONST` walks the token trie once per lane and normaliser state (typically two or three
//! of them), starting a fresh thread at every byte; it is cached forever. A walk that starts
//! threads everywhere cannot prune where threads die, but a whole-word thread can only start
//! at a boundary mark, and the vocabulary knows, once for every ban list, which subtrees write
//! no mark (`TrieIndex::marks_below`): below a node whose threads have all died, those are
//! skipped, so the walk visits the prefixes of banned words and the paths to marks, not the
//! whole trie (on o200k with 1,000 words: about 3.5 ms instead of about 20 ms). `WALK` follows
//! only the state's own threads down the trie and prunes a subtree as soon as they all die,
//! which happens within a few bytes, so a new state costs microseconds, not a full walk.
//! Both walks also record, for every token they reach, whether the text would then be
//! *pending* (ending it there would complete a whole-word match: the word's letters are all
//! written) and whether a partial match stays *open*.
//!
//! Results are cached per state in two generations bounded by a byte budget: when the young
//! generation fills half the budget it becomes the old one and the old one is dropped, so
//! states in use survive and only those unused for a generation are recomputed (states are
//! values, so nothing ever goes stale).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::automaton::{Automaton, Lane, State};
use crate::bitset::TokenSet;
use crate::shared_map::SharedMap;
use crate::text::{Emission, NormState, MARK};
use crate::trie::TrieIndex;
use crate::vocab::Vocabulary;

/// The three token sets of one state. `pending` and `open` never contain forbidden tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masks {
    /// Tokens that would complete a banned match (including end-of-generation tokens when
    /// ending the text here would complete a whole-word match).
    pub forbidden: TokenSet,
    /// Tokens after which only a boundary is missing for a whole-word match: the tokens
    /// that bring a banned word's letters to completion (`" cat"` for a ban on "cat").
    pub pending: TokenSet,
    /// Tokens after which a banned match is partially written (it opens or extends one).
    pub open: TokenSet,
}

impl Masks {
    fn new(n: usize) -> Masks {
        Masks {
            forbidden: TokenSet::new(n),
            pending: TokenSet::new(n),
            open: TokenSet::new(n),
        }
    }

    fn union_with(&mut self, other: &Masks) {
        self.forbidden.union_with(&other.forbidden);
        self.pending.union_with(&other.pending);
        self.open.union_with(&other.open);
    }

    fn finish(&mut self) {
        self.pending.difference_with(&self.forbidden);
        self.open.difference_with(&self.forbidden);
    }

    /// Heap bytes held.
    pub fn memory_usage(&self) -> usize {
        self.forbidden.memory_usage() + self.pending.memory_usage() + self.open.memory_usage()
    }
}

/// Counters of a [`MaskTable`]'s work, for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// States whose masks were computed.
    pub misses: u64,
    /// Times the cache was dropped for exceeding its budget.
    pub evictions: u64,
}

/// Lazily computed, cached token masks for one automaton and one vocabulary.
///
/// `Send + Sync`: share one behind an `Arc` among all sequences.
///
/// ```
/// use std::sync::Arc;
/// use taboo::{Automaton, BanList, EntryOptions, MaskTable, Vocabulary};
/// let mut b = Vocabulary::builder();
/// let (cat, dot, s_) = (b.text(" cat"), b.text("."), b.text("s"));
/// let eos = b.special("</s>");
/// b.end_of_generation(eos);
/// let list = BanList::from_words(["cat"], EntryOptions::default())?;
/// let table = MaskTable::new(Arc::new(Automaton::compile(&list)?), Arc::new(b.build()));
/// let s = table.automaton().start();
/// assert!(table.masks(&s).forbidden.is_empty());
/// assert!(table.masks(&s).pending.contains(cat));       // " cat" completes the letters
/// let (after, _) = table.automaton().feed(&s, b" cat");
/// let m = table.masks(&after);
/// assert!(m.forbidden.contains(dot) && m.forbidden.contains(eos));
/// assert!(m.forbidden.contains(cat));                   // " cat cat"
/// assert!(!m.forbidden.contains(s_));                   // " cats"
/// # Ok::<(), taboo::BanError>(())
/// ```
pub struct MaskTable {
    automaton: Arc<Automaton>,
    vocab: Arc<Vocabulary>,
    /// The vocabulary's trie and subtree sets, shared with every table over it.
    index: Arc<TrieIndex>,
    consts: SharedMap<(usize, NormState, Part), Masks>,
    cache: RwLock<StateCache>,
    cached_bytes: AtomicUsize,
    budget: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// The per-state cache: two generations (see [`MaskTable::masks`]).
#[derive(Default)]
struct StateCache {
    young: HashMap<State, Arc<Masks>>,
    young_bytes: usize,
    old: HashMap<State, Arc<Masks>>,
    old_bytes: usize,
}

/// Bytes a cached state costs: its masks, its key and the map entry.
fn cached_size(state: &State, masks: &Masks) -> usize {
    masks.memory_usage() + state.memory_usage() + 64
}

/// A part of a state's masks that depends only on the lane and the normaliser state, so it
/// is computed once and shared by every state that has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Part {
    /// Matches that start inside a token (a fresh thread before every byte).
    Inside,
    /// The thread at a word boundary, which almost every state has: a new word may begin
    /// with the next token. Walking it is the costly part of a state (every banned word is
    /// still possible), so it is walked once per normaliser state, not once per state.
    WordStart,
    /// What any thread whose word is complete forbids: every token that starts by writing
    /// a boundary mark (a space, punctuation, a broken character — more than half of a
    /// vocabulary). Such threads are then walked only through the other tokens.
    Boundary,
}

/// How [`MaskTable::walk`] treats its threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Walk {
    /// Just the threads.
    Plain,
    /// The threads plus a fresh thread before every byte ([`Part::Inside`]).
    Inject,
    /// Threads whose word is complete, through the tokens that do not start by writing a
    /// mark (the others are [`Part::Boundary`]).
    PastBoundary,
}

/// Subtrees with at least this many tokens are forbidden by set union (see
/// `TrieIndex::subtree_set`).
const BIG_SUBTREE: usize = 1024;

/// Default byte budget of the per-state cache.
pub const DEFAULT_CACHE_BUDGET: usize = 64 << 20;

impl MaskTable {
    /// Builds the token trie of `vocab`; masks are computed on first use.
    pub fn new(automaton: Arc<Automaton>, vocab: Arc<Vocabulary>) -> MaskTable {
        let index = Arc::clone(vocab.trie_index());
        MaskTable {
            automaton,
            vocab,
            index,
            consts: SharedMap::new(),
            cache: RwLock::new(StateCache::default()),
            cached_bytes: AtomicUsize::new(0),
            budget: DEFAULT_CACHE_BUDGET,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Sets the byte budget of the per-state cache (0 disables caching). The default is
    /// [`DEFAULT_CACHE_BUDGET`] (64 MiB: about 280 states of a 200k-token vocabulary).
    pub fn with_cache_budget(mut self, bytes: usize) -> MaskTable {
        self.budget = bytes;
        self
    }

    /// The automaton.
    pub fn automaton(&self) -> &Arc<Automaton> {
        &self.automaton
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Arc<Vocabulary> {
        &self.vocab
    }

    /// The masks of a state, from the cache or computed now.
    pub fn masks(&self, state: &State) -> Arc<Masks> {
        let promote = {
            let cache = self.cache.read().expect("mask cache lock");
            if let Some(m) = cache.young.get(state) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Arc::clone(m);
            }
            cache.old.get(state).cloned()
        };
        let (m, hit) = match promote {
            Some(m) => (m, true),
            None => (Arc::new(self.compute(state)), false),
        };
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        if self.budget > 0 {
            let size = cached_size(state, &m);
            let mut cache = self.cache.write().expect("mask cache lock");
            // Two generations, each up to half the budget: when the young one is full it
            // becomes the old one and the old one is dropped. A state used since the last
            // turn is found in the young generation or promoted back from the old one, so
            // the states many sequences share survive; only those unused for a whole
            // generation are recomputed.
            if cache.young_bytes + size > self.budget / 2 {
                cache.old = std::mem::take(&mut cache.young);
                cache.old_bytes = std::mem::take(&mut cache.young_bytes);
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(old) = cache.old.remove(state) {
                cache.old_bytes -= cached_size(state, &old);
            }
            if cache.young.insert(state.clone(), Arc::clone(&m)).is_none() {
                cache.young_bytes += size;
            }
            self.cached_bytes
                .store(cache.young_bytes + cache.old_bytes, Ordering::Relaxed);
        }
        m
    }

    /// Computes now the parts every generation needs at its first steps (the constant masks
    /// between characters, after a word and after whitespace), so that they are paid at
    /// setup rather than during the first tokens.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use taboo::{Automaton, BanList, EntryOptions, MaskTable, Vocabulary};
    /// # let mut b = Vocabulary::builder(); b.text(" cat");
    /// # let list = BanList::from_words(["cat"], EntryOptions::default())?;
    /// let table = MaskTable::new(Arc::new(Automaton::compile(&list)?), Arc::new(b.build()));
    /// table.warm_up();
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn warm_up(&self) {
        for lane in 0..self.automaton.lanes.len() {
            for norm in [NormState::new(), NormState::after_whitespace()] {
                self.part(lane, norm, Part::Inside);
            }
        }
    }

    /// The forbidden tokens of a state, ascending.
    pub fn forbidden_tokens(&self, state: &State) -> Vec<u32> {
        self.masks(state).forbidden.iter().collect()
    }

    /// Computes the masks of a state without the per-state cache (the parts shared by
    /// states, see [`Part`], are still shared).
    ///
    /// Threads never interact, so a state's masks are the union of each thread's; the
    /// word-boundary thread's share comes from the shared parts, the others are walked.
    pub fn compute(&self, state: &State) -> Masks {
        let mut m = Masks::new(self.vocab.len());
        let mut rest = Vec::new();
        let mut complete = Vec::new();
        for (i, threads) in state.lanes().enumerate() {
            let lane = &self.automaton.lanes[i];
            m.union_with(&self.part(i, state.norm, Part::Inside));
            rest.clear();
            complete.clear();
            for &t in threads {
                if t == lane.after_mark {
                    m.union_with(&self.part(i, state.norm, Part::WordStart));
                } else if lane.ends_at_boundary(t) {
                    complete.push(t);
                } else {
                    rest.push(t);
                }
            }
            if !rest.is_empty() {
                self.walk(lane, state.norm, &rest, Walk::Plain, &mut m);
            }
            if !complete.is_empty() {
                m.union_with(&self.part(i, state.norm, Part::Boundary));
                self.walk(lane, state.norm, &complete, Walk::PastBoundary, &mut m);
            }
        }
        if self.automaton.end_matches(state) {
            for &t in self.vocab.end_of_generation() {
                m.forbidden.insert(t);
            }
        }
        m.finish();
        m
    }

    /// The masks by brute force: feed every token from the state and look. This is the
    /// oracle the fast path is tested against; it costs a full pass over the vocabulary.
    pub fn compute_by_brute_force(&self, state: &State) -> Masks {
        let a = &self.automaton;
        let mut m = Masks::new(self.vocab.len());
        for (id, bytes) in self.vocab.text_tokens() {
            let (after, matched) = a.feed(state, bytes);
            if matched {
                m.forbidden.insert(id);
                continue;
            }
            if a.end_matches(&after) {
                m.pending.insert(id);
            }
            if a.is_open(&after) {
                m.open.insert(id);
            }
        }
        if a.end_matches(state) {
            for &t in self.vocab.end_of_generation() {
                m.forbidden.insert(t);
            }
        }
        m.finish();
        m
    }

    /// One shared part of the masks of a lane in a normaliser state.
    fn part(&self, lane: usize, norm: NormState, part: Part) -> Arc<Masks> {
        self.consts.get_or_build((lane, norm, part), || {
            let l = &self.automaton.lanes[lane];
            let mut m = Masks::new(self.vocab.len());
            match part {
                Part::Inside => self.walk(l, norm, &[], Walk::Inject, &mut m),
                Part::WordStart => self.walk(l, norm, &[l.after_mark], Walk::Plain, &mut m),
                Part::Boundary => self.walk_boundary(l, norm, &mut m),
            }
            m
        })
    }

    /// [`Part::Boundary`]: tokens that start by writing a mark are forbidden; tokens that
    /// write nothing at all (a lone lead byte, whitespace after whitespace) are pending and
    /// open, as the text's end or their next character writes a mark first.
    fn walk_boundary(&self, lane: &Lane, norm: NormState, out: &mut Masks) {
        let nodes = &self.index.trie.nodes;
        let order = &self.index.trie.order;
        // (subtree end, normaliser state) of the nodes above that wrote nothing yet.
        let mut stack: Vec<(u32, NormState)> = vec![(nodes.len() as u32, norm)];
        let mut i = 1usize;
        while i < nodes.len() {
            let node = nodes[i];
            while stack.last().is_some_and(|f| f.0 as usize <= i) {
                stack.pop();
            }
            let mut ns = stack.last().expect("the root frame spans the whole trie").1;
            let mut e = Emission::new();
            ns.push(node.byte(), lane.fold, &mut e);
            match e.as_bytes().first() {
                Some(&MARK) => {
                    self.forbid_subtree(i, out);
                    i = node.subtree_end as usize;
                }
                Some(_) => i = node.subtree_end as usize,
                None => {
                    for &t in &order[node.tok_start as usize..node.tok_own_end() as usize] {
                        out.pending.insert(t);
                        out.open.insert(t);
                    }
                    stack.push((node.subtree_end, ns));
                    i += 1;
                }
            }
        }
    }

    /// Forbids every token under trie node `i`.
    fn forbid_subtree(&self, i: usize, out: &mut Masks) {
        let trie = &self.index.trie;
        let tokens = &trie.order[trie.nodes[i].tok_start as usize..trie.tok_end(i) as usize];
        if tokens.len() >= BIG_SUBTREE {
            out.forbidden.union_with(&self.index.subtree_set(i as u32));
        } else {
            for &t in tokens {
                out.forbidden.insert(t);
            }
        }
    }

    /// Walks the token trie from `threads`, recording forbidden, pending and open tokens in
    /// `out`; see [`Walk`] for the variants.
    fn walk(&self, lane: &Lane, norm: NormState, threads: &[u32], how: Walk, out: &mut Masks) {
        struct Frame {
            end: u32,
            norm: NormState,
            off: usize,
            len: usize,
            /// Some byte was written on the way here.
            wrote: bool,
        }
        let inject = how == Walk::Inject;
        let past_boundary = how == Walk::PastBoundary;
        let nodes = &self.index.trie.nodes;
        let order = &self.index.trie.order;
        let mut buf: Vec<u32> = threads.to_vec();
        let mut stack = vec![Frame {
            end: nodes.len() as u32,
            norm,
            off: 0,
            len: buf.len(),
            wrote: false,
        }];
        // Starting a thread at every byte rules out pruning where threads die, except where
        // threads can only start at marks and no mark is written below (see
        // `TrieIndex::marks_below`): there a node whose threads are all dead ends the walk
        // of its subtree.
        let marks_below =
            (inject && lane.starts_at_marks_only).then(|| self.index.marks_below(lane.fold, norm));
        let mut cur = Vec::new();
        let mut at_end = Vec::new();
        let mut scratch = Vec::new();
        let mut i = 1usize;
        while i < nodes.len() {
            let node = nodes[i];
            while stack.last().is_some_and(|f| f.end as usize <= i) {
                let f = stack.pop().expect("frame");
                buf.truncate(f.off);
            }
            let top = stack.last().expect("the root frame spans the whole trie");
            let mut ns = top.norm;
            let mut e = Emission::new();
            ns.push(node.byte(), lane.fold, &mut e);
            let wrote = top.wrote || !e.as_bytes().is_empty();
            // Past a complete word, tokens whose first write is a mark are Part::Boundary's,
            // and so are the marks a character still being read might start with.
            let covered = (past_boundary && !top.wrote).then_some(MARK);
            if covered.is_some() && e.as_bytes().first() == covered.as_ref() {
                i = node.subtree_end as usize;
                continue;
            }
            cur.clear();
            cur.extend_from_slice(&buf[top.off..top.off + top.len]);
            if lane.step(&mut cur, e.as_bytes(), inject, &mut scratch) {
                self.forbid_subtree(i, out);
                i = node.subtree_end as usize;
                continue;
            }
            let except = (past_boundary && !wrote).then_some(MARK);
            if !inject && (cur.is_empty() || lane.doomed(&cur, &ns, except)) {
                i = node.subtree_end as usize;
                continue;
            }
            let own = &order[node.tok_start as usize..node.tok_own_end() as usize];
            if !own.is_empty() {
                let mut fe = Emission::new();
                ns.finish(lane.fold, &mut fe);
                at_end.clear();
                at_end.extend_from_slice(&cur);
                let pending = lane.step(&mut at_end, fe.as_bytes(), true, &mut scratch);
                let open = lane.is_open(&cur, &ns);
                for &t in own {
                    if pending {
                        out.pending.insert(t);
                    }
                    if open {
                        out.open.insert(t);
                    }
                }
            }
            if cur.is_empty() && marks_below.as_ref().is_some_and(|m| !m.contains(i as u32)) {
                i = node.subtree_end as usize;
                continue;
            }
            let off = buf.len();
            buf.extend_from_slice(&cur);
            stack.push(Frame {
                end: node.subtree_end,
                norm: ns,
                off,
                len: cur.len(),
                wrote,
            });
            i += 1;
        }
    }

    /// Cache counters.
    pub fn stats(&self) -> MaskStats {
        MaskStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// Heap bytes held: the trie, the cached masks and the automaton.
    pub fn memory_usage(&self) -> usize {
        let consts = self.consts.total(Masks::memory_usage);
        self.index.memory_usage()
            + consts
            + self.cached_bytes.load(Ordering::Relaxed)
            + self.automaton.memory_usage()
    }
}

impl std::fmt::Debug for MaskTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskTable")
            .field("tokens", &self.vocab.len())
            .field("trie_nodes", &self.index.trie.node_count())
            .field("stats", &self.stats())
            .finish()
    }
}
