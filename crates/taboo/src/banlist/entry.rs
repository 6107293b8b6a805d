//! One ban entry and its options, validated on construction.

use regex_syntax::hir::{Hir, HirKind};

use crate::error::{BanError, BanErrorKind};
use crate::text::{is_word_char, normalize, Fold};

/// How one entry matches.
///
/// The default bans a word or phrase as a whole word, ignoring case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct EntryOptions {
    /// The text is a regular expression (regex-syntax dialect; no anchors or `\b`: use
    /// `whole_word`). Off by default.
    pub regex: bool,
    /// Letter case must match exactly. Off by default: КОШКА = кошка, STRASSE = straße
    /// (Unicode full case folding).
    pub case_sensitive: bool,
    /// The entry must stand as a whole word: a non-word character (or the edge of the text)
    /// on both sides, so banning "cat" keeps "category". On by default.
    pub whole_word: bool,
    /// Undo disguises before matching, by Unicode's data: invisible (default-ignorable)
    /// characters, compatibility forms (full-width, mathematical letters, ligatures), marks
    /// (ко́шка, й as и) and look-alike letters of UTS #39 (Cyrillic с for Latin c, Greek ο
    /// for o); see [`crate::text::folded`]. Plain entries only. Off by default.
    pub disguise: bool,
    /// The entry stands for every inflected form of its words (кошка: кошки, кошку …; cat:
    /// cats; run: ran, running); see [`crate::forms`]. A list with such entries is expanded
    /// with [`crate::BanList::expand_forms`] before it is compiled. Plain entries only. Off
    /// by default.
    pub forms: bool,
}

impl Default for EntryOptions {
    fn default() -> Self {
        EntryOptions {
            regex: false,
            case_sensitive: false,
            whole_word: true,
            disguise: false,
            forms: false,
        }
    }
}

crate::__settings_setters!(EntryOptions {
    with_regex => regex: bool,
    with_case_sensitive => case_sensitive: bool,
    with_whole_word => whole_word: bool,
    with_disguise => disguise: bool,
    with_forms => forms: bool,
});

impl EntryOptions {
    /// How text is folded for this entry.
    pub fn fold(&self) -> Fold {
        Fold {
            case: !self.case_sensitive,
            disguise: self.disguise,
        }
    }

    /// Options for a regular expression (otherwise default).
    pub fn regex() -> EntryOptions {
        EntryOptions::default().with_regex(true)
    }
}

/// One validated entry of a [`crate::BanList`].
#[derive(Clone, Debug)]
pub struct BanEntry {
    pub(crate) text: String,
    pub(crate) options: EntryOptions,
    pub(crate) line: Option<usize>,
}

impl BanEntry {
    /// Validates an entry. Leading and trailing whitespace is dropped.
    pub(crate) fn new(
        text: &str,
        options: EntryOptions,
        line: Option<usize>,
    ) -> Result<BanEntry, BanError> {
        let located = |e: BanError| match line {
            Some(l) => e.with_line(l),
            None => e,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(located(BanError::new(BanErrorKind::Empty)));
        }
        if options.regex && options.disguise {
            return Err(located(
                BanError::new(BanErrorKind::UnsupportedRegex(
                    "disguise folding applies to plain words and phrases, not to regexes"
                        .to_string(),
                ))
                .with_entry(text),
            ));
        }
        if options.regex && options.forms {
            return Err(located(
                BanError::new(BanErrorKind::UnsupportedRegex(
                    "word forms apply to plain words and phrases, not to regexes".to_string(),
                ))
                .with_entry(text),
            ));
        }
        if options.regex {
            parse_regex(text).map_err(|e| located(e.with_entry(text)))?;
        } else {
            check_plain(text, options.whole_word).map_err(located)?;
        }
        Ok(BanEntry {
            text: text.to_string(),
            options,
            line,
        })
    }

    /// The entry as written (trimmed).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How it matches.
    pub fn options(&self) -> EntryOptions {
        self.options
    }

    /// The line of the ban file it came from.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// Two entries with equal options and keys ban exactly the same texts.
    pub(crate) fn dedup_key(&self) -> Vec<u8> {
        if self.options.regex {
            self.text.as_bytes().to_vec()
        } else {
            normalize(self.text.as_bytes(), self.options.fold(), false)
        }
    }
}

/// Rejects a plain entry that could never match: empty once trimmed, or a whole word without
/// a word character.
pub(crate) fn check_plain(text: &str, whole_word: bool) -> Result<(), BanError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(BanError::new(BanErrorKind::Empty));
    }
    if whole_word && !text.chars().any(is_word_char) {
        return Err(BanError::new(BanErrorKind::NoWordCharacters).with_entry(text));
    }
    Ok(())
}

/// Parses a regex entry and rejects what a ban cannot mean.
pub(crate) fn parse_regex(text: &str) -> Result<Hir, BanError> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(text)
        .map_err(|e| BanError::new(BanErrorKind::InvalidRegex(e.to_string())))?;
    if let Some(what) = find_unsupported(&hir) {
        return Err(BanError::new(BanErrorKind::UnsupportedRegex(what)));
    }
    if hir.properties().minimum_len() == Some(0) {
        return Err(BanError::new(BanErrorKind::MatchesEmpty));
    }
    Ok(hir)
}

fn find_unsupported(hir: &Hir) -> Option<String> {
    match hir.kind() {
        HirKind::Look(_) => Some(
            "anchors (^, $) and word-boundary assertions (\\b) are not supported in ban \
             regexes; entries match as whole words by default ([substring] turns that off)"
                .to_string(),
        ),
        HirKind::Class(regex_syntax::hir::Class::Bytes(_)) => {
            Some("byte classes ((?-u)) are not supported in ban regexes".to_string())
        }
        HirKind::Repetition(r) => find_unsupported(&r.sub),
        HirKind::Capture(c) => find_unsupported(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().find_map(find_unsupported),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) => None,
    }
}
