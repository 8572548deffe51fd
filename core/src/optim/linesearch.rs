//! Line searches along a descent direction: a fixed step, Armijo
//! backtracking, and the strong Wolfe conditions by More and Thuente's method
//! (the `dcsrch`/`dcstep` algorithm of MINPACK-2, used by L-BFGS-B).
//!
//! Each search moves `x` to `x0 + a d` for trial steps `a` and evaluates the
//! objective there; scalar arithmetic is in f64, vectors in f32.

use super::{LineSearchFailure, Objective, StepReport, check_param};
use crate::error::Error;
use crate::kernels::{all_finite, along, dot};

/// Armijo (sufficient decrease) backtracking: accept the first
/// `a = a0 * shrink^k` with `f(x0 + a d) <= f0 + c1 a g0.d`.
/// Trials evaluate the loss only.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Armijo {
    c1: f64,
    shrink: f64,
    max_trials: u32,
}

impl Armijo {
    /// The backtracking factor.
    pub const fn shrink(&self) -> f64 {
        self.shrink
    }

    /// The most trial steps.
    pub const fn max_trials(&self) -> u32 {
        self.max_trials
    }
}

impl Armijo {
    /// Validated constants: `0 < c1 < 1`, `0 < shrink < 1`, `max_trials >= 1`.
    pub fn new(c1: f64, shrink: f64, max_trials: u32) -> Result<Self, Error> {
        check_param(c1 > 0.0 && c1 < 1.0, "Armijo c1", "a value in (0, 1)")?;
        check_param(
            shrink > 0.0 && shrink < 1.0,
            "backtracking factor",
            "a value in (0, 1)",
        )?;
        check_param(max_trials >= 1, "line search trials", "at least 1")?;
        Ok(Armijo {
            c1,
            shrink,
            max_trials,
        })
    }

    /// `c1 = 1e-4`, halving, 30 trials.
    pub const DEFAULT: Armijo = Armijo {
        c1: 1e-4,
        shrink: 0.5,
        max_trials: 30,
    };

    /// The sufficient-decrease constant.
    pub fn c1(&self) -> f64 {
        self.c1
    }
}

/// The strong Wolfe conditions, `f(x0 + a d) <= f0 + c1 a g0.d` and
/// `|g(x0 + a d).d| <= c2 |g0.d|`, found by More and Thuente's safeguarded
/// cubic/quadratic interpolation. Trials evaluate loss and gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StrongWolfe {
    c1: f64,
    c2: f64,
    max_trials: u32,
}

impl StrongWolfe {
    /// The most trial steps.
    pub const fn max_trials(&self) -> u32 {
        self.max_trials
    }
}

impl StrongWolfe {
    /// Validated constants: `0 < c1 < c2 < 1`, `max_trials >= 1`.
    pub fn new(c1: f64, c2: f64, max_trials: u32) -> Result<Self, Error> {
        check_param(
            c1 > 0.0 && c1 < c2 && c2 < 1.0,
            "Wolfe constants",
            "0 < c1 < c2 < 1",
        )?;
        check_param(max_trials >= 1, "line search trials", "at least 1")?;
        Ok(StrongWolfe { c1, c2, max_trials })
    }

    /// `c1 = 1e-4`, `c2 = 0.9` (the quasi-Newton choice), 20 trials.
    pub const DEFAULT: StrongWolfe = StrongWolfe {
        c1: 1e-4,
        c2: 0.9,
        max_trials: 20,
    };

    /// The sufficient-decrease constant.
    pub fn c1(&self) -> f64 {
        self.c1
    }

    /// The curvature constant.
    pub fn c2(&self) -> f64 {
        self.c2
    }
}

/// How a step length is chosen along a search direction.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LineSearch {
    /// No search: always the initial step (no evaluation at the new point).
    Fixed,
    /// Armijo backtracking.
    Armijo(Armijo),
    /// Strong Wolfe (More-Thuente).
    StrongWolfe(StrongWolfe),
}

/// An accepted step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Accepted {
    /// The step length `a`; `x` holds `x0 + a d`.
    pub step: f64,
    /// The objective at `x`, if it was evaluated.
    pub loss: Option<f64>,
    /// True if `grad` holds the gradient at `x`.
    pub has_grad: bool,
}

/// What a line search works on.
pub(crate) struct Line<'s> {
    /// The start point.
    pub x0: &'s [f32],
    /// The search direction.
    pub d: &'s [f32],
    /// The objective at `x0`.
    pub f0: f64,
    /// `g(x0).d`, negative.
    pub slope: f64,
    /// Largest step length allowed (`f64::INFINITY` for none).
    pub max_step: f64,
}

impl LineSearch {
    /// Searches from `line.x0` along `line.d` starting with step `a0`; `x`
    /// receives the accepted point (or, on failure, is left at some trial
    /// point: the caller restores it), `grad` the gradient there when
    /// `has_grad` says so.
    pub(crate) fn search<O: Objective + ?Sized>(
        &self,
        objective: &mut O,
        line: &Line<'_>,
        a0: f64,
        x: &mut [f32],
        grad: &mut [f32],
        report: &mut StepReport,
    ) -> Result<Result<Accepted, LineSearchFailure>, Error> {
        if !(line.slope < 0.0) {
            return Ok(Err(LineSearchFailure::NotDescent));
        }
        let a0 = a0.min(line.max_step);
        match *self {
            LineSearch::Fixed => {
                along(x, line.x0, a0 as f32, line.d);
                Ok(Ok(Accepted {
                    step: a0,
                    loss: None,
                    has_grad: false,
                }))
            }
            LineSearch::Armijo(armijo) => armijo.search(objective, line, a0, x, report),
            LineSearch::StrongWolfe(wolfe) => wolfe.search(objective, line, a0, x, grad, report),
        }
    }
}

impl Armijo {
    fn search<O: Objective + ?Sized>(
        &self,
        objective: &mut O,
        line: &Line<'_>,
        a0: f64,
        x: &mut [f32],
        report: &mut StepReport,
    ) -> Result<Result<Accepted, LineSearchFailure>, Error> {
        let mut a = a0;
        for _ in 0..self.max_trials {
            along(x, line.x0, a as f32, line.d);
            let f = objective.loss(x)?;
            report.evaluations += 1;
            if f.is_finite() && f <= line.f0 + self.c1 * a * line.slope && all_finite(x) {
                return Ok(Ok(Accepted {
                    step: a,
                    loss: Some(f),
                    has_grad: false,
                }));
            }
            a *= self.shrink;
        }
        Ok(Err(LineSearchFailure::MaxTrials))
    }
}

/// More-Thuente's interval bookkeeping: the best step so far (`stx`), the
/// other end of the interval (`sty`), their values and slopes.
#[derive(Clone, Copy, Debug)]
struct Bracket {
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
    bracketed: bool,
}

/// Relative width below which the bracket is considered closed (MINPACK's `xtol`).
const XTOL: f64 = 0.1;
/// Extrapolation bounds before a minimizer is bracketed (MINPACK's `xtrapl`, `xtrapu`).
const XTRAP_LOWER: f64 = 1.1;
const XTRAP_UPPER: f64 = 4.0;
/// Largest step tried.
const STEP_MAX: f64 = 1e10;

impl StrongWolfe {
    fn search<O: Objective + ?Sized>(
        &self,
        objective: &mut O,
        line: &Line<'_>,
        a0: f64,
        x: &mut [f32],
        grad: &mut [f32],
        report: &mut StepReport,
    ) -> Result<Result<Accepted, LineSearchFailure>, Error> {
        let (finit, ginit) = (line.f0, line.slope);
        let gtest = self.c1 * ginit;
        // A non-finite trial lowers the cap below it: the search never
        // goes back beyond a point where the objective blew up.
        let mut stpmax = STEP_MAX.min(line.max_step);
        let mut width = stpmax;
        let mut width1 = 2.0 * width;
        let mut b = Bracket {
            stx: 0.0,
            fx: finit,
            gx: ginit,
            sty: 0.0,
            fy: finit,
            gy: ginit,
            bracketed: false,
        };
        let mut stage1 = true;
        let mut stp = a0.clamp(0.0, stpmax);
        let mut stmin = 0.0;
        let mut stmax = stp + XTRAP_UPPER * stp;
        for _ in 0..self.max_trials {
            along(x, line.x0, stp as f32, line.d);
            let f = objective.loss_grad(x, grad)?;
            report.evaluations += 1;
            report.gradients += 1;
            let g = f64::from(dot(grad, line.d));
            if !f.is_finite() || !g.is_finite() || !all_finite(x) {
                stpmax = b.stx + 0.5 * (stp - b.stx);
                stp = stpmax;
                continue;
            }
            let ftest = finit + stp * gtest;
            let decrease = f <= ftest;
            if decrease && g.abs() <= self.c2 * (-ginit) {
                return Ok(Ok(Accepted {
                    step: stp,
                    loss: Some(f),
                    has_grad: true,
                }));
            }
            if stp == stpmax && decrease && g <= gtest {
                // Still descending at the cap: take the sufficient decrease.
                return Ok(Ok(Accepted {
                    step: stp,
                    loss: Some(f),
                    has_grad: true,
                }));
            }
            if stage1 && decrease && g >= 0.0 {
                stage1 = false;
            }
            if b.bracketed && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax) {
                return Ok(Err(LineSearchFailure::Tolerance));
            }
            if stage1 && f <= b.fx && !decrease {
                // The modified function psi(a) = f(a) - f0 - a gtest, until stage 2.
                let mut m = Bracket {
                    fx: b.fx - b.stx * gtest,
                    fy: b.fy - b.sty * gtest,
                    gx: b.gx - gtest,
                    gy: b.gy - gtest,
                    ..b
                };
                stp = dcstep(&mut m, stp, f - stp * gtest, g - gtest, stmin, stmax);
                b = Bracket {
                    fx: m.fx + m.stx * gtest,
                    fy: m.fy + m.sty * gtest,
                    gx: m.gx + gtest,
                    gy: m.gy + gtest,
                    ..m
                };
            } else {
                stp = dcstep(&mut b, stp, f, g, stmin, stmax);
            }
            if b.bracketed {
                if (b.sty - b.stx).abs() >= 0.66 * width1 {
                    stp = b.stx + 0.5 * (b.sty - b.stx);
                }
                width1 = width;
                width = (b.sty - b.stx).abs();
                stmin = b.stx.min(b.sty);
                stmax = b.stx.max(b.sty);
            } else {
                stmin = stp + XTRAP_LOWER * (stp - b.stx);
                stmax = stp + XTRAP_UPPER * (stp - b.stx);
            }
            stp = stp.clamp(0.0, stpmax);
            if b.bracketed && (stp <= stmin || stp >= stmax || stmax - stmin <= XTOL * stmax) {
                stp = b.stx;
            }
        }
        Ok(Err(LineSearchFailure::MaxTrials))
    }
}

/// One safeguarded step of More and Thuente (MINPACK-2 `dcstep`): updates
/// the interval `b` with the trial `(stp, fp, dp)` and returns the next trial.
fn dcstep(b: &mut Bracket, stp: f64, fp: f64, dp: f64, stpmin: f64, stpmax: f64) -> f64 {
    let (stx, fx, dx) = (b.stx, b.fx, b.gx);
    let (sty, fy, dy) = (b.sty, b.fy, b.gy);
    let sgnd = dp * (dx / dx.abs());
    let cubic_gamma = |theta: f64, s: f64, d1: f64, d2: f64, clamp: bool| {
        let r = (theta / s) * (theta / s) - (d1 / s) * (d2 / s);
        s * libm::sqrt(if clamp { r.max(0.0) } else { r })
    };
    let stpf;
    if fp > fx {
        // Case 1: higher value; the minimum is bracketed.
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = cubic_gamma(theta, s, dx, dp, false);
        if stp < stx {
            gamma = -gamma;
        }
        let p = (gamma - dx) + theta;
        let q = ((gamma - dx) + gamma) + dp;
        let r = p / q;
        let stpc = stx + r * (stp - stx);
        let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
        stpf = if (stpc - stx).abs() < (stpq - stx).abs() {
            stpc
        } else {
            stpc + (stpq - stpc) / 2.0
        };
        b.bracketed = true;
    } else if sgnd < 0.0 {
        // Case 2: lower value, slopes of opposite sign; bracketed.
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = cubic_gamma(theta, s, dx, dp, false);
        if stp > stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + dx;
        let r = p / q;
        let stpc = stp + r * (stx - stp);
        let stpq = stp + (dp / (dp - dx)) * (stx - stp);
        stpf = if (stpc - stp).abs() > (stpq - stp).abs() {
            stpc
        } else {
            stpq
        };
        b.bracketed = true;
    } else if dp.abs() < dx.abs() {
        // Case 3: lower value, same slope sign, slope magnitude decreases.
        let theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = cubic_gamma(theta, s, dx, dp, true);
        if stp > stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            stp + r * (stx - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = stp + (dp / (dp - dx)) * (stx - stp);
        if b.bracketed {
            let mut f = if (stpc - stp).abs() < (stpq - stp).abs() {
                stpc
            } else {
                stpq
            };
            f = if stp > stx {
                f.min(stp + 0.66 * (sty - stp))
            } else {
                f.max(stp + 0.66 * (sty - stp))
            };
            stpf = f;
        } else {
            let f = if (stpc - stp).abs() > (stpq - stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = f.clamp(stpmin, stpmax);
        }
    } else {
        // Case 4: lower value, same slope sign, slope does not decrease.
        stpf = if b.bracketed {
            let theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = cubic_gamma(theta, s, dy, dp, false);
            if stp > sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + dy;
            let r = p / q;
            stp + r * (sty - stp)
        } else if stp > stx {
            stpmax
        } else {
            stpmin
        };
    }
    // Update the interval that contains a minimizer.
    if fp > fx {
        b.sty = stp;
        b.fy = fp;
        b.gy = dp;
    } else {
        if sgnd < 0.0 {
            b.sty = stx;
            b.fy = fx;
            b.gy = dx;
        }
        b.stx = stp;
        b.fx = fp;
        b.gx = dp;
    }
    stpf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-dimensional function `phi(a)` seen as an objective of `x = [a]`.
    struct Phi(fn(f64) -> (f64, f64));

    impl Objective for Phi {
        fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error> {
            let (f, g) = (self.0)(f64::from(x[0]));
            grad[0] = g as f32;
            Ok(f)
        }
        fn loss(&mut self, x: &[f32]) -> Result<f64, Error> {
            Ok((self.0)(f64::from(x[0])).0)
        }
    }

    fn run(ls: LineSearch, phi: fn(f64) -> (f64, f64), a0: f64) -> (Option<f64>, u32) {
        let (f0, g0) = phi(0.0);
        let line = Line {
            x0: &[0.0],
            d: &[1.0],
            f0,
            slope: g0,
            max_step: f64::INFINITY,
        };
        let mut x = [0.0f32];
        let mut g = [0.0f32];
        let mut report = StepReport::new(f0, 0.0);
        let out = ls
            .search(&mut Phi(phi), &line, a0, &mut x, &mut g, &mut report)
            .unwrap();
        (out.ok().map(|a| a.step), report.evaluations)
    }

    #[test]
    fn constants_are_validated() {
        assert!(Armijo::new(0.0, 0.5, 10).is_err());
        assert!(Armijo::new(1.0, 0.5, 10).is_err());
        assert!(Armijo::new(1e-4, 1.0, 10).is_err());
        assert!(Armijo::new(1e-4, 0.5, 0).is_err());
        assert!(Armijo::new(1e-4, 0.5, 1).is_ok());
        assert!(StrongWolfe::new(0.9, 0.1, 10).is_err());
        assert!(StrongWolfe::new(0.1, 0.1, 10).is_err());
        assert!(StrongWolfe::new(1e-4, 1.0, 10).is_err());
        assert!(StrongWolfe::new(0.0, 0.9, 10).is_err());
        assert!(StrongWolfe::new(1e-4, 0.9, 0).is_err());
        assert!(StrongWolfe::new(1e-4, 0.9, 1).is_ok());
    }

    fn parabola(a: f64) -> (f64, f64) {
        ((a - 1.0) * (a - 1.0), 2.0 * (a - 1.0))
    }

    #[test]
    fn armijo_backtracks_to_the_first_sufficient_decrease() {
        // (a0, accepted step, evaluations) for phi(a) = (a - 1)^2, c1 = 1e-4:
        // phi(a) <= 1 - 2e-4 a holds for a in (0, 1.9998].
        for (a0, step, evals) in [(1.0, 1.0, 1), (4.0, 1.0, 3), (1.9, 1.9, 1), (2.0, 1.0, 2)] {
            let (got, n) = run(LineSearch::Armijo(Armijo::DEFAULT), parabola, a0);
            assert_eq!((got, n), (Some(step), evals), "a0 = {a0}");
        }
        let strict = Armijo::new(0.5, 0.5, 3).unwrap();
        // c1 = 0.5 accepts a <= 1 only; 3 trials from a0 = 16 reach 4: fail.
        assert_eq!(run(LineSearch::Armijo(strict), parabola, 16.0), (None, 3));
    }

    #[test]
    fn a_non_descent_direction_is_refused_without_evaluating() {
        let (f0, _) = parabola(2.0);
        let line = Line {
            x0: &[2.0],
            d: &[1.0],
            f0,
            slope: 2.0,
            max_step: f64::INFINITY,
        };
        let mut report = StepReport::new(f0, 0.0);
        let out = LineSearch::StrongWolfe(StrongWolfe::DEFAULT)
            .search(
                &mut Phi(parabola),
                &line,
                1.0,
                &mut [0.0],
                &mut [0.0],
                &mut report,
            )
            .unwrap();
        assert_eq!(out, Err(LineSearchFailure::NotDescent));
        assert_eq!(report.evaluations, 0);
    }

    /// More & Thuente (1994), test function 1: phi(a) = -a / (a^2 + 2).
    fn mt1(a: f64) -> (f64, f64) {
        let d = a * a + 2.0;
        (-a / d, (a * a - 2.0) / (d * d))
    }

    /// More & Thuente (1994), Table 1 (function 1, mu = 0.001, eta = 0.1):
    /// from a0 = 1e-3, 1e-1, 1e1, 1e3 their search takes 6, 3, 1 and 4
    /// evaluations and stops near a = 1.4, 1.4, 10 and 37. Ours matches.
    /// (Their functions 2-6 ask for |phi'| of ~1e-8 near a ~ 1, below the
    /// resolution of an f32 iterate, so they do not transfer to f32.)
    #[test]
    fn strong_wolfe_reproduces_more_thuente_table_1() {
        let wolfe = StrongWolfe::new(1e-3, 0.1, 30).unwrap();
        let (f0, g0) = mt1(0.0);
        for (a0, evals, near) in [
            (1e-3, 6, 1.4),
            (1e-1, 3, 1.4),
            (1e1, 1, 10.0),
            (1e3, 4, 37.0),
        ] {
            let (step, n) = run(LineSearch::StrongWolfe(wolfe), mt1, a0);
            let a = f64::from(step.unwrap() as f32);
            assert_eq!(n, evals, "evaluations from a0 = {a0}");
            assert!((a - near).abs() <= 0.05 * near, "a = {a} from a0 = {a0}");
            let (f, g) = mt1(a);
            assert!(f <= f0 + 1e-3 * a * g0, "sufficient decrease at {a}");
            assert!(g.abs() <= 0.1 * g0.abs(), "curvature at {a}");
        }
    }
}
