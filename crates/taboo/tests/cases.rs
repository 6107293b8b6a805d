//! One truth table of ban cases, run through every path: the literal engine and the regex
//! DFA, fed whole, byte by byte (splitting UTF-8 characters) and char by char.

use taboo::{Automaton, BanList, CompileOptions};

/// `(ban file, text, whether the text contains a banned match)`.
const CASES: &[(&str, &str, bool)] = &[
    // Case variants and boundaries, English.
    ("cat", "cat", true),
    ("cat", "My CAT sleeps.", true),
    ("cat", "Cat's toy", true),
    ("cat", "a cat", true),
    ("cat", "(cat)", true),
    ("cat", "cat_", false),
    ("cat", "cats", false),
    ("cat", "category", false),
    ("cat", "concatenate", false),
    ("cat", "bobcat", false),
    ("cat", "c a t", false),
    ("cat", "cat2", false),
    ("[substring] cat", "concatenate", true),
    ("[substring] cat", "CATegory", true),
    ("[case] Cat", "cat", false),
    ("[case] Cat", "Cat", true),
    ("[case] Cat", "CAT", false),
    // Russian.
    ("кошка", "«Кошка»", true),
    ("кошка", "КОШКА", true),
    ("кошка", "кошка-мышка", true),
    ("кошка", "кошками", false),
    ("кошка", "мкошка", false),
    ("кошка", "окошка", false),
    ("[substring] кошка", "окошками", true),
    ("ёлка", "Ёлка!", true),
    // Phrases: inner whitespace matches any whitespace run.
    ("ice cream", "I like ice cream.", true),
    ("ice cream", "ice  \t\n cream", true),
    ("ice cream", "ICE CREAM", true),
    ("ice cream", "ice-cream", false),
    ("ice cream", "icecream", false),
    ("ice cream", "ice creamy", false),
    ("New York", "new   york", true),
    ("rock'n'roll", "Rock'n'Roll!", true),
    ("rock'n'roll", "rock n roll", false),
    // Case folding beyond ASCII: Kelvin sign, final sigma, Cyrillic.
    ("kelvin", "\u{212A}elvin", true),
    ("ΟΔΟΣ", "οδος", true),
    ("ΟΔΟΣ", "οδοσ", true),
    // Regex entries.
    ("[regex] colou?r", "What color?", true),
    ("[regex] colou?r", "COLOUR", true),
    ("[regex] colou?r", "colors", false),
    ("[regex] colou?r", "colouur", false),
    ("[regex] [a-z]+cat", "bobcat", true),
    ("[regex] [a-z]+cat", "cat", false),
    ("[regex] кошк\\w*", "Кошками", true),
    ("[regex] кошк\\w*", "окошко", false),
    ("[regex substring] \\d{3}-\\d{4}", "call 555-1234 now", true),
    (
        "[regex substring] \\d{3}-\\d{4}",
        "call 555 1234 now",
        false,
    ),
    ("[regex] ice\\s+cream", "ice \t cream", true),
    ("[regex] (?:cat|dog)s?", "Dogs!", true),
    ("[regex] (?:cat|dog)s?", "dogsled", false),
    ("[regex case] Cat", "cat", false),
    ("[regex] c[^a-z]t", "c.t", true),
    ("[regex] c[^a-z]t", "c t", true),
    // Invalid UTF-8 is U+FFFD, a non-word character.
    ("cat", "cat\u{FFFD}", true),
    ("[substring] \u{FFFD}", "x\u{FFFD}", true),
    // Disguises, for entries that ask for it.
    ("[disguise] cat", "my \u{441}at", true),
    ("[disguise] cat", "my \u{441}\u{430}t!", true),
    ("[disguise] cat", "c\u{200B}a\u{AD}t", true),
    ("[disguise] cat", "\u{FF43}\u{FF41}\u{FF54}", true),
    ("[disguise] cat", "\u{3F2}\u{3B1}\u{3C4}", true),
    ("[disguise] cat", "CA\u{301}T", true),
    ("[disguise] cat", "concatenate", false),
    ("[disguise] cat", "c-at", false),
    ("[disguise] cat", "ca t", false),
    ("[disguise] cat", "the\u{200B}cat", false),
    ("cat", "my \u{441}at", false),
    ("cat", "c\u{200B}at", false),
    ("[disguise] кошка", "ко\u{301}шка", true),
    ("[disguise] кошка", "\u{43A}o\u{448}\u{43A}a", true),
    ("[disguise] кошка", "kowka", false),
    ("[disguise] ёлка", "елка", true),
    ("[disguise case] Cat", "\u{421}at", true),
    ("[disguise case] Cat", "\u{441}at", false),
    // Several entries at once.
    ("cat\ndog\n[substring] xyz", "hot dog", true),
    ("cat\ndog\n[substring] xyz", "abxyzc", true),
    ("cat\ndog\n[substring] xyz", "hot dogs", false),
];

fn engines(list: &BanList) -> Vec<(&'static str, Automaton)> {
    vec![
        ("literal", Automaton::compile(list).unwrap()),
        (
            "regex",
            Automaton::compile_with(
                list,
                CompileOptions {
                    literal_engine: false,
                },
            )
            .unwrap(),
        ),
    ]
}

fn feed_in_pieces(a: &Automaton, text: &[u8], pieces: &[usize]) -> bool {
    let mut s = a.start();
    let mut at = 0;
    let mut matched = false;
    for &len in pieces {
        let end = (at + len).min(text.len());
        let (next, m) = a.feed(&s, &text[at..end]);
        matched |= m;
        s = next;
        at = end;
    }
    let (s, m) = a.feed(&s, &text[at..]);
    matched || m || a.end_matches(&s)
}

#[test]
fn truth_table_every_engine_every_split() {
    for &(ban, text, expected) in CASES {
        let list = BanList::parse(ban).unwrap();
        for (name, a) in engines(&list) {
            let bytes = text.as_bytes();
            assert_eq!(
                a.is_match(bytes),
                expected,
                "{name}: ban {ban:?} on {text:?}"
            );
            let by_byte = vec![1; bytes.len()];
            assert_eq!(
                feed_in_pieces(&a, bytes, &by_byte),
                expected,
                "{name} byte by byte: ban {ban:?} on {text:?}"
            );
            let by_char: Vec<usize> = text.chars().map(char::len_utf8).collect();
            assert_eq!(
                feed_in_pieces(&a, bytes, &by_char),
                expected,
                "{name} char by char: ban {ban:?} on {text:?}"
            );
        }
    }
}

#[test]
fn invalid_utf8_bytes_are_replacement_characters() {
    let list = BanList::parse("cat").unwrap();
    for (name, a) in engines(&list) {
        assert!(a.is_match(b"cat\xff"), "{name}");
        assert!(a.is_match(b"\xd0cat"), "{name}");
        assert!(!a.is_match(b"cat\xd0\xba"), "{name}: catк is one word");
        // An unfinished sequence at the end of the text is U+FFFD, a boundary.
        assert!(a.is_match(b"cat\xd0"), "{name}");
    }
}
