//! The easy path: words in, a guard per sequence out.
//!
//! A [`Ban`] is a ban list that has been read, expanded (word forms) and compiled once. It is
//! `Send + Sync` and meant to be shared behind an `Arc` by every sequence that uses it. For a
//! given vocabulary it builds the [`MaskTable`] once and keeps it ([`Ban::table`]), so a
//! thousand sequences on one model share one table and its mask cache:
//!
//! ```text
//! words, ban-file lines, bundled lists ──BanBuilder::build──► Ban ──table(vocab)──► MaskTable
//!   (options: forms, disguise, case …)   parse → expand → compile      (cached per vocabulary)
//!                                                                          │
//!                                                         guard() per sequence: Guard
//! ```
//!
//! The expert path — [`crate::BanList`], [`crate::Automaton`], [`MaskTable`], [`Guard`] wired by
//! hand — stays available for callers that need to control each stage.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::automaton::Automaton;
use crate::banlist::{BanList, EntryOptions, FormsReport};
use crate::error::{BanError, BanErrorKind};
use crate::forms::Morphology;
use crate::guard::{Guard, GuardConfig};
use crate::mask::MaskTable;
use crate::vocab::Vocabulary;

/// A compiled ban: what to keep out of the text, ready to guard any number of sequences on
/// any number of vocabularies.
///
/// ```
/// use std::sync::Arc;
/// use taboo::{Ban, LogitsGuard, Vocabulary};
/// let mut b = Vocabulary::builder();
/// let (cat, dot, s) = (b.text(" cat"), b.text("."), b.text("s"));
/// let vocab = Arc::new(b.build());
///
/// let ban = Ban::new(["cat"])?;
/// let mut guard = ban.guard(&vocab);         // one per sequence
/// guard.advance(cat).unwrap();               // " cat" may still become " cats"
/// let mut logits = vec![0.0; vocab.len()];
/// guard.apply(&mut logits);
/// assert_eq!(logits[dot as usize], f32::NEG_INFINITY); // " cat." is banned
/// assert_eq!(logits[s as usize], 0.0);                 // " cats" is another word
/// # Ok::<(), taboo::BanError>(())
/// ```
pub struct Ban {
    list: BanList,
    report: FormsReport,
    automaton: Arc<Automaton>,
    /// Expands the list again on demand ([`Ban::expanded_list`]).
    morphology: Arc<Morphology>,
    /// One table per vocabulary seen, keyed by the vocabulary's identity (the table holds
    /// the vocabulary, so the address cannot be reused while cached). A table whose
    /// vocabulary nobody else holds any more can never be asked for again and is dropped at
    /// the next lookup.
    tables: Mutex<Vec<Arc<MaskTable>>>,
}

impl std::fmt::Debug for Ban {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ban")
            .field("entries", &self.len())
            .field("automaton", &self.automaton)
            .finish()
    }
}

impl Ban {
    /// Bans plain words and phrases: whole words, in any letter case.
    ///
    /// ```
    /// let ban = taboo::Ban::new(["cat", "ice cream"])?;
    /// assert_eq!(ban.list().len(), 2);
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn new<I, S>(words: I) -> Result<Ban, BanError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = Ban::builder();
        builder.words(words);
        builder.build()
    }

    /// A builder for every other kind of ban: ban-file lines, files, bundled lists, options.
    pub fn builder() -> BanBuilder {
        BanBuilder::default()
    }

    /// Compiles a list written by hand. Entries with the `forms` option stand for every form
    /// of their words (Russian forms need the dictionary, see [`crate::forms`]).
    pub fn from_list(list: BanList) -> Result<Ban, BanError> {
        Ban::compile(list, Arc::new(Morphology::new()))
    }

    fn compile(list: BanList, morphology: Arc<Morphology>) -> Result<Ban, BanError> {
        let (automaton, report) = Automaton::compile_expanding(&list, &morphology)?;
        Ok(Ban {
            list,
            report,
            automaton: Arc::new(automaton),
            morphology,
            tables: Mutex::new(Vec::new()),
        })
    }

    /// The list as written: an entry with the `forms` option is one entry here, however
    /// many forms it stands for ([`Ban::expanded_list`] has them all, [`Ban::len`] counts
    /// them).
    pub fn list(&self) -> &BanList {
        &self.list
    }

    /// The list with every `forms` entry replaced by one entry per form
    /// ([`BanList::expand_forms`]): built on each call, since a large list of lemmas has
    /// millions of forms that the compiled ban does not keep as entries.
    pub fn expanded_list(&self) -> Result<BanList, BanError> {
        Ok(self.list.expand_forms(&self.morphology)?.0)
    }

    /// Number of entries compiled: every form of a `forms` entry counts (two entries that
    /// ban the same text count once).
    pub fn len(&self) -> usize {
        self.automaton.entry_count()
    }

    /// True when nothing is banned.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// What the expansion of word forms did, with the Russian words the dictionary did not
    /// know (those are banned as written only).
    pub fn forms_report(&self) -> &FormsReport {
        &self.report
    }

    /// The compiled automaton.
    pub fn automaton(&self) -> &Arc<Automaton> {
        &self.automaton
    }

    /// The mask table for `vocab`: built and warmed up on the first call for that
    /// vocabulary, then shared. Two calls with the same `Arc` return the same table.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let mut b = taboo::Vocabulary::builder(); b.text(" cat");
    /// let vocab = Arc::new(b.build());
    /// let ban = taboo::Ban::new(["cat"])?;
    /// assert!(Arc::ptr_eq(&ban.table(&vocab), &ban.table(&vocab)));
    /// # Ok::<(), taboo::BanError>(())
    /// ```
    pub fn table(&self, vocab: &Arc<Vocabulary>) -> Arc<MaskTable> {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        tables.retain(|t| Arc::strong_count(t.vocab()) > 1);
        if let Some(t) = tables.iter().find(|t| Arc::ptr_eq(t.vocab(), vocab)) {
            return Arc::clone(t);
        }
        let table = Arc::new(MaskTable::new(
            Arc::clone(&self.automaton),
            Arc::clone(vocab),
        ));
        table.warm_up();
        tables.push(Arc::clone(&table));
        table
    }

    /// A hard-mode guard ([`GuardConfig::default`]) for a new sequence on `vocab`.
    pub fn guard(&self, vocab: &Arc<Vocabulary>) -> Guard {
        self.guard_with(vocab, GuardConfig::default())
    }

    /// A guard with the given settings for a new sequence on `vocab`.
    pub fn guard_with(&self, vocab: &Arc<Vocabulary>, config: GuardConfig) -> Guard {
        Guard::new(self.table(vocab), config)
    }
}

/// One source of entries, kept as given so that [`BanBuilder::build`] reports errors in order.
#[derive(Clone, Debug)]
enum Source {
    Word(String),
    Entry(String),
    FileText(String),
    File(PathBuf),
    List(String),
}

/// Builds a [`Ban`] from words, ban-file lines, files and bundled lists. Setters record;
/// every error (a bad entry, an unreadable file, an unknown list) is reported by
/// [`BanBuilder::build`], naming the entry and line.
///
/// ```
/// use taboo::Ban;
/// let ban = Ban::builder()
///     .word("cat")                       // a plain word with the builder's options
///     .entry("[regex] colou?r")          // one line in ban-file syntax
///     .file_text("# pets\ndog\n[case] Apple\n")
///     .forms(true)                       // cat → cats; dog → dogs (plain entries only)
///     .build()?;
/// assert_eq!(ban.list().len(), 4);                // as written
/// let expanded = ban.expanded_list()?;            // one entry per form
/// let words: Vec<&str> = expanded.entries().iter().map(|e| e.text()).collect();
/// assert!(words.contains(&"cats") && words.contains(&"Apples"));
/// assert_eq!(ban.len(), expanded.len());
///
/// let err = Ban::builder().file_text("cat\n[regex] (\n").build().unwrap_err();
/// assert_eq!(err.line(), Some(2));
/// # Ok::<(), taboo::BanError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct BanBuilder {
    sources: Vec<Source>,
    case_sensitive: bool,
    substring: bool,
    regex: bool,
    forms: bool,
    disguise: bool,
    morphology: Option<Arc<Morphology>>,
}

impl BanBuilder {
    /// Adds a plain word or phrase (a regular expression with [`BanBuilder::regex`]), with the
    /// builder's case and substring options.
    pub fn word(&mut self, text: &str) -> &mut Self {
        self.sources.push(Source::Word(text.to_string()));
        self
    }

    /// Adds several words, as [`BanBuilder::word`].
    pub fn words<I, S>(&mut self, words: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for w in words {
            self.word(w.as_ref());
        }
        self
    }

    /// Adds one entry in ban-file syntax: options in a bracketed prefix (`[forms] кошка`,
    /// `[regex substring] \d{3}`), a leading `\` escaping `#` or `[`.
    pub fn entry(&mut self, line: &str) -> &mut Self {
        self.sources.push(Source::Entry(line.to_string()));
        self
    }

    /// Adds every entry of a ban file given as text (comments and blank lines skipped).
    pub fn file_text(&mut self, text: &str) -> &mut Self {
        self.sources.push(Source::FileText(text.to_string()));
        self
    }

    /// Adds every entry of the ban file at `path` (read by [`BanBuilder::build`]).
    pub fn file(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.sources.push(Source::File(path.as_ref().to_path_buf()));
        self
    }

    /// Adds a list carried in the crate, by name (see [`crate::lists`]).
    pub fn list(&mut self, name: &str) -> &mut Self {
        self.sources.push(Source::List(name.to_string()));
        self
    }

    /// Words added with [`BanBuilder::word`] match only in the letter case given. Off by
    /// default.
    pub fn case_sensitive(&mut self, yes: bool) -> &mut Self {
        self.case_sensitive = yes;
        self
    }

    /// Words added with [`BanBuilder::word`] are banned anywhere, also inside longer words.
    /// Off by default (whole words only: banning "cat" keeps "category").
    pub fn substring(&mut self, yes: bool) -> &mut Self {
        self.substring = yes;
        self
    }

    /// Words added with [`BanBuilder::word`] are regular expressions. Off by default.
    pub fn regex(&mut self, yes: bool) -> &mut Self {
        self.regex = yes;
        self
    }

    /// Every plain (non-regex) entry, from any source, also bans its inflected forms. Off by
    /// default.
    pub fn forms(&mut self, yes: bool) -> &mut Self {
        self.forms = yes;
        self
    }

    /// Every plain (non-regex) entry, from any source, also bans its disguised spellings
    /// (look-alike letters, invisible characters, compatibility forms). Off by default.
    pub fn disguise(&mut self, yes: bool) -> &mut Self {
        self.disguise = yes;
        self
    }

    /// The morphology that expands word forms; by default a new [`Morphology`] that finds
    /// the Russian dictionary on first use. Share one to read the dictionary once.
    pub fn morphology(&mut self, morphology: Arc<Morphology>) -> &mut Self {
        self.morphology = Some(morphology);
        self
    }

    /// The list as written: every source in order, widened by `forms` and `disguise`, forms
    /// not yet expanded.
    pub fn written_list(&self) -> Result<BanList, BanError> {
        let mut list = BanList::new();
        let word_options = EntryOptions::default()
            .with_regex(self.regex)
            .with_case_sensitive(self.case_sensitive)
            .with_whole_word(!self.substring);
        for source in &self.sources {
            match source {
                Source::Word(w) => {
                    list.add(w, word_options)?;
                }
                Source::Entry(line) => {
                    let parsed = BanList::parse(line).map_err(|e| e.without_line())?;
                    if parsed.is_empty() {
                        return Err(BanError::new(BanErrorKind::Empty).with_entry(line));
                    }
                    list.extend(parsed);
                }
                Source::FileText(text) => list.extend(BanList::parse(text)?),
                Source::File(path) => {
                    list.extend(BanList::from_file(path).map_err(|e| e.with_file(path))?)
                }
                Source::List(name) => {
                    let bundled = crate::lists::find(name)
                        .ok_or_else(|| BanError::new(BanErrorKind::UnknownList(name.clone())))?;
                    list.extend(bundled.parse()?);
                }
            }
        }
        Ok(if self.forms || self.disguise {
            list.widened(self.forms, self.disguise)
        } else {
            list
        })
    }

    /// Reads, expands and compiles everything added.
    pub fn build(&self) -> Result<Ban, BanError> {
        let list = self.written_list()?;
        let morphology = self
            .morphology
            .clone()
            .unwrap_or_else(|| Arc::new(Morphology::new()));
        Ban::compile(list, morphology)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn ban_is_send_and_sync() {
        assert_send_sync::<Ban>();
        assert_send_sync::<BanBuilder>();
    }

    #[test]
    fn one_table_per_vocabulary() {
        let mut b = Vocabulary::builder();
        b.text(" cat");
        let v1 = Arc::new(b.build());
        let mut b = Vocabulary::builder();
        b.text(" cat");
        let v2 = Arc::new(b.build());
        let ban = Ban::new(["cat"]).unwrap();
        let t1 = ban.table(&v1);
        assert!(Arc::ptr_eq(&t1, &ban.table(&v1)));
        assert!(!Arc::ptr_eq(&t1, &ban.table(&v2)));
        let t2 = ban.table(&v2);
        assert_eq!(ban.tables.lock().unwrap().len(), 2);
        // Nobody holds the second vocabulary but its table: it can never be asked for
        // again, so the cache lets it go (the table itself lives on in `t2`).
        drop(v2);
        ban.table(&v1);
        assert_eq!(t2.vocab().len(), 1);
        assert_eq!(ban.tables.lock().unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_source() {
        let err = Ban::builder().list("no-such-list").build().unwrap_err();
        assert!(err.to_string().contains("en-profanity"), "{err}");
        let err = Ban::builder().entry("[regex] (").build().unwrap_err();
        assert_eq!(err.line(), None);
        assert_eq!(err.entry(), Some("("));
        let err = Ban::builder().entry("# a comment").build().unwrap_err();
        assert!(matches!(err.kind(), BanErrorKind::Empty));
        let err = Ban::builder()
            .file("/no/such/ban/file.txt")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("/no/such/ban/file.txt"), "{err}");
        let err = Ban::builder().word("").build().unwrap_err();
        assert!(matches!(err.kind(), BanErrorKind::Empty));
    }

    #[test]
    fn options_apply_to_words_and_widen_every_plain_entry() {
        let ban = Ban::builder()
            .word("NASA")
            .case_sensitive(true)
            .substring(true)
            .entry("[regex] dogs?")
            .disguise(true)
            .build()
            .unwrap();
        let e = &ban.list().entries()[0];
        assert!(e.options().case_sensitive && !e.options().whole_word && e.options().disguise);
        let r = &ban.list().entries()[1];
        assert!(r.options().regex && !r.options().disguise);
    }

    #[test]
    fn bundled_lists_build() {
        let ban = Ban::builder().list("en-profanity").build().unwrap();
        assert!(ban.len() > ban.list().len(), "forms were expanded");
        assert_eq!(ban.len(), ban.expanded_list().unwrap().len());
        assert!(ban.forms_report().forms_entries > 0);
    }
}
