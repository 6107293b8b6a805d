//! Word forms and disguises through the whole pipeline: ban file → expansion → automaton,
//! checked on texts, fed whole and byte by byte. Russian rows need the dictionary that
//! scripts/fetch-models.sh installs; without it these tests fail and say so.

use taboo::forms::{Morphology, MAX_FORMS_PER_ENTRY};
use taboo::{Automaton, BanErrorKind, BanList};

/// `(ban file, text, whether the text contains a banned match)`.
const CASES: &[(&str, &str, bool)] = &[
    // кошка: every case form, singular and plural, any letter case.
    ("[forms] кошка", "кошка", true),
    ("[forms] кошка", "у кошки", true),
    ("[forms] кошка", "к кошке", true),
    ("[forms] кошка", "вижу кошку", true),
    ("[forms] кошка", "с кошкой", true),
    ("[forms] кошка", "с кошкою", true),
    ("[forms] кошка", "нет кошек", true),
    ("[forms] кошка", "КОШКАМ", true),
    ("[forms] кошка", "с Кошками", true),
    ("[forms] кошка", "о кошках", true),
    ("[forms] кошка", "кошмар", false),
    ("[forms] кошка", "катер", false),
    ("[forms] кошка", "окошко", false),
    ("[forms] кошка", "кошкин дом", false),
    ("кошка", "кошками", false),
    // бежать: finite forms, imperative, participles, gerund.
    ("[forms] бежать", "бегу", true),
    ("[forms] бежать", "он бежит", true),
    ("[forms] бежать", "они бегут", true),
    ("[forms] бежать", "бежали", true),
    ("[forms] бежать", "беги!", true),
    ("[forms] бежать", "бегущий", true),
    ("[forms] бежать", "бежавшего", true),
    ("[forms] бежать", "бег", false),
    ("[forms] бежать", "беглец", false),
    // человек: the plural is another stem.
    ("[forms] человек", "люди", true),
    ("[forms] человек", "людей", true),
    ("[forms] человек", "людьми", true),
    ("[forms] человек", "человеку", true),
    ("[forms] человек", "человечество", false),
    // хороший: all genders, cases, short forms, comparative.
    ("[forms] хороший", "хорошая", true),
    ("[forms] хороший", "хорошего", true),
    ("[forms] хороший", "хороши", true),
    ("[forms] хороший", "лучше", true),
    ("[forms] хороший", "хорошенький", false),
    // ё and е are interchangeable in forms.
    ("[forms] ёж", "ежи", true),
    ("[forms] ёж", "ёжик", false),
    ("[forms] еж", "ёж", true),
    ("[forms] ёлка", "на елке", true),
    // A form of two lexemes bans both: стали is сталь and стать.
    ("[forms] стали", "стать", true),
    ("[forms] стали", "сталью", true),
    // English.
    ("[forms] cat", "cats", true),
    ("[forms] cat", "two CATS", true),
    ("[forms] cat", "category", false),
    ("[forms] cat", "catty", false),
    ("[forms] cat", "bobcats", false),
    ("[forms] run", "ran", true),
    ("[forms] run", "running", true),
    ("[forms] run", "runs", true),
    ("[forms] run", "runner", false),
    ("[forms] run", "rune", false),
    ("[forms] mouse", "mice", true),
    ("[forms] mouse", "Mice!", true),
    ("[forms] mouse", "mousetrap", false),
    ("[forms] ran", "running", true),
    ("[forms] good", "better", true),
    ("[forms] good", "best", true),
    ("[forms] good", "goodness", false),
    ("[forms] see", "seed", false),
    ("[forms] hop", "hoping", false),
    ("[forms] hop", "hopping", true),
    ("[forms] ice cream", "ice creams", true),
    ("[forms] ice cream", "ice-creams", false),
    // Case-sensitive forms keep the case they were written in.
    ("[forms case] Mouse", "Mice", true),
    ("[forms case] Mouse", "mice", false),
    // Forms and disguises together: every disguise kind on an inflected form.
    ("[forms disguise] кошка", "к\u{43E}шк\u{43E}й", true),
    ("[forms disguise] кошка", "кo\u{448}кoй", true), // Latin o
    ("[forms disguise] кошка", "ко\u{301}шку", true), // combining acute
    ("[forms disguise] кошка", "кош\u{200B}ки", true), // zero-width space
    ("[forms disguise] кошка", "ко\u{AD}шек", true),  // soft hyphen
    ("[forms disguise] кошка", "ко\u{200D}шками", true), // zero-width joiner
    ("[forms disguise] кошка", "кош\u{200C}ке", true), // zero-width non-joiner
    ("[forms disguise] кошка", "кошк\u{2060}и", true), // word joiner
    (
        "[forms disguise] cat",
        "\u{FF43}\u{FF41}\u{FF54}\u{FF53}",
        true,
    ), // full-width
    ("[forms disguise] cat", "\u{441}ats", true),     // Cyrillic с
    ("[forms disguise] cat", "\u{3F2}\u{3B1}\u{3C4}s", true), // Greek
    ("[forms disguise] mouse", "m\u{456}ce", true),   // Cyrillic і
    // A disguise between two allowed words joins them into one word, not a ban.
    ("[forms disguise] cat", "cat\u{200B}alog", false),
    ("[forms disguise] cat", "bob\u{AD}cats", false),
    ("[forms disguise] кошка", "о\u{200B}кошко", false),
    ("[forms disguise] кошка", "dog \u{200B} dog", false),
    ("[forms disguise] cat", "dog \u{441}ats dog", true),
    ("[forms disguise] cat", "dog\u{441}atsdog", false),
];

fn compile(ban_file: &str, morphology: &Morphology) -> Automaton {
    let list = BanList::parse(ban_file).unwrap();
    let (expanded, _) = list
        .expand_forms(morphology)
        .unwrap_or_else(|e| panic!("{ban_file:?}: {e}"));
    Automaton::compile(&expanded).unwrap()
}

#[test]
fn forms_and_disguises_truth_table() {
    let morphology = Morphology::new();
    let mut failures = Vec::new();
    for &(ban, text, expected) in CASES {
        let a = compile(ban, &morphology);
        let whole = a.is_match(text.as_bytes());
        let mut state = a.start();
        let mut by_byte = false;
        for b in text.as_bytes() {
            let (next, hit) = a.feed(&state, std::slice::from_ref(b));
            by_byte |= hit;
            state = next;
        }
        by_byte |= a.end_matches(&state);
        if whole != expected || by_byte != expected {
            failures.push(format!(
                "{ban:?} on {text:?}: expected {expected}, whole text {whole}, byte by byte {by_byte}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_form_pymorphy_lists_for_the_issue_words_is_banned() {
    // The lexemes as the OpenCorpora dictionary has them (checked against pymorphy3).
    let morphology = Morphology::new();
    for word in [
        "кошка",
        "бежать",
        "человек",
        "хороший",
        "cat",
        "run",
        "mouse",
    ] {
        let forms = morphology.word_forms(word).unwrap();
        assert!(forms.forms.len() > 1, "{word}: {:?}", forms.forms);
        let a = compile(&format!("[forms] {word}"), &morphology);
        for f in &forms.forms {
            assert!(a.is_match(f.as_bytes()), "{word}: form {f} not banned");
            assert!(
                a.is_match(f.to_uppercase().as_bytes()),
                "{word}: {f} upper-case"
            );
        }
    }
    // The forms themselves are checked against pymorphy3 in russian_forms.rs.
    let man = morphology.word_forms("человек").unwrap().forms;
    assert!(man.iter().any(|f| f == "люди"), "{man:?}");
}

#[test]
fn unknown_russian_words_are_reported_and_banned_as_written() {
    let list = BanList::parse("[forms] кошка\n[forms] шмырдяк\ndog\n").unwrap();
    let (expanded, report) = list.expand_forms(&Morphology::new()).unwrap();
    assert_eq!(report.unknown, ["шмырдяк"]);
    assert_eq!(report.forms_entries, 2);
    let a = Automaton::compile(&expanded).unwrap();
    assert!(a.is_match("шмырдяк".as_bytes()) && a.is_match("dog".as_bytes()));
    assert!(!a.is_match("шмырдяка".as_bytes()));
}

#[test]
fn unexpanded_forms_entries_are_refused_by_the_compiler() {
    let list = BanList::parse("[forms] cat\n").unwrap();
    let err = Automaton::compile(&list).unwrap_err();
    assert!(
        matches!(err.kind(), BanErrorKind::FormsNotExpanded),
        "{err}"
    );
    assert!(err.to_string().contains("expand_forms"), "{err}");
}

#[test]
fn forms_of_regexes_are_refused() {
    let err = BanList::parse("[regex forms] cats?\n").unwrap_err();
    assert_eq!(err.line(), Some(1));
    assert!(err.to_string().contains("not to regexes"), "{err}");
}

#[test]
fn a_phrase_with_too_many_combinations_is_refused() {
    // Each word has a dozen or more forms; eight of them multiply past the limit.
    let phrase = "кошка кошка кошка кошка кошка кошка кошка кошка";
    let err = Morphology::new().phrase_forms(phrase).unwrap_err();
    match err.kind() {
        BanErrorKind::TooManyForms { count, limit } => {
            assert_eq!(*limit, MAX_FORMS_PER_ENTRY);
            assert!(count > limit);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn forms_follow_the_letter_case_they_were_asked_in() {
    let m = Morphology::new();
    let upper = m.word_forms("MOUSE").unwrap().forms;
    assert!(upper.iter().any(|f| f == "MICE"), "{upper:?}");
    let capital = m.word_forms("Кошка").unwrap().forms;
    assert!(capital.iter().any(|f| f == "Кошкой"), "{capital:?}");
}

#[test]
fn bundled_lists_expand_and_compile() {
    let m = Morphology::new();
    for list in taboo::lists::LISTS {
        let (expanded, report) = list.parse().unwrap().expand_forms(&m).unwrap();
        assert!(
            expanded.len() > list.parse().unwrap().len(),
            "{}",
            list.name
        );
        assert!(report.forms_entries > 0);
        Automaton::compile(&expanded).unwrap();
    }
}

/// The streamed compile (forms straight into the literal engine, in threads for long lists)
/// against its oracle, one entry per form then the plain compiler: the same entries, the
/// same minimal automaton, the same verdict on every form and on the truth table's texts.
#[test]
fn streamed_forms_compile_to_the_automaton_of_the_expanded_list() {
    let m = Morphology::new();
    let truth_table: String = CASES.iter().map(|(ban, _, _)| format!("{ban}\n")).collect();
    // Every word of the bundled Russian list as a lemma with forms: over 12,000 entries in
    // one lane, enough for the compiler to split them over threads on two cores.
    let many: String = taboo::lists::LISTS
        .iter()
        .find(|l| l.name == "ru-obscene")
        .unwrap()
        .parse()
        .unwrap()
        .entries()
        .iter()
        .map(|e| format!("[forms disguise] {}\n", e.text()))
        .collect();
    let mut files = vec![
        truth_table,
        many,
        "[forms] кошка\n[forms] Кошки\n[forms case] КОШКА\n[forms substring] кошка\n\
         [forms] чёрная кошка\n[forms] шмырдяк\n[forms] ёж\n[forms] еж\ncat\n[regex] dogs?\n\
         [forms] mouse\n[forms case] Mouse\n(forms)\n"
            .to_string(),
    ];
    for list in taboo::lists::LISTS {
        files.push(list.text.to_string());
    }
    for file in &files {
        let list = BanList::parse(file).unwrap();
        let (expanded, report) = list.expand_forms(&m).unwrap();
        let oracle = Automaton::compile(&expanded).unwrap();
        let (streamed, streamed_report) = Automaton::compile_expanding(&list, &m).unwrap();
        let name = file.lines().next().unwrap_or_default();
        assert_eq!(streamed.entry_count(), expanded.len(), "{name}");
        assert_eq!(oracle.entry_count(), expanded.len(), "{name}");
        assert_eq!(streamed.state_count(), oracle.state_count(), "{name}");
        assert_eq!(streamed.memory_usage(), oracle.memory_usage(), "{name}");
        assert_eq!(streamed_report, report, "{name}");
        for e in expanded.entries().iter().step_by(7) {
            for text in [
                e.text().to_string(),
                format!("{}x", e.text()),
                format!("a {} b", e.text()),
            ] {
                assert_eq!(
                    streamed.is_match(text.as_bytes()),
                    oracle.is_match(text.as_bytes()),
                    "{name}: {text:?}"
                );
            }
        }
        for &(_, text, _) in CASES {
            assert_eq!(
                streamed.is_match(text.as_bytes()),
                oracle.is_match(text.as_bytes()),
                "{name}: {text:?}"
            );
        }
    }
}
