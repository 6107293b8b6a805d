//! Russian lexemes from the OpenCorpora dictionary as compiled for pymorphy3 (the
//! `pymorphy3-dicts-ru` package), read directly: no Python at run time.
//!
//! The dictionary is a set of paradigms (inflection patterns) and a word list that maps every
//! word form to the paradigms it belongs to:
//!
//! - `words.dawg`: a record DAWG from each form to `(paradigm id, form index)` pairs, packed
//!   big-endian as two u16.
//! - `paradigms.array`: u16 little-endian: the paradigm count, then per paradigm its length
//!   and that many numbers. A paradigm of `3n` numbers describes `n` forms: `n` suffix ids,
//!   then `n` tag ids, then `n` prefix ids. Form 0 is the lemma (dictionary form).
//! - `suffixes.json`: the suffix strings; `meta.json`: among other things the paradigm
//!   prefixes (`compile_options.paradigm_prefixes`: `""`, `"по"`, `"наи"`);
//!   `gramtab-opencorpora-int.json`: the tag strings (`"NOUN,anim,femn sing,nomn"`).
//!
//! A form is `prefix + stem + suffix`. The stem of a looked-up form is what remains once its
//! own prefix and suffix are removed; the whole lexeme follows by putting every prefix and
//! suffix of the paradigm around that stem.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::dawg::Dawg;
use super::{data_dir, FormsError, Lexeme};

const LANGUAGE: &str = "Russian";

/// The files [`RussianDictionary::open`] reads, all required.
pub const FILES: [&str; 5] = [
    "words.dawg",
    "paradigms.array",
    "suffixes.json",
    "meta.json",
    "gramtab-opencorpora-int.json",
];

/// The Russian morphological dictionary (OpenCorpora, compiled for pymorphy3), loaded.
///
/// About 8 MB in memory, almost all of it the word list's double array.
#[derive(Debug, Clone)]
pub struct RussianDictionary {
    words: Dawg,
    /// Every paradigm's numbers, one after another.
    paradigm_data: Vec<u16>,
    /// Where each paradigm starts in `paradigm_data`, plus its end: `paradigm_count + 1` items.
    paradigm_starts: Vec<u32>,
    suffixes: Vec<String>,
    prefixes: Vec<String>,
    /// The part of speech of each tag of the gramtab.
    tag_pos: Vec<String>,
}

impl RussianDictionary {
    /// Loads the dictionary from the data directory's `ru/` subdirectory (see
    /// [`data_dir`](super::data_dir)), where `scripts/fetch-models.sh` installs it.
    pub fn locate() -> Result<RussianDictionary, FormsError> {
        match data_dir() {
            Some(dir) => RussianDictionary::open(&dir.join("ru")),
            None => Err(FormsError::DictionaryMissing {
                language: LANGUAGE,
                searched: None,
            }),
        }
    }

    /// Loads the dictionary from `dir`, which holds the files of [`FILES`] as the
    /// `pymorphy3-dicts-ru` package ships them. A missing file is
    /// [`FormsError::DictionaryMissing`]; a file that does not parse, or whose numbers point
    /// outside the other files, is [`FormsError::Corrupt`].
    pub fn open(dir: &Path) -> Result<RussianDictionary, FormsError> {
        let read = |name: &str| -> Result<(PathBuf, Vec<u8>), FormsError> {
            let file = dir.join(name);
            match std::fs::read(&file) {
                Ok(bytes) => Ok((file, bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(FormsError::DictionaryMissing {
                        language: LANGUAGE,
                        searched: Some(dir.to_path_buf()),
                    })
                }
                Err(error) => Err(FormsError::Io { file, error }),
            }
        };
        let corrupt = |file: &Path, what: String| FormsError::Corrupt {
            file: file.to_path_buf(),
            what,
        };

        // Check every file is there before the slow part, so a partial install says "missing".
        for name in FILES {
            if !dir.join(name).is_file() {
                return Err(FormsError::DictionaryMissing {
                    language: LANGUAGE,
                    searched: Some(dir.to_path_buf()),
                });
            }
        }

        let (file, bytes) = read("meta.json")?;
        let prefixes = parse_meta(&bytes).map_err(|what| corrupt(&file, what))?;

        let (file, bytes) = read("suffixes.json")?;
        let suffixes: Vec<String> = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(&file, format!("not a JSON list of strings: {e}")))?;

        let (file, bytes) = read("gramtab-opencorpora-int.json")?;
        let tags: Vec<String> = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(&file, format!("not a JSON list of strings: {e}")))?;
        let tag_pos: Vec<String> = tags
            .iter()
            .map(|tag| tag.split([',', ' ']).next().unwrap_or_default().to_owned())
            .collect();

        let (file, bytes) = read("paradigms.array")?;
        let (paradigm_data, paradigm_starts) =
            parse_paradigms(&bytes, suffixes.len(), tag_pos.len(), prefixes.len())
                .map_err(|what| corrupt(&file, what))?;

        let (file, bytes) = read("words.dawg")?;
        let words = Dawg::from_bytes(&bytes).map_err(|what| corrupt(&file, what))?;

        Ok(RussianDictionary {
            words,
            paradigm_data,
            paradigm_starts,
            suffixes,
            prefixes,
            tag_pos,
        })
    }

    /// Every lexeme `word` is a form of, each with all its forms; empty when the dictionary
    /// does not know the word.
    ///
    /// - The word is lower-cased first.
    /// - Homonyms give one lexeme each: `стали` is a form of the verb стать and of the noun
    ///   сталь, so both come back; `кошка` gives two (OpenCorpora lists the animal and the
    ///   inanimate sense, whose accusative plurals differ).
    /// - ё may be typed as е (as Russian text usually does): at every е the dictionary's ё
    ///   spelling is tried too, so `еж` finds ёж and `все` finds both все (весь) and всё.
    ///   The reverse does not hold: `ёлка` finds only ё spellings.
    /// - Forms are spelled as the dictionary spells them, with ё.
    ///
    /// Lexemes come in the order the word list stores them; none twice.
    pub fn lexemes(&self, word: &str) -> Vec<Lexeme> {
        let word = word.to_lowercase();
        let mut spellings = Vec::new();
        self.find_spellings(&word, Dawg::ROOT, &mut String::new(), &mut spellings);

        let mut seen: HashSet<(u16, &str)> = HashSet::new();
        let mut lexemes = Vec::new();
        for (spelling, index) in &spellings {
            let mut records = Vec::new();
            self.words.records::<4>(*index, |r| {
                records.push((
                    u16::from_be_bytes([r[0], r[1]]),
                    u16::from_be_bytes([r[2], r[3]]),
                ))
            });
            for (paradigm_id, form) in records {
                let Some(paradigm) = self.paradigm(paradigm_id) else {
                    continue;
                };
                let Some(stem) = self.stem(paradigm, form, spelling) else {
                    continue;
                };
                if seen.insert((paradigm_id, stem)) {
                    lexemes.push(self.lexeme(paradigm, stem));
                }
            }
        }
        lexemes
    }

    /// Hands `emit` every form of every lexeme of `word` (lower case), as
    /// [`RussianDictionary::lexemes`] finds them, without building the lexemes: each form is
    /// written into one reused buffer, and a form two lexemes share comes twice. A lexeme
    /// for which `fresh(paradigm id, stem)` says false is skipped (the caller has had its
    /// forms already). Returns whether the dictionary knows the word.
    pub(crate) fn for_each_form<E>(
        &self,
        word: &str,
        fresh: &mut dyn FnMut(u16, &str) -> bool,
        emit: &mut dyn FnMut(&str) -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut spellings = Vec::new();
        self.find_spellings(word, Dawg::ROOT, &mut String::new(), &mut spellings);
        let mut seen: Vec<(u16, &str)> = Vec::new();
        let mut buf = String::new();
        let mut records = Vec::new();
        for (spelling, index) in &spellings {
            records.clear();
            self.words.records::<4>(*index, |r| {
                records.push((
                    u16::from_be_bytes([r[0], r[1]]),
                    u16::from_be_bytes([r[2], r[3]]),
                ))
            });
            for &(paradigm_id, form) in &records {
                let Some(paradigm) = self.paradigm(paradigm_id) else {
                    continue;
                };
                let Some(stem) = self.stem(paradigm, form, spelling) else {
                    continue;
                };
                if seen.contains(&(paradigm_id, stem)) {
                    continue;
                }
                seen.push((paradigm_id, stem));
                if !fresh(paradigm_id, stem) {
                    continue;
                }
                for f in 0..paradigm.len() / 3 {
                    let Some((prefix, suffix)) = self.form_parts(paradigm, f) else {
                        continue;
                    };
                    buf.clear();
                    buf.push_str(prefix);
                    buf.push_str(stem);
                    buf.push_str(suffix);
                    emit(&buf)?;
                }
            }
        }
        Ok(!seen.is_empty())
    }

    /// Collects `(spelling, unit)` for every dictionary key that matches `rest` after the
    /// already matched `done` (ending at `index`), reading each е also as ё.
    fn find_spellings(
        &self,
        rest: &str,
        mut index: u32,
        done: &mut String,
        out: &mut Vec<(String, u32)>,
    ) {
        let start_len = done.len();
        let mut chars = rest.char_indices();
        loop {
            let Some((at, c)) = chars.next() else {
                if self
                    .words
                    .follow_byte(index, super::dawg::PAYLOAD_SEPARATOR)
                    .is_some()
                {
                    out.push((done.clone(), index));
                }
                break;
            };
            if c == 'е' {
                if let Some(yo) = self.words.follow_bytes(index, "ё".as_bytes()) {
                    let mut branch = done.clone();
                    branch.push('ё');
                    self.find_spellings(&rest[at + c.len_utf8()..], yo, &mut branch, out);
                }
            }
            let mut buf = [0u8; 4];
            match self
                .words
                .follow_bytes(index, c.encode_utf8(&mut buf).as_bytes())
            {
                Some(next) => index = next,
                None => break,
            }
            done.push(c);
        }
        done.truncate(start_len);
    }

    /// The numbers of a paradigm: `3n` of them for `n` forms (checked at load).
    fn paradigm(&self, id: u16) -> Option<&[u16]> {
        let id = usize::from(id);
        let start = *self.paradigm_starts.get(id)? as usize;
        let end = *self.paradigm_starts.get(id + 1)? as usize;
        self.paradigm_data.get(start..end)
    }

    fn form_parts<'a>(&'a self, paradigm: &[u16], form: usize) -> Option<(&'a str, &'a str)> {
        let n = paradigm.len() / 3;
        if form >= n {
            return None;
        }
        let suffix = self.suffixes.get(usize::from(paradigm[form]))?;
        let prefix = self.prefixes.get(usize::from(paradigm[2 * n + form]))?;
        Some((prefix, suffix))
    }

    /// The stem of `word` as form `form` of `paradigm`, if the word has that form's prefix and
    /// suffix.
    fn stem<'w>(&self, paradigm: &[u16], form: u16, word: &'w str) -> Option<&'w str> {
        let (prefix, suffix) = self.form_parts(paradigm, usize::from(form))?;
        word.strip_prefix(prefix)?.strip_suffix(suffix)
    }

    fn lexeme(&self, paradigm: &[u16], stem: &str) -> Lexeme {
        let n = paradigm.len() / 3;
        let mut forms: Vec<String> = Vec::with_capacity(n);
        let mut seen: HashSet<String> = HashSet::with_capacity(n);
        for form in 0..n {
            let Some((prefix, suffix)) = self.form_parts(paradigm, form) else {
                continue;
            };
            let word = [prefix, stem, suffix].concat();
            if seen.insert(word.clone()) {
                forms.push(word);
            }
        }
        let pos = paradigm
            .get(n)
            .and_then(|&tag| self.tag_pos.get(usize::from(tag)))
            .cloned()
            .unwrap_or_default();
        Lexeme {
            lemma: forms.first().cloned().unwrap_or_default(),
            pos,
            forms,
        }
    }
}

/// The paradigm prefixes from `meta.json`, a JSON list of `[key, value]` pairs.
fn parse_meta(bytes: &[u8]) -> Result<Vec<String>, String> {
    let pairs: Vec<(String, serde_json::Value)> = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a JSON list of [key, value] pairs: {e}"))?;
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    match get("language_code").and_then(|v| v.as_str()) {
        Some("ru") => {}
        other => return Err(format!("language_code is {other:?}, not \"ru\"")),
    }
    match get("format_version").and_then(|v| v.as_str()) {
        Some(v) if v.starts_with("2.") => {}
        other => return Err(format!("format_version {other:?} is not the supported 2.x")),
    }
    let prefixes = get("compile_options")
        .and_then(|o| o.get("paradigm_prefixes"))
        .ok_or("compile_options.paradigm_prefixes is missing")?;
    serde_json::from_value(prefixes.clone())
        .map_err(|e| format!("compile_options.paradigm_prefixes is not a list of strings: {e}"))
}

/// Reads `paradigms.array`, checking every suffix, tag and prefix id against the table it
/// indexes. Returns the concatenated numbers and where each paradigm starts (plus the end).
fn parse_paradigms(
    bytes: &[u8],
    suffix_count: usize,
    tag_count: usize,
    prefix_count: usize,
) -> Result<(Vec<u16>, Vec<u32>), String> {
    if bytes.len() % 2 != 0 {
        return Err(format!(
            "odd size ({} bytes) for an array of u16",
            bytes.len()
        ));
    }
    let numbers: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let Some((&count, mut rest)) = numbers.split_first() else {
        return Err("empty file".to_owned());
    };
    let mut data = Vec::with_capacity(rest.len());
    let mut starts = Vec::with_capacity(usize::from(count) + 1);
    for id in 0..count {
        let Some((&len, tail)) = rest.split_first() else {
            return Err(format!("truncated: ends at paradigm {id} of {count}"));
        };
        let len = usize::from(len);
        if len == 0 || len % 3 != 0 {
            return Err(format!(
                "paradigm {id} has {len} numbers, not a positive multiple of 3"
            ));
        }
        let Some(paradigm) = tail.get(..len) else {
            return Err(format!("truncated: inside paradigm {id} of {count}"));
        };
        let n = len / 3;
        for (part, limit, what) in [
            (0, suffix_count, "suffix"),
            (1, tag_count, "tag"),
            (2, prefix_count, "prefix"),
        ] {
            if let Some(&bad) = paradigm[part * n..(part + 1) * n]
                .iter()
                .find(|&&x| usize::from(x) >= limit)
            {
                return Err(format!(
                    "paradigm {id} uses {what} {bad}, but there are only {limit}"
                ));
            }
        }
        starts.push(data.len() as u32);
        data.extend_from_slice(paradigm);
        rest = &tail[len..];
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} unexpected numbers after the last paradigm",
            rest.len()
        ));
    }
    starts.push(data.len() as u32);
    Ok((data, starts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_gives_the_prefixes() {
        let meta = r#"[["language_code","ru"],["format_version","2.4"],
            ["compile_options",{"paradigm_prefixes":["","по","наи"]}]]"#;
        assert_eq!(parse_meta(meta.as_bytes()).unwrap(), ["", "по", "наи"]);
        assert!(
            parse_meta(br#"[["language_code","uk"],["format_version","2.4"]]"#)
                .unwrap_err()
                .contains("language_code")
        );
        assert!(
            parse_meta(br#"[["language_code","ru"],["format_version","2.4"]]"#)
                .unwrap_err()
                .contains("paradigm_prefixes")
        );
        assert!(parse_meta(b"{").is_err());
    }

    fn paradigm_file(paradigms: &[&[u16]]) -> Vec<u8> {
        let mut numbers = vec![paradigms.len() as u16];
        for p in paradigms {
            numbers.push(p.len() as u16);
            numbers.extend_from_slice(p);
        }
        numbers.iter().flat_map(|n| n.to_le_bytes()).collect()
    }

    #[test]
    fn paradigms_parse_and_are_checked() {
        let good = paradigm_file(&[&[0, 1, 5, 6, 0, 1], &[2, 3, 0]]);
        let (data, starts) = parse_paradigms(&good, 3, 7, 2).unwrap();
        assert_eq!(data, [0, 1, 5, 6, 0, 1, 2, 3, 0]);
        assert_eq!(starts, [0, 6, 9]);
        assert!(parse_paradigms(&good, 2, 7, 2)
            .unwrap_err()
            .contains("suffix 2"));
        assert!(parse_paradigms(&good, 3, 6, 2)
            .unwrap_err()
            .contains("tag 6"));
        assert!(parse_paradigms(&good, 3, 7, 1)
            .unwrap_err()
            .contains("prefix 1"));
        for len in 0..good.len() {
            assert!(
                parse_paradigms(&good[..len], 3, 7, 2).is_err(),
                "cut at {len}"
            );
        }
        let mut longer = good.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(parse_paradigms(&longer, 3, 7, 2)
            .unwrap_err()
            .contains("unexpected"));
        let not_triple = paradigm_file(&[&[0, 1]]);
        assert!(parse_paradigms(&not_triple, 3, 7, 2)
            .unwrap_err()
            .contains("multiple of 3"));
    }
}
