//! Editing logits: the only place where probabilities are touched.
//!
//! An edit lowers some logits (to `-inf` for a hard ban, by a finite amount for a soft one)
//! and, when asked, reports the probability mass it moved: with `p = softmax(logits)` before
//! the edit, `removed = 1 − Z_after / Z_before`, computed in one pass with the usual max
//! shift so that large logits do not overflow.

use crate::guard_api::Applied;

/// Accumulates an edit and its removed mass.
pub(crate) struct Edit<'a> {
    logits: &'a mut [f32],
    /// `(max, Z_before)` when mass is measured.
    norm: Option<(f32, f64)>,
    removed: f64,
    pub(crate) applied: Applied,
}

impl<'a> Edit<'a> {
    pub(crate) fn new(logits: &'a mut [f32], measure: bool) -> Edit<'a> {
        let norm = measure.then(|| {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let z: f64 = if max.is_finite() {
                logits.iter().map(|&l| ((l - max) as f64).exp()).sum()
            } else {
                0.0
            };
            (max, z)
        });
        Edit {
            logits,
            norm,
            removed: 0.0,
            applied: Applied::default(),
        }
    }

    #[inline]
    fn set(&mut self, token: u32, value: f32) -> bool {
        let Some(l) = self.logits.get_mut(token as usize) else {
            return false;
        };
        if let Some((max, _)) = self.norm {
            if max.is_finite() {
                let before = ((*l - max) as f64).exp();
                let after = ((value - max) as f64).exp();
                self.removed += before - after;
            }
        }
        *l = value;
        true
    }

    /// Sets a token's logit to `-inf`.
    #[inline]
    pub(crate) fn forbid(&mut self, token: u32) {
        if self.set(token, f32::NEG_INFINITY) {
            self.applied.forbidden += 1;
        }
    }

    /// Lowers a token's logit by `penalty`.
    #[inline]
    pub(crate) fn penalize(&mut self, token: u32, penalty: f32) {
        let Some(&l) = self.logits.get(token as usize) else {
            return;
        };
        if self.set(token, l - penalty) {
            self.applied.penalized += 1;
        }
    }

    /// Finishes the edit.
    pub(crate) fn finish(mut self) -> Applied {
        if let Some((_, z)) = self.norm {
            if z > 0.0 {
                self.applied.removed_mass = (self.removed / z).clamp(0.0, 1.0) as f32;
            }
        }
        self.applied
    }
}

/// Softmax of `logits` (for tests, traces and evaluation).
///
/// ```
/// let p = taboo::softmax(&[0.0, 0.0, f32::NEG_INFINITY]);
/// assert_eq!(p, vec![0.5, 0.5, 0.0]);
/// ```
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return vec![0.0; logits.len()];
    }
    let exps: Vec<f64> = logits.iter().map(|&l| ((l - max) as f64).exp()).collect();
    let z: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / z) as f32).collect()
}
