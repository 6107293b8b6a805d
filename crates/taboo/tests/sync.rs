//! The operations an outside runtime drives a guard with — `sync_to` (the whole history every
//! step, rows reordered by beam search) and `fill_bitmask` (the mask as packed bits) — checked
//! against their naive oracles: a fresh guard advanced token by token, and `apply` on logits.

use std::sync::Arc;

use proptest::prelude::*;
use taboo::{Ban, Guard, GuardConfig, LogitsGuard, Vocabulary};

/// Tokens that spell "cat" and "кошка" in several ways, split Cyrillic letters, and end words.
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
        b"\n",
    ] {
        b.text(t);
    }
    let eos = b.special("</s>");
    b.special("<pad>");
    b.end_of_generation(eos);
    Arc::new(b.build())
}

fn ban() -> Ban {
    Ban::builder()
        .words(["cat", "кошка"])
        .entry("[substring] is c")
        .build()
        .unwrap()
}

/// The forbidden tokens as `apply` (or `apply_final`) writes them into logits.
fn forbidden_by_apply(guard: &mut Guard, n: usize, last: bool) -> Vec<u32> {
    let mut logits = vec![0.0f32; n];
    if last {
        guard.apply_final(&mut logits);
    } else {
        guard.apply(&mut logits);
    }
    (0..n as u32)
        .filter(|&t| logits[t as usize] == f32::NEG_INFINITY)
        .collect()
}

fn forbidden_by_bitmask(guard: &Guard, n: usize, last: bool) -> Vec<u32> {
    let mut mask = vec![0xDEAD_BEEFu32; n.div_ceil(32) + 1];
    let count = guard.fill_bitmask(&mut mask, last).unwrap();
    assert_eq!(
        mask[n.div_ceil(32)],
        0xDEAD_BEEF,
        "a word past the vocabulary was written"
    );
    let out: Vec<u32> = (0..n as u32)
        .filter(|&t| mask[t as usize / 32] & (1 << (t % 32)) == 0)
        .collect();
    assert_eq!(count, out.len());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// However the history jumps between calls (a beam search swapping rows, a rewind, a
    /// history longer than the rollback bound), the synced guard forbids exactly what a
    /// fresh guard advanced through the same tokens forbids, and reports the same violations.
    #[test]
    fn sync_to_equals_a_fresh_guard(
        histories in prop::collection::vec(prop::collection::vec(0u32..19, 0..12), 1..6),
        max_rollback in 0usize..6,
        prime in prop::sample::select(vec!["", "The", "Say ", "it is c"]),
    ) {
        let vocab = vocab();
        let n = vocab.len();
        let ban = ban();
        let config = GuardConfig::default().with_max_rollback(max_rollback);
        let mut synced = ban.guard_with(&vocab, config);
        synced.prime(prime.as_bytes());
        for history in &histories {
            let mut fresh = ban.guard_with(&vocab, config);
            fresh.prime(prime.as_bytes());
            let violations = history.iter().filter(|&&t| fresh.advance(t).is_err()).count();
            let before = synced.tokens().to_vec();
            let common = before.iter().zip(history).take_while(|(a, b)| a == b).count();
            let reported = synced.sync_to(history);
            // sync_to re-advances at least the tokens past the common prefix; when it had to
            // restart, it re-advances everything, so count violations the same way.
            let new_violations = {
                let mut g = ban.guard_with(&vocab, config);
                g.prime(prime.as_bytes());
                let mut count = 0;
                for (i, &t) in history.iter().enumerate() {
                    if g.advance(t).is_err() && i >= common {
                        count += 1;
                    }
                }
                count
            };
            prop_assert!(reported == new_violations || reported == violations,
                "reported {reported}, new {new_violations}, all {violations}");
            prop_assert_eq!(synced.tokens(), &history[..]);
            prop_assert_eq!(synced.position(), history.len());
            prop_assert_eq!(synced.state(), fresh.state());
            // A rollback shortens the synced guard's rollback history below the fresh one's,
            // and open_since names only positions the guard can still roll back to: the same
            // position, or None exactly when the synced guard cannot rewind that far.
            match (synced.open_since(), fresh.open_since()) {
                (Some(a), b) => prop_assert_eq!(Some(a), b),
                (None, Some(at)) => prop_assert!(
                    synced.rollback(history.len() - at).is_err(),
                    "synced guard can roll back to {at} but does not report it open there"
                ),
                (None, None) => {}
            }
            for last in [false, true] {
                prop_assert_eq!(
                    forbidden_by_apply(&mut synced, n, last),
                    forbidden_by_apply(&mut fresh, n, last)
                );
            }
        }
    }

    /// The packed bitmask forbids exactly the tokens `apply` sets to `-inf`, before a limit
    /// and at it, after any history.
    #[test]
    fn bitmask_equals_apply(history in prop::collection::vec(0u32..19, 0..12)) {
        let vocab = vocab();
        let n = vocab.len();
        let mut guard = ban().guard(&vocab);
        guard.prime(b"it is");
        for &t in &history {
            let _ = guard.advance(t);
            for last in [false, true] {
                prop_assert_eq!(
                    forbidden_by_bitmask(&guard, n, last),
                    forbidden_by_apply(&mut guard, n, last)
                );
            }
        }
    }
}

#[test]
fn bitmask_too_short_is_an_error_not_a_panic() {
    let vocab = vocab();
    let guard = ban().guard(&vocab);
    let err = guard.fill_bitmask(&mut [], false).unwrap_err();
    assert_eq!((err.given, err.needed), (0, 1));
    assert!(err.to_string().contains("needs 1"), "{err}");
}

#[test]
fn sync_to_restarts_from_the_prompt_when_the_rollback_history_is_too_short() {
    let vocab = vocab();
    let config = GuardConfig::default().with_max_rollback(1);
    let mut guard = ban().guard_with(&vocab, config);
    guard.prime(b"Say");
    // " c" "at" "." — a leak, reported.
    assert_eq!(guard.sync_to(&[1, 2, 3]), 1);
    // Back to the first token: two steps back, one more than the history holds.
    assert_eq!(guard.sync_to(&[1, 14]), 0);
    let mut fresh = ban().guard_with(&vocab, config);
    fresh.prime(b"Say");
    fresh.advance(1).unwrap();
    fresh.advance(14).unwrap();
    assert_eq!(guard.state(), fresh.state());
}

/// The prompt/output seam: whitespace runs are written once, so output whitespace that
/// continues the prompt's trailing whitespace was invisible, and a ban on the newline itself
/// let the output's own leading newline through. Both readings are now checked: the output's
/// whitespace as its own run (the newline ban holds) and as part of the prompt's run (a
/// phrase whose gap straddles the seam is still caught).
#[test]
fn output_whitespace_continuing_the_prompts_is_seen() {
    let mut b = Vocabulary::builder();
    let (nl, space, paris, hello, nl_paris) = (
        b.text("\n"),
        b.text(" "),
        b.text(" Paris"),
        b.text("Hello"),
        b.text("\nParis"),
    );
    let vocab = Arc::new(b.build());
    let n = vocab.len();

    let newline = Ban::builder()
        .entry("[regex substring] \\n")
        .build()
        .unwrap();
    let mut guard = newline.guard(&vocab);
    guard.prime(b"Line one.\nLine two.\n");
    let forbidden = forbidden_by_apply(&mut guard, n, false);
    assert!(
        forbidden.contains(&nl) && forbidden.contains(&space),
        "{forbidden:?}"
    );
    assert!(!forbidden.contains(&hello));
    assert_eq!(forbidden_by_bitmask(&guard, n, false), forbidden);
    assert!(
        guard.advance(nl).is_err(),
        "the output's own newline is a match"
    );

    // A phrase across the seam, whitespace on both sides of it: one run, still banned.
    let phrase = Ban::new(["in Paris"]).unwrap();
    let mut guard = phrase.guard(&vocab);
    guard.prime(b"The tower is in ");
    guard.advance(space).unwrap();
    // " Paris" may still become " Parisian": it is forbidden where the text ends after it.
    let at_limit = forbidden_by_apply(&mut guard, n, true);
    assert!(
        at_limit.contains(&paris) && at_limit.contains(&nl_paris),
        "{at_limit:?}"
    );
    assert!(!forbidden_by_apply(&mut guard, n, false).contains(&paris));
    // After the output's first letters the seam reading is gone, and rollback restores it.
    guard.advance(hello).unwrap();
    guard.rollback(2).unwrap();
    guard.advance(paris).unwrap();
    assert!(guard.is_pending());
    assert!(guard.advance(nl).is_err());
}
