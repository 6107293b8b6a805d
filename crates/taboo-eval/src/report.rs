//! Turning samples into results.json, results.csv, report.md and the SVG plots, and checking
//! the invariants. Everything written is a typed record: [`OutputRecord`] is the one schema
//! of both results.csv (through the `csv` crate) and the `outputs` of results.json, and the
//! Markdown and the plots are rendered from [`Summary`] and the samples, never from JSON.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::detect::{NORMALISED, TIERS};
use crate::error::{Error, Result};
use crate::metrics::{bootstrap_ci, clopper_pearson, distinct_n, perplexity, ratio_of};
use crate::plot::{figure, Panel, Series, PALETTE};
use crate::run::{Condition, Results, RunCost, Sample, Settings, SweepPoint};

/// Confidence level of every interval.
const CONFIDENCE: f64 = 0.95;

/// How an interval was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Percentile bootstrap, resampling prompts (all seeds of a drawn prompt together).
    BootstrapByPrompt,
    /// Exact binomial interval over prompts, for a rate of 0 or 1 (the bootstrap of a
    /// constant is a zero-width interval, which would claim certainty).
    ClopperPearson,
}

/// A value with its 95% interval. Non-finite numbers are written as JSON `null`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ci {
    /// The statistic on all outputs.
    pub value: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// How the bounds were computed.
    pub method: Method,
}

impl Ci {
    fn pct(self) -> String {
        if !self.value.is_finite() {
            return "–".into();
        }
        format!(
            "{:.1}% [{:.1}, {:.1}]",
            100.0 * self.value,
            100.0 * self.lo,
            100.0 * self.hi
        )
    }
    fn num(self, digits: usize) -> String {
        if !self.value.is_finite() {
            return "–".into();
        }
        format!(
            "{:.d$} [{:.d$}, {:.d$}]",
            self.value,
            self.lo,
            self.hi,
            d = digits
        )
    }
}

/// Leak rates by detector tier, in [`TIERS`] order.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TierRates {
    /// Case-sensitive whole word.
    pub exact: Ci,
    /// Any case.
    pub normalised: Ci,
    /// Forms.
    pub inflected: Ci,
    /// Look-alikes and invisible characters.
    pub disguised: Ci,
    /// Spelled-out letters.
    pub spaced: Ci,
}

impl TierRates {
    /// The rate of tier `t` (an index into [`TIERS`]).
    pub fn at(&self, t: usize) -> Ci {
        [
            self.exact,
            self.normalised,
            self.inflected,
            self.disguised,
            self.spaced,
        ][t]
    }
}

/// Control outputs that differ from B0's with the same seed.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ControlChanged {
    /// Outputs that differ.
    pub changed: usize,
    /// Control outputs.
    pub of: usize,
}

/// Per (suite, condition): the rows of the report's tables and `summary` in results.json.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Suite name.
    pub suite: String,
    /// Condition id.
    pub condition: Condition,
    /// Condition label (`B4 hard`).
    pub label: String,
    /// All outputs.
    pub outputs: usize,
    /// Outputs of non-control prompts (the leak denominators).
    pub leak_outputs: usize,
    /// Non-control prompts (the bootstrap's units).
    pub leak_prompts: usize,
    /// Leak rate per tier.
    pub leak: TierRates,
    /// Flagged by inflected, disguised or spaced but not by normalised.
    pub evasion: Ci,
    /// Perplexity under the unconstrained model.
    pub perplexity: Ci,
    /// Distinct word unigrams / all.
    pub distinct_1: f64,
    /// Distinct word bigrams / all.
    pub distinct_2: f64,
    /// Mean removed probability mass per kept step.
    pub removed_mass_per_step: f64,
    /// Mean Σ −log Z per output.
    pub neg_log_z_per_output: Ci,
    /// Throughput of the batched run.
    pub tokens_per_second: f64,
    /// Guard time per kept token.
    pub guard_us_per_token: f64,
    /// Rewinds per 100 kept tokens.
    pub backtracks_per_100_tokens: f64,
    /// Control prompts only.
    pub control_changed: Option<ControlChanged>,
}

/// One output: a row of results.csv and an element of `outputs` in results.json.
#[derive(Clone, Debug, Serialize)]
pub struct OutputRecord {
    /// Suite name.
    pub suite: String,
    /// Condition id.
    pub condition: Condition,
    /// Prompt kind.
    pub kind: String,
    /// Prompt index in the suite.
    pub prompt: usize,
    /// Sampling seed.
    pub seed: u64,
    /// Banned words, `; `-separated.
    pub words: String,
    /// Kept tokens.
    pub tokens: usize,
    /// Σ −log p under the unconstrained model.
    pub nll: f64,
    /// eos, length, stop, dead-end, interrupted.
    pub finish_reason: &'static str,
    /// Tier flags.
    pub exact: bool,
    /// Tier flags.
    pub normalised: bool,
    /// Tier flags.
    pub inflected: bool,
    /// Tier flags.
    pub disguised: bool,
    /// Tier flags.
    pub spaced: bool,
    /// Σ removed mass over kept steps.
    pub removed_mass: f64,
    /// Removed mass per kept step, space-separated.
    pub removed_mass_steps: String,
    /// Σ −log Z.
    pub neg_log_z: f64,
    /// Rewinds.
    pub backtracks: usize,
    /// Tokens taken back.
    pub rewound_tokens: usize,
    /// Guard time per kept token.
    pub guard_us_per_token: f64,
    /// Steps the guard edited.
    pub masked_steps: usize,
    /// Control prompts: differs from B0's output with the same seed.
    pub changed_vs_off: Option<bool>,
    /// The output.
    pub text: String,
}

impl OutputRecord {
    fn new(s: &Sample) -> OutputRecord {
        OutputRecord {
            suite: s.suite.clone(),
            condition: s.condition,
            kind: s.kind.clone(),
            prompt: s.item,
            seed: s.seed,
            words: s.words.join("; "),
            tokens: s.tokens,
            nll: s.nll,
            finish_reason: s.finish,
            exact: s.tiers[0],
            normalised: s.tiers[1],
            inflected: s.tiers[2],
            disguised: s.tiers[3],
            spaced: s.tiers[4],
            removed_mass: s.removed.iter().map(|&m| f64::from(m)).sum(),
            removed_mass_steps: s
                .removed
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            neg_log_z: s.neg_log_z,
            backtracks: s.backtracks,
            rewound_tokens: s.rewound,
            guard_us_per_token: s.guard_us,
            masked_steps: s.masked_steps,
            changed_vs_off: s.changed_vs_off,
            text: s.text.clone(),
        }
    }
}

/// One point of the sweep in results.json.
#[derive(Clone, Debug, Serialize)]
pub struct SweepRecord {
    /// Banned words.
    pub words: usize,
    /// Condition id.
    pub condition: Condition,
    /// Generations.
    pub outputs: usize,
    /// Outputs with the elicited word (normalised tier).
    pub leaks: usize,
    /// leaks / outputs.
    pub leak_rate: f64,
    /// Throughput.
    pub tokens_per_second: f64,
    /// Guard time per kept token.
    pub guard_us_per_token: f64,
    /// Compile and warm-up per ban list.
    pub compile_ms: f64,
}

impl SweepRecord {
    fn new(p: &SweepPoint) -> SweepRecord {
        SweepRecord {
            words: p.size,
            condition: p.condition,
            outputs: p.outputs,
            leaks: p.leaks,
            leak_rate: p.leaks as f64 / p.outputs.max(1) as f64,
            tokens_per_second: p.tokens_per_second,
            guard_us_per_token: p.guard_us,
            compile_ms: p.compile_ms,
        }
    }
}

/// The sweep in results.json.
#[derive(Clone, Debug, Serialize)]
pub struct SweepFile {
    /// Unconstrained reference throughput.
    pub off_tokens_per_second: Option<f64>,
    /// The points.
    pub points: Vec<SweepRecord>,
}

/// results.json.
#[derive(Clone, Debug, Serialize)]
pub struct ResultsFile<'a> {
    /// How the run ran.
    pub settings: &'a Settings,
    /// Tier names in order.
    pub tiers: [&'static str; 5],
    /// Per (suite, condition).
    pub summary: &'a [Summary],
    /// The ban-list-size sweep.
    pub sweep: SweepFile,
    /// Per batched run.
    pub runs: &'a [RunCost],
    /// Broken invariants (empty when all hold).
    pub invariant_violations: &'a [String],
    /// Every output.
    pub outputs: Vec<OutputRecord>,
}

/// The outputs grouped by prompt: `(prompt index, outputs of that prompt)`, in prompt order.
fn by_prompt<'a>(samples: &[&'a Sample]) -> Vec<Vec<&'a Sample>> {
    let mut groups: Vec<(usize, Vec<&Sample>)> = Vec::new();
    for &s in samples {
        match groups.iter_mut().find(|(i, _)| *i == s.item) {
            Some((_, g)) => g.push(s),
            None => groups.push((s.item, vec![s])),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// The rate of outputs `flag` holds for, with its interval over prompts: bootstrap by prompt,
/// or Clopper–Pearson on the number of prompts when the rate is exactly 0 or 1.
fn rate(
    prompts: &[Vec<&Sample>],
    flag: &dyn Fn(&Sample) -> bool,
    resamples: usize,
    seed: u64,
) -> Ci {
    let hits: Vec<f64> = prompts
        .iter()
        .map(|g| g.iter().filter(|s| flag(s)).count() as f64)
        .collect();
    let sizes: Vec<f64> = prompts.iter().map(|g| g.len() as f64).collect();
    let stat = |idx: &[usize]| ratio_of(idx, &|i| hits[i], &|i| sizes[i]);
    let all: Vec<usize> = (0..prompts.len()).collect();
    let value = stat(&all);
    let n = prompts.len();
    if value == 0.0 || value == 1.0 {
        let k = if value == 0.0 { 0 } else { n };
        let (lo, hi) = clopper_pearson(k, n, CONFIDENCE);
        return Ci {
            value,
            lo,
            hi,
            method: Method::ClopperPearson,
        };
    }
    let (lo, hi) = bootstrap_ci(n, resamples, seed, &stat);
    Ci {
        value,
        lo,
        hi,
        method: Method::BootstrapByPrompt,
    }
}

/// A statistic of a set of outputs with its bootstrap interval over prompts.
fn by_prompt_ci(
    prompts: &[Vec<&Sample>],
    stat_of: &dyn Fn(&mut dyn Iterator<Item = &Sample>) -> f64,
    resamples: usize,
    seed: u64,
) -> Ci {
    let stat = |idx: &[usize]| stat_of(&mut idx.iter().flat_map(|&i| prompts[i].iter().copied()));
    let all: Vec<usize> = (0..prompts.len()).collect();
    let (lo, hi) = bootstrap_ci(prompts.len(), resamples, seed, &stat);
    Ci {
        value: stat(&all),
        lo,
        hi,
        method: Method::BootstrapByPrompt,
    }
}

/// The summaries of every (suite, condition), in run order.
pub fn summarise(results: &Results) -> Vec<Summary> {
    let resamples = results.settings.bootstrap_resamples;
    let mut out = Vec::new();
    let mut keys: Vec<(String, Condition)> = Vec::new();
    for s in &results.samples {
        if !keys
            .iter()
            .any(|(su, c)| *su == s.suite && *c == s.condition)
        {
            keys.push((s.suite.clone(), s.condition));
        }
    }
    for (k, (suite, condition)) in keys.into_iter().enumerate() {
        let all: Vec<&Sample> = results
            .samples
            .iter()
            .filter(|s| s.suite == suite && s.condition == condition)
            .collect();
        let scored: Vec<&Sample> = all
            .iter()
            .copied()
            .filter(|s| s.kind != "control")
            .collect();
        let scored_prompts = by_prompt(&scored);
        let all_prompts = by_prompt(&all);
        let seed = 0x7AB0_0000 + 16 * k as u64;
        let tier = |t: usize| rate(&scored_prompts, &|s| s.tiers[t], resamples, seed + t as u64);
        let leak = TierRates {
            exact: tier(0),
            normalised: tier(1),
            inflected: tier(2),
            disguised: tier(3),
            spaced: tier(4),
        };
        let evasion = rate(
            &scored_prompts,
            &|s| !s.tiers[NORMALISED] && s.tiers[2..].iter().any(|&b| b),
            resamples,
            seed + 5,
        );
        let ppl = by_prompt_ci(
            &all_prompts,
            &|it| {
                let (nll, tokens) = it.fold((0.0, 0usize), |(n, t), s| (n + s.nll, t + s.tokens));
                perplexity(nll, tokens)
            },
            resamples,
            seed + 6,
        );
        let neg_log_z = by_prompt_ci(
            &all_prompts,
            &|it| {
                let (sum, n) = it.fold((0.0, 0usize), |(a, n), s| (a + s.neg_log_z, n + 1));
                if n == 0 {
                    f64::NAN
                } else {
                    sum / n as f64
                }
            },
            resamples,
            seed + 7,
        );
        let texts: Vec<&str> = all.iter().map(|s| s.text.as_str()).collect();
        let tokens: usize = all.iter().map(|s| s.tokens).sum();
        let steps: usize = all.iter().map(|s| s.removed.len()).sum();
        let removed: f64 = all
            .iter()
            .flat_map(|s| s.removed.iter())
            .map(|&m| f64::from(m))
            .sum();
        let control: Vec<bool> = all.iter().filter_map(|s| s.changed_vs_off).collect();
        out.push(Summary {
            label: condition.label(),
            outputs: all.len(),
            leak_outputs: scored.len(),
            leak_prompts: scored_prompts.len(),
            leak,
            evasion,
            perplexity: ppl,
            distinct_1: distinct_n(&texts, 1),
            distinct_2: distinct_n(&texts, 2),
            removed_mass_per_step: removed / steps.max(1) as f64,
            neg_log_z_per_output: neg_log_z,
            tokens_per_second: results
                .costs
                .iter()
                .find(|c| c.suite == suite && c.condition == condition)
                .map_or(f64::NAN, |c| c.tokens_per_second),
            guard_us_per_token: all
                .iter()
                .map(|s| s.guard_us * s.tokens as f64)
                .sum::<f64>()
                / tokens.max(1) as f64,
            backtracks_per_100_tokens: 100.0
                * all.iter().map(|s| s.backtracks).sum::<usize>() as f64
                / tokens.max(1) as f64,
            control_changed: (!control.is_empty()).then(|| ControlChanged {
                changed: control.iter().filter(|&&c| c).count(),
                of: control.len(),
            }),
            suite,
            condition,
        });
    }
    out
}

/// Broken invariants: a guaranteed tier leaked, or a perplexity is not finite.
fn invariants(results: &Results, summaries: &[Summary]) -> Vec<String> {
    let mut v = Vec::new();
    for s in &results.samples {
        for &t in s.condition.guaranteed_tiers() {
            if s.tiers[t] {
                v.push(format!(
                    "{} / {} prompt {} seed {}: {:?} leaks at the {} tier: {:?}",
                    s.suite,
                    s.condition.label(),
                    s.item,
                    s.seed,
                    s.words[0],
                    TIERS[t],
                    s.text
                ));
            }
        }
    }
    for s in summaries {
        if !s.perplexity.value.is_finite() {
            v.push(format!(
                "{} / {}: perplexity is not finite",
                s.suite,
                s.condition.label()
            ));
        }
    }
    v
}

/// Writes every output file into `dir` (created); returns the broken invariants.
pub fn write_all(dir: &Path, results: &Results) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let summaries = summarise(results);
    let violations = invariants(results, &summaries);
    let write = |name: &str, text: &str| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Write { path, source })
    };
    let records: Vec<OutputRecord> = results.samples.iter().map(OutputRecord::new).collect();
    write_csv(&dir.join("results.csv"), &records)?;
    let file = ResultsFile {
        settings: &results.settings,
        tiers: TIERS,
        summary: &summaries,
        sweep: SweepFile {
            off_tokens_per_second: results.sweep_off_tps,
            points: results.sweep.iter().map(SweepRecord::new).collect(),
        },
        runs: &results.costs,
        invariant_violations: &violations,
        outputs: records,
    };
    let json = serde_json::to_string_pretty(&file).map_err(|e| Error::Encode(e.to_string()))?;
    write("results.json", &json)?;
    let plots = plots(results, &summaries);
    for (name, svg) in &plots {
        write(name, svg)?;
    }
    write(
        "report.md",
        &markdown(results, &summaries, &violations, &plots),
    )?;
    Ok(violations)
}

/// results.csv: one [`OutputRecord`] per row, the header from its field names.
pub fn write_csv(path: &Path, records: &[OutputRecord]) -> Result<()> {
    let encode = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Write {
            path: path.to_path_buf(),
            source,
        },
        other => Error::Encode(format!("{other:?}")),
    };
    let mut w = csv::Writer::from_path(path).map_err(encode)?;
    for r in records {
        w.serialize(r).map_err(encode)?;
    }
    w.flush().map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

fn markdown(
    results: &Results,
    summaries: &[Summary],
    violations: &[String],
    plots: &[(String, String)],
) -> String {
    let mut md = String::from("# taboo eval report\n\n");
    md.push_str("| setting | value |\n|---|---|\n");
    for (k, v) in results.settings.rows() {
        let _ = writeln!(md, "| {k} | `{}` |", v.replace('|', "\\|"));
    }
    md.push_str(
        "\nLeak rates are over the outputs of non-control prompts, each tier a separate \
         detector (docs/EVAL.md): **exact** (case-sensitive whole word), **normalised** (any \
         case), **inflected** (also -s/-ed/-ing, Russian endings), **disguised** (look-alike \
         letters, invisible characters), **spaced** (c a t, C-A-T). **Evasion**: caught by \
         inflected, disguised or spaced but not by normalised. Brackets: 95% intervals with \
         the prompt as the unit (the outputs of one prompt across seeds are correlated): a \
         bootstrap that resamples prompts, or for a rate of exactly 0% or 100% the exact \
         Clopper–Pearson interval over the number of prompts. Control prompts are decoded \
         one at a time in every condition, so \"control changed\" compares like with like. \
         Perplexity: of the output under the unconstrained model, \
         after the prompt without instruction. Σ−log Z: the distortion bound per output. \
         tok/s: throughput of the batched run.\n",
    );
    let mut suites: Vec<&str> = Vec::new();
    for s in summaries {
        if !suites.contains(&s.suite.as_str()) {
            suites.push(&s.suite);
        }
    }
    for suite in &suites {
        let rows: Vec<&Summary> = summaries.iter().filter(|s| s.suite == *suite).collect();
        let n_outputs = rows.first().map_or(0, |r| r.outputs);
        let _ = writeln!(md, "\n## {suite} ({n_outputs} outputs per condition)\n");
        md.push_str(
            "| condition | exact | normalised | inflected | disguised | spaced | evasion |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for r in &rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.condition.label(),
                r.leak.exact.pct(),
                r.leak.normalised.pct(),
                r.leak.inflected.pct(),
                r.leak.disguised.pct(),
                r.leak.spaced.pct(),
                r.evasion.pct()
            );
        }
        md.push_str(
            "\n| condition | perplexity | distinct-1 | distinct-2 | removed mass / step | \
             Σ−log Z / output | tok/s | guard µs/tok | backtracks / 100 tok | control changed |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.condition.label(),
                r.perplexity.num(2),
                num(r.distinct_1, 3),
                num(r.distinct_2, 3),
                num(r.removed_mass_per_step, 4),
                r.neg_log_z_per_output.num(2),
                num(r.tokens_per_second, 0),
                num(r.guard_us_per_token, 0),
                num(r.backtracks_per_100_tokens, 2),
                r.control_changed
                    .map_or("–".into(), |c| format!("{}/{}", c.changed, c.of))
            );
        }
        // Leak by prompt kind, normalised tier.
        let mut kinds: Vec<&str> = Vec::new();
        for s in results
            .samples
            .iter()
            .filter(|s| s.suite == *suite && s.kind != "control")
        {
            if !kinds.contains(&s.kind.as_str()) {
                kinds.push(&s.kind);
            }
        }
        if kinds.len() > 1 {
            let _ = writeln!(
                md,
                "\nNormalised-tier leak rate by prompt kind:\n\n| condition | {} |\n|---|{}",
                kinds.join(" | "),
                "---|".repeat(kinds.len())
            );
            for r in &rows {
                let cells: Vec<String> = kinds
                    .iter()
                    .map(|k| {
                        let of: Vec<&Sample> = results
                            .samples
                            .iter()
                            .filter(|s| {
                                s.suite == *suite && s.condition == r.condition && s.kind == *k
                            })
                            .collect();
                        let n = of.iter().filter(|s| s.tiers[NORMALISED]).count();
                        format!(
                            "{:.0}% ({n}/{})",
                            100.0 * n as f64 / of.len().max(1) as f64,
                            of.len()
                        )
                    })
                    .collect();
                let _ = writeln!(md, "| {} | {} |", r.condition.label(), cells.join(" | "));
            }
        }
        // A few evasions and leaks, to read.
        let examples: Vec<&Sample> = results
            .samples
            .iter()
            .filter(|s| {
                s.suite == *suite && s.tiers[2..].iter().any(|&b| b) && !s.tiers[NORMALISED]
            })
            .take(6)
            .collect();
        if !examples.is_empty() {
            md.push_str("\nExamples of evasions (caught only by a later tier):\n\n");
            for s in examples {
                let tiers: Vec<&str> = TIERS
                    .iter()
                    .zip(s.tiers)
                    .filter(|(_, b)| *b)
                    .map(|(t, _)| *t)
                    .collect();
                let _ = writeln!(
                    md,
                    "- {} · {:?} · {}: {:?}",
                    s.condition.label(),
                    s.words[0],
                    tiers.join("+"),
                    s.text.chars().take(160).collect::<String>()
                );
            }
        }
    }
    if !results.sweep.is_empty() {
        md.push_str(
            "\n## Ban-list size sweep\n\nEach prompt's elicited word plus N − 1 dictionary words \
             (wamerican, evenly spread). Leak: normalised tier, elicited word.\n\n",
        );
        if let Some(off) = results.sweep_off_tps {
            let _ = writeln!(md, "Unconstrained reference: {off:.0} tok/s.\n");
        }
        md.push_str(
            "| words | condition | outputs | leak rate | tok/s | vs off | guard µs/tok | compile + warm-up ms |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for p in &results.sweep {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.1}% ({}) | {:.0} | {} | {:.0} | {:.1} |",
                p.size,
                p.condition.label(),
                p.outputs,
                100.0 * p.leaks as f64 / p.outputs.max(1) as f64,
                p.leaks,
                p.tokens_per_second,
                results.sweep_off_tps.map_or("–".into(), |o| format!(
                    "{:.0}%",
                    100.0 * p.tokens_per_second / o
                )),
                p.guard_us,
                p.compile_ms
            );
        }
    }
    md.push_str("\n## Invariants\n\n");
    md.push_str(
        "B4 hard and B6 backtrack leak nothing at the exact and normalised tiers; B7 also \
         nothing at the disguised tier; every perplexity is finite.\n\n",
    );
    if violations.is_empty() {
        md.push_str("All hold.\n");
    } else {
        for v in violations {
            let _ = writeln!(md, "- BROKEN: {v}");
        }
    }
    md.push_str("\n## Plots\n\n");
    for (name, _) in plots {
        let _ = writeln!(md, "![{name}]({name})\n");
    }
    md
}

fn colour(conditions: &[Condition], c: Condition) -> String {
    let i = conditions.iter().position(|&x| x == c).unwrap_or(0);
    PALETTE[i % PALETTE.len()].to_string()
}

fn plots(results: &Results, summaries: &[Summary]) -> Vec<(String, String)> {
    let mut conds: Vec<Condition> = Vec::new();
    for s in summaries {
        if !conds.contains(&s.condition) {
            conds.push(s.condition);
        }
    }
    let mut suites: Vec<&str> = Vec::new();
    for s in summaries {
        if !suites.contains(&s.suite.as_str()) {
            suites.push(&s.suite);
        }
    }
    let mut out = Vec::new();
    if !summaries.is_empty() {
        let panels: Vec<Panel> = suites
            .iter()
            .map(|suite| Panel {
                title: format!("{suite}: leak vs perplexity"),
                x_label: "perplexity under the unconstrained model".into(),
                y_label: "leak rate, normalised tier".into(),
                log_x: false,
                series: summaries
                    .iter()
                    .filter(|s| s.suite == *suite)
                    .map(|s| Series {
                        name: s.condition.label(),
                        colour: colour(&conds, s.condition),
                        points: vec![(s.perplexity.value, s.leak.normalised.value)],
                        bars: vec![Some((s.leak.normalised.lo, s.leak.normalised.hi))],
                        line: false,
                    })
                    .collect(),
            })
            .collect();
        out.push(("pareto.svg".to_string(), figure(&panels)));

        let panels: Vec<Panel> = suites
            .iter()
            .map(|suite| {
                let series = summaries
                    .iter()
                    .filter(|s| {
                        s.suite == *suite
                            && (!s.condition.guaranteed_tiers().is_empty()
                                || matches!(
                                    s.condition,
                                    Condition::Soft(_) | Condition::NaiveSpace
                                ))
                    })
                    .map(|s| {
                        let of: Vec<&Sample> = results
                            .samples
                            .iter()
                            .filter(|x| x.suite == *suite && x.condition == s.condition)
                            .collect();
                        let len = of.iter().map(|x| x.removed.len()).max().unwrap_or(0);
                        let points = (0..len)
                            .map(|t| {
                                let at: Vec<f64> = of
                                    .iter()
                                    .filter_map(|x| x.removed.get(t).map(|&m| f64::from(m)))
                                    .collect();
                                (t as f64, at.iter().sum::<f64>() / at.len().max(1) as f64)
                            })
                            .collect();
                        Series {
                            name: s.condition.label(),
                            colour: colour(&conds, s.condition),
                            points,
                            bars: Vec::new(),
                            line: true,
                        }
                    })
                    .collect();
                Panel {
                    title: format!("{suite}: removed mass per step"),
                    x_label: "generation step".into(),
                    y_label: "mean probability mass removed".into(),
                    log_x: false,
                    series,
                }
            })
            .collect();
        out.push(("removed_mass.svg".to_string(), figure(&panels)));
    }
    if !results.sweep.is_empty() {
        let mut sc: Vec<Condition> = Vec::new();
        for p in &results.sweep {
            if !sc.contains(&p.condition) {
                sc.push(p.condition);
            }
        }
        let series = |f: &dyn Fn(&SweepPoint) -> f64| -> Vec<Series> {
            sc.iter()
                .map(|&c| Series {
                    name: c.label(),
                    colour: colour(&conds, c),
                    points: results
                        .sweep
                        .iter()
                        .filter(|p| p.condition == c)
                        .map(|p| (p.size as f64, f(p)))
                        .collect(),
                    bars: Vec::new(),
                    line: true,
                })
                .collect()
        };
        out.push((
            "leak_vs_size.svg".to_string(),
            figure(&[Panel {
                title: "leak rate vs ban-list size".into(),
                x_label: "banned words (log scale)".into(),
                y_label: "leak rate, normalised tier".into(),
                log_x: true,
                series: series(&|p| p.leaks as f64 / p.outputs.max(1) as f64),
            }]),
        ));
        let mut tps = series(&|p| p.tokens_per_second);
        if let Some(off) = results.sweep_off_tps {
            tps.push(Series {
                name: "B0 off (no ban)".into(),
                colour: "#999999".into(),
                points: results.sweep.iter().map(|p| (p.size as f64, off)).collect(),
                bars: Vec::new(),
                line: true,
            });
        }
        out.push((
            "overhead_vs_size.svg".to_string(),
            figure(&[
                Panel {
                    title: "throughput vs ban-list size".into(),
                    x_label: "banned words (log scale)".into(),
                    y_label: "tokens / s (batched)".into(),
                    log_x: true,
                    series: tps,
                },
                Panel {
                    title: "guard time vs ban-list size".into(),
                    x_label: "banned words (log scale)".into(),
                    y_label: "guard µs / token".into(),
                    log_x: true,
                    series: series(&|p| p.guard_us),
                },
            ]),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(item: usize, seed: u64, leak: bool, text: &str) -> Sample {
        Sample {
            suite: "t".into(),
            condition: Condition::Hard,
            kind: "cloze".into(),
            item,
            seed,
            words: vec!["cat".into(), "ice cream".into()],
            text: text.into(),
            tokens: 3,
            nll: 3.0,
            finish: "eos",
            tiers: [leak; 5],
            removed: vec![0.0, 0.25],
            neg_log_z: 0.3,
            backtracks: 0,
            rewound: 0,
            guard_us: 1.0,
            masked_steps: 1,
            changed_vs_off: None,
        }
    }

    #[test]
    fn one_record_type_gives_the_csv_and_the_json() {
        let dir = std::env::temp_dir().join(format!("taboo-eval-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let records = vec![
            OutputRecord::new(&sample(0, 0, true, "a \"quoted\", line\nbreak")),
            OutputRecord::new(&sample(1, 0, false, "plain")),
        ];
        let path = dir.join("results.csv");
        write_csv(&path, &records).unwrap();
        let csv = std::fs::read_to_string(&path).unwrap();
        // The header is the record's field names, in order, as in the JSON objects.
        let header = csv.lines().next().unwrap();
        let json = serde_json::to_value(&records[0]).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted_header: Vec<&str> = header.split(',').collect();
        sorted_header.sort_unstable();
        assert_eq!(
            sorted_header, keys,
            "serde_json sorts keys; the set is the same"
        );
        assert!(header.starts_with("suite,condition,kind,prompt,seed,words,"));
        // Quoting round-trips through a CSV reader.
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        let text_col = header.split(',').position(|h| h == "text").unwrap();
        assert_eq!(&rows[0][text_col], "a \"quoted\", line\nbreak");
        assert_eq!(&rows[0][1], "hard");
        assert_eq!(json["words"], "cat; ice cream");
        assert_eq!(json["removed_mass_steps"], "0 0.25");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rates_of_zero_get_an_exact_interval_over_prompts() {
        // 10 prompts × 3 seeds, nothing leaks: Clopper–Pearson on 0 of 10 prompts.
        let samples: Vec<Sample> = (0..10)
            .flat_map(|i| (0..3).map(move |s| sample(i, s, false, "x")))
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let ci = rate(&by_prompt(&refs), &|s| s.tiers[1], 200, 1);
        assert_eq!(ci.method, Method::ClopperPearson);
        assert_eq!((ci.value, ci.lo), (0.0, 0.0));
        assert!((ci.hi - 0.3085).abs() < 1e-4, "{}", ci.hi);
        // One prompt leaking in all its seeds: a bootstrap over prompts, on the grid of tenths.
        let samples: Vec<Sample> = (0..10)
            .flat_map(|i| (0..3).map(move |s| sample(i, s, i == 0, "x")))
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let ci = rate(&by_prompt(&refs), &|s| s.tiers[1], 500, 1);
        assert_eq!(ci.method, Method::BootstrapByPrompt);
        assert!((ci.value - 0.1).abs() < 1e-12);
        assert_eq!(ci.lo, 0.0);
        assert!(
            ((ci.hi * 10.0).round() - ci.hi * 10.0).abs() < 1e-9,
            "{}",
            ci.hi
        );
    }
}
