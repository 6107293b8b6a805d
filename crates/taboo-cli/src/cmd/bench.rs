//! `taboo bench`: the core engine's speed and memory on a large vocabulary, as one JSON line.
//!
//! For each ban list (1,000 and 10,000 words; English, Russian, mixed) it measures, on the
//! o200k_base vocabulary (200,019 tokens) unless another is chosen:
//! - `compile_ms`: ban list → automaton (the list is parsed from words first, not timed);
//! - `new_state_us_median`: masks of a state not seen before (per-state cache bypassed; the
//!   per-lane constant part, computed once per list, is reported as `const_ms`);
//! - `guard_us_per_token_median` / `_mean`: `advance` + `apply` (hard mode) per token while
//!   replaying the tokens of a real text, with the cache filling as it would in generation;
//!   `guard_mass_us_per_token_median` adds the removed-mass measurement (a softmax pass);
//! - `memory_mb`: the mask table (trie, cached masks, automaton) after the replay.
//!
//! With `--forms` the word lists are lemmas banned with every form and disguise (`expand_ms`:
//! lemmas → forms; `entries`: the forms compiled); `--ban-list` measures bundled lists the
//! same way. `--model` measures on a GGUF model's vocabulary (Gemma 3: 262,144 tokens).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use taboo::forms::Morphology;
use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, TiktokenEncoding,
    TokenId, Vocabulary,
};

use crate::output::Stdout;
use crate::tiktoken_args::{encoder, parse_vocab};
use crate::CliResult;
use taboo_eval::workload::{dictionary_words, Language, REPLAY_TEXT};

/// Measure the core engine: compile time, new-state mask time, guard overhead, memory.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo bench                                  # o200k, 1k and 10k words, en/ru/mixed\n  \
    taboo bench --vocab cl100k --words 100,1000\n  \
    taboo bench --languages ru | jq .lists[0]\n  \
    taboo bench --forms --languages ru          # 1k and 10k Russian lemmas with all forms\n  \
    taboo bench --ban-list ru-obscene --words 0 --model models/gemma-3-270m-q4_k_m.gguf\n\n\
    Prints one JSON line on stdout and a table on stderr. Word lists are spread evenly over\n\
    /usr/share/dict/words and /usr/share/hunspell/ru_RU.dic (apt-get install wamerican hunspell-ru).\n\
    The replayed text is crates/taboo-eval/data/replay.txt (English, then Russian).")]
pub struct Args {
    /// The tiktoken vocabulary to measure on: r50k, cl100k or o200k.
    #[arg(long, value_name = "NAME", default_value = "o200k", value_parser = parse_vocab)]
    vocab: TiktokenEncoding,
    /// Ban-list sizes, comma-separated (0: no dictionary lists, e.g. with --ban-list).
    #[arg(long, value_name = "N,N,…", value_delimiter = ',', default_values_t = [1000, 10000])]
    words: Vec<usize>,
    /// Ban every form and disguise of the dictionary words (they are taken as lemmas).
    #[arg(long)]
    forms: bool,
    /// Also measure a bundled list (en-profanity, ru-obscene); repeat for more.
    #[arg(long, value_name = "NAME")]
    ban_list: Vec<String>,
    /// Measure on this GGUF model's vocabulary and tokenizer instead of --vocab.
    #[arg(long, value_name = "PATH")]
    model: Option<std::path::PathBuf>,
    /// Languages of the word lists, comma-separated: en, ru, mixed.
    #[arg(long, value_name = "L,L,…", value_delimiter = ',', default_values_t = ["en".to_string(), "ru".to_string(), "mixed".to_string()])]
    languages: Vec<String>,
}

fn parse_language(name: &str) -> Result<Language, String> {
    match name {
        "en" => Ok(Language::English),
        "ru" => Ok(Language::Russian),
        "mixed" => Ok(Language::Mixed),
        other => Err(format!("unknown language {other:?}; use en, ru or mixed")),
    }
}

/// Runs `taboo bench`.
pub fn run(args: Args) -> CliResult {
    let languages = args
        .languages
        .iter()
        .map(|l| parse_language(l))
        .collect::<Result<Vec<_>, _>>()?;
    let bundled = args
        .ban_list
        .iter()
        .map(|name| {
            taboo::lists::find(name).ok_or_else(|| {
                format!(
                    "--ban-list: no bundled list called {name:?}; the lists are: {}",
                    taboo::lists::names().join(", ")
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sizes: Vec<usize> = args.words.iter().copied().filter(|&n| n > 0).collect();
    if sizes.is_empty() && bundled.is_empty() {
        return Err("nothing to measure: give --words sizes of at least 1, or --ban-list".into());
    }
    let (vocab, tokens, vocab_name) = match &args.model {
        Some(path) => {
            let engine = taboo_llm::LlamaEngine::load(path, &taboo_llm::EngineOptions::default())?;
            let vocab = taboo_llm::vocabulary_from_engine(&engine);
            let tokens = taboo_llm::Engine::tokenize(&engine, REPLAY_TEXT, false);
            (vocab, tokens, path.display().to_string())
        }
        None => (
            Vocabulary::tiktoken(args.vocab)?,
            replay_tokens(args.vocab)?,
            args.vocab.name().to_string(),
        ),
    };
    let vocab = Arc::new(vocab);
    let morphology = Morphology::new();
    eprintln!(
        "{:<12} {:>6} {:>8} {:>10} {:>10} {:>14} {:>16} {:>10}",
        "list",
        "words",
        "entries",
        "expand ms",
        "compile ms",
        "new state µs",
        "guard µs/token",
        "memory MB"
    );
    let mut jobs: Vec<(String, usize, BanList)> = Vec::new();
    for &language in &languages {
        for &n in &sizes {
            let words = dictionary_words(language, n)?;
            let options = EntryOptions::default()
                .with_forms(args.forms)
                .with_disguise(args.forms && std::env::var_os("NODIS").is_none());
            jobs.push((
                language.name().to_string(),
                n,
                BanList::from_words(&words, options)?,
            ));
        }
    }
    for list in &bundled {
        let parsed = list.parse()?;
        jobs.push((list.name.to_string(), parsed.len(), parsed));
    }
    let mut lists = Vec::new();
    for (name, n, list) in jobs {
        let r = measure_list(&vocab, &tokens, &name, n, &list, &morphology)?;
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        eprintln!(
            "{:<12} {:>6} {:>8} {:>10.1} {:>10.2} {:>14.1} {:>16.2} {:>10.1}",
            name,
            n,
            f("entries"),
            f("expand_ms"),
            f("compile_ms"),
            f("new_state_us_median"),
            f("guard_us_per_token_median"),
            f("memory_mb")
        );
        lists.push(r);
    }
    let report = json!({
        "vocab": vocab_name,
        "vocab_tokens": vocab.len(),
        "replay_tokens": tokens.len(),
        "peak_rss_mb": peak_rss_mb(),
        "lists": lists,
    });
    let mut stdout = Stdout::lock();
    writeln!(stdout, "{report}")?;
    stdout.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// The replay text in the chosen encoding.
fn replay_tokens(encoding: TiktokenEncoding) -> CliResult<Vec<TokenId>> {
    Ok(encoder(encoding)?.encode_ordinary(REPLAY_TEXT))
}

/// Peak resident memory of this process (Linux), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round(kb / 1024.0))
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Measures one ban list against `vocab`, replaying `tokens`.
fn measure_list(
    vocab: &Arc<Vocabulary>,
    tokens: &[TokenId],
    name: &str,
    size: usize,
    list: &BanList,
    morphology: &Morphology,
) -> CliResult<Value> {
    let t = Instant::now();
    let (list, _) = list.expand_forms(morphology)?;
    let expand_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let automaton = Arc::new(Automaton::compile(&list)?);
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;

    let t = Instant::now();
    let table = Arc::new(MaskTable::new(Arc::clone(&automaton), Arc::clone(vocab)));
    let trie_ms = t.elapsed().as_secs_f64() * 1e3;

    // The per-lane constant masks are computed once per normaliser state; warm them so that
    // the new-state figure measures what each new state costs.
    let t = Instant::now();
    table.compute(&automaton.start());
    let const_ms = t.elapsed().as_secs_f64() * 1e3;

    // New states: every distinct state met while replaying, computed uncached.
    let mut state = automaton.start();
    let mut states = vec![state.clone()];
    for &tok in tokens {
        if let Some(b) = vocab.token_bytes(tok) {
            state = automaton.feed(&state, b).0;
            states.push(state.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    states.retain(|s| seen.insert(s.clone()));
    let mut new_state_us = Vec::with_capacity(states.len());
    for s in &states {
        table.compute(s); // warm the constant part of this normaliser state
        let t = Instant::now();
        std::hint::black_box(table.compute(s));
        new_state_us.push(t.elapsed().as_secs_f64() * 1e6);
    }

    let mut per_token = Vec::new();
    let mut per_token_mass = Vec::new();
    let mut logits = vec![0.0f32; vocab.len()];
    for (measure_mass, out) in [(false, &mut per_token), (true, &mut per_token_mass)] {
        let config = GuardConfig::default()
            .with_measure_mass(measure_mass)
            .with_max_rollback(64);
        let mut guard = Guard::new(Arc::clone(&table), config);
        for (i, &tok) in tokens.iter().enumerate() {
            for (j, l) in logits.iter_mut().enumerate() {
                *l = ((i * 31 + j * 17) % 97) as f32 * 0.1;
            }
            let t = Instant::now();
            std::hint::black_box(guard.apply(&mut logits));
            let _ = guard.advance(tok); // words of the list may occur in the text: not an error here
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let mean_us = mean(&per_token);
    Ok(json!({
        "list": name,
        "words": size,
        "entries": list.len(),
        "expand_ms": round(expand_ms),
        "compile_ms": round(compile_ms),
        "automaton_states": automaton.state_count(),
        "trie_ms": round(trie_ms),
        "const_ms": round(const_ms),
        "distinct_states": states.len(),
        "new_state_us_median": round(median(&mut new_state_us)),
        "new_state_us_max": round(new_state_us.iter().copied().fold(0.0, f64::max)),
        "guard_us_per_token_median": round(median(&mut per_token)),
        "guard_us_per_token_mean": round(mean_us),
        "guard_mass_us_per_token_median": round(median(&mut per_token_mass)),
        "memory_mb": round(table.memory_usage() as f64 / (1 << 20) as f64),
    }))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
