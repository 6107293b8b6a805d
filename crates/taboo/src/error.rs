//! The error type for everything a user can get wrong in a ban list.

use std::fmt;
use std::path::PathBuf;

/// The environment variable that overrides the data directory (see `forms::data_dir`).
pub(crate) const DATA_DIR_ENV: &str = "TABOO_DATA_DIR";

/// A ban list could not be read, parsed or compiled.
///
/// The message names the entry (and the line, for files) and says what to do.
#[derive(Debug)]
pub struct BanError {
    file: Option<std::path::PathBuf>,
    line: Option<usize>,
    entry: Option<String>,
    kind: BanErrorKind,
}

/// What went wrong; see [`BanError::kind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum BanErrorKind {
    /// The entry is empty (or only whitespace).
    Empty,
    /// A whole-word entry without a single word character can never match as a word.
    NoWordCharacters,
    /// The regular expression does not parse.
    InvalidRegex(String),
    /// The regular expression can match the empty string, which would ban everything.
    MatchesEmpty,
    /// The regular expression uses a feature bans cannot express.
    UnsupportedRegex(String),
    /// An unknown option in a `[...]` prefix.
    UnknownOption(String),
    /// Two options of a `[...]` prefix contradict each other (`case` and `nocase`, `word`
    /// and `substring`).
    ContradictoryOptions(String, String),
    /// The ban file is not valid UTF-8.
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The ban file could not be read.
    Io(std::io::Error),
    /// A regex entry needs a larger automaton than the limit allows (the error names it).
    TooComplex(String),
    /// Word forms could not be produced (a dictionary is missing or broken).
    Forms(FormsError),
    /// A phrase has more forms than one entry may expand to.
    TooManyForms {
        /// How many there would be.
        count: usize,
        /// The limit ([`crate::forms::MAX_FORMS_PER_ENTRY`]).
        limit: usize,
    },
    /// An entry with the `forms` option reached the compiler unexpanded.
    FormsNotExpanded,
    /// No bundled list has this name.
    UnknownList(String),
}

impl BanError {
    pub(crate) fn new(kind: BanErrorKind) -> BanError {
        BanError {
            file: None,
            line: None,
            entry: None,
            kind,
        }
    }

    pub(crate) fn with_entry(mut self, entry: &str) -> BanError {
        self.entry = Some(entry.to_string());
        self
    }

    pub(crate) fn with_line(mut self, line: usize) -> BanError {
        self.line = Some(line);
        self
    }

    /// The same error without its line number (for an entry given alone, not in a file).
    pub(crate) fn without_line(mut self) -> BanError {
        self.line = None;
        self
    }

    pub(crate) fn with_file(mut self, path: &std::path::Path) -> BanError {
        self.file = Some(path.to_path_buf());
        self
    }

    /// The ban file the error is in, when it came from one read by path.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.file.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &BanErrorKind {
        &self.kind
    }

    /// The 1-based line of the ban file, when the entry came from one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The entry's text, when the error concerns one entry.
    pub fn entry(&self) -> Option<&str> {
        self.entry.as_deref()
    }
}

impl fmt::Display for BanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "ban file {}: ", file.display())?;
        }
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, "entry {entry:?}: ")?;
        }
        match &self.kind {
            BanErrorKind::Empty => write!(f, "empty entry; remove the line or write a word"),
            BanErrorKind::NoWordCharacters => write!(
                f,
                "no word characters, so it can never match as a whole word; \
                 prefix it with [substring] to ban it anywhere"
            ),
            BanErrorKind::InvalidRegex(msg) => write!(f, "invalid regular expression:\n{msg}"),
            BanErrorKind::MatchesEmpty => write!(
                f,
                "the regular expression matches the empty string, which would ban all text; \
                 require at least one character (e.g. use + instead of *)"
            ),
            BanErrorKind::UnsupportedRegex(what) => write!(f, "{what}"),
            BanErrorKind::UnknownOption(opt) => write!(
                f,
                "unknown option {opt:?}; known options are regex, case, nocase, substring, word, disguise, forms"
            ),
            BanErrorKind::ContradictoryOptions(a, b) => write!(
                f,
                "options {a:?} and {b:?} contradict each other; keep one of them"
            ),
            BanErrorKind::InvalidUtf8 { offset } => write!(
                f,
                "the ban file is not valid UTF-8 (first bad byte at offset {offset}); \
                 save it as UTF-8"
            ),
            BanErrorKind::Io(e) => write!(f, "cannot read the ban file: {e}"),
            BanErrorKind::TooComplex(msg) => write!(
                f,
                "this regex needs too large an automaton ({msg}); a repetition counted after \
                 an unbounded one multiplies states (`(a|b)*a(a|b){{20}}` needs 2^21 of them): \
                 count fewer characters, bound the unbounded part, or list plain words"
            ),
            BanErrorKind::Forms(e) => write!(f, "{e}"),
            BanErrorKind::TooManyForms { count, limit } => write!(
                f,
                "the phrase has {count} combinations of word forms, more than the {limit} one \
                 entry may expand to; ban its words separately or list the phrases you mean"
            ),
            BanErrorKind::UnknownList(name) => write!(
                f,
                "no bundled list called {name:?}; the lists are: {}",
                crate::lists::names().join(", ")
            ),
            BanErrorKind::FormsNotExpanded => write!(
                f,
                "the entry asks for word forms, but the list was not expanded; call \
                 BanList::expand_forms before compiling"
            ),
        }
    }
}

impl std::error::Error for BanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BanErrorKind::Io(e) => Some(e),
            BanErrorKind::Forms(e) => Some(e),
            _ => None,
        }
    }
}

/// Word forms could not be produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum FormsError {
    /// The dictionary for a language is not installed where taboo looks for it.
    DictionaryMissing {
        /// The language ("Russian").
        language: &'static str,
        /// The directory that was searched (`None`: no home directory to search).
        searched: Option<PathBuf>,
    },
    /// A dictionary file exists but cannot be used.
    Corrupt {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// A dictionary file could not be read.
    Io {
        /// The file.
        file: PathBuf,
        /// The reason.
        error: std::io::Error,
    },
}

impl fmt::Display for FormsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormsError::DictionaryMissing { language, searched } => {
                write!(
                    f,
                    "the {language} dictionary for word forms is not installed"
                )?;
                if let Some(dir) = searched {
                    write!(f, " (looked in {})", dir.display())?;
                }
                write!(
                    f,
                    "; install the pymorphy3-dicts-ru data there, or point ${DATA_DIR_ENV} at a \
                     directory that has it"
                )
            }
            FormsError::Corrupt { file, what } => write!(
                f,
                "{}: {what}; the dictionary is damaged: install it again",
                file.display()
            ),
            FormsError::Io { file, error } => write!(f, "cannot read {}: {error}", file.display()),
        }
    }
}

impl std::error::Error for FormsError {}
