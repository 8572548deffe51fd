//! The hidden layers' [`Activation`] and the weights' [`Init`].

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
    pub(super) fn apply(self, z: &mut [f32]) {
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
    pub(super) fn backprop(self, delta: &mut [f32], a: &[f32]) {
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
