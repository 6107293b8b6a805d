//! Turning samples into results.json, results.csv, report.md and the SVG plots, and checking
//! the invariants.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use super::detect::{NORMALISED, TIERS};
use super::metrics::{bootstrap_ci, distinct_n, mean_of, perplexity};
use super::plot::{figure, Panel, Series, PALETTE};
use super::{Condition, Context, Results, Sample};
use crate::CliResult;

/// A value with its 95% bootstrap interval.
#[derive(Clone, Copy, Debug)]
pub struct Ci {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Ci {
    fn json(self) -> Value {
        json!({"value": finite(self.value), "lo": finite(self.lo), "hi": finite(self.hi)})
    }
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

fn finite(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// Per (suite, condition).
pub struct Summary {
    pub suite: String,
    pub condition: Condition,
    pub outputs: usize,
    /// Outputs of non-control prompts (the leak denominators).
    pub scored: usize,
    pub leak: Vec<Ci>,
    pub evasion: Ci,
    pub perplexity: Ci,
    pub distinct1: f64,
    pub distinct2: f64,
    pub removed_per_step: f64,
    pub neg_log_z: Ci,
    pub tokens_per_second: f64,
    pub guard_us: f64,
    pub backtracks_per_100: f64,
    pub control_changed: Option<(usize, usize)>,
}

fn summarise(results: &Results, ctx: &Context) -> Vec<Summary> {
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
        let seed = 0x7AB0_0000 + k as u64;
        let rate = |f: &dyn Fn(&Sample) -> bool| -> Ci {
            let stat = |idx: &[usize]| mean_of(idx, &|i| f64::from(u8::from(f(scored[i]))));
            let all_idx: Vec<usize> = (0..scored.len()).collect();
            let (lo, hi) = bootstrap_ci(scored.len(), ctx.resamples, seed, &stat);
            Ci {
                value: stat(&all_idx),
                lo,
                hi,
            }
        };
        let leak: Vec<Ci> = (0..TIERS.len()).map(|t| rate(&|s| s.tiers[t])).collect();
        let evasion = rate(&|s| !s.tiers[NORMALISED] && s.tiers[2..].iter().any(|&b| b));
        let ppl_stat = |idx: &[usize]| {
            let nll: f64 = idx.iter().map(|&i| all[i].nll).sum();
            let tokens: usize = idx.iter().map(|&i| all[i].tokens).sum();
            perplexity(nll, tokens)
        };
        let all_idx: Vec<usize> = (0..all.len()).collect();
        let (lo, hi) = bootstrap_ci(all.len(), ctx.resamples, seed + 1, &ppl_stat);
        let ppl = Ci {
            value: ppl_stat(&all_idx),
            lo,
            hi,
        };
        let nlz_stat = |idx: &[usize]| mean_of(idx, &|i| all[i].neg_log_z);
        let (lo, hi) = bootstrap_ci(all.len(), ctx.resamples, seed + 2, &nlz_stat);
        let neg_log_z = Ci {
            value: nlz_stat(&all_idx),
            lo,
            hi,
        };
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
            outputs: all.len(),
            scored: scored.len(),
            leak,
            evasion,
            perplexity: ppl,
            distinct1: distinct_n(&texts, 1),
            distinct2: distinct_n(&texts, 2),
            removed_per_step: removed / steps.max(1) as f64,
            neg_log_z,
            tokens_per_second: results
                .costs
                .iter()
                .find(|c| c.suite == suite && c.condition == condition)
                .map_or(f64::NAN, |c| c.tokens_per_second),
            guard_us: all
                .iter()
                .map(|s| s.guard_us * s.tokens as f64)
                .sum::<f64>()
                / tokens.max(1) as f64,
            backtracks_per_100: 100.0 * all.iter().map(|s| s.backtracks).sum::<usize>() as f64
                / tokens.max(1) as f64,
            control_changed: (!control.is_empty())
                .then(|| (control.iter().filter(|&&c| c).count(), control.len())),
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

/// Writes every output file into `dir`; returns the broken invariants.
pub fn write_all(dir: &Path, results: &Results, ctx: &Context) -> CliResult<Vec<String>> {
    let summaries = summarise(results, ctx);
    let violations = invariants(results, &summaries);
    let write = |name: &str, text: &str| -> CliResult<()> {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()).into())
    };
    write(
        "results.json",
        &serde_json::to_string_pretty(&to_json(results, &summaries, &violations))?,
    )?;
    write("results.csv", &csv(results))?;
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

fn to_json(results: &Results, summaries: &[Summary], violations: &[String]) -> Value {
    let settings: serde_json::Map<String, Value> = results
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "settings": settings,
        "tiers": TIERS,
        "summary": summaries.iter().map(|s| {
            let leak: serde_json::Map<String, Value> =
                TIERS.iter().zip(&s.leak).map(|(t, c)| (t.to_string(), c.json())).collect();
            json!({
                "suite": s.suite,
                "condition": s.condition.id(),
                "label": s.condition.label(),
                "outputs": s.outputs,
                "leak_outputs": s.scored,
                "leak": leak,
                "evasion": s.evasion.json(),
                "perplexity": s.perplexity.json(),
                "distinct_1": finite(s.distinct1),
                "distinct_2": finite(s.distinct2),
                "removed_mass_per_step": finite(s.removed_per_step),
                "neg_log_z_per_output": s.neg_log_z.json(),
                "tokens_per_second": finite(s.tokens_per_second),
                "guard_us_per_token": finite(s.guard_us),
                "backtracks_per_100_tokens": finite(s.backtracks_per_100),
                "control_changed": s.control_changed.map(|(c, n)| json!({"changed": c, "of": n})),
            })
        }).collect::<Vec<_>>(),
        "sweep": {
            "off_tokens_per_second": results.sweep_off_tps.map_or(Value::Null, finite),
            "points": results.sweep.iter().map(|p| json!({
                "words": p.size,
                "condition": p.condition.id(),
                "outputs": p.outputs,
                "leaks": p.leaks,
                "leak_rate": p.leaks as f64 / p.outputs.max(1) as f64,
                "tokens_per_second": finite(p.tokens_per_second),
                "guard_us_per_token": finite(p.guard_us),
                "compile_ms": finite(p.compile_ms),
            })).collect::<Vec<_>>(),
        },
        "runs": results.costs.iter().map(|c| json!({
            "suite": c.suite,
            "condition": c.condition.id(),
            "seconds": finite(c.seconds),
            "tokens_per_second": finite(c.tokens_per_second),
        })).collect::<Vec<_>>(),
        "invariant_violations": violations,
        "outputs": results.samples.iter().map(|s| json!({
            "suite": s.suite,
            "condition": s.condition.id(),
            "kind": s.kind,
            "prompt": s.item,
            "seed": s.seed,
            "words": s.words,
            "text": s.text,
            "tokens": s.tokens,
            "nll": finite(s.nll),
            "finish_reason": s.finish,
            "tiers": TIERS.iter().zip(s.tiers).filter(|(_, b)| *b).map(|(t, _)| *t).collect::<Vec<_>>(),
            "removed_mass": s.removed,
            "neg_log_z": finite(s.neg_log_z),
            "backtracks": s.backtracks,
            "rewound_tokens": s.rewound,
            "guard_us_per_token": finite(s.guard_us),
            "masked_steps": s.masked_steps,
            "changed_vs_off": s.changed_vs_off,
        })).collect::<Vec<_>>(),
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(results: &Results) -> String {
    let mut out = String::from(
        "suite,condition,kind,prompt,seed,words,tokens,nll,finish_reason,exact,normalised,\
         inflected,disguised,spaced,removed_mass,neg_log_z,backtracks,rewound_tokens,\
         guard_us_per_token,masked_steps,text\n",
    );
    for s in &results.samples {
        let removed: f64 = s.removed.iter().map(|&m| f64::from(m)).sum();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.4},{},{},{},{},{},{},{:.4},{:.4},{},{},{:.2},{},{}",
            s.suite,
            s.condition.id(),
            s.kind,
            s.item,
            s.seed,
            csv_field(&s.words.join(" ")),
            s.tokens,
            s.nll,
            s.finish,
            u8::from(s.tiers[0]),
            u8::from(s.tiers[1]),
            u8::from(s.tiers[2]),
            u8::from(s.tiers[3]),
            u8::from(s.tiers[4]),
            removed,
            s.neg_log_z,
            s.backtracks,
            s.rewound,
            s.guard_us,
            s.masked_steps,
            csv_field(&s.text)
        );
    }
    out
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
    for (k, v) in &results.settings {
        let _ = writeln!(md, "| {k} | `{}` |", v.replace('|', "\\|"));
    }
    md.push_str(
        "\nLeak rates are over the outputs of non-control prompts, each tier a separate \
         detector (docs/EVAL.md): **exact** (case-sensitive whole word), **normalised** (any \
         case), **inflected** (also -s/-ed/-ing, Russian endings), **disguised** (look-alike \
         letters, invisible characters), **spaced** (c a t, C-A-T). **Evasion**: caught by \
         inflected, disguised or spaced but not by normalised. Brackets: 95% bootstrap \
         intervals over outputs. Perplexity: of the output under the unconstrained model, \
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
                r.leak[0].pct(),
                r.leak[1].pct(),
                r.leak[2].pct(),
                r.leak[3].pct(),
                r.leak[4].pct(),
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
                num(r.distinct1, 3),
                num(r.distinct2, 3),
                num(r.removed_per_step, 4),
                r.neg_log_z.num(2),
                num(r.tokens_per_second, 0),
                num(r.guard_us, 0),
                num(r.backtracks_per_100, 2),
                r.control_changed
                    .map_or("–".into(), |(c, n)| format!("{c}/{n}"))
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
                        points: vec![(s.perplexity.value, s.leak[NORMALISED].value)],
                        bars: vec![Some((s.leak[NORMALISED].lo, s.leak[NORMALISED].hi))],
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
        let series = |f: &dyn Fn(&super::SweepPoint) -> f64| -> Vec<Series> {
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

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
