//! Guards on a tiny hand-built vocabulary, where every assertion can be checked by hand.
//!
//! ```text
//! id  bytes          id  bytes          id  bytes
//!  0  " cat"          6  "\xd0"         12  "ка"
//!  1  " c"            7  "\xba\xd0"     13  " кош"
//!  2  "at"            8  "\xbe"         14  "s"
//!  3  "."             9  "шка"          15  " is"
//!  4  " "            10  " Cat"         16  "</s>" (special, end of generation)
//!  5  "CAT"          11  " к"           17  "<pad>" (special)
//! ```

use std::sync::Arc;

use taboo::{
    Automaton, BanList, Guard, GuardConfig, LogitsGuard, MaskTable, Mode, NaiveGuard, Vocabulary,
};

const CAT: u32 = 0;
const C: u32 = 1;
const AT: u32 = 2;
const DOT: u32 = 3;
const SPACE: u32 = 4;
const CAT_UPPER: u32 = 5;
const D0: u32 = 6;
const BA_D0: u32 = 7;
const BE: u32 = 8;
const SHKA: u32 = 9;
const CAT_TITLE: u32 = 10;
const K: u32 = 11;
const KOSH: u32 = 13;
const S: u32 = 14;
const IS: u32 = 15;
const EOS: u32 = 16;
const PAD: u32 = 17;

fn vocab() -> Arc<Vocabulary> {
    let mut b = Vocabulary::builder();
    for t in [
        &b" cat"[..],
        b" c",
        b"at",
        b".",
        b" ",
        b"CAT",
        b"\xd0",
        b"\xba\xd0",
        b"\xbe",
        "шка".as_bytes(),
        b" Cat",
        " к".as_bytes(),
        "ка".as_bytes(),
        " кош".as_bytes(),
        b"s",
        b" is",
    ] {
        b.text(t);
    }
    let eos = b.special("</s>");
    b.special("<pad>");
    b.end_of_generation(eos);
    Arc::new(b.build())
}

fn table(ban: &str) -> Arc<MaskTable> {
    let list = BanList::parse(ban).unwrap();
    Arc::new(MaskTable::new(
        Arc::new(Automaton::compile(&list).unwrap()),
        vocab(),
    ))
}

fn forbidden(guard: &mut Guard) -> Vec<u32> {
    guard.masks().forbidden.iter().collect()
}

#[test]
fn whole_word_ban_forbids_the_boundary_after_the_word() {
    let mut g = Guard::new(table("cat"), GuardConfig::default());
    // At the start nothing completes "cat" by itself except tokens containing it whole:
    // no single token here does ("cat" needs a boundary after it).
    assert!(forbidden(&mut g).is_empty());
    g.advance(CAT).unwrap();
    assert!(g.is_pending());
    // Now every token starting with a non-word character completes the match, and so
    // does the end of generation.
    assert_eq!(
        forbidden(&mut g),
        vec![CAT, C, DOT, SPACE, BA_D0, BE, CAT_TITLE, K, KOSH, IS, EOS]
    );
    // (A lone continuation byte is an invalid character, U+FFFD: a non-word character.)
    // The soft-mode notion: the tokens that complete the letters (at the start of the
    // text, "CAT" does too).
    let g0 = Guard::new(table("cat"), GuardConfig::default());
    let p: Vec<u32> = g0.masks().pending.iter().collect();
    assert_eq!(p, vec![CAT, CAT_UPPER, CAT_TITLE]);
}

#[test]
fn every_spelling_is_caught() {
    // " c" + "at", " Cat", " " + "CAT": all end in the same pending state.
    for path in [vec![C, AT], vec![CAT_TITLE], vec![SPACE, CAT_UPPER]] {
        let mut g = Guard::new(table("cat"), GuardConfig::default());
        for &t in &path {
            g.advance(t).unwrap();
        }
        assert!(g.is_pending(), "{path:?}");
        assert!(forbidden(&mut g).contains(&DOT), "{path:?}");
        assert!(!forbidden(&mut g).contains(&S), "{path:?}: cats is allowed");
        assert!(g.clone().advance(DOT).is_err());
        assert!(
            g.clone().advance(EOS).is_err(),
            "EOS after the word is a leak"
        );
        assert!(g.clone().advance(S).is_ok());
    }
}

#[test]
fn tokens_that_split_a_cyrillic_letter() {
    // " кош" + "\xd0" + "\xba\xd0" + "\xb0" would be "кошка" with letters split across
    // tokens; here: " к" + "\xd0" "\xbe" (о) + "шка" = " кошка".
    let mut g = Guard::new(table("кошка"), GuardConfig::default());
    g.advance(K).unwrap();
    g.advance(D0).unwrap();
    assert!(g.is_open());
    g.advance(BE).unwrap();
    g.advance(SHKA).unwrap();
    assert!(g.is_pending());
    assert!(forbidden(&mut g).contains(&EOS));
    assert!(forbidden(&mut g).contains(&DOT));
    // "\xd0" starts a character that is not known yet: allowed; if it becomes к
    // ("кошкак…") the word goes on, if it becomes invalid, the word ends there.
    assert!(!forbidden(&mut g).contains(&D0));
    let mut g2 = g.clone();
    g2.advance(D0).unwrap();
    assert!(!forbidden(&mut g2).contains(&BA_D0));
    assert!(
        forbidden(&mut g2).contains(&EOS),
        "an unfinished character at the end is U+FFFD"
    );
    assert!(forbidden(&mut g2).contains(&DOT));
    // Special tokens that do not end generation are never text.
    assert!(!forbidden(&mut g).contains(&PAD));
    assert!(g.clone().advance(PAD).is_ok());
}

#[test]
fn the_prompt_tail_primes_the_guard() {
    // The prompt ends in " c"; the output must not finish the word.
    let mut g = Guard::new(table("cat"), GuardConfig::default());
    g.prime(b"My pet is a c");
    assert!(g.is_open());
    assert!(g.clone().advance(AT).is_ok(), "\"cat\" is not complete yet");
    g.advance(AT).unwrap();
    assert!(forbidden(&mut g).contains(&EOS));
    // A match inside the prompt itself is not the output's fault.
    let mut g = Guard::new(table("cat"), GuardConfig::default());
    g.prime(b"a cat is here");
    assert!(!g.is_open());
    assert!(g.advance(DOT).is_ok());
}

#[test]
fn a_ban_matched_in_the_prompt_still_guards_a_longer_one_it_begins() {
    // "cat" is inside the prompt (no violation); "cats" would be completed by the output.
    for ban in [
        "[substring] cat\n[substring] cats",
        "[substring] cat\n[regex substring] cats?s",
    ] {
        let mut g = Guard::new(table(ban), GuardConfig::default());
        g.prime(b"my cat");
        assert!(
            forbidden(&mut g).contains(&S),
            "{ban}: \"s\" completes \"cats\""
        );
        assert!(g.clone().advance(S).is_err(), "{ban}");
        assert!(g.advance(DOT).is_ok(), "{ban}");
    }
}

#[test]
fn hard_mode_edits_logits_and_reports_the_removed_mass() {
    let mut g = Guard::new(table("cat"), GuardConfig::default());
    g.advance(CAT).unwrap();
    let n = vocab().len();
    let mut logits = vec![0.0f32; n];
    let applied = g.apply(&mut logits);
    assert_eq!(applied.forbidden, 11);
    assert!((applied.removed_mass - 11.0 / n as f32).abs() < 1e-6);
    let p = taboo::softmax(&logits);
    assert_eq!(p[DOT as usize], 0.0);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn soft_mode_penalises_completing_and_partial_tokens() {
    let config = GuardConfig::default().with_mode(Mode::Soft {
        penalty: 5.0,
        partial_penalty: 1.0,
    });
    let mut g = Guard::new(table("cat"), config);
    let mut logits = vec![0.0f32; vocab().len()];
    let applied = g.apply(&mut logits);
    assert_eq!(logits[CAT as usize], -5.0, "pending: completes the letters");
    assert_eq!(logits[CAT_TITLE as usize], -5.0);
    assert_eq!(logits[CAT_UPPER as usize], -5.0);
    assert_eq!(logits[C as usize], -1.0, "opens a partial match");
    assert_eq!(logits[DOT as usize], 0.0);
    assert_eq!(applied.penalized, 4);
    assert!(applied.removed_mass > 0.0);
    // Nothing is set to -inf in soft mode.
    g.advance(CAT).unwrap();
    let mut logits = vec![0.0f32; vocab().len()];
    g.apply(&mut logits);
    assert!(logits.iter().all(|l| l.is_finite()));
}

#[test]
fn rollback_restores_earlier_states_within_its_bound() {
    let config = GuardConfig::default().with_max_rollback(2);
    let mut g = Guard::new(table("cat"), config);
    let start = g.state().clone();
    g.advance(C).unwrap();
    let after_c = g.state().clone();
    g.advance(AT).unwrap();
    g.rollback(1).unwrap();
    assert_eq!(g.state(), &after_c);
    g.rollback(1).unwrap();
    assert_eq!(g.state(), &start);
    assert_eq!(g.position(), 0);
    for t in [SPACE, C, AT] {
        g.advance(t).unwrap();
    }
    let err = g.rollback(3).unwrap_err();
    assert_eq!((err.requested, err.available), (3, 2));
}

#[test]
fn naive_baseline_leaks_other_spellings() {
    // Bans the canonical tokenizations " cat" and " c"+"at" only.
    let mut naive = NaiveGuard::new(vocab(), vec![vec![CAT], vec![C, AT]]);
    let mut logits = vec![0.0f32; vocab().len()];
    naive.apply(&mut logits);
    assert_eq!(logits[CAT as usize], f32::NEG_INFINITY);
    assert_eq!(
        logits[CAT_TITLE as usize], 0.0,
        "the naive ban is case-sensitive"
    );
    naive.advance(CAT_TITLE).unwrap();
    naive.advance(DOT).unwrap(); // " Cat." went through
    naive.rollback(2).unwrap();
    naive.advance(C).unwrap();
    let mut logits = vec![0.0f32; vocab().len()];
    naive.apply(&mut logits);
    assert_eq!(logits[AT as usize], f32::NEG_INFINITY);
    assert!(naive.advance(AT).is_err());
}

#[test]
fn compiled_objects_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Automaton>();
    check::<MaskTable>();
    check::<Vocabulary>();
    check::<BanList>();
    fn check_send<T: Send>() {}
    check_send::<Guard>();
    check_send::<NaiveGuard>();
}

#[test]
fn the_last_step_before_a_token_limit_leaves_no_banned_word_complete() {
    // Regression: "Tokyo" + a lead byte, then special tokens until the limit, decoded as
    // "Tokyo\u{FFFD}" — a whole-word match at the end of the text.
    let mut g = Guard::new(table("cat"), GuardConfig::default());
    g.advance(CAT).unwrap();
    let n = vocab().len();
    let mut logits = vec![0.0f32; n];
    g.apply(&mut logits);
    assert!(logits[S as usize].is_finite() && logits[PAD as usize].is_finite());
    let mut last = vec![0.0f32; n];
    g.apply_final(&mut last);
    // " cat" then "s" is fine; ending on " cat" (via a special token) or " cat" + a lead
    // byte (U+FFFD at the end) is not.
    assert!(last[S as usize].is_finite());
    assert_eq!(last[PAD as usize], f32::NEG_INFINITY);
    assert_eq!(last[EOS as usize], f32::NEG_INFINITY);
    assert_eq!(last[D0 as usize], f32::NEG_INFINITY);
    // Mid-sentence nothing extra is forbidden.
    let fresh = Guard::new(table("cat"), GuardConfig::default());
    let mut a = vec![0.0f32; n];
    let mut b = vec![0.0f32; n];
    fresh.clone().apply(&mut a);
    fresh.clone().apply_final(&mut b);
    let differ: Vec<usize> = (0..n).filter(|&i| a[i] != b[i]).collect();
    // Only the tokens that would end the text on a complete "cat" differ.
    assert_eq!(
        differ,
        vec![CAT as usize, CAT_UPPER as usize, CAT_TITLE as usize]
    );
}
