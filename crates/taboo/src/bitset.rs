//! A fixed-size set of token ids, one bit each: a 262,144-token vocabulary takes 32 KiB and
//! a union is a few thousand word ORs.
//!
//! Most sets a guard applies are empty or hold a handful of ids, yet a logits edit has to
//! find them in thousands of words every step. So a set also keeps a summary, one bit per
//! word, set when the word may hold an id: reading a set costs its summary (1/64 of it)
//! plus the words that hold something.

/// A set of token ids below a fixed bound.
///
/// ```
/// use taboo::TokenSet;
/// let mut s = TokenSet::new(100);
/// s.insert(3);
/// s.insert(64);
/// assert!(s.contains(64));
/// assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 64]);
/// ```
#[derive(Clone)]
pub struct TokenSet {
    words: Vec<u64>,
    /// Bit `i % 64` of `occupied[i / 64]` is set when `words[i]` may be non-zero; a clear bit
    /// means the word is zero. (Removing ids leaves the bit set: it is a hint, kept exact
    /// for insertions and unions, conservative for differences.)
    occupied: Vec<u64>,
    len: usize,
}

impl PartialEq for TokenSet {
    fn eq(&self, other: &TokenSet) -> bool {
        self.len == other.len && self.words == other.words
    }
}

impl Eq for TokenSet {}

impl TokenSet {
    /// An empty set for ids `0..len`.
    pub fn new(len: usize) -> TokenSet {
        let words = len.div_ceil(64);
        TokenSet {
            words: vec![0; words],
            occupied: vec![0; words.div_ceil(64)],
            len,
        }
    }

    /// The bound this set was made for.
    pub fn capacity(&self) -> usize {
        self.len
    }

    /// Adds an id (ids out of range are ignored).
    #[inline]
    pub fn insert(&mut self, id: u32) {
        if id as usize >= self.len {
            return;
        }
        let wi = id as usize / 64;
        self.words[wi] |= 1 << (id % 64);
        self.occupied[wi / 64] |= 1 << (wi % 64);
    }

    /// True if the id is in the set.
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Adds every id of `other`.
    pub fn union_with(&mut self, other: &TokenSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
        for (a, b) in self.occupied.iter_mut().zip(&other.occupied) {
            *a |= b;
        }
    }

    /// Removes every id of `other`.
    pub fn difference_with(&mut self, other: &TokenSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Number of ids in the set.
    pub fn count(&self) -> usize {
        self.nonzero_words()
            .map(|(_, w)| w.count_ones() as usize)
            .sum()
    }

    /// True when no id is in the set.
    pub fn is_empty(&self) -> bool {
        self.nonzero_words().next().is_none()
    }

    /// The words that hold ids, ascending, with their index: word `i` holds ids
    /// `64 * i ..`. Only the words the summary marks are read.
    pub fn nonzero_words(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.occupied.iter().enumerate().flat_map(move |(oi, &o)| {
            let mut o = o;
            std::iter::from_fn(move || loop {
                if o == 0 {
                    return None;
                }
                let wi = oi * 64 + o.trailing_zeros() as usize;
                o &= o - 1;
                let w = self.words[wi];
                if w != 0 {
                    return Some((wi, w));
                }
            })
        })
    }

    /// The ids, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.nonzero_words().flat_map(|(i, w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + bit)
            })
        })
    }

    /// The set as 64-bit words: id `t` is bit `t % 64` of word `t / 64`; bits past
    /// [`TokenSet::capacity`] are always clear.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Heap bytes held.
    pub fn memory_usage(&self) -> usize {
        (self.words.capacity() + self.occupied.capacity()) * 8
    }
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::TokenSet;
    use std::collections::BTreeSet;

    /// A small deterministic generator (xorshift), so that the test needs no dependency.
    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    fn random_set(len: usize, n: usize, seed: &mut u64) -> (TokenSet, BTreeSet<u32>) {
        let mut s = TokenSet::new(len);
        let mut naive = BTreeSet::new();
        for _ in 0..n {
            let id = (next(seed) % (len as u64 + 10)) as u32; // some out of range
            s.insert(id);
            if (id as usize) < len {
                naive.insert(id);
            }
        }
        (s, naive)
    }

    /// Every read of a set (ids, words, count, emptiness, equality) agrees with a naive
    /// ordered set after inserts, unions and differences, over sizes that end mid-word and
    /// mid-summary.
    #[test]
    fn the_summary_never_hides_an_id() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for &len in &[0usize, 1, 63, 64, 65, 4095, 4096, 4097, 49_152, 200_019] {
            for &n in &[0usize, 1, 3, 50, 2_000] {
                let (mut a, mut na) = random_set(len, n, &mut seed);
                let (b, nb) = random_set(len, n / 2 + 1, &mut seed);
                let (c, nc) = random_set(len, n, &mut seed);
                a.union_with(&b);
                na.extend(nb.iter().copied());
                a.difference_with(&c);
                na.retain(|t| !nc.contains(t));
                let ids: Vec<u32> = a.iter().collect();
                assert_eq!(
                    ids,
                    na.iter().copied().collect::<Vec<_>>(),
                    "len {len}, n {n}"
                );
                assert_eq!(a.count(), na.len());
                assert_eq!(a.is_empty(), na.is_empty());
                for (i, w) in a.nonzero_words() {
                    assert_ne!(w, 0);
                    assert_eq!(w, a.words()[i]);
                }
                let all: usize = a.words().iter().filter(|&&w| w != 0).count();
                assert_eq!(a.nonzero_words().count(), all);
                // Equal contents compare equal whatever their summaries say.
                let mut rebuilt = TokenSet::new(len);
                for &t in &na {
                    rebuilt.insert(t);
                }
                assert_eq!(rebuilt, a);
            }
        }
    }
}
