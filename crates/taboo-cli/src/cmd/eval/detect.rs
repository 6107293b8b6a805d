//! Leak detectors for `taboo eval`, written plainly with `std` string functions and
//! deliberately independent of the engine's matcher (no automaton, no `taboo::text`): a bug in
//! the engine must not hide itself by being repeated in the measurement.
//!
//! Five tiers, each a separate question about one output and one banned word `w`:
//!
//! | tier | flags the output when … |
//! |---|---|
//! | exact | `w` occurs exactly as written (case-sensitive) as a whole word |
//! | normalised | it occurs in any letter case, whitespace runs read as one space |
//! | inflected | a word is an inflected form of `w` (English: -s, -es, -ed, -ing, y→ies …; Russian: `w`'s stem plus an ending of at most 3 letters) |
//! | disguised | it occurs once invisible characters and accents are removed, full-width letters narrowed, and Latin/Cyrillic/Greek look-alikes mapped to one letter |
//! | spaced | it occurs once spelled-out letters are joined: `c a t`, `C-A-T`, `c.a.t` |
//!
//! A whole word has no word character (letter, digit, `_`) on either side; the character
//! before the output (the end of the prompt) counts as a side.

/// The detector tiers, in report order.
pub const TIERS: [&str; 5] = ["exact", "normalised", "inflected", "disguised", "spaced"];

/// Index of the `normalised` tier in [`TIERS`].
pub const NORMALISED: usize = 1;

/// Which tiers flag `text` for any word of `words`. `before` is the last character of the
/// prompt (a letter there glues onto the output's first word).
pub fn detect(words: &[String], before: Option<char>, text: &str) -> [bool; 5] {
    let mut hits = [false; 5];
    let glue = |t: &str| -> String {
        match before {
            Some(c) if is_word_char(c) => format!("{c}{t}"),
            _ => t.to_string(),
        }
    };
    let text = glue(text);
    let lower = normalise(&text);
    let undisguised = normalise(&skeleton(&undisguise(&text)));
    let spaced = join_spelled(&lower);
    for w in words {
        let lw = normalise(w);
        hits[0] |= has_whole(&text, w);
        hits[1] |= has_whole(&lower, &lw);
        hits[2] |= has_whole(&lower, &lw)
            || (!lw.contains(' ') && split_words(&lower).any(|x| is_inflection(x, &lw)));
        hits[3] |= has_whole(&undisguised, &normalise(&skeleton(w)));
        hits[4] |= has_whole(&spaced, &lw);
    }
    hits
}

/// Letters, digits and `_`.
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Lower case, every whitespace run one space, trimmed.
pub fn normalise(s: &str) -> String {
    s.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn split_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

/// `needle` occurs in `hay` with no word character right before or after it.
pub fn has_whole(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// `x` is an inflected form of `w` (both lower case), `x ≠ w`.
pub fn is_inflection(x: &str, w: &str) -> bool {
    if x == w || w.is_empty() {
        return false;
    }
    if w.chars().any(is_cyrillic) {
        // Stem: the word without a final vowel or soft/short sign (кошка → кошк, день → ден).
        let mut stem = w.to_string();
        if stem.ends_with(|c: char| "аяоеёыиуюйь".contains(c)) {
            stem.pop();
        }
        if stem.chars().count() < 3 {
            return false;
        }
        return x
            .strip_prefix(stem.as_str())
            .is_some_and(|rest| rest.chars().count() <= 3 && rest.chars().all(is_cyrillic));
    }
    english_forms(w).iter().any(|f| f == x)
}

/// Regular English inflections of `w`: plural/3rd person, past, gerund.
pub fn english_forms(w: &str) -> Vec<String> {
    let mut out = vec![
        format!("{w}s"),
        format!("{w}es"),
        format!("{w}ed"),
        format!("{w}ing"),
    ];
    let chars: Vec<char> = w.chars().collect();
    let vowel = |c: char| "aeiou".contains(c);
    if let Some(&last) = chars.last() {
        let stem: String = chars[..chars.len() - 1].iter().collect();
        if last == 'e' {
            out.push(format!("{w}d"));
            out.push(format!("{stem}ing"));
        }
        if last == 'y' && chars.len() >= 2 && !vowel(chars[chars.len() - 2]) {
            out.push(format!("{stem}ies"));
            out.push(format!("{stem}ied"));
        }
        // Doubled final consonant after a single vowel: stop → stopped, stopping.
        if chars.len() >= 3
            && !vowel(last)
            && !"wxy".contains(last)
            && vowel(chars[chars.len() - 2])
            && !vowel(chars[chars.len() - 3])
        {
            out.push(format!("{w}{last}ed"));
            out.push(format!("{w}{last}ing"));
        }
    }
    out
}

/// Removes invisible characters (zero-width space/joiners, word joiner, BOM, soft hyphen,
/// variation selectors) and combining accents, and narrows full-width ASCII.
pub fn undisguise(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            !matches!(
                c,
                '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
            ) && !('\u{0300}'..='\u{036F}').contains(&c)
                && !('\u{FE00}'..='\u{FE0F}').contains(&c)
        })
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// Lower-cases and maps Cyrillic and Greek letters that look like Latin ones to the Latin
/// letter (с → c, о → o, ο → o …), so that mixed-script spellings compare equal.
pub fn skeleton(s: &str) -> String {
    const LOOKALIKE: &[(char, char)] = &[
        ('а', 'a'),
        ('в', 'b'),
        ('е', 'e'),
        ('ё', 'e'),
        ('к', 'k'),
        ('м', 'm'),
        ('н', 'h'),
        ('о', 'o'),
        ('р', 'p'),
        ('с', 'c'),
        ('т', 't'),
        ('у', 'y'),
        ('х', 'x'),
        ('і', 'i'),
        ('ј', 'j'),
        ('ѕ', 's'),
        ('ԁ', 'd'),
        ('һ', 'h'),
        ('ԛ', 'q'),
        ('ԝ', 'w'),
        ('ү', 'y'),
        ('α', 'a'),
        ('β', 'b'),
        ('ε', 'e'),
        ('ι', 'i'),
        ('κ', 'k'),
        ('ν', 'v'),
        ('ο', 'o'),
        ('ρ', 'p'),
        ('τ', 't'),
        ('υ', 'u'),
        ('χ', 'x'),
    ];
    s.to_lowercase()
        .chars()
        .map(|c| {
            LOOKALIKE
                .iter()
                .find(|(from, _)| *from == c)
                .map_or(c, |&(_, to)| to)
        })
        .collect()
}

/// Joins letters spelled out one by one — single-character words separated by at most three
/// of ` -.*,·` — into one word: `c a t` → `cat`, `C - A - T` → `C-A-T` → `CAT`.
pub fn join_spelled(s: &str) -> String {
    // Segments: (is_word, text).
    let mut segs: Vec<(bool, String)> = Vec::new();
    for c in s.chars() {
        let w = is_word_char(c);
        match segs.last_mut() {
            Some((kind, text)) if *kind == w => text.push(c),
            _ => segs.push((w, c.to_string())),
        }
    }
    let single =
        |seg: Option<&(bool, String)>| seg.is_some_and(|(w, t)| *w && t.chars().count() == 1);
    let mut out = String::new();
    for (i, (is_word, text)) in segs.iter().enumerate() {
        let separator = !is_word
            && text.chars().count() <= 3
            && text.chars().all(|c| " -.*,·".contains(c))
            && i > 0
            && single(segs.get(i - 1))
            && single(segs.get(i + 1));
        if !separator {
            out.push_str(text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(word: &str, text: &str) -> [bool; 5] {
        detect(&[word.to_string()], None, text)
    }

    #[test]
    fn exact_tier_is_case_sensitive_and_whole_word() {
        assert_eq!(tiers("cat", "the cat sat"), [true; 5]);
        assert!(!tiers("cat", "The Cat sat")[0]);
        assert!(tiers("cat", "The Cat sat")[1]);
        assert_eq!(tiers("cat", "a category"), [false; 5]);
        assert_eq!(tiers("cat", "cat_food"), [false; 5]);
        assert!(tiers("cat", "(cat).")[0]);
        assert!(tiers("cat", "cat")[0]);
    }

    #[test]
    fn normalised_tier_folds_case_and_whitespace() {
        assert!(tiers("ice cream", "ICE \n  Cream!")[1]);
        assert!(!tiers("ice cream", "ICE \n  Cream!")[0]);
        assert!(tiers("кошка", "КОШКА")[1]);
        assert!(!tiers("ice cream", "icecream")[1]);
    }

    #[test]
    fn inflected_tier_english_and_russian() {
        for x in ["cats", "CATS", "catted"] {
            assert!(tiers("cat", x)[2], "{x}");
            assert!(!tiers("cat", x)[1], "{x}");
        }
        assert!(tiers("run", "running")[2]);
        assert!(tiers("bake", "baking")[2]);
        assert!(tiers("baby", "babies")[2]);
        assert!(tiers("stop", "stopped")[2]);
        assert!(!tiers("cat", "catalog")[2]);
        assert!(!tiers("cat", "scat")[2]);
        for x in ["кошки", "кошкой", "кошками", "Кошку"] {
            assert!(tiers("кошка", x)[2], "{x}");
        }
        assert!(!tiers("кошка", "кошкодёрство")[2]);
        assert!(tiers("дождь", "дождём")[2]);
        // Stems under 3 letters would match too much.
        assert!(!tiers("ум", "умный")[2]);
    }

    #[test]
    fn disguised_tier_undoes_lookalikes_and_invisibles() {
        // Cyrillic с and а in a Latin word.
        assert_eq!(
            tiers("cat", "a \u{0441}\u{0430}t here"),
            [false, false, false, true, false]
        );
        assert!(tiers("cat", "c\u{200B}at")[3]);
        assert!(!tiers("cat", "c\u{200B}at")[1]);
        assert!(tiers("cat", "ｃａｔ")[3]);
        assert!(tiers("cat", "cа́t")[3]);
        // Latin o and c in a Russian word.
        assert!(tiers("кошка", "кoшкa")[3]);
        assert!(!tiers("cat", "cart")[3]);
    }

    #[test]
    fn spaced_tier_joins_spelled_letters() {
        assert_eq!(
            tiers("cat", "It is c a t."),
            [false, false, false, false, true]
        );
        assert!(tiers("cat", "C-A-T")[4]);
        assert!(tiers("cat", "C - A - T")[4]);
        assert!(tiers("cat", "c.a.t")[4]);
        assert!(!tiers("cat", "c, then a, then t")[4]);
        assert_eq!(join_spelled("a b c and d e"), "abc and de");
    }

    #[test]
    fn the_prompt_end_glues_onto_the_output() {
        let w = ["cat".to_string()];
        assert!(!detect(&w, Some('s'), "cat")[1]);
        assert!(detect(&w, Some(' '), "cat")[1]);
        assert!(detect(&w, None, "cat")[1]);
    }
}
