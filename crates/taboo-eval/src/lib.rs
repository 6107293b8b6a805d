//! `taboo-eval`: the evaluation protocol behind `taboo eval` and `taboo compare-modes`.
pub mod detect;
pub mod error;
pub mod metrics;
pub use error::{Error, Result};
pub use suite::{SUITES, SWEEP};
pub mod suite;
