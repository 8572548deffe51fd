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
//! * sums of terms ([`axpy_n`], [`axpy_rows`], [`linear_combinations`],
//!   [`add_outer_nonzero`]) add every element's terms in a stated order, as
//!   the same sequence of [`axpy`]s would;
//! * element-wise kernels ([`axpy`], [`scale`], ...) compute each element on its
//!   own, so their order does not matter.
//!
//! Multiplications and additions stay separate (no `mul_add`): rustc never
//! contracts them, and a Cortex-M4F's `vmla.f32` rounds after the multiply, so
//! x86_64 and thumbv7em agree bit for bit. The lane loops are written over
//! `chunks_exact` with array accumulators, which LLVM turns into SSE/AVX
//! vectors on x86_64 without changing a single rounding.
//!
//! The kernels that the network's passes spend their time in are register
//! blocked for SSE2: [`affine_many`] computes four rows' dot products at once
//! (each chunk of the input loaded once for four rows), the sums of terms
//! work on tiles of 16 elements kept in registers while up to eight terms
//! are added. Where LLVM's vectorisers would regroup the work in a slower
//! way, `core::hint::black_box` marks a boundary they do not cross; it
//! changes no value. Without SIMD (other than x86_64, e.g. a Cortex-M4F) the
//! same arithmetic is unrolled less, to save flash.

#[cfg(target_arch = "x86_64")]
mod avx;

/// The versions of the network's hot kernels, from the portable ones up.
/// All give the same bits; the wider ones are faster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KernelSet {
    /// The portable kernels (SSE2 on x86_64, scalar elsewhere).
    Portable,
    /// AVX (256-bit) on x86_64.
    Avx,
    /// AVX-512 (F and DQ) on x86_64 for the affine map and the sums of
    /// terms, AVX for the rest.
    Avx512,
}

/// Uses the best kernel set that the CPU and OS support, but at most
/// `limit`; returns the set now in use. By default the best one is used;
/// since they all give the same bits, this exists to show that (and to
/// time them). Other targets than x86_64 have only the portable kernels.
pub fn use_kernels(limit: KernelSet) -> KernelSet {
    #[cfg(target_arch = "x86_64")]
    return avx::set_limit(limit);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = limit;
        KernelSet::Portable
    }
}

/// The kernel set in use (see [`use_kernels`]).
pub fn kernels_in_use() -> KernelSet {
    #[cfg(target_arch = "x86_64")]
    return avx::in_use();
    #[cfg(not(target_arch = "x86_64"))]
    KernelSet::Portable
}

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
    #[cfg(target_arch = "x86_64")]
    if avx::affine_many(w, b, x, cols, out) {
        return;
    }
    affine_many_portable(w, b, x, cols, out);
}

/// The number of vectors [`affine_many`] maps: as many as both `x` and
/// `out` hold (`None` without rows).
#[inline(always)]
fn affine_count(b: &[f32], x: &[f32], cols: usize, out: &[f32]) -> Option<usize> {
    let count = out.len().checked_div(b.len())?;
    Some(x.len().checked_div(cols).map_or(count, |n| count.min(n)))
}

/// [`affine_many`] without the run-time choice of kernels.
#[inline(always)]
fn affine_many_portable(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    let rows = b.len();
    let Some(count) = affine_count(b, x, cols, out) else {
        return;
    };
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

/// An element-wise pass (each element computed on its own, or a reduction
/// whose order does not matter), for [`vectorized`]. Implementations mark
/// `run` `#[inline(always)]`, so that it is compiled into its caller with
/// that caller's instruction set.
pub(crate) trait ElementWise {
    /// What the pass returns.
    type Output;
    /// Runs the pass.
    fn run(self) -> Self::Output;
}

/// Runs `pass` with the widest vector instructions in use: on x86_64 with
/// AVX, from a function compiled with AVX, so that its loops use 256-bit
/// vectors. Each element gets the same operations either way (AVX has no
/// fused multiply-add), so the same bits.
#[inline(always)]
pub(crate) fn vectorized<P: ElementWise>(pass: P) -> P::Output {
    #[cfg(target_arch = "x86_64")]
    let out = avx::call(pass);
    #[cfg(not(target_arch = "x86_64"))]
    let out = pass.run();
    out
}

/// Largest absolute value (the infinity norm); NaN if any element is NaN.
#[inline]
pub fn norm_inf(a: &[f32]) -> f32 {
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
pub fn all_finite(a: &[f32]) -> bool {
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
pub fn non_finite(x: f32) -> u32 {
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
pub const NEGLIGIBLE: f32 = 7.888_609e-31;

/// `x`, or 0 when `|x| <` [`NEGLIGIBLE`] (NaN stays NaN).
#[inline(always)]
pub fn flush_negligible(x: f32) -> f32 {
    if libm::fabsf(x) < NEGLIGIBLE { 0.0 } else { x }
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

/// How a sum of terms is added to one vector: [`axpy_tiles`], or the same
/// arithmetic with other registers (the AVX kernels). Implementations give
/// bit-identical results.
trait AddTerms: Copy {
    /// [`axpy_tiles::<N, ZERO>`](axpy_tiles).
    fn add<const N: usize, const ZERO: bool>(self, y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>);
}

/// [`AddTerms`] by [`axpy_tiles`] itself.
#[derive(Clone, Copy)]
struct Portable;

impl AddTerms for Portable {
    #[inline(always)]
    fn add<const N: usize, const ZERO: bool>(self, y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>) {
        axpy_tiles::<N, ZERO>(y, a, x);
    }
}

/// `y += sum_j a[j] * x[j * n..(j + 1) * n]` with `n = y.len()`, the terms in
/// increasing `j`: bit-identical to one [`axpy`] per term in that order, in
/// passes of up to eight terms ([`axpy_n`]). Zero coefficients are not skipped.
#[inline]
pub fn axpy_rows(y: &mut [f32], a: &[f32], x: &[f32]) {
    rows_combination::<false, _>(Portable, y, y.len(), a, a.len(), x);
}

/// `y = sum_j a[j] * x[j * n..(j + 1) * n]` with `n = y.len()`, as
/// `((0 + a[0] x_0) + a[1] x_1) + ...`: bit-identical to filling `y` with `+0`
/// and calling [`axpy_rows`] (a `y` that is all `+0` for an empty `a`).
#[inline]
pub fn linear_combination(y: &mut [f32], a: &[f32], x: &[f32]) {
    if a.is_empty() {
        y.fill(0.0);
    }
    rows_combination::<true, _>(Portable, y, y.len(), a, a.len(), x);
}

/// [`linear_combination`] for several vectors with the same `x`: with
/// `n = x.len() / terms`, `y[s * n..(s + 1) * n] = sum_j a[s * terms + j] * x_j`
/// for every `s` for which both that part of `y` and of `a` exist. The rows
/// of `x` are prepared once for all the vectors.
#[inline]
pub fn linear_combinations(y: &mut [f32], a: &[f32], x: &[f32], terms: usize) {
    #[cfg(target_arch = "x86_64")]
    if avx::linear_combinations(y, a, x, terms) {
        return;
    }
    linear_combinations_portable(Portable, y, a, x, terms);
}

/// [`linear_combinations`] without the run-time choice of kernels.
#[inline(always)]
fn linear_combinations_portable<T: AddTerms>(
    t: T,
    y: &mut [f32],
    a: &[f32],
    x: &[f32],
    terms: usize,
) {
    let Some(n) = x.len().checked_div(terms) else {
        y.fill(0.0);
        return;
    };
    rows_combination::<true, T>(t, y, n, a, terms, x);
}

/// `y_s (+)= sum_j a[s * terms + j] * x_j` for the vectors `y_s` of `n`
/// values in `y` (starting from `+0` with `ZERO`), the terms in passes of up
/// to eight, each pass's rows of `x` split once for all `y_s`.
#[inline(always)]
fn rows_combination<const ZERO: bool, T: AddTerms>(
    t: T,
    y: &mut [f32],
    n: usize,
    a: &[f32],
    terms: usize,
    x: &[f32],
) {
    #[inline(always)]
    fn pass<const N: usize, const ZERO: bool, T: AddTerms>(
        t: T,
        y: &mut [f32],
        n: usize,
        a: &[f32],
        terms: usize,
        x: &[f32],
        j: usize,
    ) {
        let xs = Tiles::new(
            core::array::from_fn(|k| &x[(j + k) * n..(j + k + 1) * n]),
            n,
        );
        for (y, a) in y.chunks_exact_mut(n).zip(a.chunks_exact(terms)) {
            t.add::<N, ZERO>(y, core::array::from_fn(|k| a[j + k]), &xs);
        }
    }
    if n == 0 || terms == 0 {
        return;
    }
    // Only the first pass may start from zero; the sizes depend on `terms`
    // alone, so the branches are predictable.
    let mut j = 0;
    let mut first = ZERO;
    while j < terms {
        let rest = terms - j;
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
            (8, true) => pass::<8, true, T>(t, y, n, a, terms, x, j),
            (8, false) => pass::<8, false, T>(t, y, n, a, terms, x, j),
            (4, true) => pass::<4, true, T>(t, y, n, a, terms, x, j),
            (4, false) => pass::<4, false, T>(t, y, n, a, terms, x, j),
            (2, true) => pass::<2, true, T>(t, y, n, a, terms, x, j),
            (2, false) => pass::<2, false, T>(t, y, n, a, terms, x, j),
            (_, true) => pass::<1, true, T>(t, y, n, a, terms, x, j),
            (_, false) => pass::<1, false, T>(t, y, n, a, terms, x, j),
        }
        j += step;
        first = false;
    }
}

/// `G += D^T X` in sample order, skipping zero coefficients: with
/// `rows = g.len() / cols` (`g` row-major) and `count = x.len() / cols`,
/// every row `o` of `g` gets `d[s * rows + o] * x[s * cols..(s + 1) * cols]`
/// added for the `s < count` with a non-zero coefficient, in increasing `s` —
/// bit-identical to one [`axpy`] per such term in that order. Skipping is
/// what a ReLU network's gradient needs when the vectors may be non-finite
/// (`0 * inf` is NaN), and it saves the work of dead units.
///
/// Samples are taken eight at a time: a row's non-zero terms are found
/// without branches (a bit mask and a table of set-bit positions) and added
/// in one pass over the row, so the only data-dependent branch is one on
/// their number per row.
#[inline]
pub fn add_outer_nonzero(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    #[cfg(target_arch = "x86_64")]
    if avx::add_outer_nonzero(g, d, x, cols) {
        return;
    }
    add_outer_nonzero_portable::<false, Portable>(Portable, g, d, x, cols);
}

/// [`add_outer_nonzero`] without the run-time choice of kernels; with
/// `INLINE`, the passes over groups of samples are inlined (into a caller
/// compiled for other target features), else one shared copy is called.
#[inline(always)]
fn add_outer_nonzero_portable<const INLINE: bool, T: AddTerms>(
    t: T,
    g: &mut [f32],
    d: &[f32],
    x: &[f32],
    cols: usize,
) {
    let (Some(rows), Some(count)) = (g.len().checked_div(cols), x.len().checked_div(cols)) else {
        return;
    };
    let mut s = 0;
    while s < count {
        let n = (count - s).min(8);
        let (g, d, x) = (
            &mut g[..rows * cols],
            &d[s * rows..(s + n) * rows],
            &x[s * cols..(s + n) * cols],
        );
        if INLINE {
            outer_nonzero_group(t, g, d, x, cols);
        } else {
            outer_nonzero_pass(g, d, x, cols);
        }
        s += n;
    }
}

/// Positions of the set bits of every byte, in increasing order (unused
/// entries 0), and their number.
const SET_BITS: ([[u8; 8]; 256], [u8; 256]) = {
    let mut positions = [[0u8; 8]; 256];
    let mut counts = [0u8; 256];
    let mut m = 0;
    while m < 256 {
        let mut k = 0;
        let mut bit = 0;
        while bit < 8 {
            if m & (1 << bit) != 0 {
                positions[m][k] = bit as u8;
                k += 1;
            }
            bit += 1;
        }
        counts[m] = k as u8;
        m += 1;
    }
    (positions, counts)
};

/// One group of `1..=8` samples of [`add_outer_nonzero`]: `d` and `x` hold
/// exactly those samples.
#[inline(never)]
fn outer_nonzero_pass(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    outer_nonzero_group(Portable, g, d, x, cols);
}

/// The body of [`outer_nonzero_pass`], for inlining.
#[inline(always)]
fn outer_nonzero_group<T: AddTerms>(t: T, g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    /// Rows whose masks are computed together (a vector loop over rows).
    const ROWS: usize = 64;
    #[inline(always)]
    fn pass<const N: usize, T: AddTerms>(
        t: T,
        row: &mut [f32],
        c: &[f32; 8],
        x: &Tiles<'_, 8>,
        at: &[u8; 8],
    ) {
        let a = core::array::from_fn(|j| c[usize::from(at[j]) & 7]);
        let xs = Tiles {
            tiles: core::array::from_fn(|j| x.tiles[usize::from(at[j]) & 7]),
            tails: core::array::from_fn(|j| x.tails[usize::from(at[j]) & 7]),
        };
        t.add::<N, false>(row, a, &xs);
    }
    let rows = g.len() / cols;
    let n = (x.len() / cols).min(8);
    if n == 0 {
        return;
    }
    // The samples' rows, split once for all rows of `g` (slots past `n` repeat
    // the last sample; their mask bits are never set).
    let x = Tiles::new(
        core::array::from_fn(|s| &x[s.min(n - 1) * cols..][..cols]),
        cols,
    );
    let d: [&[f32]; 8] = core::array::from_fn(|s| &d[s.min(n - 1) * rows..][..rows]);
    let mut o0 = 0;
    for rows_g in g.chunks_mut(ROWS * cols) {
        let count = rows_g.len() / cols;
        // Bit s of masks[o]: coefficient of sample s for row o0 + o is non-zero.
        let mut masks = [0u8; ROWS];
        for (s, ds) in d.iter().enumerate().take(n) {
            for (m, c) in masks.iter_mut().zip(&ds[o0..o0 + count]) {
                *m |= u8::from(*c != 0.0) << s;
            }
        }
        // The rows in order of their number of terms (a counting sort): the
        // branch on that number then sees runs of equal values, which it
        // predicts, instead of a random one per row. Rows are independent,
        // so their order changes nothing.
        let mut end = [0usize; 9];
        for &m in &masks[..count] {
            end[usize::from(SET_BITS.1[usize::from(m)])] += 1;
        }
        for k in 1..9 {
            end[k] += end[k - 1];
        }
        let mut order = [0u8; ROWS];
        let mut next = [0usize; 9];
        next[1..].copy_from_slice(&end[..8]);
        for (o, &m) in masks[..count].iter().enumerate() {
            let k = usize::from(SET_BITS.1[usize::from(m)]);
            order[next[k] % ROWS] = o as u8;
            next[k] += 1;
        }
        for &o in &order[end[0]..end[8]] {
            let o = usize::from(o);
            let row = &mut rows_g[o * cols..(o + 1) * cols];
            let c: [f32; 8] = core::array::from_fn(|s| d[s][o0 + o]);
            let mask = usize::from(masks[o % ROWS]);
            let at = &SET_BITS.0[mask];
            match SET_BITS.1[mask] {
                0 => {}
                1 => pass::<1, T>(t, row, &c, &x, at),
                2 => pass::<2, T>(t, row, &c, &x, at),
                3 => pass::<3, T>(t, row, &c, &x, at),
                4 => pass::<4, T>(t, row, &c, &x, at),
                5 => pass::<5, T>(t, row, &c, &x, at),
                6 => pass::<6, T>(t, row, &c, &x, at),
                7 => pass::<7, T>(t, row, &c, &x, at),
                // All eight: the terms as they are (the output layer's case).
                _ => t.add::<8, false>(row, c, &x),
            }
        }
        o0 += count;
    }
}

/// `x[i] = e^x[i]`, bit-identical to `libm::expf`, for `|x[i]| < 87` or NaN
/// (outside that range the value is unspecified, finite or not). With AVX,
/// eight at a time: libm's branches on the range of `x` were mispredicted
/// and its division unpipelined, ~10% of an epoch at batch 32. Checked
/// against `libm::expf` over every `f32` in `[-44, 0]`.
#[inline]
pub fn exp_moderate(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx::exp_moderate(x) {
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
fn expf_moderate_one(x: f32) -> f32 {
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
pub const SOFTMAX_ROWS: usize = 8;

/// Widest rows [`softmax_rows`]'s SIMD kernel takes.
pub const SOFTMAX_WIDTH: usize = 32;

/// Shifted exponentials of `count = maxima.len()` rows of `width` values
/// in `z` (row-major), each row in place, as a softmax needs them. For
/// each row: `maxima[r]` = its first value, replaced by every later value
/// greater than it (a NaN never replaces one); each value `v` becomes
/// `libm::expf(v - maxima[r])`, or 0 where `v - maxima[r] < floor`, NaN
/// where that is NaN; `sums[r]` = those values added in order from `+0`
/// (f32); with `normalize`, each value is then multiplied by
/// `1 / sums[r]`. `floor` must be in `(-87, 0]`.
///
/// Returns `false`, having changed nothing, where no SIMD kernel applies
/// (the portable kernel set; more than [`SOFTMAX_ROWS`] rows or wider than
/// [`SOFTMAX_WIDTH`]; lengths that do not match): the caller then runs
/// its scalar code, which gives the same bits. With AVX, the rows are
/// transposed so that every step is one vector operation for all of them.
#[inline]
pub fn softmax_rows(
    z: &mut [f32],
    width: usize,
    maxima: &mut [f32],
    sums: &mut [f32],
    floor: f32,
    normalize: bool,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx::softmax_rows(z, width, maxima, sums, floor, normalize);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (z, width, maxima, sums, floor, normalize);
        false
    }
}

/// The arguments of [`adam_update`]: the parameters, their last good
/// copy, Adam's moments, the gradient (all of `x.len()` values) and the
/// step's scalars.
pub struct AdamUpdate<'a> {
    /// The parameters, updated.
    pub x: &'a mut [f32],
    /// Receives the parameters as they were.
    pub last_good: &'a mut [f32],
    /// The first moment, updated.
    pub m: &'a mut [f32],
    /// The second moment, updated.
    pub v: &'a mut [f32],
    /// The gradient.
    pub grad: &'a [f32],
    /// The first moment's decay.
    pub b1: f32,
    /// The second moment's decay.
    pub b2: f32,
    /// Added to the root of the second moment.
    pub eps_hat: f32,
    /// The step size (bias corrections folded in).
    pub step: f32,
}

/// One Adam update in one pass, where a SIMD kernel has the root: for each
/// parameter, `m = flush(b1 m + (1 - b1) g)`, `v = flush(b2 v + (1 - b2)
/// g^2)` ([`flush_negligible`]), `last_good = x`, `x -= step m / (sqrt(v) +
/// eps_hat)`; returns `Some` of non-zero if some new `x` is not finite.
/// `None`, having changed nothing, without such a kernel (the portable
/// set): the caller then runs its passes, which give the same bits.
#[inline]
pub fn adam_update(u: AdamUpdate<'_>) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    return avx::adam_update(u);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = u;
        None
    }
}

/// `y[i] = sqrt(x[i]) + a`, the root correctly rounded (IEEE 754, as
/// `libm::sqrtf` and every SIMD square root give it). With AVX, eight at a
/// time: the scalar root was ~40% of an Adam step.
#[inline]
pub fn sqrt_add(y: &mut [f32], x: &[f32], a: f32) {
    #[cfg(target_arch = "x86_64")]
    if avx::sqrt_add(y, x, a) {
        return;
    }
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = libm::sqrtf(xi) + a;
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
    extern crate std;

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

    /// [`exp_moderate`] (in slices of 13: the AVX kernel's vectors and its
    /// tail) and [`expf_moderate_one`] against libm over every `step`-th `f32`
    /// in `[-44, 0]`, and around the ends of the reduction's ranges.
    fn check_exp(step: usize) {
        let mut values = std::vec::Vec::new();
        values.extend(
            (0x8000_0000u32..=(-44.0f32).to_bits())
                .step_by(step)
                .map(f32::from_bits),
        );
        for edge in [0x3900_0000u32, 0x3eb1_7218, 0x3f85_1592] {
            for bits in edge - 2..=edge + 2 {
                values.extend([f32::from_bits(bits), -f32::from_bits(bits)]);
            }
        }
        values.extend([0.0, -0.0, 1.0, 5.5, 80.0, -80.0, -86.9, f32::NAN, -f32::NAN]);
        for chunk in values.chunks(13) {
            let mut e = [0.0f32; 13];
            let e = &mut e[..chunk.len()];
            e.copy_from_slice(chunk);
            exp_moderate(e);
            for (&x, &e) in chunk.iter().zip(e.iter()) {
                let expected = libm::expf(x).to_bits();
                assert_eq!(e.to_bits(), expected, "x = {x:e} ({:#010x})", x.to_bits());
                assert_eq!(expf_moderate_one(x).to_bits(), expected, "one, x = {x:e}");
            }
        }
    }

    #[test]
    fn exp_moderate_equals_libm_bit_for_bit() {
        check_exp(4099);
    }

    /// Every `f32` in `[-44, 0]` (1.1e9 values, about a minute in release):
    /// `cargo test --release -p sooth-core --lib -- --ignored exp_moderate`.
    #[test]
    #[ignore]
    fn exp_moderate_equals_libm_exhaustively() {
        check_exp(1);
    }

    /// The portable kernels and the dispatched ones (AVX where the CPU has
    /// it; the other tests check those against their contracts) agree bit
    /// for bit, over shapes that exercise every block and tail.
    #[test]
    fn portable_kernels_equal_the_dispatched_ones() {
        // Each wider kernel set this CPU has, against the portable kernels
        // (the other tests then see the best set again: all give the same
        // bits, so a test running meanwhile is not affected).
        for set in [KernelSet::Avx512, KernelSet::Avx] {
            if use_kernels(set) == set {
                dispatched_equal_portable();
            }
        }
        use_kernels(KernelSet::Avx512);
    }

    fn dispatched_equal_portable() {
        let values = |n: usize, seed: u32| -> std::vec::Vec<f32> {
            (0..n)
                .map(|i| {
                    let v = data(67, seed + (i / 67) as u32)[i % 67];
                    // Every fifth value a zero (dead units' coefficients).
                    if i % 5 == 2 { 0.0 } else { v }
                })
                .collect()
        };
        for (rows, cols, count) in [
            (32, 64, 8),
            (10, 32, 8),
            (11, 67, 5),
            (3, 9, 1),
            (13, 35, 11),
            // Vectors in fours and pairs and a single one, rows past a block
            // of 64 (the gradient's masks), a chunk tail.
            (70, 20, 7),
            (5, 130, 19),
            // More samples than a group of the AVX gradient kernel.
            (9, 72, 70),
        ] {
            let (w, b, x) = (
                values(rows * cols, 1),
                values(rows, 20),
                values(count * cols, 30),
            );
            let mut fast = std::vec![0.0f32; count * rows];
            let mut portable = fast.clone();
            affine_many(&w, &b, &x, cols, &mut fast);
            affine_many_portable(&w, &b, &x, cols, &mut portable);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
            assert_eq!(
                bits(&fast),
                bits(&portable),
                "affine {rows}x{cols}, {count}"
            );

            let d = values(count * rows, 40);
            let mut fast = values(rows * cols, 50);
            let mut portable = fast.clone();
            add_outer_nonzero(&mut fast, &d, &x, cols);
            add_outer_nonzero_portable::<false, _>(Portable, &mut portable, &d, &x, cols);
            assert_eq!(bits(&fast), bits(&portable), "outer {rows}x{cols}, {count}");

            let mut fast = std::vec![1.0f32; count * cols];
            let mut portable = fast.clone();
            linear_combinations(&mut fast, &d, &w, rows);
            linear_combinations_portable(Portable, &mut portable, &d, &w, rows);
            assert_eq!(
                bits(&fast),
                bits(&portable),
                "combinations {rows}x{cols}, {count}"
            );
        }
    }

    #[test]
    fn sqrt_add_equals_libm_bit_for_bit() {
        let mut x: std::vec::Vec<f32> = (0..1000u32)
            .map(|i| f32::from_bits(i.wrapping_mul(0x9e37_79b9) >> 1))
            .collect();
        x.extend([
            0.0,
            -0.0,
            1.0,
            4.0,
            2.0,
            f32::MIN_POSITIVE,
            1e-40,
            f32::INFINITY,
            -1.0,
            f32::NAN,
        ]);
        for a in [0.0f32, 1e-8, 3.5] {
            let mut y = std::vec![0.0f32; x.len()];
            sqrt_add(&mut y, &x, a);
            for (&xi, &yi) in x.iter().zip(&y) {
                let expected = libm::sqrtf(xi) + a;
                assert!(
                    yi.to_bits() == expected.to_bits() || (yi.is_nan() && expected.is_nan()),
                    "sqrt({xi:e}) + {a}: {yi:e} vs {expected:e}"
                );
            }
        }
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
    fn affine_many_equals_affine_per_vector() {
        let mut w = [0.0f32; 7 * 19];
        for r in 0..7 {
            w[r * 19..(r + 1) * 19].copy_from_slice(&data(19, 50 + r as u32)[..19]);
        }
        let b = data(7, 8);
        let mut x = [0.0f32; 5 * 19];
        for s in 0..5 {
            x[s * 19..(s + 1) * 19].copy_from_slice(&data(19, 60 + s as u32)[..19]);
        }
        let mut out = [0.0f32; 5 * 7];
        affine_many(&w, &b[..7], &x, 19, &mut out);
        for s in 0..5 {
            let mut one = [0.0f32; 7];
            affine(&w, &x[s * 19..(s + 1) * 19], &b, &mut one);
            for o in 0..7 {
                assert_eq!(out[s * 7 + o].to_bits(), one[o].to_bits(), "s {s} o {o}");
            }
        }
    }

    #[test]
    fn rows_combinations_equal_axpys_in_order() {
        // 11 terms: a pass of 8, of 2 and of 1; 37 columns: two tiles and a tail.
        let mut x = [0.0f32; 11 * 37];
        for j in 0..11 {
            x[j * 37..(j + 1) * 37].copy_from_slice(&data(37, 70 + j as u32)[..37]);
        }
        let a = data(11, 9);
        for terms in [0usize, 1, 2, 3, 8, 11] {
            let mut expected = data(37, 10);
            let mut y = expected;
            for j in 0..terms {
                axpy(&mut expected[..37], a[j], &x[j * 37..]);
            }
            axpy_rows(&mut y[..37], &a[..terms], &x);
            let mut z = data(37, 11);
            linear_combination(&mut z[..37], &a[..terms], &x);
            let mut zero = [0.0f32; 37];
            for j in 0..terms {
                axpy(&mut zero, a[j], &x[j * 37..]);
            }
            for i in 0..37 {
                assert_eq!(
                    y[i].to_bits(),
                    expected[i].to_bits(),
                    "{terms} terms, i {i}"
                );
                assert_eq!(z[i].to_bits(), zero[i].to_bits(), "{terms} terms, i {i}");
            }
        }
    }

    #[test]
    fn linear_combinations_equal_one_per_vector() {
        // 3 vectors of 37 values, 11 terms each.
        let mut x = [0.0f32; 11 * 37];
        for j in 0..11 {
            x[j * 37..(j + 1) * 37].copy_from_slice(&data(37, 90 + j as u32)[..37]);
        }
        let a = data(33, 12);
        let mut y = [1.0f32; 3 * 37];
        linear_combinations(&mut y, &a[..33], &x, 11);
        for s in 0..3 {
            let mut one = [2.0f32; 37];
            linear_combination(&mut one, &a[s * 11..(s + 1) * 11], &x);
            for i in 0..37 {
                assert_eq!(y[s * 37 + i].to_bits(), one[i].to_bits(), "s {s} i {i}");
            }
        }
    }

    #[test]
    fn add_outer_nonzero_equals_axpys_of_nonzero_terms() {
        // 40 samples (groups of 8 or 32 and a remainder), 13 rows (blocks of
        // 8 and a remainder), 67 columns (64 in registers and a tail of 3);
        // every third coefficient +0 or -0 (both skipped), and one sample
        // holding an infinity whose zero coefficients must keep it out.
        let (samples, rows, cols) = (40, 13, 67);
        let mut x = [0.0f32; 40 * 67];
        for s in 0..samples {
            x[s * cols..(s + 1) * cols].copy_from_slice(&data(cols, 80 + s as u32)[..cols]);
        }
        x[4 * cols + 6] = f32::INFINITY;
        let mut d = [0.0f32; 40 * 13];
        for (i, v) in d.iter_mut().enumerate() {
            *v = if i % 6 == 0 || i / rows == 4 {
                0.0
            } else if i % 6 == 3 {
                -0.0
            } else {
                (i as f32 - 60.0) * 0.013
            };
        }
        let mut g = [0.0f32; 13 * 67];
        for (i, v) in g.iter_mut().enumerate() {
            *v = (i % 17) as f32 * 0.1 - 0.8;
        }
        let mut expected = g;
        for s in 0..samples {
            for o in 0..rows {
                let c = d[s * rows + o];
                if c != 0.0 {
                    axpy(&mut expected[o * cols..(o + 1) * cols], c, &x[s * cols..]);
                }
            }
        }
        add_outer_nonzero(&mut g, &d, &x, cols);
        for i in 0..rows * cols {
            assert!(g[i].is_finite(), "i {i}");
            assert_eq!(g[i].to_bits(), expected[i].to_bits(), "i {i}");
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
    fn negligible_values_flush_to_zero() {
        assert_eq!(flush_negligible(1e-31), 0.0);
        assert_eq!(flush_negligible(-1e-31), 0.0);
        assert_eq!(flush_negligible(1e-29), 1e-29);
        assert_eq!(flush_negligible(-3.5), -3.5);
        assert!(flush_negligible(f32::NAN).is_nan());
        assert!(NEGLIGIBLE.is_normal() && NEGLIGIBLE == 2f32.powi(-100));
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
        assert_eq!(norm_inf(&a), f32::INFINITY);
        // A NaN wins wherever it is, and whatever its sign and payload.
        a[0] = -f32::NAN;
        assert!(norm_inf(&a).is_nan());
        assert_eq!(norm_inf(&[]), 0.0);
        assert_eq!(norm_inf(&[-0.0, -1.5e-45]).to_bits(), 1.5e-45f32.to_bits());
        assert_eq!(norm_inf(&[-0.0; 20]).to_bits(), 0);
        // The lanes and the tail (20 = 2 x 8 + 4), against the order of the
        // magnitudes' bits (NaNs above infinity), with each special value in
        // each position.
        let reference = |a: &[f32]| {
            let m = a
                .iter()
                .map(|x| x.to_bits() & 0x7fff_ffff)
                .max()
                .unwrap_or(0);
            if m > 0x7f80_0000 {
                f32::NAN
            } else {
                f32::from_bits(m)
            }
        };
        let base = data(20, 9);
        for special in [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -1e30,
            3e-42,
        ] {
            for at in 0..20 {
                let mut a = base;
                a[at] = special;
                a[(at + 7) % 20] = f32::INFINITY * (at % 3) as f32; // inf or NaN, now and then
                let (got, want) = (norm_inf(&a[..20]), reference(&a[..20]));
                assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()));
            }
        }
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
