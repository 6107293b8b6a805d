//! Disguise folding: the spellings people use to slip a word past a filter.
//!
//! With disguise folding on, before a character is written to the stream:
//! - invisible characters vanish: zero-width space, joiner and non-joiner, word joiner,
//!   soft hyphen, byte-order mark, variation selectors, and combining marks (so ко́шка is
//!   кошка); they neither join nor split words — the text reads as if they were not there;
//! - full-width ASCII (ｃａｔ) becomes ASCII;
//! - Latin, Cyrillic and Greek look-alikes become one *skeleton* letter, the Latin one
//!   (Cyrillic с, Greek ϲ and Latin c are all `c`), in both letter cases.
//!
//! The skeleton is blunt on purpose: in a disguise lane the Russian "сор" and the English
//! "cop" are the same word. That is the price of catching "сat" written with a Cyrillic с;
//! entries opt in to it (`[disguise]`).

/// Look-alikes and the Latin letter they stand for. Uppercase and lowercase are listed
/// separately because case-sensitive lanes see both.
const SKELETON: &[(char, char)] = &[
    // Cyrillic lowercase.
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
    ('ї', 'i'),
    ('ј', 'j'),
    ('ѕ', 's'),
    ('һ', 'h'),
    ('ԁ', 'd'),
    ('ԛ', 'q'),
    ('ԝ', 'w'),
    ('ү', 'y'),
    // Cyrillic uppercase.
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('Ё', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('У', 'Y'),
    ('Х', 'X'),
    ('І', 'I'),
    ('Ї', 'I'),
    ('Ј', 'J'),
    ('Ѕ', 'S'),
    ('Һ', 'H'),
    ('Ԁ', 'D'),
    ('Ԛ', 'Q'),
    ('Ԝ', 'W'),
    ('Ү', 'Y'),
    // Greek lowercase.
    ('α', 'a'),
    ('β', 'b'),
    ('ε', 'e'),
    ('η', 'n'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('ν', 'v'),
    ('ο', 'o'),
    ('ρ', 'p'),
    ('τ', 't'),
    ('υ', 'u'),
    ('χ', 'x'),
    ('ϲ', 'c'),
    ('ϳ', 'j'),
    // Greek uppercase.
    ('Α', 'A'),
    ('Β', 'B'),
    ('Ε', 'E'),
    ('Ζ', 'Z'),
    ('Η', 'H'),
    ('Ι', 'I'),
    ('Κ', 'K'),
    ('Μ', 'M'),
    ('Ν', 'N'),
    ('Ο', 'O'),
    ('Ρ', 'P'),
    ('Τ', 'T'),
    ('Υ', 'Y'),
    ('Χ', 'X'),
    ('Ϲ', 'C'),
];

/// Characters that are not seen: they are dropped from the text.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{00AD}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}'
    ) || super::classes::is_combining_mark(c)
}

/// The character a disguised one stands for, or `None` when it is invisible.
///
/// ```
/// use taboo::text::undisguise;
/// assert_eq!(undisguise('с'), Some('c')); // Cyrillic es
/// assert_eq!(undisguise('ｃ'), Some('c')); // full-width
/// assert_eq!(undisguise('\u{200B}'), None); // zero-width space
/// assert_eq!(undisguise('\u{301}'), None); // combining acute accent
/// assert_eq!(undisguise('ш'), Some('ш'));
/// ```
pub fn undisguise(c: char) -> Option<char> {
    if (c as u32) < 0x80 {
        return Some(c);
    }
    if is_invisible(c) {
        return None;
    }
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    Some(skeleton(c))
}

/// The skeleton letter of a look-alike (itself for other characters).
pub(crate) fn skeleton(c: char) -> char {
    SKELETON
        .iter()
        .find(|&&(from, _)| from == c)
        .map_or(c, |&(_, to)| to)
}
