//! Batched decoding against the real SmolLM2 model: a batch of sequences — guarded,
//! backtracking, unconstrained, more requests than slots — must produce what one-at-a-time
//! generation produces, and batched scoring must equal token-by-token scoring.
//!
//! One test function, one model at a time (see tests/model.rs).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use taboo::{Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable};
use taboo_llm::{
    generate, generate_batch, log_prob, prompt_tokens, score_batch, vocabulary_from_engine,
    Backtrack, Batch, BatchEngine, BatchRequest, Engine, EngineOptions, Feed, GenerateOptions,
    LlamaEngine, SamplingConfig, Sequence,
};

fn model() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct-Q4_1.gguf");
    assert!(
        path.is_file(),
        "model {} is missing: run scripts/fetch-models.sh first",
        path.display()
    );
    path
}

const PROMPTS: [&str; 6] = [
    "What animal says \"meow\"? Answer in one sentence.",
    "What is the capital of France?",
    "Name three colours.",
    "What animal says \"meow\"? Answer in one sentence.",
    "Write one sentence about the sea.",
    "What insect makes honey?",
];

/// Request `i`: a guard banning "cat" on some, backtracking on one, sampling on others.
fn request(i: usize, table: &Arc<MaskTable>) -> (Option<Box<dyn LogitsGuard>>, GenerateOptions) {
    let guard: Option<Box<dyn LogitsGuard>> =
        (i % 3 != 2).then(|| Box::new(Guard::new(table.clone(), GuardConfig::default())) as Box<_>);
    let options = GenerateOptions::default()
        .with_max_tokens(24)
        .with_sampling(
            SamplingConfig::default()
                .with_temperature(if i % 2 == 0 { 0.0 } else { 0.8 })
                .with_seed(i as u64),
        )
        .with_backtrack((i == 0).then(Backtrack::default));
    (guard, options)
}

fn has_cat(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .any(|w| w == "cat")
}

#[test]
fn batched_generation_and_scoring_match_sequential() {
    let mut single = LlamaEngine::load(&model(), &EngineOptions::default()).unwrap();
    let vocab = Arc::new(vocabulary_from_engine(&single));
    let list = BanList::from_words(["cat"], EntryOptions::default()).unwrap();
    let table = Arc::new(MaskTable::new(
        Arc::new(Automaton::compile(&list).unwrap()),
        vocab,
    ));
    let sequential: Vec<_> = PROMPTS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (mut guard, options) = request(i, &table);
            generate(
                &mut single,
                guard.as_deref_mut(),
                p,
                &options,
                &mut |_| Ok(()),
                &AtomicBool::new(false),
            )
            .unwrap()
        })
        .collect();
    drop(single);

    let mut engine = LlamaEngine::load(
        &model(),
        &EngineOptions::default()
            .with_sequences(4)
            .with_context_size(256),
    )
    .unwrap();
    assert_eq!(engine.sequences(), 4);
    let requests: Vec<BatchRequest<'_>> = PROMPTS
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (guard, options) = request(i, &table);
            BatchRequest {
                prompt: p.to_string(),
                guard,
                options,
            }
        })
        .collect();
    let mut seen = Vec::new();
    let run = generate_batch(&mut engine, requests, &AtomicBool::new(false), &mut |n| {
        seen.push(n)
    })
    .unwrap();
    assert_eq!(seen, (1..=PROMPTS.len()).collect::<Vec<_>>());
    assert_eq!(run.outputs.len(), PROMPTS.len());
    assert!(run.tokens_per_second > 0.0);
    for (i, (b, s)) in run.outputs.iter().zip(&sequential).enumerate() {
        // Each sequence has its own KV stream, so batching changes no logit: identical
        // outputs, rewinds included.
        assert_eq!(b.generation.text, s.text, "request {i}");
        assert_eq!(b.generation.tokens, s.tokens, "request {i}");
        assert_eq!(b.generation.finish_reason, s.finish_reason, "request {i}");
        assert_eq!(
            b.generation.stats.backtracks, s.stats.backtracks,
            "request {i}"
        );
        assert_eq!(b.removed_mass.len(), b.generation.tokens.len());
        let total: f64 = b.removed_mass.iter().map(|&m| f64::from(m)).sum();
        assert!(
            total <= b.generation.stats.removed_mass + 1e-3,
            "request {i}"
        );
        if i % 3 != 2 {
            assert!(
                !has_cat(&b.generation.text),
                "request {i}: {:?}",
                b.generation.text
            );
        }
    }
    // The meow prompt with backtracking must have rewound at least once, in both.
    assert!(run.outputs[0].generation.stats.backtracks >= 1);
    assert!(sequential[0].stats.backtracks >= 1);

    // Batched scoring equals feeding token by token on sequence 0.
    let items: Vec<(Vec<u32>, Vec<u32>)> = PROMPTS
        .iter()
        .zip(&run.outputs)
        .map(|(p, o)| {
            (
                prompt_tokens(&engine, p, false).unwrap(),
                o.generation.tokens.clone(),
            )
        })
        .collect();
    let batched = score_batch(&mut engine, &items).unwrap();
    for (i, (prompt, cont)) in items.iter().enumerate().take(3) {
        engine.reset().unwrap();
        let mut logits = engine.feed(prompt).unwrap().to_vec();
        let mut nll = 0.0;
        for (k, &t) in cont.iter().enumerate() {
            nll -= log_prob(&logits, t);
            if k + 1 < cont.len() {
                logits = engine.feed(&[t]).unwrap().to_vec();
            }
        }
        assert!(
            (nll - batched[i]).abs() <= 1e-2 * nll.max(1.0),
            "item {i}: {nll} vs {}",
            batched[i]
        );
        assert!(batched[i].is_finite() && batched[i] > 0.0);
    }

    // Prompt reuse: the same requests twice through one batch. The second time each slot
    // still holds its prompt and the logits after it, so nothing is prefilled, and the text
    // must be what a fresh prefill gives, token for token. Request 0 backtracks; if a rewind
    // reaches into its prompt, that prompt is not kept and is prefilled again.
    let mut batch = Batch::new(engine.sequences());
    let reused = [0usize, 1, 4];
    for round in 0..2 {
        for &i in &reused {
            let (guard, options) = request(i, &table);
            let seq = Sequence::new(&engine, PROMPTS[i], guard, options).unwrap();
            batch.join(&mut engine, seq).unwrap();
        }
        let mut outs = Vec::new();
        while !batch.is_empty() {
            outs.extend(batch.step(&mut engine, &mut |_, _| {}).unwrap());
        }
        // Requests 1 and 4 never rewind, so their prompts are kept for the next round.
        assert!(batch.kept_prompts() >= 2, "round {round}");
        let tokens = |i: usize| prompt_tokens(&engine, PROMPTS[i], false).unwrap();
        assert!(batch.keeps_prompt(&tokens(1)) && batch.keeps_prompt(&tokens(4)));
        assert!(!batch.keeps_prompt(&tokens(2)));
        outs.sort_by_key(|(slot, _)| *slot);
        for ((_, out), &i) in outs.iter().zip(&reused) {
            let g = &out.generation;
            assert_eq!(g.tokens, sequential[i].tokens, "round {round}, request {i}");
            assert_eq!(g.text, sequential[i].text, "round {round}, request {i}");
            let prompt = prompt_tokens(&engine, PROMPTS[i], false).unwrap().len();
            let want = if round == 0 { 0 } else { prompt };
            if i == 0 {
                assert!(g.stats.cached_prompt_tokens <= want, "round {round}");
            } else {
                assert_eq!(
                    g.stats.cached_prompt_tokens, want,
                    "round {round}, request {i}"
                );
            }
        }
    }
    // A different prompt takes a free slot that keeps nothing, and the kept prompts stay.
    let (guard, options) = request(5, &table);
    let seq = Sequence::new(&engine, PROMPTS[5], guard, options).unwrap();
    batch.join(&mut engine, seq).unwrap();
    let mut outs = Vec::new();
    while !batch.is_empty() {
        outs.extend(batch.step(&mut engine, &mut |_, _| {}).unwrap());
    }
    assert_eq!(outs[0].1.generation.tokens, sequential[5].tokens);
    assert_eq!(outs[0].1.generation.stats.cached_prompt_tokens, 0);
    assert!(batch.kept_prompts() >= 3);

    // Bad feeds are errors, and leave the sequences as they were.
    let before = engine.sequence_position(1);
    assert!(engine
        .decode(&[Feed::last(9, &[1])], &mut |_, _, _| {})
        .is_err());
    assert!(engine
        .decode(&[Feed::last(1, &[])], &mut |_, _, _| {})
        .is_err());
    assert!(engine
        .decode(&[Feed::last(1, &[u32::MAX])], &mut |_, _, _| {})
        .is_err());
    assert_eq!(engine.sequence_position(1), before);
    assert!(engine.rewind_sequence(1, before + 1).is_err());
}
