//! Vocabularies: token id → the exact bytes the token stands for.
//!
//! Every loader (GGUF metadata, Hugging Face `tokenizer.json`, tiktoken) ends in the same
//! [`Vocabulary`]: a flat byte arena with one slice per token id, plus a mark for special
//! (control) tokens, which are never text — they never match a ban and never advance the
//! automaton — and the list of end-of-generation tokens, which the guard treats as "end of
//! text" (a word boundary).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::bitset::TokenSet;
use crate::trie::TrieIndex;

pub mod byte_level;
mod end_of_generation;
mod error;
mod ggml_type;
mod gguf;
mod hf;
#[cfg(feature = "tiktoken")]
mod tiktoken;

pub use error::VocabError;
pub use gguf::{check_gguf_bytes, check_gguf_file, read_gguf_bytes, read_gguf_file, GgufMetadata};
#[cfg(feature = "tiktoken")]
pub use tiktoken::TiktokenEncoding;

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
    /// The same ids as a bit set: [`Vocabulary::token_bytes`] runs on every guard step and
    /// must not hash.
    special_set: TokenSet,
    /// Tokens that end generation (EOS, EOT, `<|im_end|>` …).
    eog: Vec<TokenId>,
    /// The token trie and what mask walks derive from it alone, built on first use and
    /// shared by every mask table over this vocabulary (a new ban list then costs its own
    /// walks only).
    index: OnceLock<Arc<TrieIndex>>,
}

impl Vocabulary {
    /// Starts an empty vocabulary; tokens get ids 0, 1, 2 … in the order they are added.
    pub fn builder() -> VocabularyBuilder {
        VocabularyBuilder {
            vocab: Vocabulary {
                arena: Vec::new(),
                offsets: vec![0],
                special: HashMap::new(),
                special_set: TokenSet::new(0),
                eog: Vec::new(),
                index: OnceLock::new(),
            },
        }
    }

    /// Loads the vocabulary of a GGUF model file (llama.cpp), reading only its key/value
    /// section. Byte-level BPE (`gpt2`) and SentencePiece (`llama`) tokenizers are supported;
    /// see [`read_gguf_file`] to get the model's [`GgufMetadata`] in the same pass.
    ///
    /// ```no_run
    /// let vocab = taboo::Vocabulary::from_gguf_file("models/smollm2.gguf")?;
    /// println!("{} tokens, end of generation: {:?}", vocab.len(), vocab.end_of_generation());
    /// # Ok::<(), taboo::VocabError>(())
    /// ```
    pub fn from_gguf_file(path: impl AsRef<Path>) -> Result<Vocabulary, VocabError> {
        read_gguf_file(path).map(|(_, vocab)| vocab)
    }

    /// Loads the vocabulary from the bytes of a GGUF file (at least up to the end of its
    /// key/value section). Malformed input gives an error, never a panic.
    ///
    /// ```
    /// use taboo::Vocabulary;
    /// let err = Vocabulary::from_gguf_bytes(b"GGUF\x03\0\0\0").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "truncated at byte 8 while reading the tensor count (needs 8 bytes, 0 left)"
    /// );
    /// assert_eq!(err.byte_offset(), Some(8));
    /// ```
    pub fn from_gguf_bytes(bytes: &[u8]) -> Result<Vocabulary, VocabError> {
        read_gguf_bytes(bytes).map(|(_, vocab)| vocab)
    }

    /// Loads the vocabulary of a Hugging Face `tokenizer.json` (BPE or Unigram, byte-level or
    /// SentencePiece spelling). Special added tokens are special; ids the file skips become
    /// special `<unused:N>` tokens.
    ///
    /// ```
    /// use taboo::Vocabulary;
    /// let json = r#"{
    ///   "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}],
    ///   "pre_tokenizer": {"type": "ByteLevel"},
    ///   "decoder": {"type": "ByteLevel"},
    ///   "model": {"type": "BPE", "vocab": {"Ġcat": 0, "s": 1, "Ċ": 2}, "merges": []}
    /// }"#;
    /// let vocab = Vocabulary::from_hf_tokenizer_json(json)?;
    /// assert_eq!(vocab.token_bytes(0), Some(&b" cat"[..]));
    /// assert_eq!(vocab.token_bytes(2), Some(&b"\n"[..]));
    /// assert!(vocab.is_special(3) && vocab.is_end_of_generation(3));
    /// # Ok::<(), taboo::VocabError>(())
    /// ```
    pub fn from_hf_tokenizer_json(json: &str) -> Result<Vocabulary, VocabError> {
        hf::from_json(json)
    }

    /// Reads a Hugging Face `tokenizer.json` file; see [`Vocabulary::from_hf_tokenizer_json`].
    ///
    /// ```no_run
    /// let vocab = taboo::Vocabulary::from_hf_tokenizer_json_file("tokenizer.json")?;
    /// # Ok::<(), taboo::VocabError>(())
    /// ```
    pub fn from_hf_tokenizer_json_file(path: impl AsRef<Path>) -> Result<Vocabulary, VocabError> {
        let path = path.as_ref();
        std::fs::read_to_string(path)
            .map_err(|e| VocabError::new(error::Kind::Io(e)))
            .and_then(|json| hf::from_json(&json))
            .map_err(|e| e.in_file(path))
    }

    /// Builds one of the tiktoken vocabularies embedded in `tiktoken-rs` (no file needed).
    /// `<|endoftext|>` ends generation; all tiktoken special tokens are special, and the unused
    /// ids between ordinary and special ranks are special `<unused:N>` tokens.
    ///
    /// ```
    /// use taboo::{TiktokenEncoding, Vocabulary};
    /// let vocab = Vocabulary::tiktoken(TiktokenEncoding::R50kBase)?;
    /// assert_eq!(vocab.len(), 50_257);
    /// assert_eq!(vocab.token_bytes(50_256), None); // <|endoftext|>
    /// assert!(vocab.is_end_of_generation(50_256));
    /// # Ok::<(), taboo::VocabError>(())
    /// ```
    #[cfg(feature = "tiktoken")]
    pub fn tiktoken(encoding: TiktokenEncoding) -> Result<Vocabulary, VocabError> {
        tiktoken::load(encoding)
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
        if i >= self.len() || self.special_set.contains(id) {
            return None;
        }
        Some(&self.arena[self.offsets[i] as usize..self.offsets[i + 1] as usize])
    }

    /// True for special (control) tokens: they are never text.
    pub fn is_special(&self, id: TokenId) -> bool {
        self.special_set.contains(id)
    }

    /// The token trie of this vocabulary, built on first use.
    pub(crate) fn trie_index(&self) -> &Arc<TrieIndex> {
        self.index.get_or_init(|| Arc::new(TrieIndex::new(self)))
    }

    /// The special tokens' ids, ascending.
    pub fn special_tokens(&self) -> Vec<TokenId> {
        let mut ids: Vec<TokenId> = self.special.keys().copied().collect();
        ids.sort_unstable();
        ids
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
            + self.special_set.memory_usage()
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
        let mut special_set = TokenSet::new(n as usize);
        for &id in self.vocab.special.keys() {
            special_set.insert(id);
        }
        self.vocab.special_set = special_set;
        self.vocab.arena.shrink_to_fit();
        self.vocab.offsets.shrink_to_fit();
        self.vocab
    }
}
