//! Tests against Gemma 3 270M (the base model, Q4_K_M), which `scripts/fetch-models.sh --gemma`
//! puts in `models/`: a SentencePiece vocabulary of 262,144 tokens, unlike SmolLM2's byte-level
//! BPE, so the GGUF loader and the guard are checked on both kinds.
//!
//! One model at a time: all cases run inside this one test function, and cargo runs test
//! binaries one after another, so Gemma never runs beside `model.rs`'s SmolLM2 cases (two
//! 2-thread llama.cpp instances on a 2-core machine slow each other down 4×). A missing model
//! fails the test with the command that fetches it; it never skips silently.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use taboo::{Automaton, BanList, EntryOptions, Guard, GuardConfig, MaskTable, Vocabulary};
use taboo_llm::{generate, vocabulary_from_engine, EngineOptions, GenerateOptions, LlamaEngine};

/// A prompt whose greedy continuation names the city (" Paris, France. …"); the base model has no chat template,
/// so it is continued as plain text.
const PROMPT: &str = "The Eiffel Tower is in the city of";
const WORD: &str = "Paris";

fn gemma_path() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/gemma-3-270m-q4_k_m.gguf");
    assert!(
        path.is_file(),
        "model {} is missing: run scripts/fetch-models.sh --gemma first",
        path.display()
    );
    path
}

#[test]
fn gemma_model_cases() {
    let path = gemma_path();
    let mut engine = LlamaEngine::load(&path, &EngineOptions::default()).expect("Gemma loads");
    vocabulary_agrees_with_the_gguf_loader(&engine, &path);
    let unconstrained = plain_continuation_is_deterministic(&mut engine);
    a_ban_removes_the_word(&mut engine, &unconstrained);
}

fn vocabulary_agrees_with_the_gguf_loader(engine: &LlamaEngine, path: &PathBuf) {
    let from_model = vocabulary_from_engine(engine);
    let from_file = Vocabulary::from_gguf_file(path).expect("the GGUF loader reads Gemma");
    assert_eq!(from_model.len(), 262_144);
    assert_eq!(from_file.len(), 262_144);
    let differ: Vec<u32> = (0..from_model.len() as u32)
        .filter(|&id| {
            from_model.is_special(id) != from_file.is_special(id)
                || from_model.token_bytes(id) != from_file.token_bytes(id)
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} tokens differ, first: {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
    // `</s>` (id 212) is a control token that llama.cpp ends generation on by its name.
    assert!(from_file.is_end_of_generation(212));
    let mut a = from_model.end_of_generation().to_vec();
    let mut b = from_file.end_of_generation().to_vec();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "end-of-generation tokens differ");
}

fn options() -> GenerateOptions {
    GenerateOptions {
        max_tokens: 16,
        raw: true,
        ..GenerateOptions::default()
    }
}

fn plain_continuation_is_deterministic(engine: &mut LlamaEngine) -> String {
    let run = |engine: &mut LlamaEngine| {
        generate(
            engine,
            None,
            PROMPT,
            &options(),
            &mut |_| Ok(()),
            &AtomicBool::new(false),
        )
        .expect("generation runs")
    };
    let a = run(engine);
    let b = run(engine);
    assert!(!a.tokens.is_empty() && !a.text.trim().is_empty(), "{a:?}");
    assert_eq!(a.tokens, b.tokens);
    assert_eq!(a.text, b.text);
    assert!(
        a.text.contains(WORD),
        "the unconstrained continuation should name {WORD}: {:?}",
        a.text
    );
    a.text
}

fn a_ban_removes_the_word(engine: &mut LlamaEngine, unconstrained: &str) {
    let mut list = BanList::new();
    list.add(WORD, EntryOptions::default()).unwrap();
    let automaton = Arc::new(Automaton::compile(&list).unwrap());
    let vocab = Arc::new(vocabulary_from_engine(engine));
    let table = Arc::new(MaskTable::new(automaton, vocab));
    let mut guard = Guard::new(table, GuardConfig::default());
    let banned = generate(
        engine,
        Some(&mut guard),
        PROMPT,
        &options(),
        &mut |_| Ok(()),
        &AtomicBool::new(false),
    )
    .expect("generation with the ban runs");
    assert!(!banned.text.trim().is_empty(), "{banned:?}");
    // The ban is on the whole word in any letter case ("Parisian" may stay).
    let has_word = banned
        .text
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(WORD));
    assert!(
        !has_word,
        "the ban let {WORD} through: {:?} (unconstrained: {unconstrained:?})",
        banned.text
    );
}
