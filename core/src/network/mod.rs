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
//!
//! # Layout of this module
//! * `shape`: [`Shape`] (the widths) and [`LayerLayout`] (where a layer
//!   sits in the parameter vector), and the workspace's layout;
//! * `activation`: [`Activation`] and [`Init`];
//! * `forward`: the forward pass of a block of samples and its output head;
//! * `backward`: the backward pass (weight gradients, hidden deltas);
//! * `loss`: [`Mlp::loss_grad`], [`Mlp::loss`], the softmax cross-entropy
//!   and the L2 term;
//! * `evaluate`: [`Evaluation`], [`Mlp::evaluate`], [`Mlp::predict`];
//! * this module: [`Mlp`] itself (construction and initialization).

mod activation;
mod backward;
mod evaluate;
mod forward;
mod loss;
mod shape;
#[cfg(test)]
mod tests;

pub use activation::{Activation, Init};
pub use evaluate::Evaluation;
pub use shape::{LayerLayout, Shape};

#[cfg(doc)]
use crate::data::Dataset;
use crate::error::{Buffer, Error, check_len, check_min_len};
use crate::kernels::SIMD;
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

/// Samples whose losses the softmax cross-entropy sums (in `f64`, in order) before
/// the sum is added to the batch's total: fixed, unlike [`BLOCK`], as the
/// grouping of the `f64` sums shows in the bits of the loss.
pub const LOSS_GROUP: usize = 8;

/// A multilayer perceptron: shape, hidden activation and L2 weight decay.
/// It holds no parameters or buffers: every pass borrows them from the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mlp {
    shape: Shape,
    activation: Activation,
    l2: f32,
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
}
