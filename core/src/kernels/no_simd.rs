//! The kernels' `arch` on targets without the SIMD versions (all but
//! x86_64, e.g. a Cortex-M4F): only the portable kernel set, so every
//! function here declines (`None`, or `Err` with the arguments) and the
//! kernels run their portable bodies. The same functions as `avx.rs`, so
//! that the [parent module](super) dispatches in one way on every target.

use super::elementwise::AdamUpdate;
use super::{ElementWise, KernelSet};

/// The kernel set in use: always the portable one.
#[inline(always)]
pub(super) fn in_use() -> KernelSet {
    KernelSet::Portable
}

/// The portable kernel set is the only one, whatever `limit` asks.
#[inline(always)]
pub(super) fn set_limit(limit: KernelSet) -> KernelSet {
    let _ = limit;
    KernelSet::Portable
}

/// Hands `pass` back: it runs as it is.
#[inline(always)]
pub(super) fn vectorized<P: ElementWise>(pass: P) -> Result<P::Output, P> {
    Err(pass)
}

/// Declines.
#[inline(always)]
pub(super) fn affine_many(_: &[f32], _: &[f32], _: &[f32], _: usize, _: &mut [f32]) -> Option<()> {
    None
}

/// Declines.
#[inline(always)]
pub(super) fn linear_combinations(_: &mut [f32], _: &[f32], _: &[f32], _: usize) -> Option<()> {
    None
}

/// Declines.
#[inline(always)]
pub(super) fn add_outer_nonzero(_: &mut [f32], _: &[f32], _: &[f32], _: usize) -> Option<()> {
    None
}

/// Declines.
#[inline(always)]
pub(super) fn exp_moderate(_: &mut [f32]) -> Option<()> {
    None
}

/// Declines.
#[inline(always)]
pub(super) fn softmax_rows(
    _: &mut [f32],
    _: usize,
    _: &mut [f32],
    _: &mut [f32],
    _: f32,
    _: bool,
) -> Option<()> {
    None
}

/// Declines, handing the arguments back.
#[inline(always)]
pub(super) fn adam_update(u: AdamUpdate<'_>) -> Result<u32, AdamUpdate<'_>> {
    Err(u)
}

/// Declines.
#[inline(always)]
pub(super) fn sqrt_add(_: &mut [f32], _: &[f32], _: f32) -> Option<()> {
    None
}
