//! Criterion benchmarks of the core engine on o200k_base (200,019 tokens) with dictionary
//! ban lists of 1,000 and 10,000 words. `taboo bench` prints the same figures as one JSON
//! line; see docs/BENCHMARKS.md.
//!
//! The `forms` group expands and compiles the bundled lists and 1,000 Russian lemmas with
//! every form and disguise (needs the Russian dictionary of `scripts/fetch-models.sh`).
//!
//! Run: `cargo bench -p taboo-cli --bench engine` (needs `wamerican` and `hunspell-ru`). It
//! lives in the CLI crate beside `taboo bench`; both draw their workloads from `taboo_eval::workload`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
#[allow(dead_code)]
use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, State,
    TiktokenEncoding, Vocabulary,
};
use taboo_eval::workload::{dictionary_words, Language, REPLAY_TEXT};

fn setup() -> (Arc<Vocabulary>, Vec<u32>) {
    let vocab = Arc::new(Vocabulary::tiktoken(TiktokenEncoding::O200kBase).expect("o200k"));
    let bpe = tiktoken_rs::o200k_base().expect("o200k encoder");
    let tokens = bpe.encode_ordinary(REPLAY_TEXT);
    (vocab, tokens)
}

/// Lists whose entries ask for forms and disguises.
fn forms_lists() -> Vec<(String, BanList)> {
    let mut out: Vec<(String, BanList)> = taboo::lists::LISTS
        .iter()
        .map(|l| (l.name.to_string(), l.parse().expect("bundled list")))
        .collect();
    let words = dictionary_words(Language::Russian, 1_000).expect("hunspell-ru");
    let options = EntryOptions::default().with_forms(true).with_disguise(true);
    out.push((
        "ru-1000-lemmas".to_string(),
        BanList::from_words(&words, options).expect("list"),
    ));
    out
}

fn lists() -> Vec<(String, BanList)> {
    let mut out = Vec::new();
    for lang in [Language::English, Language::Russian, Language::Mixed] {
        for n in [1_000, 10_000] {
            let words = dictionary_words(lang, n)
                .expect("dictionary (apt-get install wamerican hunspell-ru)");
            let list = BanList::from_words(&words, EntryOptions::default()).expect("list");
            out.push((format!("{}-{n}", lang.name()), list));
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let (vocab, tokens) = setup();
    let lists = lists();

    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for (name, list) in &lists {
        g.bench_with_input(BenchmarkId::from_parameter(name), list, |b, l| {
            b.iter(|| Automaton::compile(l).unwrap())
        });
    }
    g.finish();

    let morphology = taboo::forms::Morphology::new();
    morphology
        .russian()
        .expect("the Russian dictionary (scripts/fetch-models.sh)");
    let mut g = c.benchmark_group("forms_expand_and_compile");
    g.sample_size(10);
    for (name, list) in &forms_lists() {
        // Streamed into the compiler (what Ban runs) and, beside it, the oracle path that
        // builds an entry per form first.
        g.bench_with_input(BenchmarkId::new("streamed", name), list, |b, l| {
            b.iter(|| Automaton::compile_expanding(l, &morphology).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("entries", name), list, |b, l| {
            b.iter(|| {
                let (expanded, _) = l.expand_forms(&morphology).unwrap();
                Automaton::compile(&expanded).unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("new_state");
    g.sample_size(10);
    for (name, list) in lists.iter().filter(|(n, _)| n.ends_with("10000")) {
        let a = Arc::new(Automaton::compile(list).unwrap());
        let table = MaskTable::new(Arc::clone(&a), Arc::clone(&vocab));
        let mut s = a.start();
        let mut states: Vec<State> = Vec::new();
        for &t in &tokens {
            if let Some(bytes) = vocab.token_bytes(t) {
                s = a.feed(&s, bytes).0;
                table.compute(&s); // warms the per-lane constant masks
                states.push(s.clone());
            }
        }
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % states.len();
                table.compute(&states[i])
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("guard_per_token");
    g.sample_size(10);
    for (name, list) in lists.iter().filter(|(n, _)| n.ends_with("10000")) {
        let a = Arc::new(Automaton::compile(list).unwrap());
        let table = Arc::new(MaskTable::new(a, Arc::clone(&vocab)));
        let config = GuardConfig::default().with_measure_mass(false);
        let mut logits = vec![0.5f32; vocab.len()];
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            let mut guard = Guard::new(Arc::clone(&table), config);
            let mut i = 0;
            b.iter(|| {
                if i == tokens.len() {
                    guard = Guard::new(Arc::clone(&table), config);
                    i = 0;
                }
                guard.apply(&mut logits);
                let _ = guard.advance(tokens[i]);
                i += 1;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
