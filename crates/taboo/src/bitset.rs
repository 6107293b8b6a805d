//! A fixed-size set of token ids, one bit each: a 262,144-token vocabulary takes 32 KiB and
//! a union is a few thousand word ORs.

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
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    words: Vec<u64>,
    len: usize,
}

impl TokenSet {
    /// An empty set for ids `0..len`.
    pub fn new(len: usize) -> TokenSet {
        TokenSet {
            words: vec![0; len.div_ceil(64)],
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
        if let Some(w) = self.words.get_mut(id as usize / 64) {
            *w |= 1 << (id % 64);
        }
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
    }

    /// Removes every id of `other`.
    pub fn difference_with(&mut self, other: &TokenSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Number of ids in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// True when no id is in the set.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The ids, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
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
        self.words.capacity() * 8
    }
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}
