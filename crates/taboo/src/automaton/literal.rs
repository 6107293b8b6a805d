//! The literal engine: an anchored trie of normalised patterns.
//!
//! Plain words and phrases compile here in milliseconds (10,000 words: a few tens of
//! thousands of nodes). It is stepped like a DFA whose every thread starts anchored; the
//! "search anywhere" part lives in the caller, which starts a fresh thread at every byte.

use super::{DEAD, START};

/// A node: its outgoing edges are `edges[first..first + count]`, sorted by byte.
#[derive(Clone, Copy, Debug)]
struct Node {
    first: u32,
    count: u16,
    terminal: bool,
}

/// An anchored trie over normalised pattern bytes. Node 0 is the root ([`START`]).
#[derive(Clone, Debug)]
pub(crate) struct LiteralEngine {
    /// Root transitions, dense: every thread's first step goes through here.
    root: Box<[u32; 256]>,
    nodes: Vec<Node>,
    edges: Vec<(u8, u32)>,
}

impl LiteralEngine {
    /// Builds the trie of the given normalised patterns.
    pub(crate) fn new<'a>(patterns: impl IntoIterator<Item = &'a [u8]>) -> LiteralEngine {
        // Build with per-node child lists, then flatten into sorted edge runs.
        let mut children: Vec<Vec<(u8, u32)>> = vec![Vec::new()];
        let mut terminal = vec![false];
        for p in patterns {
            let mut node = 0usize;
            for &b in p {
                node = match children[node].iter().find(|&&(c, _)| c == b) {
                    Some(&(_, n)) => n as usize,
                    None => {
                        let n = children.len();
                        children.push(Vec::new());
                        terminal.push(false);
                        children[node].push((b, n as u32));
                        n
                    }
                };
            }
            terminal[node] = true;
        }
        let mut nodes = Vec::with_capacity(children.len());
        let mut edges = Vec::new();
        let mut root = Box::new([DEAD; 256]);
        for (i, mut kids) in children.into_iter().enumerate() {
            kids.sort_unstable();
            if i == 0 {
                for &(b, n) in &kids {
                    root[b as usize] = n;
                }
            }
            nodes.push(Node {
                first: edges.len() as u32,
                count: kids.len() as u16,
                terminal: terminal[i],
            });
            edges.extend(kids);
        }
        LiteralEngine { root, nodes, edges }
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
