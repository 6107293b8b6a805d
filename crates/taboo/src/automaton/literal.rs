//! The literal engine: the minimal anchored automaton of a set of normalised patterns.
//!
//! Plain words and phrases compile here. It is stepped like a DFA whose every thread starts
//! anchored; the "search anywhere" part lives in the caller, which starts a fresh thread at
//! every byte.
//!
//! The patterns are collected in one byte buffer ([`Patterns`]), sorted, deduplicated and
//! turned into the *minimal* acyclic automaton in one pass (the incremental construction for
//! sorted input of Daciuk, Mihov, Watson and Watson, 2000): a state is frozen as soon as no
//! later pattern can pass through it, and a frozen state equal to one already built (same
//! terminal flag, same edges to the same states) is replaced by it. Inflected forms share
//! their endings as well as their beginnings, so 1.4 million Russian forms need 96,568 states
//! instead of the 4.6 million of a trie, and nothing but the sorted buffer and the automaton
//! itself is held while building. The plain trie it replaces is kept in
//! the tests as the oracle: both accept exactly the same byte strings.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

use super::{DEAD, START};
use crate::error::{BanError, BanErrorKind};

/// A state: its outgoing edges are `edges[first..first + count]`, sorted by byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Node {
    first: u32,
    count: u16,
    terminal: bool,
}

/// Normalised patterns, one after another in one buffer: what the compiler collects per lane
/// before building the engine (no allocation per pattern).
#[derive(Clone, Debug, Default)]
pub(crate) struct Patterns {
    bytes: Vec<u8>,
    /// Where each pattern ends in `bytes` (it starts where the previous one ends).
    ends: Vec<u32>,
}

impl Patterns {
    /// The buffer to append the next pattern's bytes to; [`Patterns::close`] ends it.
    pub(crate) fn open(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Ends the pattern written since the last close. Fails when the patterns outgrow the
    /// buffer's 32-bit offsets (4 GiB of normalised text).
    pub(crate) fn close(&mut self) -> Result<(), BanError> {
        let end = u32::try_from(self.bytes.len()).map_err(|_| too_large())?;
        self.ends.push(end);
        Ok(())
    }

    /// Adds one pattern.
    #[cfg(test)]
    pub(crate) fn push(&mut self, p: &[u8]) -> Result<(), BanError> {
        self.bytes.extend_from_slice(p);
        self.close()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// The patterns sorted, each once.
    pub(crate) fn sorted(self) -> SortedPatterns {
        // Sorted by (first 8 bytes, index): most comparisons end on the integer, without a
        // call to compare slices. A pattern shorter than 8 bytes is padded with zeros, so
        // ties on the key are settled by the whole slices.
        let key = |p: &[u8]| {
            let mut k = [0u8; 8];
            let n = p.len().min(8);
            k[..n].copy_from_slice(&p[..n]);
            u64::from_be_bytes(k)
        };
        let mut keyed: Vec<(u64, u32)> = (0..self.ends.len())
            .map(|i| (key(self.get(i)), i as u32))
            .collect();
        keyed.sort_unstable_by(|&(ka, a), &(kb, b)| {
            ka.cmp(&kb)
                .then_with(|| self.get(a as usize).cmp(self.get(b as usize)))
        });
        let mut order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
        order.dedup_by(|a, b| self.get(*a as usize) == self.get(*b as usize));
        SortedPatterns {
            patterns: self,
            order,
        }
    }
}

/// Patterns with their byte order: one run of the merge that builds the engine.
#[derive(Clone, Debug, Default)]
pub(crate) struct SortedPatterns {
    patterns: Patterns,
    /// Indices of the distinct patterns, in byte order.
    order: Vec<u32>,
}

impl SortedPatterns {
    fn get(&self, k: usize) -> Option<&[u8]> {
        self.order.get(k).map(|&i| self.patterns.get(i as usize))
    }
}

fn too_large() -> BanError {
    BanError::new(BanErrorKind::TooComplex(
        "the plain entries take more than 4 GiB once normalised".to_string(),
    ))
}

/// The minimal anchored automaton of the patterns. Node 0 is the start state ([`START`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LiteralEngine {
    /// Start transitions, dense: every thread's first step goes through here.
    root: Box<[u32; 256]>,
    nodes: Vec<Node>,
    edges: Vec<(u8, u32)>,
    /// Number of distinct patterns.
    patterns: usize,
}

/// An edge whose target is the next state of the path under construction.
const PENDING: u32 = u32::MAX - 1;

/// A state on the path of the last pattern added: still open to new edges.
#[derive(Default)]
struct Open {
    edges: Vec<(u8, u32)>,
    terminal: bool,
}

/// The incremental construction: the path of the last pattern is open, every other state is
/// frozen in `nodes`/`edges` and found again through `register` by its content.
struct Builder {
    nodes: Vec<Node>,
    edges: Vec<(u8, u32)>,
    register: HashTable<u32>,
    hasher: DefaultHashBuilder,
    path: Vec<Open>,
    /// Emptied states, reused for the path.
    spare: Vec<Open>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            // Node 0 is the start state, written last.
            nodes: vec![Node {
                first: 0,
                count: 0,
                terminal: false,
            }],
            edges: Vec::new(),
            register: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            path: vec![Open::default()],
            spare: Vec::new(),
        }
    }

    fn hash(hasher: &DefaultHashBuilder, terminal: bool, edges: &[(u8, u32)]) -> u64 {
        hasher.hash_one((terminal, edges))
    }

    /// Adds a pattern greater than every pattern added before.
    fn add(&mut self, p: &[u8], previous: &[u8]) {
        let common = p.iter().zip(previous).take_while(|(a, b)| a == b).count();
        self.freeze_below(common);
        for &b in &p[common..] {
            self.path
                .last_mut()
                .expect("the start state is open")
                .edges
                .push((b, PENDING));
            let next = self.spare.pop().unwrap_or_default();
            self.path.push(next);
        }
        self.path.last_mut().expect("a path").terminal = true;
    }

    /// Freezes the open states deeper than `depth`, each into its parent's last edge.
    fn freeze_below(&mut self, depth: usize) {
        while self.path.len() > depth + 1 {
            let mut open = self.path.pop().expect("checked length");
            let id = self.freeze(&open);
            let parent = self.path.last_mut().expect("the start state stays");
            parent
                .edges
                .last_mut()
                .expect("an edge to the frozen state")
                .1 = id;
            open.edges.clear();
            open.terminal = false;
            self.spare.push(open);
        }
    }

    /// The frozen state equal to `open`, built if there is none yet.
    fn freeze(&mut self, open: &Open) -> u32 {
        let Builder {
            nodes,
            edges,
            register,
            hasher,
            ..
        } = self;
        let h = Self::hash(hasher, open.terminal, &open.edges);
        let found = register.find(h, |&id| {
            let n = nodes[id as usize];
            n.terminal == open.terminal
                && edges[n.first as usize..n.first as usize + n.count as usize] == open.edges[..]
        });
        if let Some(&id) = found {
            return id;
        }
        let id = nodes.len() as u32;
        nodes.push(Node {
            first: edges.len() as u32,
            count: open.edges.len() as u16,
            terminal: open.terminal,
        });
        edges.extend_from_slice(&open.edges);
        register.insert_unique(h, id, |&id| {
            let n = nodes[id as usize];
            Self::hash(
                hasher,
                n.terminal,
                &edges[n.first as usize..n.first as usize + n.count as usize],
            )
        });
        id
    }

    fn finish(mut self, patterns: usize) -> LiteralEngine {
        self.freeze_below(0);
        let start = self.path.pop().expect("the start state");
        let mut root = Box::new([DEAD; 256]);
        for &(b, n) in &start.edges {
            root[b as usize] = n;
        }
        self.nodes[START as usize] = Node {
            first: self.edges.len() as u32,
            count: start.edges.len() as u16,
            terminal: start.terminal,
        };
        self.edges.extend_from_slice(&start.edges);
        self.nodes.shrink_to_fit();
        self.edges.shrink_to_fit();
        LiteralEngine {
            root,
            nodes: self.nodes,
            edges: self.edges,
            patterns,
        }
    }
}

impl LiteralEngine {
    /// Builds the minimal automaton of the patterns of every run (collected apart, for
    /// instance by threads): the runs are merged in byte order, each pattern once.
    pub(crate) fn new(runs: &[SortedPatterns]) -> LiteralEngine {
        let mut builder = Builder::new();
        let mut previous: &[u8] = &[];
        let mut count = 0;
        let mut at = vec![0usize; runs.len()];
        loop {
            // The smallest head of the runs (a handful of them: a scan, not a heap).
            let mut next: Option<(usize, &[u8])> = None;
            for (r, run) in runs.iter().enumerate() {
                if let Some(p) = run.get(at[r]) {
                    if next.is_none_or(|(_, q)| p < q) {
                        next = Some((r, p));
                    }
                }
            }
            let Some((r, p)) = next else { break };
            at[r] += 1;
            if count > 0 && p == previous {
                continue;
            }
            builder.add(p, previous);
            previous = p;
            count += 1;
        }
        builder.finish(count)
    }

    /// Number of distinct patterns compiled in.
    pub(crate) fn pattern_count(&self) -> usize {
        self.patterns
    }

    #[inline]
    pub(crate) fn next(&self, s: u32, b: u8) -> u32 {
        if s == START {
            return self.root[b as usize];
        }
        let n = self.nodes[s as usize];
        let kids = &self.edges[n.first as usize..n.first as usize + n.count as usize];
        if kids.len() <= 8 {
            for &(c, t) in kids {
                if c == b {
                    return t;
                }
            }
            DEAD
        } else {
            match kids.binary_search_by_key(&b, |&(c, _)| c) {
                Ok(i) => kids[i].1,
                Err(_) => DEAD,
            }
        }
    }

    /// True if `s` has a transition on some byte of `bytes` (sorted ascending) other than
    /// `except`: one merge of two sorted lists instead of a lookup per byte.
    #[inline]
    pub(crate) fn lives_on_any(&self, s: u32, bytes: &[u8], except: Option<u8>) -> bool {
        if s == START {
            return bytes
                .iter()
                .any(|&b| Some(b) != except && self.root[b as usize] != DEAD);
        }
        let n = self.nodes[s as usize];
        let kids = &self.edges[n.first as usize..n.first as usize + n.count as usize];
        let (mut i, mut j) = (0, 0);
        while i < kids.len() && j < bytes.len() {
            let (k, b) = (kids[i].0, bytes[j]);
            if k < b {
                i += 1;
            } else if b < k {
                j += 1;
            } else {
                if Some(b) != except {
                    return true;
                }
                i += 1;
                j += 1;
            }
        }
        false
    }

    #[inline]
    pub(crate) fn is_match(&self, s: u32) -> bool {
        self.nodes[s as usize].terminal
    }

    pub(crate) fn memory_usage(&self) -> usize {
        256 * 4
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.edges.capacity() * std::mem::size_of::<(u8, u32)>()
    }

    pub(crate) fn state_count(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The oracle: a plain trie, one state per distinct prefix.
    struct Trie {
        children: Vec<BTreeMap<u8, usize>>,
        terminal: Vec<bool>,
    }

    impl Trie {
        fn new(patterns: &[Vec<u8>]) -> Trie {
            let mut t = Trie {
                children: vec![BTreeMap::new()],
                terminal: vec![false],
            };
            for p in patterns {
                let mut node = 0;
                for &b in p {
                    node = match t.children[node].get(&b) {
                        Some(&n) => n,
                        None => {
                            t.children.push(BTreeMap::new());
                            t.terminal.push(false);
                            let n = t.children.len() - 1;
                            t.children[node].insert(b, n);
                            n
                        }
                    };
                }
                t.terminal[node] = true;
            }
            t
        }
    }

    /// The patterns split over three runs, as threads would collect them.
    fn engine(patterns: &[Vec<u8>]) -> LiteralEngine {
        let mut runs = vec![Patterns::default(); 3];
        for (i, p) in patterns.iter().enumerate() {
            runs[i % 3].push(p).unwrap();
        }
        let runs: Vec<SortedPatterns> = runs.into_iter().map(Patterns::sorted).collect();
        LiteralEngine::new(&runs)
    }

    /// Walks the trie and the engine side by side over every byte from every trie state
    /// reached: same deaths, same matches, everywhere.
    fn assert_same_language(patterns: &[Vec<u8>], bytes: &[u8]) {
        let trie = Trie::new(patterns);
        let e = engine(patterns);
        let mut stack = vec![(0usize, START)];
        while let Some((t, s)) = stack.pop() {
            assert_eq!(trie.terminal[t], s != START && e.is_match(s));
            for &b in bytes {
                match (trie.children[t].get(&b), e.next(s, b)) {
                    (None, DEAD) => {}
                    (Some(&t2), s2) if s2 != DEAD => stack.push((t2, s2)),
                    (t2, s2) => panic!("byte {b}: trie {t2:?}, engine {s2}"),
                }
            }
        }
        assert!(e.state_count() <= trie.children.len());
    }

    proptest! {
        #[test]
        fn the_minimal_automaton_accepts_what_the_trie_does(
            patterns in prop::collection::vec(prop::collection::vec(0u8..4, 1..7), 0..40),
        ) {
            assert_same_language(&patterns, &[0, 1, 2, 3]);
        }
    }

    #[test]
    fn shared_endings_share_states() {
        let words: Vec<Vec<u8>> = ["cats", "rats", "hats", "cat", "rat", "hat", "cat"]
            .iter()
            .map(|w| w.as_bytes().to_vec())
            .collect();
        assert_same_language(&words, b"achrstz");
        let e = engine(&words);
        // start, after c/r/h, after a, after t (terminal), after s (terminal): 5 states where
        // a trie has 13.
        assert_eq!(e.state_count(), 5);
        assert_eq!(e.pattern_count(), 6);
    }

    #[test]
    fn no_patterns_is_a_dead_start() {
        let e = engine(&[]);
        assert!((0..=255u8).all(|b| e.next(START, b) == DEAD));
        assert_eq!(e.pattern_count(), 0);
    }
}
