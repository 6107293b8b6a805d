//! The per-sequence state machine against the generation loop it replaced, on the real
//! SmolLM2 model.
//!
//! `tests/data/sequence_golden.json` holds the tokens that the sequential loop of
//! `generate` produced for eight seeded requests (greedy and sampled; unconstrained, hard,
//! soft and backtracking bans; a stop string) before `Sequence` existed. The same requests
//! must now give the same tokens through `Sequence` driven by hand, through `generate`, and
//! through `generate_batch` with four sequences in one batch.
//!
//! `TABOO_BLESS=1 cargo test --release -p taboo-llm --test sequence` rewrites the file from
//! `generate`; do that only when a change to the tokens is intended, and say why in the commit.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::json;
use taboo::{Ban, GuardConfig, LogitsGuard, Mode};
use taboo_llm::{
    generate, generate_batch, vocabulary_from_engine, Backtrack, Batch, BatchEngine, BatchRequest,
    Engine, EngineOptions, GenerateOptions, LlamaEngine, SamplingConfig, Sequence, Step,
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

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/sequence_golden.json")
}

/// One request: prompt, guard mode (None = unconstrained), sampling and stops.
struct Case {
    prompt: &'static str,
    mode: Option<Mode>,
    backtrack: bool,
    temperature: f32,
    seed: u64,
    stop: &'static [&'static str],
}

const CASES: [Case; 8] = [
    Case {
        prompt: "What animal says \"meow\"? Answer in one sentence.",
        mode: None,
        backtrack: false,
        temperature: 0.0,
        seed: 0,
        stop: &[],
    },
    Case {
        prompt: "What animal says \"meow\"? Answer in one sentence.",
        mode: Some(Mode::Hard),
        backtrack: false,
        temperature: 0.0,
        seed: 0,
        stop: &[],
    },
    Case {
        prompt: "What animal says \"meow\"? Answer in one sentence.",
        mode: Some(Mode::Hard),
        backtrack: true,
        temperature: 0.0,
        seed: 0,
        stop: &[],
    },
    Case {
        prompt: "Write a short poem about a cat and a dog.",
        mode: Some(Mode::Hard),
        backtrack: true,
        temperature: 0.8,
        seed: 7,
        stop: &[],
    },
    Case {
        prompt: "Name three pets.",
        mode: Some(Mode::Soft {
            penalty: 4.0,
            partial_penalty: 0.0,
        }),
        backtrack: false,
        temperature: 0.7,
        seed: 3,
        stop: &[],
    },
    Case {
        prompt: "Describe a kitten in two sentences.",
        mode: Some(Mode::Hard),
        backtrack: true,
        temperature: 1.0,
        seed: 11,
        stop: &["\n"],
    },
    Case {
        prompt: "What is the capital of France?",
        mode: None,
        backtrack: false,
        temperature: 0.9,
        seed: 5,
        stop: &["."],
    },
    Case {
        prompt: "Tell me about cats.",
        mode: Some(Mode::Hard),
        backtrack: false,
        temperature: 0.8,
        seed: 2,
        stop: &[],
    },
];

fn options(case: &Case) -> GenerateOptions {
    GenerateOptions::default()
        .with_max_tokens(40)
        .with_sampling(
            SamplingConfig::default()
                .with_temperature(case.temperature)
                .with_seed(case.seed),
        )
        .with_stop(case.stop.iter().map(|s| s.to_string()).collect())
        .with_backtrack(case.backtrack.then(Backtrack::default))
}

fn guard(case: &Case, ban: &Ban, vocab: &Arc<taboo::Vocabulary>) -> Option<Box<dyn LogitsGuard>> {
    case.mode.map(|mode| {
        Box::new(ban.guard_with(vocab, GuardConfig::default().with_mode(mode)))
            as Box<dyn LogitsGuard>
    })
}

/// What is compared: tokens, text, finish reason, rewinds.
fn record(g: &taboo_llm::Generation) -> serde_json::Value {
    json!({
        "tokens": g.tokens,
        "text": g.text,
        "finish_reason": g.finish_reason.as_str(),
        "backtracks": g.stats.backtracks,
    })
}

#[test]
fn sequence_driven_alone_and_in_a_batch_reproduces_the_old_loop() {
    let ban = Ban::new(["cat", "dog"]).unwrap();
    let mut engine = LlamaEngine::load(&model(), &EngineOptions::default()).unwrap();
    let vocab = Arc::new(vocabulary_from_engine(&engine));
    let never = AtomicBool::new(false);

    let sequential: Vec<serde_json::Value> = CASES
        .iter()
        .map(|case| {
            let mut g = guard(case, &ban, &vocab);
            let out = generate(
                &mut engine,
                g.as_deref_mut(),
                case.prompt,
                &options(case),
                &mut |_| Ok(()),
                &never,
            )
            .unwrap();
            record(&out)
        })
        .collect();

    if std::env::var_os("TABOO_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&sequential).unwrap();
        std::fs::create_dir_all(golden_path().parent().unwrap()).unwrap();
        std::fs::write(golden_path(), text + "\n").unwrap();
    }
    let golden: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(golden_path()).unwrap()).unwrap();
    assert_eq!(golden.len(), CASES.len());
    for (i, (now, then)) in sequential.iter().zip(&golden).enumerate() {
        assert_eq!(
            now, then,
            "case {i}: generate differs from the recorded loop"
        );
    }
    // The fixture is not degenerate: the bans acted and every case generated text.
    assert!(golden
        .iter()
        .all(|g| !g["tokens"].as_array().unwrap().is_empty()));
    assert!(golden[2]["backtracks"].as_u64().unwrap() >= 1);
    assert_ne!(golden[0]["tokens"], golden[1]["tokens"]);

    // The state machine driven by hand, as an outside runtime would: feed what it asks for.
    for (i, case) in CASES.iter().enumerate() {
        let mut seq = Sequence::new(
            &engine,
            case.prompt,
            guard(case, &ban, &vocab),
            options(case),
        )
        .unwrap();
        engine.reset().unwrap();
        let mut logits = engine.feed(seq.prompt()).unwrap().to_vec();
        let mut streamed = String::new();
        loop {
            let step = seq.step(&engine, &mut logits).unwrap();
            streamed.push_str(&seq.take_text());
            match step {
                Step::Feed(t) => logits = engine.feed(&[t]).unwrap().to_vec(),
                Step::Rewind { drop, then } => {
                    engine.rewind(drop).unwrap();
                    logits = engine.feed(&[then]).unwrap().to_vec();
                }
                Step::Done(_) => break,
            }
        }
        streamed.push_str(&seq.take_text());
        let out = seq.finish();
        assert_eq!(streamed, out.generation.text, "case {i}: streamed text");
        assert_eq!(
            &record(&out.generation),
            &golden[i],
            "case {i}: the hand-driven Sequence differs from the recorded loop"
        );
    }
    drop(engine);

    let mut batch = LlamaEngine::load(
        &model(),
        &EngineOptions::default()
            .with_sequences(4)
            .with_context_size(256),
    )
    .unwrap();
    let requests: Vec<BatchRequest<'_>> = CASES
        .iter()
        .map(|case| BatchRequest {
            prompt: case.prompt.to_string(),
            guard: guard(case, &ban, &vocab),
            options: options(case),
        })
        .collect();
    let run = generate_batch(&mut batch, requests, &never, &mut |_| {}).unwrap();
    for (i, (out, then)) in run.outputs.iter().zip(&golden).enumerate() {
        assert_eq!(
            &record(&out.generation),
            then,
            "case {i}: the batch of 4 differs from the recorded loop"
        );
    }

    // Joining and leaving a running batch: requests 0–2 start, request 1 leaves after three
    // steps (a client gone), request 3 joins in its slot; the others are untouched.
    let mut running = Batch::new(batch.sequences());
    let mut slot_of = [usize::MAX; CASES.len()];
    for i in 0..3 {
        let case = &CASES[i];
        let seq = Sequence::new(
            &batch,
            case.prompt,
            guard(case, &ban, &vocab),
            options(case),
        )
        .unwrap();
        slot_of[i] = running.join(&mut batch, seq).unwrap();
    }
    let mut outputs: Vec<Option<taboo_llm::BatchOutput>> = (0..CASES.len()).map(|_| None).collect();
    let mut steps = 0;
    while !running.is_empty() {
        for (slot, out) in running.step(&mut batch, &mut |_, _| {}).unwrap() {
            let i = slot_of.iter().position(|&s| s == slot).unwrap();
            slot_of[i] = usize::MAX;
            outputs[i] = Some(out);
        }
        steps += 1;
        if steps == 3 {
            let left = running.leave(&mut batch, slot_of[1]).unwrap().unwrap();
            slot_of[1] = usize::MAX;
            outputs[1] = Some(left);
            let case = &CASES[3];
            let seq = Sequence::new(
                &batch,
                case.prompt,
                guard(case, &ban, &vocab),
                options(case),
            )
            .unwrap();
            slot_of[3] = running.join(&mut batch, seq).unwrap();
        }
    }
    for i in [0, 2, 3] {
        assert_eq!(
            &record(&outputs[i].as_ref().unwrap().generation),
            &golden[i],
            "case {i}: a neighbour joining or leaving changed this sequence"
        );
    }
    let left = &outputs[1].as_ref().unwrap().generation;
    assert_eq!(left.finish_reason, taboo_llm::FinishReason::Interrupted);
    let full: Vec<u64> = golden[1]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert!(left.tokens.len() < full.len());
    assert!(left
        .tokens
        .iter()
        .zip(&full)
        .all(|(&a, &b)| u64::from(a) == b));
}
