//! Workloads of the measurements — `taboo eval`'s sweep, `taboo bench`, `bench-generate` and
//! the criterion benches: ban lists drawn from system dictionaries and a text to replay. They
//! belong to the measurements, not to the ban engine, so they live in this crate rather than
//! in the core.
//!
//! The word lists come from Debian's `wamerican` (`/usr/share/dict/words`) and `hunspell-ru`
//! (`/usr/share/hunspell/ru_RU.dic`) packages, which `.ci/run` installs; nothing is
//! downloaded. Words are taken evenly spread over the dictionary (not its first entries) so
//! that a 1,000-word list is not a list of words starting with "a".

use std::fmt;
use std::path::Path;

/// A text of about 370 words, English then Russian, for replaying through a guard.
pub const REPLAY_TEXT: &str = include_str!("../data/replay.txt");

/// Which dictionary to draw words from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// `/usr/share/dict/words`.
    English,
    /// `/usr/share/hunspell/ru_RU.dic`.
    Russian,
    /// Half and half, interleaved.
    Mixed,
}

impl Language {
    /// Its name in reports: `en`, `ru`, `mixed`.
    pub fn name(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Russian => "ru",
            Language::Mixed => "mixed",
        }
    }
}

/// A dictionary file is missing or too small.
#[derive(Debug)]
pub struct WorkloadError(String);

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WorkloadError {}

const ENGLISH: &str = "/usr/share/dict/words";
const RUSSIAN: &str = "/usr/share/hunspell/ru_RU.dic";

fn read_words(path: &str, package: &str) -> Result<Vec<String>, WorkloadError> {
    let text = std::fs::read_to_string(Path::new(path)).map_err(|e| {
        WorkloadError(format!(
            "cannot read {path}: {e}; install it with `apt-get install {package}`"
        ))
    })?;
    let mut words: Vec<String> = text
        .lines()
        .map(|l| l.split('/').next().unwrap_or("").trim())
        .filter(|w| w.chars().count() >= 3 && w.chars().all(char::is_alphabetic))
        .map(|w| w.to_lowercase())
        .collect();
    words.sort();
    words.dedup();
    Ok(words)
}

fn spread(words: Vec<String>, n: usize, path: &str) -> Result<Vec<String>, WorkloadError> {
    if words.len() < n {
        return Err(WorkloadError(format!(
            "{path} has only {} usable words, {n} needed",
            words.len()
        )));
    }
    let step = words.len() as f64 / n as f64;
    Ok((0..n)
        .map(|i| words[(i as f64 * step) as usize].clone())
        .collect())
}

/// `n` distinct words of a language, evenly spread over its dictionary.
///
pub fn dictionary_words(language: Language, n: usize) -> Result<Vec<String>, WorkloadError> {
    match language {
        Language::English => spread(read_words(ENGLISH, "wamerican")?, n, ENGLISH),
        Language::Russian => spread(read_words(RUSSIAN, "hunspell-ru")?, n, RUSSIAN),
        Language::Mixed => {
            let en = dictionary_words(Language::English, n.div_ceil(2))?;
            let ru = dictionary_words(Language::Russian, n / 2)?;
            let mut out = Vec::with_capacity(n);
            for i in 0..en.len().max(ru.len()) {
                out.extend(en.get(i).cloned());
                out.extend(ru.get(i).cloned());
            }
            Ok(out)
        }
    }
}
