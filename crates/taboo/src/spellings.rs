//! Spellings: the token sequences whose bytes are exactly a given text.
//!
//! A word has many spellings in tokens — `" elephant"` has 169 in GPT-2's vocabulary — and a
//! token-id ban covers one or two of them. Counting them exactly is a dynamic programme over
//! byte offsets: `ways[i]` = number of spellings of `text[i..]` = Σ `ways[i + len(t)]` over the
//! tokens `t` that `text[i..]` starts with (found by walking the token trie), `ways[len] = 1`.
//! Counts saturate at `u128::MAX` rather than being enumerated.

use crate::trie::TokenTrie;
use crate::vocab::{TokenId, Vocabulary};

/// Counts and samples the spellings of texts in one vocabulary.
///
/// ```
/// use taboo::{Spellings, Vocabulary};
/// let mut b = Vocabulary::builder();
/// for t in [" ", "c", "a", "t", " c", "at", " cat", "ca"] {
///     b.text(t);
/// }
/// let vocab = b.build();
/// let s = Spellings::new(&vocab);
/// // " cat" | " c"+"at" | " c"+"a"+"t" | " "+"c"+"at" | " "+"c"+"a"+"t" | " "+"ca"+"t"
/// assert_eq!(s.count(b" cat"), 6);
/// assert_eq!(s.sample(b" cat", 2), vec![vec![6], vec![4, 5]]);
/// ```
pub struct Spellings<'v> {
    vocab: &'v Vocabulary,
    trie: TokenTrie,
}

impl<'v> Spellings<'v> {
    /// Builds the token trie of `vocab`.
    pub fn new(vocab: &'v Vocabulary) -> Spellings<'v> {
        Spellings {
            vocab,
            trie: TokenTrie::new(vocab),
        }
    }

    /// The tokens whose bytes are a prefix of `text`, shortest first.
    pub fn tokens_at(&self, text: &[u8]) -> Vec<TokenId> {
        let nodes = &self.trie.nodes;
        let mut out = Vec::new();
        let mut node = 0usize;
        for &b in text {
            // Children of `node` are the nodes from node + 1 up to its subtree end, each
            // followed by its own subtree.
            let end = nodes[node].subtree_end as usize;
            let mut child = node + 1;
            let mut found = None;
            while child < end {
                if nodes[child].byte() == b {
                    found = Some(child);
                    break;
                }
                child = nodes[child].subtree_end as usize;
            }
            let Some(c) = found else { break };
            node = c;
            let n = nodes[node];
            out.extend_from_slice(&self.trie.order[n.tok_start as usize..n.tok_own_end() as usize]);
        }
        out
    }

    /// The number of token sequences whose concatenated bytes are exactly `text`
    /// (saturating at `u128::MAX`). Special tokens never count.
    pub fn count(&self, text: &[u8]) -> u128 {
        self.suffix_counts(text)[0]
    }

    /// `ways[i]` = the number of spellings of `text[i..]`, for every offset `i` (so
    /// `ways[text.len()] == 1`): the whole dynamic programme, for callers that need more
    /// than its first entry.
    pub fn suffix_counts(&self, text: &[u8]) -> Vec<u128> {
        let n = text.len();
        let mut ways = vec![0u128; n + 1];
        ways[n] = 1;
        for i in (0..n).rev() {
            let mut w = 0u128;
            for t in self.tokens_at(&text[i..]) {
                let len = self.vocab.token_bytes(t).map_or(0, <[u8]>::len);
                if len > 0 {
                    w = w.saturating_add(ways[i + len]);
                }
            }
            ways[i] = w;
        }
        ways
    }

    /// Up to `limit` spellings, fewest tokens first (ties: in vocabulary byte order).
    pub fn sample(&self, text: &[u8], limit: usize) -> Vec<Vec<TokenId>> {
        // Breadth-first over (offset, path) so that short spellings come first.
        let mut out = Vec::new();
        let mut frontier: Vec<(usize, Vec<TokenId>)> = vec![(0, Vec::new())];
        while !frontier.is_empty() && out.len() < limit {
            let mut next = Vec::new();
            for (at, path) in frontier {
                if at == text.len() {
                    out.push(path);
                    if out.len() == limit {
                        break;
                    }
                    continue;
                }
                let mut toks = self.tokens_at(&text[at..]);
                toks.reverse(); // longest first
                for t in toks {
                    let len = self.vocab.token_bytes(t).map_or(0, <[u8]>::len);
                    if len > 0 && next.len() < 4096 {
                        let mut p = path.clone();
                        p.push(t);
                        next.push((at + len, p));
                    }
                }
            }
            frontier = next;
        }
        out
    }
}
