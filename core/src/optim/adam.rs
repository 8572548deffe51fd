//! Adam (Kingma & Ba, 2015) with bias correction.

use super::{
    HEADER_PREFIX, NonFinite, Objective, Optimizer, StepReport, bad_state, check_param,
    check_prefix, checked_loss_grad, put_prefix, recover, split_state, split_vectors,
};
use crate::error::{Buffer, Error, check_len};
use crate::kernels::{AdamUpdate, adam_update, axpy};

/// Hyperparameters of [`Adam`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdamConfig {
    /// Step size (`> 0`).
    pub learning_rate: f32,
    /// Decay of the first moment (`0 <= beta1 < 1`).
    pub beta1: f32,
    /// Decay of the second moment (`0 <= beta2 < 1`).
    pub beta2: f32,
    /// Added to the root of the second moment (`> 0`).
    pub epsilon: f32,
    /// L2 coefficient added to the gradient as `weight_decay * x` (`>= 0`).
    pub weight_decay: f32,
}

impl AdamConfig {
    /// The host's defaults: learning rate 1e-3, betas 0.9 and 0.999,
    /// epsilon 1e-8, no weight decay.
    pub const DEFAULT: Self = AdamConfig {
        learning_rate: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.0,
    };
}

impl AdamConfig {
    /// The usual constants (0.9, 0.999, 1e-8) with the given learning rate.
    pub const fn new(learning_rate: f32) -> Self {
        AdamConfig {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
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
            (0.0..1.0).contains(&self.beta1),
            "beta1",
            "a value in [0, 1)",
        )?;
        check_param(
            (0.0..1.0).contains(&self.beta2),
            "beta2",
            "a value in [0, 1)",
        )?;
        check_param(
            self.epsilon > 0.0 && self.epsilon.is_finite(),
            "epsilon",
            "a finite value > 0",
        )?;
        check_param(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "weight decay",
            "a finite value >= 0",
        )
    }
}

/// Adam: `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
/// `x -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`, computed as
/// `x -= a_t m / (sqrt(v) + eps sqrt(1 - b2^t))` with
/// `a_t = lr sqrt(1 - b2^t) / (1 - b1^t)` (the same update, fewer divisions).
///
/// State: 4 vectors of `n` floats (gradient, first and second moments, last
/// good point), then a header of 7 floats (tag, `n`, `beta1^t`, `beta2^t`):
/// `4 n + 7` floats, `16 n + 28` bytes. All of it in the caller's storage
/// ([`resume`](Self::resume) continues from it).
pub struct Adam<'a> {
    config: AdamConfig,
    grad: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    last_good: &'a mut [f32],
    /// The header (written back after every step).
    header: &'a mut [f32],
    /// `beta1^t` and `beta2^t`, kept as running products.
    beta1_t: f32,
    beta2_t: f32,
}

/// The tag of Adam's state header.
const TAG: u16 = 0x4144;
/// Floats of Adam's state header: the prefix, `beta1^t`, `beta2^t`.
const HEADER: usize = HEADER_PREFIX + 2;

impl<'a> Adam<'a> {
    /// Floats of state storage for `n` parameters: `4 n + 7`.
    pub const fn storage_len(n: usize) -> usize {
        4 * n + HEADER
    }

    /// An optimizer for `n` parameters over `storage` (at least
    /// [`storage_len`](Self::storage_len) floats), starting afresh (zero
    /// moments, step count 0).
    pub fn new(config: AdamConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let (body, header) = split_state(storage, 4 * n, HEADER)?;
        put_prefix(header, TAG, n);
        let [grad, m, v, last_good] = split_vectors::<4>(body, n)?;
        let mut adam = Adam {
            config,
            grad,
            m,
            v,
            last_good,
            header,
            beta1_t: 1.0,
            beta2_t: 1.0,
        };
        adam.reset();
        Ok(adam)
    }

    /// An optimizer for `n` parameters that continues from the state an
    /// [`Adam`] for `n` parameters left in `storage` (moments, bias
    /// corrections, last good point), bit for bit; `config` may differ from
    /// the earlier one. Errors with [`Error::Format`] if `storage` holds no
    /// such state.
    pub fn resume(config: AdamConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let body_len = 4 * n;
        let (body, header) = split_state(storage, body_len, HEADER)?;
        check_prefix(header, body_len, TAG, n, "an Adam state header")?;
        let power = |i: usize| {
            let value = header[i];
            if (0.0..=1.0).contains(&value) {
                Ok(value)
            } else {
                Err(bad_state(body_len, i, "a decay power in [0, 1]"))
            }
        };
        let (beta1_t, beta2_t) = (power(HEADER_PREFIX)?, power(HEADER_PREFIX + 1)?);
        let [grad, m, v, last_good] = split_vectors::<4>(body, n)?;
        Ok(Adam {
            config,
            grad,
            m,
            v,
            last_good,
            header,
            beta1_t,
            beta2_t,
        })
    }

    /// Writes the scalars to the header.
    fn save(&mut self) {
        self.header[HEADER_PREFIX] = self.beta1_t;
        self.header[HEADER_PREFIX + 1] = self.beta2_t;
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }
}

impl Optimizer for Adam<'_> {
    fn dim(&self) -> usize {
        self.grad.len()
    }

    fn step<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        let report = self.step_in_place(x, objective);
        self.save();
        report
    }

    fn reset(&mut self) {
        self.m.fill(0.0);
        self.v.fill(0.0);
        self.beta1_t = 1.0;
        self.beta2_t = 1.0;
        self.save();
    }
}

impl Adam<'_> {
    /// The step, with the scalars in the struct ([`Optimizer::step`] then
    /// writes them to the header).
    fn step_in_place<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        check_len(Buffer::Params, self.dim(), x.len())?;
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
        let AdamConfig {
            learning_rate: lr,
            beta1: b1,
            beta2: b2,
            epsilon: eps,
            weight_decay,
        } = self.config;
        if weight_decay != 0.0 {
            axpy(self.grad, weight_decay, x);
        }
        self.beta1_t *= b1;
        self.beta2_t *= b2;
        // The bias corrections folded into the step (Kingma & Ba's
        // "efficient" form, the same update): one division and one root per
        // parameter instead of three and one.
        let root_c2 = libm::sqrtf(1.0 - self.beta2_t);
        let step = lr * root_c2 / (1.0 - self.beta1_t);
        let eps_hat = eps * root_c2;
        let bad = adam_update(AdamUpdate {
            x: &mut *x,
            last_good: &mut *self.last_good,
            m: &mut *self.m,
            v: &mut *self.v,
            grad: &mut *self.grad,
            b1,
            b2,
            eps_hat,
            step,
        });
        report.step_length = f64::from(lr);
        if bad != 0 {
            recover(x, self.last_good, NonFinite::Update, &mut report);
            self.reset();
        }
        Ok(report)
    }
}
