//! Editing logits: the only place where probabilities are touched.
//!
//! An edit lowers some logits (to `-inf` for a hard ban, by a finite amount for a soft one)
//! and, when asked, reports the probability mass it moved: with `p = softmax(logits)` before
//! the edit, `removed = 1 − Z_after / Z_before`, computed in one pass with the usual max
//! shift so that large logits do not overflow.
//!
//! Measuring the mass costs one `exp` per logit (`Z_before`), the only work here that grows
//! with the vocabulary rather than with the edit. Those loops are written once, as plain
//! lane-wise Rust the compiler vectorises, and compiled three times on x86-64: for the
//! baseline the crate is built for (SSE2), for AVX2 with FMA and for AVX-512; the widest
//! the processor has is chosen at run time ([`Wide`]). This is the crate's only `unsafe`:
//! calling a function compiled for instructions the build does not assume, right after
//! checking that the processor has them. A SIMD crate would do the same with more code.

use crate::bitset::TokenSet;
use crate::guard_api::Applied;

/// Accumulates an edit and its removed mass.
pub(crate) struct Edit<'a> {
    logits: &'a mut [f32],
    measure: bool,
    /// `(max, Z_before)`, computed on the first edit when mass is measured (a step that
    /// edits nothing costs no pass over the logits).
    norm: Option<(f32, f64)>,
    /// The vector width the mass loops run at, asked of the processor once per edit.
    wide: Wide,
    removed: f64,
    pub(crate) applied: Applied,
}

/// When the mass is measured, words of a forbidden set with more bits than this are edited
/// as a block of 64 logits (see [`forbid_block`]); sparser words, and every word when the
/// mass is not measured, token by token.
const DENSE_WORD: u32 = 6;

impl<'a> Edit<'a> {
    pub(crate) fn new(logits: &'a mut [f32], measure: bool) -> Edit<'a> {
        Edit {
            logits,
            measure,
            norm: None,
            wide: Wide::detect(),
            removed: 0.0,
            applied: Applied::default(),
        }
    }

    /// `max` of the logits as they came in, if the mass is measured and some logit is finite.
    #[inline]
    fn max(&mut self) -> Option<f32> {
        if !self.measure {
            return None;
        }
        let (max, _) = *self
            .norm
            .get_or_insert_with(|| self.wide.normaliser(self.logits));
        max.is_finite().then_some(max)
    }

    #[inline]
    fn set(&mut self, token: u32, value: f32) -> bool {
        if token as usize >= self.logits.len() {
            return false;
        }
        if let Some(max) = self.max() {
            let l = self.logits[token as usize];
            let before = exp_nonpositive(l - max) as f64;
            let after = exp_nonpositive(value - max) as f64;
            self.removed += before - after;
        }
        self.logits[token as usize] = value;
        true
    }

    /// Sets the logit of every token of `set` to `-inf`: dense runs of the set 64 logits at
    /// a time, the rest token by token. Only the words that hold ids are visited (see
    /// [`TokenSet::nonzero_words`]): most sets are empty or sparse over a large vocabulary.
    pub(crate) fn forbid_set(&mut self, set: &TokenSet) {
        for (wi, word) in set.nonzero_words() {
            if !self.forbid_word(wi, word) {
                return;
            }
        }
    }

    /// Forbids the tokens of one word of a set (tokens `64 * wi ..`); false once past the
    /// end of the logits.
    #[inline]
    fn forbid_word(&mut self, wi: usize, word: u64) -> bool {
        let n = self.logits.len();
        let base = wi * 64;
        if base >= n {
            return false;
        }
        let max = if word.count_ones() > DENSE_WORD {
            self.max()
        } else {
            None
        };
        let Some(max) = max else {
            let mut w = word;
            while w != 0 {
                let t = base as u32 + w.trailing_zeros();
                self.forbid(t);
                w &= w - 1;
            }
            return true;
        };
        let block = &mut self.logits[base..(base + 64).min(n)];
        let word = if block.len() < 64 {
            word & ((1u64 << block.len()) - 1)
        } else {
            word
        };
        self.applied.forbidden += word.count_ones() as usize;
        self.removed += self.wide.forbid_block(block, word, max);
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

/// Lane masks of a byte: `LANES[b][j]` is all ones where bit `j` of `b` is set. Selecting
/// with bit masks instead of branching on each bit lets the block loop vectorise.
static LANES: [[u32; 8]; 256] = {
    let mut t = [[0u32; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            if b & (1 << j) != 0 {
                t[b][j] = u32::MAX;
            }
            j += 1;
        }
        b += 1;
    }
    t
};

/// Sets `block[j]` to `-inf` where bit `j` of `word` is set and returns the mass they held,
/// `Σ exp(block[j] − max)`: one exp per logit of the block, selected by lane masks, which
/// costs about 30% fewer instructions than one scattered exp per forbidden token once a word
/// has more than a few bits (measured with callgrind: 0.92 M against 1.32 M instructions for
/// 16,000 forbidden tokens in 49,152).
#[inline(always)]
fn forbid_block<const FMA: bool>(block: &mut [f32], word: u64, max: f32) -> f64 {
    let inf = f32::NEG_INFINITY.to_bits();
    let mut acc = [0.0f32; 8];
    let done = block.len() / 8 * 8;
    for (k, chunk) in block[..done].chunks_exact_mut(8).enumerate() {
        let lanes = &LANES[((word >> (8 * k)) & 0xFF) as usize];
        for j in 0..8 {
            let e = exp_nonpositive_with::<FMA>(chunk[j] - max).to_bits() & lanes[j];
            acc[j] += f32::from_bits(e);
            chunk[j] = f32::from_bits((chunk[j].to_bits() & !lanes[j]) | (inf & lanes[j]));
        }
    }
    for (j, l) in block[done..].iter_mut().enumerate() {
        if (word >> (done + j)) & 1 == 1 {
            acc[j] += exp_nonpositive_with::<FMA>(*l - max);
            *l = f32::NEG_INFINITY;
        }
    }
    acc.iter().map(|&a| a as f64).sum()
}

/// `exp(x)` for `x <= 0`, by range reduction to `2^k · e^r` with `|r| <= ln2 / 2` and a
/// degree-6 polynomial: relative error below 2e-7, and branch-free so that a loop over a
/// 200,000-logit vector vectorises (std's `exp` made the mass measurement 20× dearer).
/// With `FMA` the polynomial is evaluated with fused multiply-adds (half the instructions;
/// only where the processor has them, [`Wide`]), which rounds differently in the last bit.
#[inline(always)]
fn exp_nonpositive_with<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // a·b + c, fused or not.
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let x = x.max(-87.0);
    // Round to nearest with the 1.5·2^23 trick: adding it leaves the integer in the low
    // mantissa bits. Plain float and integer ops only, so the loop vectorises (`round` and
    // saturating `as` casts did not).
    const SHIFTER: f32 = 12_582_912.0;
    let shifted = madd(x, LOG2E, SHIFTER);
    let k = shifted - SHIFTER;
    let ki = shifted.to_bits() as i32 - SHIFTER.to_bits() as i32;
    let r = madd(-k, LN2_LO, madd(-k, LN2_HI, x));
    let mut p = 1.0 / 720.0;
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = madd(p, r, c);
    }
    let scale = f32::from_bits(((ki + 127) as u32) << 23);
    p * scale
}

/// [`exp_nonpositive_with`] without fused multiply-adds, as every x86-64 can run it.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    exp_nonpositive_with::<false>(x)
}

/// The largest logit, in `L` independent lanes so that the loop vectorises (a single
/// running maximum is a serial dependency the compiler may not reorder). NaN is ignored.
#[inline(always)]
fn max_logit<const L: usize>(logits: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; L];
    let mut lanes = logits.chunks_exact(L);
    for c in &mut lanes {
        for j in 0..L {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &l in acc.iter().chain(lanes.remainder()) {
        if l > max {
            max = l;
        }
    }
    max
}

/// `Σ exp(l − max)` over the logits (`-inf` logits contribute 0), in `L` lanes per chunk
/// of 1,024 (partial sums in f32, chunk totals in f64).
#[inline(always)]
fn sum_exp<const L: usize, const FMA: bool>(logits: &[f32], max: f32) -> f64 {
    let mut total = 0.0f64;
    for chunk in logits.chunks(1024) {
        let mut acc = [0.0f32; L];
        let mut lanes = chunk.chunks_exact(L);
        for c in &mut lanes {
            for j in 0..L {
                acc[j] += exp_nonpositive_with::<FMA>(c[j] - max);
            }
        }
        for &l in lanes.remainder() {
            acc[0] += exp_nonpositive_with::<FMA>(l - max);
        }
        total += acc.iter().map(|&a| a as f64).sum::<f64>();
    }
    total
}

/// `(max, Σ exp(l − max))`: the softmax normaliser of `logits`, in `L` lanes; `(-inf, 0)`
/// when no logit is finite.
#[inline(always)]
fn normaliser_in<const L: usize, const FMA: bool>(logits: &[f32]) -> (f32, f64) {
    let max = max_logit::<L>(logits);
    if max.is_finite() {
        (max, sum_exp::<L, FMA>(logits, max))
    } else {
        (max, 0.0)
    }
}

/// The widest vector instructions the processor has, among those the mass loops are
/// compiled for (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wide {
    /// What the build targets: SSE2 on x86-64, whatever the target has elsewhere.
    Baseline,
    /// AVX2 with FMA: eight lanes.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512F: sixteen lanes.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Wide {
    /// Asks the processor (std caches the answer: one load after the first call).
    #[inline]
    fn detect() -> Wide {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Wide::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Wide::Avx2;
            }
        }
        Wide::Baseline
    }

    /// Every level this processor can run, narrowest first (for tests).
    #[cfg(test)]
    #[allow(unused_mut)] // only x86-64 has more than one level
    fn available() -> Vec<Wide> {
        let mut all = vec![Wide::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                all.push(Wide::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                all.push(Wide::Avx512);
            }
        }
        all
    }

    /// [`normaliser_in`] compiled for this level.
    fn normaliser(self, logits: &[f32]) -> (f32, f64) {
        match self {
            Wide::Baseline => normaliser_in::<8, false>(logits),
            // SAFETY: `Wide::detect` (or `available`) found AVX2 and FMA on this processor.
            #[cfg(target_arch = "x86_64")]
            Wide::Avx2 => unsafe { x86::normaliser_avx2(logits) },
            // SAFETY: `Wide::detect` (or `available`) found AVX-512F on this processor.
            #[cfg(target_arch = "x86_64")]
            Wide::Avx512 => unsafe { x86::normaliser_avx512(logits) },
        }
    }

    /// [`forbid_block`] compiled for this level.
    fn forbid_block(self, block: &mut [f32], word: u64, max: f32) -> f64 {
        match self {
            Wide::Baseline => forbid_block::<false>(block, word, max),
            // SAFETY: as in `normaliser`.
            #[cfg(target_arch = "x86_64")]
            Wide::Avx2 => unsafe { x86::forbid_block_avx2(block, word, max) },
            // SAFETY: as in `normaliser`.
            #[cfg(target_arch = "x86_64")]
            Wide::Avx512 => unsafe { x86::forbid_block_avx512(block, word, max) },
        }
    }
}

/// The same loops compiled for wider instructions. Safe to define, unsafe to call: the
/// caller checks the processor first.
#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn normaliser_avx2(logits: &[f32]) -> (f32, f64) {
        super::normaliser_in::<8, true>(logits)
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn normaliser_avx512(logits: &[f32]) -> (f32, f64) {
        super::normaliser_in::<16, true>(logits)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn forbid_block_avx2(block: &mut [f32], word: u64, max: f32) -> f64 {
        super::forbid_block::<true>(block, word, max)
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) fn forbid_block_avx512(block: &mut [f32], word: u64, max: f32) -> f64 {
        super::forbid_block::<true>(block, word, max)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut x = -87.0f32;
        while x <= 0.0 {
            let want = (x as f64).exp();
            for got in [exp_nonpositive(x), exp_nonpositive_with::<true>(x)] {
                let got = got as f64;
                assert!(
                    (got - want).abs() <= want * 3e-7,
                    "exp({x}) = {got}, want {want}"
                );
            }
            x += 0.0137;
        }
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), exp_nonpositive(-87.0));
    }

    #[test]
    fn forbidding_a_set_equals_forbidding_token_by_token() {
        let logits: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 * 0.15).collect();
        let mut set = TokenSet::new(1003);
        // Dense words, sparse words, the partial last word and ids past the logits.
        for t in (0..300).chain((400..1003).step_by(13)) {
            set.insert(t);
        }
        for measure in [false, true] {
            let mut one = logits.clone();
            let mut e = Edit::new(&mut one, measure);
            for t in set.iter() {
                e.forbid(t);
            }
            let want = e.finish();
            let mut bulk = logits.clone();
            let mut e = Edit::new(&mut bulk, measure);
            e.forbid_set(&set);
            let got = e.finish();
            assert_eq!(one, bulk);
            assert_eq!(got.forbidden, want.forbidden);
            assert!(
                (got.removed_mass - want.removed_mass).abs() < 1e-5,
                "{got:?} {want:?}"
            );
        }
        // Nothing edited: no mass, whether measured or not.
        let mut untouched = logits.clone();
        assert_eq!(Edit::new(&mut untouched, true).finish().removed_mass, 0.0);
    }

    /// Logits with the shapes that matter: a vocabulary not a multiple of 16, `-inf` (already
    /// forbidden), a NaN, large and very negative values.
    fn awkward_logits(n: usize) -> Vec<f32> {
        let mut l: Vec<f32> = (0..n)
            .map(|i| ((i * 37) % 101) as f32 * 0.3 - 12.0)
            .collect();
        l[3] = f32::NEG_INFINITY;
        l[n / 2] = f32::NAN;
        l[n - 1] = 95.0;
        l[n - 2] = -500.0;
        l
    }

    #[test]
    fn every_vector_width_computes_the_same_normaliser() {
        let levels = Wide::available();
        for n in [1usize, 7, 64, 1000, 49_157] {
            let mut logits = awkward_logits(n.max(4));
            logits.truncate(n);
            let (max, z) = Wide::Baseline.normaliser(&logits);
            // Oracle: f64 exp over the finite logits.
            let want_max = logits
                .iter()
                .copied()
                .filter(|l| !l.is_nan())
                .fold(f32::NEG_INFINITY, f32::max);
            let want_z: f64 = logits
                .iter()
                .filter(|l| !l.is_nan())
                .map(|&l| ((l - want_max) as f64).exp())
                .sum();
            assert_eq!(max, want_max, "n = {n}");
            assert!(
                (z - want_z).abs() <= want_z * 1e-6,
                "n = {n}: {z} vs {want_z}"
            );
            for &level in &levels {
                let (m, zl) = level.normaliser(&logits);
                assert_eq!(m, max, "{level:?}, n = {n}");
                assert!(
                    (zl - z).abs() <= z * 1e-6,
                    "{level:?}, n = {n}: {zl} vs {z}"
                );
            }
        }
        let none = [f32::NEG_INFINITY; 40];
        for level in levels {
            assert_eq!(level.normaliser(&none), (f32::NEG_INFINITY, 0.0));
        }
    }

    #[test]
    fn every_vector_width_forbids_the_same_block() {
        let logits = awkward_logits(64);
        let (max, _) = Wide::Baseline.normaliser(&logits);
        for word in [0u64, 1, 0xF0F0_0000_FFFF_0001, u64::MAX, 1 << 63] {
            for len in [64usize, 40] {
                let mut want = logits[..len].to_vec();
                let mass = forbid_block::<false>(&mut want, word & mask_of(len), max);
                for level in Wide::available() {
                    let mut got = logits[..len].to_vec();
                    let m = level.forbid_block(&mut got, word & mask_of(len), max);
                    assert_eq!(
                        got.iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
                        want.iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
                        "{level:?} {word:x} {len}"
                    );
                    assert!((m - mass).abs() <= mass * 1e-6, "{level:?}: {m} vs {mass}");
                }
            }
        }
    }

    fn mask_of(len: usize) -> u64 {
        if len == 64 {
            u64::MAX
        } else {
            (1u64 << len) - 1
        }
    }

    #[test]
    fn removed_mass_matches_softmax() {
        let logits: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 * 0.15).collect();
        let p = softmax(&logits);
        let mut edited = logits.clone();
        let mut e = Edit::new(&mut edited, true);
        for t in (0..1000).step_by(7) {
            e.forbid(t);
        }
        let applied = e.finish();
        let want: f32 = (0..1000).step_by(7).map(|t| p[t]).sum();
        assert!(
            (applied.removed_mass - want).abs() < 1e-5,
            "{applied:?} vs {want}"
        );
    }
}
