//! The naive baseline: what token-id ban lists (Hugging Face `bad_words_ids`) do.
//!
//! Each banned word is given as token sequences — its canonical tokenization(s), with and
//! without a leading space. The last token of a sequence is banned once the sequence's
//! prefix has just been generated; single-token sequences are banned always. Every other
//! spelling of the word (other tokenizations, other letter cases) goes through. It exists so
//! that every comparison can run it through the same [`LogitsGuard`] interface.

use std::collections::HashMap;
use std::sync::Arc;

use crate::guard_api::{Applied, LogitsGuard, RollbackError, Violation};
use crate::logits::Edit;
use crate::vocab::{TokenId, Vocabulary};

/// Token-id ban list with Hugging Face `bad_words_ids` semantics.
///
/// ```
/// use std::sync::Arc;
/// use taboo::{LogitsGuard, NaiveGuard, Vocabulary};
/// let mut b = Vocabulary::builder();
/// let (c, at, cat) = (b.text(" c"), b.text("at"), b.text(" cat"));
/// let vocab = Arc::new(b.build());
/// let mut guard = NaiveGuard::new(vocab, vec![vec![cat], vec![c, at]]);
/// let mut logits = vec![0.0; 3];
/// guard.apply(&mut logits);
/// assert_eq!(logits[cat as usize], f32::NEG_INFINITY);
/// assert_eq!(logits[at as usize], 0.0);     // "at" is banned only right after " c"
/// guard.advance(c).unwrap();
/// let mut logits = vec![0.0; 3];
/// guard.apply(&mut logits);
/// assert_eq!(logits[at as usize], f32::NEG_INFINITY);
/// ```
#[derive(Clone, Debug)]
pub struct NaiveGuard {
    vocab: Arc<Vocabulary>,
    sequences: Vec<Vec<TokenId>>,
    /// Single-token sequences: banned at every step.
    always: Vec<TokenId>,
    /// Multi-token sequences indexed by the last token of their prefix.
    by_prefix_end: HashMap<TokenId, Vec<usize>>,
    history: Vec<TokenId>,
    prompt_len: usize,
    measure_mass: bool,
}

impl NaiveGuard {
    /// A guard banning the given token sequences (empty ones are ignored).
    pub fn new(vocab: Arc<Vocabulary>, sequences: Vec<Vec<TokenId>>) -> NaiveGuard {
        let mut sequences: Vec<Vec<TokenId>> =
            sequences.into_iter().filter(|s| !s.is_empty()).collect();
        sequences.sort();
        sequences.dedup();
        let mut always = Vec::new();
        let mut by_prefix_end: HashMap<TokenId, Vec<usize>> = HashMap::new();
        for (i, s) in sequences.iter().enumerate() {
            if s.len() == 1 {
                always.push(s[0]);
            } else {
                by_prefix_end.entry(s[s.len() - 2]).or_default().push(i);
            }
        }
        NaiveGuard {
            vocab,
            sequences,
            always,
            by_prefix_end,
            history: Vec::new(),
            prompt_len: 0,
            measure_mass: true,
        }
    }

    /// The guard a `bad_words_ids` user writes for `words`: each word's spellings by
    /// [`NaiveGuard::spellings`], tokenized by the model's own tokenizer.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use taboo::{NaiveGuard, Vocabulary};
    /// let mut b = Vocabulary::builder();
    /// let (cat, space_cat) = (b.text("cat"), b.text(" cat"));
    /// let vocab = Arc::new(b.build());
    /// let tokenize = |s: &str| match s { "cat" => vec![cat], " cat" => vec![space_cat], _ => vec![] };
    /// let guard = NaiveGuard::from_words(vocab, &["cat".to_string()], &tokenize, true);
    /// assert_eq!(guard.sequences(), &[vec![cat], vec![space_cat]]);
    /// ```
    pub fn from_words(
        vocab: Arc<Vocabulary>,
        words: &[String],
        tokenize: &dyn Fn(&str) -> Vec<TokenId>,
        leading_space: bool,
    ) -> NaiveGuard {
        NaiveGuard::new(vocab, NaiveGuard::spellings(tokenize, words, leading_space))
    }

    /// The token sequences a token-id ban list holds for `words`, as its users write them:
    /// each word as given, Capitalised and UPPER-case, each also with a leading space
    /// (`" cat"`, as tokenizers glue the space to the word) when `leading_space`, tokenized
    /// by `tokenize`. Other letter cases and other tokenizations go through — that is the
    /// point of the baseline. Empty and repeated sequences are dropped.
    pub fn spellings(
        tokenize: &dyn Fn(&str) -> Vec<TokenId>,
        words: &[String],
        leading_space: bool,
    ) -> Vec<Vec<TokenId>> {
        let mut seqs: Vec<Vec<TokenId>> = Vec::new();
        for word in words {
            let mut capital: String = word.chars().take(1).flat_map(char::to_uppercase).collect();
            capital.extend(word.chars().skip(1));
            for form in [word.clone(), capital, word.to_uppercase()] {
                let spaced = leading_space.then(|| format!(" {form}"));
                for text in std::iter::once(form.clone()).chain(spaced) {
                    let ids = tokenize(&text);
                    if !ids.is_empty() && !seqs.contains(&ids) {
                        seqs.push(ids);
                    }
                }
            }
        }
        seqs
    }

    /// Turns the removed-mass measurement off or on (on by default).
    pub fn with_measure_mass(mut self, on: bool) -> NaiveGuard {
        self.measure_mass = on;
        self
    }

    /// The banned sequences, deduplicated.
    pub fn sequences(&self) -> &[Vec<TokenId>] {
        &self.sequences
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Arc<Vocabulary> {
        &self.vocab
    }
}

impl LogitsGuard for NaiveGuard {
    /// The token-level baseline cannot see text; see [`LogitsGuard::prime_tokens`].
    fn prime(&mut self, _text: &[u8]) {}

    /// Like `bad_words_ids`, a banned sequence's prefix may start in the prompt.
    fn prime_tokens(&mut self, tokens: &[TokenId]) {
        self.history.extend_from_slice(tokens);
        self.prompt_len += tokens.len();
    }

    fn apply(&mut self, logits: &mut [f32]) -> Applied {
        let mut edit = Edit::new(logits, self.measure_mass);
        for &t in &self.always {
            edit.forbid(t);
        }
        if let Some(last) = self.history.last() {
            for &i in self.by_prefix_end.get(last).into_iter().flatten() {
                let s = &self.sequences[i];
                if self.history.ends_with(&s[..s.len() - 1]) {
                    edit.forbid(s[s.len() - 1]);
                }
            }
        }
        edit.finish()
    }

    fn advance(&mut self, token: TokenId) -> Result<(), Violation> {
        self.history.push(token);
        let hit = self.sequences.iter().any(|s| self.history.ends_with(s));
        if hit {
            Err(Violation {
                token,
                position: self.position() - 1,
            })
        } else {
            Ok(())
        }
    }

    fn rollback(&mut self, n: usize) -> Result<(), RollbackError> {
        let available = self.position();
        if n > available {
            return Err(RollbackError {
                requested: n,
                available,
            });
        }
        self.history.truncate(self.history.len() - n);
        Ok(())
    }

    fn position(&self) -> usize {
        self.history.len() - self.prompt_len
    }
}
