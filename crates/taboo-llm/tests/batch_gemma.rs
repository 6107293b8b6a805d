//! What batched decoding keeps exact on Gemma 3 270M (Q4_K_M), and what it does not.
//!
//! SmolLM2 (Q4_1) gets bit-identical logits however a step's batch is made up
//! (tests/batch.rs). Gemma does not: llama.cpp's CPU backend runs Q4_K matrix products
//! through kernels that are chosen by the number of rows in the call (several rows at a
//! time, then one by one for the rest), and they round differently, so a sequence's logits
//! depend on how many other sequences share its decode call. The numbers differ in the last
//! bits, enough to flip a sampled token now and then over a few dozen steps.
//!
//! This test pins both sides:
//! - exact: a sequence's logits depend on the *shape* of its decode call (how many rows,
//!   which row is its own), not on which slot it occupies nor on what the other rows hold;
//!   and a sequence decoded alone in a batched engine gives exactly what one-sequence
//!   `generate` gives, before and after other batched work — which is why `taboo eval`
//!   decodes its control prompts alone in every condition;
//! - not exact: the same sequence and token in a call of one row and in a call of four rows.
//!
//! One test function, one model at a time (see tests/model.rs).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use taboo_llm::{
    generate, generate_batch, prompt_tokens, BatchEngine, BatchRequest, EngineOptions, Feed,
    GenerateOptions, LlamaEngine, SamplingConfig,
};

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

const PROMPTS: [&str; 4] = [
    "The Eiffel Tower is in the city of",
    "Two plus two equals",
    "The largest planet of the solar system is",
    "Собака гоняется за",
];

/// Prefills `prompt` on `seq` (alone in its call, as `generate_batch` prefills), then feeds
/// `token` on `seq` together with one token on each sequence of `others` (already
/// prefilled), in one decode call with `seq`'s row at `row`; returns `seq`'s logits.
fn step_logits(
    engine: &mut LlamaEngine,
    seq: usize,
    prompt: &[u32],
    token: u32,
    others: &[(usize, u32)],
    row: usize,
) -> Vec<f32> {
    engine.reset_sequence(seq).unwrap();
    engine
        .decode(&[Feed::last(seq, prompt)], &mut |_, _, _| {})
        .unwrap();
    let mine = [token];
    let other_tokens: Vec<[u32; 1]> = others.iter().map(|&(_, t)| [t]).collect();
    let mut feeds: Vec<Feed<'_>> = others
        .iter()
        .zip(&other_tokens)
        .map(|(&(s, _), t)| Feed::last(s, t))
        .collect();
    feeds.insert(row, Feed::last(seq, &mine));
    let mut out = Vec::new();
    engine
        .decode(&feeds, &mut |fi, _, logits| {
            if fi == row {
                out = logits.to_vec();
            }
        })
        .unwrap();
    // Take the others' step back, so that every call sees them at the same position.
    for &(s, _) in others {
        engine.rewind_sequence(s, 1).unwrap();
    }
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

#[test]
fn gemma_batching_is_exact_per_call_shape_not_across_shapes() {
    let path = gemma_path();
    let mut engine = LlamaEngine::load(
        &path,
        &EngineOptions {
            sequences: 4,
            context_size: 256,
            ..EngineOptions::default()
        },
    )
    .unwrap();
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| prompt_tokens(&engine, p, true).unwrap())
        .collect();
    // Sequences 1 to 3 hold the other prompts, prefilled once.
    for s in 1..4 {
        engine.reset_sequence(s).unwrap();
        engine
            .decode(&[Feed::last(s, &prompts[s])], &mut |_, _, _| {})
            .unwrap();
    }
    let token = engine.tokenize(" Paris", false)[0];
    let alone = step_logits(&mut engine, 0, &prompts[0], token, &[], 0);
    let again = step_logits(&mut engine, 0, &prompts[0], token, &[], 0);
    assert_eq!(alone, again, "decoding is deterministic");

    // Exact: the slot does not matter (sequence 0 and 3 swapped roles: same call shape).
    let others3 = [(1, 1000), (2, 2000), (3, 3000)];
    let four = step_logits(&mut engine, 0, &prompts[0], token, &others3, 0);
    let four_again = step_logits(&mut engine, 0, &prompts[0], token, &others3, 0);
    assert_eq!(four, four_again, "a four-row call is deterministic");
    // Exact: what the other rows hold does not matter, only how many there are and where
    // this sequence's row is.
    let other_content = [(1, 7), (2, 8), (3, 9)];
    let four_other = step_logits(&mut engine, 0, &prompts[0], token, &other_content, 0);
    assert_eq!(
        four, four_other,
        "other rows' tokens changed this row's logits"
    );

    // Not exact: one row against four rows. The difference is rounding (far below the
    // logits' scale) but not zero; if this starts to fail, batching has become exact on
    // this build and CPU, and `taboo eval` could batch its control prompts again.
    let d = max_diff(&alone, &four);
    eprintln!("Gemma, max |Δ logit| between a 1-row and a 4-row call: {d:e}");
    for rows in 2..=3 {
        let some: Vec<(usize, u32)> = others3[..rows - 1].to_vec();
        let l = step_logits(&mut engine, 0, &prompts[0], token, &some, 0);
        eprintln!(
            "Gemma, {rows} rows vs 1: {:e}, vs 4: {:e}",
            max_diff(&alone, &l),
            max_diff(&four, &l)
        );
        let last_row = step_logits(&mut engine, 0, &prompts[0], token, &some, rows - 1);
        eprintln!(
            "Gemma, {rows} rows, own row last vs first: {:e}",
            max_diff(&l, &last_row)
        );
    }
    for row in 1..4 {
        let l = step_logits(&mut engine, 0, &prompts[0], token, &others3, row);
        eprintln!(
            "Gemma, 4 rows, own row {row} vs 0: {:e}",
            max_diff(&four, &l)
        );
    }
    assert!(d > 0.0, "one row and four rows gave identical logits");
    assert!(
        d < 0.5,
        "the difference is rounding, not a different computation: {d}"
    );
    assert_eq!(argmax(&alone), argmax(&four));

    // Exact at the generation level: a request decoded alone in the batched engine gives
    // what one-sequence `generate` gives, before and after a full batch ran in the same
    // engine (sampled, so that any logit difference would show as a different draw).
    let request = |i: usize| BatchRequest {
        prompt: PROMPTS[i].to_string(),
        guard: None,
        options: GenerateOptions {
            max_tokens: 32,
            raw: true,
            sampling: SamplingConfig {
                temperature: 0.9,
                seed: 7 + i as u64,
                ..SamplingConfig::default()
            },
            ..GenerateOptions::default()
        },
    };
    let solo = |engine: &mut LlamaEngine, i: usize| {
        let mut run = generate_batch(
            engine,
            vec![request(i)],
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap();
        run.outputs.remove(0).generation
    };
    let before: Vec<_> = (0..4).map(|i| solo(&mut engine, i)).collect();
    let batched = generate_batch(
        &mut engine,
        (0..4).map(request).collect(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let after: Vec<_> = (0..4).map(|i| solo(&mut engine, i)).collect();
    let mut differ_in_batch = 0;
    for i in 0..4 {
        assert_eq!(before[i].tokens, after[i].tokens, "prompt {i}");
        assert_eq!(before[i].text, after[i].text, "prompt {i}");
        differ_in_batch += usize::from(batched.outputs[i].generation.tokens != before[i].tokens);
    }
    eprintln!(
        "Gemma, sampled outputs that differ between alone and a batch of 4: {differ_in_batch}/4"
    );
    drop(engine);
    let mut single = LlamaEngine::load(&path, &EngineOptions::default()).unwrap();
    for (i, b) in before.iter().enumerate() {
        let r = request(i);
        let g = generate(
            &mut single,
            None,
            &r.prompt,
            &r.options,
            &mut |_| Ok(()),
            &AtomicBool::new(false),
        )
        .unwrap();
        assert_eq!(
            g.tokens, b.tokens,
            "prompt {i}: alone in a batched engine vs generate"
        );
    }
}
