//! Spellings: the token sequences whose bytes are exactly a given text.
//!
//! A word has many spellings in tokens — `" elephant"` has 169 in GPT-2's vocabulary — and a
//! token-id ban covers one or two of them. Counting them exactly is a dynamic programme over
//! byte offsets: `ways[i]` = number of spellings of `text[i..]` = Σ `ways[i + len(t)]` over the
//! tokens `t` that `text[i..]` starts with (found by walking the token trie), `ways[len] = 1`.
//! Counts past `u128::MAX` saturate, and say so ([`SpellingCount`]): a word of 300 `a`s has
//! more spellings than 128 bits can hold, and printing `u128::MAX` as if it were exact would
//! be false.

use std::fmt;

use crate::trie::TokenTrie;
use crate::vocab::{TokenId, Vocabulary};

/// A number of spellings: exact, or known to exceed `u128::MAX`.
///
/// ```
/// use taboo::SpellingCount;
/// let big = SpellingCount::exact(u128::MAX).saturating_add(SpellingCount::exact(1));
/// assert!(big.is_saturated());
/// assert_eq!(big.to_string(), "more than 340282366920938463463374607431768211455");
/// assert_eq!(SpellingCount::exact(6).to_string(), "6");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpellingCount {
    value: u128,
    saturated: bool,
}

impl SpellingCount {
    /// No spelling.
    pub const ZERO: SpellingCount = SpellingCount {
        value: 0,
        saturated: false,
    };

    /// An exact count.
    pub const fn exact(value: u128) -> SpellingCount {
        SpellingCount {
            value,
            saturated: false,
        }
    }

    /// The count, or `u128::MAX` when it is larger than that.
    pub fn value(self) -> u128 {
        self.value
    }

    /// True when the real count is larger than `u128::MAX`.
    pub fn is_saturated(self) -> bool {
        self.saturated
    }

    /// The sum, saturated (and marked so) when it overflows.
    #[must_use]
    pub fn saturating_add(self, other: SpellingCount) -> SpellingCount {
        let (value, overflow) = self.value.overflowing_add(other.value);
        if overflow || self.saturated || other.saturated {
            SpellingCount {
                value: u128::MAX,
                saturated: true,
            }
        } else {
            SpellingCount::exact(value)
        }
    }
}

impl PartialEq<u128> for SpellingCount {
    fn eq(&self, other: &u128) -> bool {
        !self.saturated && self.value == *other
    }
}

impl fmt::Display for SpellingCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.saturated {
            write!(f, "more than {}", u128::MAX)
        } else {
            write!(f, "{}", self.value)
        }
    }
}

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

    /// The number of token sequences whose concatenated bytes are exactly `text` (marked
    /// saturated past `u128::MAX`). Special tokens never count.
    pub fn count(&self, text: &[u8]) -> SpellingCount {
        self.suffix_counts(text)[0]
    }

    /// `ways[i]` = the number of spellings of `text[i..]`, for every offset `i` (so
    /// `ways[text.len()] == 1`): the whole dynamic programme, for callers that need more
    /// than its first entry.
    pub fn suffix_counts(&self, text: &[u8]) -> Vec<SpellingCount> {
        let n = text.len();
        let mut ways = vec![SpellingCount::ZERO; n + 1];
        ways[n] = SpellingCount::exact(1);
        for i in (0..n).rev() {
            let mut w = SpellingCount::ZERO;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// With tokens "a" and "aa", the spellings of n `a`s are the Fibonacci number F(n+1),
    /// which passes `u128::MAX` between n = 185 and n = 186: the count must say so rather
    /// than print the saturated value as exact.
    #[test]
    fn a_count_past_128_bits_is_marked_saturated() {
        let mut b = Vocabulary::builder();
        b.text("a");
        b.text("aa");
        let vocab = b.build();
        let s = Spellings::new(&vocab);
        let (mut x, mut y) = (1u128, 1u128); // F(1), F(2)
        for n in 1..=185usize {
            let c = s.count(&vec![b'a'; n]);
            assert_eq!(c, y, "n = {n}");
            assert!(!c.is_saturated());
            let next = x.checked_add(y);
            x = y;
            match next {
                Some(v) => y = v,
                None => {
                    assert_eq!(n, 185, "overflow expected right after n = 185");
                    break;
                }
            }
        }
        for n in [186usize, 300] {
            let c = s.count(&vec![b'a'; n]);
            assert!(c.is_saturated(), "n = {n}");
            assert_ne!(c, u128::MAX, "a saturated count equals no exact number");
            assert_eq!(
                c.to_string(),
                "more than 340282366920938463463374607431768211455"
            );
        }
    }
}
