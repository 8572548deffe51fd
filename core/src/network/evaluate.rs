//! Accuracy: [`Evaluation`] over a data set, and one sample's prediction.

use super::forward::Head;
use super::loss::NEGLIGIBLE_EXPONENT;
use super::{BLOCK, Mlp};
use crate::data::{TryDataset, check_compatible};
use crate::error::{Buffer, Error, check_len};
use crate::kernels::softmax_rows;

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

impl Mlp {
    /// Mean loss (without the L2 term) and accuracy over the whole of `data`
    /// (any [`Dataset`](crate::Dataset), or a [`TryDataset`] whose reads may
    /// fail: its error comes back), in index order.
    pub fn evaluate<D: TryDataset + ?Sized>(
        &self,
        params: &[f32],
        data: &D,
        work: &mut [f32],
    ) -> Result<Evaluation, D::Error> {
        self.check_buffers(params, work)?;
        check_compatible(data, self.shape.inputs(), self.shape.outputs())?;
        let n = data.sample_count();
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
        let out = self.shape.work_offset_activation(self.shape.layers());
        Ok(argmax(&work[out..out + self.shape.outputs()]))
    }

    /// The class probabilities of one sample, written to `probabilities`
    /// (one per output), and its predicted class (the same as [`Mlp::predict`]).
    ///
    /// The probabilities are the softmax the loss uses: `e^(z_j - max z)`
    /// by the core's exponential (bit-identical to `libm::expf`), 0 where
    /// `z_j - max z < -44` (a probability below 8e-20), added in output
    /// order and each multiplied by the reciprocal of that sum, so they sum
    /// to 1 within rounding and are the same bits on every target. Outputs
    /// that are NaN or +infinity (only from non-finite parameters) give
    /// NaN probabilities. Errors if `probabilities` does not have one
    /// element per output, or on the buffers [`Mlp::predict`] checks.
    pub fn probabilities(
        &self,
        params: &[f32],
        features: &[f32],
        probabilities: &mut [f32],
        work: &mut [f32],
    ) -> Result<usize, Error> {
        check_len(
            Buffer::Probabilities,
            self.shape.outputs(),
            probabilities.len(),
        )?;
        let class = self.predict(params, features, work)?;
        let out = self.shape.work_offset_activation(self.shape.layers());
        probabilities.copy_from_slice(&work[out..out + self.shape.outputs()]);
        let (mut max, mut sum) = ([0.0f32], [0.0f32]);
        softmax_rows(
            probabilities,
            self.shape.outputs(),
            &mut max,
            &mut sum,
            NEGLIGIBLE_EXPONENT,
            true,
        );
        Ok(class)
    }
}

/// Index of the largest element (the first one on ties; NaN never wins).
pub(super) fn argmax(z: &[f32]) -> usize {
    let mut best = 0;
    for (j, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = j;
        }
    }
    best
}
