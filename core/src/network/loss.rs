//! The loss: [`Mlp::loss_grad`] and [`Mlp::loss`] over a batch, the
//! softmax cross-entropy of a group of samples, and the L2 term.

#[cfg(doc)]
use super::Shape;
use super::backward::dense_terms;
use super::forward::Head;
use super::{BLOCK, LOSS_GROUP, MAX_WIDTHS, Mlp};
use crate::data::{Dataset, check_compatible};
use crate::error::{Buffer, Error, check_len};
use crate::kernels::{axpy, dot, scale, softmax_rows};

impl Mlp {
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
        scale(grad, inv);
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

    /// L2 term of the loss; adds its gradient `l2 * W` to `grad` if given.
    pub(super) fn decay(&self, params: &[f32], grad: Option<&mut [f32]>) -> f64 {
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
}

/// Below this, `exp(z - max)` is taken as 0: a probability under 2^-63
/// (e^-44 = 7.8e-20) is far below the sum's resolution (the sum holds
/// e^0 = 1), and as a delta it would only breed subnormal numbers in the
/// backward pass, which x86 computes ~100x slower (SGD at batch 8 ran 2-4x
/// slower once the network grew confident).
pub(super) const NEGLIGIBLE_EXPONENT: f32 = -44.0;

/// Summed softmax cross-entropy of the logits `z` (one row of `classes` per
/// label) for the classes `labels`, by log-sum-exp; each sample's loss is
/// added in order, as an `f64`. With `delta`, overwrites each row with
/// `softmax(z) - onehot(label)`; probabilities below e^-44 count as 0
/// ([`NEGLIGIBLE_EXPONENT`]). Any NaN or infinity in a row gives that
/// sample a NaN loss. At most [`LOSS_GROUP`] samples; `z` is clobbered either way.
pub(super) fn cross_entropy(z: &mut [f32], classes: usize, labels: &[usize], delta: bool) -> f64 {
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
