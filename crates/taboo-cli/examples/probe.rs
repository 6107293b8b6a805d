//! How long one state's masks take to compute from scratch on o200k with 10,000 mixed
//! dictionary words, for a handful of states: a quick probe when tuning the mask walk.
//! `cargo run --release -p taboo-cli --example probe`.

use std::sync::Arc;
use std::time::Instant;
use taboo::*;

fn main() {
    let vocab = Arc::new(Vocabulary::tiktoken(TiktokenEncoding::O200kBase).unwrap());
    let words =
        taboo_eval::workload::dictionary_words(taboo_eval::workload::Language::Mixed, 10000)
            .unwrap();
    let list = BanList::from_words(&words, EntryOptions::default()).unwrap();
    let a = Arc::new(Automaton::compile(&list).unwrap());
    let t = MaskTable::new(a.clone(), vocab.clone());
    for text in ["x", " ", "The", "The c", "Утром в", "Утром в дер"] {
        let s = a.feed(&a.start(), text.as_bytes()).0;
        t.compute(&s);
        let n = 50;
        let i = Instant::now();
        for _ in 0..n {
            std::hint::black_box(t.compute(&s));
        }
        println!(
            "{text:?}: {:.1} us  threads={:?}",
            i.elapsed().as_secs_f64() * 1e6 / n as f64,
            s
        );
    }
}
