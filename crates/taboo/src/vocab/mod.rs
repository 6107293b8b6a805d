//! Vocabularies: token id → the exact bytes the token stands for.
//!
//! Every loader (GGUF metadata, Hugging Face `tokenizer.json`, tiktoken) ends in the same
//! [`Vocabulary`]: a flat byte arena with one slice per token id, plus a mark for special
//! (control) tokens, which are never text — they never match a ban and never advance the
//! automaton — and the list of end-of-generation tokens, which the guard treats as "end of
//! text" (a word boundary).

use std::collections::HashMap;
use std::fmt;

/// Token id, as the model numbers it.
pub type TokenId = u32;

/// A model's vocabulary reduced to what the ban engine needs.
///
/// ```
/// use taboo::Vocabulary;
/// let mut b = Vocabulary::builder();
/// let cat = b.text(" cat");
/// let eos = b.special("</s>");
/// b.end_of_generation(eos);
/// let vocab = b.build();
/// assert_eq!(vocab.token_bytes(cat), Some(&b" cat"[..]));
/// assert!(vocab.is_special(eos));
/// assert_eq!(vocab.end_of_generation(), &[eos]);
/// ```
#[derive(Clone)]
pub struct Vocabulary {
    /// All token bytes, back to back; special tokens own an empty slice.
    arena: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is token `i` in `arena`.
    offsets: Vec<u32>,
    /// Names of special tokens (they are not text, so they keep a name instead).
    special: HashMap<TokenId, String>,
    /// Tokens that end generation (EOS, EOT, `<|im_end|>` …).
    eog: Vec<TokenId>,
}

impl Vocabulary {
    /// Starts an empty vocabulary; tokens get ids 0, 1, 2 … in the order they are added.
    pub fn builder() -> VocabularyBuilder {
        VocabularyBuilder {
            vocab: Vocabulary {
                arena: Vec::new(),
                offsets: vec![0],
                special: HashMap::new(),
                eog: Vec::new(),
            },
        }
    }

    /// Number of token ids (text and special).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when the vocabulary has no token at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of a text token; `None` for special tokens and ids out of range.
    pub fn token_bytes(&self, id: TokenId) -> Option<&[u8]> {
        let i = id as usize;
        if i >= self.len() || self.special.contains_key(&id) {
            return None;
        }
        Some(&self.arena[self.offsets[i] as usize..self.offsets[i + 1] as usize])
    }

    /// True for special (control) tokens: they are never text.
    pub fn is_special(&self, id: TokenId) -> bool {
        self.special.contains_key(&id)
    }

    /// The name of a special token, such as `</s>`.
    pub fn special_name(&self, id: TokenId) -> Option<&str> {
        self.special.get(&id).map(String::as_str)
    }

    /// Tokens that end generation; the guard treats them as end of text.
    pub fn end_of_generation(&self) -> &[TokenId] {
        &self.eog
    }

    /// True if `id` ends generation.
    pub fn is_end_of_generation(&self, id: TokenId) -> bool {
        self.eog.contains(&id)
    }

    /// Iterates over `(id, bytes)` of every text token.
    pub fn text_tokens(&self) -> impl Iterator<Item = (TokenId, &[u8])> + '_ {
        (0..self.len() as TokenId).filter_map(move |id| self.token_bytes(id).map(|b| (id, b)))
    }

    /// Decodes a token sequence to bytes, skipping special tokens.
    pub fn decode(&self, tokens: &[TokenId]) -> Vec<u8> {
        let mut out = Vec::new();
        for &t in tokens {
            if let Some(b) = self.token_bytes(t) {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// Heap bytes held by this vocabulary.
    pub fn memory_usage(&self) -> usize {
        self.arena.capacity()
            + self.offsets.capacity() * 4
            + self
                .special
                .values()
                .map(|s| s.capacity() + 16)
                .sum::<usize>()
            + self.eog.capacity() * 4
    }
}

impl fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vocabulary")
            .field("tokens", &self.len())
            .field("special", &self.special.len())
            .field("end_of_generation", &self.eog)
            .finish()
    }
}

/// Builds a [`Vocabulary`] token by token; see [`Vocabulary::builder`].
pub struct VocabularyBuilder {
    vocab: Vocabulary,
}

impl VocabularyBuilder {
    /// Adds a text token and returns its id.
    pub fn text(&mut self, bytes: impl AsRef<[u8]>) -> TokenId {
        let v = &mut self.vocab;
        v.arena.extend_from_slice(bytes.as_ref());
        v.offsets.push(v.arena.len() as u32);
        (v.offsets.len() - 2) as TokenId
    }

    /// Adds a special (control) token and returns its id.
    pub fn special(&mut self, name: impl Into<String>) -> TokenId {
        let v = &mut self.vocab;
        v.offsets.push(v.arena.len() as u32);
        let id = (v.offsets.len() - 2) as TokenId;
        v.special.insert(id, name.into());
        id
    }

    /// Marks a token as ending generation (EOS, EOT …). It need not be special.
    pub fn end_of_generation(&mut self, id: TokenId) -> &mut Self {
        if !self.vocab.eog.contains(&id) {
            self.vocab.eog.push(id);
        }
        self
    }

    /// Number of tokens added so far.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// True when no token was added yet.
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Finishes the vocabulary. End-of-generation ids beyond the last token are dropped.
    pub fn build(mut self) -> Vocabulary {
        let n = self.vocab.len() as TokenId;
        self.vocab.eog.retain(|&id| id < n);
        self.vocab.arena.shrink_to_fit();
        self.vocab.offsets.shrink_to_fit();
        self.vocab
    }
}
