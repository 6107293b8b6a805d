//! One truth table of ban cases, run through every path: the literal engine and the regex
//! DFA, fed whole, byte by byte (splitting UTF-8 characters) and char by char.

use std::sync::Arc;

use taboo::{Automaton, BanList, CompileOptions, MaskTable, Vocabulary};

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
    // Unicode's confusables data counts ш as a look-alike of w.
    ("[disguise] кошка", "kowka", true),
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
            Automaton::compile_with(list, CompileOptions::default().with_literal_engine(false))
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

/// Every way of feeding `text` to every engine: whole, byte by byte, char by char. Returns
/// the failures.
fn check(ban: &str, text: &str, expected: bool) -> Vec<String> {
    let mut failures = Vec::new();
    let list = BanList::parse(ban).unwrap();
    for (name, a) in engines(&list) {
        let bytes = text.as_bytes();
        let by_byte = vec![1; bytes.len()];
        let by_char: Vec<usize> = text.chars().map(char::len_utf8).collect();
        for (how, got) in [
            ("whole", a.is_match(bytes)),
            ("byte by byte", feed_in_pieces(&a, bytes, &by_byte)),
            ("char by char", feed_in_pieces(&a, bytes, &by_char)),
        ] {
            if got != expected {
                failures.push(format!(
                    "{name} {how}: ban {ban:?} on {text:?}: {got}, expected {expected}"
                ));
            }
        }
    }
    failures
}

#[test]
fn truth_table_every_engine_every_split() {
    let failures: Vec<String> = CASES
        .iter()
        .flat_map(|&(ban, text, expected)| check(ban, text, expected))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

/// The masks of a vocabulary made of `text`'s characters and bytes (so tokens split its
/// characters), on every engine: along the text fed character by character, the fast masks
/// equal the brute-force ones, and the text is blocked (some character's token, or the end
/// of generation after it, is forbidden) exactly when it holds a banned match.
fn masks_block(ban: &str, text: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let list = BanList::parse(ban).unwrap();
    for (name, a) in engines(&list) {
        let mut b = Vocabulary::builder();
        let mut ids = Vec::new();
        for c in text.chars() {
            ids.push(b.text(c.to_string()));
        }
        for byte in text.bytes() {
            b.text([byte]);
        }
        b.text(text);
        b.text(" ");
        let eos = b.special("</s>");
        b.end_of_generation(eos);
        let a = Arc::new(a);
        let table = MaskTable::new(Arc::clone(&a), Arc::new(b.build()));
        let mut s = a.start();
        let mut blocked = false;
        for (c, &id) in text.chars().zip(&ids) {
            let fast = table.compute(&s);
            if fast != table.compute_by_brute_force(&s) {
                failures.push(format!(
                    "{name}: masks differ from brute force before {c:?}"
                ));
            }
            blocked |= fast.forbidden.contains(id);
            s = a.feed(&s, c.to_string().as_bytes()).0;
        }
        let fast = table.compute(&s);
        if fast != table.compute_by_brute_force(&s) {
            failures.push(format!("{name}: masks differ from brute force at the end"));
        }
        blocked |= fast.forbidden.contains(eos);
        let expected = a.is_match(text.as_bytes());
        if blocked != expected {
            failures.push(format!(
                "{name}: ban {ban:?}, text {text:?}: blocked {blocked}, matches {expected}"
            ));
        }
    }
    failures
}

/// A regression pin: the truth table row through every engine and split, and the masks.
fn pin(ban: &str, text: &str, expected: bool) {
    let mut failures = check(ban, text, expected);
    failures.extend(masks_block(ban, text));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn decomposed_short_i_matches_chai() {
    pin("чай", "чаи\u{306}", true);
    pin("чай", "Ча\u{438}\u{306}!", true);
    pin("[disguise] чай", "ча\u{438}\u{306}", true);
    pin("чай", "чаи", false);
}

#[test]
fn entry_saved_decomposed_matches_the_composed_word() {
    pin("чаи\u{306}", "чай", true);
    pin("cafe\u{301}", "Café au lait", true);
    pin("café", "cafe\u{301}", true);
    pin("café", "cafe", false);
    pin("[case] Café", "CAFE\u{301}", false);
    pin("[regex] caf[é]", "cafe\u{301}", true);
    pin("[regex] caf[é]", "café", true);
}

#[test]
fn precomposed_letters_fold_under_disguise() {
    pin("[disguise] cat", "\u{107}\u{E0}t", true); // ćàt
    pin("[disguise] cat", "\u{C7}AT", true); // ÇAT
    pin("[disguise] кошка", "к\u{F3}шка", true); // Latin ó inside Cyrillic
}

#[test]
fn compatibility_forms_fold_under_disguise() {
    pin("[disguise] cat", "\u{1D41C}\u{1D41A}\u{1D42D}", true); // bold 𝐜𝐚𝐭
    pin("[disguise] fish", "\u{FB01}sh", true); // ﬁsh
    pin("[disguise] cat", "\u{24D2}\u{24D0}\u{24E3}", true); // ⓒⓐⓣ
    pin("fish", "\u{FB01}sh", true); // full case folding: ﬁ is fi
    pin("[case] fish", "\u{FB01}sh", false); // and without it, a ligature is no f
}

#[test]
fn bidi_isolate_inside_word_is_invisible() {
    for invisible in [
        '\u{200E}',
        '\u{200F}',
        '\u{2062}',
        '\u{2063}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{202A}',
        '\u{202E}',
        '\u{061C}',
        '\u{180E}',
        '\u{E0061}',
        '\u{115F}',
    ] {
        pin("[disguise] cat", &format!("c{invisible}at"), true);
        pin(
            "[disguise] cat",
            &format!("the c{invisible}at{invisible}!"),
            true,
        );
    }
}

#[test]
fn trademark_sign_does_not_glue_words() {
    // ™ decomposes to "TM" under compatibility decomposition; read as letters it would make
    // "cat™" one word and hide the ban.
    pin("[disguise] cat", "cat\u{2122}", true);
    pin("[disguise] cat", "dog|cat", true);
    pin("[disguise] cat", "cat\u{BD}", true); // ½
}

#[test]
fn sharp_s_folds_to_ss() {
    pin("straße", "STRASSE", true);
    pin("STRASSE", "straße", true);
    pin("strasse", "Stra\u{1E9E}e", true); // capital sharp s
    pin("[regex] stra[ß]e", "STRASSE", true);
    pin("[case] straße", "strasse", false);
    // A disguise lane matches at least what a plain one does.
    pin("[disguise] straße", "STRASSE", true);
    pin("[disguise] strasse", "straße", true);
}

#[test]
fn confusable_capitals_and_lowercase_close_under_case() {
    pin("[disguise] kot", "\u{41A}\u{41E}\u{422}", true); // Cyrillic КОТ
    pin("[disguise] kot", "\u{43A}\u{43E}\u{442}", true); // Cyrillic кот, via К ~ K
    pin("[disguise] mice", "m\u{456}ce", true); // Cyrillic і
    pin("[disguise] mice", "M\u{406}CE", true); // Cyrillic І: capital I, so i
    pin("[disguise] mice", "M\u{399}CE", true); // Greek Ι
    pin("[disguise case] Cat", "\u{421}at", true);
    pin("[disguise case] Cat", "\u{441}at", false);
}

/// Chains of case variants and look-alikes must not make different Latin letters one
/// (t ~ T ~ 𑢼 ~ 𑣜 ~ y ~ γ ~ Γ ~ Ѓ ~ ѓ ~ r once made "car" a disguised "cat").
#[test]
fn different_latin_letters_stay_different_under_disguise() {
    pin("[disguise] cat", "car", false);
    pin("[disguise] cat", "cot", false);
    pin("[disguise] kill", "kiii", false);
    pin("[disguise case] kill", "kiII", true); // where case matters, I looks like l
}
