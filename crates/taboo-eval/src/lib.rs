//! `taboo-eval`: the evaluation protocol of taboo, behind `taboo eval` and
//! `taboo compare-modes` (docs/EVAL.md).
//!
//! [`run()`] runs ban conditions × prompt suites × seeds on the real models and returns
//! [`Results`]; [`report::write_all`] turns them into results.json, results.csv, report.md
//! and SVG plots. [`compare()`] runs the ban modes of `compare-modes` on eliciting prompts.
//! The leak detectors ([`detect`]) are independent of the engine they measure. The prompt
//! suites ship inside the crate ([`suite`]), so an installed binary needs no source tree.

pub mod compare;
pub mod detect;
pub mod error;
mod guards;
pub mod metrics;
pub mod plot;
pub mod report;
pub mod run;
pub mod suite;
pub mod workload;

pub use compare::{compare, CompareMode, CompareOptions, Comparison};
pub use error::{Error, Result};
pub use run::{run, Condition, EvalOptions, Progress, ProgressBar, Results};
pub use suite::{SUITES, SWEEP};
