//! Character classes the normaliser needs: "is this a word character" and "case fold".
//!
//! Both come from Unicode data that regex-syntax already carries, so the engine, its regex
//! entries and the `regex` crate used as an independent oracle in tests agree on them:
//! word characters are `[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]` (UTS #18 `\w`), and
//! [`fold_char`] is *simple* case folding, mapping each character to one member of its fold
//! orbit (K, k and the Kelvin sign K all become `k`); the full folding the normaliser uses
//! (`ß` → `ss`) is built on it in `fold.rs`. The marks and default-ignorable classes that
//! disguise folding drops come from the same data.
//!
//! Lookups happen for every character of every token during mask walks, so the Basic
//! Multilingual Plane is precomputed into one flat table (256 KiB); other planes use binary
//! search.

use std::sync::OnceLock;

use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, HirKind};

/// Bit set in a BMP table entry when the character is a word character.
const WORD_BIT: u32 = 1 << 31;
/// Bit set in a BMP table entry when the character is a nonspacing or enclosing mark
/// (`\p{Mn}`, `\p{Me}`).
const MARK_BIT: u32 = 1 << 30;

struct Tables {
    /// Sorted, disjoint ranges of word characters.
    word_ranges: Vec<(u32, u32)>,
    /// Sorted, disjoint ranges of nonspacing and enclosing marks (`\p{Mn}`, `\p{Me}`).
    mark_ranges: Vec<(u32, u32)>,
    /// Sorted, disjoint ranges of `Default_Ignorable_Code_Point`.
    ignorable_ranges: Vec<(u32, u32)>,
    /// Sorted `(char, folded)` pairs for every character whose fold differs from itself.
    folds: Vec<(u32, u32)>,
    /// For each BMP code point: folded code point | WORD_BIT | MARK_BIT.
    bmp: Vec<u32>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(build_tables)
}

/// The regex-syntax class for a pattern like `[\w]`; panics only on a bug in the literal.
fn class_of(pattern: &str) -> ClassUnicode {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("built-in class pattern is valid");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c.clone(),
        _ => unreachable!("built-in class pattern is a Unicode class"),
    }
}

/// The word-character class, as regex-syntax ranges (for regex translation).
pub(crate) fn word_class() -> ClassUnicode {
    class_of(r"[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]")
}

/// The whitespace class (`\s`), as regex-syntax ranges.
pub(crate) fn whitespace_class() -> ClassUnicode {
    class_of(r"\s")
}

fn build_tables() -> Tables {
    let word_ranges: Vec<(u32, u32)> = word_class()
        .ranges()
        .iter()
        .map(|r| (r.start() as u32, r.end() as u32))
        .collect();
    let ranges = |pattern: &str| -> Vec<(u32, u32)> {
        class_of(pattern)
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect()
    };
    let mark_ranges = ranges(r"[\p{Mn}\p{Me}]");
    let ignorable_ranges = ranges(r"\p{Default_Ignorable_Code_Point}");
    // Characters with a non-trivial simple case-fold orbit all have a case mapping, so they
    // are found among the characters whose lower or upper case differs from themselves.
    let mut folds = Vec::new();
    for cp in 0..=0x10FFFFu32 {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        let mut lower = c.to_lowercase();
        let mut upper = c.to_uppercase();
        let trivial = lower.len() == 1
            && upper.len() == 1
            && lower.next() == Some(c)
            && upper.next() == Some(c);
        if trivial {
            continue;
        }
        let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
        class.case_fold_simple();
        // The orbit's representative: the lowercase of its smallest member when that is in
        // the orbit (so ASCII letters fold to ASCII lowercase, matching the fast path),
        // otherwise the smallest member itself.
        // Marks are left out of the choice: iota's orbit holds U+0345, the combining
        // ypogegrammeni, and text folded to a mark would lose its iotas wherever marks are
        // dropped (disguise folding).
        let mut members: Vec<char> = class.iter().flat_map(|r| r.start()..=r.end()).collect();
        if members.len() > 1 {
            members.retain(|&m| !is_mark_char(m));
        }
        let min = members[0];
        let mut lower = min.to_lowercase();
        let rep = match (lower.next(), lower.next()) {
            (Some(l), None) if members.contains(&l) => l,
            _ => min,
        };
        if rep != c {
            folds.push((cp, rep as u32));
        }
    }
    let mut bmp = Vec::with_capacity(0x10000);
    for cp in 0..0x10000u32 {
        let folded = match folds.binary_search_by_key(&cp, |&(k, _)| k) {
            Ok(i) => folds[i].1,
            Err(_) => cp,
        };
        let word = in_ranges(&word_ranges, cp);
        let mark = in_ranges(&mark_ranges, cp);
        bmp.push(folded | if word { WORD_BIT } else { 0 } | if mark { MARK_BIT } else { 0 });
    }
    Tables {
        word_ranges,
        mark_ranges,
        ignorable_ranges,
        folds,
        bmp,
    }
}

/// True for any mark (`\p{M}`), while the tables are being built.
fn is_mark_char(c: char) -> bool {
    static MARKS: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    let marks = MARKS.get_or_init(|| {
        class_of(r"\p{M}")
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect()
    });
    in_ranges(marks, c as u32)
}

fn in_ranges(ranges: &[(u32, u32)], cp: u32) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// True for word characters (`\w` in the Unicode sense).
///
/// ```
/// use taboo::text::is_word_char;
/// assert!(is_word_char('ж'));
/// assert!(is_word_char('7'));
/// assert!(!is_word_char('«'));
/// assert!(!is_word_char(' '));
/// ```
#[inline]
pub fn is_word_char(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x80 {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let t = tables();
    if cp < 0x10000 {
        t.bmp[cp as usize] & WORD_BIT != 0
    } else {
        in_ranges(&t.word_ranges, cp)
    }
}

/// True for `Default_Ignorable_Code_Point`: characters with no glyph of their own.
pub(crate) fn is_default_ignorable(c: char) -> bool {
    in_ranges(&tables().ignorable_ranges, c as u32)
}

/// True for nonspacing and enclosing marks (`\p{Mn}`, `\p{Me}`), such as the stress mark in
/// ко́шка.
#[inline]
pub(crate) fn is_nonspacing_mark(c: char) -> bool {
    let cp = c as u32;
    if cp < 0x300 {
        return false;
    }
    let t = tables();
    if cp < 0x10000 {
        t.bmp[cp as usize] & MARK_BIT != 0
    } else {
        in_ranges(&t.mark_ranges, cp)
    }
}

/// Simple case folding: every member of a case orbit maps to one representative.
///
/// ```
/// use taboo::text::fold_char;
/// assert_eq!(fold_char('К'), fold_char('к'));
/// assert_eq!(fold_char('\u{212A}'), fold_char('k')); // Kelvin sign
/// assert_eq!(fold_char('Σ'), fold_char('ς'));
/// ```
#[inline]
pub fn fold_char(c: char) -> char {
    let cp = c as u32;
    if cp < 0x80 {
        return c.to_ascii_lowercase();
    }
    let t = tables();
    let folded = if cp < 0x10000 {
        t.bmp[cp as usize] & !(WORD_BIT | MARK_BIT)
    } else {
        match t.folds.binary_search_by_key(&cp, |&(k, _)| k) {
            Ok(i) => t.folds[i].1,
            Err(_) => cp,
        }
    };
    char::from_u32(folded).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fold_agrees_with_table() {
        for c in 0u8..0x80 {
            let c = c as char;
            let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
            class.case_fold_simple();
            let orbit: Vec<char> = class.iter().flat_map(|r| r.start()..=r.end()).collect();
            for m in orbit {
                assert_eq!(fold_char(m), fold_char(c), "{m:?} vs {c:?}");
            }
        }
    }

    #[test]
    fn word_chars_match_regex_w() {
        let re = regex::Regex::new(r"^\w$").unwrap();
        for cp in (0..0x3000u32)
            .chain(0x1F600..0x1F610)
            .chain(0x10400..0x10450)
        {
            if let Some(c) = char::from_u32(cp) {
                assert_eq!(is_word_char(c), re.is_match(&c.to_string()), "U+{cp:04X}");
            }
        }
    }
}
