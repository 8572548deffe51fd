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
use super::pairs::PairPrecision;
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
    /// How the curvature pairs are stored: f32, or 16 bits (half the
    /// `2 m n` floats of pairs); `s.y`, `rho` and the guard are computed
    /// from the stored values, so the implicit inverse Hessian stays
    /// positive definite.
    pub pair_precision: PairPrecision,
}

impl LbfgsConfig {
    /// The host's defaults: history 10, strong Wolfe
    /// ([`StrongWolfe::DEFAULT`]), same-batch curvature, unit initial step,
    /// one iteration per batch, guard 1e-6, no damping, no gradient
    /// tolerance, no step limit, f32 pairs.
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
        pair_precision: PairPrecision::F32,
    };
}

impl LbfgsConfig {
    /// History `m`, strong Wolfe, same-batch curvature, unit initial step,
    /// f32 pairs.
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
            pair_precision: PairPrecision::F32,
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
/// State, all in the caller's storage, in this order: the curvature pairs
/// (`m` rows of `s`, then `m` rows of `y`; a row is `n` floats with
/// [`PairPrecision::F32`], `(n + 1) / 2` floats holding two 16-bit values
/// each otherwise), the vectors (the gradient and the last good point, and
/// with 16-bit pairs also the search direction), `m` floats of `rho`, and a
/// header of 16 floats (tag, `n`, `m`, the ring's oldest slot and length,
/// the flags, the pair precision, the cached loss):
/// [`storage_len_with`](Self::storage_len_with) floats, `(2 m + 2) n + m + 16`
/// with f32 pairs and `2 m ceil(n / 2) + 3 n + m + 16` with 16-bit pairs.
/// For the 64-32-10 digits network (n = 2410) and m = 5: 116 KB with f32
/// pairs, 77 KB with 16-bit pairs. Between steps the storage alone is the
/// state: [`resume`](Self::resume) continues from it.
///
/// # Where the vectors went
/// A step needs, besides the pairs, the gradient `g`, the last good point
/// `x0` (which recovery from non-finite values returns to), the direction
/// `d` and the gradient at the trial points; `y` needs `g` until the line
/// search has ended. Three facts let the storage hold fewer vectors:
/// * when the two-loop recursion runs, the parameters equal the last good
///   point, so that vector is scratch there (the two-loop's output with
///   f32 pairs, the decoded pair rows with 16-bit pairs) and is copied
///   back from the parameters afterwards;
/// * the slot the new pair goes to is claimed right after the two-loop
///   (evicting the oldest pair, as the original order did after the line
///   search: every path in between that fails clears the history anyway),
///   so its rows are free during the line search: the old gradient waits
///   in them (`y` row; both rows with 16-bit pairs) and the line search
///   writes its gradients over `g`; with f32 pairs the direction waits in
///   the `s` row;
/// * `s = x - x0` is formed when the pair is completed, from the
///   parameters and the last good point (in naive mode at the next step,
///   before the last good point moves).
///
/// The arithmetic is the same as with four vectors: f32 pairs give the
/// same bits as before the trim.
pub struct Lbfgs<'a> {
    config: LbfgsConfig,
    /// `s` pairs, `history` rows of `row_words(n)` floats.
    s: &'a mut [f32],
    /// `y` pairs, `history` rows of `row_words(n)` floats.
    y: &'a mut [f32],
    /// `1 / s.y` per slot (`history` floats of the storage).
    rho: &'a mut [f32],
    /// The header of scalars (written back after every step).
    header: &'a mut [f32],
    /// Slot of the oldest pair.
    oldest: usize,
    /// Pairs stored.
    len: usize,
    /// Gradient at the current point on the current batch; during a line
    /// search, the gradient at the trial point.
    grad: &'a mut [f32],
    /// With 16-bit pairs: the search direction, and `y` in f32 while a pair
    /// is formed (empty with f32 pairs: the direction waits in the claimed
    /// slot's `s` row).
    direction: &'a mut [f32],
    /// The last good point (and the line search's start point).
    last_good: &'a mut [f32],
    /// Naive mode: the claimed slot waits for its pair, to be formed with
    /// the next batch's gradient (the old gradient waits in its rows).
    pending: bool,
    /// Whether `grad` holds the gradient at the current point on the
    /// previous batch (naive mode needs it to form `y`).
    have_grad: bool,
    /// The loss at `last_good`, when `grad` holds the gradient there on the
    /// previous step's objective (reused when the objective is unchanged).
    cached_loss: Option<f64>,
}

/// The tag of L-BFGS's state header.
const TAG: u16 = 0x4C42;
/// Header words after the prefix: `m`, `oldest`, `len`, `pending`,
/// `have_grad`, the pair precision's code, whether a loss is cached, then
/// the cached loss's bits (4 words).
const M: usize = HEADER_PREFIX;
const OLDEST: usize = M + 1;
const LEN: usize = M + 2;
const PENDING: usize = M + 3;
const HAVE_GRAD: usize = M + 4;
const PRECISION: usize = M + 5;
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
    cached_loss: Option<f64>,
}

impl Scalars {
    /// The state of a fresh optimizer.
    const FRESH: Scalars = Scalars {
        oldest: 0,
        len: 0,
        pending: false,
        have_grad: false,
        cached_loss: None,
    };

    /// Reads and checks a header for history `m` and pair precision
    /// `precision` (its words start `at` floats into the storage, for the
    /// error's offset).
    fn read(
        header: &[f32],
        m: usize,
        precision: PairPrecision,
        at: usize,
    ) -> Result<Scalars, Error> {
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
        let expected = "the pair precision of the configuration (0 f32, 1 bf16, 2 f16)";
        if get_word(header[PRECISION], 2) != Some(precision.code()) {
            return Err(bad_state(at, PRECISION, expected));
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
            cached_loss,
        })
    }
}

impl<'a> Lbfgs<'a> {
    /// Floats of state storage for `n` parameters, history `m` and f32
    /// pairs: `(2 m + 2) n + m + 16`.
    pub const fn storage_len(n: usize, m: usize) -> usize {
        Self::storage_len_with(n, m, PairPrecision::F32)
    }

    /// Floats of state storage for `n` parameters, history `m` and pairs
    /// stored in `precision`: `(2 m + 2) n + m + 16` (f32), `2 m ceil(n / 2)
    /// + 3 n + m + 16` (bf16, f16).
    pub const fn storage_len_with(n: usize, m: usize, precision: PairPrecision) -> usize {
        Self::body_len(n, m, precision) + HEADER
    }

    /// Vectors of `n` floats besides the pairs.
    const fn vectors(precision: PairPrecision) -> usize {
        match precision {
            PairPrecision::F32 => 2,
            PairPrecision::Bf16 | PairPrecision::F16 => 3,
        }
    }

    /// Floats before the header: pairs, vectors, `rho`.
    const fn body_len(n: usize, m: usize, precision: PairPrecision) -> usize {
        2 * m * precision.row_words(n) + Self::vectors(precision) * n + m
    }

    /// An optimizer for `n` parameters over `storage` (at least
    /// [`storage_len_with(n, config.history, config.pair_precision)`](Self::storage_len_with)
    /// floats), starting afresh (no curvature pairs).
    pub fn new(config: LbfgsConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        Self::over(config, n, storage, Scalars::FRESH)
    }

    /// An optimizer for `n` parameters that continues from the state an
    /// [`Lbfgs`] for `n` parameters, the same history length and the same
    /// pair precision left in `storage` (curvature pairs, gradient, last
    /// good point, the cached loss), bit for bit; the other hyperparameters
    /// may differ from the earlier ones. Errors with [`Error::Format`] if
    /// `storage` holds no such state.
    pub fn resume(config: LbfgsConfig, n: usize, storage: &'a mut [f32]) -> Result<Self, Error> {
        config.validate()?;
        let m = config.history;
        let at = Self::body_len(n, m, config.pair_precision);
        let (_, header) = split_state(storage, at, HEADER)?;
        check_prefix(header, at, TAG, n, "an L-BFGS state header")?;
        let scalars = Scalars::read(header, m, config.pair_precision, at)?;
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
        let precision = config.pair_precision;
        let (body, header) = split_state(storage, Self::body_len(n, m, precision), HEADER)?;
        let (pairs, rest) = body.split_at_mut(2 * m * precision.row_words(n));
        let (s, y) = pairs.split_at_mut(m * precision.row_words(n));
        let (vectors, rho) = rest.split_at_mut(Self::vectors(precision) * n);
        let (grad, direction, last_good) = match precision {
            PairPrecision::F32 => {
                let [grad, last_good] = split_vectors::<2>(vectors, n)?;
                (grad, &mut [][..], last_good)
            }
            PairPrecision::Bf16 | PairPrecision::F16 => {
                let [grad, direction, last_good] = split_vectors::<3>(vectors, n)?;
                (grad, direction, last_good)
            }
        };
        put_prefix(header, TAG, n);
        put_word(&mut header[M], m as u16);
        put_word(&mut header[PRECISION], precision.code());
        let mut lbfgs = Lbfgs {
            config,
            s,
            y,
            rho,
            header,
            oldest: scalars.oldest,
            len: scalars.len,
            grad,
            direction,
            last_good,
            pending: scalars.pending,
            have_grad: scalars.have_grad,
            cached_loss: scalars.cached_loss,
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
        put_flag(&mut h[CACHED], self.cached_loss.is_some());
        put_u64(
            &mut h[CACHED_LOSS..HEADER],
            self.cached_loss.map_or(0, f64::to_bits),
        );
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

    /// Storage words of one pair row.
    fn words(&self) -> usize {
        self.config.pair_precision.row_words(self.n())
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

    /// `-H grad` by the two-loop recursion, into the last good point's
    /// vector (f32 pairs) or the direction (16-bit pairs, the last good
    /// point's vector holding decoded rows). The caller restores the last
    /// good point from the parameters, which it equals here.
    fn two_loop(&mut self) {
        let history = PairsView {
            s: self.s,
            y: self.y,
            rho: self.rho,
            oldest: self.oldest,
            len: self.len,
            m: self.config.history,
            precision: self.config.pair_precision,
        };
        let q = match self.config.pair_precision {
            PairPrecision::F32 => {
                history.apply(self.grad, self.last_good, &mut []);
                &mut *self.last_good
            }
            PairPrecision::Bf16 | PairPrecision::F16 => {
                history.apply(self.grad, self.direction, self.last_good);
                &mut *self.direction
            }
        };
        for v in q.iter_mut() {
            *v = -*v;
        }
    }

    /// `out = H v`: the inverse-Hessian approximation of the stored pairs
    /// applied to `v`, by the two-loop recursion with `H0 = gamma I`,
    /// `gamma = s.y / y.y` of the newest pair (`H = I` without pairs).
    /// Costs about `4 m n` multiply-adds, reading every stored pair twice.
    /// With 16-bit pairs the rows are decoded into the direction vector,
    /// which holds nothing between steps.
    pub fn apply_inverse_hessian(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        check_len(Buffer::Params, self.n(), v.len())?;
        check_len(Buffer::Params, self.n(), out.len())?;
        let history = PairsView {
            s: self.s,
            y: self.y,
            rho: self.rho,
            oldest: self.oldest,
            len: self.len,
            m: self.config.history,
            precision: self.config.pair_precision,
        };
        history.apply(v, out, self.direction);
        Ok(())
    }

    /// Puts the gradient in `grad` where it waits for the line search to
    /// end: the `y` row of `slot` (f32 pairs) or the words of both rows of
    /// `slot` (16-bit pairs, `2 ceil(n / 2) >= n` words).
    fn park_gradient(&mut self, slot: usize) {
        let (n, w) = (self.n(), self.words());
        match self.config.pair_precision {
            PairPrecision::F32 => self.y[slot * n..(slot + 1) * n].copy_from_slice(self.grad),
            PairPrecision::Bf16 | PairPrecision::F16 => {
                let (first, second) = self.grad.split_at(w);
                self.s[slot * w..(slot + 1) * w].copy_from_slice(first);
                self.y[slot * w..slot * w + second.len()].copy_from_slice(second);
            }
        }
    }

    /// Forms the pair in the claimed slot, where the old gradient waits
    /// ([`park_gradient`](Self::park_gradient)): `s = x - last_good`,
    /// `y = grad - old`; guards or damps it (from the stored, rounded
    /// values), then stores or drops it. Leaves `last_good` to be set to `x`.
    fn complete_pair(&mut self, x: &[f32]) -> Curvature {
        let n = self.n();
        let m = self.config.history;
        let precision = self.config.pair_precision;
        let slot = self.next_slot();
        let newest = (self.oldest + self.len + m - 1) % m;
        if precision == PairPrecision::F32 {
            let y = &mut self.y[slot * n..(slot + 1) * n];
            for (yi, gi) in y.iter_mut().zip(&*self.grad) {
                *yi = gi - *yi;
            }
            sub(&mut self.s[slot * n..(slot + 1) * n], x, self.last_good);
            // B ~ I / gamma of Powell damping, from the newest pair.
            let gamma = || 1.0 / (self.rho[newest] * sum_squares(row(self.y, newest, n)));
            let gamma = (self.config.damping && self.len > 0).then(gamma);
            let s = &self.s[slot * n..(slot + 1) * n];
            let y = &mut self.y[slot * n..(slot + 1) * n];
            let (outcome, rho) = guard(&self.config, s, y, gamma);
            if let Some(rho) = rho {
                self.rho[slot] = rho;
                // `claim_slot` made room: the history never exceeds m.
                self.len += 1;
            }
            return outcome;
        }
        let w = self.words();
        // y in f32, from the gradient and the parked old one.
        let (first, second) = self.direction.split_at_mut(w);
        for ((yi, gi), old) in first.iter_mut().zip(&*self.grad).zip(&self.s[slot * w..]) {
            *yi = gi - old;
        }
        for ((yi, gi), old) in second
            .iter_mut()
            .zip(&self.grad[w..])
            .zip(&self.y[slot * w..])
        {
            *yi = gi - old;
        }
        let (x0, s_row) = (&*self.last_good, &mut self.s[slot * w..(slot + 1) * w]);
        precision.encode_row_with(s_row, n, |i| x[i] - x0[i]);
        precision.encode_row(&mut self.y[slot * w..(slot + 1) * w], self.direction);
        let gamma = if self.config.damping && self.len > 0 {
            precision.decode_row(row(self.y, newest, w), self.direction);
            Some(1.0 / (self.rho[newest] * sum_squares(self.direction)))
        } else {
            None
        };
        // From here on the pair as stored: s in `last_good`, y in `direction`.
        precision.decode_row(row(self.s, slot, w), self.last_good);
        precision.decode_row(row(self.y, slot, w), self.direction);
        let (outcome, mut rho) = guard(&self.config, self.last_good, self.direction, gamma);
        if outcome == Curvature::Damped {
            // The damped y as stored: round it, and check s.y again.
            let y_row = &mut self.y[slot * w..(slot + 1) * w];
            precision.encode_row(y_row, self.direction);
            precision.decode_row(y_row, self.direction);
            let sy = dot(self.last_good, self.direction);
            let yy = sum_squares(self.direction);
            rho = (sy > 0.0 && sy.is_finite() && yy.is_finite()).then(|| 1.0 / sy);
        }
        match rho {
            Some(rho) => {
                self.rho[slot] = rho;
                self.len += 1;
                outcome
            }
            None => Curvature::Skipped,
        }
    }

    /// Clears the curvature history.
    fn clear(&mut self) {
        self.len = 0;
        self.oldest = 0;
        self.pending = false;
    }
}

/// Row `i` of rows of `w` floats.
fn row(v: &[f32], i: usize, w: usize) -> &[f32] {
    &v[i * w..(i + 1) * w]
}

/// The curvature guard on a pair `(s, y)`: the outcome and, for a pair to
/// store, `rho = 1 / s.y`. A pair with `s.y <= eps |s| |y|` (or a
/// non-finite value) is skipped, or with damping (`gamma` of the newest
/// pair, `Some` when damping is on and a pair exists) Powell-damped in place.
fn guard(
    config: &LbfgsConfig,
    s: &[f32],
    y: &mut [f32],
    gamma: Option<f32>,
) -> (Curvature, Option<f32>) {
    let mut sy = dot(s, y);
    let (ss, yy) = (sum_squares(s), sum_squares(y));
    let bound = config.curvature_eps * libm::sqrtf(ss) * libm::sqrtf(yy);
    let mut outcome = Curvature::Stored;
    if !(sy > bound) || !sy.is_finite() || !yy.is_finite() || !ss.is_finite() {
        if !config.damping || !(ss > 0.0) || !ss.is_finite() {
            return (Curvature::Skipped, None);
        }
        // Powell damping with B ~ I / gamma: y <- theta y + (1 - theta) B s,
        // which makes s.y = 0.2 s.B.s.
        let gamma = gamma.unwrap_or(1.0);
        let sbs = ss / gamma;
        let theta = 0.8 * sbs / (sbs - sy);
        for (yi, si) in y.iter_mut().zip(s) {
            *yi = theta * *yi + (1.0 - theta) * (si / gamma);
        }
        sy = dot(s, y);
        if !(sy > 0.0) || !sy.is_finite() {
            return (Curvature::Skipped, None);
        }
        outcome = Curvature::Damped;
    }
    (outcome, Some(1.0 / sy))
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
            // Naive mode: the previous batch's gradient waits in the
            // pending slot, so the new one can go to `grad`.
            let f = match checked_loss_grad(objective, x, self.grad, &mut report)? {
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
                report.curvature = self.complete_pair(x);
            }
            self.pending = false;
            self.have_grad = true;
            self.last_good.copy_from_slice(x);
            f
        };
        report.loss = f;
        report.grad_norm_inf = norm_inf(self.grad);
        let n = self.n();
        let f32_pairs = self.config.pair_precision == PairPrecision::F32;

        for inner in 0..self.config.inner_iterations {
            if self.config.grad_tolerance > 0.0 && norm_inf(self.grad) <= self.config.grad_tolerance
            {
                report.status = Status::Converged;
                self.cached_loss = Some(f);
                return Ok(report);
            }
            // Here x equals the last good point (set above, checked by
            // `reusable`, or set at the end of the previous iteration).
            self.two_loop();
            let q: &[f32] = if f32_pairs {
                self.last_good
            } else {
                self.direction
            };
            let mut slope = f64::from(dot(self.grad, q));
            let descent = slope < 0.0 && all_finite(q);
            if !descent {
                // Not a descent direction (rounding in H): start over.
                self.clear();
            }
            // The first step of a history moves `initial_step` (counted
            // before the claim, which may evict a pair).
            let fresh = self.len == 0;
            let slot = self.claim_slot();
            if f32_pairs {
                let d = &mut self.s[slot * n..(slot + 1) * n];
                if descent {
                    d.copy_from_slice(self.last_good);
                } else {
                    negate(d, self.grad);
                }
            } else if !descent {
                negate(self.direction, self.grad);
            }
            self.last_good.copy_from_slice(x);
            if !descent {
                slope = -f64::from(sum_squares(self.grad));
            }
            self.park_gradient(slot);
            let d: &[f32] = if f32_pairs {
                &self.s[slot * n..(slot + 1) * n]
            } else {
                self.direction
            };
            let d_norm = libm::sqrt(f64::from(sum_squares(d)));
            let a0 = if fresh {
                f64::from(self.config.initial_step) / d_norm
            } else {
                f64::from(self.config.initial_step)
            };
            report.slope = slope;
            let line = Line {
                x0: self.last_good,
                d,
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
                self.grad,
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
            // s (formed with the pair) is the step actually taken, x - x0
            // as rounded in f32 (not a d), so that the pair describes the
            // points the gradients were computed at; near a minimizer the
            // two differ.
            let last_inner = inner + 1 == self.config.inner_iterations;
            // On an unchanged objective both modes form the same pair.
            if self.config.mode == CurvatureMode::Naive && last_inner && !unchanged {
                // y waits for the next batch's gradient at this point.
                self.pending = true;
            } else {
                if !accepted.has_grad {
                    match checked_loss_grad(objective, x, self.grad, &mut report)? {
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
                report.curvature = self.complete_pair(x);
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
    precision: PairPrecision,
}

impl PairsView<'_> {
    /// Row `i` of `rows` as f32: the stored row itself, or decoded into
    /// `scratch` (16-bit pairs).
    fn row<'r>(&self, rows: &'r [f32], i: usize, n: usize, scratch: &'r mut [f32]) -> &'r [f32] {
        let w = self.precision.row_words(n);
        match self.precision {
            PairPrecision::F32 => row(rows, i, w),
            PairPrecision::Bf16 | PairPrecision::F16 => {
                self.precision
                    .decode_row(row(rows, i, w), &mut scratch[..n]);
                &scratch[..n]
            }
        }
    }

    /// `q = H v` by the two-loop recursion (`scratch`: `n` floats for
    /// decoded rows with 16-bit pairs, unused with f32 pairs).
    fn apply(&self, v: &[f32], q: &mut [f32], scratch: &mut [f32]) {
        let n = v.len();
        q.copy_from_slice(v);
        let mut alpha = [0.0f32; MAX_HISTORY];
        for k in (0..self.len).rev() {
            let i = (self.oldest + k) % self.m;
            let a = self.rho[i] * dot(self.row(self.s, i, n, scratch), q);
            alpha[i] = a;
            axpy(q, -a, self.row(self.y, i, n, scratch));
        }
        if self.len > 0 {
            let newest = (self.oldest + self.len - 1) % self.m;
            let yy = sum_squares(self.row(self.y, newest, n, scratch));
            let gamma = 1.0 / (self.rho[newest] * yy);
            scale(q, gamma);
        }
        for k in 0..self.len {
            let i = (self.oldest + k) % self.m;
            let beta = self.rho[i] * dot(self.row(self.y, i, n, scratch), q);
            axpy(q, alpha[i] - beta, self.row(self.s, i, n, scratch));
        }
    }
}

/// True if the two vectors hold the same bits.
fn bits_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pair whose `s.y` is positive in f32 but zero once `y` is rounded
    /// to bfloat16 (`-(1 - 2^-10)` rounds to `-1`): f32 pairs store it,
    /// bf16 pairs skip it, because the guard sees the stored values.
    #[test]
    fn the_guard_judges_the_rounded_pair() {
        for (precision, expected) in [
            (PairPrecision::F32, Curvature::Stored),
            (PairPrecision::Bf16, Curvature::Skipped),
        ] {
            let config = LbfgsConfig {
                pair_precision: precision,
                ..LbfgsConfig::new(2)
            };
            let mut storage = [0.0f32; Lbfgs::storage_len_with(2, 2, PairPrecision::F32)];
            let mut lbfgs = Lbfgs::new(config, 2, &mut storage).unwrap();
            let slot = lbfgs.claim_slot();
            lbfgs.grad.copy_from_slice(&[0.5, 0.25]);
            lbfgs.park_gradient(slot);
            lbfgs
                .grad
                .copy_from_slice(&[1.5, 0.25 - (1.0 - 1.0 / 1024.0)]);
            lbfgs.last_good.copy_from_slice(&[2.0, 2.0]);
            let outcome = lbfgs.complete_pair(&[3.0, 3.0]);
            assert_eq!(outcome, expected, "{precision:?}");
            assert_eq!(lbfgs.pairs(), usize::from(expected == Curvature::Stored));
            if expected == Curvature::Stored {
                // s = (1, 1), y = (1, -(1 - 2^-10)): s.y = 2^-10.
                assert_eq!(lbfgs.rho[slot], 1024.0);
            }
        }
    }

    /// Pairs stored in 16 bits with `rho` from the stored values: the
    /// two-loop's `H` is positive definite (`v.Hv > 0`) for vectors of every
    /// sign pattern, and the pairs it holds satisfy the secant equation
    /// `H y = s` for the newest pair as stored.
    #[test]
    fn rounded_pairs_keep_the_inverse_hessian_positive_definite() {
        // A badly scaled quadratic, 1/2 sum c_i x_i^2, and its pairs.
        let c = [1.0f32, 3.0, 1e-3, 250.0, 0.07];
        let n = c.len();
        for precision in [PairPrecision::Bf16, PairPrecision::F16] {
            let config = LbfgsConfig {
                pair_precision: precision,
                ..LbfgsConfig::new(3)
            };
            let mut storage = [0.0f32; Lbfgs::storage_len_with(5, 3, PairPrecision::F32)];
            let mut lbfgs = Lbfgs::new(config, n, &mut storage).unwrap();
            let mut x = [1.0f32, -0.3, 0.77, 0.01, 2.0];
            let grad = |x: &[f32], g: &mut [f32]| {
                for i in 0..n {
                    g[i] = c[i] * x[i];
                }
            };
            for k in 0..4 {
                let slot = lbfgs.claim_slot();
                lbfgs.last_good.copy_from_slice(&x);
                grad(&x, lbfgs.grad);
                lbfgs.park_gradient(slot);
                for (i, xi) in x.iter_mut().enumerate() {
                    *xi -= 0.1 * (k as f32 + 1.0) * (i as f32 - 1.5);
                }
                grad(&x, lbfgs.grad);
                assert_eq!(lbfgs.complete_pair(&x), Curvature::Stored, "{precision:?}");
            }
            assert_eq!(lbfgs.pairs(), 3);
            let mut hv = [0.0f32; 5];
            for pattern in 0..32u32 {
                let v: Vec<f32> = (0..n)
                    .map(|i| {
                        if pattern >> i & 1 == 1 {
                            -1.0
                        } else {
                            0.5 + i as f32
                        }
                    })
                    .collect();
                lbfgs.apply_inverse_hessian(&v, &mut hv).unwrap();
                let vhv: f64 = v.iter().zip(&hv).map(|(a, b)| f64::from(a * b)).sum();
                assert!(vhv > 0.0, "{precision:?} v.Hv = {vhv} for {v:?}");
            }
            // The newest pair as stored: H y = s.
            let newest = (lbfgs.oldest + lbfgs.len - 1) % 3;
            let w = precision.row_words(n);
            let (mut s, mut y) = ([0.0f32; 5], [0.0f32; 5]);
            precision.decode_row(row(lbfgs.s, newest, w), &mut s);
            precision.decode_row(row(lbfgs.y, newest, w), &mut y);
            lbfgs.apply_inverse_hessian(&y, &mut hv).unwrap();
            for (h, si) in hv.iter().zip(&s) {
                assert!(
                    (h - si).abs() <= 1e-4 * si.abs().max(1.0),
                    "{precision:?} {hv:?} vs {s:?}"
                );
            }
        }
    }

    #[test]
    fn storage_lengths_by_precision() {
        // n = 1210, m = 5: 12 n + 21 floats with f32 pairs; 5 * 2 * 605 +
        // 3 n + 21 with 16-bit pairs.
        assert_eq!(Lbfgs::storage_len(1210, 5), 14_541);
        assert_eq!(Lbfgs::storage_len_with(1210, 5, PairPrecision::Bf16), 9_701);
        assert_eq!(Lbfgs::storage_len_with(1211, 5, PairPrecision::F16), 9_714);
    }

    #[test]
    fn a_state_of_another_precision_does_not_resume() {
        let bf16 = LbfgsConfig {
            pair_precision: PairPrecision::Bf16,
            ..LbfgsConfig::new(2)
        };
        let mut storage = [0.0f32; Lbfgs::storage_len_with(4, 2, PairPrecision::F32)];
        Lbfgs::new(bf16, 4, &mut storage).unwrap();
        let f16 = LbfgsConfig {
            pair_precision: PairPrecision::F16,
            ..bf16
        };
        let at = Lbfgs::body_len(4, 2, PairPrecision::F16) + PRECISION;
        assert!(matches!(
            Lbfgs::resume(f16, 4, &mut storage),
            Err(Error::Format { offset, .. }) if offset == 4 * at
        ));
        assert!(Lbfgs::resume(bf16, 4, &mut storage).is_ok());
    }
}
