//! Nonlinear conjugate gradient: Fletcher-Reeves and Polak-Ribiere+.

use super::linesearch::{Armijo, Line, LineSearch};
use super::{
    NonFinite, Objective, Optimizer, Status, StepReport, check_param, checked_loss_grad, recover,
    split_vectors,
};
use crate::error::{Buffer, Error, check_len};
use crate::kernels::{all_finite, dot, flush_negligible};

/// The formula for the conjugacy coefficient `beta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CgFormula {
    /// `beta = g.g / g_prev.g_prev`.
    FletcherReeves,
    /// `beta = max(0, g.(g - g_prev) / g_prev.g_prev)`.
    PolakRibierePlus,
}

/// Hyperparameters of [`Cg`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CgConfig {
    /// The `beta` formula.
    pub formula: CgFormula,
    /// How a step length is chosen (Armijo backtracking by default).
    pub line_search: LineSearch,
    /// Step tried first along each direction (`> 0`).
    pub initial_step: f32,
}

impl CgConfig {
    /// The host's defaults: Fletcher-Reeves, Armijo backtracking
    /// ([`Armijo::DEFAULT`]), initial step 1.
    pub const DEFAULT: Self = CgConfig {
        formula: CgFormula::FletcherReeves,
        line_search: LineSearch::Armijo(Armijo::DEFAULT),
        initial_step: 1.0,
    };
}

impl CgConfig {
    /// The formula with Armijo backtracking from the given initial step.
    pub const fn new(formula: CgFormula, initial_step: f32) -> Self {
        CgConfig {
            formula,
            line_search: LineSearch::Armijo(Armijo::DEFAULT),
            initial_step,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Error> {
        check_param(
            self.initial_step > 0.0 && self.initial_step.is_finite(),
            "initial step",
            "a finite value > 0",
        )
    }
}

/// Nonlinear CG: `d = -g + beta d_prev`, restarted along `-g` when `d` is
/// not a descent direction, after a failed line search, and after recovery.
/// With minibatches `beta` compares gradients of consecutive batches, as in
/// the study behind sooth.
///
/// State: 4 vectors of `n` floats (gradient, previous gradient, direction,
/// last good point): `16 n` bytes.
pub struct Cg<'a> {
    config: CgConfig,
    grad: &'a mut [f32],
    prev_grad: &'a mut [f32],
    direction: &'a mut [f32],
    last_good: &'a mut [f32],
    has_direction: bool,
}

impl<'a> Cg<'a> {
    /// Floats of state storage for `n` parameters.
    pub const fn storage_len(n: usize) -> usize {
        4 * n
    }

    /// An optimizer for `n` parameters over `storage`.
    pub fn new(config: CgConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let [grad, prev_grad, direction, last_good] = split_vectors::<4>(storage, n)?;
        Ok(Cg {
            config,
            grad,
            prev_grad,
            direction,
            last_good,
            has_direction: false,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &CgConfig {
        &self.config
    }
}

impl Optimizer for Cg<'_> {
    fn dim(&self) -> usize {
        self.grad.len()
    }

    fn step<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        check_len(Buffer::Params, self.dim(), x.len())?;
        let mut report = StepReport::new(f64::NAN, f32::NAN);
        core::mem::swap(&mut self.grad, &mut self.prev_grad);
        let (f, grad_norm_inf) = match checked_loss_grad(objective, x, self.grad, &mut report)? {
            Ok(checked) => checked,
            Err(what) => {
                if self.has_direction {
                    recover(x, self.last_good, what, &mut report);
                } else {
                    report.status = Status::RecoveredNonFinite(what);
                }
                self.reset();
                return Ok(report);
            }
        };
        report.loss = f;
        report.grad_norm_inf = grad_norm_inf;
        self.last_good.copy_from_slice(x);
        let g = &*self.grad;
        let d = &mut *self.direction;
        let mut restart = !self.has_direction;
        if !restart {
            let gg = dot(g, g);
            let pp = dot(self.prev_grad, self.prev_grad);
            let beta = match self.config.formula {
                CgFormula::FletcherReeves => gg / pp,
                CgFormula::PolakRibierePlus => ((gg - dot(g, self.prev_grad)) / pp).max(0.0),
            };
            if beta.is_finite() {
                for (di, &gi) in d.iter_mut().zip(g) {
                    *di = flush_negligible(beta * *di - gi);
                }
                restart = !(dot(g, d) < 0.0);
            } else {
                restart = true;
            }
        }
        if restart {
            for (di, &gi) in d.iter_mut().zip(g) {
                *di = -gi;
            }
        }
        report.slope = f64::from(dot(self.grad, self.direction));
        let line = Line {
            x0: self.last_good,
            d: self.direction,
            f0: f,
            slope: report.slope,
            max_step: f64::INFINITY,
        };
        let a0 = f64::from(self.config.initial_step);
        match self.config.line_search.search(
            objective,
            &line,
            a0,
            x,
            self.prev_grad,
            &mut report,
        )? {
            Ok(accepted) => {
                report.step_length = accepted.step;
                self.has_direction = true;
            }
            Err(failure) => {
                x.copy_from_slice(self.last_good);
                self.has_direction = false;
                report.status = Status::LineSearchFailed(failure);
                return Ok(report);
            }
        }
        if !all_finite(x) {
            recover(x, self.last_good, NonFinite::Update, &mut report);
            self.reset();
        }
        Ok(report)
    }

    fn reset(&mut self) {
        self.has_direction = false;
    }
}
