//! Limited-memory BFGS for minibatches.
//!
//! Two-loop recursion with the initial scaling `gamma = s.y / y.y`, a
//! curvature-pair guard, optional Powell damping, a choice of line search,
//! and two ways to form curvature pairs when every step sees a new batch:
//!
//! * [`CurvatureMode::Naive`]: `y = g_{B_{k+1}}(x_{k+1}) - g_{B_k}(x_k)`, the
//!   pair mixes two batches (what a full-batch L-BFGS does when fed
//!   minibatches, and what the study behind sooth ran);
//! * [`CurvatureMode::SameBatch`]: `y = g_{B_k}(x_{k+1}) - g_{B_k}(x_k)`, the
//!   gradient difference on the SAME batch (multi-batch L-BFGS, Berahas,
//!   Nocedal & Takac 2016), at the cost of one extra gradient per step when
//!   the line search does not already compute it (strong Wolfe does).
//!
//! Full batch is simply batch size = data set size (both modes coincide).

use super::linesearch::{Accepted, Line, LineSearch, StrongWolfe};
use super::{
    Curvature, HEADER_PREFIX, NonFinite, Objective, Optimizer, Status, StepReport, bad_state,
    check_param, check_prefix, checked_loss_grad, get_flag, get_u64, get_word, put_flag,
    put_prefix, put_u64, put_word, recover, split_state, split_vectors,
};
use crate::error::{Buffer, Error, check_len};
use crate::kernels::{all_finite, axpy, dot, negate, norm_inf, scale, sub, sum_squares};

/// Longest history the scalar bookkeeping holds.
pub const MAX_HISTORY: usize = 64;

/// How curvature pairs are formed from minibatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CurvatureMode {
    /// `y` is the difference of gradients on two consecutive batches.
    Naive,
    /// `y` is the difference of gradients on the same batch.
    SameBatch,
}

/// Hyperparameters of [`Lbfgs`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LbfgsConfig {
    /// Curvature pairs kept (`1..=MAX_HISTORY`); must match the storage.
    pub history: usize,
    /// How a step length is chosen.
    pub line_search: LineSearch,
    /// Step tried first (`> 0`); with [`LineSearch::Fixed`], the step taken.
    /// When the history is empty the trial is `initial_step / |d|_2`, so the
    /// first move has length `initial_step`, as in L-BFGS-B.
    pub initial_step: f32,
    /// How pairs are formed from minibatches.
    pub mode: CurvatureMode,
    /// Iterations on each batch (`>= 1`).
    pub inner_iterations: u32,
    /// The guard: a pair with `s.y <= eps |s| |y|` is skipped (`>= 0`).
    pub curvature_eps: f32,
    /// Powell damping (with `B` approximated by `I / gamma`) instead of
    /// skipping pairs with too little curvature.
    pub damping: bool,
    /// Stop moving when `|g|_inf <= grad_tolerance` (0 disables the test).
    pub grad_tolerance: f32,
    /// Largest Euclidean length of a step `|x_{k+1} - x_k|_2` (0 for no
    /// limit). A minibatch's loss can often be driven down by a huge step
    /// that the whole data set does not like; the cap keeps the line search
    /// from extrapolating that far.
    pub max_step: f32,
}

impl LbfgsConfig {
    /// The host's defaults: history 10, strong Wolfe
    /// ([`StrongWolfe::DEFAULT`]), same-batch curvature, unit initial step,
    /// one iteration per batch, guard 1e-6, no damping, no gradient
    /// tolerance, no step limit.
    pub const DEFAULT: Self = LbfgsConfig {
        history: 10,
        line_search: LineSearch::StrongWolfe(StrongWolfe::DEFAULT),
        initial_step: 1.0,
        mode: CurvatureMode::SameBatch,
        inner_iterations: 1,
        curvature_eps: 1e-6,
        damping: false,
        grad_tolerance: 0.0,
        max_step: 0.0,
    };
}

impl LbfgsConfig {
    /// History `m`, strong Wolfe, same-batch curvature, unit initial step.
    pub const fn new(history: usize) -> Self {
        LbfgsConfig {
            history,
            line_search: LineSearch::StrongWolfe(StrongWolfe::DEFAULT),
            initial_step: 1.0,
            mode: CurvatureMode::SameBatch,
            inner_iterations: 1,
            curvature_eps: 1e-6,
            damping: false,
            grad_tolerance: 0.0,
            max_step: 0.0,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Error> {
        check_param(
            self.history >= 1 && self.history <= MAX_HISTORY,
            "history",
            "a value in 1..=64",
        )?;
        check_param(
            self.initial_step > 0.0 && self.initial_step.is_finite(),
            "initial step",
            "a finite value > 0",
        )?;
        check_param(self.inner_iterations >= 1, "inner iterations", "at least 1")?;
        check_param(
            self.curvature_eps >= 0.0 && self.curvature_eps.is_finite(),
            "curvature guard",
            "a finite value >= 0",
        )?;
        check_param(
            self.grad_tolerance >= 0.0 && self.grad_tolerance.is_finite(),
            "gradient tolerance",
            "a finite value >= 0",
        )?;
        check_param(
            self.max_step >= 0.0 && self.max_step.is_finite(),
            "maximum step",
            "a finite value >= 0 (0: no limit)",
        )
    }
}

/// Minibatch L-BFGS over caller-owned storage.
///
/// State, all in the caller's storage, in this order: `2 m n` floats of
/// curvature pairs (`s` rows, then `y` rows), 4 vectors of `n` (gradient,
/// trial gradient, direction, last good point), `m` floats of `rho`, and a
/// header of 16 floats (tag, `n`, `m`, the ring's oldest slot and length,
/// the flags, the cached loss): `(2 m + 4) n + m + 16` floats, i.e.
/// `4 ((2 m + 4) n + m + 16)` bytes. For the 64-32-10 digits network
/// (n = 2410) and m = 10: 231 KB; m = 5: 135 KB. Between steps the storage
/// alone is the state: [`resume`](Self::resume) continues from it.
///
/// (16-bit curvature pairs, when they come, take the first `2 m n` floats'
/// place as a separate `&mut [u16]` region; the rest stays as it is.)
pub struct Lbfgs<'a> {
    config: LbfgsConfig,
    /// `s` pairs, `history` rows of `n`.
    s: &'a mut [f32],
    /// `y` pairs, `history` rows of `n`.
    y: &'a mut [f32],
    /// `1 / s.y` per slot (`history` floats of the storage).
    rho: &'a mut [f32],
    /// The header of scalars (written back after every step).
    header: &'a mut [f32],
    /// Slot of the oldest pair.
    oldest: usize,
    /// Pairs stored.
    len: usize,
    /// Gradient at the current point on the current batch.
    grad: &'a mut [f32],
    /// Gradient at a trial point.
    trial_grad: &'a mut [f32],
    /// Search direction.
    direction: &'a mut [f32],
    /// The last good point (and the line search's start point).
    last_good: &'a mut [f32],
    /// Naive mode: `s` of the last step waits in the next slot for its `y`,
    /// to be formed with the next batch's gradient.
    pending: bool,
    /// Whether `grad` holds the gradient at the current point on the
    /// previous batch (naive mode needs it to form `y`).
    have_grad: bool,
    /// The loss at `last_good`, when `grad` holds the gradient there on the
    /// previous step's objective (reused when the objective is unchanged).
    cached_loss: Option<f64>,
    /// `grad` is the storage's second vector (it swaps with `trial_grad`).
    swapped: bool,
}

/// The tag of L-BFGS's state header.
const TAG: u16 = 0x4C42;
/// Header words after the prefix: `m`, `oldest`, `len`, `pending`,
/// `have_grad`, `swapped`, whether a loss is cached, then the cached loss's
/// bits (4 words).
const M: usize = HEADER_PREFIX;
const OLDEST: usize = M + 1;
const LEN: usize = M + 2;
const PENDING: usize = M + 3;
const HAVE_GRAD: usize = M + 4;
const SWAPPED: usize = M + 5;
const CACHED: usize = M + 6;
const CACHED_LOSS: usize = M + 7;
/// Floats of L-BFGS's state header (after `rho`).
const HEADER: usize = CACHED_LOSS + 4;

/// The scalars of an L-BFGS state, as a header holds them.
struct Scalars {
    oldest: usize,
    len: usize,
    pending: bool,
    have_grad: bool,
    swapped: bool,
    cached_loss: Option<f64>,
}

impl Scalars {
    /// The state of a fresh optimizer.
    const FRESH: Scalars = Scalars {
        oldest: 0,
        len: 0,
        pending: false,
        have_grad: false,
        swapped: false,
        cached_loss: None,
    };

    /// Reads and checks a header for history `m` (its words start `at`
    /// floats into the storage, for the error's offset).
    fn read(header: &[f32], m: usize, at: usize) -> Result<Scalars, Error> {
        let word = |i: usize, max: usize, expected| {
            get_word(header[i], max.min(usize::from(u16::MAX)) as u16)
                .map(usize::from)
                .ok_or(bad_state(at, i, expected))
        };
        let flag =
            |i: usize| get_flag(header[i]).ok_or(bad_state(at, i, "an L-BFGS state flag (0 or 1)"));
        if word(M, m, "the history length m")? != m {
            return Err(bad_state(at, M, "the history length m"));
        }
        let oldest = word(OLDEST, m - 1, "a slot below m")?;
        let len = word(LEN, m, "a pair count at most m")?;
        let cached_loss = if flag(CACHED)? {
            let bits = get_u64(&header[CACHED_LOSS..HEADER]).ok_or(bad_state(
                at,
                CACHED_LOSS,
                "the bits of the cached loss",
            ))?;
            Some(f64::from_bits(bits))
        } else {
            None
        };
        Ok(Scalars {
            oldest,
            len,
            pending: flag(PENDING)?,
            have_grad: flag(HAVE_GRAD)?,
            swapped: flag(SWAPPED)?,
            cached_loss,
        })
    }
}

impl<'a> Lbfgs<'a> {
    /// Floats of state storage for `n` parameters and history `m`:
    /// `(2 m + 4) n + m + 16`.
    pub const fn storage_len(n: usize, m: usize) -> usize {
        (2 * m + 4) * n + m + HEADER
    }

    /// An optimizer for `n` parameters over `storage` (at least
    /// [`storage_len(n, config.history)`](Self::storage_len) floats),
    /// starting afresh (no curvature pairs).
    pub fn new(config: LbfgsConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        Self::over(config, n, storage, Scalars::FRESH)
    }

    /// An optimizer for `n` parameters that continues from the state an
    /// [`Lbfgs`] for `n` parameters and the same history length left in
    /// `storage` (curvature pairs, gradient, last good point, the cached
    /// loss), bit for bit; the other hyperparameters may differ from the
    /// earlier ones. Errors with [`Error::Format`] if `storage` holds no such
    /// state.
    pub fn resume(config: LbfgsConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let m = config.history;
        let at = (2 * m + 4) * n + m;
        let (_, header) = split_state(storage, at, HEADER)?;
        check_prefix(header, at, TAG, n, "an L-BFGS state header")?;
        let scalars = Scalars::read(header, m, at)?;
        Self::over(config, n, storage, scalars)
    }

    /// The optimizer over `storage` with the given scalars (`config` valid).
    fn over(
        config: LbfgsConfig,
        n: usize,
        storage: &'a mut [f32],
        scalars: Scalars,
    ) -> Result<Self, Error> {
        let m = config.history;
        let (body, header) = split_state(storage, (2 * m + 4) * n + m, HEADER)?;
        let (pairs, rest) = body.split_at_mut(2 * m * n);
        let (s, y) = pairs.split_at_mut(m * n);
        let (vectors, rho) = rest.split_at_mut(4 * n);
        let [first, second, direction, last_good] = split_vectors::<4>(vectors, n)?;
        let (grad, trial_grad) = if scalars.swapped {
            (second, first)
        } else {
            (first, second)
        };
        put_prefix(header, TAG, n);
        put_word(&mut header[M], m as u16);
        let mut lbfgs = Lbfgs {
            config,
            s,
            y,
            rho,
            header,
            oldest: scalars.oldest,
            len: scalars.len,
            grad,
            trial_grad,
            direction,
            last_good,
            pending: scalars.pending,
            have_grad: scalars.have_grad,
            cached_loss: scalars.cached_loss,
            swapped: scalars.swapped,
        };
        lbfgs.save();
        Ok(lbfgs)
    }

    /// Writes the scalars to the header.
    fn save(&mut self) {
        let h = &mut *self.header;
        put_word(&mut h[OLDEST], self.oldest as u16);
        put_word(&mut h[LEN], self.len as u16);
        put_flag(&mut h[PENDING], self.pending);
        put_flag(&mut h[HAVE_GRAD], self.have_grad);
        put_flag(&mut h[SWAPPED], self.swapped);
        put_flag(&mut h[CACHED], self.cached_loss.is_some());
        put_u64(
            &mut h[CACHED_LOSS..HEADER],
            self.cached_loss.map_or(0, f64::to_bits),
        );
    }

    /// Swaps the roles of the gradient and trial gradient vectors.
    fn swap_grads(&mut self) {
        core::mem::swap(&mut self.grad, &mut self.trial_grad);
        self.swapped = !self.swapped;
    }

    /// The hyperparameters.
    pub fn config(&self) -> &LbfgsConfig {
        &self.config
    }

    /// Curvature pairs currently stored (never more than `history`).
    pub fn pairs(&self) -> usize {
        self.len
    }

    fn n(&self) -> usize {
        self.grad.len()
    }

    /// The slot the next pair goes to.
    fn next_slot(&self) -> usize {
        (self.oldest + self.len) % self.config.history
    }

    /// Makes the next slot free (evicting the oldest pair when the history
    /// is full, before its storage is overwritten) and returns it.
    fn claim_slot(&mut self) -> usize {
        if self.len == self.config.history {
            self.oldest = (self.oldest + 1) % self.config.history;
            self.len -= 1;
        }
        self.next_slot()
    }

    fn slot(v: &[f32], i: usize, n: usize) -> &[f32] {
        &v[i * n..(i + 1) * n]
    }

    /// `direction = -H grad` (see [`apply_inverse_hessian`](Self::apply_inverse_hessian)).
    fn two_loop(&mut self) {
        let history = PairsView {
            s: self.s,
            y: self.y,
            rho: self.rho,
            oldest: self.oldest,
            len: self.len,
            m: self.config.history,
        };
        history.apply(self.grad, self.direction);
        for v in self.direction.iter_mut() {
            *v = -*v;
        }
    }

    /// `out = H v`: the inverse-Hessian approximation of the stored pairs
    /// applied to `v`, by the two-loop recursion with `H0 = gamma I`,
    /// `gamma = s.y / y.y` of the newest pair (`H = I` without pairs).
    /// Costs about `4 m n` multiply-adds, reading every stored pair twice.
    pub fn apply_inverse_hessian(&self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        check_len(Buffer::Params, self.n(), v.len())?;
        check_len(Buffer::Params, self.n(), out.len())?;
        PairsView {
            s: self.s,
            y: self.y,
            rho: self.rho,
            oldest: self.oldest,
            len: self.len,
            m: self.config.history,
        }
        .apply(v, out);
        Ok(())
    }

    /// Forms the pair in the claimed slot from its `s` (already written) and
    /// `y = new_grad - old_grad`; guards or damps it, then stores or drops it.
    fn complete_pair(&mut self, new_grad_is_trial: bool) -> Curvature {
        let n = self.n();
        let m = self.config.history;
        let slot = self.next_slot();
        let (new, old) = if new_grad_is_trial {
            (&*self.trial_grad, &*self.grad)
        } else {
            (&*self.grad, &*self.trial_grad)
        };
        let y = &mut self.y[slot * n..(slot + 1) * n];
        sub(y, new, old);
        let s = &self.s[slot * n..(slot + 1) * n];
        let mut sy = dot(s, y);
        let (ss, yy) = (sum_squares(s), sum_squares(y));
        let guard = self.config.curvature_eps * libm::sqrtf(ss) * libm::sqrtf(yy);
        let mut outcome = Curvature::Stored;
        if !(sy > guard) || !sy.is_finite() || !yy.is_finite() {
            if !self.config.damping || !(ss > 0.0) || !ss.is_finite() {
                return Curvature::Skipped;
            }
            // Powell damping with B ~ I / gamma: y <- theta y + (1 - theta) B s,
            // which makes s.y = 0.2 s.B.s.
            let gamma = if self.len > 0 {
                let newest = (self.oldest + self.len - 1) % m;
                1.0 / (self.rho[newest] * sum_squares(Self::slot(self.y, newest, n)))
            } else {
                1.0
            };
            let sbs = ss / gamma;
            let theta = 0.8 * sbs / (sbs - sy);
            let y = &mut self.y[slot * n..(slot + 1) * n];
            for (yi, si) in y.iter_mut().zip(s) {
                *yi = theta * *yi + (1.0 - theta) * (si / gamma);
            }
            sy = dot(s, y);
            if !(sy > 0.0) || !sy.is_finite() {
                return Curvature::Skipped;
            }
            outcome = Curvature::Damped;
        }
        self.rho[slot] = 1.0 / sy;
        // `claim_slot` made room: the history never exceeds m.
        self.len += 1;
        outcome
    }

    /// Clears the curvature history.
    fn clear(&mut self) {
        self.len = 0;
        self.oldest = 0;
        self.pending = false;
    }
}

impl Optimizer for Lbfgs<'_> {
    fn dim(&self) -> usize {
        self.n()
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
        self.clear();
        self.have_grad = false;
        self.cached_loss = None;
        self.save();
    }
}

impl Lbfgs<'_> {
    /// The step, with the scalars in the struct ([`Optimizer::step`] then
    /// writes them to the header).
    fn step_in_place<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        check_len(Buffer::Params, self.n(), x.len())?;
        let mut report = StepReport::new(f64::NAN, f32::NAN);
        let unchanged = objective.is_unchanged();
        let reusable = match self.cached_loss {
            Some(f) if unchanged && bits_equal(x, self.last_good) => Some(f),
            _ => None,
        };
        self.cached_loss = None;
        let mut f = if let Some(f) = reusable {
            f
        } else {
            // The gradient at x on this batch goes to `trial_grad` first, so
            // that naive mode can still see the previous batch's gradient.
            let f = match checked_loss_grad(objective, x, self.trial_grad, &mut report)? {
                Ok((f, _)) => f,
                Err(what) => {
                    if self.have_grad {
                        recover(x, self.last_good, what, &mut report);
                    } else {
                        report.status = Status::RecoveredNonFinite(what);
                    }
                    self.clear();
                    self.have_grad = false;
                    return Ok(report);
                }
            };
            if self.pending && self.have_grad {
                report.curvature = self.complete_pair(true);
            }
            self.pending = false;
            self.swap_grads();
            self.have_grad = true;
            self.last_good.copy_from_slice(x);
            f
        };
        report.loss = f;
        report.grad_norm_inf = norm_inf(self.grad);

        for inner in 0..self.config.inner_iterations {
            if self.config.grad_tolerance > 0.0 && norm_inf(self.grad) <= self.config.grad_tolerance
            {
                report.status = Status::Converged;
                self.cached_loss = Some(f);
                return Ok(report);
            }
            self.two_loop();
            let mut slope = f64::from(dot(self.grad, self.direction));
            if !(slope < 0.0) || !all_finite(self.direction) {
                // Not a descent direction (rounding in H): start over.
                self.clear();
                negate(self.direction, self.grad);
                slope = -f64::from(sum_squares(self.grad));
            }
            let d_norm = libm::sqrt(f64::from(sum_squares(self.direction)));
            let a0 = if self.len == 0 {
                f64::from(self.config.initial_step) / d_norm
            } else {
                f64::from(self.config.initial_step)
            };
            report.slope = slope;
            let line = Line {
                x0: self.last_good,
                d: self.direction,
                f0: f,
                slope,
                max_step: if self.config.max_step > 0.0 {
                    f64::from(self.config.max_step) / d_norm
                } else {
                    f64::INFINITY
                },
            };
            let accepted: Accepted = match self.config.line_search.search(
                objective,
                &line,
                a0,
                x,
                self.trial_grad,
                &mut report,
            )? {
                Ok(a) => a,
                Err(failure) => {
                    x.copy_from_slice(self.last_good);
                    self.clear();
                    report.status = Status::LineSearchFailed(failure);
                    report.step_length = 0.0;
                    return Ok(report);
                }
            };
            if !all_finite(x) {
                recover(x, self.last_good, NonFinite::Update, &mut report);
                self.clear();
                return Ok(report);
            }
            report.step_length = accepted.step;
            // s is the step actually taken, x - x0 as rounded in f32 (not
            // a d), so that the pair describes the points the gradients
            // were computed at; near a minimizer the two differ.
            let n = self.n();
            let slot = self.claim_slot();
            sub(&mut self.s[slot * n..(slot + 1) * n], x, self.last_good);
            let last_inner = inner + 1 == self.config.inner_iterations;
            // On an unchanged objective both modes form the same pair.
            if self.config.mode == CurvatureMode::Naive && last_inner && !unchanged {
                // y waits for the next batch's gradient at this point.
                self.pending = true;
            } else {
                if !accepted.has_grad {
                    match checked_loss_grad(objective, x, self.trial_grad, &mut report)? {
                        Ok((value, _)) => f = value,
                        Err(what) => {
                            recover(x, self.last_good, what, &mut report);
                            self.clear();
                            return Ok(report);
                        }
                    }
                } else if let Some(value) = accepted.loss {
                    f = value;
                }
                report.curvature = self.complete_pair(true);
                self.swap_grads();
                if last_inner {
                    self.cached_loss = Some(f);
                }
                // Loss and gradient at x are finite: x is the new last good point.
                self.last_good.copy_from_slice(x);
            }
        }
        Ok(report)
    }
}

/// The stored curvature pairs, read-only.
struct PairsView<'p> {
    s: &'p [f32],
    y: &'p [f32],
    rho: &'p [f32],
    oldest: usize,
    len: usize,
    m: usize,
}

impl PairsView<'_> {
    /// `q = H v` by the two-loop recursion.
    fn apply(&self, v: &[f32], q: &mut [f32]) {
        let n = v.len();
        let slot = Lbfgs::slot;
        q.copy_from_slice(v);
        let mut alpha = [0.0f32; MAX_HISTORY];
        for k in (0..self.len).rev() {
            let i = (self.oldest + k) % self.m;
            let a = self.rho[i] * dot(slot(self.s, i, n), q);
            alpha[i] = a;
            axpy(q, -a, slot(self.y, i, n));
        }
        if self.len > 0 {
            let newest = (self.oldest + self.len - 1) % self.m;
            let gamma = 1.0 / (self.rho[newest] * sum_squares(slot(self.y, newest, n)));
            scale(q, gamma);
        }
        for k in 0..self.len {
            let i = (self.oldest + k) % self.m;
            let beta = self.rho[i] * dot(slot(self.y, i, n), q);
            axpy(q, alpha[i] - beta, slot(self.s, i, n));
        }
    }
}

/// True if the two vectors hold the same bits.
fn bits_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}
