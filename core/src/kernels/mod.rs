//! The hot loops: the only place where sooth does arithmetic over long vectors.
//!
//! Every kernel fixes its summation order in its contract, so that the same
//! inputs give the same bits on every target, at every optimisation level:
//!
//! * reductions ([`dot`], [`sum_squares`]) keep [`LANES`](reduce::LANES) independent
//!   accumulators; lane `k` adds the products of the elements `i` with
//!   `i % LANES == k` in increasing `i`, then the lanes are combined by the
//!   fixed tree `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`, then the tail
//!   (`len % LANES` elements) is added in increasing `i`;
//! * sums of terms ([`axpy_n`], [`linear_combinations`],
//!   [`add_outer_nonzero`]) add every element's terms in a stated order, as
//!   the same sequence of [`axpy`]s would;
//! * element-wise kernels ([`axpy`], [`scale`], ...) compute each element on its
//!   own, so their order does not matter.
//!
//! Multiplications and additions stay separate (no `mul_add`): rustc never
//! contracts them, and a Cortex-M4F's `vmla.f32` rounds after the multiply, so
//! x86_64 and thumbv7em agree bit for bit. The lane loops are written over
//! `chunks_exact` with array accumulators, which LLVM turns into SSE/AVX
//! vectors on x86_64 without changing a single rounding.
//!
//! The kernels that the network's passes spend their time in are register
//! blocked for SSE2: [`affine_many`] computes four rows' dot products at once
//! (each chunk of the input loaded once for four rows), the sums of terms
//! work on tiles of 16 elements kept in registers while up to eight terms
//! are added. Where LLVM's vectorisers would regroup the work in a slower
//! way, `core::hint::black_box` marks a boundary they do not cross; it
//! changes no value. Without SIMD (other than x86_64, e.g. a Cortex-M4F) the
//! same arithmetic is blocked for a scalar FPU's 32 registers: the affine map
//! takes two rows at a time (16 accumulators), the sums of terms tiles of 8
//! elements; the firmware compiles the core at `opt-level = 3` so that these
//! fixed-size loops are unrolled into registers (`scripts/device-cost.sh`
//! counts what that saves).
//!
//! # Layout
//! * [`reduce`]: the reductions (dot products) and the affine map made of
//!   them;
//! * [`terms`]: the sums of terms (`y += sum_j a_j x_j`, the weight gradient);
//! * [`elementwise`]: element-wise passes, norms and finiteness checks,
//!   Adam's update;
//! * [`exp`]: the exponential and the softmax rows;
//! * this module: the run-time choice of kernel set ([`use_kernels`]) and
//!   the one place that picks the architecture (`arch`).
//!
//! # Dispatch
//! Every kernel has one entry point, `k(...)`, whose portable body sits next
//! to it. It first offers the work to `arch::k(...)`, which returns
//! `Some(result)` when the kernel set in use has a faster version of `k` for
//! these arguments, else `None` having changed nothing (a kernel whose
//! arguments are moved, [`adam_update`], gets them back: `Ok(result)` or
//! `Err(arguments)`); the entry point then runs its portable body. On
//! x86_64, `arch` is the AVX/AVX-512 module (`avx.rs`, its kernel set chosen
//! by `cpuid` at run time); elsewhere it is `no_simd.rs`, which declines
//! everything. Element-wise passes written outside this module (SGD's
//! update) go through [`vectorized`], the same pattern for a body given as
//! an [`ElementWise`] value.

mod elementwise;
mod exp;
mod reduce;
mod terms;
#[cfg(test)]
mod tests;

// The architecture is chosen here and only here: `arch` has the same
// functions on every target.
#[cfg(target_arch = "x86_64")]
mod avx;
#[cfg(target_arch = "x86_64")]
use avx as arch;
#[cfg(not(target_arch = "x86_64"))]
mod no_simd;
#[cfg(not(target_arch = "x86_64"))]
use no_simd as arch;

pub(crate) use elementwise::{
    AdamUpdate, adam_update, all_finite, along, axpy, flush_negligible, negate, non_finite,
    norm_inf, scale, sub,
};
pub(crate) use exp::softmax_rows;
pub(crate) use reduce::{affine_many, dot, sum_squares};
pub(crate) use terms::{add_outer_nonzero, axpy_n, linear_combinations};

/// Whether the target has SIMD that the kernels' register blocking is shaped
/// for (SSE2 on x86_64). Without it (a Cortex-M4F's scalar FPU), the kernels
/// keep the same arithmetic in smaller blocks, which fit 32 scalar registers.
pub(crate) const SIMD: bool = cfg!(target_arch = "x86_64");

/// The versions of the network's hot kernels, from the portable ones up.
/// All give the same bits; the wider ones are faster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KernelSet {
    /// The portable kernels (SSE2 on x86_64, scalar elsewhere).
    Portable,
    /// AVX (256-bit) on x86_64.
    Avx,
    /// AVX-512 (F and DQ) on x86_64 for the affine map and the sums of
    /// terms, AVX for the rest.
    Avx512,
}

/// Uses the best kernel set that the CPU and OS support, but at most
/// `limit`; returns the set now in use. By default the best one is used;
/// since they all give the same bits, this exists to show that (and to
/// time them). Other targets than x86_64 have only the portable kernels.
pub fn use_kernels(limit: KernelSet) -> KernelSet {
    arch::set_limit(limit)
}

/// The kernel set in use (see [`use_kernels`]).
pub fn kernels_in_use() -> KernelSet {
    arch::in_use()
}

/// An element-wise pass (each element computed on its own, or a reduction
/// whose order does not matter), for [`vectorized`]. Implementations mark
/// `run` `#[inline(always)]`, so that it is compiled into its caller with
/// that caller's instruction set.
pub(crate) trait ElementWise {
    /// What the pass returns.
    type Output;
    /// Runs the pass.
    fn run(self) -> Self::Output;
}

/// Runs `pass` with the widest vector instructions in use: with AVX, from a
/// function compiled with AVX (`arch::vectorized`), so that its loops use
/// 256-bit vectors; else as it is. Each element gets the same operations
/// either way (AVX has no fused multiply-add), so the same bits.
#[inline(always)]
pub(crate) fn vectorized<P: ElementWise>(pass: P) -> P::Output {
    match arch::vectorized(pass) {
        Ok(out) => out,
        Err(pass) => pass.run(),
    }
}
