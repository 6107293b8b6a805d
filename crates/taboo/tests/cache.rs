//! The per-state mask cache: bounded by its budget, exact (a cached mask equals a computed
//! one), and not all-or-nothing — a state in use survives while others come and go.

use std::sync::Arc;

use taboo::{Ban, MaskTable, State, Vocabulary};

fn table(budget: usize) -> (Arc<MaskTable>, Vec<State>) {
    let mut b = Vocabulary::builder();
    // Each word ends in its own number, so the rest of each word differs after its first
    // three letters: distinct states even in a minimal automaton.
    let words: Vec<String> = (0..40).map(|i| format!("w{i:02}x{i:02}")).collect();
    for w in &words {
        b.text(format!(" {w}"));
        b.text(&w[..3]);
    }
    b.text(" ");
    let vocab = Arc::new(b.build());
    let ban = Ban::new(&words).unwrap();
    let automaton = Arc::clone(ban.automaton());
    let table = Arc::new(MaskTable::new(Arc::clone(&automaton), vocab).with_cache_budget(budget));
    // Distinct states: the first three letters of each word.
    let states: Vec<State> = words
        .iter()
        .map(|w| automaton.feed(&automaton.start(), &w.as_bytes()[..3]).0)
        .collect();
    for (i, s) in states.iter().enumerate() {
        assert!(!states[..i].contains(s));
    }
    (table, states)
}

#[test]
fn a_state_in_use_survives_while_the_cache_turns_over() {
    let (table, states) = table(0);
    let one = table.masks(&states[0]).memory_usage() + states[0].memory_usage() + 64;
    // Room for about four states per generation.
    let (table, states) = self::table(one * 8 + one / 2);
    let hot = &states[0];
    let expected = table.compute(hot);
    for (i, s) in states.iter().enumerate().skip(1) {
        assert_eq!(*table.masks(hot), expected, "hot state after {i} others");
        assert_eq!(*table.masks(s), table.compute(s));
    }
    let stats = table.stats();
    assert!(stats.evictions >= 5, "{stats:?}");
    // The hot state was computed once: every other miss is a new state.
    assert_eq!(stats.misses, states.len() as u64, "{stats:?}");
    assert!(table.memory_usage() < 64 << 20);
}

#[test]
fn a_zero_budget_caches_nothing_and_stays_exact() {
    let (table, states) = table(0);
    for s in &states {
        assert_eq!(*table.masks(s), table.compute(s));
        assert_eq!(*table.masks(s), table.compute(s));
    }
    assert_eq!(table.stats().hits, 0);
}
