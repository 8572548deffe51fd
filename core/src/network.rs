//! The multilayer perceptron: shapes as values, one flat parameter vector,
//! forward and backward passes over minibatches streamed from a [`Dataset`].
//!
//! # Parameter layout
//! For each layer `l` (input to output), the weights `W_l` (`rows = widths[l+1]`
//! by `cols = widths[l]`, row-major, so row `o` holds the weights into output
//! `o`), then the biases `b_l` (`rows` values). Everything is in ONE flat
//! `[f32]`: optimizers see a vector.
//!
//! # Loss
//! Mean softmax cross-entropy over the batch, computed with log-sum-exp, plus
//! `0.5 * l2 * sum(W^2)` over the weights (not the biases) when `l2 > 0`.
//!
//! # Summation order (determinism)
//! Samples are processed in blocks of [`BLOCK`]; each gradient element
//! accumulates its per-sample terms in batch order, so results do not depend
//! on the block size. Per-sample losses are added in batch order in f64, in
//! groups of [`LOSS_GROUP`] whose sums are added to the total in order.
//! Every pre-activation is `dot(W_o, a) + b_o`, the dot product summed in
//! eight lanes (lane `k` takes the elements `i % 8 == k` in increasing `i`),
//! the lanes combined by the tree `((l0 + l4) + (l2 + l6)) + ((l1 + l5) +
//! (l3 + l7))`, then the tail (`len % 8` elements) added in order. A hidden
//! delta adds the rows `delta_o * W_o` in row order, starting from `+0`, then
//! takes the activation's derivative. Terms with a zero delta (ReLU-dead
//! units) are skipped in the weight gradients and hidden deltas: for finite
//! activations adding them would change no bit, but `0 * inf` is NaN. How
//! the passes are blocked and vectorised is free; the unit test
//! `passes_match_the_reference_bit_for_bit` holds them to a plain
//! one-sample-at-a-time implementation of this contract.

use crate::data::{Dataset, check_compatible};
use crate::error::{Buffer, Error, check_len, check_min_len};
use crate::kernels::{
    SIMD, add_outer_nonzero, affine_many, all_finite, axpy, axpy_n, dot, linear_combinations,
    softmax_rows,
};
use rand_core::Rng;

/// Largest number of layer widths (input, hidden..., output) in a [`Shape`].
pub const MAX_WIDTHS: usize = 8;

/// Samples processed together in one forward/backward block: 32 with SIMD
/// (x86_64), so that each row of a weight gradient is loaded, given the
/// block's terms and stored once per 32 samples rather than per 8 (that
/// per-row work was about half of the weight-gradient kernel's time); 8 on
/// a scalar FPU, where the workspace is RAM that a microcontroller lacks.
/// No result depends on it (see the module documentation).
pub const BLOCK: usize = if SIMD { 32 } else { 8 };

/// Samples whose losses [`cross_entropy`] sums (in `f64`, in order) before
/// the sum is added to the batch's total: fixed, unlike [`BLOCK`], as the
/// grouping of the `f64` sums shows in the bits of the loss.
pub const LOSS_GROUP: usize = 8;

/// The widths of a network's layers, input first, output (= classes) last.
///
/// ```
/// use sooth_core::Shape;
/// const DIGITS: Shape = match Shape::new(&[64, 32, 10]) { Ok(s) => s, Err(_) => panic!() };
/// assert_eq!(DIGITS.param_count(), 64 * 32 + 32 + 32 * 10 + 10);
/// // Sizes are `const`, so fixed storage can be declared with them.
/// static PARAMS: [f32; DIGITS.param_count()] = [0.0; DIGITS.param_count()];
/// assert_eq!(PARAMS.len(), 2410);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    widths: [usize; MAX_WIDTHS],
    len: usize,
}

/// Where one layer's weights and biases sit in the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerLayout {
    /// Outputs of the layer (rows of `W`).
    pub rows: usize,
    /// Inputs of the layer (columns of `W`).
    pub cols: usize,
    /// Offset of `W` (row-major, `rows * cols` values).
    pub weights: usize,
    /// Offset of `b` (`rows` values).
    pub biases: usize,
}

impl Shape {
    /// A shape from its widths (input, hidden..., output): 2 to [`MAX_WIDTHS`]
    /// widths, all non-zero, with at least 2 outputs.
    pub const fn new(widths: &[usize]) -> Result<Shape, Error> {
        if widths.len() < 2 || widths.len() > MAX_WIDTHS || widths[widths.len() - 1] < 2 {
            return Err(Error::InvalidShape);
        }
        let mut out = [0usize; MAX_WIDTHS];
        let mut i = 0;
        while i < widths.len() {
            if widths[i] == 0 {
                return Err(Error::InvalidShape);
            }
            out[i] = widths[i];
            i += 1;
        }
        // Every size derived from the shape (parameter count, workspace, and
        // their byte counts) must fit a usize with room to spare, so that no
        // later arithmetic on them can overflow.
        const LIMIT: usize = usize::MAX / 16;
        let mut params: usize = 0;
        let mut per_sample: usize = 0;
        let mut l = 0;
        while l + 1 < widths.len() {
            let layer = match widths[l] {
                w if w >= LIMIT => return Err(Error::InvalidShape),
                w => match (w + 1).checked_mul(widths[l + 1]) {
                    Some(v) => v,
                    None => return Err(Error::InvalidShape),
                },
            };
            params = match params.checked_add(layer) {
                Some(v) if v <= LIMIT => v,
                _ => return Err(Error::InvalidShape),
            };
            // widths[l] < LIMIT here, so 2 * widths[l] cannot overflow.
            per_sample = match per_sample.checked_add(2 * widths[l]) {
                Some(v) if v <= LIMIT / BLOCK => v,
                _ => return Err(Error::InvalidShape),
            };
            l += 1;
        }
        if widths[widths.len() - 1] > LIMIT / BLOCK - per_sample {
            return Err(Error::InvalidShape);
        }
        Ok(Shape {
            widths: out,
            len: widths.len(),
        })
    }

    /// The widths, input first.
    pub const fn widths(&self) -> &[usize] {
        self.widths.split_at(self.len).0
    }

    /// Number of input features.
    pub const fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// Number of outputs (classes).
    pub const fn outputs(&self) -> usize {
        self.widths[self.len - 1]
    }

    /// Number of weight layers (hidden layers + 1).
    pub const fn layers(&self) -> usize {
        self.len - 1
    }

    /// Where layer `l` (`l < layers()`) sits in the parameter vector.
    pub const fn layer(&self, l: usize) -> LayerLayout {
        let mut offset = 0;
        let mut i = 0;
        while i < l {
            offset += self.widths[i + 1] * (self.widths[i] + 1);
            i += 1;
        }
        let (rows, cols) = (self.widths[l + 1], self.widths[l]);
        LayerLayout {
            rows,
            cols,
            weights: offset,
            biases: offset + rows * cols,
        }
    }

    /// Length of the flat parameter vector (and of a gradient).
    pub const fn param_count(&self) -> usize {
        let last = self.layer(self.layers() - 1);
        last.biases + last.rows
    }

    /// Length of the activation workspace that [`Mlp`]'s passes need:
    /// [`BLOCK`] samples of the input, two buffers (activation and delta) per
    /// hidden layer, and the output.
    pub const fn workspace_len(&self) -> usize {
        let mut per_sample = self.widths[0] + self.widths[self.len - 1];
        let mut i = 1;
        while i + 1 < self.len {
            per_sample += 2 * self.widths[i];
            i += 1;
        }
        BLOCK * per_sample
    }

    /// Offsets into the workspace: input block, then (activation, delta) per
    /// hidden layer, then the output block.
    const fn work_offset_activation(&self, width_index: usize) -> usize {
        // width_index 0 = input, 1..len-1 = hidden, len-1 = output.
        let mut off = BLOCK * self.widths[0];
        let mut i = 1;
        while i < width_index {
            off += 2 * BLOCK * self.widths[i];
            i += 1;
        }
        if width_index == 0 { 0 } else { off }
    }
}

/// Activation of the hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// `max(z, 0)` (NaN stays NaN).
    Relu,
    /// `tanh(z)` (libm's `tanhf`).
    Tanh,
}

impl Activation {
    #[inline]
    fn apply(self, z: &mut [f32]) {
        match self {
            // `z < 0` is false for NaN, so NaN propagates. A select, not a
            // conditional store: it vectorises without branches.
            Activation::Relu => z
                .iter_mut()
                .for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v }),
            Activation::Tanh => z.iter_mut().for_each(|v| *v = libm::tanhf(*v)),
        }
    }

    /// `delta *= f'(z)`, written in terms of the activation `a = f(z)`.
    #[inline]
    fn backprop(self, delta: &mut [f32], a: &[f32]) {
        match self {
            Activation::Relu => {
                for (d, &a) in delta.iter_mut().zip(a) {
                    // Zero unless a > 0 (a NaN activation also gives 0); a
                    // select, which vectorises without branches.
                    *d = if a > 0.0 { *d } else { 0.0 };
                }
            }
            Activation::Tanh => {
                for (d, &a) in delta.iter_mut().zip(a) {
                    *d *= 1.0 - a * a;
                }
            }
        }
    }

    /// The initialization that suits this activation: He for ReLU, Glorot for tanh.
    pub const fn default_init(self) -> Init {
        match self {
            Activation::Relu => Init::HeUniform,
            Activation::Tanh => Init::GlorotUniform,
        }
    }
}

/// Weight initialization; biases always start at zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Init {
    /// Uniform in `[-sqrt(6 / fan_in), sqrt(6 / fan_in))`.
    HeUniform,
    /// Uniform in `[-sqrt(6 / (fan_in + fan_out)), ...)`.
    GlorotUniform,
}

/// Mean loss and accuracy of a network over a data set.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Evaluation {
    /// Mean cross-entropy (without the L2 term).
    pub loss: f64,
    /// Samples whose arg-max output equals the label.
    pub correct: u32,
    /// Samples evaluated.
    pub total: u32,
}

impl Evaluation {
    /// `correct / total`, in `[0, 1]`.
    pub fn accuracy(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            f64::from(self.correct) / f64::from(self.total)
        }
    }
}

/// A multilayer perceptron: shape, hidden activation and L2 weight decay.
/// It holds no parameters or buffers: every pass borrows them from the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mlp {
    shape: Shape,
    activation: Activation,
    l2: f32,
}

/// What a block pass computes at the output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    /// Loss only.
    Loss,
    /// Loss and output deltas (softmax - one-hot), for a backward pass.
    LossDelta,
    /// Loss and count of correct predictions.
    LossCorrect,
}

impl Mlp {
    /// A network without weight decay.
    pub const fn new(shape: Shape, activation: Activation) -> Mlp {
        Mlp {
            shape,
            activation,
            l2: 0.0,
        }
    }

    /// Sets the L2 weight-decay coefficient (`>= 0`, finite).
    pub fn with_l2(mut self, l2: f32) -> Result<Mlp, Error> {
        if !(l2 >= 0.0 && l2.is_finite()) {
            return Err(Error::InvalidHyperparameter {
                name: "l2",
                expected: "a finite value >= 0",
            });
        }
        self.l2 = l2;
        Ok(self)
    }

    /// The shape.
    pub const fn shape(&self) -> Shape {
        self.shape
    }

    /// The hidden activation.
    pub const fn activation(&self) -> Activation {
        self.activation
    }

    /// The L2 coefficient.
    pub const fn l2(&self) -> f32 {
        self.l2
    }

    /// Initializes `params` from `rng`: weights layer by layer, row-major,
    /// each `(2u - 1) * limit` with `u = (next_u32 >> 8) * 2^-24`; biases zero.
    pub fn init<R: Rng + ?Sized>(
        &self,
        params: &mut [f32],
        init: Init,
        rng: &mut R,
    ) -> Result<(), Error> {
        check_len(Buffer::Params, self.shape.param_count(), params.len())?;
        for l in 0..self.shape.layers() {
            let layer = self.shape.layer(l);
            let fan = match init {
                Init::HeUniform => layer.cols,
                Init::GlorotUniform => layer.cols + layer.rows,
            };
            let limit = libm::sqrtf(6.0 / fan as f32);
            for w in &mut params[layer.weights..layer.biases] {
                let u = (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0);
                *w = (2.0 * u - 1.0) * limit;
            }
            params[layer.biases..layer.biases + layer.rows].fill(0.0);
        }
        Ok(())
    }

    fn check_buffers(&self, params: &[f32], work: &[f32]) -> Result<(), Error> {
        check_len(Buffer::Params, self.shape.param_count(), params.len())?;
        check_min_len(Buffer::Workspace, self.shape.workspace_len(), work.len())
    }

    /// Mean loss over the samples `batch` of `data`, and its gradient in `grad`.
    ///
    /// `work` needs at least [`Shape::workspace_len`] elements. Errors on an
    /// empty batch, an index out of range, a label out of range, or a data set
    /// that does not fit the network; a non-finite loss is returned as is.
    pub fn loss_grad<D: Dataset + ?Sized>(
        &self,
        params: &[f32],
        data: &D,
        batch: &[u32],
        grad: &mut [f32],
        work: &mut [f32],
    ) -> Result<f64, Error> {
        self.check_buffers(params, work)?;
        check_len(Buffer::Gradient, params.len(), grad.len())?;
        check_compatible(data, self.shape.inputs(), self.shape.outputs())?;
        if batch.is_empty() {
            return Err(Error::EmptyBatch);
        }
        grad.fill(0.0);
        // Layer 0's weights never carry a delta back (there is no layer
        // below), so only the later layers are checked.
        let mut dense_weights = [false; MAX_WIDTHS];
        for (l, dense) in dense_weights
            .iter_mut()
            .enumerate()
            .take(self.shape.layers())
            .skip(1)
        {
            let layer = self.shape.layer(l);
            *dense = dense_terms(&params[layer.weights..layer.biases], layer.cols);
        }
        let mut total = 0.0f64;
        for block in batch.chunks(BLOCK) {
            self.block_forward(params, data, block, work, Head::LossDelta, &mut total)?;
            self.block_backward(params, block.len(), grad, work, &dense_weights);
        }
        let inv = 1.0 / batch.len() as f32;
        crate::kernels::scale(grad, inv);
        Ok(total / batch.len() as f64 + self.decay(params, Some(grad)))
    }

    /// Mean loss over the samples `batch` of `data` (a forward pass only).
    pub fn loss<D: Dataset + ?Sized>(
        &self,
        params: &[f32],
        data: &D,
        batch: &[u32],
        work: &mut [f32],
    ) -> Result<f64, Error> {
        self.check_buffers(params, work)?;
        check_compatible(data, self.shape.inputs(), self.shape.outputs())?;
        if batch.is_empty() {
            return Err(Error::EmptyBatch);
        }
        let mut total = 0.0f64;
        for block in batch.chunks(BLOCK) {
            self.block_forward(params, data, block, work, Head::Loss, &mut total)?;
        }
        Ok(total / batch.len() as f64 + self.decay(params, None))
    }

    /// Mean loss (without the L2 term) and accuracy over the whole of `data`,
    /// in index order.
    pub fn evaluate<D: Dataset + ?Sized>(
        &self,
        params: &[f32],
        data: &D,
        work: &mut [f32],
    ) -> Result<Evaluation, Error> {
        self.check_buffers(params, work)?;
        check_compatible(data, self.shape.inputs(), self.shape.outputs())?;
        let n = data.len();
        let mut loss = 0.0f64;
        let mut correct = 0u32;
        let mut indices = [0u32; BLOCK];
        let mut start = 0;
        while start < n {
            let count = BLOCK.min(n - start);
            for (k, slot) in indices[..count].iter_mut().enumerate() {
                *slot = (start + k) as u32;
            }
            correct += self.block_forward(
                params,
                data,
                &indices[..count],
                work,
                Head::LossCorrect,
                &mut loss,
            )?;
            start += count;
        }
        Ok(Evaluation {
            loss: loss / n as f64,
            correct,
            total: n as u32,
        })
    }

    /// The predicted class (arg-max output, first on ties) of one sample.
    pub fn predict(
        &self,
        params: &[f32],
        features: &[f32],
        work: &mut [f32],
    ) -> Result<usize, Error> {
        self.check_buffers(params, work)?;
        check_len(Buffer::Features, self.shape.inputs(), features.len())?;
        work[..features.len()].copy_from_slice(features);
        self.forward(params, 1, work);
        let out = self.shape.work_offset_activation(self.shape.len - 1);
        Ok(argmax(&work[out..out + self.shape.outputs()]))
    }

    /// L2 term of the loss; adds its gradient `l2 * W` to `grad` if given.
    fn decay(&self, params: &[f32], grad: Option<&mut [f32]>) -> f64 {
        if self.l2 == 0.0 {
            return 0.0;
        }
        let mut sum = 0.0f64;
        let mut grad = grad;
        for l in 0..self.shape.layers() {
            let layer = self.shape.layer(l);
            let w = &params[layer.weights..layer.biases];
            sum += f64::from(dot(w, w));
            if let Some(g) = grad.as_deref_mut() {
                axpy(&mut g[layer.weights..layer.biases], self.l2, w);
            }
        }
        0.5 * f64::from(self.l2) * sum
    }

    /// Fetches `block` into the workspace, runs the forward pass and the
    /// output head. Adds the losses to `total` ([`LOSS_GROUP`] samples' sum
    /// at a time, in order) and returns the number of correct predictions.
    fn block_forward<D: Dataset + ?Sized>(
        &self,
        params: &[f32],
        data: &D,
        block: &[u32],
        work: &mut [f32],
        head: Head,
        total: &mut f64,
    ) -> Result<u32, Error> {
        let inputs = self.shape.inputs();
        let classes = self.shape.outputs();
        let mut labels = [0usize; BLOCK];
        for (s, &index) in block.iter().enumerate() {
            let index = index as usize;
            if index >= data.len() {
                return Err(Error::IndexOutOfRange {
                    index,
                    len: data.len(),
                });
            }
            let label = data.fetch(index, &mut work[s * inputs..(s + 1) * inputs]);
            if label >= classes {
                return Err(Error::LabelOutOfRange {
                    index,
                    label,
                    classes,
                });
            }
            labels[s] = label;
        }
        self.forward(params, block.len(), work);
        let out = self.shape.work_offset_activation(self.shape.len - 1);
        let z = &mut work[out..out + block.len() * classes];
        let labels = &labels[..block.len()];
        let mut correct = 0;
        if head == Head::LossCorrect {
            for (z, &label) in z.chunks_exact(classes).zip(labels) {
                correct += u32::from(argmax(z) == label);
            }
        }
        for (z, labels) in z
            .chunks_mut(LOSS_GROUP * classes)
            .zip(labels.chunks(LOSS_GROUP))
        {
            *total += cross_entropy(z, classes, labels, head == Head::LossDelta);
        }
        Ok(correct)
    }

    /// Forward pass of the first `count` samples in the workspace's input block.
    fn forward(&self, params: &[f32], count: usize, work: &mut [f32]) {
        let shape = &self.shape;
        for l in 0..shape.layers() {
            let layer = shape.layer(l);
            let (rows, cols) = (layer.rows, layer.cols);
            let src = shape.work_offset_activation(l);
            let dst = shape.work_offset_activation(l + 1);
            // `src` lies before `dst` in the workspace.
            let (before, after) = work.split_at_mut(dst);
            let input = &before[src..src + count * cols];
            let output = &mut after[..count * rows];
            let weights = &params[layer.weights..layer.biases];
            let biases = &params[layer.biases..layer.biases + rows];
            affine_many(weights, biases, input, cols, output);
            if l + 1 < shape.layers() {
                self.activation.apply(output);
            }
        }
    }

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
    fn block_backward(
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
fn dense_terms(x: &[f32], width: usize) -> bool {
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

/// Index of the largest element (the first one on ties; NaN never wins).
fn argmax(z: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = j;
        }
    }
    best
}

/// Below this, `exp(z - max)` is taken as 0: a probability under 2^-63
/// (e^-44 = 7.8e-20) is far below the sum's resolution (the sum holds
/// e^0 = 1), and as a delta it would only breed subnormal numbers in the
/// backward pass, which x86 computes ~100x slower (SGD at batch 8 ran 2-4x
/// slower once the network grew confident).
const NEGLIGIBLE_EXPONENT: f32 = -44.0;

/// Summed softmax cross-entropy of the logits `z` (one row of `classes` per
/// label) for the classes `labels`, by log-sum-exp; each sample's loss is
/// added in order, as an `f64`. With `delta`, overwrites each row with
/// `softmax(z) - onehot(label)`; probabilities below e^-44 count as 0
/// ([`NEGLIGIBLE_EXPONENT`]). Any NaN or infinity in a row gives that
/// sample a NaN loss. At most [`LOSS_GROUP`] samples; `z` is clobbered either way.
fn cross_entropy(z: &mut [f32], classes: usize, labels: &[usize], delta: bool) -> f64 {
    let count = labels.len().min(LOSS_GROUP);
    let z = &mut z[..count * classes];
    let labels = &labels[..count];
    let mut z_labels = [0.0f32; LOSS_GROUP];
    for ((zl, row), &label) in z_labels.iter_mut().zip(z.chunks_exact(classes)).zip(labels) {
        *zl = row[label];
    }
    let mut maxima = [0.0f32; LOSS_GROUP];
    let mut sums = [0.0f32; LOSS_GROUP];
    let (maxima, sums) = (&mut maxima[..count], &mut sums[..count]);
    let floor = NEGLIGIBLE_EXPONENT;
    softmax_rows(z, classes, maxima, sums, floor, delta);
    let mut total = 0.0f64;
    for (s, row) in z.chunks_exact_mut(classes).enumerate() {
        let m = maxima[s];
        let loss = (m + libm::logf(sums[s])) - z_labels[s];
        if delta {
            row[labels[s]] -= 1.0;
        }
        total += f64::from(if m.is_finite() { loss } else { f32::NAN });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use crate::data::SliceDataset;
    use std::vec;
    use std::vec::Vec;

    /// [`cross_entropy`] of one sample (the loss as computed, in `f32`).
    fn ce1(z: &mut [f32], label: usize, delta: bool) -> f32 {
        cross_entropy(z, z.len(), &[label], delta) as f32
    }

    /// The loss and gradient contract, written out one sample at a time:
    /// every pre-activation is `dot(W_o, a) + b_o` ([`dot`]'s own order is
    /// tested in `kernels`), every gradient element adds its per-sample terms
    /// in batch order, skipping zero deltas, and every hidden delta adds the
    /// rows of `W` in row order from `+0`, skipping zero deltas. Returns the
    /// mean cross-entropy (without the L2 term, which `grad` includes).
    fn reference_loss_grad(
        mlp: &Mlp,
        params: &[f32],
        x: &[f32],
        y: &[u16],
        batch: &[u32],
        grad: &mut [f32],
    ) -> f64 {
        let shape = mlp.shape();
        let widths = shape.widths();
        let layers = shape.layers();
        grad.fill(0.0);
        let mut total = 0.0f64;
        for &index in batch {
            let index = index as usize;
            let mut acts: Vec<Vec<f32>> = vec![x[index * widths[0]..][..widths[0]].to_vec()];
            for l in 0..layers {
                let layer = shape.layer(l);
                let a = &acts[l];
                let mut z: Vec<f32> = (0..layer.rows)
                    .map(|o| {
                        let w = &params[layer.weights + o * layer.cols..][..layer.cols];
                        dot(w, a) + params[layer.biases + o]
                    })
                    .collect();
                if l + 1 < layers {
                    for v in &mut z {
                        *v = match mlp.activation() {
                            Activation::Relu => {
                                if *v < 0.0 {
                                    0.0
                                } else {
                                    *v
                                }
                            }
                            Activation::Tanh => libm::tanhf(*v),
                        };
                    }
                }
                acts.push(z);
            }
            let mut delta = acts[layers].clone();
            total += f64::from(ce1(&mut delta, usize::from(y[index]), true));
            for l in (0..layers).rev() {
                let layer = shape.layer(l);
                for o in 0..layer.rows {
                    grad[layer.biases + o] += delta[o];
                    if delta[o] != 0.0 {
                        let g = &mut grad[layer.weights + o * layer.cols..][..layer.cols];
                        axpy(g, delta[o], &acts[l]);
                    }
                }
                if l == 0 {
                    break;
                }
                let mut below = vec![0.0f32; layer.cols];
                for o in 0..layer.rows {
                    if delta[o] != 0.0 {
                        let w = &params[layer.weights + o * layer.cols..][..layer.cols];
                        axpy(&mut below, delta[o], w);
                    }
                }
                for (d, &a) in below.iter_mut().zip(&acts[l]) {
                    *d = match mlp.activation() {
                        Activation::Relu => {
                            if a > 0.0 {
                                *d
                            } else {
                                0.0
                            }
                        }
                        Activation::Tanh => *d * (1.0 - a * a),
                    };
                }
                delta = below;
            }
        }
        crate::kernels::scale(grad, 1.0 / batch.len() as f32);
        mlp.decay(params, Some(grad));
        total / batch.len() as f64
    }

    /// Same bits, or both NaN: Rust leaves the sign and payload of a NaN
    /// result unspecified (LLVM may swap the operands of `+`, and x86 returns
    /// the first NaN operand), so only NaN-ness is part of the contract.
    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn xorshift(state: &mut u32) -> f32 {
        *state ^= *state << 13;
        *state ^= *state >> 17;
        *state ^= *state << 5;
        (*state >> 8) as f32 / 16_777_216.0
    }

    /// `loss_grad`, `loss` and `evaluate` against [`reference_loss_grad`],
    /// bit for bit, over shapes whose widths hit every kernel path (row
    /// groups of 4, 2, 1; chunks and tails of 8 and 16), both activations,
    /// with and without L2, batch sizes around the block size, and
    /// parameters that make some activations infinite or NaN (where zero
    /// terms must be skipped).
    #[test]
    fn passes_match_the_reference_bit_for_bit() {
        // [70, 66, 5] has rows wider than DENSE_MAX_WIDTH: gathered terms
        // with finite values.
        let shapes: [&[usize]; 7] = [
            &[64, 32, 10],
            &[70, 66, 5],
            &[13, 7, 3],
            &[5, 9, 11, 17, 2],
            &[33, 2],
            &[20, 37, 23, 6],
            &[1, 1, 2],
        ];
        let mut checked = 0;
        for (n, widths) in shapes.iter().enumerate() {
            let shape = Shape::new(widths).unwrap();
            let (inputs, classes) = (shape.inputs(), shape.outputs());
            let samples = 41;
            let mut state = 0x9e37_79b9 ^ n as u32;
            // Many exact zeros, as in pixel data.
            let x: Vec<f32> = (0..samples * inputs)
                .map(|_| {
                    let u = xorshift(&mut state);
                    if u < 0.3 { 0.0 } else { u - 0.4 }
                })
                .collect();
            let y: Vec<u16> = (0..samples)
                .map(|_| (xorshift(&mut state) * classes as f32) as u16 % classes as u16)
                .collect();
            let data = SliceDataset::new(&x, &y, inputs, classes).unwrap();
            for activation in [Activation::Relu, Activation::Tanh] {
                for l2 in [0.0f32, 1e-3] {
                    for extreme in [None, Some(1e30f32), Some(f32::NAN)] {
                        let mlp = Mlp::new(shape, activation).with_l2(l2).unwrap();
                        let mut params = vec![0.0f32; shape.param_count()];
                        let (mut rng, _) = crate::train::seed_streams(n as u64);
                        mlp.init(&mut params, activation.default_init(), &mut rng)
                            .unwrap();
                        for (i, p) in params.iter_mut().enumerate() {
                            if i % 5 == 0 {
                                *p += 0.05 * (i % 7) as f32 - 0.1;
                            }
                        }
                        if let Some(v) = extreme {
                            // One large weight into the first layer's output 0
                            // and one into the last layer.
                            params[0] = v;
                            let last = shape.layer(shape.layers() - 1);
                            params[last.weights] = -v;
                        }
                        let mut work = vec![0.0f32; shape.workspace_len()];
                        let mut grad = vec![0.0f32; shape.param_count()];
                        let mut expected = vec![0.0f32; shape.param_count()];
                        for len in [1usize, 3, 7, 8, 9, 16, 17, 41] {
                            let batch: Vec<u32> = (0..len as u32)
                                .map(|i| (i * 7 + 3) % samples as u32)
                                .collect();
                            let loss = mlp
                                .loss_grad(&params, &data, &batch, &mut grad, &mut work)
                                .unwrap();
                            let want =
                                reference_loss_grad(&mlp, &params, &x, &y, &batch, &mut expected)
                                    + mlp.decay(&params, None);
                            let context = std::format!(
                                "{widths:?} {activation:?} l2 {l2} {extreme:?} batch {len}"
                            );
                            assert!(same(loss, want), "loss {loss} != {want}, {context}");
                            for (i, (&g, &e)) in grad.iter().zip(&expected).enumerate() {
                                let (g, e) = (f64::from(g), f64::from(e));
                                assert!(same(g, e), "grad[{i}] {g} != {e}, {context}");
                            }
                            let loss_only = mlp.loss(&params, &data, &batch, &mut work).unwrap();
                            assert!(
                                same(loss_only, want),
                                "loss() {loss_only} != {want}, {context}"
                            );
                            checked += 1;
                        }
                        let all: Vec<u32> = (0..samples as u32).collect();
                        let eval = mlp.evaluate(&params, &data, &mut work).unwrap();
                        let want = reference_loss_grad(&mlp, &params, &x, &y, &all, &mut expected);
                        assert!(same(eval.loss, want), "evaluate {widths:?}");
                    }
                }
            }
        }
        assert_eq!(checked, 7 * 2 * 2 * 3 * 8);
    }

    #[test]
    fn shapes_are_validated() {
        assert_eq!(Shape::new(&[3]), Err(Error::InvalidShape));
        assert_eq!(Shape::new(&[3, 0, 2]), Err(Error::InvalidShape));
        assert_eq!(Shape::new(&[3, 1]), Err(Error::InvalidShape));
        assert_eq!(Shape::new(&[1; 9]), Err(Error::InvalidShape));
        // Sizes that would overflow are refused, not wrapped.
        assert_eq!(Shape::new(&[usize::MAX, 2]), Err(Error::InvalidShape));
        assert_eq!(Shape::new(&[1 << 40, 1 << 40, 2]), Err(Error::InvalidShape));
        assert_eq!(Shape::new(&[4, usize::MAX / 8]), Err(Error::InvalidShape));
        let s = Shape::new(&[784, 128, 64, 10]).unwrap();
        assert_eq!(
            s.param_count(),
            784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
        );
        assert_eq!(
            s.layer(1),
            LayerLayout {
                rows: 64,
                cols: 128,
                weights: 784 * 128 + 128,
                biases: 784 * 128 + 128 + 128 * 64
            }
        );
        assert_eq!(s.workspace_len(), BLOCK * (784 + 2 * 128 + 2 * 64 + 10));
    }

    /// A block whose logits do not fit the exponentials' buffer (rows taken
    /// one at a time, in pieces) gives each sample's loss and deltas as
    /// computed alone; negligible, tied and huge logits included.
    #[test]
    fn cross_entropy_of_a_large_block_equals_one_sample_at_a_time() {
        for classes in [3usize, 10, 33, 300] {
            let count = LOSS_GROUP;
            let mut z: Vec<f32> = (0..count * classes)
                .map(|i| match i % 13 {
                    0 => -60.0,
                    1 => 7.5,
                    _ => ((i * 37) % 101) as f32 * 0.37 - 20.0,
                })
                .collect();
            let labels: Vec<usize> = (0..count).map(|s| (s * 7) % classes).collect();
            let mut alone = z.clone();
            let expected: f64 = alone
                .chunks_exact_mut(classes)
                .zip(&labels)
                .map(|(row, &label)| f64::from(ce1(row, label, true)))
                .sum();
            let total = cross_entropy(&mut z, classes, &labels, true);
            assert_eq!(total.to_bits(), expected.to_bits(), "{classes} classes");
            for (i, (a, b)) in z.iter().zip(&alone).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{classes} classes, value {i}");
            }
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_large_logits() {
        let mut z = [1000.0f32, 0.0, -1000.0];
        assert_eq!(ce1(&mut z, 0, false), 0.0);
        let mut z = [1000.0f32, 0.0, -1000.0];
        assert_eq!(ce1(&mut z, 1, true), 1000.0);
        assert_eq!(z, [1.0, -1.0, 0.0]);
        let mut z = [f32::INFINITY, 0.0];
        assert!(ce1(&mut z, 1, false).is_nan());
        let mut z = [0.0, f32::NAN];
        assert!(ce1(&mut z, 0, false).is_nan());
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_ln_classes() {
        let mut z = [0.5f32; 10];
        let l = ce1(&mut z, 3, false);
        assert!((l - libm::logf(10.0)).abs() < 1e-6);
    }

    #[test]
    fn argmax_prefers_first_and_ignores_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[1.0, f32::NAN, 0.5]), 0);
    }
}
