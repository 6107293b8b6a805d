//! The evaluation run: conditions × prompt suites × seeds, each generation measured
//! (docs/EVAL.md describes it all).
//!
//! Generations run through taboo-llm's batched decoding ([`taboo_llm::generate_batch`]):
//! `batch` sequences share each llama.cpp decode call, each with its own guard, sampler and
//! seed, backtracking included. Every (suite, condition) is one batched run over its
//! non-control prompts and seeds, so its tokens/s is a throughput; all conditions see the
//! same prompts and seeds (paired). Control prompts are decoded one sequence at a time in
//! every condition: on some models (Gemma 3 with llama.cpp's repacked Q4_K kernels) a
//! sequence's logits depend on how many rows its decode call holds, so a control prompt
//! batched next to backtracking neighbours would differ from B0 for reasons that are not the
//! ban's; alone, the unconstrained control of B0 and of a ban condition get the same logits
//! (`crates/taboo-llm/tests/batch_gemma.rs` pins what is and is not exact).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use taboo::forms::Morphology;
use taboo::{TokenId, Vocabulary};
use taboo_llm::{
    generate_batch, prompt_tokens, score_batch, vocabulary_from_engine, Backtrack, BatchOutput,
    BatchRequest, Engine, EngineOptions, GenerateOptions, LlamaEngine, SamplingConfig,
};

use crate::detect;
use crate::error::{Error, Result};
use crate::guards::GuardMaker;
use crate::metrics;
use crate::suite::{ModelKind, Suite, SUITES, SWEEP};
use crate::workload::{dictionary_words, Language};

/// What to run. Built with [`EvalOptions::new`] (the two model files) and adjusted field by
/// field; new fields get defaults, so the struct is `#[non_exhaustive]`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EvalOptions {
    /// Suites to run ([`SUITES`] and [`SWEEP`]); empty: all of them.
    pub suites: Vec<String>,
    /// The CI subset: 2 prompts per kind, shorter outputs, one soft strength, a 3-point sweep.
    pub quick: bool,
    /// Seeds per prompt and condition (0, 1, …), at least 1.
    pub seeds: u64,
    /// Sequences decoded together, 1 to 64.
    pub batch: usize,
    /// Sampling temperature, ≥ 0.
    pub temperature: f32,
    /// Instruct model for the chat suites and the sweep.
    pub chat_model: PathBuf,
    /// Base model for the continuation suites.
    pub base_model: PathBuf,
    /// A directory of suite files (`<name>.tsv`) to use instead of the shipped suites.
    pub suites_dir: Option<PathBuf>,
    /// CPU threads.
    pub threads: usize,
    /// Bootstrap resamples per confidence interval.
    pub resamples: usize,
}

impl EvalOptions {
    /// The defaults (every suite, 3 seeds, batch 8, temperature 0.7, 2 threads, 1,000
    /// resamples) with these two models.
    pub fn new(chat_model: impl Into<PathBuf>, base_model: impl Into<PathBuf>) -> EvalOptions {
        EvalOptions {
            suites: Vec::new(),
            quick: false,
            seeds: 3,
            batch: 8,
            temperature: 0.7,
            chat_model: chat_model.into(),
            base_model: base_model.into(),
            suites_dir: None,
            threads: 2,
            resamples: 1000,
        }
    }

    /// Checks the ranges and names; the errors name the option.
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 {
            return Err(Error::Option("--seeds must be at least 1".into()));
        }
        if !(1..=64).contains(&self.batch) {
            return Err(Error::Option(format!(
                "--batch {}: expected 1 to 64 sequences",
                self.batch
            )));
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Error::Option(format!(
                "--temperature {}: expected a number ≥ 0",
                self.temperature
            )));
        }
        if self.threads == 0 {
            return Err(Error::Option("--threads must be at least 1".into()));
        }
        for s in &self.suites {
            if !SUITES.contains(&s.as_str()) && s != SWEEP {
                return Err(Error::UnknownSuite(s.clone()));
            }
        }
        Ok(())
    }
}

/// A ban condition of the evaluation protocol (docs/EVAL.md).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// B0: no constraint.
    Off,
    /// B1: the prompt asks not to use the word; no guard.
    Instruct,
    /// B2: token-id ban of the word's own tokenizations, no leading-space spellings.
    Naive,
    /// B2+: the same plus the leading-space spellings (`" cat"`).
    NaiveSpace,
    /// B4: the automaton ban, hard.
    Hard,
    /// B5: the automaton ban as a logit penalty of this strength.
    Soft(f32),
    /// B6: hard plus backtracking.
    Backtrack,
    /// B7: backtracking with disguise folding (and word forms once they land).
    Full,
}

impl Condition {
    /// Short id used in files: `off`, `soft-5` …
    pub fn id(self) -> String {
        match self {
            Condition::Off => "off".into(),
            Condition::Instruct => "instruct".into(),
            Condition::Naive => "naive".into(),
            Condition::NaiveSpace => "naive-space".into(),
            Condition::Hard => "hard".into(),
            Condition::Soft(p) => format!("soft-{p}"),
            Condition::Backtrack => "backtrack".into(),
            Condition::Full => "full".into(),
        }
    }

    /// Label in the report: `B4 hard`.
    pub fn label(self) -> String {
        let b = match self {
            Condition::Off => "B0",
            Condition::Instruct => "B1",
            Condition::Naive => "B2",
            Condition::NaiveSpace => "B2+",
            Condition::Hard => "B4",
            Condition::Soft(_) => "B5",
            Condition::Backtrack => "B6",
            Condition::Full => "B7",
        };
        format!("{b} {}", self.id())
    }

    /// Detector tiers this condition guarantees zero leaks at (indices into
    /// [`detect::TIERS`]): exact and normalised for the automaton's hard modes, plus
    /// disguised for B7 (plus inflected once B7 expands word forms).
    pub fn guaranteed_tiers(self) -> &'static [usize] {
        match self {
            Condition::Hard | Condition::Backtrack => &[0, 1],
            Condition::Full => &[0, 1, 3],
            _ => &[],
        }
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id())
    }
}

fn conditions(quick: bool) -> Vec<Condition> {
    let mut c = vec![
        Condition::Off,
        Condition::Instruct,
        Condition::Naive,
        Condition::NaiveSpace,
        Condition::Hard,
    ];
    if quick {
        c.push(Condition::Soft(5.0));
    } else {
        c.extend([
            Condition::Soft(2.0),
            Condition::Soft(5.0),
            Condition::Soft(10.0),
        ]);
    }
    c.extend([Condition::Backtrack, Condition::Full]);
    c
}

/// One generation and everything measured on it.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Suite name.
    pub suite: String,
    /// Ban condition.
    pub condition: Condition,
    /// Prompt kind (cloze, control …).
    pub kind: String,
    /// Index of the prompt in its suite.
    pub item: usize,
    /// Sampling seed.
    pub seed: u64,
    /// Banned words; the first is the one the prompt elicits.
    pub words: Vec<String>,
    /// The output.
    pub text: String,
    /// Kept tokens.
    pub tokens: usize,
    /// Σ −log p(token) under the unconstrained model, after the prompt without instruction.
    pub nll: f64,
    /// Why the generation ended.
    pub finish: &'static str,
    /// Per detector tier ([`detect::TIERS`]).
    pub tiers: [bool; 5],
    /// Removed mass per kept step.
    pub removed: Vec<f32>,
    /// Σ_t −log Z_t.
    pub neg_log_z: f64,
    /// Rewinds.
    pub backtracks: usize,
    /// Tokens taken back by rewinds.
    pub rewound: usize,
    /// Guard time per kept token.
    pub guard_us: f64,
    /// Steps where the guard changed a logit.
    pub masked_steps: usize,
    /// Control prompts: the text differs from B0's with the same seed.
    pub changed_vs_off: Option<bool>,
}

/// Throughput of one batched run.
#[derive(Clone, Debug, Serialize)]
pub struct RunCost {
    /// Suite name.
    pub suite: String,
    /// Ban condition.
    pub condition: Condition,
    /// Kept tokens per second of the batched run of non-control prompts.
    pub tokens_per_second: f64,
    /// Wall time of that run.
    pub seconds: f64,
    /// Wall time of the control prompts, decoded one at a time.
    pub control_seconds: f64,
}

/// One point of the ban-list-size sweep.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    /// Banned words.
    pub size: usize,
    /// Ban condition.
    pub condition: Condition,
    /// Generations.
    pub outputs: usize,
    /// Outputs with the elicited word at the normalised tier.
    pub leaks: usize,
    /// Throughput of the batched run.
    pub tokens_per_second: f64,
    /// Guard time per kept token.
    pub guard_us: f64,
    /// Compile and warm-up time per ban list.
    pub compile_ms: f64,
}

/// The settings of a run, as the report shows them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Settings {
    /// The chat model's file name.
    pub chat_model: Option<String>,
    /// The base model's file name.
    pub base_model: Option<String>,
    /// The command line, when the caller gives it.
    pub command: Option<String>,
    /// The commit the binary was built from (`unknown` outside a git checkout).
    pub commit: String,
    /// Seeds per prompt.
    pub seeds: u64,
    /// Sampling temperature.
    pub temperature: f32,
    /// Sequences per decode call.
    pub batch: usize,
    /// CPU threads.
    pub threads: usize,
    /// The CI subset.
    pub quick: bool,
    /// Bootstrap resamples.
    pub bootstrap_resamples: usize,
    /// Wall time, `4m02s`.
    pub wall_time: String,
}

impl Settings {
    /// (name, value) rows for the report's settings table.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = Vec::new();
        if let Some(m) = &self.chat_model {
            rows.push(("chat model", m.clone()));
        }
        if let Some(m) = &self.base_model {
            rows.push(("base model", m.clone()));
        }
        if let Some(c) = &self.command {
            rows.push(("command", c.clone()));
        }
        rows.extend([
            ("commit", self.commit.clone()),
            ("seeds", self.seeds.to_string()),
            ("temperature", self.temperature.to_string()),
            ("batch", self.batch.to_string()),
            ("threads", self.threads.to_string()),
            ("quick", self.quick.to_string()),
            ("bootstrap resamples", self.bootstrap_resamples.to_string()),
            ("wall time", self.wall_time.clone()),
        ]);
        rows
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Results {
    /// Every generation of the suites.
    pub samples: Vec<Sample>,
    /// One per (suite, condition).
    pub costs: Vec<RunCost>,
    /// The ban-list-size sweep.
    pub sweep: Vec<SweepPoint>,
    /// The sweep's unconstrained reference throughput.
    pub sweep_off_tps: Option<f64>,
    /// How it ran.
    pub settings: Settings,
    /// Wall time.
    pub seconds: f64,
}

/// Where a run is, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Generations finished.
    pub done: usize,
    /// Generations in the run.
    pub total: usize,
    /// What runs now: `en-chat / B4 hard`, or `loading`.
    pub label: &'a str,
}

/// A progress line on stderr: done/total, elapsed, ETA, what runs; redrawn in place on a
/// terminal, one line per 10% otherwise.
pub struct ProgressBar {
    started: Instant,
    tty: bool,
    last_decile: usize,
    drawn: bool,
}

impl Default for ProgressBar {
    fn default() -> ProgressBar {
        ProgressBar::new()
    }
}

impl ProgressBar {
    /// A bar starting its clock now.
    pub fn new() -> ProgressBar {
        ProgressBar {
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            last_decile: 0,
            drawn: false,
        }
    }

    /// Draws `p`.
    pub fn show(&mut self, p: &Progress<'_>) {
        let (done, total) = (p.done, p.total);
        let secs = self.started.elapsed().as_secs_f64();
        let eta = if done > 0 {
            secs / done as f64 * (total - done.min(total)) as f64
        } else {
            f64::NAN
        };
        let width = 24;
        let filled = (done * width / total.max(1)).min(width);
        let line = format!(
            "[{}{}] {done}/{total} generations, {} elapsed, ETA {}  {}",
            "#".repeat(filled),
            ".".repeat(width - filled),
            clock(secs),
            if eta.is_finite() {
                clock(eta)
            } else {
                "?".into()
            },
            p.label
        );
        if self.tty {
            self.drawn = true;
            eprint!("\r{line:<110}");
        } else {
            let decile = done * 10 / total.max(1);
            if decile > self.last_decile || done == 0 {
                self.last_decile = decile;
                eprintln!("{line}");
            }
        }
    }

    /// Ends the line on a terminal.
    pub fn finish(&self) {
        if self.tty && self.drawn {
            eprintln!();
        }
    }
}

/// `4m02s`.
pub fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}m{:02}s", s / 60, s % 60)
}

/// Settings shared by every run of one evaluation.
struct Context<'a> {
    seeds: u64,
    temperature: f32,
    /// Word forms for B7, one for the run (the Russian dictionary is read once).
    morphology: Arc<Morphology>,
    cancel: &'a AtomicBool,
    total: usize,
    done: usize,
    progress: &'a mut dyn FnMut(&Progress<'_>),
}

impl Context<'_> {
    fn show(&mut self, done: usize, label: &str) {
        (self.progress)(&Progress {
            done,
            total: self.total,
            label,
        });
    }
}

/// The file name of a model path, for the report (no machine's directories in it).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Runs the evaluation. `progress` is told about every finished generation; setting
/// `cancel` ends the running generations early (their outputs count as interrupted).
pub fn run(
    options: &EvalOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<Results> {
    options.validate()?;
    let selected: Vec<String> = if options.suites.is_empty() {
        SUITES
            .iter()
            .map(|s| s.to_string())
            .chain([SWEEP.to_string()])
            .collect()
    } else {
        options.suites.clone()
    };
    let dir = options.suites_dir.as_deref();
    let mut suites: Vec<Suite> = Vec::new();
    for name in SUITES.iter().filter(|n| selected.iter().any(|s| s == *n)) {
        let mut s = Suite::find(dir, name)?;
        if options.quick {
            // Long-list writing is slow (96 tokens, 40 words): one prompt.
            let open = s.items.iter().all(|i| i.kind == "open");
            s = s.quick(if open { 1 } else { 2 });
            s.items
                .truncate(if s.model == ModelKind::Base { 3 } else { 8 });
            s.max_tokens = s.max_tokens.min(32);
        }
        suites.push(s);
    }
    let sweep = selected.iter().any(|s| s == SWEEP);
    let sweep_sizes: Vec<usize> = if options.quick {
        vec![1, 100, 10_000]
    } else {
        vec![1, 10, 100, 1_000, 10_000]
    };
    let sweep_suite = if sweep {
        let mut s = Suite::find(dir, "en-chat")?;
        s.items.retain(|i| i.kind == "cloze");
        s.items.truncate(if options.quick { 2 } else { 6 });
        s.max_tokens = 32;
        Some(s)
    } else {
        None
    };
    // Fail on a missing dictionary before any model runs.
    if sweep {
        dictionary_words(Language::English, *sweep_sizes.iter().max().unwrap_or(&1))
            .map_err(|e| Error::Workload(e.to_string()))?;
    }

    let conds = conditions(options.quick);
    let seeds = options.seeds as usize;
    let sweep_conds = [Condition::Naive, Condition::Hard];
    let total = suites.iter().map(|s| s.items.len()).sum::<usize>() * conds.len() * seeds
        + sweep_suite.as_ref().map_or(0, |s| {
            s.items.len() * seeds * (1 + sweep_sizes.len() * sweep_conds.len())
        });
    let started = Instant::now();
    let mut results = Results {
        samples: Vec::new(),
        costs: Vec::new(),
        sweep: Vec::new(),
        sweep_off_tps: None,
        settings: Settings::default(),
        seconds: 0.0,
    };
    let mut ctx = Context {
        seeds: options.seeds,
        temperature: options.temperature,
        morphology: Arc::new(Morphology::new()),
        cancel,
        total,
        done: 0,
        progress,
    };
    ctx.show(0, "loading");

    for kind in [ModelKind::Chat, ModelKind::Base] {
        let mine: Vec<&Suite> = suites.iter().filter(|s| s.model == kind).collect();
        let sweep_here = kind == ModelKind::Chat && sweep_suite.is_some();
        if mine.is_empty() && !sweep_here {
            continue;
        }
        let (path, which) = match kind {
            ModelKind::Chat => (&options.chat_model, "chat model"),
            ModelKind::Base => (&options.base_model, "base model"),
        };
        let mut engine = LlamaEngine::load(
            path,
            &EngineOptions::default()
                .with_threads(options.threads)
                .with_context_size(1024)
                .with_sequences(options.batch),
        )
        .map_err(|source| Error::Model {
            which,
            source: Box::new(source),
        })?;
        match kind {
            ModelKind::Chat => results.settings.chat_model = Some(file_name(path)),
            ModelKind::Base => results.settings.base_model = Some(file_name(path)),
        }
        let vocab = Arc::new(vocabulary_from_engine(&engine));
        for s in mine {
            for &c in &conds {
                run_condition(&mut engine, &vocab, s, c, &mut ctx, &mut results)?;
            }
        }
        if let (true, Some(s)) = (sweep_here, &sweep_suite) {
            run_sweep(
                &mut engine,
                &vocab,
                s,
                &sweep_sizes,
                &sweep_conds,
                &mut ctx,
                &mut results,
            )?;
        }
    }
    mark_control_changes(&mut results.samples);
    results.seconds = started.elapsed().as_secs_f64();
    results.settings = Settings {
        commit: option_env!("TABOO_EVAL_COMMIT")
            .unwrap_or("unknown")
            .to_string(),
        seeds: options.seeds,
        temperature: options.temperature,
        batch: options.batch,
        threads: options.threads,
        quick: options.quick,
        bootstrap_resamples: options.resamples,
        wall_time: clock(results.seconds),
        ..results.settings
    };
    Ok(results)
}

fn generate_options(
    suite: &Suite,
    condition: Condition,
    seed: u64,
    temperature: f32,
) -> GenerateOptions {
    GenerateOptions::default()
        .with_sampling(
            SamplingConfig::default()
                .with_temperature(temperature)
                .with_seed(seed),
        )
        .with_max_tokens(suite.max_tokens)
        .with_raw(suite.model == ModelKind::Base)
        .with_backtrack(
            matches!(condition, Condition::Backtrack | Condition::Full).then(Backtrack::default),
        )
}

/// The last character of the prompt as the model sees it (chat template included).
fn prompt_end(engine: &LlamaEngine, suite: &Suite, prompt: &str) -> Option<char> {
    match suite.model {
        ModelKind::Chat => engine.chat_prompt(prompt).ok()?.chars().next_back(),
        ModelKind::Base => prompt.chars().next_back(),
    }
}

fn run_condition(
    engine: &mut LlamaEngine,
    vocab: &Arc<Vocabulary>,
    suite: &Suite,
    condition: Condition,
    ctx: &mut Context<'_>,
    results: &mut Results,
) -> Result<()> {
    // Non-control prompts in one batched run; control prompts one at a time (module docs).
    let mut batched = Vec::new();
    let mut batched_keys = Vec::new();
    let mut solo = Vec::new();
    let mut solo_keys = Vec::new();
    for (i, item) in suite.items.iter().enumerate() {
        let prompt = if condition == Condition::Instruct {
            suite.instructed(item)
        } else {
            item.prompt.clone()
        };
        let maker = GuardMaker::new(engine, vocab, condition, &item.words, &ctx.morphology)?;
        for seed in 0..ctx.seeds {
            let request = BatchRequest {
                prompt: prompt.clone(),
                guard: maker.make(),
                options: generate_options(suite, condition, seed, ctx.temperature),
            };
            if item.kind == "control" {
                solo.push(request);
                solo_keys.push((i, seed));
            } else {
                batched.push(request);
                batched_keys.push((i, seed));
            }
        }
    }
    let label = format!("{} / {}", suite.name, condition.label());
    let base = ctx.done;
    let (cancel, total) = (ctx.cancel, ctx.total);
    let progress = &mut *ctx.progress;
    let mut show = |n: usize| {
        progress(&Progress {
            done: base + n,
            total,
            label: &label,
        })
    };
    let run = generate_batch(&mut *engine, batched, cancel, &mut |n| show(n))?;
    let (seconds, tokens_per_second) = (run.seconds, run.tokens_per_second);
    let mut outputs: Vec<((usize, u64), BatchOutput)> =
        batched_keys.into_iter().zip(run.outputs).collect();
    let t0 = Instant::now();
    for (key, request) in solo_keys.into_iter().zip(solo) {
        let finished = outputs.len();
        let mut one = generate_batch(&mut *engine, vec![request], cancel, &mut |n| {
            show(finished + n)
        })?;
        outputs.push((key, one.outputs.remove(0)));
    }
    let control_seconds = t0.elapsed().as_secs_f64();
    ctx.done = base + outputs.len();
    outputs.sort_by_key(|(key, _)| *key);
    // Perplexity under the unconstrained model: output tokens after the prompt without the
    // instruction, no guard.
    let mut items: Vec<(Vec<TokenId>, Vec<TokenId>)> = Vec::new();
    for ((i, _), out) in &outputs {
        let p = prompt_tokens(
            &*engine,
            &suite.items[*i].prompt,
            suite.model == ModelKind::Base,
        )?;
        items.push((p, out.generation.tokens.clone()));
    }
    let nll = score_batch(&mut *engine, &items)?;
    for (((i, seed), out), nll) in outputs.into_iter().zip(nll) {
        let item = &suite.items[i];
        let g = out.generation;
        let before = prompt_end(engine, suite, &item.prompt);
        results.samples.push(Sample {
            suite: suite.name.clone(),
            condition,
            kind: item.kind.clone(),
            item: i,
            seed,
            words: item.words.clone(),
            tiers: detect::detect(&item.words, before, &g.text),
            text: g.text,
            tokens: g.tokens.len(),
            nll,
            finish: g.finish_reason.as_str(),
            neg_log_z: out
                .removed_mass
                .iter()
                .map(|&m| metrics::neg_log_z(m))
                .sum(),
            removed: out.removed_mass,
            backtracks: g.stats.backtracks,
            rewound: g.stats.rewound_tokens,
            guard_us: g.stats.guard_us_per_token,
            masked_steps: g.stats.masked_steps,
            changed_vs_off: None,
        });
    }
    results.costs.push(RunCost {
        suite: suite.name.clone(),
        condition,
        tokens_per_second,
        seconds,
        control_seconds,
    });
    Ok(())
}

fn run_sweep(
    engine: &mut LlamaEngine,
    vocab: &Arc<Vocabulary>,
    suite: &Suite,
    sizes: &[usize],
    conds: &[Condition],
    ctx: &mut Context<'_>,
    results: &mut Results,
) -> Result<()> {
    let max = sizes.iter().copied().max().unwrap_or(1);
    let dictionary =
        dictionary_words(Language::English, max).map_err(|e| Error::Workload(e.to_string()))?;
    // Reference: no ban.
    let mut plan: Vec<(usize, Condition)> = vec![(1, Condition::Off)];
    for &size in sizes {
        for &c in conds {
            plan.push((size, c));
        }
    }
    for (size, condition) in plan {
        let mut requests = Vec::new();
        let mut words_of = Vec::new();
        let mut compile_ms = 0.0;
        for item in &suite.items {
            let target = item.words[0].to_lowercase();
            let mut words = vec![item.words[0].clone()];
            words.extend(
                dictionary
                    .iter()
                    .filter(|w| **w != target)
                    .take(size.saturating_sub(1))
                    .cloned(),
            );
            // Compile and warm-up time (the list differs per prompt).
            let t0 = Instant::now();
            let maker = GuardMaker::new(engine, vocab, condition, &words, &ctx.morphology)?;
            compile_ms += t0.elapsed().as_secs_f64() * 1e3;
            for seed in 0..ctx.seeds {
                requests.push(BatchRequest {
                    prompt: item.prompt.clone(),
                    guard: maker.make(),
                    options: generate_options(suite, condition, seed, ctx.temperature),
                });
                words_of.push(item.words[..1].to_vec());
            }
        }
        let base = ctx.done;
        let label = format!("sweep / {} words / {}", size, condition.label());
        let run = {
            let (cancel, total) = (ctx.cancel, ctx.total);
            let progress = &mut *ctx.progress;
            generate_batch(&mut *engine, requests, cancel, &mut |n| {
                progress(&Progress {
                    done: base + n,
                    total,
                    label: &label,
                })
            })?
        };
        ctx.done = base + run.outputs.len();
        let mut leaks = 0;
        let mut guard_us = 0.0;
        let mut tokens = 0usize;
        for (out, words) in run.outputs.iter().zip(&words_of) {
            let g = &out.generation;
            let before = prompt_end(engine, suite, &suite.items[0].prompt);
            if detect::detect(words, before, &g.text)[detect::NORMALISED] {
                leaks += 1;
            }
            guard_us += g.stats.guard_us_per_token * g.tokens.len() as f64;
            tokens += g.tokens.len();
        }
        if condition == Condition::Off {
            results.sweep_off_tps = Some(run.tokens_per_second);
            continue;
        }
        results.sweep.push(SweepPoint {
            size,
            condition,
            outputs: run.outputs.len(),
            leaks,
            tokens_per_second: run.tokens_per_second,
            guard_us: guard_us / tokens.max(1) as f64,
            compile_ms: compile_ms / suite.items.len() as f64,
        });
    }
    Ok(())
}

/// For control prompts: does each guarded output differ from B0's with the same seed?
fn mark_control_changes(samples: &mut [Sample]) {
    let off: Vec<(String, usize, u64, String)> = samples
        .iter()
        .filter(|s| s.condition == Condition::Off && s.kind == "control")
        .map(|s| (s.suite.clone(), s.item, s.seed, s.text.clone()))
        .collect();
    for s in samples.iter_mut().filter(|s| s.kind == "control") {
        if let Some((_, _, _, text)) = off
            .iter()
            .find(|(su, i, seed, _)| *su == s.suite && *i == s.item && *seed == s.seed)
        {
            s.changed_vs_off = Some(*text != s.text);
        }
    }
}
