//! The Russian dictionary reader against pymorphy3, on the real dictionary.
//!
//! Needs the dictionary installed by `scripts/fetch-models.sh` (CI runs it first); without it
//! these tests fail, they do not skip. The oracle, `tests/data/russian_lexemes.json`, was
//! written once by `scripts/oracle/russian_lexemes.py` with pymorphy3 reading the same files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use taboo::forms::russian::FILES;
use taboo::forms::{data_dir, FormsError, Lexeme, RussianDictionary};

fn dictionary() -> &'static RussianDictionary {
    static DICT: OnceLock<RussianDictionary> = OnceLock::new();
    DICT.get_or_init(|| {
        RussianDictionary::locate().unwrap_or_else(|e| {
            panic!("the Russian dictionary is needed for these tests: {e}");
        })
    })
}

fn installed_dir() -> PathBuf {
    dictionary(); // fails with the install hint when missing
    data_dir().expect("data directory").join("ru")
}

/// A lexeme as the oracle describes it.
type Described = (String, String, Vec<String>);

fn describe(lexemes: &[Lexeme]) -> Vec<Described> {
    let mut out: Vec<Described> = lexemes
        .iter()
        .map(|l| (l.lemma.clone(), l.pos.clone(), l.forms.clone()))
        .collect();
    out.sort();
    out
}

fn oracle() -> Vec<(String, Vec<Described>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/russian_lexemes.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let as_str = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    json["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let mut lexemes: Vec<Described> = entry["lexemes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let forms = l["forms"].as_array().unwrap().iter().map(as_str).collect();
                    (as_str(&l["lemma"]), as_str(&l["pos"]), forms)
                })
                .collect();
            lexemes.sort();
            (as_str(&entry["word"]), lexemes)
        })
        .collect()
}

#[test]
fn lexemes_match_pymorphy3() {
    let dict = dictionary();
    let oracle = oracle();
    assert!(oracle.len() >= 250, "the oracle has {} words", oracle.len());
    let mut mismatches = Vec::new();
    for (word, expected) in &oracle {
        let got = describe(&dict.lexemes(word));
        if &got != expected {
            mismatches.push(format!(
                "{word}:\n  taboo:     {got:?}\n  pymorphy3: {expected:?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} words differ from pymorphy3:\n{}",
        mismatches.len(),
        oracle.len(),
        mismatches.join("\n")
    );
}

fn forms_of(word: &str) -> BTreeSet<String> {
    dictionary()
        .lexemes(word)
        .into_iter()
        .flat_map(|l| l.forms)
        .collect()
}

#[test]
fn cat_has_its_forms_and_no_nightmare() {
    let lexemes = dictionary().lexemes("кошка");
    assert!(!lexemes.is_empty());
    for lexeme in &lexemes {
        assert_eq!(lexeme.lemma, "кошка");
        assert_eq!(lexeme.pos, "NOUN");
        assert_eq!(lexeme.forms[0], "кошка", "the lemma comes first");
    }
    let forms = forms_of("кошка");
    for form in [
        "кошка",
        "кошки",
        "кошке",
        "кошку",
        "кошкой",
        "кошкою",
        "кошек",
        "кошкам",
        "кошками",
        "кошках",
    ] {
        assert!(forms.contains(form), "{form} missing from {forms:?}");
    }
    assert!(!forms.contains("кошмар"));
    // Any form leads back to the same lexeme; case does not matter.
    assert_eq!(forms_of("кошкою"), forms);
    assert_eq!(forms_of("КОШКАМИ"), forms);
}

#[test]
fn suppletive_and_homonyms() {
    assert!(forms_of("человек").contains("люди"));
    assert!(forms_of("люди").contains("человек"));

    let stali = dictionary().lexemes("стали");
    let lemmas: BTreeSet<(&str, &str)> = stali
        .iter()
        .map(|l| (l.lemma.as_str(), l.pos.as_str()))
        .collect();
    assert_eq!(
        lemmas,
        BTreeSet::from([("стать", "INFN"), ("сталь", "NOUN")])
    );
    assert_eq!(stali.len(), 2);

    let good = forms_of("хороший");
    assert!(
        good.contains("хорошая") && good.contains("лучше"),
        "{good:?}"
    );
}

#[test]
fn e_finds_yo() {
    let yo = dictionary().lexemes("ёж");
    assert!(!yo.is_empty());
    assert_eq!(dictionary().lexemes("еж"), yo);
    assert!(yo.iter().all(|l| l.lemma == "ёж"));
    assert!(forms_of("ежа").contains("ежами"));
    // Both readings of все: the pronoun весь and the particle всё.
    let lemmas: BTreeSet<String> = dictionary()
        .lexemes("все")
        .into_iter()
        .map(|l| l.lemma)
        .collect();
    assert!(
        lemmas.contains("весь") && lemmas.contains("всё"),
        "{lemmas:?}"
    );
    // ё is not read as е.
    assert!(dictionary().lexemes("сёло").is_empty());
}

#[test]
fn unknown_words_give_nothing() {
    for word in ["", "абвгдейка", "zzz", "кошкаа", "-", "ё", "\u{1}"] {
        assert_eq!(dictionary().lexemes(word), [], "{word:?}");
    }
}

/// A scratch copy of the installed dictionary, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("taboo-ru-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for file in FILES {
            std::fs::copy(installed_dir().join(file), dir.join(file)).unwrap();
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn damaged_files_are_corrupt_not_panics() {
    let scratch = Scratch::new("damaged");
    assert!(RussianDictionary::open(&scratch.0).is_ok());
    for file in [
        "words.dawg",
        "paradigms.array",
        "suffixes.json",
        "meta.json",
    ] {
        let original = std::fs::read(installed_dir().join(file)).unwrap();
        let n = original.len();
        for cut in [0, 1, 3, 4, 5, 7, n / 3, n / 2 + 1, n - 2, n - 1] {
            std::fs::write(scratch.0.join(file), &original[..cut]).unwrap();
            match RussianDictionary::open(&scratch.0) {
                Err(FormsError::Corrupt { file: path, what }) => {
                    assert!(path.ends_with(file), "{path:?}");
                    assert!(!what.is_empty());
                }
                other => panic!("{file} cut to {cut} of {n} bytes: {other:?}"),
            }
        }
        // Trailing garbage too, where the format has a length to check it against.
        if file.ends_with(".dawg") || file.ends_with(".array") {
            let mut longer = original.clone();
            longer.extend_from_slice(&[0, 0]);
            std::fs::write(scratch.0.join(file), &longer).unwrap();
            assert!(matches!(
                RussianDictionary::open(&scratch.0),
                Err(FormsError::Corrupt { .. })
            ));
        }
        std::fs::write(scratch.0.join(file), &original).unwrap();
    }
    assert!(RussianDictionary::open(&scratch.0).is_ok());
}

#[test]
fn scrambled_dictionary_never_panics() {
    // Sizes intact, contents damaged: loading may succeed, and lookups must then return
    // whatever they find without panicking or running away.
    let scratch = Scratch::new("scrambled");
    let words = std::fs::read(installed_dir().join("words.dawg")).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20 {
        let mut bytes = words.clone();
        // Damage the top of the double array (where lookups start) and a few spots anywhere.
        for _ in 0..40 {
            let at = 4
                + (next()
                    % if round % 2 == 0 {
                        4096
                    } else {
                        bytes.len() as u64 - 4
                    }) as usize;
            bytes[at] = next() as u8;
        }
        std::fs::write(scratch.0.join("words.dawg"), &bytes).unwrap();
        let Ok(dict) = RussianDictionary::open(&scratch.0) else {
            continue;
        };
        for word in ["кошка", "стали", "еж", "человек", "бежать", "ежевика", "а"]
        {
            let _ = dict.lexemes(word);
        }
    }
}

#[test]
fn missing_files_say_missing() {
    let scratch = Scratch::new("missing");
    std::fs::remove_file(scratch.0.join("suffixes.json")).unwrap();
    let err = RussianDictionary::open(&scratch.0).unwrap_err();
    match &err {
        FormsError::DictionaryMissing {
            language: "Russian",
            searched: Some(dir),
        } => {
            assert_eq!(dir, &scratch.0)
        }
        other => panic!("{other:?}"),
    }
    // The library names what is missing and where; the CLI adds how this repository
    // installs it (crates/taboo-cli/src/hints.rs).
    assert!(err.to_string().contains("pymorphy3-dicts-ru"), "{err}");
    assert!(err.to_string().contains("TABOO_DATA_DIR"), "{err}");
    let nowhere = scratch.0.join("nowhere");
    assert!(matches!(
        RussianDictionary::open(&nowhere),
        Err(FormsError::DictionaryMissing {
            searched: Some(_),
            ..
        })
    ));
}

/// Not a benchmark (nothing is asserted about speed): prints what loading and looking up cost,
/// for `cargo test --release --test russian_forms -- --nocapture speed`.
#[test]
fn speed_report() {
    let dir = installed_dir();
    let start = Instant::now();
    let dict = RussianDictionary::open(&dir).unwrap();
    let load = start.elapsed();

    let words: Vec<String> = oracle().into_iter().map(|(w, _)| w).collect();
    let queries: Vec<&str> = words
        .iter()
        .cycle()
        .take(1000)
        .map(String::as_str)
        .collect();
    let start = Instant::now();
    let mut lexemes = 0;
    let mut forms = 0;
    for word in &queries {
        for lexeme in dict.lexemes(word) {
            lexemes += 1;
            forms += lexeme.forms.len();
        }
    }
    let lookup = start.elapsed();
    eprintln!(
        "Russian dictionary: load {:.1} ms; {} lookups in {:.1} ms ({:.1} µs each; {lexemes} \
         lexemes, {forms} forms)",
        load.as_secs_f64() * 1e3,
        queries.len(),
        lookup.as_secs_f64() * 1e3,
        lookup.as_secs_f64() * 1e6 / queries.len() as f64,
    );
}
