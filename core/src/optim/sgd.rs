//! Stochastic gradient descent with heavy-ball or Nesterov momentum.

use super::{
    HEADER_PREFIX, Objective, Optimizer, StepReport, check_param, check_prefix, checked_loss_grad,
    put_prefix, recover, split_state, split_vectors,
};
use crate::error::{Error, check_len};
use crate::kernels::{ElementWise, axpy, flush_negligible, non_finite, vectorized};

/// Hyperparameters of [`Sgd`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SgdConfig {
    /// Step size (`> 0`).
    pub learning_rate: f32,
    /// Momentum coefficient (`0 <= mu < 1`); 0 is plain SGD.
    pub momentum: f32,
    /// Nesterov momentum instead of heavy ball.
    pub nesterov: bool,
    /// L2 coefficient added to the gradient as `weight_decay * x` (`>= 0`).
    pub weight_decay: f32,
}

impl SgdConfig {
    /// The host's defaults: learning rate 0.1, heavy-ball momentum 0.9, no
    /// weight decay.
    pub const DEFAULT: Self = SgdConfig {
        learning_rate: 0.1,
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
}

impl SgdConfig {
    /// Plain SGD with the given learning rate.
    pub const fn new(learning_rate: f32) -> Self {
        SgdConfig {
            learning_rate,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Error> {
        check_param(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "learning rate",
            "a finite value > 0",
        )?;
        check_param(
            (0.0..1.0).contains(&self.momentum),
            "momentum",
            "a value in [0, 1)",
        )?;
        check_param(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "weight decay",
            "a finite value >= 0",
        )
    }
}

/// SGD: `v = mu v + g; x -= lr v` (heavy ball) or `x -= lr (g + mu v)`
/// (Nesterov, in the form PyTorch uses), with `g` including `weight_decay * x`.
///
/// State: 3 vectors of `n` floats (gradient, velocity, last good point),
/// then a header of 5 floats (tag and `n`): `3 n + 5` floats,
/// `12 n + 20` bytes. All of it in the caller's storage
/// ([`resume`](Self::resume) continues from it).
pub struct Sgd<'a> {
    config: SgdConfig,
    grad: &'a mut [f32],
    velocity: &'a mut [f32],
    last_good: &'a mut [f32],
}

/// The tag of SGD's state header.
const TAG: u16 = 0x5347;
/// Floats of SGD's state header (tag and `n` only: SGD keeps no scalars).
const HEADER: usize = HEADER_PREFIX;

impl<'a> Sgd<'a> {
    /// Floats of state storage for `n` parameters: `3 n + 5`.
    pub const fn storage_len(n: usize) -> usize {
        3 * n + HEADER
    }

    /// An optimizer for `n` parameters over `storage`
    /// (at least [`storage_len`](Self::storage_len) floats), starting afresh
    /// (zero velocity).
    pub fn new(config: SgdConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let (body, header) = split_state(storage, 3 * n, HEADER)?;
        put_prefix(header, TAG, n);
        let [grad, velocity, last_good] = split_vectors::<3>(body, n)?;
        velocity.fill(0.0);
        Ok(Sgd {
            config,
            grad,
            velocity,
            last_good,
        })
    }

    /// An optimizer for `n` parameters that continues from the state an
    /// [`Sgd`] for `n` parameters left in `storage` (the velocity and the
    /// last good point), bit for bit; `config` may differ from the earlier
    /// one. Errors with [`Error::Format`] if `storage` holds no such state.
    pub fn resume(config: SgdConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let (body, header) = split_state(storage, 3 * n, HEADER)?;
        check_prefix(header, 3 * n, TAG, n, "an SGD state header")?;
        let [grad, velocity, last_good] = split_vectors::<3>(body, n)?;
        Ok(Sgd {
            config,
            grad,
            velocity,
            last_good,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

/// The step as one pass over the parameters: `v = mu v + g` (flushed,
/// [`flush_negligible`]), `x -= lr d` with `d = g + mu v` (Nesterov) or `v`
/// (`g` itself when `mu == 0`), the old `x` kept in `last_good`; returns
/// non-zero if some new `x` is not finite. The same values as a copy, the
/// step and a check in turn.
struct Update<'a> {
    x: &'a mut [f32],
    last_good: &'a mut [f32],
    velocity: &'a mut [f32],
    grad: &'a [f32],
    lr: f32,
    mu: f32,
    nesterov: bool,
}

impl ElementWise for Update<'_> {
    type Output = u32;
    #[inline(always)]
    fn run(self) -> u32 {
        let Update {
            x,
            last_good,
            velocity,
            grad,
            lr,
            mu,
            nesterov,
        } = self;
        let mut bad = 0u32;
        if mu == 0.0 {
            for ((xi, li), &gi) in x.iter_mut().zip(last_good).zip(grad) {
                *li = *xi;
                *xi += -lr * gi;
                bad |= non_finite(*xi);
            }
        } else {
            for (((xi, li), vi), &gi) in x.iter_mut().zip(last_good).zip(velocity).zip(grad) {
                *li = *xi;
                *vi = flush_negligible(mu * *vi + gi);
                let d = if nesterov { gi + mu * *vi } else { *vi };
                *xi -= lr * d;
                bad |= non_finite(*xi);
            }
        }
        bad
    }
}

impl Optimizer for Sgd<'_> {
    fn dim(&self) -> usize {
        self.grad.len()
    }

    fn step<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        check_len(crate::Buffer::Params, self.dim(), x.len())?;
        let mut report = StepReport::new(f64::NAN, f32::NAN);
        let (f, grad_norm_inf) = match checked_loss_grad(objective, x, self.grad, &mut report)? {
            Ok(checked) => checked,
            Err(what) => {
                recover(x, self.last_good, what, &mut report);
                self.reset();
                return Ok(report);
            }
        };
        report.loss = f;
        report.grad_norm_inf = grad_norm_inf;
        let SgdConfig {
            learning_rate: lr,
            momentum: mu,
            nesterov,
            weight_decay,
        } = self.config;
        if weight_decay != 0.0 {
            axpy(self.grad, weight_decay, x);
        }
        let bad = vectorized(Update {
            x,
            last_good: self.last_good,
            velocity: self.velocity,
            grad: self.grad,
            lr,
            mu,
            nesterov,
        });
        report.step_length = f64::from(lr);
        if bad != 0 {
            recover(x, self.last_good, super::NonFinite::Update, &mut report);
            self.reset();
        }
        Ok(report)
    }

    fn reset(&mut self) {
        self.velocity.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gradient 1 on coordinate 1 at the first call only, then 0 (a unit
    /// that dies); coordinate 0 is a plain quadratic.
    struct DyingUnit(u32);

    impl Objective for DyingUnit {
        fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error> {
            self.0 += 1;
            grad[0] = x[0];
            grad[1] = if self.0 == 1 { 1.0 } else { 0.0 };
            Ok(0.5 * f64::from(x[0] * x[0]))
        }
        fn loss(&mut self, x: &[f32]) -> Result<f64, Error> {
            Ok(0.5 * f64::from(x[0] * x[0]))
        }
    }

    #[test]
    fn momentum_of_a_dead_unit_decays_to_zero_not_into_subnormals() {
        let mut storage = [0.0f32; Sgd::storage_len(2)];
        let config = SgdConfig {
            momentum: 0.9,
            ..SgdConfig::new(0.1)
        };
        let mut sgd = Sgd::new(config, 2, &mut storage).unwrap();
        let mut x = [1.0f32, 0.0];
        let mut objective = DyingUnit(0);
        for step in 0..2000 {
            sgd.step(&mut x, &mut objective).unwrap();
            for &v in sgd.velocity.iter() {
                assert!(v == 0.0 || v.is_normal(), "step {step}: velocity {v:e}");
            }
        }
        // 0.9^k passes 2^-100 after ~650 steps: by now it is exactly 0.
        assert_eq!(sgd.velocity[1], 0.0);
    }
}
