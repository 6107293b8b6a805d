mod cmd {
    pub mod bench;
}
fn main() {
    let vocab = std::sync::Arc::new(taboo::Vocabulary::tiktoken(taboo::TiktokenEncoding::O200kBase).unwrap());
    let bpe = tiktoken_rs::o200k_base().unwrap();
    let tokens: Vec<u32> = bpe.encode_ordinary(taboo::workload::REPLAY_TEXT).into_iter().map(|t| t as u32).collect();
    eprintln!("{} tokens", tokens.len());
    for lang in [taboo::workload::Language::English, taboo::workload::Language::Russian, taboo::workload::Language::Mixed] {
        for n in [1000, 10000] {
            let v = cmd::bench::measure_list(&vocab, &tokens, lang, n).unwrap();
            println!("{v}");
        }
    }
}
