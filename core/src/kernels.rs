//! The hot loops: the only place where sooth does arithmetic over long vectors.
//!
//! Every kernel fixes its summation order in its contract, so that the same
//! inputs give the same bits on every target, at every optimisation level:
//!
//! * reductions ([`dot`], [`sum_squares`]) keep [`LANES`] independent
//!   accumulators; lane `k` adds the products of the elements `i` with
//!   `i % LANES == k` in increasing `i`, then the lanes are combined by the
//!   fixed tree of [`combine_lanes`], then the tail (`len % LANES` elements) is
//!   added in increasing `i`;
//! * element-wise kernels ([`axpy`], [`scale`], ...) compute each element on its
//!   own, so their order does not matter.
//!
//! Multiplications and additions stay separate (no `mul_add`): rustc never
//! contracts them, and a Cortex-M4F's `vmla.f32` rounds after the multiply, so
//! x86_64 and thumbv7em agree bit for bit. The lane loops are written over
//! `chunks_exact` with array accumulators, which LLVM turns into SSE/AVX
//! vectors on x86_64 without changing a single rounding.

/// Number of independent accumulators in the reductions.
pub const LANES: usize = 8;

/// Combines the lane accumulators in a fixed pairwise tree:
/// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`.
#[inline(always)]
pub fn combine_lanes(l: [f32; LANES]) -> f32 {
    let a = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    let b = [a[0] + a[2], a[1] + a[3]];
    b[0] + b[1]
}

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
/// order described in the [module documentation](self).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
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

/// [`combine_lanes`] of `R` accumulator arrays at once.
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

/// `R` dot products of the rows `w[r]` with `x` (each row at least
/// `x.len()` long), each bit-identical to [`dot`], loading each chunk of `x`
/// once.
#[inline(always)]
fn dot_rows<const R: usize>(w: &[&[f32]; R], x: &[f32]) -> [f32; R] {
    let n = x.len();
    let rows: [&[f32]; R] = core::array::from_fn(|r| &w[r][..n]);
    let (xc, xt) = x.as_chunks::<LANES>();
    let wc: [&[[f32; LANES]]; R] = core::array::from_fn(|r| rows[r].as_chunks::<LANES>().0);
    let mut acc = [[0.0f32; LANES]; R];
    // Zipped iterators: no bounds checks in the loop (indexing an array of
    // slices keeps one per row).
    match (&mut acc[..], &wc[..]) {
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
            for (r, a) in acc.iter_mut().enumerate() {
                for (x, w) in xc.iter().zip(wc[r]) {
                    mac(a, w, x);
                }
            }
        }
    }
    let mut out = combine_many(acc);
    let full = xc.len() * LANES;
    for (t, &xt) in xt.iter().enumerate() {
        for (o, row) in out.iter_mut().zip(&rows) {
            *o += row[full + t] * xt;
        }
    }
    out
}

/// An affine map, `out[o] = dot(&w[o * x.len()..(o + 1) * x.len()], x) + b[o]`
/// for `o < out.len()`: `w` holds `out.len()` rows of `x.len()` weights,
/// row-major; every dot product is bit-identical to [`dot`].
#[inline]
pub fn affine(w: &[f32], x: &[f32], b: &[f32], out: &mut [f32]) {
    affine_many(w, &b[..out.len()], x, x.len(), out);
}

/// [`affine`] applied to several vectors: with `rows = b.len()`,
/// `out[s * rows..(s + 1) * rows] = W x_s + b` for `x_s = x[s * cols..(s + 1) * cols]`
/// and every `s` for which both `x_s` and that part of `out` exist;
/// bit-identical to calling [`affine`] for each `s`.
///
/// Four rows of `w` are taken at a time and run over all vectors, so each
/// chunk of `x_s` is loaded once per four rows.
#[inline]
pub fn affine_many(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    let rows = b.len();
    let Some(mut count) = out.len().checked_div(rows) else {
        return;
    };
    if let Some(n) = x.len().checked_div(cols) {
        count = count.min(n);
    }
    let w = &w[..rows * cols];
    let mut o = 0;
    while o + 4 <= rows {
        affine_rows::<4>(w, b, x, cols, out, o, count);
        o += 4;
    }
    if SIMD && o + 2 <= rows {
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
    let wr = core::hint::black_box(wr);
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
/// uses the first `w.len()` of its elements.
#[inline]
pub fn dot_many(w: &[f32], xs: &[f32], stride: usize, out: &mut [f32]) {
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
pub fn sum_squares(a: &[f32]) -> f32 {
    dot(a, a)
}

/// Largest absolute value (the infinity norm); NaN if any element is NaN.
#[inline]
pub fn norm_inf(a: &[f32]) -> f32 {
    let mut m = 0.0f32;
    for &x in a {
        let ax = libm::fabsf(x);
        if ax.is_nan() {
            return f32::NAN;
        }
        if ax > m {
            m = ax;
        }
    }
    m
}

/// True if every element is finite.
#[inline]
pub fn all_finite(a: &[f32]) -> bool {
    // Finite means an exponent field below all ones; an integer OR over the
    // elements vectorises into four-wide compares.
    const EXPONENT: u32 = 0x7f80_0000;
    let mut bad = 0u32;
    for x in a {
        bad |= u32::from(x.to_bits() & EXPONENT == EXPONENT);
    }
    bad == 0
}

/// `y[i] += a * x[i]` for `i < min(x.len(), y.len())`.
#[inline]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `y[i] = (((y[i] + a[0] x[0][i]) + a[1] x[1][i]) + a[2] x[2][i]) + a[3] x[3][i]`:
/// four [`axpy`]s in that order, bit-identical to calling them one by one, with
/// one pass over `y`. Each `x[j]` needs at least `y.len()` elements.
#[inline]
pub fn axpy4(y: &mut [f32], a: [f32; 4], x: [&[f32]; 4]) {
    axpy_n(y, a, x);
}

/// `y[i] = (...((y[i] + a[0] x[0][i]) + a[1] x[1][i]) ...) + a[N-1] x[N-1][i]`:
/// `N` [`axpy`]s in that order, bit-identical to calling them one by one, with
/// one pass over `y`. Each `x[j]` needs at least `y.len()` elements.
#[inline]
pub fn axpy_n<const N: usize>(y: &mut [f32], a: [f32; N], x: [&[f32]; N]) {
    let n = y.len();
    axpy_tiles::<N, false>(y, a, &Tiles::new(x, n));
}

/// Whether the target has SIMD that the kernels' register blocking is shaped
/// for (SSE2 on x86_64). Without it (a Cortex-M4F's scalar FPU), the kernels
/// keep the same arithmetic but unroll less, to save flash.
pub(crate) const SIMD: bool = cfg!(target_arch = "x86_64");

/// Elements per tile of [`axpy_tiles`]: four SSE registers of `y` with SIMD.
const TILE: usize = if SIMD { 16 } else { 1 };

/// `N` vectors of `n` elements, split into tiles of [`TILE`] and a tail.
struct Tiles<'a, const N: usize> {
    tiles: [&'a [[f32; TILE]]; N],
    tails: [&'a [f32]; N],
}

impl<'a, const N: usize> Tiles<'a, N> {
    #[inline(always)]
    fn new(x: [&'a [f32]; N], n: usize) -> Self {
        let split = |j: usize| x[j][..n].as_chunks::<TILE>();
        Tiles {
            tiles: core::array::from_fn(|j| split(j).0),
            tails: core::array::from_fn(|j| split(j).1),
        }
    }
}

/// [`axpy_n`] over pre-split vectors; with `ZERO`, `y`'s values are replaced
/// by `+0` first (`y[i] = ((0 + a[0] x[0][i]) + ...`).
///
/// It works on tiles of 16 elements of `y`, held in registers while the `N`
/// terms are added: indexing the `N` slices then costs one bounds check per
/// slice and tile, and the loop needs no scalar epilogue (a plain element loop
/// over `x[j][i]` gets one of a full vector's length from the loop
/// vectoriser, for the checks it cannot hoist).
#[inline(always)]
fn axpy_tiles<const N: usize, const ZERO: bool>(y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>) {
    let (yc, yt) = y.as_chunks_mut::<TILE>();
    for (i, yv) in yc.iter_mut().enumerate() {
        // An empty barrier (no instruction): without it, LLVM's loop
        // vectoriser may vectorise across tiles instead, gathering every
        // element with scalar loads and shuffles (seen for N = 5..7).
        core::hint::black_box(());
        let mut v = if ZERO { [0.0; TILE] } else { *yv };
        for (a, xj) in a.iter().zip(&x.tiles) {
            let xv = &xj[i];
            for k in 0..TILE {
                v[k] += a * xv[k];
            }
        }
        *yv = v;
    }
    for (t, yi) in yt.iter_mut().enumerate() {
        let mut v = if ZERO { 0.0 } else { *yi };
        for (a, xj) in a.iter().zip(&x.tails) {
            v += a * xj[t];
        }
        *yi = v;
    }
}

/// `y += sum_j a[j] * x[j * n..(j + 1) * n]` with `n = y.len()`, the terms in
/// increasing `j`: bit-identical to one [`axpy`] per term in that order, in
/// passes of up to eight terms ([`axpy_n`]). Zero coefficients are not skipped.
#[inline]
pub fn axpy_rows(y: &mut [f32], a: &[f32], x: &[f32]) {
    rows_combination::<false>(y, a, x);
}

/// `y = sum_j a[j] * x[j * n..(j + 1) * n]` with `n = y.len()`, as
/// `((0 + a[0] x_0) + a[1] x_1) + ...`: bit-identical to filling `y` with `+0`
/// and calling [`axpy_rows`] (a `y` that is all `+0` for an empty `a`).
#[inline]
pub fn linear_combination(y: &mut [f32], a: &[f32], x: &[f32]) {
    if a.is_empty() {
        y.fill(0.0);
    }
    rows_combination::<true>(y, a, x);
}

#[inline(always)]
fn rows_combination<const ZERO: bool>(y: &mut [f32], a: &[f32], x: &[f32]) {
    #[inline(always)]
    fn pass<const N: usize, const ZERO: bool>(y: &mut [f32], a: &[f32], x: &[f32], j: usize) {
        let n = y.len();
        let xs = Tiles::new(
            core::array::from_fn(|k| &x[(j + k) * n..(j + k + 1) * n]),
            n,
        );
        axpy_tiles::<N, ZERO>(y, core::array::from_fn(|k| a[j + k]), &xs);
    }
    // Only the first pass may start from zero; the sizes depend on `a.len()`
    // alone, so the branches are predictable.
    let mut j = 0;
    let mut first = ZERO;
    while j < a.len() {
        let rest = a.len() - j;
        let step = if rest >= 8 {
            8
        } else if rest >= 4 {
            4
        } else if rest >= 2 {
            2
        } else {
            1
        };
        match (step, first) {
            (8, true) => pass::<8, true>(y, a, x, j),
            (8, false) => pass::<8, false>(y, a, x, j),
            (4, true) => pass::<4, true>(y, a, x, j),
            (4, false) => pass::<4, false>(y, a, x, j),
            (2, true) => pass::<2, true>(y, a, x, j),
            (2, false) => pass::<2, false>(y, a, x, j),
            (_, true) => pass::<1, true>(y, a, x, j),
            (_, false) => pass::<1, false>(y, a, x, j),
        }
        j += step;
        first = false;
    }
}

/// `G += D^T X` in sample order: with `rows = g.len() / cols` (`g` row-major)
/// and `count = x.len() / cols`, every row `o` of `g` gets
/// `d[s * rows + o] * x[s * cols..(s + 1) * cols]` added for `s < count` in
/// increasing `s` — bit-identical to one [`axpy`] per term in that order
/// (zero coefficients are not skipped). The terms go in passes of up to eight
/// samples ([`axpy_n`]), each sample's row loaded once per row of `g`.
#[inline]
pub fn add_outer(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    let (Some(rows), Some(count)) = (g.len().checked_div(cols), x.len().checked_div(cols)) else {
        return;
    };
    let mut s = 0;
    while s < count {
        let rest = count - s;
        if rest >= 8 {
            outer_pass::<8>(g, d, x, cols, rows, s);
            s += 8;
        } else if rest >= 4 {
            outer_pass::<4>(g, d, x, cols, rows, s);
            s += 4;
        } else if rest >= 2 {
            outer_pass::<2>(g, d, x, cols, rows, s);
            s += 2;
        } else {
            outer_pass::<1>(g, d, x, cols, rows, s);
            s += 1;
        }
    }
}

/// Samples `s..s + N` of [`add_outer`].
#[inline(never)]
fn outer_pass<const N: usize>(
    g: &mut [f32],
    d: &[f32],
    x: &[f32],
    cols: usize,
    rows: usize,
    s: usize,
) {
    let xs = Tiles::new(
        core::array::from_fn(|j| &x[(s + j) * cols..(s + j + 1) * cols]),
        cols,
    );
    let d: [&[f32]; N] = core::array::from_fn(|j| &d[(s + j) * rows..(s + j + 1) * rows]);
    for (o, row) in g[..rows * cols].chunks_exact_mut(cols).enumerate() {
        axpy_tiles::<N, false>(row, core::array::from_fn(|j| d[j][o]), &xs);
    }
}

/// `y[i] = x[i] + a * d[i]`: a point on the line through `x` along `d`.
#[inline]
pub fn along(y: &mut [f32], x: &[f32], a: f32, d: &[f32]) {
    for ((yi, xi), di) in y.iter_mut().zip(x).zip(d) {
        *yi = xi + a * di;
    }
}

/// `y[i] *= a`.
#[inline]
pub fn scale(y: &mut [f32], a: f32) {
    for yi in y {
        *yi *= a;
    }
}

/// `out[i] = a[i] - b[i]`.
#[inline]
pub fn sub(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x - y;
    }
}

/// `y[i] = -x[i]`.
#[inline]
pub fn negate(y: &mut [f32], x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = -xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequential_lane_dot(a: &[f32], b: &[f32]) -> f32 {
        // The contract, written out the slow way.
        let n = a.len();
        let full = n - n % LANES;
        let mut lanes = [0.0f32; LANES];
        for i in 0..full {
            lanes[i % LANES] += a[i] * b[i];
        }
        let mut s = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
            + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
        for i in full..n {
            s += a[i] * b[i];
        }
        s
    }

    fn data(n: usize, seed: u32) -> [f32; 67] {
        let mut out = [0.0f32; 67];
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
        for v in out.iter_mut().take(n) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *v = (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        }
        out
    }

    #[test]
    fn dot_follows_its_documented_order() {
        for n in 0..67 {
            let a = data(n, 1);
            let b = data(n, 2);
            assert_eq!(
                dot(&a[..n], &b[..n]).to_bits(),
                sequential_lane_dot(&a[..n], &b[..n]).to_bits(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn dot_many_equals_dot_bit_for_bit() {
        let w = data(61, 3);
        let mut xs = [0.0f32; 7 * 67];
        for s in 0..7 {
            xs[s * 67..(s + 1) * 67].copy_from_slice(&data(67, 10 + s as u32));
        }
        for n in [0usize, 1, 7, 8, 9, 31, 61] {
            let mut out = [0.0f32; 7];
            dot_many(&w[..n], &xs, 67, &mut out);
            for s in 0..7 {
                assert_eq!(out[s].to_bits(), dot(&w[..n], &xs[s * 67..]).to_bits());
            }
        }
    }

    #[test]
    fn affine_equals_dot_plus_bias_bit_for_bit() {
        // Every row count exercises the 4-, 2- and 1-row paths; every column
        // count the chunk loop and the tail.
        let mut w = [0.0f32; 11 * 67];
        for r in 0..11 {
            w[r * 67..(r + 1) * 67].copy_from_slice(&data(67, 30 + r as u32));
        }
        let b = data(11, 4);
        let x = data(67, 5);
        for cols in [0usize, 1, 7, 8, 9, 16, 31, 64, 67] {
            for rows in 0..=11 {
                let mut out = [0.0f32; 11];
                affine(&w, &x[..cols], &b, &mut out[..rows]);
                for o in 0..rows {
                    let expected = dot(&w[o * cols..(o + 1) * cols], &x[..cols]) + b[o];
                    assert_eq!(
                        out[o].to_bits(),
                        expected.to_bits(),
                        "{rows}x{cols} row {o}"
                    );
                }
            }
        }
    }

    #[test]
    fn axpy_n_equals_axpys_in_order_bit_for_bit() {
        fn check<const N: usize>(n: usize) {
            let xs: [[f32; 67]; N] = core::array::from_fn(|j| data(67, 40 + j as u32));
            let a: [f32; N] = core::array::from_fn(|j| (j as f32 - 2.5) * 0.37);
            let mut y1 = data(n, 6);
            let mut y2 = y1;
            for j in 0..N {
                axpy(&mut y1[..n], a[j], &xs[j]);
            }
            axpy_n(&mut y2[..n], a, core::array::from_fn(|j| &xs[j][..]));
            for i in 0..n {
                assert_eq!(
                    y1[i].to_bits(),
                    y2[i].to_bits(),
                    "N = {N}, n = {n}, i = {i}"
                );
            }
        }
        for n in [0usize, 1, 3, 4, 8, 17, 61, 67] {
            check::<1>(n);
            check::<2>(n);
            check::<3>(n);
            check::<5>(n);
            check::<8>(n);
        }
    }

    #[test]
    fn axpy4_equals_four_axpys_bit_for_bit() {
        for n in [0usize, 3, 8, 17, 61] {
            let xs: [[f32; 67]; 4] = core::array::from_fn(|j| data(67, 20 + j as u32));
            let a = [0.3f32, -1.7, 2.5e-3, 11.0];
            let mut y1 = data(n, 5);
            let mut y2 = y1;
            for j in 0..4 {
                axpy(&mut y1[..n], a[j], &xs[j]);
            }
            axpy4(&mut y2[..n], a, [&xs[0], &xs[1], &xs[2], &xs[3]]);
            for i in 0..n {
                assert_eq!(y1[i].to_bits(), y2[i].to_bits());
            }
        }
    }

    #[test]
    fn dot_of_known_vectors() {
        let a: [f32; 10] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(dot(&a, &a), 385.0);
        assert_eq!(sum_squares(&a[..3]), 14.0);
    }

    #[test]
    fn finiteness_and_norms() {
        let mut a = [1.0f32, -3.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0];
        assert!(all_finite(&a));
        assert_eq!(norm_inf(&a), 7.0);
        a[9] = f32::INFINITY;
        assert!(!all_finite(&a));
        a[9] = 0.0;
        a[2] = f32::NAN;
        assert!(!all_finite(&a));
        assert!(norm_inf(&a).is_nan());
        a[2] = f32::NEG_INFINITY;
        assert!(!all_finite(&a));
    }

    #[test]
    fn elementwise_kernels() {
        let mut y = [1.0f32, 2.0, 3.0];
        axpy(&mut y, 2.0, &[1.0, 1.0, -1.0]);
        assert_eq!(y, [3.0, 4.0, 1.0]);
        scale(&mut y, 0.5);
        assert_eq!(y, [1.5, 2.0, 0.5]);
        let mut z = [0.0f32; 3];
        along(&mut z, &y, -2.0, &[1.0, 0.0, 1.0]);
        assert_eq!(z, [-0.5, 2.0, -1.5]);
        sub(&mut z, &[1.0, 1.0, 1.0], &y);
        assert_eq!(z, [-0.5, -1.0, 0.5]);
        negate(&mut y, &[1.0, -2.0, 0.0]);
        assert_eq!(y, [-1.0, 2.0, -0.0]);
    }
}
