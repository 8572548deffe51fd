//! Reductions: the dot products [`dot`] and [`sum_squares`] in the lane
//! order of the [module documentation](super), and the affine map
//! [`affine_many`] that computes several rows' dot products at once with
//! the same bits.

use super::{SIMD, arch};

/// Number of independent accumulators in the reductions.
pub(super) const LANES: usize = 8;

/// `acc[k] += a[k] * b[k]` for one chunk: the unit every reduction is made of.
/// Reductions end with `combine_many`, which keeps each half of the
/// accumulator array in one 4-wide SSE register.
#[inline(always)]
fn mac(acc: &mut [f32; LANES], a: &[f32; LANES], b: &[f32; LANES]) {
    for k in 0..LANES {
        acc[k] += a[k] * b[k];
    }
}

/// Dot product `sum_i a[i] * b[i]` over `min(a.len(), b.len())` elements, in the
/// order described in the [module documentation](super).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ca, ta) = a[..n].as_chunks::<LANES>();
    let (cb, tb) = b[..n].as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        mac(&mut acc, x, y);
    }
    let [mut sum] = combine_many([acc]);
    for (x, y) in ta.iter().zip(tb) {
        sum += x * y;
    }
    sum
}

/// Combines the lanes of `R` accumulator arrays at once, each by the fixed
/// pairwise tree `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`.
///
/// The first level of the tree (`l[k] + l[k + 4]`) adds the two halves of
/// each array, which are the two SSE registers that hold it; the result goes
/// through `core::hint::black_box` (no value changes) so that LLVM's SLP
/// vectoriser keeps those halves as they are in the loops that fill the
/// accumulators, instead of regrouping the lanes across arrays to suit the
/// rest of the tree (which it does with shuffles in every iteration). The
/// rest of the tree is done on the `R` arrays together.
#[inline(always)]
fn combine_many<const R: usize>(acc: [[f32; LANES]; R]) -> [f32; R] {
    let half: [[f32; 4]; R] =
        core::array::from_fn(|r| core::array::from_fn(|k| acc[r][k] + acc[r][k + 4]));
    let half = core::hint::black_box(half);
    core::array::from_fn(|r| (half[r][0] + half[r][2]) + (half[r][1] + half[r][3]))
}

/// `R` rows split into chunks of [`LANES`] and a tail, for [`dot_rows`].
struct Rows<'a, const R: usize> {
    chunks: [&'a [[f32; LANES]]; R],
    tails: [&'a [f32]; R],
}

impl<'a, const R: usize> Rows<'a, R> {
    /// The rows `w[r][..n]`.
    #[inline(always)]
    fn new(w: [&'a [f32]; R], n: usize) -> Self {
        let split = |r: usize| w[r][..n].as_chunks::<LANES>();
        Rows {
            chunks: core::array::from_fn(|r| split(r).0),
            tails: core::array::from_fn(|r| split(r).1),
        }
    }
}

/// `R` dot products of the rows `w` with `x` (as long as the rows), each
/// bit-identical to [`dot`], loading each chunk of `x` once.
#[inline(always)]
fn dot_rows<const R: usize>(w: &Rows<'_, R>, x: &[f32]) -> [f32; R] {
    let (xc, xt) = x.as_chunks::<LANES>();
    let mut acc = [[0.0f32; LANES]; R];
    // Zipped iterators: no bounds checks in the loop (indexing an array of
    // slices keeps one per row).
    match (&mut acc[..], &w.chunks[..]) {
        ([a0, a1, a2, a3], [w0, w1, w2, w3]) => {
            for ((((x, w0), w1), w2), w3) in xc.iter().zip(*w0).zip(*w1).zip(*w2).zip(*w3) {
                mac(a0, w0, x);
                mac(a1, w1, x);
                mac(a2, w2, x);
                mac(a3, w3, x);
            }
        }
        ([a0, a1], [w0, w1]) => {
            for ((x, w0), w1) in xc.iter().zip(*w0).zip(*w1) {
                mac(a0, w0, x);
                mac(a1, w1, x);
            }
        }
        _ => {
            for (a, wc) in acc.iter_mut().zip(&w.chunks) {
                for (x, w) in xc.iter().zip(*wc) {
                    mac(a, w, x);
                }
            }
        }
    }
    let mut out = combine_many(acc);
    for (t, &xt) in xt.iter().enumerate() {
        for (o, tail) in out.iter_mut().zip(&w.tails) {
            *o += tail[t] * xt;
        }
    }
    out
}

/// An affine map, `out[o] = dot(&w[o * x.len()..(o + 1) * x.len()], x) + b[o]`
/// for `o < out.len()`: `w` holds `out.len()` rows of `x.len()` weights,
/// row-major; every dot product is bit-identical to [`dot`]. (A reference
/// for the tests of [`affine_many`].)
#[cfg(test)]
pub(super) fn affine(w: &[f32], x: &[f32], b: &[f32], out: &mut [f32]) {
    affine_many(w, &b[..out.len()], x, x.len(), out);
}

/// An affine map applied to several vectors: with `rows = b.len()`,
/// `out[s * rows..(s + 1) * rows] = W x_s + b` for `x_s = x[s * cols..(s + 1) * cols]`
/// and every `s` for which both `x_s` and that part of `out` exist, where
/// `(W x_s)[o]` is [`dot`] of row `o` of `W` (`w` holds `rows` rows of
/// `cols` weights, row-major) with `x_s`; bit-identical to computing each
/// vector on its own (`affine`, in the tests).
///
/// Four rows of `w` (two without [`SIMD`]: their 16 accumulators fit a
/// scalar FPU's registers) are taken at a time and run over all vectors, so
/// each chunk of `x_s` is loaded once per four (two) rows.
#[inline]
pub(crate) fn affine_many(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    if let Some(()) = arch::affine_many(w, b, x, cols, out) {
        return;
    }
    affine_many_portable(w, b, x, cols, out);
}

/// The number of vectors [`affine_many`] maps: as many as both `x` and
/// `out` hold (`None` without rows).
#[inline(always)]
pub(super) fn affine_count(b: &[f32], x: &[f32], cols: usize, out: &[f32]) -> Option<usize> {
    let count = out.len().checked_div(b.len())?;
    Some(x.len().checked_div(cols).map_or(count, |n| count.min(n)))
}

/// The portable body of [`affine_many`].
#[inline(always)]
pub(super) fn affine_many_portable(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    let rows = b.len();
    let Some(count) = affine_count(b, x, cols, out) else {
        return;
    };
    let w = &w[..rows * cols];
    let mut o = 0;
    while SIMD && o + 4 <= rows {
        affine_rows::<4>(w, b, x, cols, out, o, count);
        o += 4;
    }
    while o + 2 <= rows {
        affine_rows::<2>(w, b, x, cols, out, o, count);
        o += 2;
    }
    while o < rows {
        affine_rows::<1>(w, b, x, cols, out, o, count);
        o += 1;
    }
}

/// Rows `o..o + R` of [`affine_many`].
#[inline(always)]
fn affine_rows<const R: usize>(
    w: &[f32],
    b: &[f32],
    x: &[f32],
    cols: usize,
    out: &mut [f32],
    o: usize,
    count: usize,
) {
    let rows = b.len();
    let wr: [&[f32]; R] = core::array::from_fn(|r| &w[(o + r) * cols..(o + r + 1) * cols]);
    // Behind black_box, the rows are four unrelated pointers to LLVM: it
    // keeps one register each instead of deriving them from a base and the
    // stride with three `lea` per chunk.
    let wr = core::hint::black_box(Rows::new(wr, cols));
    let br: [f32; R] = core::array::from_fn(|r| b[o + r]);
    let x = &x[..count * cols];
    let out = &mut out[..count * rows];
    for s in 0..count {
        let d = dot_rows(&wr, &x[s * cols..(s + 1) * cols]);
        for ((out, d), b) in out[s * rows + o..s * rows + o + R]
            .iter_mut()
            .zip(d)
            .zip(br)
        {
            *out = d + b;
        }
    }
}

/// Dot products of one row `w` with several vectors at once:
/// `out[s] = dot(w, &xs[s * stride..])` for `s < out.len()`, bit-identical to
/// calling [`dot`] for each `s`, but loading each chunk of `w` once.
///
/// `xs` holds the vectors with `stride` elements between starts; each vector
/// uses the first `w.len()` of its elements. (Not used by the network,
/// which takes [`affine_many`]; kept with its test as the reference for the
/// four-vector blocking.)
#[cfg(test)]
pub(super) fn dot_many(w: &[f32], xs: &[f32], stride: usize, out: &mut [f32]) {
    let n = w.len();
    let (wc, wt) = w.as_chunks::<LANES>();
    let mut s = 0;
    // Four vectors at a time share the loads of `w`.
    while s + 4 <= out.len() {
        let x = |k: usize| xs[(s + k) * stride..(s + k) * stride + n].as_chunks::<LANES>();
        let ((c0, t0), (c1, t1), (c2, t2), (c3, t3)) = (x(0), x(1), x(2), x(3));
        let mut a = [[0.0f32; LANES]; 4];
        for ((((w, x0), x1), x2), x3) in wc.iter().zip(c0).zip(c1).zip(c2).zip(c3) {
            mac(&mut a[0], w, x0);
            mac(&mut a[1], w, x1);
            mac(&mut a[2], w, x2);
            mac(&mut a[3], w, x3);
        }
        let mut r = combine_many(a);
        for ((((w, x0), x1), x2), x3) in wt.iter().zip(t0).zip(t1).zip(t2).zip(t3) {
            r[0] += w * x0;
            r[1] += w * x1;
            r[2] += w * x2;
            r[3] += w * x3;
        }
        out[s..s + 4].copy_from_slice(&r);
        s += 4;
    }
    while s < out.len() {
        out[s] = dot(w, &xs[s * stride..s * stride + n]);
        s += 1;
    }
}

/// Sum of squares `sum_i a[i] * a[i]`, in the order of [`dot`].
#[inline]
pub(crate) fn sum_squares(a: &[f32]) -> f32 {
    dot(a, a)
}
