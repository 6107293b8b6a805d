//! `taboo trace`: generation with every step of the ban laid open — the chosen token, the
//! leading candidates with their logit and their probability before and after the edit,
//! which of them the ban masked or penalised, and the probability mass it removed.
//!
//! The guard is wrapped in `taboo::trace::Traced`, so the generation loop is exactly the one
//! `taboo generate` runs: the trace of a seeded run reproduces its text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use taboo::trace::{Candidate, Event, Traced};
use taboo::{Applied, LogitsGuard, RollbackError, TokenId, Violation, Vocabulary};
use taboo_llm::generate;

use super::generate::{handle_ctrl_c, INTERRUPTED};
use crate::html;
use crate::output::Stdout;
use crate::report::{self, Edit, TraceCandidate, TraceEvent, TraceReport, TraceStep};
use crate::show::show_token;
use crate::CliResult;

/// Show, step by step, what the ban does to the model's probabilities.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    taboo trace --ban cat 'What animal says \"meow\"? Answer in one sentence.'\n  \
    taboo trace --ban cat --mode hard --top 8 --max-tokens 20 'What animal says \"meow\"?'\n  \
    taboo trace --ban cat --html trace.html 'What animal says \"meow\"?'\n  \
    taboo trace --json --ban cat 'What animal says \"meow\"?' | jq '.steps[0]'\n\n\
    Probabilities are softmax of the logits at temperature 1, before and after the ban's edit\n\
    (sampling flags such as --temperature act after it). In a terminal, masked candidates are\n\
    red, penalised ones yellow, the chosen token green. `--json` prints the whole trace.")]
pub struct Args {
    #[command(flatten)]
    generate: super::generate::Args,
    /// Candidates shown per step (the most likely before the edit, plus any others that are
    /// among the most likely after it).
    #[arg(long, value_name = "N", default_value_t = 5)]
    top: usize,
    /// Also write a self-contained HTML report with charts to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// The guard used when nothing is banned, so that the trace still shows the distribution.
struct Unguarded(usize);

impl LogitsGuard for Unguarded {
    fn prime(&mut self, _text: &[u8]) {}
    fn apply(&mut self, _logits: &mut [f32]) -> Applied {
        Applied::default()
    }
    fn advance(&mut self, _token: TokenId) -> Result<(), Violation> {
        self.0 += 1;
        Ok(())
    }
    fn rollback(&mut self, n: usize) -> Result<(), RollbackError> {
        self.0 -= n.min(self.0);
        Ok(())
    }
    fn position(&self) -> usize {
        self.0
    }
}

/// How one candidate reads in the trace.
pub fn candidate(vocab: &Vocabulary, c: &Candidate) -> TraceCandidate {
    TraceCandidate {
        token: c.token,
        text: token_text(vocab, c.token),
        logit: c.logit,
        p_before: c.p_before,
        p_after: c.p_after,
        edit: c.edit.into(),
    }
}

/// A token for display: its bytes quoted, or a special token's name.
pub fn token_text(vocab: &Vocabulary, t: TokenId) -> String {
    match vocab.token_bytes(t) {
        Some(b) => show_token(b),
        None => vocab
            .special_name(t)
            .map_or_else(|| format!("<{t}>"), str::to_string),
    }
}

/// Runs `taboo trace`.
pub fn run(args: Args) -> CliResult {
    let g = &args.generate;
    let prompt = g.prompt_text()?;
    let mut engine = g.model().load()?;
    let vocab = taboo_llm::vocabulary_from_engine(&engine);
    let inner: Box<dyn LogitsGuard> = match g.ban().guard(&engine)? {
        Some(guard) => guard,
        None => Box::new(Unguarded(0)),
    };
    let mut traced = Traced::new(inner, args.top.max(1));
    handle_ctrl_c();
    let options = g.options();
    let mut sink = |_: &str| -> std::io::Result<()> { Ok(()) };
    let out = generate(
        &mut engine,
        Some(&mut traced),
        &prompt,
        &options,
        &mut sink,
        &INTERRUPTED,
    )?;
    let (_, events) = traced.into_parts();

    let steps = events
        .iter()
        .map(|e| match e {
            Event::Rewind(n) => TraceEvent::Rewind { rewind: *n },
            Event::Step(s) => TraceEvent::Step(TraceStep {
                position: s.position,
                chosen: s.chosen.as_ref().map(|c| candidate(&vocab, c)),
                candidates: s.candidates.iter().map(|c| candidate(&vocab, c)).collect(),
                forbidden: s.applied.forbidden,
                penalized: s.applied.penalized,
                removed_mass: s.applied.removed_mass,
                p_after_sum: s.p_after_sum,
                violation: s.violation,
            }),
        })
        .collect();
    let report = TraceReport {
        prompt,
        text: out.text,
        tokens: out.tokens,
        finish_reason: out.finish_reason.as_str().to_string(),
        mode: format!("{:?}", g.ban().mode).to_lowercase(),
        banned: g.ban().ban.clone(),
        steps,
    };

    if let Some(path) = &args.html {
        std::fs::write(path, html::trace_page(&report))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut w = Stdout::lock();
    if g.json() {
        writeln!(w, "{}", report::to_json(&report)?)?;
    } else {
        let colour = w.is_terminal();
        print_terminal(&mut w, &report, colour)?;
    }
    w.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn print_terminal(w: &mut dyn Write, report: &TraceReport, colour: bool) -> CliResult<()> {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    writeln!(
        w,
        "{:>4}  {:<18} {:>8}  candidates: p before → after  (✗ masked, ↓ penalised)",
        "step", "chosen", "removed"
    )?;
    for event in &report.steps {
        let step = match event {
            TraceEvent::Rewind { rewind } => {
                writeln!(
                    w,
                    "{}",
                    paint("36", &format!("   ↺  rewound {rewind} token(s)"))
                )?;
                continue;
            }
            TraceEvent::Step(step) => step,
        };
        let chosen = step.chosen.as_ref().map_or("(none)", |c| c.text.as_str());
        let mut cells = Vec::new();
        for c in &step.candidates {
            let text = &c.text;
            let (before, after) = (f64::from(c.p_before), f64::from(c.p_after));
            let cell = match c.edit {
                Edit::Masked => paint("31", &format!("{text} {before:.3}→0 ✗")),
                Edit::Penalized => paint("33", &format!("{text} {before:.3}→{after:.3} ↓")),
                Edit::Kept if step.is_chosen(c) => {
                    paint("1;32", &format!("{text} {before:.3}→{after:.3}"))
                }
                Edit::Kept => format!("{text} {before:.3}→{after:.3}"),
            };
            cells.push(cell);
        }
        let removed = f64::from(step.removed_mass);
        let removed_cell = format!("{removed:>8.4}");
        writeln!(
            w,
            "{:>4}  {:<18} {}  {}",
            step.position,
            chosen,
            if removed > 0.0 {
                paint("31", &removed_cell)
            } else {
                removed_cell
            },
            cells.join("  ")
        )?;
    }
    writeln!(w, "\n{}", report.text)?;
    Ok(())
}
