//! Property tests on random small vocabularies (with tokens that split UTF-8 characters) and
//! random ban lists:
//!
//! (a) the fast masks equal the brute-force oracle (feed every token, look) on random
//!     histories, for the literal engine and the regex DFA alike;
//! (b) any random walk through allowed tokens yields text in which an independent matcher —
//!     the `regex` crate with Unicode `\W`, on the lossily decoded string — finds no ban.
//!
//! Entries may ask for word forms (the Russian dictionary installed by
//! scripts/fetch-models.sh is needed) and for disguise folding; both the engine and the
//! matcher see the same expanded forms, the matcher undoes disguises its own way.

use std::sync::Arc;

use proptest::prelude::*;
use taboo::{
    Automaton, BanList, CompileOptions, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable,
    Vocabulary,
};

const PIECES: &[&[u8]] = &[
    b"c",
    b"a",
    b"t",
    b"C",
    b"A",
    b"T",
    b"s",
    b" ",
    b".",
    b"-",
    b"\t",
    b"x",
    b"1",
    b"at",
    b" c",
    b"cat",
    b"ca",
    "к".as_bytes(),
    "о".as_bytes(),
    "ш".as_bytes(),
    "К".as_bytes(),
    "ка".as_bytes(),
    " кош".as_bytes(),
    b"\xd0",
    b"\xba",
    b"\xbe",
    b"\xd1",
    "é".as_bytes(),
    "\u{301}".as_bytes(),
    b"\xff",
    "\u{a0}".as_bytes(),
    "\u{3000}".as_bytes(),
    b"\xe3\x80",
    b"\x80",
    "…".as_bytes(),
    b"\xe2",
    "ё".as_bytes(),
    "Ё".as_bytes(),
    "и".as_bytes(),
    "ой".as_bytes(),
    "ж".as_bytes(),
    "е".as_bytes(),
    b"ran",
    // Four-byte characters: an emoji (not a word character), a mathematical letter (one),
    // and pieces of them.
    "\u{1F600}".as_bytes(),
    "\u{1D41A}".as_bytes(),
    b"\xf0\x9f",
    b"\x98\x80",
    "\u{E0101}".as_bytes(),
    // Invisible bidi controls, a decomposed short i, sharp s, a ligature, a mathematical
    // letter and a Cyrillic look-alike.
    "\u{200E}".as_bytes(),
    "\u{2066}".as_bytes(),
    "\u{306}".as_bytes(),
    "й".as_bytes(),
    "ча".as_bytes(),
    "ß".as_bytes(),
    "ss".as_bytes(),
    "\u{FB01}".as_bytes(),
    "\u{1D41C}".as_bytes(),
    "\u{441}".as_bytes(),
];

const WORDS: &[&str] = &[
    "cat",
    "at",
    "кошка",
    "ка",
    "c a",
    "cat.",
    "x1",
    "t-c",
    "é",
    "ёж",
    "a…",
    "run",
    "кот",
    "чай",
    "ß",
    "fi",
];
const REGEXES: &[&str] = &["c[a-z]t", "к[оа]шк\\w*", "(?:cat|ca)s?", "[0-9]x", "a\\.+"];

#[derive(Clone, Debug)]
struct Entry {
    text: &'static str,
    options: EntryOptions,
}

fn vocab_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(prop::sample::select(PIECES), 1..=3).prop_map(|ps| ps.concat()),
        8..40,
    )
}

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (
        any::<bool>(),
        0usize..64,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(regex, i, case_sensitive, whole_word, disguise, forms)| {
            let text = if regex {
                REGEXES[i % REGEXES.len()]
            } else {
                WORDS[i % WORDS.len()]
            };
            Entry {
                text,
                options: EntryOptions::default()
                    .with_regex(regex)
                    .with_case_sensitive(case_sensitive)
                    .with_whole_word(whole_word)
                    .with_disguise(disguise && !regex)
                    .with_forms(forms && !regex),
            }
        })
}

fn build(tokens: &[Vec<u8>], entries: &[Entry], literal_engine: bool) -> Arc<MaskTable> {
    let mut b = Vocabulary::builder();
    for t in tokens {
        b.text(t);
    }
    let eos = b.special("</s>");
    b.end_of_generation(eos);
    let mut list = BanList::new();
    for e in entries {
        list.add(e.text, e.options).unwrap();
    }
    let (list, _) = list.expand_forms(morphology()).unwrap();
    let a = Automaton::compile_with(
        &list,
        CompileOptions::default().with_literal_engine(literal_engine),
    )
    .unwrap();
    Arc::new(MaskTable::new(Arc::new(a), Arc::new(b.build())))
}

/// Canonical decomposition (NFD) and, for case-insensitive entries, full case folding (as
/// upper-then-lower case of the whole string: ß → SS → ss), both done by whole-string
/// operations of `unicode-normalization` and the standard library rather than the engine's
/// per-character tables.
fn canonical(s: &str, case: bool) -> String {
    use unicode_normalization::UnicodeNormalization;
    let s: String = s.nfd().collect();
    if case {
        s.to_uppercase().to_lowercase().nfd().collect()
    } else {
        s
    }
}

/// Disguise folding, written independently of the engine's: drop default ignorables,
/// compatibility-decompose and drop nonspacing/enclosing marks (keeping a non-word
/// character that would decompose into word characters as it is), fold case, then replace
/// each character by its UTS #39 skeleton when that is one letter. The engine's look-alike
/// classes are closed under case as well, so it may match more; never less.
fn undisguise_text(s: &str, case: bool) -> String {
    use unicode_normalization::UnicodeNormalization;
    let hidden = regex::Regex::new(r"[\p{Mn}\p{Me}\p{Default_Ignorable_Code_Point}]").unwrap();
    let word = regex::Regex::new(r"^\w$").unwrap();
    let is_word = |c: char| word.is_match(&c.to_string());
    let mut out = String::new();
    for c in s.chars() {
        let d: String = hidden
            .replace_all(&c.to_string().nfkd().collect::<String>(), "")
            .into_owned();
        if !is_word(c) && d.chars().any(is_word) {
            out.push(c);
        } else {
            out.push_str(&d);
        }
    }
    let out = if case { canonical(&out, true) } else { out };
    let out = hidden
        .replace_all(&out.nfkd().collect::<String>(), "")
        .into_owned();
    out.chars()
        .map(|c| {
            let sk: Vec<char> = unicode_security::skeleton(&c.to_string())
                .filter(|&d| !hidden.is_match(&d.to_string()))
                .collect();
            match sk.as_slice() {
                [t] if is_word(c) && t.is_alphabetic() => *t,
                _ => c,
            }
        })
        .collect()
}

/// One morphology for all cases (the Russian dictionary is read once).
fn morphology() -> &'static taboo::forms::Morphology {
    static M: std::sync::OnceLock<taboo::forms::Morphology> = std::sync::OnceLock::new();
    M.get_or_init(taboo::forms::Morphology::new)
}

/// The entries with every `forms` entry replaced by its forms.
fn expand(entries: &[Entry]) -> Vec<(String, EntryOptions)> {
    let mut out = Vec::new();
    for e in entries {
        if e.options.forms {
            for f in morphology().phrase_forms(e.text).unwrap() {
                out.push((f, e.options));
            }
        } else {
            out.push((e.text.to_string(), e.options));
        }
    }
    out
}

/// The independent matcher: the `regex` crate on the decoded text.
fn oracle(entries: &[Entry], text: &[u8], ended: bool) -> Option<String> {
    let mut text = text.to_vec();
    if !ended {
        // An unfinished character at the end is not text yet.
        for k in 1..=3.min(text.len()) {
            let tail = &text[text.len() - k..];
            if let Err(e) = std::str::from_utf8(tail) {
                if e.valid_up_to() == 0 && e.error_len().is_none() {
                    text.truncate(text.len() - k);
                    break;
                }
            }
        }
    }
    let decoded = String::from_utf8_lossy(&text).into_owned();
    for (e_text, options) in expand(entries) {
        let case = !options.case_sensitive;
        let (decoded, entry_text) = if options.disguise {
            (
                undisguise_text(&decoded, case),
                undisguise_text(&e_text, case),
            )
        } else if options.regex {
            (canonical(&decoded, case), e_text.clone())
        } else {
            (canonical(&decoded, case), canonical(&e_text, case))
        };
        let body = if options.regex {
            e_text.clone()
        } else {
            entry_text
                .split_whitespace()
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(r"\s+")
        };
        let mut pattern = if options.whole_word {
            let end = if ended { r"(?:\W|$)" } else { r"\W" };
            format!(r"(?:^|\W)(?:{body}){end}")
        } else {
            body
        };
        if !options.case_sensitive {
            pattern = format!("(?i){pattern}");
        }
        if regex::Regex::new(&pattern).unwrap().is_match(&decoded) {
            return Some(format!("{pattern} matches {decoded:?}"));
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn fast_masks_equal_brute_force(
        tokens in vocab_strategy(),
        entries in prop::collection::vec(entry_strategy(), 1..4),
        history in prop::collection::vec(0usize..64, 0..10),
    ) {
        let fast = build(&tokens, &entries, true);
        let via_regex = build(&tokens, &entries, false);
        let n = fast.vocab().len();
        let mut g = Guard::new(Arc::clone(&fast), GuardConfig::default());
        let mut r = Guard::new(Arc::clone(&via_regex), GuardConfig::default());
        for step in history.iter().map(|&h| (h % n) as u32).map(Some).chain([None]) {
            let cached = fast.masks(g.state());
            let uncached = fast.compute(g.state());
            let brute = fast.compute_by_brute_force(g.state());
            prop_assert_eq!(&*cached, &uncached);
            prop_assert_eq!(&uncached, &brute);
            let regex_masks = via_regex.compute(r.state());
            prop_assert_eq!(&regex_masks, &brute, "literal and regex engines differ");
            let Some(t) = step else { break };
            let a = g.advance(t).is_err();
            let b = r.advance(t).is_err();
            prop_assert_eq!(a, b);
            prop_assert_eq!(a, brute.forbidden.contains(t), "advance and mask disagree");
            if a {
                // After a violation the text already holds a banned match; the engines may
                // differ in which overlapping partial matches they still track.
                break;
            }
        }
    }

    #[test]
    fn random_walks_through_allowed_tokens_never_leak(
        tokens in vocab_strategy(),
        entries in prop::collection::vec(entry_strategy(), 1..4),
        choices in prop::collection::vec(any::<u32>(), 1..16),
        literal_engine in any::<bool>(),
    ) {
        let table = build(&tokens, &entries, literal_engine);
        let vocab = Arc::clone(table.vocab());
        let eos = vocab.end_of_generation()[0];
        let mut g = Guard::new(table, GuardConfig::default());
        let mut text = Vec::new();
        let mut ended = false;
        for c in choices {
            let mut logits = vec![0.0f32; vocab.len()];
            g.apply(&mut logits);
            let allowed: Vec<u32> = (0..vocab.len() as u32)
                .filter(|&t| logits[t as usize].is_finite())
                .collect();
            if allowed.is_empty() {
                break;
            }
            // Half the time, steer towards the ban like a model that wants the word: pick
            // among allowed tokens that open, extend or complete a partial match.
            let masks = g.masks();
            let eager: Vec<u32> = allowed
                .iter()
                .copied()
                .filter(|&t| masks.open.contains(t) || masks.pending.contains(t))
                .collect();
            let pool = if c % 2 == 0 && !eager.is_empty() {
                &eager
            } else {
                &allowed
            };
            let t = pool[(c / 2) as usize % pool.len()];
            prop_assert!(g.advance(t).is_ok());
            if t == eos {
                ended = true;
                break;
            }
            text.extend_from_slice(vocab.token_bytes(t).unwrap());
        }
        if let Some(leak) = oracle(&entries, &text, ended) {
            prop_assert!(false, "leak: {}", leak);
        }
    }
}

/// Every spelling of `text`, by brute-force recursion (the oracle for `Spellings::count`).
fn enumerate(vocab: &Vocabulary, text: &[u8], out: &mut Vec<Vec<u32>>, path: &mut Vec<u32>) {
    if text.is_empty() {
        out.push(path.clone());
        return;
    }
    for (id, bytes) in vocab.text_tokens() {
        if !bytes.is_empty() && text.starts_with(bytes) {
            path.push(id);
            enumerate(vocab, &text[bytes.len()..], out, path);
            path.pop();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spelling_counts_equal_enumeration(
        tokens in vocab_strategy(),
        text in prop::collection::vec(prop::sample::select(PIECES), 1..5),
    ) {
        let mut b = Vocabulary::builder();
        for t in &tokens {
            b.text(t);
        }
        b.special("</s>");
        let vocab = b.build();
        let text = text.concat();
        let mut all = Vec::new();
        enumerate(&vocab, &text, &mut all, &mut Vec::new());
        let s = taboo::Spellings::new(&vocab);
        prop_assert_eq!(s.count(&text), all.len() as u128);
        let sample = s.sample(&text, 5);
        prop_assert_eq!(sample.len(), all.len().min(5));
        for sp in &sample {
            prop_assert!(all.contains(sp), "sampled spelling {:?} is not a spelling", sp);
        }
    }
}

/// Regression: after "c", the token NBSP + "\xd0" leaves the "c a" thread doomed but a fresh
/// "ёж" thread alive; whether the text is "open" must not depend on how the mask walks split
/// the threads between them (it once did, and the engines disagreed).
#[test]
fn open_is_decided_thread_by_thread() {
    let tokens = vec![b"c".to_vec(), vec![0xc2, 0xa0, 0xd0]];
    let entries = [
        Entry {
            text: "ёж",
            options: EntryOptions::default(),
        },
        Entry {
            text: "c a",
            options: EntryOptions::default().with_whole_word(false),
        },
    ];
    for literal_engine in [true, false] {
        let table = build(&tokens, &entries, literal_engine);
        let mut g = Guard::new(Arc::clone(&table), GuardConfig::default());
        g.advance(0).unwrap();
        let fast = table.compute(g.state());
        assert_eq!(fast, table.compute_by_brute_force(g.state()));
        // The "c a" thread is doomed and the other has only read a boundary: not open.
        assert!(!fast.open.contains(1), "literal engine: {literal_engine}");
    }
}
