//! An oracle that shares nothing with the engine: no automaton, no normaliser, no mask
//! code. On random small vocabularies and ban lists, after a random prompt tail and a random
//! history of allowed tokens, every candidate token is decoded into text and the `regex`
//! crate decides whether that text holds a banned match; the guard's mask must agree both
//! ways — nothing banned is allowed, nothing allowed is banned.
//!
//! # Reference semantics
//!
//! Let `P` be the prompt tail (whole characters), `H` the history's bytes and `t` a token.
//!
//! - The text is `String::from_utf8_lossy(P + H + t)`, except that an unfinished UTF-8
//!   sequence at the very end is not text yet and is cut off first (the next token may still
//!   complete it). For the end-of-generation token the text is `P + H`, lossily decoded as a
//!   whole (an unfinished sequence at the end is U+FFFD).
//! - A word character is `\w` of the `regex` crate (Unicode: Alphabetic, marks, decimal
//!   digits, connector punctuation, join controls) — the engine documents the same class.
//! - A substring entry `w` matches where the text has `w`; a whole-word entry matches `w`
//!   with a non-word character or the start of the text before it and a non-word character
//!   after it — or, for the end-of-generation token only, the end of the text.
//! - Case-insensitive entries compare under `(?i)`, the `regex` crate's *simple* case
//!   folding. The engine folds case fully (ß = ss) and compares canonically decomposed
//!   text; the generated alphabet (ASCII letters and digits, Cyrillic к and о, an
//!   underscore, spaces, punctuation, a no-break space and bytes that split or break UTF-8)
//!   has no character whose full fold or canonical decomposition differs from its simple
//!   fold or from itself, so on it the two definitions coincide.
//! - The token is forbidden exactly when the text holds a match that ends after `P` (a
//!   match wholly inside the prompt is not the output's doing); the end-of-generation token
//!   also when a whole-word match is closed by the end of the text, wherever it began.
//!
//! Matches are enumerated at every start position, so overlapping matches are all seen.

use std::sync::Arc;

use proptest::prelude::*;
use regex::Regex;
use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, Vocabulary,
};

/// Pieces tokens are made of: whole characters and bytes that split or break them.
const PIECES: &[&[u8]] = &[
    b"a",
    b"b",
    b"c",
    b"A",
    b"B",
    b"1",
    b"_",
    b" ",
    b"  ",
    b".",
    b"-",
    b"ab",
    b" a",
    b"ca",
    "к".as_bytes(),
    "о".as_bytes(),
    "К".as_bytes(),
    " ко".as_bytes(),
    b"\xd0",
    b"\xba",
    b"\xbe",
    "\u{a0}".as_bytes(),
    b"\xff",
];

/// Letters words are made of.
const LETTERS: &[&str] = &["a", "b", "c", "A", "B", "1", "к", "о", "К"];

/// Whole characters a prompt tail is made of.
const PROMPT: &[&str] = &["a", "b", "c", "B", " ", ".", "к", "о", "1"];

#[derive(Clone, Debug)]
struct Ban {
    word: String,
    whole_word: bool,
    case_sensitive: bool,
}

fn ban_strategy() -> impl Strategy<Value = Ban> {
    (
        prop::collection::vec(prop::sample::select(LETTERS), 1..=3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(letters, whole_word, case_sensitive)| Ban {
            word: letters.concat(),
            whole_word,
            case_sensitive,
        })
}

/// The compiled reference patterns of one ban, anchored at the start of the slice they are
/// run on: one for a word at the start of the text, one for a word after a non-word
/// character (which the match then includes), tried at every position.
struct Reference {
    at_start: Regex,
    later: Regex,
    /// For whole-word bans, the same two with the end of the text as the boundary after
    /// the word (only when the text has ended).
    at_end: Option<(Regex, Regex)>,
}

impl Reference {
    fn new(ban: &Ban) -> Reference {
        let flags = if ban.case_sensitive { "" } else { "(?i)" };
        let w = regex::escape(&ban.word);
        let build = |before: &str, after: &str| {
            Regex::new(&format!(r"{flags}\A{before}(?:{w}){after}")).unwrap()
        };
        if ban.whole_word {
            Reference {
                at_start: build("", r"\W"),
                later: build(r"\W", r"\W"),
                at_end: Some((build("", r"\z"), build(r"\W", r"\z"))),
            }
        } else {
            Reference {
                at_start: build("", ""),
                later: build("", ""),
                at_end: None,
            }
        }
    }

    /// True when `text` holds a match ending after byte `prompt_len`; once the text has
    /// ended, a whole-word match closed by the end of the text counts too (the end of
    /// generation is output, even right after the prompt).
    fn matches_after(&self, text: &str, prompt_len: usize, ended: bool) -> bool {
        let found = |first: &Regex, rest: &Regex, min_end: usize| {
            let ends_late =
                |re: &Regex, i: usize| re.find(&text[i..]).is_some_and(|m| i + m.end() >= min_end);
            ends_late(first, 0) || text.char_indices().any(|(i, _)| ends_late(rest, i))
        };
        found(&self.at_start, &self.later, prompt_len + 1)
            || (ended
                && self
                    .at_end
                    .as_ref()
                    .is_some_and(|(first, rest)| found(first, rest, 0)))
    }
}

/// The text of `bytes` as the reference reads it (see the module docs).
fn text_of(bytes: &[u8], ended: bool) -> String {
    let mut bytes = bytes.to_vec();
    if !ended {
        // Cut an unfinished sequence at the end: at most three bytes, a valid prefix of a
        // character.
        for k in 1..=3.min(bytes.len()) {
            if let Err(e) = std::str::from_utf8(&bytes[bytes.len() - k..]) {
                if e.valid_up_to() == 0 && e.error_len().is_none() {
                    bytes.truncate(bytes.len() - k);
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn vocab_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(prop::sample::select(PIECES), 1..=3).prop_map(|ps| ps.concat()),
        6..30,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn masks_agree_with_the_regex_crate_on_decoded_text(
        tokens in vocab_strategy(),
        bans in prop::collection::vec(ban_strategy(), 1..4),
        prompt in prop::collection::vec(prop::sample::select(PROMPT), 0..6),
        choices in prop::collection::vec(any::<u32>(), 0..8),
    ) {
        let mut b = Vocabulary::builder();
        for t in &tokens {
            b.text(t);
        }
        let eos = b.special("</s>");
        b.end_of_generation(eos);
        let vocab = Arc::new(b.build());
        let mut list = BanList::new();
        for ban in &bans {
            let options = EntryOptions::default().with_whole_word(ban.whole_word).with_case_sensitive(ban.case_sensitive);
            list.add(&ban.word, options).unwrap();
        }
        let automaton = Arc::new(Automaton::compile(&list).unwrap());
        let table = Arc::new(MaskTable::new(automaton, Arc::clone(&vocab)));
        let references: Vec<Reference> = bans.iter().map(Reference::new).collect();
        let reference = |bytes: &[u8], prompt_len: usize, ended: bool| {
            let text = text_of(bytes, ended);
            references.iter().any(|r| r.matches_after(&text, prompt_len, ended))
        };

        let prompt = prompt.concat();
        let mut guard = Guard::new(table, GuardConfig::default());
        guard.prime(prompt.as_bytes());
        let mut text = prompt.as_bytes().to_vec();
        for step in 0..=choices.len() {
            let masks = guard.masks();
            let mut allowed = Vec::new();
            for (id, bytes) in vocab.text_tokens() {
                let mut with = text.clone();
                with.extend_from_slice(bytes);
                let banned = reference(&with, prompt.len(), false);
                prop_assert_eq!(
                    masks.forbidden.contains(id),
                    banned,
                    "token {:?} after {:?} (prompt {:?}), bans {:?}",
                    String::from_utf8_lossy(bytes),
                    String::from_utf8_lossy(&text),
                    prompt,
                    bans
                );
                if !banned {
                    allowed.push(id);
                }
            }
            prop_assert_eq!(
                masks.forbidden.contains(eos),
                reference(&text, prompt.len(), true),
                "end of generation after {:?} (prompt {:?}), bans {:?}",
                String::from_utf8_lossy(&text),
                prompt,
                bans
            );
            let Some(&c) = choices.get(step) else { break };
            if allowed.is_empty() {
                break;
            }
            let t = allowed[c as usize % allowed.len()];
            prop_assert!(guard.advance(t).is_ok());
            text.extend_from_slice(vocab.token_bytes(t).unwrap());
        }
    }
}
