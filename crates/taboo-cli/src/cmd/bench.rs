//! `taboo bench`: the core engine's speed and memory on a large vocabulary, as one JSON line.
//!
//! For each ban list (1,000 and 10,000 words; English, Russian, mixed) it measures, on the
//! o200k_base vocabulary (200,019 tokens) unless another is chosen:
//! - `compile_ms`: ban list → automaton (the list is parsed from words first, not timed),
//!   word forms included: `forms` entries are expanded straight into the compiler
//!   (`Automaton::compile_expanding`, what `Ban` runs);
//! - `cold_state_us`: each distinct state of the replay computed on a fresh mask table, so
//!   its cost includes the list's shared parts for that normaliser state (what the first
//!   sequence to meet it pays; the vocabulary's token trie is built once and shared);
//! - `new_state_us` (`_median`, `_max`): the same states again once the shared parts are
//!   built (per-state cache bypassed; the first state's shared parts are `const_ms`);
//! - `guard_cold_us_per_token`: `apply` + `advance` (hard mode) per token while replaying
//!   the tokens of a real text on a fresh table, first-time states included as generation
//!   meets them;
//! - `guard_us_per_token` (`_median`, `_mean`): the same replay on the warmed table;
//!   `guard_mass_us_per_token` adds the removed-mass measurement (a softmax pass on every
//!   step that edits a logit), as the CLI's default mode runs it;
//! - `batch64_cold_us` / `batch64_us`: one decode step of 64 sequences (each at its own place in
//!   the replayed text, so at its own automaton state): every sequence's allowed tokens as a
//!   packed bitmask (`Guard::fill_bitmask`, the layout a batched server hands its sampler),
//!   rows in parallel on all cores; 40 steps on a fresh table, first-time states included
//!   (`_cold_`), then the same steps again on that table;
//! - `memory_mb`: the mask table (trie, cached masks, automaton) after the replay.
//!
//! Every timing set is reported as p50, p99 (nearest rank), max and mean, in µs.
//!
//! With `--forms` the word lists are lemmas banned with every form and disguise (`entries`:
//! the distinct forms compiled); `--ban-list` measures bundled lists the same way. `--model` measures on a GGUF model's vocabulary (Gemma 3: 262,144 tokens).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
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
    taboo bench --ban-list ru-obscene --words 0 --model models/gemma-3-270m-q4_k_m.gguf\n  \
    taboo bench --languages en --evict-mb 80      # the guard as it runs between decode steps\n\n\
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
    /// Before each step of an extra warm replay, write this many MiB of memory (not timed),
    /// as a model's decode step streams its weights through the caches between two guard
    /// steps; reported as guard_evicted_us_per_token with apply and advance apart. SmolLM2
    /// Q4_1 is about 80 MiB. 0: no such replay.
    #[arg(long, value_name = "MIB", default_value_t = 0)]
    evict_mb: usize,
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
        "{:<12} {:>6} {:>8} {:>10} {:>22} {:>14} {:>22} {:>10}",
        "list",
        "words",
        "entries",
        "compile ms",
        "cold state µs p50/p99",
        "warm state µs",
        "guard µs/token cold/warm",
        "memory MB"
    );
    let mut jobs: Vec<(String, usize, BanList)> = Vec::new();
    for &language in &languages {
        for &n in &sizes {
            let words = dictionary_words(language, n)?;
            let options = EntryOptions::default()
                .with_forms(args.forms)
                .with_disguise(args.forms);
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
        let r = measure_list(&vocab, &tokens, &name, n, &list, &morphology, args.evict_mb)?;
        eprintln!(
            "{:<12} {:>6} {:>8} {:>10.1} {:>22} {:>14.1} {:>22} {:>10.1}",
            name,
            n,
            r.entries,
            r.compile_ms,
            format!("{:.0} / {:.0}", r.cold_state_us.p50, r.cold_state_us.p99),
            r.new_state_us.p50,
            format!(
                "{:.2} / {:.2}",
                r.guard_cold_us_per_token.p50, r.guard_us_per_token.p50
            ),
            r.memory_mb
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

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The spread of a set of timings, in µs.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct Spread {
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Spread {
    /// Nearest-rank percentiles of `v` (sorted in place).
    fn of(v: &mut [f64]) -> Spread {
        if v.is_empty() {
            return Spread::default();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Spread {
            p50: round(rank(0.5)),
            p99: round(rank(0.99)),
            max: round(v[v.len() - 1]),
            mean: round(mean(v)),
        }
    }
}

/// What `taboo bench` reports for one ban list (one object of the JSON line's `lists`).
#[derive(Debug, Serialize)]
struct ListReport {
    list: String,
    words: usize,
    entries: usize,
    compile_ms: f64,
    automaton_states: usize,
    trie_ms: f64,
    const_ms: f64,
    distinct_states: usize,
    /// Each distinct state computed on a fresh table, nothing of the list's shared parts
    /// built yet: what the first sequence to meet a state pays.
    cold_state_us: Spread,
    /// Each distinct state computed again once its shared parts are built.
    new_state_us: Spread,
    /// `new_state_us.p50` and `.max`, under their earlier names.
    new_state_us_median: f64,
    new_state_us_max: f64,
    /// The replay on a fresh table, as generation meets it: every first-time state's cost
    /// lands on the token that met it.
    guard_cold_us_per_token: Spread,
    /// The replay again on the table the new-state pass warmed (hard mode, mass off).
    guard_us_per_token: Spread,
    guard_us_per_token_median: f64,
    guard_us_per_token_mean: f64,
    /// The same with the removed probability mass measured (a softmax pass per edited step).
    guard_mass_us_per_token: Spread,
    guard_mass_us_per_token_median: f64,
    /// With `--evict-mb`: the warm replay (hard mode, mass off) with that much memory written
    /// before each step, and its `apply` and `advance` apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    guard_evicted_us_per_token: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard_evicted_apply_us: Option<Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard_evicted_advance_us: Option<Spread>,
    /// One decode step's bitmasks for 64 sequences on a fresh table (first-time states
    /// included), rows in parallel.
    batch64_cold_us: Spread,
    /// The same steps again once their states are cached.
    batch64_us: Spread,
    memory_mb: f64,
}

/// Replays `tokens` through a new guard on `table`, timing `apply` + `advance` per token.
fn replay(
    table: &Arc<MaskTable>,
    tokens: &[TokenId],
    measure_mass: bool,
    vocab_len: usize,
) -> Vec<f64> {
    replay_split(table, tokens, measure_mass, vocab_len, 0).0
}

/// [`replay`], writing `evict_mib` MiB of memory before each step (untimed), and also
/// returning the times of `apply` and of `advance` apart.
fn replay_split(
    table: &Arc<MaskTable>,
    tokens: &[TokenId],
    measure_mass: bool,
    vocab_len: usize,
    evict_mib: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let config = GuardConfig::default()
        .with_measure_mass(measure_mass)
        .with_max_rollback(64);
    let mut guard = Guard::new(Arc::clone(table), config);
    let mut logits = vec![0.0f32; vocab_len];
    let mut sweep = vec![0u8; evict_mib << 20];
    let (mut total, mut apply, mut advance) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &tok) in tokens.iter().enumerate() {
        // One write per cache line: every line of the buffer passes through the caches.
        for (k, b) in sweep.iter_mut().enumerate().step_by(64) {
            *b = (k ^ i) as u8;
        }
        std::hint::black_box(&sweep);
        for (j, l) in logits.iter_mut().enumerate() {
            *l = ((i * 31 + j * 17) % 97) as f32 * 0.1;
        }
        let t = Instant::now();
        std::hint::black_box(guard.apply(&mut logits));
        let applied = t.elapsed().as_secs_f64() * 1e6;
        let _ = guard.advance(tok); // words of the list may occur in the text: not an error here
        let both = t.elapsed().as_secs_f64() * 1e6;
        total.push(both);
        apply.push(applied);
        advance.push(both - applied);
    }
    (total, apply, advance)
}

/// Sequences in the batch figure, and the decode steps it times.
const BATCH: usize = 64;
const BATCH_STEPS: usize = 40;

/// One decode step of [`BATCH`] sequences, each at its own offset in `tokens`: the time to fill
/// every sequence's bitmask (rows in parallel), per step; run twice over the same steps, on a
/// fresh table and then on the table the first pass filled. Returns (first pass, second).
fn batch_steps(table: &Arc<MaskTable>, tokens: &[TokenId]) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    let words = table.vocab().len().div_ceil(32);
    let span = tokens.len().saturating_sub(BATCH_STEPS).max(1);
    let starts: Vec<usize> = (0..BATCH).map(|k| (k * 37) % span).collect();
    let mut masks = vec![0u32; BATCH * words];
    let mut passes = Vec::new();
    for _ in 0..2 {
        let mut guards: Vec<Guard> = starts
            .iter()
            .map(|_| Guard::new(Arc::clone(table), GuardConfig::default()))
            .collect();
        let mut times = Vec::with_capacity(BATCH_STEPS);
        for step in 0..BATCH_STEPS {
            let t = Instant::now();
            masks
                .par_chunks_mut(words)
                .zip(guards.par_iter())
                .for_each(|(row, g)| {
                    std::hint::black_box(g.fill_bitmask(row, false).expect("a row per guard"));
                });
            times.push(t.elapsed().as_secs_f64() * 1e6);
            for (g, &s) in guards.iter_mut().zip(&starts) {
                if let Some(&tok) = tokens.get(s + step) {
                    let _ = g.advance(tok); // the text may hold a banned word: not an error here
                }
            }
        }
        passes.push(times);
    }
    let second = passes.pop().unwrap_or_default();
    let first = passes.pop().unwrap_or_default();
    (first, second)
}

/// Measures one ban list against `vocab`, replaying `tokens`.
fn measure_list(
    vocab: &Arc<Vocabulary>,
    tokens: &[TokenId],
    name: &str,
    size: usize,
    list: &BanList,
    morphology: &Morphology,
    evict_mib: usize,
) -> CliResult<ListReport> {
    let t = Instant::now();
    let (automaton, _) = Automaton::compile_expanding(list, morphology)?;
    let automaton = Arc::new(automaton);
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let fresh = || Arc::new(MaskTable::new(Arc::clone(&automaton), Arc::clone(vocab)));

    // Every distinct state met while replaying.
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

    // The first table of a vocabulary also builds its token trie (`trie_ms`; shared by every
    // later table, so 0 for the lists after the first). This throwaway table also builds the
    // process-wide tables (Unicode data, what a partly read character can write first) once,
    // so that the cold figures below do not count them.
    let t = Instant::now();
    let first = fresh();
    let trie_ms = t.elapsed().as_secs_f64() * 1e3;
    first.compute(&automaton.start());
    drop(first);

    // Cold: a fresh table per state, sharing only the vocabulary's trie, as in a server.
    let mut cold_us = Vec::with_capacity(states.len());
    for s in &states {
        let table = fresh();
        let t = Instant::now();
        std::hint::black_box(table.compute(s));
        cold_us.push(t.elapsed().as_secs_f64() * 1e6);
    }

    // The replay as generation meets it, on a fresh table.
    let mut guard_cold = replay(&fresh(), tokens, false, vocab.len());

    let table = fresh();
    // The per-lane constant masks are computed once per normaliser state; warm them so that
    // the new-state figure measures what each new state costs.
    let t = Instant::now();
    table.compute(&automaton.start());
    let const_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut new_state_us = Vec::with_capacity(states.len());
    for s in &states {
        table.compute(s); // warm the constant part of this normaliser state
        let t = Instant::now();
        std::hint::black_box(table.compute(s));
        new_state_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let mut per_token = replay(&table, tokens, false, vocab.len());
    let mut per_token_mass = replay(&table, tokens, true, vocab.len());
    let evicted = (evict_mib > 0).then(|| {
        let (mut total, mut apply, mut advance) =
            replay_split(&table, tokens, false, vocab.len(), evict_mib);
        (
            Spread::of(&mut total),
            Spread::of(&mut apply),
            Spread::of(&mut advance),
        )
    });
    let (mut batch_cold, mut batch_warm) = batch_steps(&fresh(), tokens);

    let new_state_us = Spread::of(&mut new_state_us);
    let guard = Spread::of(&mut per_token);
    let guard_mass = Spread::of(&mut per_token_mass);
    Ok(ListReport {
        list: name.to_string(),
        words: size,
        entries: automaton.entry_count(),
        compile_ms: round(compile_ms),
        automaton_states: automaton.state_count(),
        trie_ms: round(trie_ms),
        const_ms: round(const_ms),
        distinct_states: states.len(),
        cold_state_us: Spread::of(&mut cold_us),
        new_state_us,
        new_state_us_median: new_state_us.p50,
        new_state_us_max: new_state_us.max,
        guard_cold_us_per_token: Spread::of(&mut guard_cold),
        guard_us_per_token: guard,
        guard_us_per_token_median: guard.p50,
        guard_us_per_token_mean: guard.mean,
        guard_mass_us_per_token: guard_mass,
        guard_mass_us_per_token_median: guard_mass.p50,
        guard_evicted_us_per_token: evicted.map(|e| e.0),
        guard_evicted_apply_us: evicted.map(|e| e.1),
        guard_evicted_advance_us: evicted.map(|e| e.2),
        batch64_cold_us: Spread::of(&mut batch_cold),
        batch64_us: Spread::of(&mut batch_warm),
        memory_mb: round(table.memory_usage() as f64 / (1 << 20) as f64),
    })
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank percentiles against a naive count: p is the smallest value with at least
    /// p% of the values at or below it.
    #[test]
    fn spread_takes_nearest_rank_percentiles() {
        let naive = |v: &[f64], q: f64| {
            let mut sorted = v.to_vec();
            sorted.sort_by(f64::total_cmp);
            *sorted
                .iter()
                .find(|&&x| sorted.iter().filter(|&&y| y <= x).count() as f64 >= q * v.len() as f64)
                .unwrap()
        };
        for n in [1usize, 2, 7, 100, 101, 250] {
            // A shuffled spread with repeats.
            let values: Vec<f64> = (0..n)
                .map(|i| ((i * 37) % 17) as f64 + i as f64 / 8.0)
                .collect();
            let s = Spread::of(&mut values.clone());
            assert_eq!(s.p50, round(naive(&values, 0.5)), "n = {n}");
            assert_eq!(s.p99, round(naive(&values, 0.99)), "n = {n}");
            assert_eq!(
                s.max,
                round(values.iter().copied().fold(f64::MIN, f64::max))
            );
            assert!(s.p50 <= s.p99 && s.p99 <= s.max);
        }
        let empty = Spread::of(&mut []);
        assert_eq!((empty.p50, empty.max), (0.0, 0.0));
    }
}
