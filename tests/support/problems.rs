//! The standard unconstrained test problems (SciPy's `rosen`, More-Garbow-
//! Hillstrom's extended Powell singular function, an ill-conditioned
//! diagonal quadratic) and the L-BFGS driver the example and tests share.

use sooth_core::*;

/// A smooth test function with its starting point.
pub struct Problem {
    pub name: &'static str,
    pub n: usize,
    pub x0: fn(usize) -> f64,
    pub eval: fn(&[f64], &mut [f64]) -> f64,
}

/// Chained Rosenbrock (SciPy's `rosen`): sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2.
pub fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    let mut f = 0.0;
    for i in 0..x.len() - 1 {
        let t = x[i + 1] - x[i] * x[i];
        let u = 1.0 - x[i];
        f += 100.0 * t * t + u * u;
        g[i] += -400.0 * x[i] * t - 2.0 * u;
        g[i + 1] += 200.0 * t;
    }
    f
}

/// Extended Powell singular function (More, Garbow & Hillstrom 1981, #13).
pub fn powell(x: &[f64], g: &mut [f64]) -> f64 {
    let mut f = 0.0;
    for (xb, gb) in x.chunks_exact(4).zip(g.chunks_exact_mut(4)) {
        let t1 = xb[0] + 10.0 * xb[1];
        let t2 = xb[2] - xb[3];
        let t3 = xb[1] - 2.0 * xb[2];
        let t4 = xb[0] - xb[3];
        f += t1 * t1 + 5.0 * t2 * t2 + t3.powi(4) + 10.0 * t4.powi(4);
        gb[0] = 2.0 * t1 + 40.0 * t4.powi(3);
        gb[1] = 20.0 * t1 + 4.0 * t3.powi(3);
        gb[2] = 10.0 * t2 - 8.0 * t3.powi(3);
        gb[3] = -10.0 * t2 - 40.0 * t4.powi(3);
    }
    f
}

/// 0.5 sum l_i x_i^2 with l = logspace(0, 4, n): condition number 1e4.
pub fn quadratic(x: &[f64], g: &mut [f64]) -> f64 {
    let n = x.len();
    let mut f = 0.0;
    for i in 0..n {
        let l = 10f64.powf(4.0 * i as f64 / (n - 1) as f64);
        f += 0.5 * l * x[i] * x[i];
        g[i] = l * x[i];
    }
    f
}

/// A problem as an `Objective` over f32 parameters.
pub struct F64Objective {
    pub eval: fn(&[f64], &mut [f64]) -> f64,
    x: Vec<f64>,
    g: Vec<f64>,
}

impl F64Objective {
    /// The objective of `eval` in dimension `n`.
    pub fn new(eval: fn(&[f64], &mut [f64]) -> f64, n: usize) -> Self {
        F64Objective {
            eval,
            x: vec![0.0; n],
            g: vec![0.0; n],
        }
    }
}

impl Objective for F64Objective {
    fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error> {
        for (a, &b) in self.x.iter_mut().zip(x) {
            *a = f64::from(b);
        }
        let f = (self.eval)(&self.x, &mut self.g);
        for (a, &b) in grad.iter_mut().zip(&self.g) {
            *a = b as f32;
        }
        Ok(f)
    }
    fn loss(&mut self, x: &[f32]) -> Result<f64, Error> {
        let mut g = vec![0.0f32; x.len()];
        self.loss_grad(x, &mut g)
    }
    fn is_unchanged(&self) -> bool {
        true
    }
}

/// SciPy 1.17.1 L-BFGS-B (f64, maxcor 10, gtol 1e-5, ftol 0): iterations, evaluations.
pub const SCIPY: [(&str, usize, u32, u32); 7] = [
    ("rosenbrock", 2, 37, 45),
    ("rosenbrock", 10, 74, 92),
    ("rosenbrock", 100, 522, 612),
    ("rosenbrock", 1000, 4939, 5791),
    ("powell", 4, 28, 31),
    ("powell", 100, 42, 44),
    ("quadratic", 100, 774, 804),
];

/// How a run ended.
pub struct Outcome {
    /// Steps that moved.
    pub iterations: u32,
    /// Objective evaluations.
    pub evaluations: u32,
    /// Final value.
    pub f: f64,
    /// Final gradient infinity norm.
    pub gnorm_inf: f32,
    /// Whether |g|_inf reached the tolerance.
    pub converged: bool,
}

/// Runs L-BFGS (m = 10, strong Wolfe) on `p` until `|g|_inf <= tolerance`
/// or until no step makes progress (two line-search failures in a row).
pub fn solve(p: &Problem, tolerance: f32) -> Outcome {
    solve_with(p, tolerance, PairPrecision::F32)
}

/// [`solve`] with the curvature pairs stored in `precision`.
pub fn solve_with(p: &Problem, tolerance: f32, precision: PairPrecision) -> Outcome {
    let n = p.n;
    let mut x: Vec<f32> = (0..n).map(|i| (p.x0)(i) as f32).collect();
    let config = LbfgsConfig {
        grad_tolerance: tolerance,
        pair_precision: precision,
        ..LbfgsConfig::new(10)
    };
    let mut storage = vec![0.0f32; Lbfgs::storage_len_with(n, 10, precision)];
    let mut lbfgs = Lbfgs::new(config, n, &mut storage).unwrap();
    let mut objective = F64Objective::new(p.eval, n);
    let (mut iterations, mut evaluations) = (0u32, 0u32);
    let mut failures_in_a_row = 0;
    let mut last = None;
    for _ in 0..100_000 {
        let r = lbfgs.step(&mut x, &mut objective).unwrap();
        evaluations += r.evaluations;
        last = Some(r);
        match r.status {
            Status::Moved => {
                iterations += 1;
                failures_in_a_row = 0;
            }
            Status::Converged => break,
            // A failure right after a restart along -g means no step can
            // make progress at this precision: stop.
            Status::LineSearchFailed(_) | Status::RecoveredNonFinite(_) => {
                failures_in_a_row += 1;
                if failures_in_a_row == 2 {
                    break;
                }
            }
        }
    }
    let r = last.unwrap();
    // The final point's value and gradient (one more evaluation, not counted).
    let mut g = vec![0.0f32; n];
    let f = objective.loss_grad(&x, &mut g).unwrap();
    // The infinity norm, NaN if any element is NaN.
    let gnorm_inf = g.iter().fold(0.0f32, |m, &v| {
        if m.is_nan() || v.is_nan() {
            f32::NAN
        } else {
            m.max(v.abs())
        }
    });
    Outcome {
        iterations,
        evaluations,
        f,
        gnorm_inf,
        converged: r.status == Status::Converged,
    }
}

/// The seven problems of the comparison, in the order of [`SCIPY`].
pub fn problems() -> [Problem; 7] {
    let alternate: fn(usize) -> f64 = |i| if i % 2 == 0 { -1.2 } else { 1.0 };
    let powell_start: fn(usize) -> f64 = |i| [3.0, -1.0, 0.0, 1.0][i % 4];
    [
        Problem {
            name: "rosenbrock",
            n: 2,
            x0: alternate,
            eval: rosenbrock,
        },
        Problem {
            name: "rosenbrock",
            n: 10,
            x0: alternate,
            eval: rosenbrock,
        },
        Problem {
            name: "rosenbrock",
            n: 100,
            x0: alternate,
            eval: rosenbrock,
        },
        Problem {
            name: "rosenbrock",
            n: 1000,
            x0: alternate,
            eval: rosenbrock,
        },
        Problem {
            name: "powell",
            n: 4,
            x0: powell_start,
            eval: powell,
        },
        Problem {
            name: "powell",
            n: 100,
            x0: powell_start,
            eval: powell,
        },
        Problem {
            name: "quadratic",
            n: 100,
            x0: |_| 1.0,
            eval: quadratic,
        },
    ]
}
