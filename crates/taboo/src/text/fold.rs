//! What one character is read as under a [`Fold`]: the characters written to the stream in
//! its place. Every rule is a per-character mapping taken from Unicode's own data, so that
//! the normaliser stays a streaming fold, one character in, a few characters out, and both
//! the text and the ban entries go through the same mapping.
//!
//! Without disguise folding:
//! - *canonical decomposition* (the `D` of NFD, from `unicode-normalization`): `é` is written
//!   `e` + U+0301, so a text typed `cafe\u{301}` and an entry saved as `café` are the same.
//!   Comparing decomposed forms is comparing canonically equivalent texts, and unlike
//!   composition it needs no look-ahead: the mark that follows a letter simply follows it in
//!   the stream. Hangul syllables are left composed here (decomposing them would turn every
//!   class of a regex over Korean into thousands of alternatives); conjoining-jamo spellings
//!   are caught under disguise folding, which decomposes them.
//! - with case folding, *full* case folding (Unicode's `CaseFolding.txt` statuses C and F):
//!   `ß` and `ẞ` are written `ss`, `ﬁ` is `fi`, `ΐ` is ι + two marks; other characters take
//!   simple case folding to one representative of their case orbit.
//!
//! With disguise folding (on top of the above):
//! - every `Default_Ignorable_Code_Point` is written as nothing: zero-width characters,
//!   joiners, soft hyphen, bidi marks, embeddings, overrides and isolates, invisible
//!   operators, variation selectors, tags, fillers;
//! - *compatibility* decomposition (the `KD` of NFKD): `𝐜𝐚𝐭`, `ｃａｔ`, `ﬁsh`, `Ⓒ` read as
//!   plain letters, Hangul syllables as jamo; then every nonspacing or enclosing mark
//!   (`\p{Mn}`, `\p{Me}`) is dropped, so `й` reads as `и` and `ё` as `е` whichever way they are
//!   typed: decomposed text never needs composing;
//! - look-alike letters from Unicode's confusables data (UTS #39, through the skeleton of
//!   `unicode-security`) become one representative, Latin where the class has a Latin
//!   letter: Cyrillic `с`, Greek `ϲ` and Latin `c` are all `c`. A character that has a
//!   look-alike class is read as its class before any decomposition (it looks like what it
//!   looks like); the others are decomposed first and each resulting letter is then read as
//!   its class. Only mappings a per-character fold can carry are kept (see
//!   `skeleton_letter`); with case folding the classes are also closed under case, so
//!   Cyrillic `к` joins `К`, `K` and `k`.
//!
//! Two guards keep word boundaries honest: a mapping never turns a non-word character into a
//! word character (`™` would otherwise glue `cat™` into the word `catTM`, `|` would read as
//! `l` and glue `dog|cat`), and confusable mappings only go from word characters to letters.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::char::{decompose_canonical, decompose_compatible};

use super::classes::{fold_char, is_default_ignorable, is_nonspacing_mark, is_word_char};
use super::normalizer::Fold;

/// The characters a character is written as (possibly none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folded {
    /// Exactly one character.
    One(char),
    /// Any other number of characters (none for an invisible one).
    Many(&'static str),
}

impl Folded {
    /// The characters, in order.
    pub fn chars(self) -> impl Iterator<Item = char> {
        let (one, many) = match self {
            Folded::One(c) => (Some(c), ""),
            Folded::Many(s) => (None, s),
        };
        one.into_iter().chain(many.chars())
    }

    /// The characters as a string.
    pub fn to_text(self) -> String {
        self.chars().collect()
    }
}

/// Bit set in a table entry when the entry is an index into the string pool.
const POOL_BIT: u32 = 1 << 31;
/// Bit set in a table entry that is one character when that character is a word character:
/// the normaliser's fast path writes it without classifying it again.
const WORD_BIT: u32 = 1 << 30;

/// The written form of every character under one fold.
struct Table {
    /// Per BMP code point: the one character it is written as (`| WORD_BIT` when it is a word
    /// character), or `POOL_BIT | index` into `spans`.
    bmp: Vec<u32>,
    /// Code points above the BMP whose written form is not themselves, sorted.
    astral: Vec<(u32, u32)>,
    /// `(start, end)` byte offsets into `pool`.
    spans: Vec<(u32, u32)>,
    pool: String,
}

impl Table {
    fn entry(&'static self, e: u32) -> Folded {
        if e & POOL_BIT == 0 {
            // Entries are built from chars.
            Folded::One(char::from_u32(e & !WORD_BIT).unwrap_or('\u{FFFD}'))
        } else {
            let (s, t) = self.spans[(e & !POOL_BIT) as usize];
            Folded::Many(&self.pool[s as usize..t as usize])
        }
    }
}

/// The most bytes one character may be written as: the normaliser's output buffer holds
/// them. Characters whose written form would be longer (none: the longest is U+FDFA's
/// eighteen letters and spaces, 39 bytes) are written as themselves.
pub(crate) const MAX_WRITTEN_BYTES: usize = 48;

/// An upper bound on the stream bytes of a written form: a word character as itself, any
/// other character between two marks.
fn stream_len(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if is_word_char(c) {
                c.len_utf8()
            } else {
                c.len_utf8() + 2
            }
        })
        .sum()
}

fn table(fold: Fold) -> &'static Table {
    static TABLES: [OnceLock<Table>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    TABLES[fold.index()].get_or_init(|| build(fold))
}

/// What `c` is written as under `fold` (before word/non-word marking).
///
/// ```
/// use taboo::text::{folded, Fold};
/// let d = Fold { case: true, disguise: true };
/// assert_eq!(folded('С', d).to_text(), "c"); // Cyrillic capital es
/// assert_eq!(folded('\u{200E}', d).to_text(), ""); // left-to-right mark
/// assert_eq!(folded('й', d), folded('и', d));
/// assert_eq!(folded('ß', Fold::CASE).to_text(), "ss");
/// assert_eq!(folded('é', Fold::NONE).to_text(), "e\u{301}");
/// ```
#[inline]
pub fn folded(c: char, fold: Fold) -> Folded {
    let cp = c as u32;
    if cp < 0x80 && !fold.disguise {
        return Folded::One(if fold.case { c.to_ascii_lowercase() } else { c });
    }
    let t = table(fold);
    if cp < 0x1_0000 {
        t.entry(t.bmp[cp as usize])
    } else {
        match t.astral.binary_search_by_key(&cp, |&(k, _)| k) {
            Ok(i) => t.entry(t.astral[i].1),
            Err(_) => Folded::One(c),
        }
    }
}

/// The word character `c` is written as under `fold`, when it is written as exactly one
/// word character (most text): the normaliser's fast path. `None` for everything else,
/// which [`folded`] then handles.
#[inline]
pub(crate) fn one_word_char(c: char, fold: Fold) -> Option<char> {
    let cp = c as u32;
    if cp >= 0x1_0000 {
        return None;
    }
    let e = table(fold).bmp[cp as usize];
    if e & (POOL_BIT | WORD_BIT) == WORD_BIT {
        char::from_u32(e & !WORD_BIT)
    } else {
        None
    }
}

/// The characters whose written form under `fold` is not just themselves, ascending (for
/// translating regex classes).
pub(crate) fn changed_chars(fold: Fold) -> Vec<char> {
    let t = table(fold);
    let mut out: Vec<char> = (0..0x1_0000u32)
        .filter_map(char::from_u32)
        .filter(|&c| t.entry(t.bmp[c as usize]) != Folded::One(c))
        .collect();
    out.extend(
        t.astral
            .iter()
            .filter_map(|&(cp, _)| char::from_u32(cp))
            .filter(|&c| folded(c, fold) != Folded::One(c)),
    );
    out
}

/// The code points a fold can change: planes 0–2 and the tags block. Planes 3 and up hold
/// ideographs without decompositions, case or look-alikes, private use and unassigned code
/// points, all written as themselves; skipping them keeps table building short.
fn foldable_code_points() -> impl Iterator<Item = char> {
    (0..0x3_0000u32)
        .chain(0xE_0000..0xE_1000)
        .filter_map(char::from_u32)
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// Canonical decomposition (Hangul syllables stay whole), appended to `out`.
fn push_canonical(c: char, out: &mut String) {
    if is_hangul_syllable(c) {
        out.push(c);
    } else {
        decompose_canonical(c, |d| out.push(d));
    }
}

/// Full case folding of one character, appended to `out`: the simple fold, unless the
/// character's upper (or lower) case is several characters, whose simple folds are then
/// the full fold (`ß` → SS → ss, `ẞ` → ß → ss, `İ` → i + U+0307, `ᾳ` → ΑΙ → αι).
fn push_full_case_fold(c: char, out: &mut String) {
    let simple = fold_char(c);
    let upper: Vec<char> = simple.to_uppercase().collect();
    if upper.len() > 1 {
        out.extend(upper.into_iter().map(fold_char));
        return;
    }
    let lower: Vec<char> = c.to_lowercase().collect();
    if lower.len() > 1 {
        out.extend(lower.into_iter().map(fold_char));
        return;
    }
    out.push(simple);
}

/// Compatibility decomposition with nonspacing/enclosing marks and default ignorables
/// dropped.
fn push_compatible_bare(c: char, out: &mut String) {
    decompose_compatible(c, |d| {
        if !is_nonspacing_mark(d) && !is_default_ignorable(d) {
            out.push(d);
        }
    });
}

/// The letter a word character is confusable with, by Unicode's confusables data, when a
/// per-character fold can carry the mapping: the skeleton (without its marks and default
/// ignorables) is one character, a letter, other than `c`. Left out: skeletons of several
/// characters (`ǆ` → `dž` is handled by decomposition, `ﬀ` → `ff` too), targets that are
/// not letters (`ꓸ` → `.`), sources that are not word characters (`|` → `l` would glue
/// `dog|cat` into one word) and confusables of whole strings (`rn` → `m`), which no
/// per-character fold can see.
pub(crate) fn skeleton_letter(c: char) -> Option<char> {
    if !is_word_char(c) || is_default_ignorable(c) || is_nonspacing_mark(c) {
        return None;
    }
    let mut buf = [0u8; 4];
    let mut sk = unicode_security::skeleton(c.encode_utf8(&mut buf))
        .filter(|&d| !is_nonspacing_mark(d) && !is_default_ignorable(d));
    let t = sk.next()?;
    if sk.next().is_some() || t == c || !t.is_alphabetic() || !is_word_char(t) {
        return None;
    }
    Some(t)
}

/// Look-alike classes: union-find over code points, each class labelled with the one
/// letter it reads as.
///
/// Without case folding a class is a UTS #39 prototype and the characters whose skeleton it
/// is. With case folding, case variants must read alike (a case-insensitive lane cannot
/// tell К from к), so each case orbit is one node first; then each look-alike edge
/// `c → t` joins `c`'s orbit to `t`'s and labels the result with `t`'s fold — unless one of
/// them already reads as another letter. Unchecked, chains through case would make
/// different letters one (`t` ~ `T` ~ Warang Citi 𑢼, whose lower case looks like `y`, ~ `y`
/// ~ Greek `γ` ~ `Γ` ~ Cyrillic `Ѓ`, whose lower case looks like `r`): such an edge is
/// left out instead. Edges to ASCII letters are taken first, so Latin look-alikes win;
/// an edge between two ASCII letters (`I` → `l`) is left out with case folding, where `I` is
/// `i`.
struct Confusables {
    rep: HashMap<char, char>,
}

impl Confusables {
    fn new(case: bool) -> Confusables {
        let fold = |c: char| if case { fold_char(c) } else { c };
        // UTS #39 prototypes ignore case: capital I's skeleton is small l. With case
        // folding an upper-case look-alike is taken to the Latin capital of the same
        // skeleton instead, so that Cyrillic І and Greek Ι read as I, that is i.
        let latin_capital = |t: char| ('A'..='Z').find(|&u| skeleton_letter(u).unwrap_or(u) == t);
        let mut edges: Vec<(char, char)> = foldable_code_points()
            // Only word characters have a letter to map to (checked first: it is cheap).
            .filter(|&c| is_word_char(c))
            .filter_map(|c| {
                let t = skeleton_letter(c)?;
                match latin_capital(t) {
                    Some(u) if case && c.is_uppercase() && u != c => Some((c, u)),
                    _ => Some((c, t)),
                }
            })
            .collect();
        edges.sort_by_key(|&(c, t)| (!t.is_ascii(), c));
        // Nodes are case-folded characters (or the characters themselves without case
        // folding).
        let mut parent: HashMap<char, char> = HashMap::new();
        let mut label: HashMap<char, char> = HashMap::new();
        fn find(parent: &mut HashMap<char, char>, c: char) -> char {
            let mut root = c;
            while let Some(&p) = parent.get(&root) {
                if p == root {
                    break;
                }
                root = p;
            }
            let mut x = c;
            while x != root {
                let next = parent[&x];
                parent.insert(x, root);
                x = next;
            }
            root
        }
        for &(c, t) in &edges {
            let (a, b) = (fold(c), fold(t));
            if case && a.is_ascii_alphabetic() && b.is_ascii_alphabetic() && a != b {
                // Capital I looks like small l, but in a case-insensitive lane I is i,
                // and i and l are different letters.
                continue;
            }
            parent.entry(a).or_insert(a);
            parent.entry(b).or_insert(b);
            let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
            let want = fold(t);
            let fits = |r: char| label.get(&r).is_none_or(|&l| l == want);
            if ra == rb || !fits(ra) || !fits(rb) {
                continue;
            }
            parent.insert(ra, rb);
            label.remove(&ra);
            label.insert(rb, want);
        }
        // Every character of an edge reads as its class's label (its case variants reach
        // the table through case folding, which comes first).
        let mut rep = HashMap::new();
        for &(c, t) in &edges {
            for x in [c, t] {
                let r = find(&mut parent, fold(x));
                if let Some(&l) = label.get(&r) {
                    rep.insert(x, l);
                    rep.insert(fold(x), l);
                }
            }
        }
        Confusables { rep }
    }

    fn get(&self, c: char) -> char {
        self.rep.get(&c).copied().unwrap_or(c)
    }
}

/// The written form of `c` under `fold`, computed from the data (the tables cache it).
fn compute(c: char, fold: Fold, confusables: Option<&Confusables>) -> String {
    let mut out = String::new();
    if !fold.disguise {
        push_canonical(c, &mut out);
        if fold.case {
            let mut f = String::new();
            for d in out.chars() {
                push_full_case_fold(d, &mut f);
            }
            out.clear();
            for d in f.chars() {
                push_canonical(d, &mut out);
            }
        }
    } else {
        if is_default_ignorable(c) {
            return out;
        }
        // A look-alike is read as what it looks like, before any decomposition: the lunate
        // sigma `ϲ` looks like `c`, though its compatibility decomposition is `ς`. Case
        // folding comes first, so that a disguise lane never matches less than a plain one:
        // `ß` is `ss` (not its look-alike `β`), as without disguise folding.
        let mut single = Some(c);
        if fold.case {
            let mut f = String::new();
            push_full_case_fold(c, &mut f);
            let mut chars = f.chars();
            single = match (chars.next(), chars.next()) {
                (Some(one), None) => Some(one),
                _ => None,
            };
        }
        if let Some(r) = single.and_then(|one| confusables.and_then(|conf| conf.rep.get(&one))) {
            out.push(*r);
            return out;
        }
        push_compatible_bare(c, &mut out);
        if fold.case {
            let mut f = String::new();
            for d in out.chars() {
                push_full_case_fold(d, &mut f);
            }
            out.clear();
            for d in f.chars() {
                push_compatible_bare(d, &mut out);
            }
        }
        if let Some(conf) = confusables {
            out = out.chars().map(|d| conf.get(d)).collect();
        }
    }
    // Never turn a non-word character into (or into something with) a word character:
    // that would glue the words on both sides. Such a character is written as itself
    // (case folded), as before any of this.
    if !is_word_char(c) && out.chars().any(is_word_char) {
        out.clear();
        out.push(if fold.case { fold_char(c) } else { c });
    }
    out
}

/// True when `c` certainly folds to itself: the cheap test that spares most of Unicode the
/// allocating [`compute`] (tables are built in one pass over every code point).
fn is_trivial(c: char, fold: Fold, confusables: Option<&Confusables>) -> bool {
    let mut n = 0;
    let mut same = true;
    let mut one = |d: char| {
        n += 1;
        same &= d == c;
    };
    if fold.disguise {
        if is_default_ignorable(c)
            || is_nonspacing_mark(c)
            || confusables.is_some_and(|conf| conf.rep.contains_key(&c))
        {
            return false;
        }
        decompose_compatible(c, &mut one);
    } else {
        decompose_canonical(c, &mut one);
    }
    if n != 1 || !same {
        return false;
    }
    !fold.case
        || (fold_char(c) == c
            && !(c.is_alphabetic()
                && (c.to_uppercase().nth(1).is_some() || c.to_lowercase().nth(1).is_some())))
}

fn build(fold: Fold) -> Table {
    let confusables = fold.disguise.then(|| Confusables::new(fold.case));
    let mut table = Table {
        bmp: Vec::with_capacity(0x1_0000),
        astral: Vec::new(),
        spans: Vec::new(),
        pool: String::new(),
    };
    let mut interned: HashMap<String, u32> = HashMap::new();
    table.bmp.extend(0..0x1_0000u32);
    for c in foldable_code_points() {
        if is_trivial(c, fold, confusables.as_ref()) {
            continue;
        }
        let mut s = compute(c, fold, confusables.as_ref());
        if stream_len(&s) > MAX_WRITTEN_BYTES {
            s = c.to_string();
        }
        let mut chars = s.chars();
        let entry = match (chars.next(), chars.next()) {
            (Some(one), None) => one as u32,
            _ => *interned.entry(s.clone()).or_insert_with(|| {
                let start = table.pool.len() as u32;
                table.pool.push_str(&s);
                table.spans.push((start, table.pool.len() as u32));
                POOL_BIT | (table.spans.len() as u32 - 1)
            }),
        };
        let cp = c as u32;
        if cp < 0x1_0000 {
            table.bmp[cp as usize] = entry;
        } else if entry != cp {
            table.astral.push((cp, entry));
        }
    }
    for e in &mut table.bmp {
        if *e & POOL_BIT == 0 && char::from_u32(*e).is_some_and(is_word_char) {
            *e |= WORD_BIT;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISGUISE: Fold = Fold {
        case: true,
        disguise: true,
    };
    const DISGUISE_CASE_SENSITIVE: Fold = Fold {
        case: false,
        disguise: true,
    };

    fn s(c: char, fold: Fold) -> String {
        folded(c, fold).to_text()
    }

    #[test]
    fn canonical_decomposition_without_disguise() {
        assert_eq!(s('é', Fold::NONE), "e\u{301}");
        assert_eq!(s('й', Fold::NONE), "и\u{306}");
        assert_eq!(s('É', Fold::CASE), "e\u{301}");
        assert_eq!(s('한', Fold::NONE), "한");
        // Compatibility forms are not canonical: they stay without disguise folding.
        assert_eq!(s('ﬁ', Fold::NONE), "ﬁ");
    }

    #[test]
    fn full_case_folding() {
        assert_eq!(s('ß', Fold::CASE), "ss");
        assert_eq!(s('ẞ', Fold::CASE), "ss");
        assert_eq!(s('ﬁ', Fold::CASE), "fi");
        assert_eq!(s('İ', Fold::CASE), "i\u{307}");
        assert_eq!(s('ᾳ', Fold::CASE), s('α', Fold::CASE) + &s('ι', Fold::CASE));
        assert_eq!(
            s('ι', Fold::CASE),
            "ι",
            "iota folds to a letter, not to U+0345"
        );
        assert_eq!(s('Σ', Fold::CASE), s('ς', Fold::CASE));
        assert_eq!(s('\u{212A}', Fold::CASE), "k");
    }

    #[test]
    fn disguise_folds() {
        for (c, want) in [
            ('\u{200E}', ""),
            ('\u{2066}', ""),
            ('\u{202E}', ""),
            ('\u{2062}', ""),
            ('\u{E0041}', ""),
            ('\u{301}', ""),
            ('à', "a"),
            ('Ç', "c"),
            ('ć', "c"),
            ('ﬁ', "fi"),
            ('\u{1D41C}', "c"), // mathematical bold c
            ('ｃ', "c"),
            ('с', "c"),
            ('С', "c"),
            ('ϲ', "c"),
            ('к', "k"),
        ] {
            assert_eq!(s(c, DISGUISE), want, "{c:?} U+{:04X}", c as u32);
        }
        // Decomposed and marks dropped: whatever the representative of и and е is, й and ё
        // read as it.
        assert_eq!(s('й', DISGUISE), s('и', DISGUISE));
        assert_eq!(s('ё', DISGUISE), s('е', DISGUISE));
        assert_eq!(s('Й', DISGUISE), s('и', DISGUISE));
        assert_eq!(s('и', DISGUISE).chars().count(), 1);
        // Case-sensitive disguise lanes keep letter case apart but fold look-alikes.
        assert_eq!(s('С', DISGUISE_CASE_SENSITIVE), "C");
        assert_eq!(s('с', DISGUISE_CASE_SENSITIVE), "c");
        // Non-word characters never become word characters.
        assert_eq!(s('™', DISGUISE), "™");
        assert_eq!(s('|', DISGUISE), "|");
        assert_eq!(s('½', DISGUISE), "½");
    }

    #[test]
    fn written_forms_fit_the_buffer() {
        for fold in [Fold::NONE, Fold::CASE, DISGUISE, DISGUISE_CASE_SENSITIVE] {
            for cp in 0..=0x10_FFFFu32 {
                if let Some(c) = char::from_u32(cp) {
                    let w = folded(c, fold).to_text();
                    assert!(stream_len(&w) <= MAX_WRITTEN_BYTES, "U+{cp:04X}");
                }
            }
        }
    }
}

/// The engine's look-alike table against Unicode's confusables data as `unicode-security`
/// carries it.
#[cfg(test)]
mod confusables_tests {
    use super::*;

    const DISGUISE_CI: Fold = Fold {
        case: true,
        disguise: true,
    };
    const DISGUISE_CS: Fold = Fold {
        case: false,
        disguise: true,
    };

    /// The skeleton of one character without marks and default ignorables, as a string.
    fn skeleton_of(c: char) -> String {
        unicode_security::skeleton(&c.to_string())
            .filter(|&d| !is_nonspacing_mark(d) && !is_default_ignorable(d))
            .collect()
    }

    /// Case-sensitive lanes: every character the table maps has the same UTS #39 skeleton
    /// as the letter it maps to.
    #[test]
    fn every_mapping_agrees_with_the_skeleton() {
        let conf = Confusables::new(false);
        let mut mapped = 0;
        for (&c, &r) in &conf.rep {
            if c != r {
                mapped += 1;
                assert_eq!(
                    skeleton_of(c),
                    skeleton_of(r),
                    "U+{:04X} {c:?} → U+{:04X} {r:?}",
                    c as u32,
                    r as u32
                );
            }
        }
        assert!(mapped > 1000, "only {mapped} mappings");
    }

    /// Case-insensitive lanes: classes are also closed under case, so a mapping agrees with
    /// the skeleton up to letter case: some case variant of the character and some case
    /// variant of its representative have one skeleton, or both belong to one class of the
    /// case-sensitive table.
    #[test]
    fn every_case_folded_mapping_agrees_with_the_skeleton_up_to_case() {
        let conf = Confusables::new(true);
        let plain = Confusables::new(false);
        let variants = |x: char| {
            let mut v = vec![x, fold_char(x)];
            v.extend(x.to_uppercase());
            v.extend(x.to_lowercase());
            v
        };
        // Two characters are linked when some case variants of them share a skeleton.
        let linked = |a: char, b: char| {
            variants(a).into_iter().any(|x| {
                variants(b)
                    .into_iter()
                    .any(|y| skeleton_of(x) == skeleton_of(y) || plain.get(x) == plain.get(y))
            })
        };
        // Each member of a class reaches the representative through links.
        let mut by_rep: HashMap<char, Vec<char>> = HashMap::new();
        for (&c, &r) in &conf.rep {
            by_rep.entry(r).or_default().push(c);
        }
        for (r, members) in by_rep {
            let mut reached = vec![r];
            let mut rest: Vec<char> = members.into_iter().filter(|&m| m != r).collect();
            while !rest.is_empty() {
                let before = rest.len();
                rest.retain(|&m| {
                    let hit = reached.iter().any(|&x| linked(m, x));
                    if hit {
                        reached.push(m);
                    }
                    !hit
                });
                assert!(
                    rest.len() < before,
                    "class of {r:?}: {rest:?} not linked to the rest by skeleton or case"
                );
            }
        }
    }

    /// Look-alike classes never make two Latin letters one, however long the chain of
    /// case variants and look-alikes between them; only where case matters does `I` read as
    /// `l` (they are one glyph in many fonts).
    #[test]
    fn latin_letters_stay_apart() {
        let lower: Vec<String> = ('a'..='z')
            .map(|c| folded(c, DISGUISE_CI).to_text())
            .collect();
        for (i, a) in lower.iter().enumerate() {
            for (j, b) in lower.iter().enumerate() {
                assert!(
                    i == j || a != b,
                    "{} and {} both read as {a:?}",
                    (b'a' + i as u8) as char,
                    (b'a' + j as u8) as char
                );
            }
            assert_eq!(folded((b'A' + i as u8) as char, DISGUISE_CI).to_text(), *a);
        }
        let mut merged = Vec::new();
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        for (i, &a) in letters.iter().enumerate() {
            for &b in &letters[i + 1..] {
                if folded(a, DISGUISE_CS) == folded(b, DISGUISE_CS) {
                    merged.push((a, b));
                }
            }
        }
        assert_eq!(merged, [('l', 'I')]);
    }

    /// What is left out, one example per reason (see `skeleton_letter`).
    #[test]
    fn exclusions() {
        // The skeleton is several characters: a per-character fold cannot write it as one
        // letter (decomposition handles the ligatures).
        assert!(skeleton_of('ǆ').chars().count() > 1);
        assert_eq!(skeleton_letter('ǆ'), None);
        // The target is not a letter.
        assert_eq!(skeleton_of('\u{A4F8}'), "."); // Lisu letter tone mya ti
        assert_eq!(skeleton_letter('\u{A4F8}'), None);
        // The source is not a word character: reading | as l would glue "dog|cat".
        assert_eq!(skeleton_of('|'), "l");
        assert_eq!(skeleton_letter('|'), None);
        // Kept: digits that look like letters, and letters of other scripts.
        assert_eq!(skeleton_letter('0'), Some('O'));
        assert_eq!(skeleton_letter('1'), Some('l'));
        assert_eq!(skeleton_letter('\u{441}'), Some('c'));
        assert_eq!(skeleton_letter('ш'), Some('w'));
    }
}
