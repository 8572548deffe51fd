//! The forward pass: a block of samples fetched into the workspace, the
//! affine maps and activations layer by layer, and the output head (loss,
//! deltas or correct predictions).

use super::evaluate::argmax;
use super::loss::cross_entropy;
use super::{BLOCK, LOSS_GROUP, Mlp};
use crate::data::TryDataset;
use crate::error::Error;
use crate::kernels::affine_many;

/// What a block pass computes at the output.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Head {
    /// Loss only.
    Loss,
    /// Loss and output deltas (softmax - one-hot), for a backward pass.
    LossDelta,
    /// Loss and count of correct predictions.
    LossCorrect,
}

impl Mlp {
    /// Fetches `block` into the workspace, runs the forward pass and the
    /// output head. Adds the losses to `total` ([`LOSS_GROUP`] samples' sum
    /// at a time, in order) and returns the number of correct predictions;
    /// a failed read is the data set's error.
    pub(super) fn block_forward<D: TryDataset + ?Sized>(
        &self,
        params: &[f32],
        data: &D,
        block: &[u32],
        work: &mut [f32],
        head: Head,
        total: &mut f64,
    ) -> Result<u32, D::Error> {
        let inputs = self.shape.inputs();
        let classes = self.shape.outputs();
        let mut labels = [0usize; BLOCK];
        for (s, &index) in block.iter().enumerate() {
            let index = index as usize;
            if index >= data.sample_count() {
                return Err(Error::IndexOutOfRange {
                    index,
                    len: data.sample_count(),
                }
                .into());
            }
            let label = data.try_fetch(index, &mut work[s * inputs..(s + 1) * inputs])?;
            if label >= classes {
                return Err(Error::LabelOutOfRange {
                    index,
                    label,
                    classes,
                }
                .into());
            }
            labels[s] = label;
        }
        self.forward(params, block.len(), work);
        let out = self.shape.work_offset_activation(self.shape.layers());
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
    pub(super) fn forward(&self, params: &[f32], count: usize, work: &mut [f32]) {
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
}
