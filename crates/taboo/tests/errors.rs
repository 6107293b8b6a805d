//! Bad ban lists get clear errors that name the entry (and the line) — never a panic.

use taboo::{Automaton, BanErrorKind, BanList, EntryOptions};

fn parse_err(text: &str) -> taboo::BanError {
    BanList::parse(text).expect_err(text)
}

#[test]
fn empty_entry() {
    let e = BanList::new()
        .add("   ", EntryOptions::default())
        .unwrap_err();
    assert!(matches!(e.kind(), BanErrorKind::Empty));
    assert!(e.to_string().contains("empty entry"), "{e}");
    let e = parse_err("cat\n[regex]   \n");
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().starts_with("line 2: "), "{e}");
}

#[test]
fn whole_word_entry_without_word_characters() {
    let e = parse_err("cat\ndog\n!!!\n");
    assert!(matches!(e.kind(), BanErrorKind::NoWordCharacters));
    assert_eq!(e.line(), Some(3));
    assert_eq!(e.entry(), Some("!!!"));
    assert!(e.to_string().contains("[substring]"), "{e}");
    // As a substring it is fine.
    assert_eq!(BanList::parse("[substring] !!!").unwrap().len(), 1);
}

#[test]
fn invalid_regex_reports_the_position() {
    let e = parse_err("# pets\n[regex] ca(t\n");
    assert!(matches!(e.kind(), BanErrorKind::InvalidRegex(_)));
    assert_eq!(e.line(), Some(2));
    let msg = e.to_string();
    assert!(msg.contains("unclosed group"), "{msg}");
    assert!(
        msg.contains("^"),
        "the message points at the position: {msg}"
    );
}

#[test]
fn regex_matching_the_empty_string_would_ban_everything() {
    for re in ["a*", "(?:cat)?", "x{0,3}"] {
        let e = parse_err(&format!("[regex] {re}"));
        assert!(matches!(e.kind(), BanErrorKind::MatchesEmpty), "{re}");
        assert!(e.to_string().contains("empty string"), "{e}");
    }
}

#[test]
fn anchors_and_word_boundaries_are_refused() {
    for re in ["^cat", "cat$", r"\bcat\b"] {
        let e = parse_err(&format!("[regex] {re}"));
        assert!(
            matches!(e.kind(), BanErrorKind::UnsupportedRegex(_)),
            "{re}"
        );
        assert!(e.to_string().contains("whole words by default"), "{e}");
    }
}

#[test]
fn unknown_option() {
    let e = parse_err("[regx] cat");
    assert!(matches!(e.kind(), BanErrorKind::UnknownOption(_)));
    assert!(e.to_string().contains("known options are"), "{e}");
    let e = parse_err("[regex cat");
    assert!(matches!(e.kind(), BanErrorKind::UnknownOption(_)));
}

#[test]
fn invalid_utf8_names_the_line_and_offset() {
    let e = BanList::parse_bytes(b"cat\ndog\nk\xf6ter\n").unwrap_err();
    assert!(matches!(e.kind(), BanErrorKind::InvalidUtf8 { offset: 9 }));
    assert_eq!(e.line(), Some(3));
    assert!(e.to_string().contains("UTF-8"), "{e}");
}

#[test]
fn missing_file() {
    let e = BanList::from_file("/nonexistent/bans.txt").unwrap_err();
    assert!(matches!(e.kind(), BanErrorKind::Io(_)));
    assert!(e.to_string().contains("cannot read the ban file"), "{e}");
}

#[test]
fn comments_escapes_and_deduplication() {
    let list = BanList::parse("# c\n\ncat\nCAT\n  cat  \n\\#1\n\\[x]\nC#\n[case] Cat\n").unwrap();
    let texts: Vec<&str> = list.entries().iter().map(|e| e.text()).collect();
    assert_eq!(texts, vec!["cat", "#1", "[x]", "C#", "Cat"]);
    assert_eq!(list.entries()[4].line(), Some(9));
}

#[test]
fn a_hundred_thousand_entries_compile() {
    // Synthetic words: every 5-letter string over a 10-letter alphabet, first 100,000.
    let letters: Vec<char> = "abcdefghij".chars().collect();
    let words: Vec<String> = (0..100_000u32)
        .map(|mut i| {
            (0..5)
                .map(|_| {
                    let c = letters[(i % 10) as usize];
                    i /= 10;
                    c
                })
                .collect()
        })
        .collect();
    let list = BanList::from_words(&words, EntryOptions::default()).unwrap();
    assert_eq!(list.len(), 100_000);
    let a = Automaton::compile(&list).unwrap();
    assert!(a.is_match(b"say abcde now"));
    assert!(!a.is_match(b"say abcdef now"));
}

#[test]
fn oversized_regex_is_a_clear_error() {
    // A counted repetition of a large Unicode class blows past the DFA limit.
    let e = BanList::parse("[regex substring] [a-z]*a[a-z]{24}")
        .and_then(|l| Automaton::compile(&l))
        .unwrap_err();
    assert!(matches!(e.kind(), BanErrorKind::TooComplex(_)), "{e}");
    assert!(e.to_string().contains("too large"), "{e}");
    assert_eq!(e.line(), Some(1));
}

/// The regex whose DFA has 2^21 states is refused (the size limit stops determinization
/// early), and the error names it among other regex entries that are fine.
#[test]
fn exponential_regex_is_named_in_the_error() {
    let file = "[regex] colou?r\n[regex] (a|b)*a(a|b){20}\n[regex] dogs?\n";
    let e = BanList::parse(file)
        .and_then(|l| Automaton::compile(&l))
        .unwrap_err();
    assert!(matches!(e.kind(), BanErrorKind::TooComplex(_)), "{e}");
    assert_eq!(e.line(), Some(2), "{e}");
    assert_eq!(e.entry(), Some("(a|b)*a(a|b){20}"));
    let msg = e.to_string();
    assert!(
        msg.contains("this regex needs too large an automaton"),
        "{msg}"
    );
    assert!(msg.contains("limit is 16 MiB"), "{msg}");
    assert!(
        !msg.contains("split"),
        "no advice to split what is one entry: {msg}"
    );
}

/// Many small regex entries that do not fit one DFA together are compiled in several, not
/// refused with advice to split entries that are already split.
#[test]
fn twenty_thousand_regex_lines_compile() {
    let file: String = (0..20_000)
        .map(|i| format!("[regex] w{i}[a-z]?x\n"))
        .collect();
    let list = BanList::parse(&file).unwrap();
    let a = Automaton::compile(&list).unwrap();
    assert!(a.is_match(b"say w19999qx now"));
    assert!(a.is_match(b"w0x"));
    assert!(a.is_match(b"W12345X!"));
    assert!(!a.is_match(b"say w20000x now"));
    assert!(!a.is_match(b"w1qqx"));
}

#[test]
fn disguise_folding_is_for_plain_entries() {
    let e = parse_err("cat\n[regex disguise] c.t\n");
    assert!(matches!(e.kind(), BanErrorKind::UnsupportedRegex(_)));
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("not to regexes"), "{e}");
}

#[test]
fn contradictory_options_name_the_line() {
    for (file, a, b) in [
        ("cat\n[word substring] dog\n", "word", "substring"),
        ("cat\n[case nocase] dog\n", "case", "nocase"),
        ("cat\n[nocase, regex, case] dogs?\n", "nocase", "case"),
        ("cat\n[substring forms word] dog\n", "substring", "word"),
    ] {
        let e = parse_err(file);
        assert!(
            matches!(e.kind(), BanErrorKind::ContradictoryOptions(x, y) if x == a && y == b),
            "{file:?}: {e:?}"
        );
        assert_eq!(e.line(), Some(2), "{file:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("line 2: "), "{msg}");
        assert!(msg.contains("contradict"), "{msg}");
    }
    // Repeating an option is not a contradiction.
    let list = BanList::parse("[case case substring substring] Dog\n").unwrap();
    let o = list.entries()[0].options();
    assert!(o.case_sensitive && !o.whole_word);
}
