//! AVX and AVX-512 versions of the network's hot kernels, chosen at run
//! time on x86_64: the kernels' `arch` on this target (see the [parent
//! module](super)'s dispatch). Each `pub(super)` function here takes a
//! kernel's arguments and returns `Some` of its result (or `Ok`) when the
//! kernel set in use has a version for them, else `None` (or `Err` with
//! the arguments) having changed nothing.
//!
//! They compute exactly what the portable kernels compute, in the same order
//! (the summation contract of the [parent module](super)): only the register
//! blocking changes. The eight lanes of a reduction are one 256-bit register
//! instead of two 128-bit ones, so a block of four rows by two samples keeps
//! its eight accumulators in registers, and the lanes are combined by the
//! same tree, four results at a time. The weight gradient keeps each row
//! of `g`, 64 values at a time, in eight registers while a group of up to 32
//! samples' non-zero terms is added; the other sums of terms are the portable
//! code compiled with AVX enabled (a tile of 16 is two registers). AVX has no
//! fused multiply-add, so every product is rounded before it is added, as on
//! SSE2 and on a Cortex-M4F.
//!
//! With AVX-512 (F and DQ), on rows of at least [`WIDE_ROWS`] values (on
//! shorter ones, the AVX kernels), the affine map keeps two vectors' eight-lane
//! accumulators in one 512-bit register (one per half, so each half is
//! exactly the AVX accumulator), and a tile of 16 of the sums of terms is
//! one register; the other kernels stay AVX. Its fused multiply-adds are
//! not used: products are rounded before they are added, as everywhere.
//!
//! This module holds the crate's `unsafe` code besides [`crate::fixed`]:
//! calling `#[target_feature(enable = "avx")]` (or `"avx512f,avx512dq"`)
//! functions, which is sound only on a CPU that has those features and an OS
//! that saves their registers. Every such call sits behind [`in_use`], which
//! checks both with `cpuid` and `xgetbv`.
#![allow(unsafe_code)]

use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m128, __m256, __m512, _CMP_GT_OQ, _CMP_LE_OQ, _CMP_LT_OQ,
    _CMP_NEQ_UQ, _CMP_NLT_UQ, _CMP_UNORD_Q, _mm_add_ps, _mm_castps_si128, _mm_castsi128_ps,
    _mm_loadu_ps, _mm_movehl_ps, _mm_movelh_ps, _mm_set1_epi32, _mm_setzero_ps, _mm_slli_epi32,
    _mm_storeu_ps, _mm_sub_epi32, _mm_unpackhi_ps, _mm_unpacklo_ps, _mm256_add_ps, _mm256_and_ps,
    _mm256_andnot_ps, _mm256_blendv_ps, _mm256_castps128_ps256, _mm256_castps256_ps128,
    _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_div_ps, _mm256_extractf128_ps, _mm256_insertf128_ps,
    _mm256_loadu_ps, _mm256_movemask_ps, _mm256_mul_ps, _mm256_or_ps, _mm256_set1_epi32,
    _mm256_set1_ps, _mm256_setzero_ps, _mm256_sqrt_ps, _mm256_storeu_ps, _mm256_sub_ps,
    _mm512_add_ps, _mm512_broadcast_f32x8, _mm512_castps256_ps512, _mm512_castps512_ps256,
    _mm512_extractf32x8_ps, _mm512_insertf32x8, _mm512_loadu_ps, _mm512_mul_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_storeu_ps, _xgetbv,
};
use core::sync::atomic::{AtomicU8, Ordering};

use super::elementwise::{AdamUpdate, NEGLIGIBLE, flush_negligible, non_finite};
use super::exp::{SOFTMAX_ROWS, SOFTMAX_WIDTH};
use super::reduce::affine_count;
use super::terms::{
    AddTerms, TILE, Tiles, add_outer_nonzero_portable, linear_combinations_portable,
};
use super::{ElementWise, KernelSet};

/// 0: not yet detected; else a [`KernelSet`] as `1 + its index`.
static STATE: AtomicU8 = AtomicU8::new(0);

/// The best kernel set this CPU and OS support: AVX needs `cpuid` leaf 1's
/// AVX and OSXSAVE bits and the OS saving the SSE and AVX registers
/// (`xgetbv`); AVX-512 also needs leaf 7's AVX512F and AVX512DQ bits and
/// the OS saving the opmask and upper ZMM registers.
fn detect() -> KernelSet {
    const OSXSAVE: u32 = 1 << 27;
    const AVX: u32 = 1 << 28;
    const AVX512F: u32 = 1 << 16;
    const AVX512DQ: u32 = 1 << 17;
    // SAFETY: `cpuid` exists on every x86_64 CPU, and leaves 0 and 1 on every one.
    #[allow(unused_unsafe)]
    let (leaf0, leaf1) = unsafe { (__cpuid(0), __cpuid(1)) };
    if leaf1.ecx & OSXSAVE == 0 || leaf1.ecx & AVX == 0 {
        return KernelSet::Portable;
    }
    // SAFETY: OSXSAVE is set, so `xgetbv` is enabled.
    let xcr0 = unsafe { xcr0() };
    if xcr0 & 0b110 != 0b110 {
        return KernelSet::Portable;
    }
    if leaf0.eax < 7 {
        return KernelSet::Avx;
    }
    // SAFETY: leaf 7 exists (the highest leaf is at least 7).
    #[allow(unused_unsafe)]
    let leaf7 = unsafe { __cpuid_count(7, 0) };
    let avx512 = AVX512F | AVX512DQ;
    if leaf7.ebx & avx512 == avx512 && xcr0 & 0b1110_0110 == 0b1110_0110 {
        KernelSet::Avx512
    } else {
        KernelSet::Avx
    }
}

/// Extended control register 0 (which register states the OS saves).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller checked OSXSAVE.
    unsafe { _xgetbv(0) }
}

/// The kernel set in use: the best one detected, unless [`set_limit`]
/// capped it.
#[inline]
pub(super) fn in_use() -> KernelSet {
    match STATE.load(Ordering::Relaxed) {
        1 => KernelSet::Portable,
        2 => KernelSet::Avx,
        3 => KernelSet::Avx512,
        _ => {
            let set = detect();
            STATE.store(1 + set as u8, Ordering::Relaxed);
            set
        }
    }
}

/// Whether the AVX (or AVX-512) kernels are in use.
#[inline]
fn available() -> bool {
    in_use() != KernelSet::Portable
}

/// Uses the best kernel set detected, but at most `limit`; returns the
/// set now in use.
pub(super) fn set_limit(limit: KernelSet) -> KernelSet {
    let set = detect().min(limit);
    STATE.store(1 + set as u8, Ordering::Relaxed);
    set
}

/// Shortest rows (values per vector) for which the AVX-512 kernels are
/// used. On shorter rows the arithmetic is not what limits a kernel (the
/// lane combines and per-row bookkeeping are), and 512-bit instructions
/// lower the core's clock for everything around them: with them, a
/// 64-32-10 network's loss and gradient ran 2-4 % faster but a batch-8 Adam
/// epoch 4-5 % slower; a 784-128-64-10 network's ran 20-30 % faster.
const WIDE_ROWS: usize = 128;

/// [`super::affine_many`] with AVX-512 or AVX, if [`available`]; `None` if
/// not (and nothing was computed).
#[inline]
pub(super) fn affine_many(
    w: &[f32],
    b: &[f32],
    x: &[f32],
    cols: usize,
    out: &mut [f32],
) -> Option<()> {
    match in_use() {
        KernelSet::Portable => return None,
        // SAFETY: `in_use` checked that the CPU and OS support AVX-512F/DQ.
        KernelSet::Avx512 if cols >= WIDE_ROWS => unsafe { affine_many_avx512(w, b, x, cols, out) },
        // SAFETY: `in_use` checked that the CPU and OS support AVX (which
        // AVX-512 implies).
        _ => unsafe { affine_many_avx(w, b, x, cols, out) },
    }
    Some(())
}

/// [`super::vectorized`]: the pass run from [`call_avx`] if [`available`],
/// else handed back.
#[inline(always)]
pub(super) fn vectorized<P: ElementWise>(pass: P) -> Result<P::Output, P> {
    if available() {
        // SAFETY: as in `affine_many`.
        Ok(unsafe { call_avx(pass) })
    } else {
        Err(pass)
    }
}

/// Runs `pass`, compiled with AVX enabled (its `run` is inlined here).
#[target_feature(enable = "avx")]
unsafe fn call_avx<P: ElementWise>(pass: P) -> P::Output {
    pass.run()
}

/// [`super::exp::exp_moderate`] with AVX, if [`available`].
#[inline]
pub(super) fn exp_moderate(x: &mut [f32]) -> Option<()> {
    if !available() {
        return None;
    }
    // SAFETY: as in `affine_many`.
    unsafe { exp_moderate_avx(x) };
    Some(())
}

/// [`super::softmax_rows`] with AVX, if [`available`] and the rows fit
/// ([`SOFTMAX_ROWS`] by [`SOFTMAX_WIDTH`]); `None` if not
/// (and nothing was computed).
#[inline]
pub(super) fn softmax_rows(
    z: &mut [f32],
    width: usize,
    maxima: &mut [f32],
    sums: &mut [f32],
    floor: f32,
    normalize: bool,
) -> Option<()> {
    let count = maxima.len();
    let fits = (1..=SOFTMAX_ROWS).contains(&count)
        && (1..=SOFTMAX_WIDTH).contains(&width)
        && sums.len() == count
        && z.len() == count * width;
    if !fits || !available() {
        return None;
    }
    // SAFETY: as in `affine_many`.
    unsafe { softmax_rows_avx(z, width, maxima, sums, floor, normalize) };
    Some(())
}

/// [`super::softmax_rows`] with the rows transposed: lane `r` of every
/// vector is row `r`, so each step of a row's maximum, exponentials and
/// sum is one vector operation for all rows, in the same order.
#[target_feature(enable = "avx")]
unsafe fn softmax_rows_avx(
    z: &mut [f32],
    width: usize,
    maxima: &mut [f32],
    sums: &mut [f32],
    floor: f32,
    normalize: bool,
) {
    let mut t = [[0.0f32; 8]; SOFTMAX_WIDTH];
    let t = &mut t[..width];
    for (r, row) in z.chunks_exact(width).enumerate() {
        for (tc, &v) in t.iter_mut().zip(row) {
            tc[r] = v;
        }
    }
    // The maximum as `if v > m { m = v }` (never a NaN after the first).
    let mut m = load8(&t[0]);
    for tc in &t[1..] {
        let v = load8(tc);
        m = _mm256_blendv_ps(m, v, _mm256_cmp_ps::<_CMP_GT_OQ>(v, m));
    }
    // e^(v - m), 0 below the floor (whose exponent is taken as 0, in
    // `exp8`'s range), NaN for NaN; summed from +0 in order.
    let floor = _mm256_set1_ps(floor);
    let mut sum = _mm256_setzero_ps();
    for tc in t.iter_mut() {
        let d = _mm256_sub_ps(load8(tc), m);
        let below = _mm256_cmp_ps::<_CMP_LT_OQ>(d, floor);
        let e = _mm256_andnot_ps(below, exp8(_mm256_andnot_ps(below, d)));
        sum = _mm256_add_ps(sum, e);
        store8(tc, e);
    }
    if normalize {
        let inv = _mm256_div_ps(_mm256_set1_ps(1.0), sum);
        for tc in t.iter_mut() {
            store8(tc, _mm256_mul_ps(load8(tc), inv));
        }
    }
    for (r, row) in z.chunks_exact_mut(width).enumerate() {
        for (v, tc) in row.iter_mut().zip(t.iter()) {
            *v = tc[r];
        }
    }
    let (mut mv, mut sv) = ([0.0f32; 8], [0.0f32; 8]);
    store8(&mut mv, m);
    store8(&mut sv, sum);
    let count = maxima.len();
    maxima.copy_from_slice(&mv[..count]);
    sums.copy_from_slice(&sv[..count]);
}

/// [`super::adam_update`] with AVX, if [`available`]; the arguments back
/// if not (and nothing was computed).
#[inline]
pub(super) fn adam_update(u: AdamUpdate<'_>) -> Result<u32, AdamUpdate<'_>> {
    if !available() {
        return Err(u);
    }
    // SAFETY: as in `affine_many`.
    Ok(unsafe { adam_update_avx(u) })
}

/// [`super::adam_update`] in one pass, eight parameters at a time, the
/// tail one by one: the same operations per parameter as the scalar form.
#[target_feature(enable = "avx")]
unsafe fn adam_update_avx(u: AdamUpdate<'_>) -> u32 {
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
    let n = x.len();
    let (c1, c2) = (1.0 - b1, 1.0 - b2);
    let (xc, xt) = x.as_chunks_mut::<8>();
    let (lc, lt) = last_good[..n].as_chunks_mut::<8>();
    let (mc, mt) = m[..n].as_chunks_mut::<8>();
    let (vc, vt) = v[..n].as_chunks_mut::<8>();
    let (gc, gt) = grad[..n].as_chunks::<8>();
    let set = |a: f32| _mm256_set1_ps(a);
    let abs = set(f32::from_bits(0x7fff_ffff));
    let (negligible, infinity) = (set(NEGLIGIBLE), set(f32::INFINITY));
    let flush = |a: __m256| {
        _mm256_andnot_ps(
            _mm256_cmp_ps::<_CMP_LT_OQ>(_mm256_and_ps(a, abs), negligible),
            a,
        )
    };
    let mut bad = _mm256_setzero_ps();
    for ((((xv, lv), mv), vv), gv) in xc.iter_mut().zip(lc).zip(mc).zip(vc).zip(gc) {
        let g = load8(gv);
        let mn = flush(_mm256_add_ps(
            _mm256_mul_ps(set(b1), load8(mv)),
            _mm256_mul_ps(set(c1), g),
        ));
        let vn = flush(_mm256_add_ps(
            _mm256_mul_ps(set(b2), load8(vv)),
            _mm256_mul_ps(set(c2), _mm256_mul_ps(g, g)),
        ));
        let d = _mm256_add_ps(_mm256_sqrt_ps(vn), set(eps_hat));
        let old = load8(xv);
        let new = _mm256_sub_ps(old, _mm256_div_ps(_mm256_mul_ps(set(step), mn), d));
        store8(mv, mn);
        store8(vv, vn);
        store8(lv, old);
        store8(xv, new);
        // |new| not below infinity: infinite or NaN.
        bad = _mm256_or_ps(
            bad,
            _mm256_cmp_ps::<_CMP_NLT_UQ>(_mm256_and_ps(new, abs), infinity),
        );
    }
    let mut flags = u32::from(_mm256_movemask_ps(bad) != 0);
    for ((((xi, li), mi), vi), &gi) in xt.iter_mut().zip(lt).zip(mt).zip(vt).zip(gt) {
        *mi = flush_negligible(b1 * *mi + c1 * gi);
        *vi = flush_negligible(b2 * *vi + c2 * (gi * gi));
        let d = libm::sqrtf(*vi) + eps_hat;
        *li = *xi;
        *xi -= step * *mi / d;
        flags |= non_finite(*xi);
    }
    flags
}

/// [`super::elementwise::sqrt_add`] with AVX, if [`available`].
#[inline]
pub(super) fn sqrt_add(y: &mut [f32], x: &[f32], a: f32) -> Option<()> {
    if !available() {
        return None;
    }
    // SAFETY: as in `affine_many`.
    unsafe { sqrt_add_avx(y, x, a) };
    Some(())
}

/// [`super::elementwise::sqrt_add`]: eight roots at a time, the tail one by one.
#[target_feature(enable = "avx")]
unsafe fn sqrt_add_avx(y: &mut [f32], x: &[f32], a: f32) {
    let n = y.len().min(x.len());
    let (yc, yt) = y[..n].as_chunks_mut::<8>();
    let (xc, xt) = x[..n].as_chunks::<8>();
    let av = _mm256_set1_ps(a);
    for (y, x) in yc.iter_mut().zip(xc) {
        store8(y, _mm256_add_ps(_mm256_sqrt_ps(load8(x)), av));
    }
    for (y, &x) in yt.iter_mut().zip(xt) {
        *y = libm::sqrtf(x) + a;
    }
}

/// [`super::add_outer_nonzero`] with AVX-512 or AVX, if [`available`].
#[inline]
pub(super) fn add_outer_nonzero(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) -> Option<()> {
    match in_use() {
        KernelSet::Portable => return None,
        // SAFETY: as in `affine_many`.
        KernelSet::Avx512 if cols >= WIDE_ROWS => unsafe {
            add_outer_nonzero_avx512(g, d, x, cols)
        },
        // SAFETY: as in `affine_many`.
        _ => unsafe { add_outer_nonzero_avx(g, d, x, cols) },
    }
    Some(())
}

/// [`super::linear_combinations`] with AVX-512 or AVX, if [`available`].
#[inline]
pub(super) fn linear_combinations(y: &mut [f32], a: &[f32], x: &[f32], terms: usize) -> Option<()> {
    let width = x.len().checked_div(terms).unwrap_or(0);
    match in_use() {
        KernelSet::Portable => return None,
        // SAFETY: as in `affine_many`.
        KernelSet::Avx512 if width >= WIDE_ROWS => unsafe {
            linear_combinations_avx512(y, a, x, terms)
        },
        // SAFETY: as in `affine_many`.
        _ => unsafe { linear_combinations_avx(y, a, x, terms) },
    }
    Some(())
}

/// Samples whose terms [`add_outer_nonzero_avx`] adds to a row of `g` in
/// one pass (the bits of a `u32` mask).
const OUTER_GROUP: usize = 32;

/// [`super::add_outer_nonzero`] with AVX: samples in groups of up to
/// [`OUTER_GROUP`]; for each row of `g`, a bit mask of the samples whose
/// coefficient is non-zero (eight rows at a time with vector compares), then
/// the row, 64 values at a time in eight registers, gets those samples'
/// terms added one after another, in increasing sample order. The terms
/// are the same as the portable kernel's, in the same order; only the
/// bookkeeping differs (one pass per row and group, no count dispatch).
#[target_feature(enable = "avx")]
unsafe fn add_outer_nonzero_avx(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    let (Some(rows), Some(count)) = (g.len().checked_div(cols), x.len().checked_div(cols)) else {
        return;
    };
    let g = &mut g[..rows * cols];
    let mut s0 = 0;
    while s0 < count {
        let n = (count - s0).min(OUTER_GROUP);
        let (dg, xg) = (
            &d[s0 * rows..(s0 + n) * rows],
            &x[s0 * cols..(s0 + n) * cols],
        );
        let mut o0 = 0;
        for rows_g in g.chunks_mut(8 * cols) {
            let block = rows_g.len() / cols;
            let masks = nonzero_masks(dg, rows, n, o0, block);
            for (r, (row, &mask)) in rows_g.chunks_exact_mut(cols).zip(&masks).enumerate() {
                if mask != 0 {
                    add_masked_terms(row, mask, dg, rows, o0 + r, xg);
                }
            }
            o0 += block;
        }
        s0 += n;
    }
}

/// Bit `s` of `masks[r]`: the coefficient `d[s * rows + o0 + r]` of sample
/// `s` for row `o0 + r` is non-zero (or NaN, as `!= 0.0`), for `s < n <= 32`
/// and `r < block <= 8`.
#[inline(always)]
fn nonzero_masks(d: &[f32], rows: usize, n: usize, o0: usize, block: usize) -> [u32; 8] {
    let mut masks = [0u32; 8];
    if block == 8 {
        // SAFETY (intrinsics): AVX is enabled in the only caller.
        let mut bits = unsafe { _mm256_setzero_ps() };
        for s in 0..n {
            let c: &[f32; 8] = d[s * rows + o0..][..8].try_into().expect("eight rows");
            unsafe {
                let nonzero = _mm256_cmp_ps::<_CMP_NEQ_UQ>(load8(c), _mm256_setzero_ps());
                let bit = _mm256_castsi256_ps(_mm256_set1_epi32(1 << s));
                bits = _mm256_or_ps(bits, _mm256_and_ps(nonzero, bit));
            }
        }
        // SAFETY: `masks` is eight writable 32-bit values.
        unsafe { _mm256_storeu_ps(masks.as_mut_ptr().cast(), bits) };
    } else {
        for (r, m) in masks.iter_mut().enumerate().take(block) {
            for s in 0..n {
                *m |= u32::from(d[s * rows + o0 + r] != 0.0) << s;
            }
        }
    }
    masks
}

/// `row += d[s * rows + o] * x[s * cols..(s + 1) * cols]` for the samples `s`
/// whose bit is set in `mask`, in increasing `s` (`cols = row.len()`).
#[inline(always)]
fn add_masked_terms(row: &mut [f32], mask: u32, d: &[f32], rows: usize, o: usize, x: &[f32]) {
    let cols = row.len();
    // Every sample in `mask` has its coefficient and its whole row of `x`
    // (checked once here, so the loops below index without checks).
    let last = 31 - mask.leading_zeros() as usize;
    assert!(last * rows + o < d.len() && (last + 1) * cols <= x.len());
    let mut col = 0;
    while col + 64 <= cols {
        // SAFETY: `col + 64 <= cols` and the check above.
        unsafe { add_vectors::<8>(row, col, mask, d, rows, o, x) };
        col += 64;
    }
    // SAFETY (each arm): `col + 8 * R <= cols` and the check above.
    unsafe {
        match (cols - col) / 8 {
            0 => {}
            1 => add_vectors::<1>(row, col, mask, d, rows, o, x),
            2 => add_vectors::<2>(row, col, mask, d, rows, o, x),
            3 => add_vectors::<3>(row, col, mask, d, rows, o, x),
            4 => add_vectors::<4>(row, col, mask, d, rows, o, x),
            5 => add_vectors::<5>(row, col, mask, d, rows, o, x),
            6 => add_vectors::<6>(row, col, mask, d, rows, o, x),
            _ => add_vectors::<7>(row, col, mask, d, rows, o, x),
        }
    }
    for (i, v) in row.iter_mut().enumerate().skip(cols - cols % 8) {
        let mut sum = *v;
        let mut m = mask;
        while m != 0 {
            let s = m.trailing_zeros() as usize;
            sum += d[s * rows + o] * x[s * cols + i];
            m &= m - 1;
        }
        *v = sum;
    }
}

/// [`add_masked_terms`] for the `8 * R` values of `row` from `col`, held in
/// registers while the terms are added.
///
/// # Safety
/// AVX is enabled; `col + 8 * R <= row.len()`; for the highest sample `s`
/// in `mask`, `s * rows + o < d.len()` and `(s + 1) * row.len() <= x.len()`.
#[inline(always)]
unsafe fn add_vectors<const R: usize>(
    row: &mut [f32],
    col: usize,
    mask: u32,
    d: &[f32],
    rows: usize,
    o: usize,
    x: &[f32],
) {
    let cols = row.len();
    // SAFETY (all below): the function's contract.
    unsafe {
        let y = row.as_mut_ptr().add(col);
        let mut acc = [_mm256_setzero_ps(); R];
        for (r, a) in acc.iter_mut().enumerate() {
            *a = _mm256_loadu_ps(y.add(8 * r));
        }
        let mut m = mask;
        while m != 0 {
            let s = m.trailing_zeros() as usize;
            let c = _mm256_set1_ps(*d.get_unchecked(s * rows + o));
            let xs = x.as_ptr().add(s * cols + col);
            for (r, a) in acc.iter_mut().enumerate() {
                *a = _mm256_add_ps(*a, _mm256_mul_ps(c, _mm256_loadu_ps(xs.add(8 * r))));
            }
            m &= m - 1;
        }
        for (r, a) in acc.iter().enumerate() {
            _mm256_storeu_ps(y.add(8 * r), *a);
        }
    }
}

#[target_feature(enable = "avx")]
unsafe fn linear_combinations_avx(y: &mut [f32], a: &[f32], x: &[f32], terms: usize) {
    linear_combinations_portable(Avx(()), y, a, x, terms);
}

#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn add_outer_nonzero_avx512(g: &mut [f32], d: &[f32], x: &[f32], cols: usize) {
    add_outer_nonzero_portable::<true, Avx512>(Avx512(()), g, d, x, cols);
}

#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn linear_combinations_avx512(y: &mut [f32], a: &[f32], x: &[f32], terms: usize) {
    linear_combinations_portable(Avx512(()), y, a, x, terms);
}

/// Proof that AVX is enabled: made only inside the `#[target_feature]`
/// functions above, which are only called after [`available`].
#[derive(Clone, Copy)]
struct Avx(());

impl AddTerms for Avx {
    /// [`super::terms`]' `axpy_tiles` with each tile of 16 in two 256-bit registers.
    #[inline(always)]
    fn add<const N: usize, const ZERO: bool>(self, y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>) {
        // SAFETY (all intrinsics below): `self` proves AVX is enabled.
        let mut coef = [unsafe { _mm256_setzero_ps() }; N];
        for j in 0..N {
            coef[j] = unsafe { _mm256_set1_ps(a[j]) };
        }
        let (yc, yt) = y.as_chunks_mut::<TILE>();
        for (i, yv) in yc.iter_mut().enumerate() {
            let [lo, hi] = yv.as_chunks_mut::<8>().0 else {
                unreachable!("a tile is two vectors")
            };
            let (mut v0, mut v1) = if ZERO {
                unsafe { (_mm256_setzero_ps(), _mm256_setzero_ps()) }
            } else {
                (load8(lo), load8(hi))
            };
            for (c, xj) in coef.iter().zip(&x.tiles) {
                let [x0, x1] = xj[i].as_chunks::<8>().0 else {
                    unreachable!("a tile is two vectors")
                };
                unsafe {
                    v0 = _mm256_add_ps(v0, _mm256_mul_ps(*c, load8(x0)));
                    v1 = _mm256_add_ps(v1, _mm256_mul_ps(*c, load8(x1)));
                }
            }
            store8(lo, v0);
            store8(hi, v1);
        }
        for (t, yi) in yt.iter_mut().enumerate() {
            let mut v = if ZERO { 0.0 } else { *yi };
            for (a, xj) in a.iter().zip(&x.tails) {
                v += a * xj[t];
            }
            *yi = v;
        }
    }
}

/// Proof that AVX-512F and DQ are enabled: made only inside the
/// `#[target_feature]` functions above, which are only called after
/// [`in_use`] found them.
#[derive(Clone, Copy)]
struct Avx512(());

impl AddTerms for Avx512 {
    /// [`super::terms`]' `axpy_tiles` with each tile of 16 in one 512-bit register.
    #[inline(always)]
    fn add<const N: usize, const ZERO: bool>(self, y: &mut [f32], a: [f32; N], x: &Tiles<'_, N>) {
        // SAFETY (all intrinsics below): `self` proves AVX-512F is enabled;
        // every load and store is of one whole tile of 16 f32s.
        let mut coef = [unsafe { _mm512_setzero_ps() }; N];
        for j in 0..N {
            coef[j] = unsafe { _mm512_set1_ps(a[j]) };
        }
        let (yc, yt) = y.as_chunks_mut::<TILE>();
        for (i, yv) in yc.iter_mut().enumerate() {
            let mut v = if ZERO {
                unsafe { _mm512_setzero_ps() }
            } else {
                unsafe { _mm512_loadu_ps(yv.as_ptr()) }
            };
            for (c, xj) in coef.iter().zip(&x.tiles) {
                unsafe {
                    v = _mm512_add_ps(v, _mm512_mul_ps(*c, _mm512_loadu_ps(xj[i].as_ptr())));
                }
            }
            unsafe { _mm512_storeu_ps(yv.as_mut_ptr(), v) };
        }
        for (t, yi) in yt.iter_mut().enumerate() {
            let mut v = if ZERO { 0.0 } else { *yi };
            for (a, xj) in a.iter().zip(&x.tails) {
                v += a * xj[t];
            }
            *yi = v;
        }
    }
}

/// Stores eight lanes.
#[inline(always)]
fn store8(p: &mut [f32; 8], v: __m256) {
    // SAFETY: `p` is eight writable f32s; the store is unaligned; AVX is
    // enabled in every caller.
    unsafe { _mm256_storeu_ps(p.as_mut_ptr(), v) }
}

/// Loads eight lanes. `p` must hold at least eight elements (checked).
#[inline(always)]
fn load8(p: &[f32; 8]) -> __m256 {
    // SAFETY: `p` is eight readable f32s; the load is unaligned; AVX is
    // enabled in every caller (they are all inlined into `affine_many_avx`).
    unsafe { _mm256_loadu_ps(p.as_ptr()) }
}

/// [`super::affine_many`] with AVX: rows in blocks of four, vectors in pairs.
#[target_feature(enable = "avx")]
unsafe fn affine_many_avx(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    affine_blocks::<false>(w, b, x, cols, out);
}

/// [`super::affine_many`] with AVX-512: as [`affine_many_avx`], with the
/// vectors in fours first (two per 512-bit register, [`dot_block_wide`]).
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn affine_many_avx512(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    affine_blocks::<true>(w, b, x, cols, out);
}

/// The body of both: rows in blocks of four; with `WIDE` (only in an
/// AVX-512 caller) vectors in fours, then in pairs, then a single one.
#[inline(always)]
fn affine_blocks<const WIDE: bool>(w: &[f32], b: &[f32], x: &[f32], cols: usize, out: &mut [f32]) {
    let rows = b.len();
    let Some(count) = affine_count(b, x, cols, out) else {
        return;
    };
    let w = &w[..rows * cols];
    let x = &x[..count * cols];
    let out = &mut out[..count * rows];
    if cols == 0 {
        // Empty dot products (`+0`) plus the biases.
        for out in out.chunks_exact_mut(rows) {
            for (v, &b) in out.iter_mut().zip(b) {
                *v = 0.0 + b;
            }
        }
        return;
    }
    let mut o = 0;
    while o < rows {
        // Four rows; past the last row, the last row again (its lanes are
        // computed and not stored).
        let rest = (rows - o).min(4);
        // (Plain array expressions: a closure would not be inlined here, as
        // it lacks this function's target features.)
        let row = [
            o,
            o + 1.min(rest - 1),
            o + 2.min(rest - 1),
            o + 3.min(rest - 1),
        ];
        let wr = [
            &w[row[0] * cols..][..cols],
            &w[row[1] * cols..][..cols],
            &w[row[2] * cols..][..cols],
            &w[row[3] * cols..][..cols],
        ];
        let bias = [b[row[0]], b[row[1]], b[row[2]], b[row[3]]];
        let mut s = 0;
        while WIDE && s + 4 <= count {
            let xs = [
                &x[s * cols..(s + 1) * cols],
                &x[(s + 1) * cols..(s + 2) * cols],
                &x[(s + 2) * cols..(s + 3) * cols],
                &x[(s + 3) * cols..(s + 4) * cols],
            ];
            let d = dot_block_wide(wr, xs);
            for (k, d) in d.iter().enumerate() {
                store(&mut out[(s + k) * rows + o..][..rest], add_bias(*d, bias));
            }
            s += 4;
        }
        let pairs = (count - s) / 2;
        for (xp, op) in x[s * cols..]
            .chunks_exact(2 * cols)
            .zip(out[s * rows..].chunks_exact_mut(2 * rows))
            .take(pairs)
        {
            let (x0, x1) = xp.split_at(cols);
            let d = dot_block::<2>(wr, [x0, x1]);
            let (o0, o1) = op.split_at_mut(rows);
            store(&mut o0[o..o + rest], add_bias(d[0], bias));
            store(&mut o1[o..o + rest], add_bias(d[1], bias));
        }
        s += 2 * pairs;
        if s < count {
            let d = dot_block::<1>(wr, [&x[s * cols..(s + 1) * cols]]);
            store(&mut out[s * rows + o..][..rest], add_bias(d[0], bias));
        }
        o += rest;
    }
}

/// [`dot_block`] for four vectors with AVX-512: vectors `2p` and `2p + 1`
/// share a register (lower and upper half), each row's chunk is loaded
/// into both halves, so every half is exactly [`dot_block`]'s accumulator.
#[inline(always)]
fn dot_block_wide<'a>(w: [&'a [f32]; 4], x: [&'a [f32]; 4]) -> [__m128; 4] {
    let n = x[0].len();
    let chunks = n / 8;
    let chunked = |v: &'a [f32]| -> &'a [[f32; 8]] { &v[..n].as_chunks::<8>().0[..chunks] };
    let (w0, w1, w2, w3) = (chunked(w[0]), chunked(w[1]), chunked(w[2]), chunked(w[3]));
    let xc = [chunked(x[0]), chunked(x[1]), chunked(x[2]), chunked(x[3])];
    // SAFETY (all intrinsics below): AVX-512F/DQ are enabled in the caller;
    // every load is of one whole chunk of eight f32s.
    let zero = unsafe { _mm512_setzero_ps() };
    let mut acc = [[zero; 4]; 2];
    for i in 0..chunks {
        let wv = [both(&w0[i]), both(&w1[i]), both(&w2[i]), both(&w3[i])];
        for p in 0..2 {
            let xv = pair(&xc[2 * p][i], &xc[2 * p + 1][i]);
            for r in 0..4 {
                acc[p][r] = unsafe { _mm512_add_ps(acc[p][r], _mm512_mul_ps(wv[r], xv)) };
            }
        }
    }
    let mut sums = [unsafe { _mm_setzero_ps() }; 4];
    for p in 0..2 {
        let a = acc[p];
        // SAFETY: as above.
        unsafe {
            sums[2 * p] = combine4([
                _mm512_castps512_ps256(a[0]),
                _mm512_castps512_ps256(a[1]),
                _mm512_castps512_ps256(a[2]),
                _mm512_castps512_ps256(a[3]),
            ]);
            sums[2 * p + 1] = combine4([
                _mm512_extractf32x8_ps::<1>(a[0]),
                _mm512_extractf32x8_ps::<1>(a[1]),
                _mm512_extractf32x8_ps::<1>(a[2]),
                _mm512_extractf32x8_ps::<1>(a[3]),
            ]);
        }
    }
    if chunks * 8 < n {
        for (k, sum) in sums.iter_mut().enumerate() {
            *sum = add_tail(*sum, w, x[k], chunks * 8);
        }
    }
    sums
}

/// A chunk of eight in both halves of a 512-bit register.
#[inline(always)]
fn both(c: &[f32; 8]) -> __m512 {
    // SAFETY: AVX-512F/DQ are enabled in every caller (all inlined into
    // `affine_many_avx512`).
    unsafe { _mm512_broadcast_f32x8(load8(c)) }
}

/// Two chunks of eight, `lo` in the lower half and `hi` in the upper.
#[inline(always)]
fn pair(lo: &[f32; 8], hi: &[f32; 8]) -> __m512 {
    // SAFETY: as in `both`.
    unsafe { _mm512_insertf32x8::<1>(_mm512_castps256_ps512(load8(lo)), load8(hi)) }
}

/// `sums[r] + w[r][i] * x[i] + ...` for `i` from `from` to the end, in
/// increasing `i`: the tail of four dot products.
#[inline(always)]
fn add_tail(sums: __m128, w: [&[f32]; 4], x: &[f32], from: usize) -> __m128 {
    let mut v = [0.0f32; 4];
    // SAFETY: `v` holds four f32s; SSE is part of x86_64.
    unsafe { _mm_storeu_ps(v.as_mut_ptr(), sums) };
    for i in from..x.len() {
        for r in 0..4 {
            v[r] += w[r][i] * x[i];
        }
    }
    // SAFETY: as above.
    unsafe { _mm_loadu_ps(v.as_ptr()) }
}

/// `d[k][r] = dot(w[r], x[k])` for four rows and `S` vectors of equal
/// length, each bit-identical to [`super::dot()`]: lane-wise products added in
/// eight lanes, lanes combined by [`super::dot()`]'s tree, the tail
/// added in order.
#[inline(always)]
fn dot_block<'a, const S: usize>(w: [&'a [f32]; 4], x: [&'a [f32]; S]) -> [__m128; S] {
    let n = x[0].len();
    let chunks = n / 8;
    let chunked = |v: &'a [f32]| -> &'a [[f32; 8]] { &v[..n].as_chunks::<8>().0[..chunks] };
    let (w0, w1, w2, w3) = (chunked(w[0]), chunked(w[1]), chunked(w[2]), chunked(w[3]));
    let mut xc: [&[[f32; 8]]; S] = [&[]; S];
    for k in 0..S {
        xc[k] = chunked(x[k]);
    }
    // SAFETY (all intrinsics below): AVX is enabled in the caller.
    let zero = unsafe { _mm256_setzero_ps() };
    let mut acc = [[zero; 4]; S];
    for i in 0..chunks {
        let wv = [load8(&w0[i]), load8(&w1[i]), load8(&w2[i]), load8(&w3[i])];
        for k in 0..S {
            let xv = load8(&xc[k][i]);
            for r in 0..4 {
                acc[k][r] = unsafe { _mm256_add_ps(acc[k][r], _mm256_mul_ps(wv[r], xv)) };
            }
        }
    }
    let mut sums = [unsafe { _mm_setzero_ps() }; S];
    for k in 0..S {
        sums[k] = combine4(acc[k]);
        if chunks * 8 < n {
            sums[k] = add_tail(sums[k], w, x[k], chunks * 8);
        }
    }
    sums
}

/// [`super::dot()`]'s lane tree for four accumulators at once:
/// `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))` for each, as one
/// 4-lane vector (row `r` in lane `r`).
#[inline(always)]
fn combine4(acc: [__m256; 4]) -> __m128 {
    // SAFETY: AVX is enabled in the caller.
    unsafe {
        // h[r] = [l0 + l4, l1 + l5, l2 + l6, l3 + l7] of row r.
        let half = |v: __m256| _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let h = [half(acc[0]), half(acc[1]), half(acc[2]), half(acc[3])];
        // Transpose: c[j] holds element j of h[0..4].
        let t0 = _mm_unpacklo_ps(h[0], h[1]);
        let t1 = _mm_unpacklo_ps(h[2], h[3]);
        let t2 = _mm_unpackhi_ps(h[0], h[1]);
        let t3 = _mm_unpackhi_ps(h[2], h[3]);
        let c0 = _mm_movelh_ps(t0, t1);
        let c1 = _mm_movehl_ps(t1, t0);
        let c2 = _mm_movelh_ps(t2, t3);
        let c3 = _mm_movehl_ps(t3, t2);
        _mm_add_ps(_mm_add_ps(c0, c2), _mm_add_ps(c1, c3))
    }
}

/// `d + b` lane by lane.
#[inline(always)]
fn add_bias(d: __m128, b: [f32; 4]) -> __m128 {
    // SAFETY: `b` holds four f32s; SSE is part of x86_64.
    unsafe { _mm_add_ps(d, _mm_loadu_ps(b.as_ptr())) }
}

/// Stores the first `out.len()` (at most four) lanes of `v` into `out`.
#[inline(always)]
fn store(out: &mut [f32], v: __m128) {
    if let Ok(out) = <&mut [f32; 4]>::try_from(&mut *out) {
        // SAFETY: `out` holds four writable f32s; the store is unaligned.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) };
    } else {
        let mut all = [0.0f32; 4];
        // SAFETY: `all` holds four writable f32s.
        unsafe { _mm_storeu_ps(all.as_mut_ptr(), v) };
        for (o, a) in out.iter_mut().zip(all) {
            *o = a;
        }
    }
}

/// [`super::exp::exp_moderate`]: eight lanes at a time, the tail in a padded
/// vector.
#[target_feature(enable = "avx")]
unsafe fn exp_moderate_avx(x: &mut [f32]) {
    let (chunks, tail) = x.as_chunks_mut::<8>();
    for c in chunks {
        store8(c, exp8(load8(c)));
    }
    if !tail.is_empty() {
        let mut v = [0.0f32; 8];
        v[..tail.len()].copy_from_slice(tail);
        let e = exp8(load8(&v));
        store8(&mut v, e);
        tail.copy_from_slice(&v[..tail.len()]);
    }
}

/// [`super::exp::expf_moderate_one`] lane by lane: the same operations, its
/// selects as blends. Integer steps (the exponent of `2^k`) on 128-bit
/// halves, as AVX without AVX2 has no 256-bit integer operations.
#[inline(always)]
fn exp8(x: __m256) -> __m256 {
    let c = |bits: u32| f32::from_bits(bits);
    // SAFETY (all intrinsics): AVX is enabled in the caller.
    unsafe {
        let set = |v: f32| _mm256_set1_ps(v);
        let abs = _mm256_and_ps(x, set(c(0x7fff_ffff)));
        let sign = _mm256_and_ps(x, set(c(0x8000_0000)));
        let t = _mm256_add_ps(
            _mm256_mul_ps(set(c(0x3fb8_aa3b)), x),
            _mm256_or_ps(set(0.5), sign),
        );
        let t_abs = _mm256_and_ps(t, set(c(0x7fff_ffff)));
        let two_23 = set(8_388_608.0);
        let n = _mm256_sub_ps(_mm256_add_ps(t_abs, two_23), two_23);
        let n = _mm256_blendv_ps(
            n,
            _mm256_sub_ps(n, set(1.0)),
            _mm256_cmp_ps::<_CMP_GT_OQ>(n, t_abs),
        );
        // Positive floats compare as their bits do (NaN compares false; its
        // lanes are replaced by `x` at the end).
        let beyond_1_5 = _mm256_cmp_ps::<_CMP_GT_OQ>(abs, set(c(0x3f85_1592)));
        let beyond_0_5 = _mm256_cmp_ps::<_CMP_GT_OQ>(abs, set(c(0x3eb1_7218)));
        let kf = _mm256_blendv_ps(
            _mm256_and_ps(_mm256_or_ps(set(1.0), sign), beyond_0_5),
            _mm256_or_ps(n, sign),
            beyond_1_5,
        );
        let hi = _mm256_sub_ps(x, _mm256_mul_ps(kf, set(c(0x3f31_7200))));
        let lo = _mm256_mul_ps(kf, set(c(0x35bf_be8e)));
        let r = _mm256_sub_ps(hi, lo);
        let rr = _mm256_mul_ps(r, r);
        let p = _mm256_add_ps(set(c(0x3e2a_aa8f)), _mm256_mul_ps(rr, set(c(0xbb35_5215))));
        let cc = _mm256_sub_ps(r, _mm256_mul_ps(rr, p));
        let q = _mm256_div_ps(_mm256_mul_ps(r, cc), _mm256_sub_ps(set(2.0), cc));
        let y = _mm256_add_ps(set(1.0), _mm256_add_ps(_mm256_sub_ps(q, lo), hi));
        // 2^k: k = bits(kf + 1.5 * 2^23) - bits(1.5 * 2^23), then
        // (k + 127) << 23, on each half.
        let magic = _mm_set1_epi32(0x4b40_0000 - 127);
        let shifted = _mm256_add_ps(kf, set(12_582_912.0));
        let pow2 = |h: __m128| {
            _mm_castsi128_ps(_mm_slli_epi32::<23>(_mm_sub_epi32(
                _mm_castps_si128(h),
                magic,
            )))
        };
        let pow2k = _mm256_insertf128_ps::<1>(
            _mm256_castps128_ps256(pow2(_mm256_castps256_ps128(shifted))),
            pow2(_mm256_extractf128_ps::<1>(shifted)),
        );
        let scaled = _mm256_mul_ps(y, pow2k);
        let tiny = _mm256_cmp_ps::<_CMP_LE_OQ>(abs, set(c(0x3900_0000)));
        let out = _mm256_blendv_ps(scaled, _mm256_add_ps(set(1.0), x), tiny);
        _mm256_blendv_ps(out, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
    }
}
