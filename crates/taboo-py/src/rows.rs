//! `Rows`: the state of one batched generation as Hugging Face `generate` drives it — one
//! guard per row of `input_ids`, synced to the row's tokens after the prompt at every step.
//!
//! `generate` hands a logits processor the whole `input_ids` (prompt and generated tokens,
//! left-padded) and the next-token scores, and may reorder rows between steps (beam search).
//! So a step reads each row's generated tokens straight from the tensor's memory, brings the
//! row's guard to them with `Guard::sync_to` (one token of work in the usual case; a
//! rollback or a replay when beams were reordered) and edits the row. Rows run in parallel.

use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

use taboo::{GuardConfig, TokenId};

use crate::tensor::{Matrix, Scratch, Want};
use crate::{edit_row, guard_config, Ban, Vocabulary};

struct Row {
    guard: taboo::Guard,
    scratch: Scratch,
    generated: Vec<TokenId>,
    violations: usize,
    removed_mass: f32,
}

/// Per-batch guard state for a processor that sees the whole ``input_ids`` every step
/// (transformers' ``generate``). ``step(input_ids, scores)`` edits ``scores`` in place.
///
/// The first call fixes the prompt: its width, and for each row the text of its last
/// ``prime_tokens`` tokens (leading ``pad_token_id`` padding skipped; special tokens are not
/// text) primes the row's guard. A later call whose ``input_ids`` are not a continuation of
/// that prompt (another batch size, a shorter width, a different prompt) starts over.
/// With ``max_new_tokens``, the step that writes the last allowed token is a final one (see
/// ``Guard.apply(last=True)``).
#[pyclass(module = "taboo")]
pub struct Rows {
    ban: Arc<taboo::Ban>,
    vocab: Arc<taboo::Vocabulary>,
    config: GuardConfig,
    pad: Option<TokenId>,
    prime_tokens: usize,
    max_new_tokens: Option<usize>,
    /// The prompt rows of the current generation.
    prompt: Vec<Vec<TokenId>>,
    prompt_width: usize,
    last_width: usize,
    rows: Vec<Row>,
    starts: usize,
}

impl Rows {
    fn same_prompt(&self, ids: &Matrix, full: bool) -> bool {
        if ids.rows != self.prompt.len() || ids.cols < self.prompt_width {
            return false;
        }
        let w = self.prompt_width;
        self.prompt.iter().enumerate().all(|(r, p)| {
            if full {
                (0..w).all(|c| ids.token(r, c).unwrap_or(TokenId::MAX) == p[c])
            } else {
                // The usual step: one token longer than the last. Checking the prompt's
                // edges catches a new generation of the same shape.
                w == 0
                    || ids.token(r, 0).unwrap_or(TokenId::MAX) == p[0]
                        && ids.token(r, w - 1).unwrap_or(TokenId::MAX) == p[w - 1]
            }
        })
    }

    fn start(&mut self, ids: &Matrix) {
        self.starts += 1;
        self.prompt_width = ids.cols;
        self.prompt.clear();
        self.rows.clear();
        for r in 0..ids.rows {
            let mut p = Vec::new();
            ids.tokens_into(r, 0, &mut p);
            let lead = match self.pad {
                Some(pad) => p.iter().take_while(|&&t| t == pad).count(),
                None => 0,
            };
            let text = &p[lead..];
            let tail = &text[text.len().saturating_sub(self.prime_tokens)..];
            let mut guard = self.ban.guard_with(&self.vocab, self.config);
            taboo::LogitsGuard::prime(&mut guard, &self.vocab.decode(tail));
            self.rows.push(Row {
                guard,
                scratch: Scratch::default(),
                generated: Vec::new(),
                violations: 0,
                removed_mass: 0.0,
            });
            self.prompt.push(p);
        }
    }
}

#[pymethods]
impl Rows {
    #[new]
    #[pyo3(signature = (ban, vocab, *, mode="hard", penalty=10.0, partial_penalty=0.0,
                        measure_mass=false, pad_token_id=None, prime_tokens=32,
                        max_rollback=64, max_new_tokens=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        ban: &Ban,
        vocab: &Vocabulary,
        mode: &str,
        penalty: f32,
        partial_penalty: f32,
        measure_mass: bool,
        pad_token_id: Option<i64>,
        prime_tokens: usize,
        max_rollback: usize,
        max_new_tokens: Option<usize>,
    ) -> PyResult<Rows> {
        let config = guard_config(mode, penalty, partial_penalty, max_rollback, measure_mass)?;
        let (b, v) = (Arc::clone(&ban.inner), Arc::clone(&vocab.inner));
        // Build the mask table now, not in the first generation step.
        py.detach(|| {
            b.table(&v);
        });
        Ok(Rows {
            ban: Arc::clone(&ban.inner),
            vocab: Arc::clone(&vocab.inner),
            config,
            pad: pad_token_id.and_then(|p| TokenId::try_from(p).ok()),
            prime_tokens,
            max_new_tokens,
            prompt: Vec::new(),
            prompt_width: 0,
            last_width: 0,
            rows: Vec::new(),
            starts: 0,
        })
    }

    /// One generation step: syncs every row's guard to ``input_ids[row, prompt_width:]``
    /// and edits ``scores[row]`` in place. ``input_ids``: int64/int32 of shape
    /// ``(batch, width)``; ``scores``: float of shape ``(batch, vocab width)``, CPU.
    /// ``last=True`` marks the last step before a length limit.
    #[pyo3(signature = (input_ids, scores, *, last=false))]
    fn step(
        &mut self,
        py: Python<'_>,
        input_ids: &Bound<'_, PyAny>,
        scores: &Bound<'_, PyAny>,
        last: bool,
    ) -> PyResult<()> {
        let ids = Matrix::from_object(input_ids, Want::TokenIds)?;
        let m = Matrix::from_object(scores, Want::Logits)?;
        if ids.one_dim || m.one_dim || ids.rows != m.rows {
            return Err(PyValueError::new_err(format!(
                "input_ids and scores must be 2-D with one row per sequence; got {}{} ids and \
                 {}{} scores",
                if ids.one_dim { "1-D " } else { "" },
                ids.rows,
                if m.one_dim { "1-D " } else { "" },
                m.rows
            )));
        }
        let continuing = !self.rows.is_empty()
            && ids.rows == self.rows.len()
            && self.same_prompt(&ids, ids.cols != self.last_width + 1);
        if !continuing {
            self.start(&ids);
        }
        self.last_width = ids.cols;
        let n = self.vocab.len();
        let from = self.prompt_width;
        // The step that writes the last token a length limit allows: the text ends after it.
        let last = last || self.max_new_tokens == Some(ids.cols - from + 1);
        let (ids, m) = (&ids, &m);
        let run = |(r, row): (usize, &mut Row)| {
            ids.tokens_into(r, from, &mut row.generated);
            row.violations += row.guard.sync_to(&row.generated);
            let applied = unsafe { edit_row(&mut row.guard, n, m, r, &mut row.scratch, last) };
            row.removed_mass = applied.removed_mass;
        };
        let rows = &mut self.rows;
        py.detach(|| {
            if rows.len() > 1 {
                rows.par_iter_mut().enumerate().for_each(run);
            } else {
                rows.iter_mut().enumerate().for_each(run);
            }
        });
        Ok(())
    }

    /// Forgets the current generation; the next step starts a new one.
    fn reset(&mut self) {
        self.rows.clear();
        self.prompt.clear();
        self.prompt_width = 0;
        self.last_width = 0;
    }

    /// Per row, how many generated tokens completed a banned match (a sampler that ignored
    /// the mask, or a token forced in by another processor). Always 0 in hard mode when
    /// nothing downstream overrides the mask.
    #[getter]
    fn violations(&self) -> Vec<usize> {
        self.rows.iter().map(|r| r.violations).collect()
    }

    /// Per row, the probability mass the last step removed (0 unless ``measure_mass``).
    #[getter]
    fn removed_mass(&self) -> Vec<f32> {
        self.rows.iter().map(|r| r.removed_mass).collect()
    }

    /// Width of the current prompt (``None`` before the first step).
    #[getter]
    fn prompt_width(&self) -> Option<usize> {
        (!self.rows.is_empty()).then_some(self.prompt_width)
    }

    /// How many generations were started (a new prompt starts one).
    #[getter]
    fn generations(&self) -> usize {
        self.starts
    }

    /// The tokens each row's guard has advanced (its generated text so far).
    #[getter]
    fn tokens(&self) -> Vec<Vec<TokenId>> {
        self.rows
            .iter()
            .map(|r| r.guard.tokens().to_vec())
            .collect()
    }
}
