//! Sums of terms, `y += sum_j a_j x_j`: every element's terms added in a
//! stated order, bit-identical to the same sequence of [`axpy`]s; the
//! weight gradient [`add_outer_nonzero`] and the hidden deltas
//! [`linear_combinations`] are made of them.

#[cfg(doc)]
use super::axpy;
use super::{SIMD, arch};

/// `y[i] = (((y[i] + a[0] x[0][i]) + a[1] x[1][i]) + a[2] x[2][i]) + a[3] x[3][i]`:
/// four [`axpy`]s in that order, bit-identical to calling them one by one, with
/// one pass over `y`. Each `x[j]` needs at least `y.len()` elements.
#[cfg(test)]
pub(super) fn axpy4(y: &mut [f32], a: [f32; 4], x: [&[f32]; 4]) {
    axpy_n(y, a, x);
}

/// `y[i] = (...((y[i] + a[0] x[0][i]) + a[1] x[1][i]) ...) + a[N-1] x[N-1][i]`:
/// `N` [`axpy`]s in that order, bit-identical to calling them one by one, with
/// one pass over `y`. Each `x[j]` needs at least `y.len()` elements.
#[inline]
pub(crate) fn axpy_n<const N: usize>(y: &mut [f32], a: [f32; N], x: [&[f32]; N]) {
    let n = y.len();
    axpy_tiles::<N, false>(y, a, &Tiles::new(x, n));
}

/// Elements per tile of [`axpy_tiles`]: four SSE registers of `y` with SIMD;
/// 8 scalar registers without (a Cortex-M4F: 8 values of `y`, 8 of a term).
pub(super) const TILE: usize = if SIMD { 16 } else { 8 };

/// `N` vectors of `n` elements, split into tiles of [`TILE`] and a tail.
pub(super) struct Tiles<'a, const N: usize> {
    pub(super) tiles: [&'a [[f32; TILE]]; N],
    pub(super) tails: [&'a [f32]; N],
}

impl<'a, const N: usize> Tiles<'a, N> {
    /// The first `n` elements of each of `x`.
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
/// It works on tiles of [`TILE`] elements of `y`, held in registers while the `N`
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
pub(super) trait AddTerms: Copy {
    /// [`axpy_tiles::<N, ZERO>`](axpy_tiles).
    fn add<const N: usize, const ZERO: bool>(self, y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>);
}

/// [`AddTerms`] by [`axpy_tiles`] itself.
#[derive(Clone, Copy)]
pub(super) struct Portable;

impl AddTerms for Portable {
    #[inline(always)]
    fn add<const N: usize, const ZERO: bool>(self, y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>) {
        axpy_tiles::<N, ZERO>(y, a, x);
    }
}

/// `y += sum_j a[j] * x[j * n..(j + 1) * n]` with `n = y.len()`, the terms in
/// increasing `j`: bit-identical to one [`axpy`] per term in that order, in
/// passes of up to eight terms ([`axpy_n`]). Zero coefficients are not skipped.
#[cfg(test)]
pub(super) fn axpy_rows(y: &mut [f32], a: &[f32], x: &[f32]) {
    rows_combination::<false, _>(Portable, y, y.len(), a, a.len(), x);
}

/// `y = sum_j a[j] * x[j * n..(j + 1) * n]` with `n = y.len()`, as
/// `((0 + a[0] x_0) + a[1] x_1) + ...`: bit-identical to filling `y` with `+0`
/// and calling [`axpy_rows`] (a `y` that is all `+0` for an empty `a`).
#[cfg(test)]
pub(super) fn linear_combination(y: &mut [f32], a: &[f32], x: &[f32]) {
    if a.is_empty() {
        y.fill(0.0);
    }
    rows_combination::<true, _>(Portable, y, y.len(), a, a.len(), x);
}

/// `y = sum_j a[j] x_j` (from `+0`, the terms in increasing `j`) for several
/// vectors with the same `x`: with
/// `n = x.len() / terms`, `y[s * n..(s + 1) * n] = sum_j a[s * terms + j] * x_j`
/// for every `s` for which both that part of `y` and of `a` exist. The rows
/// of `x` are prepared once for all the vectors.
#[inline]
pub(crate) fn linear_combinations(y: &mut [f32], a: &[f32], x: &[f32], terms: usize) {
    if let Some(()) = arch::linear_combinations(y, a, x, terms) {
        return;
    }
    linear_combinations_portable(Portable, y, a, x, terms);
}

/// The portable body of [`linear_combinations`], with the tiles added by
/// `t` (the portable [`axpy_tiles`], or the same arithmetic in wider
/// registers when an AVX kernel calls it).
#[inline(always)]
pub(super) fn linear_combinations_portable<T: AddTerms>(
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
pub(crate) fn add_outer_nonzero(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    if let Some(()) = arch::add_outer_nonzero(g, d, x, cols) {
        return;
    }
    add_outer_nonzero_portable::<false, Portable>(Portable, g, d, x, cols);
}

/// The portable body of [`add_outer_nonzero`], the tiles added by `t`; with
/// `INLINE`, the passes over groups of samples are inlined (into a caller
/// compiled for other target features), else one shared copy is called.
#[inline(always)]
pub(super) fn add_outer_nonzero_portable<const INLINE: bool, T: AddTerms>(
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
