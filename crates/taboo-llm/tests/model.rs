//! Tests against the real SmolLM2 model that `scripts/fetch-models.sh` puts in `models/`.
//!
//! One model at a time: all cases run inside a single test function, because two 2-thread
//! llama.cpp instances on a 2-core machine slow each other down 4× (spinning workers).
//! A missing model fails the test with instructions; it never skips silently.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use taboo::Vocabulary;
use taboo_llm::{
    generate, vocabulary_from_engine, Engine, EngineOptions, FinishReason, GenerateOptions,
    LlamaEngine, TokenPiece,
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
    let options = GenerateOptions {
        max_tokens,
        ..GenerateOptions::default()
    };
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
    let options = GenerateOptions {
        max_tokens: 40,
        stop: vec![" ".into()],
        ..GenerateOptions::default()
    };
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
