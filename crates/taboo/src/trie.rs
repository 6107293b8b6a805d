//! The token trie: every text token's bytes in one flat, depth-first array.
//!
//! ```text
//! tokens: " c"=0  " ca"=1  " cat"=2  "."=3  " cat"=4 (duplicate bytes)
//!
//! index  byte  subtree_end  own tokens   subtree tokens
//!   0    root      6        -            order[0..5]
//!   1    ' '       5        -            order[0..4]
//!   2    'c'       5        [0]          order[0..4]
//!   3    'a'       5        [1]          order[1..4]
//!   4    't'       5        [2, 4]       order[2..4]
//!   5    '.'       6        [3]          order[4..5]
//! ```
//!
//! Tokens are sorted by bytes, so a node's tokens — its own and its descendants' — are one
//! contiguous run of `order`, and skipping a subtree is a jump to `subtree_end`. A mask walk
//! visits nodes in index order, keeping one automaton state per depth on a stack.

use std::sync::Arc;

use crate::bitset::TokenSet;
use crate::shared_map::SharedMap;
use crate::text::{Emission, Fold, NormState, MARK};
use crate::vocab::{TokenId, Vocabulary};

/// One trie node: 12 bytes, three `u32`s.
///
/// ```text
/// subtree_end  u32   one past the last node of this node's subtree
/// tok_start    u32   first token (in `order`) at or under this node
/// byte_own     u32   bits 0–7: the byte on the edge into this node (0 for the root)
///                    bits 8–31: how many tokens end exactly here (tokens with equal bytes)
/// ```
///
/// `u32` offsets bound the trie to 4 billion nodes and tokens, far above any vocabulary
/// (o200k has about 420,000 nodes); 24 bits of own count bound the tokens sharing one byte
/// string to 16 million, more than any vocabulary has tokens. The end of a node's token run
/// is not stored: tokens are sorted by bytes and nodes laid out depth first, so the run ends
/// where the next subtree's begins ([`TokenTrie::tok_end`]). On o200k this is 5.1 MB of nodes
/// instead of 8.4 MB at 20 bytes a node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    pub(crate) subtree_end: u32,
    pub(crate) tok_start: u32,
    byte_own: u32,
}

impl Node {
    fn new(byte: u8, subtree_end: u32, tok_start: u32) -> Node {
        Node {
            subtree_end,
            tok_start,
            byte_own: byte as u32,
        }
    }

    /// The byte on the edge into this node (unused for the root).
    #[inline]
    pub(crate) fn byte(&self) -> u8 {
        self.byte_own as u8
    }

    /// `order[tok_start..tok_own_end()]` end exactly here.
    #[inline]
    pub(crate) fn tok_own_end(&self) -> u32 {
        self.tok_start + (self.byte_own >> 8)
    }

    fn add_own(&mut self) {
        self.byte_own += 1 << 8;
    }
}

const _: () = assert!(std::mem::size_of::<Node>() == 12);

/// A flat trie over the byte strings of a vocabulary's text tokens.
#[derive(Clone, Debug)]
pub struct TokenTrie {
    pub(crate) nodes: Vec<Node>,
    pub(crate) order: Vec<TokenId>,
}

impl TokenTrie {
    /// Builds the trie of every text token of `vocab` (special tokens are left out).
    pub fn new(vocab: &Vocabulary) -> TokenTrie {
        let mut toks: Vec<(&[u8], TokenId)> = vocab.text_tokens().map(|(id, b)| (b, id)).collect();
        toks.sort_unstable();
        let mut nodes = vec![Node::new(0, 0, 0)];
        let mut order = Vec::with_capacity(toks.len());
        // path[d] = index of the open node at depth d (path[0] = root).
        let mut path: Vec<usize> = vec![0];
        let mut prev: &[u8] = &[];
        for (bytes, id) in toks {
            let common = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            while path.len() > common + 1 {
                let n = path.pop().expect("non-empty path");
                nodes[n].subtree_end = nodes.len() as u32;
            }
            for &b in &bytes[common..] {
                path.push(nodes.len());
                nodes.push(Node::new(b, 0, order.len() as u32));
            }
            let last = *path.last().expect("non-empty path");
            order.push(id);
            nodes[last].add_own();
            prev = bytes;
        }
        while let Some(n) = path.pop() {
            nodes[n].subtree_end = nodes.len() as u32;
        }
        nodes.shrink_to_fit();
        TokenTrie { nodes, order }
    }

    /// One past the last token at or under node `i`: `order[nodes[i].tok_start..tok_end(i)]`
    /// are all tokens that start with the node's bytes.
    #[inline]
    pub(crate) fn tok_end(&self, i: usize) -> u32 {
        match self.nodes.get(self.nodes[i].subtree_end as usize) {
            Some(next) => next.tok_start,
            None => self.order.len() as u32,
        }
    }

    /// Number of nodes (including the root).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes held.
    pub fn memory_usage(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.order.capacity() * 4
    }
}

/// What mask walks need of a vocabulary and nothing else: its trie, the token sets of large
/// subtrees (after a complete banned word every token that starts with a space or punctuation
/// — half a vocabulary, one subtree — is forbidden by one set union instead of a hundred
/// thousand inserts), and where in the trie boundary marks are written ([`Self::marks_below`]).
/// Held once by the [`Vocabulary`] and shared by every mask table over it, whatever its ban
/// list.
pub(crate) struct TrieIndex {
    pub(crate) trie: TokenTrie,
    subtree_sets: SharedMap<u32, TokenSet>,
    marks_below: SharedMap<(Fold, NormState), TokenSet>,
    vocab_len: usize,
}

impl TrieIndex {
    pub(crate) fn new(vocab: &Vocabulary) -> TrieIndex {
        TrieIndex {
            trie: TokenTrie::new(vocab),
            subtree_sets: SharedMap::new(),
            marks_below: SharedMap::new(),
            vocab_len: vocab.len(),
        }
    }

    /// The tokens under trie node `node` as a set, built on first use.
    pub(crate) fn subtree_set(&self, node: u32) -> Arc<TokenSet> {
        self.subtree_sets.get_or_build(node, || {
            let n = &self.trie.nodes[node as usize];
            let mut set = TokenSet::new(self.vocab_len);
            let end = self.trie.tok_end(node as usize) as usize;
            for &t in &self.trie.order[n.tok_start as usize..end] {
                set.insert(t);
            }
            set
        })
    }

    /// The trie nodes under which a boundary mark is written, for text read from `norm` and
    /// folded by `fold`: bit `i` is set when some node strictly below node `i` writes a mark
    /// (its byte, read after its ancestors' bytes, completes a character the normaliser
    /// writes as or with a mark). Built on first use, one pass over the trie with the
    /// normaliser alone (about as long as one mask walk), then shared by every ban list.
    ///
    /// This is what lets the walk that starts a thread at every byte prune: a whole-word
    /// match can only begin at a mark, so once a token's threads have died, a subtree that
    /// writes no mark holds nothing for it.
    pub(crate) fn marks_below(&self, fold: Fold, norm: NormState) -> Arc<TokenSet> {
        self.marks_below.get_or_build((fold, norm), || {
            let nodes = &self.trie.nodes;
            let n = nodes.len();
            // marks[i]: marks written by nodes 0..i (in depth-first order), so a subtree's
            // count is a difference of two entries.
            let mut marks = vec![0u32; n + 1];
            let mut stack: Vec<(u32, NormState)> = vec![(n as u32, norm)];
            for i in 1..n {
                let node = nodes[i];
                while stack.last().is_some_and(|f| f.0 as usize <= i) {
                    stack.pop();
                }
                let mut ns = stack.last().expect("the root frame spans the whole trie").1;
                let mut e = Emission::new();
                ns.push(node.byte(), fold, &mut e);
                marks[i + 1] = marks[i] + e.as_bytes().contains(&MARK) as u32;
                stack.push((node.subtree_end, ns));
            }
            let mut below = TokenSet::new(n);
            for (i, node) in nodes.iter().enumerate() {
                if marks[node.subtree_end as usize] > marks[i + 1] {
                    below.insert(i as u32);
                }
            }
            below
        })
    }

    /// Heap bytes held: the trie and the subtree sets and mark maps built so far.
    pub(crate) fn memory_usage(&self) -> usize {
        self.trie.memory_usage()
            + self.subtree_sets.total(TokenSet::memory_usage)
            + self.marks_below.total(TokenSet::memory_usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_the_doc_example() {
        let mut b = Vocabulary::builder();
        for t in [" c", " ca", " cat", ".", " cat"] {
            b.text(t);
        }
        b.special("</s>");
        let trie = TokenTrie::new(&b.build());
        let n = &trie.nodes;
        assert_eq!(n.len(), 6);
        assert_eq!(trie.order, vec![0, 1, 2, 4, 3]);
        assert_eq!(
            (n[0].subtree_end, n[0].tok_start, trie.tok_end(0)),
            (6, 0, 5)
        );
        assert_eq!(
            (n[1].byte(), n[1].subtree_end, trie.tok_end(1)),
            (b' ', 5, 4)
        );
        assert_eq!(
            (n[4].byte(), n[4].tok_start, n[4].tok_own_end()),
            (b't', 2, 4)
        );
        assert_eq!((n[5].byte(), n[5].tok_start, trie.tok_end(5)), (b'.', 4, 5));
        assert_eq!((n[2].tok_own_end(), trie.tok_end(2)), (1, 4));
    }
}
