//! Tests against the real SmolLM2 model that `scripts/fetch-models.sh` puts in `models/`.
//!
//! One model at a time: all cases run inside a single test function, because two 2-thread
//! llama.cpp instances on a 2-core machine slow each other down 4× (spinning workers).
//! A missing model fails the test with instructions; it never skips silently.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, Vocabulary,
};
use taboo_llm::{
    generate, prompt_tokens, vocabulary_from_engine, Backtrack, Engine, EngineOptions,
    FinishReason, GenerateOptions, LlamaEngine, SamplingConfig, TokenPiece, TokenText,
};

const MEOW: &str = "What animal says \"meow\"? Answer in one sentence.";

fn model_path(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(file);
    assert!(
        path.is_file(),
        "model {} is missing: run scripts/fetch-models.sh (add --gemma for Gemma) first",
        path.display()
    );
    path
}

fn smollm2() -> LlamaEngine {
    LlamaEngine::load(
        &model_path("SmolLM2-135M-Instruct-Q4_1.gguf"),
        &EngineOptions::default(),
    )
    .expect("SmolLM2 loads")
}

fn greedy(engine: &mut LlamaEngine, prompt: &str, max_tokens: usize) -> taboo_llm::Generation {
    let options = GenerateOptions::default().with_max_tokens(max_tokens);
    generate(
        engine,
        None,
        prompt,
        &options,
        &mut |_| Ok(()),
        &AtomicBool::new(false),
    )
    .expect("generation runs")
}

#[test]
fn smollm2_model_cases() {
    let mut engine = smollm2();
    greedy_output_is_deterministic(&mut engine);
    rewind_reproduces_fresh_logits(&mut engine);
    vocabulary_matches_the_model(&engine);
    vocabulary_agrees_with_the_gguf_loader(&engine);
    stop_strings_and_limits(&mut engine);
    let cat = ban_table(&engine, &["cat"]);
    backtracking_avoids_the_near_miss_of_hard_mode(&mut engine, &cat);
    rewound_guard_and_model_equal_a_fresh_run(&mut engine, &cat);
    no_banned_text_under_random_sampling(&mut engine);
}

fn ban_table(engine: &LlamaEngine, words: &[&str]) -> Arc<MaskTable> {
    let list = BanList::from_words(words.iter().copied(), EntryOptions::default()).unwrap();
    let vocab = Arc::new(vocabulary_from_engine(engine));
    Arc::new(MaskTable::new(
        Arc::new(Automaton::compile(&list).unwrap()),
        vocab,
    ))
}

/// Runs one guarded generation; also returns the text as it was streamed.
fn guarded(
    engine: &mut LlamaEngine,
    table: &Arc<MaskTable>,
    prompt: &str,
    options: &GenerateOptions,
) -> (taboo_llm::Generation, String) {
    let mut guard = Guard::new(table.clone(), GuardConfig::default());
    let mut streamed = String::new();
    let out = generate(
        engine,
        Some(&mut guard),
        prompt,
        options,
        &mut |t| {
            streamed.push_str(t);
            Ok(())
        },
        &AtomicBool::new(false),
    )
    .expect("generation runs");
    (out, streamed)
}

/// Lower-cased runs of word characters as the ban defines them: `_` joins words
/// ("The_Blue_Sailor" is one word, not "the").
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn backtracking_avoids_the_near_miss_of_hard_mode(engine: &mut LlamaEngine, cat: &Arc<MaskTable>) {
    let hard = GenerateOptions::default().with_max_tokens(40);
    let (h, _) = guarded(engine, cat, MEOW, &hard);
    // Masking alone: " cat" is allowed, every word ending after it is not.
    assert!(
        words(&h.text)
            .iter()
            .any(|w| w.starts_with("cat") && w != "cat"),
        "hard mode was expected to glue a word to \"cat\": {:?}",
        h.text
    );
    let back = hard.with_backtrack(Some(Backtrack::default()));
    let (b, streamed) = guarded(engine, cat, MEOW, &back);
    assert!(
        !words(&b.text).iter().any(|w| w.starts_with("cat")),
        "backtrack mode: {:?}",
        b.text
    );
    assert!(b.stats.backtracks >= 1 && b.stats.rewound_tokens >= b.stats.backtracks);
    assert_eq!(streamed, b.text, "streamed text was taken back");
}

/// Model and guard rewound by k tokens, then fed other tokens, are in exactly the state of a
/// fresh run over the same kept tokens: same logits, same mask, same open match.
fn rewound_guard_and_model_equal_a_fresh_run(engine: &mut LlamaEngine, cat: &Arc<MaskTable>) {
    let prompt = prompt_tokens(engine, MEOW, false).unwrap();
    let first = engine.tokenize("The animal is a domesticated cat", false);
    let second = engine.tokenize(" small dog", false);
    let keep = first.len() - 1; // rewind " cat", the token that opened the match
    let run = |engine: &mut LlamaEngine, tokens: &[u32]| {
        let mut guard = Guard::new(cat.clone(), GuardConfig::default());
        engine.reset().unwrap();
        let mut logits = engine.feed(&prompt).unwrap().to_vec();
        for &t in tokens {
            guard.advance(t).unwrap();
            logits = engine.feed(&[t]).unwrap().to_vec();
        }
        (guard, logits)
    };
    let (mut guard, _) = run(engine, &first);
    assert_eq!(guard.open_since(), Some(keep));
    guard.rollback(first.len() - keep).unwrap();
    engine.rewind(first.len() - keep).unwrap();
    let mut logits = Vec::new();
    for &t in &second {
        guard.advance(t).unwrap();
        logits = engine.feed(&[t]).unwrap().to_vec();
    }
    let kept: Vec<u32> = first[..keep].iter().chain(&second).copied().collect();
    let (mut fresh_guard, mut fresh_logits) = run(engine, &kept);
    assert!(guard.state() == fresh_guard.state());
    assert_eq!(guard.open_since(), fresh_guard.open_since());
    assert!(max_abs_diff(&logits, &fresh_logits) < 1e-3);
    guard.apply(&mut logits);
    fresh_guard.apply(&mut fresh_logits);
    let banned = |l: &[f32]| -> Vec<usize> {
        (0..l.len())
            .filter(|&i| l[i] == f32::NEG_INFINITY)
            .collect()
    };
    assert_eq!(banned(&logits), banned(&fresh_logits));
}

/// The hard-mode guarantee under random sampling, with and without backtracking, with rewind
/// budgets that run out: no banned word in the text, no violation reported, a fresh guard
/// replaying the tokens accepts every one, and what was streamed is exactly the text.
fn no_banned_text_under_random_sampling(engine: &mut LlamaEngine) {
    let banned = ["cat", "the", "is"];
    let table = ban_table(engine, &banned);
    let prompts = [
        MEOW,
        "Describe the animal that says meow, in three sentences.",
    ];
    for seed in 0..20u64 {
        let backtrack = match seed % 4 {
            0 => None,
            1 => Some(Backtrack::default()),
            2 => Some(
                Backtrack::default()
                    .with_min_mass_left(0.99)
                    .with_retries_per_position(1)
                    .with_max_backtracks(3),
            ),
            _ => Some(
                Backtrack::default()
                    .with_min_mass_left(1.0)
                    .with_retries_per_position(8)
                    .with_max_backtracks(200),
            ),
        };
        let options = GenerateOptions::default()
            .with_sampling(
                SamplingConfig::default()
                    .with_temperature(1.0)
                    .with_seed(seed),
            )
            .with_max_tokens(48)
            .with_backtrack(backtrack);
        let prompt = prompts[seed as usize % prompts.len()];
        let (out, streamed) = guarded(engine, &table, prompt, &options);
        // Every way the text can end counts as a word boundary — the end-of-generation token,
        // a stop string, and the token limit (the last step forbids leaving a banned word
        // complete), so every word of the text is checked, the last one included.
        let ws = words(&out.text);
        for b in banned {
            assert!(
                !ws.iter().any(|w| w == b),
                "seed {seed}: {b:?} in {:?}",
                out.text
            );
        }
        assert_eq!(out.stats.violations, 0, "seed {seed}");
        assert_eq!(
            streamed, out.text,
            "seed {seed}: streamed text was taken back"
        );
        let mut replay = Guard::new(table.clone(), GuardConfig::default());
        let tail = engine.chat_prompt(prompt).unwrap();
        replay.prime(tail.as_bytes());
        for &t in &out.tokens {
            assert!(
                replay.advance(t).is_ok(),
                "seed {seed}: token {t} completes a ban"
            );
        }
        if out.finish_reason == FinishReason::Length {
            assert!(
                !replay.is_pending(),
                "seed {seed}: cut off on a banned word"
            );
        }
    }
}

fn greedy_output_is_deterministic(engine: &mut LlamaEngine) {
    let a = greedy(engine, MEOW, 40);
    let b = greedy(engine, MEOW, 40);
    assert_eq!(a.tokens, b.tokens);
    assert_eq!(a.text, b.text);
    assert!(
        a.text.to_lowercase().contains("cat"),
        "the unconstrained answer should name the cat: {:?}",
        a.text
    );
    // A fresh engine gives the same answer too (nothing leaks between contexts).
    let mut other = smollm2();
    assert_eq!(greedy(&mut other, MEOW, 40).tokens, a.tokens);
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn rewind_reproduces_fresh_logits(engine: &mut LlamaEngine) {
    let prompt = engine.tokenize("The quick brown fox jumps over the lazy dog. Then", true);
    let tail = engine.tokenize(" it ran into the forest and hid", false);
    // Fresh run: prompt, then the tail one token at a time, as generation feeds it.
    engine.reset().unwrap();
    engine.feed(&prompt).unwrap();
    let mut fresh = Vec::new();
    for &t in &tail {
        fresh = engine.feed(&[t]).unwrap().to_vec();
    }
    // Rewind part of the tail, and also the whole tail, then feed the same tokens again.
    for n in [1, 3, tail.len()] {
        engine.rewind(n).unwrap();
        assert_eq!(engine.position(), prompt.len() + tail.len() - n);
        let mut again = Vec::new();
        for &t in &tail[tail.len() - n..] {
            again = engine.feed(&[t]).unwrap().to_vec();
        }
        let diff = max_abs_diff(&fresh, &again);
        assert!(diff < 1e-3, "rewind {n}: logits differ by {diff}");
    }
    assert!(engine.rewind(engine.position() + 1).is_err());
}

fn vocabulary_matches_the_model(engine: &LlamaEngine) {
    let vocab = vocabulary_from_engine(engine);
    assert_eq!(vocab.len(), engine.vocab_size());
    assert_eq!(vocab.len(), 49_152);
    // GPT-2 byte-level BPE: "Ġcat" must come out as the bytes " cat".
    let cat = engine.tokenize(" cat", false);
    assert_eq!(cat.len(), 1, "{cat:?}");
    assert_eq!(vocab.token_bytes(cat[0]), Some(&b" cat"[..]));
    // ChatML control tokens are special, and <|im_end|> ends generation.
    let im_end = engine.tokenize("<|im_end|>", true);
    let im_end = *im_end.last().unwrap();
    assert!(vocab.is_special(im_end));
    assert!(vocab.is_end_of_generation(im_end));
    assert!(matches!(engine.token_piece(im_end), TokenPiece::Special(ref n) if n == "<|im_end|>"));
    // Decoding a tokenization gives back the text.
    let text = "Hello, wörld! 🐈 кошка";
    assert_eq!(vocab.decode(&engine.tokenize(text, false)), text.as_bytes());
}

fn vocabulary_agrees_with_the_gguf_loader(engine: &LlamaEngine) {
    let from_model = vocabulary_from_engine(engine);
    let from_file = Vocabulary::from_gguf_file(model_path("SmolLM2-135M-Instruct-Q4_1.gguf"))
        .expect("the GGUF metadata loader reads SmolLM2");
    assert_eq!(from_model.len(), from_file.len());
    let mut differ = Vec::new();
    for id in 0..from_model.len() as u32 {
        let same = from_model.is_special(id) == from_file.is_special(id)
            && from_model.token_bytes(id) == from_file.token_bytes(id);
        if !same {
            differ.push(id);
        }
    }
    assert!(
        differ.is_empty(),
        "{} tokens differ, first: {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
    // End of generation, including the fill-in-the-middle marker `<reponame>` that llama.cpp
    // recognises by name: any difference is a bug in one of the two.
    let mut a = from_model.end_of_generation().to_vec();
    let mut b = from_file.end_of_generation().to_vec();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "end-of-generation tokens differ");
}

fn stop_strings_and_limits(engine: &mut LlamaEngine) {
    let full = greedy(engine, "Count from one to ten in words.", 40);
    let short = greedy(engine, "Count from one to ten in words.", 3);
    assert_eq!(short.finish_reason, FinishReason::Length);
    assert_eq!(short.tokens, full.tokens[..3]);
    // Stop at the first space after some text: the stop string is not in the text.
    let options = GenerateOptions::default()
        .with_max_tokens(40)
        .with_stop(vec![" ".into()]);
    let stopped = generate(
        engine,
        None,
        "Count from one to ten in words.",
        &options,
        &mut |_| Ok(()),
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(stopped.finish_reason, FinishReason::Stop);
    assert!(!stopped.text.contains(' '));
    assert!(full.text.starts_with(&stopped.text));
}
