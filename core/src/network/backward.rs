//! The backward pass: each layer's weight and bias gradients (zero deltas
//! skipped) and the deltas of the layer below, in the order of the
//! [module documentation](super).

#[cfg(doc)]
use super::forward::Head;
use super::{BLOCK, MAX_WIDTHS, Mlp};
#[cfg(doc)]
use crate::kernels::axpy;
use crate::kernels::{SIMD, add_outer_nonzero, all_finite, axpy_n, linear_combinations};

impl Mlp {
    /// Adds the per-sample weight and bias gradient terms of one layer,
    /// `grad_w[o] += delta[s][o] * input[s]` and `grad_b[o] += delta[s][o]`,
    /// for the first `count` samples, in sample order.
    fn backward_layer_weights(
        grad_w: &mut [f32],
        grad_b: &mut [f32],
        deltas: &[f32],
        inputs: &[f32],
        rows: usize,
        cols: usize,
        count: usize,
    ) {
        // Bias terms: sample by sample, a vector over the rows.
        for d in deltas[..count * rows].chunks_exact(rows) {
            for (gb, d) in grad_b.iter_mut().zip(d) {
                *gb += d;
            }
        }
        let inputs = &inputs[..count * cols];
        // Zero deltas (ReLU-dead units) are skipped either way: with SIMD by
        // a bit mask and a table of set bits, one pass per row; without, by
        // the gathering of `add_terms` (no 2.3 KiB table in flash).
        if SIMD {
            add_outer_nonzero(grad_w, &deltas[..count * rows], inputs, cols);
        } else {
            for (o, g) in grad_w.chunks_exact_mut(cols).enumerate() {
                add_terms(g, inputs, count, |s| (deltas[s * rows + o], s * cols));
            }
        }
    }

    /// Backward pass of the first `count` samples of the workspace, after
    /// [`Mlp::block_forward`] with [`Head::LossDelta`]; `dense_weights[l]`
    /// tells whether layer `l`'s weights qualify for [`dense_terms`] (read
    /// for `l >= 1` only: layer 0 passes no delta further back).
    pub(super) fn block_backward(
        &self,
        params: &[f32],
        count: usize,
        grad: &mut [f32],
        work: &mut [f32],
        dense_weights: &[bool; MAX_WIDTHS],
    ) {
        let shape = &self.shape;
        for l in (0..shape.layers()).rev() {
            let layer = shape.layer(l);
            let (rows, cols) = (layer.rows, layer.cols);
            // Deltas of this layer's outputs: the output block for the last
            // layer, the delta buffer of hidden layer l + 1 otherwise.
            let act_in = shape.work_offset_activation(l);
            let delta_out = if l + 1 == shape.layers() {
                shape.work_offset_activation(l + 1)
            } else {
                shape.work_offset_activation(l + 1) + BLOCK * rows
            };
            let (gw, gb) = grad[layer.weights..layer.biases + rows].split_at_mut(rows * cols);
            let (before, after) = work.split_at_mut(delta_out);
            let deltas = &after[..count * rows];
            Self::backward_layer_weights(
                gw,
                gb,
                deltas,
                &before[act_in..act_in + count * cols],
                rows,
                cols,
                count,
            );
            if l == 0 {
                break;
            }
            // Delta of hidden layer l: (W^T delta) * f'(a), rows added in order.
            let (acts, dl) = before[act_in..act_in + 2 * BLOCK * cols].split_at_mut(BLOCK * cols);
            let weights = &params[layer.weights..layer.biases];
            let (dl, acts) = (&mut dl[..count * cols], &acts[..count * cols]);
            if SIMD && dense_weights[l] {
                linear_combinations(dl, deltas, weights, rows);
            } else {
                dl.fill(0.0);
                for (s, d) in dl.chunks_exact_mut(cols).enumerate() {
                    let coef = &deltas[s * rows..(s + 1) * rows];
                    add_terms(d, weights, rows, |o| (coef[o], o * cols));
                }
            }
            self.activation.backprop(dl, acts);
        }
    }
}

/// Widest rows for which [`dense_terms`] picks the dense passes: below it,
/// gathering the non-zero terms (about 15 instructions per candidate, and a
/// mispredicted branch on their number) costs more than the ReLU-dead terms
/// it saves.
const DENSE_MAX_WIDTH: usize = 64;

/// Whether the hidden-delta terms `delta[o] * W[o]`, whose rows `W[o]` are
/// `x` (`width` values each), may be added all, zero coefficients included
/// ([`linear_combinations`]), rather than through [`add_terms`], which skips
/// them.
///
/// Both give the same bits when every element of `x` is finite: `0 * x` is
/// then a zero, and adding a zero to a sum that started at `+0` never changes
/// it (such a sum is never `-0`: in round-to-nearest, `a + b` is `-0` only if
/// both are). With SIMD, fixed-size branch-free passes are faster than
/// gathering the non-zero terms of short rows; on a scalar FPU (Cortex-M4F),
/// skipping the work of dead units always wins.
pub(super) fn dense_terms(x: &[f32], width: usize) -> bool {
    SIMD && width <= DENSE_MAX_WIDTH && all_finite(x)
}

/// Adds the terms `coef * x[offset..offset + y.len()]` to `y` for
/// `(coef, offset) = term(i)`, `i < count`, in increasing `i`, skipping zero
/// coefficients (adding `0 * x` is exact for finite `x`: skipping it changes
/// no bit but the sign of an all-zero sum, and it saves the work of ReLU-dead
/// units). The terms go in a few passes over `y` ([`add_gathered`]),
/// bit-identical to one [`axpy`] per term.
///
/// The non-zero terms are gathered without branches: whether a unit is dead
/// is data, and a branch on it would be mispredicted about half the time.
/// What remains is one branch on their number per pass.
#[inline]
fn add_terms(y: &mut [f32], x: &[f32], count: usize, term: impl Fn(usize) -> (f32, usize)) {
    let mut i = 0;
    while i < count {
        let end = count.min(i + GATHER);
        let mut coef = [0.0f32; GATHER];
        let mut offset = [0usize; GATHER];
        let mut k = 0;
        for t in i..end {
            let (c, o) = term(t);
            // `k <= t - i < GATHER`: the mask only tells the compiler so.
            coef[k % GATHER] = c;
            offset[k % GATHER] = o;
            k += usize::from(c != 0.0);
        }
        i = end;
        add_gathered(y, x, &coef, &offset, k);
    }
}

/// Terms gathered in one pass of [`add_terms`].
const GATHER: usize = 8;

/// The first `k` terms `coef[j] * x[offset[j]..]` added to `y` in order: in
/// one pass with SIMD (an eight-way branch on `k`, but the pass over `y`
/// costs more than a mispredicted branch on the rows this is used for), in
/// passes of four and single terms otherwise (fewer kernels in flash).
#[inline]
fn add_gathered(
    y: &mut [f32],
    x: &[f32],
    coef: &[f32; GATHER],
    offset: &[usize; GATHER],
    k: usize,
) {
    #[inline(always)]
    fn pass<const N: usize>(
        y: &mut [f32],
        x: &[f32],
        coef: &[f32; GATHER],
        offset: &[usize; GATHER],
        j: usize,
    ) {
        let n = y.len();
        let a: [f32; N] = core::array::from_fn(|t| coef[j + t]);
        let xs: [&[f32]; N] = core::array::from_fn(|t| &x[offset[j + t]..offset[j + t] + n]);
        axpy_n(y, a, xs);
    }
    if SIMD {
        match k {
            0 => {}
            1 => pass::<1>(y, x, coef, offset, 0),
            2 => pass::<2>(y, x, coef, offset, 0),
            3 => pass::<3>(y, x, coef, offset, 0),
            4 => pass::<4>(y, x, coef, offset, 0),
            5 => pass::<5>(y, x, coef, offset, 0),
            6 => pass::<6>(y, x, coef, offset, 0),
            7 => pass::<7>(y, x, coef, offset, 0),
            _ => pass::<8>(y, x, coef, offset, 0),
        }
        return;
    }
    let mut j = 0;
    while k - j >= 4 {
        pass::<4>(y, x, coef, offset, j);
        j += 4;
    }
    while j < k {
        pass::<1>(y, x, coef, offset, j);
        j += 1;
    }
}
