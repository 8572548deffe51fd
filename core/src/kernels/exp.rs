//! The exponential: [`exp_moderate`] (bit-identical to `libm::expf` on the
//! range a softmax needs) and [`softmax_rows`], the shifted exponentials
//! of a block of logits.

use super::{SIMD, arch};

/// `x[i] = e^x[i]`, bit-identical to `libm::expf`, for `|x[i]| < 87` or NaN
/// (outside that range the value is unspecified, finite or not). With AVX,
/// eight at a time: libm's branches on the range of `x` were mispredicted
/// and its division unpipelined, ~10% of an epoch at batch 32. Checked
/// against `libm::expf` over every `f32` in `[-44, 0]`.
#[inline]
pub(crate) fn exp_moderate(x: &mut [f32]) {
    if let Some(()) = arch::exp_moderate(x) {
        return;
    }
    for v in x {
        *v = expf_moderate_one(*v);
    }
}

/// [`exp_moderate`] of one value: FreeBSD's algorithm (libm's), the same
/// operations in the same order, with the argument reduction's branches
/// made selects (the AVX kernel's lane-wise form).
#[inline(always)]
pub(super) fn expf_moderate_one(x: f32) -> f32 {
    // libm's constants, by their bits.
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200); // 6.9314575195e-01
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e); // 1.4286067653e-06
    const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b); // 1.4426950216e+00
    const P1: f32 = f32::from_bits(0x3e2a_aa8f); // 1.6666625440e-1
    const P2: f32 = f32::from_bits(0xbb35_5215); // -2.7667332906e-3
    let abs = x.to_bits() & 0x7fff_ffff;
    let sign = x.to_bits() & 0x8000_0000;
    let signed = |v: f32| f32::from_bits(v.to_bits() | sign);
    // Argument reduction x = k ln2 + r: k by rounding beyond 1.5 ln2, +-1
    // beyond 0.5 ln2, 0 below (where `r = x - 0 = x` exactly, as libm's
    // separate branch has it). libm's `(INV_LN2 * x + +-0.5) as i32`
    // truncates; here the truncation is done in floats, which vectorises
    // (`|t| < 2^23`: adding and taking away 2^23 rounds to an integer, one
    // less if that rounded up).
    const TWO_23: f32 = 8_388_608.0;
    let t = INV_LN2 * x + signed(0.5);
    let t_abs = f32::from_bits(t.to_bits() & 0x7fff_ffff);
    let n = (t_abs + TWO_23) - TWO_23;
    let n = if n > t_abs { n - 1.0 } else { n };
    let kf = if abs > 0x3f85_1592 {
        signed(n)
    } else if abs > 0x3eb1_7218 {
        signed(1.0)
    } else {
        0.0
    };
    // The integer k from the float (exact for |k| < 2^22).
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let k = ((kf + MAGIC).to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * P2);
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // libm's `scalbnf(y, k)` is this one exact multiplication for such `k`.
    let scaled = y * f32::from_bits((k.wrapping_add(127) as u32) << 23);
    if x.is_nan() {
        x
    } else if abs <= 0x3900_0000 {
        1.0 + x
    } else {
        scaled
    }
}

/// Most rows [`softmax_rows`]'s SIMD kernel takes at once.
pub(super) const SOFTMAX_ROWS: usize = 8;

/// Widest rows [`softmax_rows`]'s SIMD kernel takes.
pub(super) const SOFTMAX_WIDTH: usize = 32;

/// Shifted exponentials of `count = maxima.len()` rows of `width` values
/// in `z` (row-major), each row in place, as a softmax needs them. For
/// each row: `maxima[r]` = its first value, replaced by every later value
/// greater than it (a NaN never replaces one); each value `v` becomes
/// `libm::expf(v - maxima[r])`, or 0 where `v - maxima[r] < floor`, NaN
/// where that is NaN; `sums[r]` = those values added in order from `+0`
/// (f32); with `normalize`, each value is then multiplied by
/// `1 / sums[r]`. `floor` must be in `(-87, 0]`.
///
/// `width` must be above 0 (nothing is done for 0).
///
/// With AVX, up to [`SOFTMAX_ROWS`] rows of up to [`SOFTMAX_WIDTH`] values
/// are transposed so that every step is one vector operation for all of
/// them; otherwise the portable body takes a row at a time.
#[inline]
pub(crate) fn softmax_rows(
    z: &mut [f32],
    width: usize,
    maxima: &mut [f32],
    sums: &mut [f32],
    floor: f32,
    normalize: bool,
) {
    if width == 0 {
        return;
    }
    if let Some(()) = arch::softmax_rows(z, width, maxima, sums, floor, normalize) {
        return;
    }
    softmax_rows_portable(z, width, maxima, sums, floor, normalize);
}

/// The portable body of [`softmax_rows`]: one row at a time (`width > 0`).
pub(super) fn softmax_rows_portable(
    z: &mut [f32],
    width: usize,
    maxima: &mut [f32],
    sums: &mut [f32],
    floor: f32,
    normalize: bool,
) {
    for (row, m) in z.chunks_exact(width).zip(maxima.iter_mut()) {
        *m = row[0];
        for &v in &row[1..] {
            if v > *m {
                *m = v;
            }
        }
    }
    // Every row's `e^(z - max)` in place: the whole block in one call
    // (independent vectors, where the kernels have them) when it fits.
    if z.len() <= EXP_BUFFER {
        exp_shifted(z, width, maxima, floor);
    } else {
        for (row, &m) in z.chunks_exact_mut(width).zip(maxima.iter()) {
            for piece in row.chunks_mut(EXP_BUFFER) {
                exp_shifted(piece, piece.len(), &[m], floor);
            }
        }
    }
    for (row, sum) in z.chunks_exact_mut(width).zip(sums.iter_mut()) {
        *sum = 0.0;
        for &e in row.iter() {
            *sum += e;
        }
        if normalize {
            let inv = 1.0 / *sum;
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
    }
}

/// Logits whose exponentials [`softmax_rows_portable`] computes in one
/// call: with SIMD, as many as the SIMD kernel takes (a block of 8 samples
/// with up to 32 classes); without (a scalar FPU), batching them gains
/// nothing, so a row at a time, saving stack.
const EXP_BUFFER: usize = if SIMD {
    SOFTMAX_ROWS * SOFTMAX_WIDTH
} else {
    16
};

/// `z[i] = e^(z[i] - max)` for the rows of `width` values in `z` (at most
/// [`EXP_BUFFER`] values), row `r`'s `max` being `maxima[r]`; 0 where the
/// exponent is below `floor`, NaN where it is NaN.
fn exp_shifted(z: &mut [f32], width: usize, maxima: &[f32], floor: f32) {
    let mut shifted = [0.0f32; EXP_BUFFER];
    let shifted = &mut shifted[..z.len()];
    for ((b, row), &m) in shifted.chunks_mut(width).zip(z.chunks(width)).zip(maxima) {
        for (b, &v) in b.iter_mut().zip(row) {
            // `exp_moderate` wants |x| < 87: the negligible ones are set to
            // 0 after it. NaN stays NaN (the comparison is false).
            let d = v - m;
            *b = if d < floor { 0.0 } else { d };
        }
    }
    exp_moderate(shifted);
    for ((row, e), &m) in z.chunks_mut(width).zip(shifted.chunks(width)).zip(maxima) {
        for (v, &e) in row.iter_mut().zip(e) {
            *v = if *v - m < floor { 0.0 } else { e };
        }
    }
}
