//! `taboo eval`: the evaluation protocol of DESIGN.md §7 in one command — conditions ×
//! prompt suites × seeds, leak rates at five detector tiers, perplexity under the
//! unconstrained model, diversity, distortion and cost, with bootstrap confidence intervals,
//! written as JSON, CSV, a Markdown report and SVG plots. docs/EVAL.md describes it all.
//!
//! Generations run through taboo-llm's batched decoding ([`taboo_llm::generate_batch`]):
//! `--batch` sequences share each llama.cpp decode call, each with its own guard, sampler
//! and seed, backtracking included. Every (suite, condition) is one batched run over all its
//! prompts and seeds, so its tokens/s is a throughput; all conditions see the same prompts
//! and seeds (paired).

mod detect;
mod metrics;
mod plot;
mod report;
mod suite;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use taboo::workload::{dictionary_words, Language};
use taboo::{
    Automaton, BanList, EntryOptions, Guard, GuardConfig, LogitsGuard, MaskTable, NaiveGuard,
    TokenId, Vocabulary,
};
use taboo_llm::{
    generate_batch, prompt_tokens, score_batch, vocabulary_from_engine, Backtrack, BatchRequest,
    Engine, EngineOptions, GenerateOptions, LlamaEngine, SamplingConfig,
};

use crate::ban_args::naive_sequences_variants;
use crate::model_args::{find_model, DEFAULT_MODEL};
use crate::CliResult;
use suite::{ModelKind, Suite, SUITES, SWEEP};

/// File name `scripts/fetch-models.sh --gemma` gives the base model.
const BASE_MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

/// Run the evaluation protocol: ban conditions × prompt suites × seeds → leak rates at five
/// detector tiers, perplexity, diversity, distortion and cost, as results.json, results.csv,
/// report.md and SVG plots.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo eval --quick --out /tmp/eval          # the CI subset (< 5 min on 2 cores), checks invariants\n  \
    taboo eval --out eval-full                  # every suite, 3 seeds (docs/RESULTS.md)\n  \
    taboo eval --suite en-chat,sweep --seeds 5  # some suites only\n  \
    taboo eval --quick --batch 1 --out /tmp/seq # the same work one sequence at a time\n\n\
    Suites: en-chat (SmolLM2 chat: cloze, taboo, explicit, control), en-open (long ban lists),\n\
    en-gemma and ru-gemma (Gemma 3 270M continuation), sweep (ban lists of 1 … 10,000 words).\n\
    Conditions: B0 off · B1 instruction only · B2 naive token-id ban, without / with the\n\
    leading-space spellings · B4 hard · B5 soft penalty · B6 backtracking · B7 backtracking +\n\
    disguises. Tiers: exact, normalised, inflected, disguised, spaced (docs/EVAL.md).")]
pub struct Args {
    /// Suites to run, comma-separated: en-chat, en-open, en-gemma, ru-gemma, sweep. Default: all.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    suite: Vec<String>,
    /// The CI subset: 2 prompts per kind, shorter outputs, one soft strength, a 3-point sweep;
    /// fails (exit 1) if an invariant breaks (a guaranteed tier leaks, a perplexity is not
    /// finite).
    #[arg(long)]
    quick: bool,
    /// Directory for results.json, results.csv, report.md and the plots (created).
    #[arg(long, value_name = "DIR", default_value = "eval-out")]
    out: PathBuf,
    /// Seeds per prompt and condition (0, 1, …).
    #[arg(long, value_name = "N", default_value_t = 3)]
    seeds: u64,
    /// Sequences decoded together (1 = one at a time).
    #[arg(long, value_name = "N", default_value_t = 8)]
    batch: usize,
    /// Sampling temperature.
    #[arg(long, value_name = "T", default_value_t = 0.7)]
    temperature: f32,
    /// Instruct model for the chat suites and the sweep. Default: models/SmolLM2-135M-Instruct-Q4_1.gguf.
    #[arg(long, value_name = "PATH")]
    chat_model: Option<PathBuf>,
    /// Base model for the continuation suites. Default: models/gemma-3-270m-q4_k_m.gguf.
    #[arg(long, value_name = "PATH")]
    base_model: Option<PathBuf>,
    /// Directory of the suite files. Default: testdata/eval here or in the source tree.
    #[arg(long, value_name = "DIR")]
    suites_dir: Option<PathBuf>,
    /// CPU threads.
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: usize,
    /// Bootstrap resamples per confidence interval.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    resamples: usize,
}

/// A ban condition of DESIGN.md §7.
#[derive(Clone, Copy, Debug, PartialEq)]
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

/// The entry options of B7: every inflected form and every disguise of each word. Its
/// guaranteed tiers stay exact, normalised and disguised: the inflected tier's detector is
/// deliberately wider than any dictionary (a Russian stem plus up to three letters also
/// catches кошкин, another lexeme), so its B7 figure is a measurement, not an invariant.
fn full_entry_options() -> EntryOptions {
    EntryOptions {
        disguise: true,
        forms: true,
        ..EntryOptions::default()
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
    pub suite: String,
    pub condition: Condition,
    pub kind: String,
    pub item: usize,
    pub seed: u64,
    pub words: Vec<String>,
    pub text: String,
    pub tokens: usize,
    /// Σ −log p(token) under the unconstrained model, after the prompt without instruction.
    pub nll: f64,
    pub finish: &'static str,
    /// Per detector tier.
    pub tiers: [bool; 5],
    /// Removed mass per kept step.
    pub removed: Vec<f32>,
    /// Σ_t −log Z_t.
    pub neg_log_z: f64,
    pub backtracks: usize,
    pub rewound: usize,
    pub guard_us: f64,
    pub masked_steps: usize,
    /// Control prompts: the text differs from B0's with the same seed.
    pub changed_vs_off: Option<bool>,
}

/// Throughput of one batched run.
#[derive(Clone, Debug)]
pub struct RunCost {
    pub suite: String,
    pub condition: Condition,
    pub tokens_per_second: f64,
    pub seconds: f64,
}

/// One point of the ban-list-size sweep.
#[derive(Clone, Debug)]
pub struct SweepPoint {
    pub size: usize,
    pub condition: Condition,
    pub outputs: usize,
    pub leaks: usize,
    pub tokens_per_second: f64,
    pub guard_us: f64,
    pub compile_ms: f64,
}

/// Everything a run produced.
pub struct Results {
    pub samples: Vec<Sample>,
    pub costs: Vec<RunCost>,
    pub sweep: Vec<SweepPoint>,
    pub sweep_off_tps: Option<f64>,
    pub settings: Vec<(String, String)>,
    pub seconds: f64,
}

/// A progress line on stderr: done/total, elapsed, ETA, what runs.
struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    tty: bool,
    last_decile: usize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            last_decile: 0,
        }
    }

    fn show(&mut self, done: usize, label: &str) {
        self.done = done;
        let secs = self.started.elapsed().as_secs_f64();
        let eta = if done > 0 {
            secs / done as f64 * (self.total - done.min(self.total)) as f64
        } else {
            f64::NAN
        };
        let width = 24;
        let filled = (done * width / self.total.max(1)).min(width);
        let line = format!(
            "[{}{}] {done}/{} generations, {} elapsed, ETA {}  {label}",
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.total,
            clock(secs),
            if eta.is_finite() {
                clock(eta)
            } else {
                "?".into()
            }
        );
        if self.tty {
            eprint!("\r{line:<110}");
        } else {
            let decile = done * 10 / self.total.max(1);
            if decile > self.last_decile || done == 0 {
                self.last_decile = decile;
                eprintln!("{line}");
            }
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}m{:02}s", s / 60, s % 60)
}

/// Runs `taboo eval`.
pub fn run(args: Args) -> CliResult {
    if args.seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    if !(1..=64).contains(&args.batch) {
        return Err(format!("--batch {}: expected 1 to 64 sequences", args.batch).into());
    }
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        return Err(format!("--temperature {}: expected a number ≥ 0", args.temperature).into());
    }
    let selected: Vec<String> = if args.suite.is_empty() {
        SUITES
            .iter()
            .map(|s| s.to_string())
            .chain([SWEEP.to_string()])
            .collect()
    } else {
        args.suite.clone()
    };
    for s in &selected {
        if !SUITES.contains(&s.as_str()) && s != SWEEP {
            return Err(format!(
                "unknown suite {s:?}: expected one of {}, {SWEEP}",
                SUITES.join(", ")
            )
            .into());
        }
    }
    let dir = args.suites_dir.clone().unwrap_or_else(suite::default_dir);
    let mut suites: Vec<Suite> = Vec::new();
    for name in SUITES.iter().filter(|n| selected.iter().any(|s| s == *n)) {
        let mut s = Suite::load(&dir, name)?;
        if args.quick {
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
    let sweep_sizes: Vec<usize> = if args.quick {
        vec![1, 100, 10_000]
    } else {
        vec![1, 10, 100, 1_000, 10_000]
    };
    let sweep_suite = if sweep {
        let mut s = Suite::load(&dir, "en-chat")?;
        s.items.retain(|i| i.kind == "cloze");
        s.items.truncate(if args.quick { 2 } else { 6 });
        s.max_tokens = 32;
        Some(s)
    } else {
        None
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    // Fail on a missing dictionary before any model runs.
    if sweep {
        dictionary_words(Language::English, *sweep_sizes.iter().max().unwrap_or(&1))?;
    }

    let conds = conditions(args.quick);
    let seeds = args.seeds as usize;
    let sweep_conds = [Condition::Naive, Condition::Hard];
    let total = suites.iter().map(|s| s.items.len()).sum::<usize>() * conds.len() * seeds
        + sweep_suite.as_ref().map_or(0, |s| {
            s.items.len() * seeds * (1 + sweep_sizes.len() * sweep_conds.len())
        });
    let mut progress = Progress::new(total);
    progress.show(0, "loading");
    let started = Instant::now();
    let mut results = Results {
        samples: Vec::new(),
        costs: Vec::new(),
        sweep: Vec::new(),
        sweep_off_tps: None,
        settings: Vec::new(),
        seconds: 0.0,
    };
    let cancel = AtomicBool::new(false);
    let ctx = Context {
        seeds: args.seeds,
        temperature: args.temperature,
        resamples: args.resamples,
        morphology: taboo::forms::Morphology::new(),
    };

    for kind in [ModelKind::Chat, ModelKind::Base] {
        let mine: Vec<&Suite> = suites.iter().filter(|s| s.model == kind).collect();
        let sweep_here = kind == ModelKind::Chat && sweep_suite.is_some();
        if mine.is_empty() && !sweep_here {
            continue;
        }
        let path = match kind {
            ModelKind::Chat => args
                .chat_model
                .clone()
                .unwrap_or_else(|| find_model(DEFAULT_MODEL)),
            ModelKind::Base => args
                .base_model
                .clone()
                .unwrap_or_else(|| find_model(BASE_MODEL)),
        };
        let mut engine = LlamaEngine::load(
            &path,
            &EngineOptions {
                threads: args.threads,
                context_size: 1024,
                sequences: args.batch,
                ..EngineOptions::default()
            },
        )
        .map_err(|e| match kind {
            ModelKind::Base => {
                format!("{e} (the base model comes with scripts/fetch-models.sh --gemma)")
            }
            ModelKind::Chat => e.to_string(),
        })?;
        results.settings.push((
            format!(
                "{} model",
                if kind == ModelKind::Chat {
                    "chat"
                } else {
                    "base"
                }
            ),
            path.display().to_string(),
        ));
        let vocab = Arc::new(vocabulary_from_engine(&engine));
        for s in mine {
            for &c in &conds {
                run_condition(
                    &mut engine,
                    &vocab,
                    s,
                    c,
                    &ctx,
                    &cancel,
                    &mut progress,
                    &mut results,
                )?;
            }
        }
        if let (true, Some(s)) = (sweep_here, &sweep_suite) {
            run_sweep(
                &mut engine,
                &vocab,
                s,
                &sweep_sizes,
                &sweep_conds,
                &ctx,
                &cancel,
                &mut progress,
                &mut results,
            )?;
        }
    }
    progress.finish();
    mark_control_changes(&mut results.samples);
    results.seconds = started.elapsed().as_secs_f64();
    results.settings.extend([
        (
            "command".into(),
            std::env::args().collect::<Vec<_>>().join(" "),
        ),
        ("commit".into(), git_commit()),
        ("seeds".into(), args.seeds.to_string()),
        ("temperature".into(), args.temperature.to_string()),
        ("batch".into(), args.batch.to_string()),
        ("threads".into(), args.threads.to_string()),
        ("quick".into(), args.quick.to_string()),
        ("bootstrap resamples".into(), args.resamples.to_string()),
        ("wall time".into(), clock(results.seconds)),
    ]);
    let violations = report::write_all(&args.out, &results, &ctx)?;
    eprintln!(
        "taboo eval: {} generations in {}; wrote {}/report.md, results.json, results.csv and plots",
        results.samples.len() + results.sweep.iter().map(|p| p.outputs).sum::<usize>(),
        clock(results.seconds),
        args.out.display()
    );
    if !violations.is_empty() {
        for v in &violations {
            eprintln!("invariant broken: {v}");
        }
        if args.quick {
            return Err(format!("{} invariant(s) broken (see report.md)", violations.len()).into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Settings shared by every run.
pub struct Context {
    pub seeds: u64,
    pub temperature: f32,
    pub resamples: usize,
    /// Word forms for B7, one for the run (the Russian dictionary is read once).
    pub morphology: taboo::forms::Morphology,
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn table(
    vocab: &Arc<Vocabulary>,
    words: &[String],
    options: EntryOptions,
    morphology: &taboo::forms::Morphology,
) -> CliResult<Arc<MaskTable>> {
    let list = BanList::from_words(words.iter().map(String::as_str), options)
        .map_err(|e| format!("cannot ban {words:?}: {e}"))?;
    let (list, _) = list.expand_forms(morphology)?;
    let table = Arc::new(MaskTable::new(
        Arc::new(Automaton::compile(&list)?),
        vocab.clone(),
    ));
    table.warm_up();
    Ok(table)
}

/// Makes the guards of one condition and ban list: the compiled table (or the naive
/// sequences) is built once and shared by every seed's guard.
enum GuardMaker {
    None,
    Naive(NaiveGuard),
    Automaton(Arc<MaskTable>, GuardConfig),
}

impl GuardMaker {
    /// The guard of `condition` for `words`.
    fn new(
        engine: &LlamaEngine,
        vocab: &Arc<Vocabulary>,
        condition: Condition,
        words: &[String],
        morphology: &taboo::forms::Morphology,
    ) -> CliResult<GuardMaker> {
        let tokenize = |t: &str| engine.tokenize(t, false);
        Ok(match condition {
            Condition::Off | Condition::Instruct => GuardMaker::None,
            Condition::Naive | Condition::NaiveSpace => GuardMaker::Naive(NaiveGuard::new(
                vocab.clone(),
                naive_sequences_variants(&tokenize, words, condition == Condition::NaiveSpace),
            )),
            Condition::Hard | Condition::Backtrack => GuardMaker::Automaton(
                table(vocab, words, EntryOptions::default(), morphology)?,
                GuardConfig::default(),
            ),
            Condition::Soft(penalty) => GuardMaker::Automaton(
                table(vocab, words, EntryOptions::default(), morphology)?,
                GuardConfig {
                    mode: taboo::Mode::Soft {
                        penalty,
                        partial_penalty: 0.0,
                    },
                    ..GuardConfig::default()
                },
            ),
            Condition::Full => GuardMaker::Automaton(
                table(vocab, words, full_entry_options(), morphology)?,
                GuardConfig::default(),
            ),
        })
    }

    /// A fresh guard (one per sequence), or `None` for the unguarded conditions.
    fn make(&self) -> Option<Box<dyn LogitsGuard>> {
        match self {
            GuardMaker::None => None,
            GuardMaker::Naive(g) => Some(Box::new(g.clone())),
            GuardMaker::Automaton(table, config) => {
                Some(Box::new(Guard::new(table.clone(), *config)))
            }
        }
    }
}

fn options(suite: &Suite, condition: Condition, seed: u64, temperature: f32) -> GenerateOptions {
    GenerateOptions {
        sampling: SamplingConfig {
            temperature,
            seed,
            ..SamplingConfig::default()
        },
        max_tokens: suite.max_tokens,
        raw: suite.model == ModelKind::Base,
        backtrack: matches!(condition, Condition::Backtrack | Condition::Full)
            .then(Backtrack::default),
        ..GenerateOptions::default()
    }
}

/// The last character of the prompt as the model sees it (chat template included).
fn prompt_end(engine: &LlamaEngine, suite: &Suite, prompt: &str) -> Option<char> {
    match suite.model {
        ModelKind::Chat => engine.chat_prompt(prompt).ok()?.chars().next_back(),
        ModelKind::Base => prompt.chars().next_back(),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_condition(
    engine: &mut LlamaEngine,
    vocab: &Arc<Vocabulary>,
    suite: &Suite,
    condition: Condition,
    ctx: &Context,
    cancel: &AtomicBool,
    progress: &mut Progress,
    results: &mut Results,
) -> CliResult<()> {
    let mut requests = Vec::new();
    let mut keys = Vec::new();
    for (i, item) in suite.items.iter().enumerate() {
        let prompt = if condition == Condition::Instruct {
            suite.instructed(item)
        } else {
            item.prompt.clone()
        };
        let maker = GuardMaker::new(engine, vocab, condition, &item.words, &ctx.morphology)?;
        for seed in 0..ctx.seeds {
            requests.push(BatchRequest {
                prompt: prompt.clone(),
                guard: maker.make(),
                options: options(suite, condition, seed, ctx.temperature),
            });
            keys.push((i, seed));
        }
    }
    let base = progress.done;
    let label = format!("{} / {}", suite.name, condition.label());
    let run = generate_batch(&mut *engine, requests, cancel, &mut |n| {
        progress.show(base + n, &label)
    })?;
    // Perplexity under the unconstrained model: output tokens after the prompt without the
    // instruction, no guard.
    let mut items: Vec<(Vec<TokenId>, Vec<TokenId>)> = Vec::new();
    for (&(i, _), out) in keys.iter().zip(&run.outputs) {
        let p = prompt_tokens(
            &*engine,
            &suite.items[i].prompt,
            suite.model == ModelKind::Base,
        )?;
        items.push((p, out.generation.tokens.clone()));
    }
    let nll = score_batch(&mut *engine, &items)?;
    for ((&(i, seed), out), nll) in keys.iter().zip(run.outputs).zip(nll) {
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
        tokens_per_second: run.tokens_per_second,
        seconds: run.seconds,
    });
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_sweep(
    engine: &mut LlamaEngine,
    vocab: &Arc<Vocabulary>,
    suite: &Suite,
    sizes: &[usize],
    conds: &[Condition],
    ctx: &Context,
    cancel: &AtomicBool,
    progress: &mut Progress,
    results: &mut Results,
) -> CliResult<()> {
    let max = sizes.iter().copied().max().unwrap_or(1);
    let dictionary = dictionary_words(Language::English, max)?;
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
                    options: options(suite, condition, seed, ctx.temperature),
                });
                words_of.push(item.words[..1].to_vec());
            }
        }
        let base = progress.done;
        let label = format!("sweep / {} words / {}", size, condition.label());
        let run = generate_batch(&mut *engine, requests, cancel, &mut |n| {
            progress.show(base + n, &label)
        })?;
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
