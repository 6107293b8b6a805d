//! Word forms: from a word a user bans to every inflected form of it.
//!
//! A ban entry with the `forms` option stands for its whole lexeme: `кошка` for кошки, кошку,
//! кошкой …, `cat` for cats, `run` for runs, ran, running. Expansion happens before the
//! automaton is compiled, so forms are ordinary entries downstream and masks stay exact.
//!
//! - Russian words (any Cyrillic letter) come from the OpenCorpora dictionary as compiled for
//!   pymorphy3 ([`russian`]), which `scripts/fetch-models.sh` installs into the data directory
//!   ([`data_dir`]). The binary carries no path to it, so it can be moved freely.
//! - English words (Latin letters) are inflected by rule, with the irregular forms of WordNet
//!   carried inside the binary.

mod dawg;
pub mod english;
pub mod russian;

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

pub use crate::error::FormsError;
use crate::error::{BanError, BanErrorKind};
use crate::text::is_word_char;
pub use russian::RussianDictionary;

/// The most forms one entry may expand to (a phrase multiplies the forms of its words).
pub const MAX_FORMS_PER_ENTRY: usize = 10_000;

/// One lexeme: a lemma and all its forms (the lemma first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lexeme {
    /// The dictionary form (кошка, бежать, run).
    pub lemma: String,
    /// Its part of speech, as the source names it ("NOUN", "INFN", "noun", "verb" …).
    pub pos: String,
    /// Every form, deduplicated, the lemma first.
    pub forms: Vec<String>,
}

/// Which morphology a word goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Has a Cyrillic letter.
    Russian,
    /// Has a Latin letter and no Cyrillic one.
    English,
    /// Neither (digits, other scripts): the word is its only form.
    Other,
}

impl Language {
    /// The language a word's forms are looked up in.
    pub fn of(word: &str) -> Language {
        if word.chars().any(|c| matches!(c, '\u{400}'..='\u{52F}')) {
            Language::Russian
        } else if word.chars().any(|c| c.is_ascii_alphabetic()) {
            Language::English
        } else {
            Language::Other
        }
    }
}

/// The forms of one word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordForms {
    /// The word as asked.
    pub word: String,
    /// The lexemes it belongs to (empty when the dictionary does not know it).
    pub lexemes: Vec<Lexeme>,
    /// Every form of every lexeme, plus the word itself, deduplicated; in Russian also each
    /// form with ё written as е. In the letter case of the word as asked (see
    /// [`Morphology::word_forms`]).
    pub forms: Vec<String>,
}

/// Turns words into their forms: English by rule (always available), Russian from the
/// dictionary, loaded on first use.
#[derive(Default)]
pub struct Morphology {
    russian: OnceLock<RussianDictionary>,
}

impl fmt::Debug for Morphology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Morphology")
            .field("russian_loaded", &self.russian.get().is_some())
            .finish()
    }
}

impl Morphology {
    /// A morphology that finds the Russian dictionary in [`data_dir`] when a Russian word
    /// first needs it.
    pub fn new() -> Morphology {
        Morphology::default()
    }

    /// A morphology with an already opened Russian dictionary.
    pub fn with_russian(dictionary: RussianDictionary) -> Morphology {
        let cell = OnceLock::new();
        let _ = cell.set(dictionary);
        Morphology { russian: cell }
    }

    /// The Russian dictionary, opened on first use.
    pub fn russian(&self) -> Result<&RussianDictionary, FormsError> {
        if let Some(d) = self.russian.get() {
            return Ok(d);
        }
        let d = RussianDictionary::locate()?;
        Ok(self.russian.get_or_init(|| d))
    }

    /// The lexemes of one word (any letter case), each once. Russian words the dictionary does not know
    /// have none; English words always have at least one (unknown ones are taken as nouns);
    /// other words have none.
    pub fn lexemes(&self, word: &str) -> Result<Vec<Lexeme>, FormsError> {
        let lower = word.to_lowercase();
        let mut lexemes = match Language::of(&lower) {
            Language::Russian => self.russian()?.lexemes(&lower),
            Language::English if english::applies_to(&lower) => english::lexemes(&lower),
            _ => Vec::new(),
        };
        // Paradigms that differ only in grammar the forms do not show (кошка animate and
        // inanimate) are one lexeme here.
        let mut seen = std::collections::HashSet::new();
        lexemes.retain(|l| seen.insert(l.clone()));
        Ok(lexemes)
    }

    /// Every form of one word, in the letter case it was written in: lower-case input gives
    /// lower-case forms, Capitalised gives Capitalised, UPPER gives UPPER (this only matters
    /// for case-sensitive entries; the others match in every case anyway).
    pub fn word_forms(&self, word: &str) -> Result<WordForms, FormsError> {
        let lexemes = self.lexemes(word)?;
        let mut forms = vec![word.to_string()];
        let mut push = |f: String| {
            if !forms.contains(&f) {
                forms.push(f);
            }
        };
        let case = LetterCase::of(word);
        for lexeme in &lexemes {
            for f in &lexeme.forms {
                let f = case.apply(f);
                if f.contains(['ё', 'Ё']) {
                    push(f.replace('ё', "е").replace('Ё', "Е"));
                }
                push(f.into_owned());
            }
        }
        Ok(WordForms {
            word: word.to_string(),
            lexemes,
            forms,
        })
    }

    /// Hands `emit` every form of a phrase, as [`Morphology::phrase_forms`] gives them but
    /// streamed: a one-word phrase (the usual entry) writes its forms into one reused buffer
    /// instead of a string each, and may hand over a form more than once (the caller
    /// deduplicates, after normalising). Russian words the dictionary does not know go to
    /// `unknown`.
    ///
    /// `memo` remembers the Russian lexemes whose forms were handed over for one-word entries
    /// with nothing around the word: a later entry that is another form of the same lexeme
    /// (a list holding кошка and кошки), written in the same letter case, skips them. Use
    /// one memo per set of options the forms are compiled with.
    ///
    /// [`MAX_FORMS_PER_ENTRY`] bounds a one-word entry's forms as handed over, repeats
    /// included (no word comes near it; a phrase's combinations are counted as
    /// [`Morphology::phrase_forms`] counts them).
    pub(crate) fn for_each_phrase_form(
        &self,
        phrase: &str,
        memo: &mut LexemeMemo,
        unknown: &mut dyn FnMut(&str),
        emit: &mut dyn FnMut(&str) -> Result<(), BanError>,
    ) -> Result<(), BanError> {
        let pieces = split_words(phrase);
        let mut words = pieces.iter().filter(|(is_word, _)| *is_word);
        let (Some(&(_, word)), None) = (words.next(), words.next()) else {
            for form in self.phrase_forms_noting_unknown(phrase, unknown)? {
                emit(&form)?;
            }
            return Ok(());
        };
        let at = word.as_ptr() as usize - phrase.as_ptr() as usize;
        let (head, tail) = (&phrase[..at], &phrase[at + word.len()..]);
        let mut buf = String::new();
        let mut count = 0usize;
        let mut with_frame = |form: &str| -> Result<(), BanError> {
            count += 1;
            if count > MAX_FORMS_PER_ENTRY {
                return Err(BanError::new(BanErrorKind::TooManyForms {
                    count,
                    limit: MAX_FORMS_PER_ENTRY,
                }));
            }
            buf.clear();
            buf.push_str(head);
            buf.push_str(form);
            buf.push_str(tail);
            emit(&buf)
        };
        with_frame(word)?;
        let case = LetterCase::of(word);
        let mut cased = |form: &str| -> Result<(), BanError> {
            let form = case.apply(form);
            if form.contains(['ё', 'Ё']) {
                with_frame(&form.replace('ё', "е").replace('Ё', "Е"))?;
            }
            with_frame(&form)
        };
        let lower = word.to_lowercase();
        let known = match Language::of(&lower) {
            Language::Russian => {
                let dictionary = self
                    .russian()
                    .map_err(|e| BanError::new(BanErrorKind::Forms(e)))?;
                let bare = head.is_empty() && tail.is_empty();
                let mut fresh = |paradigm: u16, stem: &str| {
                    !bare || memo.seen.insert((case, paradigm, Box::from(stem)))
                };
                dictionary.for_each_form(&lower, &mut fresh, &mut cased)?
            }
            Language::English if english::applies_to(&lower) => {
                for lexeme in english::lexemes(&lower) {
                    for f in &lexeme.forms {
                        cased(f)?;
                    }
                }
                true
            }
            _ => true,
        };
        if !known {
            unknown(word);
        }
        Ok(())
    }

    /// Every form of a phrase: each word (a run of word characters) takes each of its forms,
    /// everything between words stays as written. Fails past [`MAX_FORMS_PER_ENTRY`].
    pub fn phrase_forms(&self, phrase: &str) -> Result<Vec<String>, BanError> {
        self.phrase_forms_noting_unknown(phrase, &mut |_| {})
    }

    /// [`Morphology::phrase_forms`], handing each Russian word the dictionary does not know
    /// to `unknown`.
    pub(crate) fn phrase_forms_noting_unknown(
        &self,
        phrase: &str,
        unknown: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, BanError> {
        let mut out = vec![String::new()];
        for (is_word, piece) in split_words(phrase) {
            let choices = if is_word {
                let forms = self
                    .word_forms(piece)
                    .map_err(|e| BanError::new(BanErrorKind::Forms(e)))?;
                if forms.lexemes.is_empty() && Language::of(piece) == Language::Russian {
                    unknown(piece);
                }
                forms.forms
            } else {
                vec![piece.to_string()]
            };
            let count = out.len() * choices.len();
            if count > MAX_FORMS_PER_ENTRY {
                return Err(BanError::new(BanErrorKind::TooManyForms {
                    count,
                    limit: MAX_FORMS_PER_ENTRY,
                }));
            }
            out = out
                .iter()
                .flat_map(|head| choices.iter().map(move |c| format!("{head}{c}")))
                .collect();
        }
        Ok(out)
    }
}

/// The Russian lexemes whose forms [`Morphology::for_each_phrase_form`] has handed over, by
/// the letter case they were written in.
#[derive(Default)]
pub(crate) struct LexemeMemo {
    seen: std::collections::HashSet<(LetterCase, u16, Box<str>)>,
}

/// The pieces of a phrase: runs of word characters (`true`) and what lies between them.
pub fn split_words(phrase: &str) -> Vec<(bool, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, c) in phrase.char_indices() {
        let w = is_word_char(c);
        if in_word != Some(w) {
            if let Some(prev) = in_word {
                pieces.push((prev, &phrase[start..i]));
            }
            start = i;
            in_word = Some(w);
        }
    }
    if let Some(prev) = in_word {
        pieces.push((prev, &phrase[start..]));
    }
    pieces
}

/// How a word was written, so its forms can be written the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LetterCase {
    Lower,
    Capitalised,
    Upper,
}

impl LetterCase {
    fn of(word: &str) -> LetterCase {
        let mut letters = word.chars().filter(|c| c.is_alphabetic());
        match letters.next() {
            Some(first) if first.is_uppercase() => {
                let rest: Vec<char> = letters.collect();
                if !rest.is_empty() && rest.iter().all(|c| c.is_uppercase()) {
                    LetterCase::Upper
                } else {
                    LetterCase::Capitalised
                }
            }
            _ => LetterCase::Lower,
        }
    }

    fn apply(self, form: &str) -> Cow<'_, str> {
        match self {
            LetterCase::Lower => Cow::Borrowed(form),
            LetterCase::Upper => Cow::Owned(form.to_uppercase()),
            LetterCase::Capitalised => {
                let mut chars = form.chars();
                Cow::Owned(match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                })
            }
        }
    }
}

/// The environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = crate::error::DATA_DIR_ENV;

/// Where taboo keeps data it does not carry inside the binary: `$TABOO_DATA_DIR`, else
/// `$XDG_DATA_HOME/taboo`, else `~/.local/share/taboo`. The Russian dictionary lives in its
/// `ru/` subdirectory.
pub fn data_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = non_empty("XDG_DATA_HOME") {
        return Some(PathBuf::from(xdg).join("taboo"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".local/share/taboo"))
}
