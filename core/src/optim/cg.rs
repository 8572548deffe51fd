//! Nonlinear conjugate gradient: Fletcher-Reeves and Polak-Ribiere+.

use super::linesearch::{Armijo, Line, LineSearch};
use super::{
    HEADER_PREFIX, NonFinite, Objective, Optimizer, Status, StepReport, bad_state, check_param,
    check_prefix, checked_loss_grad, get_flag, put_flag, put_prefix, recover, split_state,
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
/// last good point), then a header of 7 floats (tag, `n`, whether there is a
/// direction, which of the two gradient vectors is the current one):
/// `4 n + 7` floats, `16 n + 28` bytes. All of it in the caller's storage
/// ([`resume`](Self::resume) continues from it).
pub struct Cg<'a> {
    config: CgConfig,
    grad: &'a mut [f32],
    prev_grad: &'a mut [f32],
    direction: &'a mut [f32],
    last_good: &'a mut [f32],
    /// The header (written back after every step).
    header: &'a mut [f32],
    has_direction: bool,
    /// `grad` is the storage's second vector (they swap every step).
    swapped: bool,
}

/// The tag of CG's state header.
const TAG: u16 = 0x4347;
/// Floats of CG's state header: the prefix, `has_direction`, `swapped`.
const HEADER: usize = HEADER_PREFIX + 2;

impl<'a> Cg<'a> {
    /// Floats of state storage for `n` parameters: `4 n + 7`.
    pub const fn storage_len(n: usize) -> usize {
        4 * n + HEADER
    }

    /// An optimizer for `n` parameters over `storage` (at least
    /// [`storage_len`](Self::storage_len) floats), starting afresh.
    pub fn new(config: CgConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        Self::over(config, n, storage, None)
    }

    /// An optimizer for `n` parameters that continues from the state a
    /// [`Cg`] for `n` parameters left in `storage` (gradients, direction,
    /// last good point), bit for bit; `config` may differ from the earlier
    /// one. Errors with [`Error::Format`] if `storage` holds no such state.
    pub fn resume(config: CgConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        let body_len = 4 * n;
        let (_, header) = split_state(storage, body_len, HEADER)?;
        check_prefix(header, body_len, TAG, n, "a CG state header")?;
        let flag = |i: usize| {
            get_flag(header[i]).ok_or(bad_state(body_len, i, "a CG state flag (0 or 1)"))
        };
        let flags = (flag(HEADER_PREFIX)?, flag(HEADER_PREFIX + 1)?);
        Self::over(config, n, storage, Some(flags))
    }

    /// [`new`](Self::new) (`flags` `None`) or [`resume`](Self::resume) with
    /// `has_direction` and `swapped` read from the header.
    fn over(
        config: CgConfig,
        n: usize,
        storage: &'a mut [f32],
        flags: Option<(bool, bool)>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let (body, header) = split_state(storage, 4 * n, HEADER)?;
        let [first, second, direction, last_good] = split_vectors::<4>(body, n)?;
        let (has_direction, swapped) = flags.unwrap_or((false, false));
        let (grad, prev_grad) = if swapped {
            (second, first)
        } else {
            (first, second)
        };
        let mut cg = Cg {
            config,
            grad,
            prev_grad,
            direction,
            last_good,
            header,
            has_direction,
            swapped,
        };
        put_prefix(cg.header, TAG, n);
        cg.save();
        Ok(cg)
    }

    /// Writes the scalars to the header.
    fn save(&mut self) {
        put_flag(&mut self.header[HEADER_PREFIX], self.has_direction);
        put_flag(&mut self.header[HEADER_PREFIX + 1], self.swapped);
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
        let report = self.step_in_place(x, objective);
        self.save();
        report
    }

    fn reset(&mut self) {
        self.has_direction = false;
        self.save();
    }
}

impl Cg<'_> {
    /// The step, with the scalars in the struct ([`Optimizer::step`] then
    /// writes them to the header).
    fn step_in_place<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        check_len(Buffer::Params, self.dim(), x.len())?;
        let mut report = StepReport::new(f64::NAN, f32::NAN);
        core::mem::swap(&mut self.grad, &mut self.prev_grad);
        self.swapped = !self.swapped;
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
}
