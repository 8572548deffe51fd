//! [`Shape`]: a network's widths as a value, the sizes derived from them
//! (`const fn`s, for static storage), and where each layer's parameters
//! ([`LayerLayout`]) and each block's activations sit.

#[cfg(doc)]
use super::Mlp;
use super::{BLOCK, MAX_WIDTHS};
use crate::error::Error;

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
    pub(super) const fn work_offset_activation(&self, width_index: usize) -> usize {
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
