//! The run-time choice of kernel set: on x86_64 the network's hot kernels
//! have AVX and AVX-512 versions, picked by `cpuid` at the first call; all
//! give the same bits as the portable ones, so this exists to show that
//! (`SOOTH_KERNELS=portable`) and to time them. Other targets have only
//! [`KernelSet::Portable`].
//!
//! ```
//! use sooth_core::simd::{KernelSet, kernels_in_use, use_kernels};
//! let best = kernels_in_use();
//! assert_eq!(use_kernels(KernelSet::Portable), KernelSet::Portable);
//! assert_eq!(use_kernels(KernelSet::Avx512), best);
//! ```

pub use crate::kernels::{KernelSet, kernels_in_use, use_kernels};
