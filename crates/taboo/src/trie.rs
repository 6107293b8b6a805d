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

use crate::vocab::{TokenId, Vocabulary};

/// One trie node: 20 bytes. `u32` offsets bound the trie to 4 billion nodes and tokens,
/// far above any vocabulary (o200k has about 420,000 nodes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    /// The byte on the edge into this node (unused for the root).
    pub(crate) byte: u8,
    /// One past the last node of this node's subtree.
    pub(crate) subtree_end: u32,
    /// `order[tok_start..tok_own_end]` end exactly here.
    pub(crate) tok_start: u32,
    pub(crate) tok_own_end: u32,
    /// `order[tok_start..tok_end]` are all tokens that start with this node's bytes.
    pub(crate) tok_end: u32,
}

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
        let mut nodes = vec![Node {
            byte: 0,
            subtree_end: 0,
            tok_start: 0,
            tok_own_end: 0,
            tok_end: 0,
        }];
        let mut order = Vec::with_capacity(toks.len());
        // path[d] = index of the open node at depth d (path[0] = root).
        let mut path: Vec<usize> = vec![0];
        let mut prev: &[u8] = &[];
        for (bytes, id) in toks {
            let common = prev.iter().zip(bytes).take_while(|(a, b)| a == b).count();
            while path.len() > common + 1 {
                let n = path.pop().expect("non-empty path");
                nodes[n].subtree_end = nodes.len() as u32;
                nodes[n].tok_end = order.len() as u32;
            }
            for &b in &bytes[common..] {
                path.push(nodes.len());
                nodes.push(Node {
                    byte: b,
                    subtree_end: 0,
                    tok_start: order.len() as u32,
                    tok_own_end: order.len() as u32,
                    tok_end: 0,
                });
            }
            let last = *path.last().expect("non-empty path");
            order.push(id);
            nodes[last].tok_own_end = order.len() as u32;
            prev = bytes;
        }
        while let Some(n) = path.pop() {
            nodes[n].subtree_end = nodes.len() as u32;
            nodes[n].tok_end = order.len() as u32;
        }
        TokenTrie { nodes, order }
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
        assert_eq!((n[0].subtree_end, n[0].tok_start, n[0].tok_end), (6, 0, 5));
        assert_eq!((n[1].byte, n[1].subtree_end, n[1].tok_end), (b' ', 5, 4));
        assert_eq!((n[4].byte, n[4].tok_start, n[4].tok_own_end), (b't', 2, 4));
        assert_eq!((n[5].byte, n[5].tok_start, n[5].tok_end), (b'.', 4, 5));
    }
}
