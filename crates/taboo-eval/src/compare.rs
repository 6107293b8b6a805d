//! `taboo compare-modes`: every ban mode on the same prompts and seeds, in one run, as one
//! Markdown table. The prompts (`word<TAB>prompt` lines) each strongly elicit one word, which
//! is then banned; `off` shows how often the model would have written it.
//!
//! Runs are interleaved prompt by prompt and seed by seed, so machine noise hits every mode
//! alike, and each mode sees the same seeds (paired comparison). Each output is then scored
//! under the unconstrained model (prompt + output fed again, no guard) for its perplexity.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, NaiveGuard,
};
use taboo_llm::{
    generate, prompt_tokens, score_batch, vocabulary_from_engine, GenerateOptions, Generation,
    LlamaEngine, SamplingConfig,
};

use crate::ban_args::{naive_sequences, BacktrackArgs, Mode};
use crate::model_args::ModelArgs;
use crate::CliResult;

const DEFAULT_PROMPTS: &str = "testdata/prompts/elicit-en.tsv";

/// Compare ban modes (leaks, near-misses, perplexity, speed) over a set of eliciting prompts.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo compare-modes                                   # 35 prompts × 3 seeds × 4 modes\n  \
    taboo compare-modes --seeds 5 --max-tokens 48 --out docs/table.md\n  \
    taboo compare-modes --modes hard,backtrack --backtrack-below 0.2   # sweep the threshold\n  \
    taboo compare-modes --prompts my.tsv --temperature 1.0\n\n\
    Prompt file: one `word<TAB>prompt` per line; the word is banned (whole word, any case).\n\
    Metrics, per mode over all prompts and seeds:\n  \
    leak       the banned word appears as a whole word (any case)\n  \
    near-miss  a word w != banned word b (words: runs of letters/digits, lower-cased) with\n             \
    w = b+\"s\" or b+\"es\", or w not in --dictionary and containing b, or starting\n             \
    with b minus its last letter when b has 4+ letters (catmongoose, cats, parisi)\n  \
    perplexity exp(mean NLL of the output tokens under the model with no ban), all outputs\n  \
    tokens/s   kept tokens per second of decoding (rewound ones cost time, not count)")]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The prompt set. Default: testdata/prompts/elicit-en.tsv here or in the source tree.
    #[arg(long, value_name = "FILE")]
    prompts: Option<PathBuf>,
    /// Seeds per prompt and mode (0, 1, …).
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// Most tokens per output.
    #[arg(long, value_name = "N", default_value_t = 48)]
    max_tokens: usize,
    /// Sampling temperature.
    #[arg(long, value_name = "T", default_value_t = 0.7)]
    temperature: f32,
    /// Modes to compare, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values = ["off", "naive", "hard", "backtrack"])]
    modes: Vec<Mode>,
    #[command(flatten)]
    backtrack: BacktrackArgs,
    /// Word list for the near-miss rule (apt-get install wamerican).
    #[arg(long, value_name = "FILE", default_value = "/usr/share/dict/words")]
    dictionary: PathBuf,
    /// Also write the Markdown report to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Default)]
struct Tally {
    outputs: usize,
    leaks: usize,
    near_misses: usize,
    tokens: usize,
    nll: f64,
    decode_secs: f64,
    backtracks: usize,
    rewound: usize,
    near_words: BTreeMap<String, usize>,
    leaked_texts: Vec<String>,
}

/// Runs `taboo compare-modes`.
pub fn run(args: Args) -> CliResult {
    let prompts = read_prompts(&args.prompts)?;
    let dictionary = read_dictionary(&args.dictionary)?;
    let mut engine = args.model.load()?;
    let vocab = Arc::new(vocabulary_from_engine(&engine));
    let mut tallies: Vec<Tally> = args.modes.iter().map(|_| Tally::default()).collect();
    let total = prompts.len() * args.seeds as usize * args.modes.len();
    let mut done = 0;
    for (word, prompt) in &prompts {
        let list = BanList::from_words([word.as_str()], EntryOptions::default())
            .map_err(|e| format!("cannot ban {word:?}: {e}"))?;
        let table = Arc::new(MaskTable::new(
            Arc::new(Automaton::compile(&list)?),
            vocab.clone(),
        ));
        table.warm_up();
        let naive = naive_sequences(&engine, std::slice::from_ref(word));
        for seed in 0..args.seeds {
            for (mode, tally) in args.modes.iter().zip(tallies.iter_mut()) {
                done += 1;
                eprint!(
                    "\r[{done:>4}/{total}] {:<9} seed {seed} {word:<14}",
                    name(*mode)
                );
                let mut guard: Option<Box<dyn LogitsGuard>> = match mode {
                    Mode::Off => None,
                    Mode::Naive => Some(Box::new(NaiveGuard::new(vocab.clone(), naive.clone()))),
                    Mode::Soft => Some(Box::new(Guard::new(
                        table.clone(),
                        GuardConfig {
                            mode: taboo::Mode::Soft {
                                penalty: 10.0,
                                partial_penalty: 0.0,
                            },
                            ..GuardConfig::default()
                        },
                    ))),
                    Mode::Hard | Mode::Backtrack => {
                        Some(Box::new(Guard::new(table.clone(), GuardConfig::default())))
                    }
                };
                let options = GenerateOptions {
                    sampling: SamplingConfig {
                        temperature: args.temperature,
                        seed,
                        ..SamplingConfig::default()
                    },
                    max_tokens: args.max_tokens,
                    backtrack: (*mode == Mode::Backtrack).then(|| args.backtrack.options()),
                    ..GenerateOptions::default()
                };
                let out = generate(
                    &mut engine,
                    guard.as_deref_mut(),
                    prompt,
                    &options,
                    &mut |_| Ok(()),
                    &AtomicBool::new(false),
                )?;
                let nll = output_nll(&mut engine, prompt, &out)?;
                record(tally, word, &out, nll, &dictionary);
            }
        }
    }
    eprintln!();
    let report = report(&args, &prompts, &tallies);
    print!("{report}");
    std::io::stdout().flush()?;
    if let Some(path) = &args.out {
        std::fs::write(path, &report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::Backtrack => "backtrack",
        Mode::Hard => "hard",
        Mode::Soft => "soft",
        Mode::Naive => "naive",
        Mode::Off => "off",
    }
}

/// Sum of −log p(token) over the output under the unconstrained model: the same
/// chat-templated prompt and the output fed again with no guard (taboo-llm's
/// [`score_batch`], which `taboo eval` uses too).
fn output_nll(engine: &mut LlamaEngine, prompt: &str, out: &Generation) -> CliResult<f64> {
    let prompt = prompt_tokens(&*engine, prompt, false)?;
    Ok(score_batch(engine, &[(prompt, out.tokens.clone())])?[0])
}

fn record(tally: &mut Tally, word: &str, out: &Generation, nll: f64, dict: &HashSet<String>) {
    let banned = word.to_lowercase();
    let words = words(&out.text);
    tally.outputs += 1;
    if words.contains(&banned) {
        tally.leaks += 1;
        tally.leaked_texts.push(out.text.clone());
    }
    let near: Vec<&String> = words
        .iter()
        .filter(|w| is_near_miss(w, &banned, dict))
        .collect();
    if !near.is_empty() {
        tally.near_misses += 1;
    }
    for w in near {
        *tally.near_words.entry(w.clone()).or_default() += 1;
    }
    tally.tokens += out.tokens.len();
    tally.nll += nll;
    if out.stats.tokens_per_second > 0.0 {
        tally.decode_secs += out.tokens.len() as f64 / out.stats.tokens_per_second;
    }
    tally.backtracks += out.stats.backtracks;
    tally.rewound += out.stats.rewound_tokens;
}

/// Maximal runs of word characters, lower-cased. Word characters are the ban's own
/// (`taboo::text::is_word_char`: letters, marks, digits, connector punctuation such as `_`,
/// joiners), so that `_cat_` is one word here as it is for the guard.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !taboo::text::is_word_char(c))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The near-miss rule of the `--help` text: the banned word's plural, the word glued to other
/// letters into a non-word, or a non-word on the word's stem.
fn is_near_miss(w: &str, banned: &str, dict: &HashSet<String>) -> bool {
    if w == banned {
        return false;
    }
    if w.strip_prefix(banned)
        .is_some_and(|rest| rest == "s" || rest == "es")
    {
        return true;
    }
    if dict.contains(w) {
        return false;
    }
    // Short words have no useful stem: "ca" would catch every "cable".
    let stem = match banned.char_indices().last() {
        Some((last, _)) if banned.chars().count() >= 4 => &banned[..last],
        _ => banned,
    };
    w.contains(banned) || w.starts_with(stem)
}

fn read_prompts(path: &Option<PathBuf>) -> CliResult<Vec<(String, String)>> {
    let path = match path {
        Some(p) => p.clone(),
        None => [
            PathBuf::from(DEFAULT_PROMPTS),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(DEFAULT_PROMPTS),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PROMPTS)),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read prompts {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, prompt) = line.split_once('\t').ok_or_else(|| {
            format!(
                "{} line {}: expected `word<TAB>prompt`",
                path.display(),
                i + 1
            )
        })?;
        out.push((word.trim().to_string(), prompt.trim().to_string()));
    }
    if out.is_empty() {
        return Err(format!("{}: no prompts", path.display()).into());
    }
    Ok(out)
}

fn read_dictionary(path: &Path) -> CliResult<HashSet<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the dictionary {}: {e} (apt-get install wamerican, or pass --dictionary)",
            path.display()
        )
    })?;
    Ok(text.lines().map(str::to_lowercase).collect())
}

fn report(args: &Args, prompts: &[(String, String)], tallies: &[Tally]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} prompts × {} seeds, temperature {}, at most {} tokens; backtrack below {} \
         (retries {}, budget {}).\n",
        prompts.len(),
        args.seeds,
        args.temperature,
        args.max_tokens,
        args.backtrack.backtrack_below,
        args.backtrack.backtrack_retries,
        args.backtrack.backtrack_budget,
    );
    let _ = writeln!(
        s,
        "| mode | outputs | leak rate | near-miss rate | perplexity | tokens/s | \
         backtracks / 100 tok | rewound / 100 tok |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for (mode, t) in args.modes.iter().zip(tallies) {
        let per100 = |n: usize| 100.0 * n as f64 / t.tokens.max(1) as f64;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1}% ({}) | {:.1}% ({}) | {:.2} | {:.0} | {:.2} | {:.2} |",
            name(*mode),
            t.outputs,
            100.0 * t.leaks as f64 / t.outputs.max(1) as f64,
            t.leaks,
            100.0 * t.near_misses as f64 / t.outputs.max(1) as f64,
            t.near_misses,
            (t.nll / t.tokens.max(1) as f64).exp(),
            t.tokens as f64 / t.decode_secs.max(1e-9),
            per100(t.backtracks),
            per100(t.rewound),
        );
    }
    let _ = writeln!(s, "\nNear-miss words (count):\n");
    for (mode, t) in args.modes.iter().zip(tallies) {
        let list: Vec<String> = t
            .near_words
            .iter()
            .map(|(w, n)| format!("{w} ({n})"))
            .collect();
        let shown = if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        };
        let _ = writeln!(s, "- {}: {shown}", name(*mode));
    }
    for (mode, t) in args.modes.iter().zip(tallies) {
        if matches!(mode, Mode::Hard | Mode::Backtrack) {
            for text in &t.leaked_texts {
                let _ = writeln!(s, "- LEAK in {}: {text:?}", name(*mode));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_miss_rule() {
        let dict: HashSet<String> = ["category", "cats", "catherine", "parisian"]
            .into_iter()
            .map(String::from)
            .collect();
        let near = |w: &str, b: &str| is_near_miss(w, b, &dict);
        assert!(near("catmongoose", "cat"));
        assert!(near("cats", "cat"));
        assert!(near("housecat", "cat"));
        assert!(!near("cat", "cat"));
        assert!(!near("category", "cat"));
        assert!(!near("dog", "cat"));
        assert!(!near("parisian", "paris"));
        assert!(near("parisi", "paris"));
        assert!(near("pari", "paris"));
        assert!(!near("car", "cat"));
        assert_eq!(words("A cat-like CAT's"), ["a", "cat", "like", "cat", "s"]);
    }
}
