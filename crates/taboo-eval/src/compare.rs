//! `taboo compare-modes`: every ban mode on the same prompts and seeds, in one run, as one
//! Markdown table. The prompts (`word<TAB>prompt` lines) each strongly elicit one word, which
//! is then banned; `off` shows how often the model would have written it.
//!
//! Runs are interleaved prompt by prompt and seed by seed, so machine noise hits every mode
//! alike, and each mode sees the same seeds (paired comparison). Each output is then scored
//! under the unconstrained model (prompt + output fed again, no guard) for its perplexity.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use taboo::{Ban, LogitsGuard, NaiveGuard};
use taboo_llm::{
    generate, prompt_tokens, score_batch, vocabulary_from_engine, Backtrack, Engine,
    GenerateOptions, Generation, LlamaEngine, SamplingConfig,
};

use crate::detect::is_word_char;
use crate::error::{Error, Result};
use crate::guards::soft;
use crate::suite::ELICIT_EN;

/// A ban mode compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompareMode {
    /// No ban.
    Off,
    /// The token-id baseline, leading-space spellings included.
    Naive,
    /// The automaton ban as a logit penalty ([`CompareOptions::penalty`]).
    Soft,
    /// The automaton ban, hard.
    Hard,
    /// Hard plus backtracking ([`CompareOptions::backtrack`]).
    Backtrack,
}

impl CompareMode {
    /// The mode's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            CompareMode::Backtrack => "backtrack",
            CompareMode::Hard => "hard",
            CompareMode::Soft => "soft",
            CompareMode::Naive => "naive",
            CompareMode::Off => "off",
        }
    }
}

/// What `compare-modes` runs; `#[non_exhaustive]`: start from [`CompareOptions::default`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CompareOptions {
    /// A `word<TAB>prompt` file; `None`: the shipped English eliciting prompts.
    pub prompts: Option<PathBuf>,
    /// Seeds per prompt and mode.
    pub seeds: u64,
    /// Most tokens per output.
    pub max_tokens: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Modes, in table order.
    pub modes: Vec<CompareMode>,
    /// Backtracking settings of the backtrack mode.
    pub backtrack: Backtrack,
    /// Logit penalty of the soft mode.
    pub penalty: f32,
    /// Word list of the near-miss rule.
    pub dictionary: PathBuf,
}

impl Default for CompareOptions {
    fn default() -> CompareOptions {
        CompareOptions {
            prompts: None,
            seeds: 3,
            max_tokens: 48,
            temperature: 0.7,
            modes: vec![
                CompareMode::Off,
                CompareMode::Naive,
                CompareMode::Hard,
                CompareMode::Backtrack,
            ],
            backtrack: Backtrack::default(),
            penalty: 10.0,
            dictionary: PathBuf::from("/usr/share/dict/words"),
        }
    }
}

/// Per mode, over all prompts and seeds.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Generations.
    pub outputs: usize,
    /// Outputs with the banned word (whole word, any case).
    pub leaks: usize,
    /// Outputs with a near-miss word.
    pub near_misses: usize,
    /// Kept tokens.
    pub tokens: usize,
    /// Σ NLL under the unconstrained model.
    pub nll: f64,
    /// Decoding time.
    pub decode_secs: f64,
    /// Rewinds.
    pub backtracks: usize,
    /// Tokens taken back.
    pub rewound: usize,
    /// Near-miss words and how often they appeared.
    pub near_words: BTreeMap<String, usize>,
    /// Outputs that leaked.
    pub leaked_texts: Vec<String>,
}

/// What a comparison produced; [`Comparison::markdown`] is the report.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The options it ran with.
    pub options: CompareOptions,
    /// Prompts run.
    pub prompts: usize,
    /// One per mode, in `options.modes` order.
    pub tallies: Vec<Tally>,
}

/// Runs every mode of `options` on every prompt and seed with `engine`. `progress` gets
/// (n, total, label) as generation n (from 1) starts.
pub fn compare(
    engine: &mut LlamaEngine,
    options: &CompareOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<Comparison> {
    let prompts = read_prompts(options.prompts.as_deref())?;
    let dictionary = read_dictionary(&options.dictionary)?;
    let vocab = Arc::new(vocabulary_from_engine(&*engine));
    let mut tallies: Vec<Tally> = options.modes.iter().map(|_| Tally::default()).collect();
    let total = prompts.len() * options.seeds as usize * options.modes.len();
    let mut done = 0;
    for (word, prompt) in &prompts {
        let ban = Ban::new([word.as_str()])?;
        ban.table(&vocab);
        let naive = NaiveGuard::from_words(
            vocab.clone(),
            std::slice::from_ref(word),
            &|t: &str| engine.tokenize(t, false),
            true,
        );
        for seed in 0..options.seeds {
            for (mode, tally) in options.modes.iter().zip(tallies.iter_mut()) {
                done += 1;
                progress(
                    done,
                    total,
                    &format!("{:<9} seed {seed} {word}", mode.name()),
                );
                let mut guard: Option<Box<dyn LogitsGuard>> = match mode {
                    CompareMode::Off => None,
                    CompareMode::Naive => Some(Box::new(naive.clone())),
                    CompareMode::Soft => {
                        Some(Box::new(ban.guard_with(&vocab, soft(options.penalty))))
                    }
                    CompareMode::Hard | CompareMode::Backtrack => Some(Box::new(ban.guard(&vocab))),
                };
                let generate_options = GenerateOptions::default()
                    .with_sampling(
                        SamplingConfig::default()
                            .with_temperature(options.temperature)
                            .with_seed(seed),
                    )
                    .with_max_tokens(options.max_tokens)
                    .with_backtrack(
                        (*mode == CompareMode::Backtrack).then(|| options.backtrack.clone()),
                    );
                let out = generate(
                    &mut *engine,
                    guard.as_deref_mut(),
                    prompt,
                    &generate_options,
                    &mut |_| Ok(()),
                    &AtomicBool::new(false),
                )?;
                let nll = output_nll(engine, prompt, &out)?;
                record(tally, word, &out, nll, &dictionary);
            }
        }
    }
    Ok(Comparison {
        options: options.clone(),
        prompts: prompts.len(),
        tallies,
    })
}

/// Sum of −log p(token) over the output under the unconstrained model: the same
/// chat-templated prompt and the output fed again with no guard (taboo-llm's
/// [`score_batch`], which `taboo eval` uses too).
fn output_nll(engine: &mut LlamaEngine, prompt: &str, out: &Generation) -> Result<f64> {
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

/// Maximal runs of word characters (letters, digits, `_`, as the eval detectors read
/// words, independently of the engine), lower-cased.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !is_word_char(c))
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

fn read_prompts(path: Option<&Path>) -> Result<Vec<(String, String)>> {
    let (name, text) = match path {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .map_err(|e| Error::Prompts(format!("cannot read prompts {}: {e}", p.display())))?,
        ),
        None => ("the shipped prompts".to_string(), ELICIT_EN.to_string()),
    };
    parse_prompts(&name, &text)
}

/// `word<TAB>prompt` lines; `#` comments and blank lines skipped.
fn parse_prompts(name: &str, text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, prompt) = line.split_once('\t').ok_or_else(|| {
            Error::Prompts(format!("{name} line {}: expected `word<TAB>prompt`", i + 1))
        })?;
        out.push((word.trim().to_string(), prompt.trim().to_string()));
    }
    if out.is_empty() {
        return Err(Error::Prompts(format!("{name}: no prompts")));
    }
    Ok(out)
}

fn read_dictionary(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Dictionary {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.lines().map(str::to_lowercase).collect())
}

impl Comparison {
    /// The Markdown report: one table row per mode, the near-miss words, any leak of a
    /// guaranteed mode.
    pub fn markdown(&self) -> String {
        let o = &self.options;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} prompts × {} seeds, temperature {}, at most {} tokens; backtrack below {} \
             (retries {}, budget {}).\n",
            self.prompts,
            o.seeds,
            o.temperature,
            o.max_tokens,
            o.backtrack.min_mass_left,
            o.backtrack.retries_per_position,
            o.backtrack.max_backtracks,
        );
        let _ = writeln!(
            s,
            "| mode | outputs | leak rate | near-miss rate | perplexity | tokens/s | \
             backtracks / 100 tok | rewound / 100 tok |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        for (mode, t) in o.modes.iter().zip(&self.tallies) {
            let per100 = |n: usize| 100.0 * n as f64 / t.tokens.max(1) as f64;
            let _ = writeln!(
                s,
                "| {} | {} | {:.1}% ({}) | {:.1}% ({}) | {:.2} | {:.0} | {:.2} | {:.2} |",
                mode.name(),
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
        for (mode, t) in o.modes.iter().zip(&self.tallies) {
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
            let _ = writeln!(s, "- {}: {shown}", mode.name());
        }
        for (mode, t) in o.modes.iter().zip(&self.tallies) {
            if matches!(mode, CompareMode::Hard | CompareMode::Backtrack) {
                for text in &t.leaked_texts {
                    let _ = writeln!(s, "- LEAK in {}: {text:?}", mode.name());
                }
            }
        }
        s
    }
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

    #[test]
    fn the_shipped_prompts_parse_and_bad_lines_are_named() {
        let p = read_prompts(None).unwrap();
        assert!(p.len() >= 30, "{}", p.len());
        assert!(p.iter().all(|(w, q)| !w.is_empty() && !q.is_empty()));
        let e = parse_prompts("x.tsv", "# c\ncat\tMeow?\nno tab here\n").unwrap_err();
        assert_eq!(e.to_string(), "x.tsv line 3: expected `word<TAB>prompt`");
        assert!(parse_prompts("x.tsv", "# only\n").is_err());
    }
}
