//! `taboo bench`: the core engine's speed and memory on a large vocabulary, as one JSON line.
//!
//! For each ban list (1,000 and 10,000 words; English, Russian, mixed) it measures, on the
//! o200k_base vocabulary (200,019 tokens) unless another is chosen:
//! - `compile_ms`: ban list → automaton (the list is parsed from words first, not timed);
//! - `new_state_us_median`: masks of a state not seen before (per-state cache bypassed; the
//!   per-lane constant part, computed once per list, is reported as `const_ms`);
//! - `guard_us_per_token_median` / `_mean`: `advance` + `apply` (hard mode) per token while
//!   replaying the tokens of a real text, with the cache filling as it would in generation;
//!   `guard_mass_us_per_token_median` adds the removed-mass measurement (a softmax pass);
//! - `memory_mb`: the mask table (trie, cached masks, automaton) after the replay.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use taboo::workload::{dictionary_words, Language, REPLAY_TEXT};
use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, TokenId,
    Vocabulary,
};

/// One list's measurements.
pub struct ListReport {
    pub value: Value,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Measures one ban list against `vocab`, replaying `tokens`.
pub fn measure_list(
    vocab: &Arc<Vocabulary>,
    tokens: &[TokenId],
    language: Language,
    size: usize,
) -> Result<Value, Box<dyn std::error::Error>> {
    let words = dictionary_words(language, size)?;
    let list = BanList::from_words(&words, EntryOptions::default())?;
    let t = Instant::now();
    let automaton = Arc::new(Automaton::compile(&list)?);
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let table = Arc::new(MaskTable::new(Arc::clone(&automaton), Arc::clone(vocab)));
    let trie_ms = t.elapsed().as_secs_f64() * 1e3;

    // The per-lane constant masks are computed once per normaliser state; warm them so that
    // the new-state figure measures what each new state costs.
    let t = Instant::now();
    table.compute(&automaton.start());
    let const_ms = t.elapsed().as_secs_f64() * 1e3;

    // New states: every distinct state met while replaying, computed uncached.
    let mut state = automaton.start();
    let mut states = vec![state.clone()];
    for &tok in tokens {
        if let Some(b) = vocab.token_bytes(tok) {
            state = automaton.feed(&state, b).0;
            states.push(state.clone());
        }
    }
    states.sort_by_key(|s| format!("{s:?}"));
    states.dedup();
    let mut new_state_us = Vec::with_capacity(states.len());
    for s in &states {
        table.compute(s); // warm the constant part of this normaliser state
        let t = Instant::now();
        std::hint::black_box(table.compute(s));
        new_state_us.push(t.elapsed().as_secs_f64() * 1e6);
    }

    let mut per_token = Vec::new();
    let mut per_token_mass = Vec::new();
    let mut logits = vec![0.0f32; vocab.len()];
    for (measure_mass, out) in [(false, &mut per_token), (true, &mut per_token_mass)] {
        let config = GuardConfig {
            measure_mass,
            max_rollback: 64,
            ..GuardConfig::default()
        };
        let mut guard = Guard::new(Arc::clone(&table), config);
        for (i, &tok) in tokens.iter().enumerate() {
            for (j, l) in logits.iter_mut().enumerate() {
                *l = ((i * 31 + j * 17) % 97) as f32 * 0.1;
            }
            let t = Instant::now();
            std::hint::black_box(guard.apply(&mut logits));
            let _ = guard.advance(tok); // words of the list may occur in the text: not an error here
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let mean_us = mean(&per_token);
    Ok(json!({
        "language": language.name(),
        "words": size,
        "compile_ms": round(compile_ms),
        "automaton_states": automaton.state_count(),
        "trie_ms": round(trie_ms),
        "const_ms": round(const_ms),
        "distinct_states": states.len(),
        "new_state_us_median": round(median(&mut new_state_us)),
        "new_state_us_max": round(new_state_us.iter().copied().fold(0.0, f64::max)),
        "guard_us_per_token_median": round(median(&mut per_token)),
        "guard_us_per_token_mean": round(mean_us),
        "guard_mass_us_per_token_median": round(median(&mut per_token_mass)),
        "memory_mb": round(table.memory_usage() as f64 / (1 << 20) as f64),
    }))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
