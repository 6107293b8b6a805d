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
    a_forms_ban_removes_every_inflected_form(&mut engine);
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
    GenerateOptions::default()
        .with_max_tokens(16)
        .with_raw(true)
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

/// A Russian continuation whose greedy output inflects the word ("… кормит кошку. Каждое
/// утро кошка …").
const RU_PROMPT: &str = "У бабушки живёт кошка. Каждое утро бабушка кормит";
const RU_WORD: &str = "кошка";

/// The words of a text, lower-cased, ё read as е.
fn ru_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('ё', "е"))
        .collect()
}

fn ru_generate(engine: &mut LlamaEngine, ban: Option<&str>, backtrack: bool) -> String {
    let mut guard = ban.map(|file| {
        let list = BanList::parse(file).unwrap();
        let (list, report) = list
            .expand_forms(&taboo::forms::Morphology::new())
            .expect("forms expand (the Russian dictionary comes from scripts/fetch-models.sh)");
        assert!(report.unknown.is_empty(), "{report:?}");
        let automaton = Arc::new(Automaton::compile(&list).unwrap());
        let table = Arc::new(MaskTable::new(
            automaton,
            Arc::new(vocabulary_from_engine(engine)),
        ));
        Guard::new(table, GuardConfig::default())
    });
    let options = GenerateOptions::default()
        .with_max_tokens(24)
        .with_raw(true)
        .with_backtrack(backtrack.then(taboo_llm::Backtrack::default));
    let out = generate(
        engine,
        guard.as_mut().map(|g| g as &mut dyn taboo::LogitsGuard),
        RU_PROMPT,
        &options,
        &mut |_| Ok(()),
        &AtomicBool::new(false),
    )
    .expect("generation runs");
    assert!(!out.text.trim().is_empty(), "{out:?}");
    out.text
}

fn a_forms_ban_removes_every_inflected_form(engine: &mut LlamaEngine) {
    let forms: Vec<String> = taboo::forms::Morphology::new()
        .word_forms(RU_WORD)
        .expect("the Russian dictionary is installed (scripts/fetch-models.sh)")
        .forms
        .iter()
        .map(|f| f.replace('ё', "е"))
        .collect();
    let inflected = |text: &str| -> Vec<String> {
        ru_words(text)
            .into_iter()
            .filter(|w| forms.contains(w))
            .collect()
    };
    let unconstrained = ru_generate(engine, None, false);
    assert!(
        inflected(&unconstrained).iter().any(|w| w != RU_WORD),
        "the unconstrained continuation should use an inflected form of {RU_WORD}: {unconstrained:?}"
    );
    // Banning the word alone leaves its other forms to the model.
    let lemma_only = ru_generate(engine, Some(RU_WORD), true);
    let leaked = inflected(&lemma_only);
    assert!(
        !leaked.is_empty() && leaked.iter().all(|w| w != RU_WORD),
        "expected the lemma-only ban to keep кошка out but let a form through: {lemma_only:?}"
    );
    for backtrack in [false, true] {
        let banned = ru_generate(engine, Some("[forms disguise] кошка"), backtrack);
        assert!(
            inflected(&banned).is_empty(),
            "a form of {RU_WORD} got through the forms ban (backtrack: {backtrack}): {banned:?} \
             (unconstrained: {unconstrained:?})"
        );
    }
}
