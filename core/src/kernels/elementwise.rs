//! Element-wise kernels (each element computed on its own, so their order
//! does not matter): `axpy` and friends, the infinity norm and finiteness
//! checks, the flush of negligible values, and Adam's update.

use super::reduce::LANES;
use super::{ElementWise, arch, vectorized};

/// Largest absolute value (the infinity norm); NaN if any element is NaN.
#[inline]
pub(crate) fn norm_inf(a: &[f32]) -> f32 {
    vectorized(NormInf(a))
}

/// [`norm_inf`] as an [`ElementWise`] pass.
struct NormInf<'a>(&'a [f32]);

impl ElementWise for NormInf<'_> {
    type Output = f32;
    #[inline(always)]
    fn run(self) -> f32 {
        norm_inf_lanes(self.0)
    }
}

/// The body of [`norm_inf`], for [`vectorized`].
#[inline(always)]
fn norm_inf_lanes(a: &[f32]) -> f32 {
    // A float maximum of `|x|` in eight lanes (one `maxps` per vector; an
    // integer maximum has no SSE2 instruction), with NaNs flagged apart,
    // since the compare skips them. Magnitudes are never -0, and equal
    // magnitudes have equal bits, so the lanes' order changes nothing.
    let mut m = [0.0f32; LANES];
    let mut nan = [false; LANES];
    let (chunks, tail) = a.as_chunks::<LANES>();
    for c in chunks {
        for k in 0..LANES {
            let v = libm::fabsf(c[k]);
            m[k] = if v > m[k] { v } else { m[k] };
            nan[k] |= c[k].is_nan();
        }
    }
    let mut max = 0.0f32;
    let mut any_nan = false;
    for k in 0..LANES {
        max = if m[k] > max { m[k] } else { max };
        any_nan |= nan[k];
    }
    for &x in tail {
        let v = libm::fabsf(x);
        max = if v > max { v } else { max };
        any_nan |= x.is_nan();
    }
    if any_nan { f32::NAN } else { max }
}

/// True if every element is finite.
#[inline]
pub(crate) fn all_finite(a: &[f32]) -> bool {
    // Finite means an exponent field below all ones; an integer OR over the
    // elements vectorises into four-wide compares.
    let mut bad = 0u32;
    for &x in a {
        bad |= non_finite(x);
    }
    bad == 0
}

/// 1 if `x` is infinite or NaN, else 0: for loops that check their results
/// as they write them (OR the flags; an integer OR vectorises, a branch
/// does not).
#[inline(always)]
pub(crate) fn non_finite(x: f32) -> u32 {
    const EXPONENT: u32 = 0x7f80_0000;
    u32::from(x.to_bits() & EXPONENT == EXPONENT)
}

/// Magnitudes below this (2^-100, about 7.9e-31) are flushed to 0 in the
/// optimizers' decaying state (momentum, moments, CG directions).
///
/// The state of a parameter whose gradient is exactly 0 (a dead ReLU unit)
/// decays geometrically, `v <- 0.9 v`, into subnormal numbers, which x86
/// computes ~100x slower: SGD with momentum at batch 8 ran 3.4x slower per
/// epoch after a few epochs. Flushing far above the subnormal range (2^-126)
/// keeps the state out of it, with the same bits on every platform.
pub(crate) const NEGLIGIBLE: f32 = 7.888_609e-31;

/// `x`, or 0 when `|x| <` [`NEGLIGIBLE`] (NaN stays NaN).
#[inline(always)]
pub(crate) fn flush_negligible(x: f32) -> f32 {
    if libm::fabsf(x) < NEGLIGIBLE { 0.0 } else { x }
}

/// `y[i] += a * x[i]` for `i < min(x.len(), y.len())`.
#[inline]
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// The arguments of [`adam_update`]: the parameters, their last good
/// copy, Adam's moments, the gradient (all of `x.len()` values) and the
/// step's scalars.
pub(crate) struct AdamUpdate<'a> {
    /// The parameters, updated.
    pub(crate) x: &'a mut [f32],
    /// Receives the parameters as they were.
    pub(crate) last_good: &'a mut [f32],
    /// The first moment, updated.
    pub(crate) m: &'a mut [f32],
    /// The second moment, updated.
    pub(crate) v: &'a mut [f32],
    /// The gradient; its values are unspecified afterwards (the portable
    /// passes keep each parameter's denominator there).
    pub(crate) grad: &'a mut [f32],
    /// The first moment's decay.
    pub(crate) b1: f32,
    /// The second moment's decay.
    pub(crate) b2: f32,
    /// Added to the root of the second moment.
    pub(crate) eps_hat: f32,
    /// The step size (bias corrections folded in).
    pub(crate) step: f32,
}

/// One Adam update: for each parameter, `m = flush(b1 m + (1 - b1) g)`,
/// `v = flush(b2 v + (1 - b2) g^2)` ([`flush_negligible`]), `last_good = x`,
/// `x -= step m / (sqrt(v) + eps_hat)`; returns non-zero if some new `x` is
/// not finite. With AVX in one pass; the portable body takes three passes
/// (the same operations on the same values).
#[inline]
pub(crate) fn adam_update(u: AdamUpdate<'_>) -> u32 {
    let u = match arch::adam_update(u) {
        Ok(bad) => return bad,
        Err(u) => u,
    };
    adam_update_portable(u)
}

/// The portable body of [`adam_update`]: three passes, so that the roots
/// get a kernel of their own (`libm::sqrtf` is opaque to the vectoriser):
/// the moments, then each parameter's denominator into the spent gradient
/// buffer, then the step, which keeps the last good point and flags a
/// non-finite result as it goes. The same operations on the same values as
/// one fused loop.
#[inline(always)]
pub(super) fn adam_update_portable(u: AdamUpdate<'_>) -> u32 {
    let AdamUpdate {
        x,
        last_good,
        m,
        v,
        grad,
        b1,
        b2,
        eps_hat,
        step,
    } = u;
    vectorized(Moments {
        m: &mut *m,
        v: &mut *v,
        grad: &*grad,
        b1,
        b2,
    });
    sqrt_add(grad, v, eps_hat);
    vectorized(Apply {
        x,
        last_good,
        m,
        d: grad,
        step,
    })
}

/// The moments: `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`, each
/// flushed ([`flush_negligible`]).
struct Moments<'a> {
    m: &'a mut [f32],
    v: &'a mut [f32],
    grad: &'a [f32],
    b1: f32,
    b2: f32,
}

impl ElementWise for Moments<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let Moments { m, v, grad, b1, b2 } = self;
        for ((mi, vi), &gi) in m.iter_mut().zip(v.iter_mut()).zip(grad) {
            *mi = flush_negligible(b1 * *mi + (1.0 - b1) * gi);
            *vi = flush_negligible(b2 * *vi + (1.0 - b2) * (gi * gi));
        }
    }
}

/// The step `x -= step m / d`, the old `x` kept in `last_good`; returns
/// non-zero if some new `x` is not finite (the same values as a copy, the
/// step and a check in turn).
struct Apply<'a> {
    x: &'a mut [f32],
    last_good: &'a mut [f32],
    m: &'a [f32],
    d: &'a [f32],
    step: f32,
}

impl ElementWise for Apply<'_> {
    type Output = u32;
    #[inline(always)]
    fn run(self) -> u32 {
        let Apply {
            x,
            last_good,
            m,
            d,
            step,
        } = self;
        let mut bad = 0u32;
        for (((xi, li), &mi), &di) in x.iter_mut().zip(last_good).zip(m).zip(d) {
            *li = *xi;
            *xi -= step * mi / di;
            bad |= non_finite(*xi);
        }
        bad
    }
}

/// `y[i] = sqrt(x[i]) + a`, the root correctly rounded (IEEE 754, as
/// `libm::sqrtf` and every SIMD square root give it). With AVX, eight at a
/// time: the scalar root was ~40% of an Adam step.
#[inline]
pub(super) fn sqrt_add(y: &mut [f32], x: &[f32], a: f32) {
    if let Some(()) = arch::sqrt_add(y, x, a) {
        return;
    }
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = libm::sqrtf(xi) + a;
    }
}

/// `y[i] = x[i] + a * d[i]`: a point on the line through `x` along `d`.
#[inline]
pub(crate) fn along(y: &mut [f32], x: &[f32], a: f32, d: &[f32]) {
    for ((yi, xi), di) in y.iter_mut().zip(x).zip(d) {
        *yi = xi + a * di;
    }
}

/// `y[i] *= a`.
#[inline]
pub(crate) fn scale(y: &mut [f32], a: f32) {
    for yi in y {
        *yi *= a;
    }
}

/// `out[i] = a[i] - b[i]`.
#[inline]
pub(crate) fn sub(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x - y;
    }
}

/// `y[i] = -x[i]`.
#[inline]
pub(crate) fn negate(y: &mut [f32], x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = -xi;
    }
}
