//! Ban lists: what the user wants kept out of the text.
//!
//! A [`BanList`] is a deduplicated set of [`BanEntry`]s — a word, a phrase or a regular
//! expression, each with its [`EntryOptions`]. Entries are validated when added, so a list
//! that exists can always be compiled (up to the automaton size limit for regexes).
//!
//! # File format
//!
//! One entry per line, UTF-8. Blank lines and lines starting with `#` are ignored. Leading and
//! trailing whitespace is dropped; whitespace inside a phrase matches any run of whitespace.
//! Options go in a bracketed prefix:
//!
//! ```text
//! # pets
//! cat
//! ice cream
//! # a regular expression
//! [regex] colou?r
//! # case-sensitive: "apple" stays allowed
//! [case] Apple
//! # anywhere, also inside "damnation"
//! [substring] damn
//! # also when disguised: "сat" with a Cyrillic с, "c\u{200B}at", "ｃａｔ"
//! [disguise] cat
//! # every form: кошки, кошку, кошкой …; mice; ran, running
//! [forms] кошка
//! [forms] mouse
//! [forms disguise] run
//! [regex substring] \d{3}-\d{4}
//! # a leading backslash is dropped: these are the entries "[x]" and "#1"
//! \[x]
//! \#1
//! ```
//!
//! `#` starts a comment only at the start of a line, so entries like `C#` work. The options:
//! `regex` (the entry is a regular expression), `case` / `nocase` (case-sensitive, or not: the
//! default; giving both is an error), `substring` / `word` (match anywhere, or only as a whole
//! word: the default; giving both is an error), `disguise` (undo look-alike letters,
//! invisible characters, marks and compatibility forms; plain entries only), `forms` (every inflected form of each word, see [`crate::forms`]; plain
//! entries only; expand the list with [`BanList::expand_forms`] before compiling).

pub(crate) mod entry;
mod parse;

pub use entry::{BanEntry, EntryOptions};

use std::collections::HashSet;
use std::path::Path;

use crate::error::{BanError, BanErrorKind};
use crate::forms::Morphology;

/// What [`BanList::expand_forms`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormsReport {
    /// Entries that had the `forms` option.
    pub forms_entries: usize,
    /// Russian words the dictionary does not know: only the word as written is banned.
    pub unknown: Vec<String>,
}

/// A deduplicated list of ban entries.
///
/// ```
/// use taboo::{BanList, EntryOptions};
/// let mut list = BanList::new();
/// list.add("cat", EntryOptions::default())?;
/// list.add("CAT", EntryOptions::default())?; // same entry under case folding
/// assert_eq!(list.len(), 1);
/// # Ok::<(), taboo::BanError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct BanList {
    entries: Vec<BanEntry>,
    seen: HashSet<(EntryOptions, Vec<u8>)>,
}

impl BanList {
    /// An empty list.
    pub fn new() -> BanList {
        BanList::default()
    }

    /// A list of plain words with the same options.
    ///
    /// ```
    /// use taboo::{BanList, EntryOptions};
    /// let list = BanList::from_words(["cat", "dog"], EntryOptions::default())?;
    /// assert_eq!(list.len(), 2);
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn from_words<I, S>(words: I, options: EntryOptions) -> Result<BanList, BanError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = BanList::new();
        for w in words {
            list.add(w.as_ref(), options)?;
        }
        Ok(list)
    }

    /// Adds an entry after validating it. Returns `false` if an equivalent entry was
    /// already present.
    pub fn add(&mut self, text: &str, options: EntryOptions) -> Result<bool, BanError> {
        let entry = BanEntry::new(text, options, None)?;
        Ok(self.push(entry))
    }

    fn push(&mut self, entry: BanEntry) -> bool {
        let key = (entry.options, entry.dedup_key());
        if self.seen.insert(key) {
            self.entries.push(entry);
            true
        } else {
            false
        }
    }

    /// Parses a ban list in the file format described in the [module docs](self).
    ///
    /// ```
    /// use taboo::BanList;
    /// let list = BanList::parse("# pets\ncat\n[regex] dogs?\n")?;
    /// assert_eq!(list.len(), 2);
    /// assert!(list.entries()[1].options().regex);
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn parse(text: &str) -> Result<BanList, BanError> {
        let mut list = BanList::new();
        for (i, line) in text.lines().enumerate() {
            if let Some(entry) = parse::parse_line(line, i + 1)? {
                list.push(entry);
            }
        }
        Ok(list)
    }

    /// Parses raw bytes, which must be UTF-8 (the error names the line of the first bad byte).
    pub fn parse_bytes(bytes: &[u8]) -> Result<BanList, BanError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => BanList::parse(text),
            Err(e) => {
                let offset = e.valid_up_to();
                let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
                Err(BanError::new(BanErrorKind::InvalidUtf8 { offset }).with_line(line))
            }
        }
    }

    /// Reads and parses a ban file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<BanList, BanError> {
        let bytes = std::fs::read(path.as_ref()).map_err(|e| BanError::new(BanErrorKind::Io(e)))?;
        BanList::parse_bytes(&bytes)
    }

    /// Adds every entry of `other` (deduplicating).
    pub fn extend(&mut self, other: BanList) {
        for e in other.entries {
            self.push(e);
        }
    }

    /// Replaces every entry with the `forms` option by one entry per form (same options,
    /// `forms` off), as [`Morphology::phrase_forms`] gives them; other entries are kept as
    /// they are. Russian words the dictionary does not know stand for themselves only; they
    /// are listed in the returned [`FormsReport`].
    ///
    /// ```
    /// use taboo::{forms::Morphology, BanList};
    /// let list = BanList::parse("[forms] mouse\ndog\n")?;
    /// let (expanded, report) = list.expand_forms(&Morphology::new())?;
    /// let words: Vec<&str> = expanded.entries().iter().map(|e| e.text()).collect();
    /// assert!(words.contains(&"mice") && words.contains(&"dog"));
    /// assert_eq!(report.forms_entries, 1);
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn expand_forms(
        &self,
        morphology: &Morphology,
    ) -> Result<(BanList, FormsReport), BanError> {
        let mut out = BanList::new();
        let mut report = FormsReport::default();
        let mut unknown_seen = HashSet::new();
        for entry in &self.entries {
            if !entry.options.forms {
                out.push(entry.clone());
                continue;
            }
            let located = |e: BanError| {
                let e = e.with_entry(&entry.text);
                match entry.line {
                    Some(l) => e.with_line(l),
                    None => e,
                }
            };
            report.forms_entries += 1;
            let options = entry.options.with_forms(false);
            let forms = morphology
                .phrase_forms_noting_unknown(&entry.text, &mut |word| {
                    if unknown_seen.insert(word.to_string()) {
                        report.unknown.push(word.to_string());
                    }
                })
                .map_err(located)?;
            for form in forms {
                let e = BanEntry::new(&form, options, entry.line).map_err(located)?;
                out.push(e);
            }
        }
        Ok((out, report))
    }

    /// The list with `forms` and/or `disguise` switched on for every plain (non-regex) entry;
    /// options that are off stay as each entry has them.
    ///
    /// ```
    /// use taboo::BanList;
    /// let list = BanList::parse("cat\n[regex] dogs?\n")?.widened(true, false);
    /// assert!(list.entries()[0].options().forms);
    /// assert!(!list.entries()[1].options().forms);
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn widened(self, forms: bool, disguise: bool) -> BanList {
        let mut out = BanList::new();
        for mut e in self.entries {
            if !e.options.regex {
                e.options.forms |= forms;
                e.options.disguise |= disguise;
            }
            out.push(e);
        }
        out
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> &[BanEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
