//! Compile-time-sized storage for firmware: parameters, gradients and
//! workspaces whose widths are const generics, viewed as the flat slices that
//! every algorithm of the core works on (the heapless `Vec`/`VecView` split).
//!
//! This module holds one of the crate's two places of `unsafe` code (the
//! other is the AVX kernels, `kernels::avx`): the views of a
//! `#[repr(C)]` struct of `f32` arrays as one `[f32]`.
//!
//! ```
//! use sooth_core::fixed::{Params1, Workspace1};
//! use sooth_core::{Activation, Mlp};
//! static mut _UNUSED: u8 = 0;
//! let mut params = Params1::<64, 32, 10>::zeroed();
//! let work = Workspace1::<64, 32, 10>::zeroed();
//! let mlp = Mlp::new(Params1::<64, 32, 10>::SHAPE, Activation::Relu);
//! assert_eq!(params.as_mut_slice().len(), mlp.shape().param_count());
//! assert_eq!(work.as_slice().len(), mlp.shape().workspace_len());
//! ```
#![allow(unsafe_code)]

use crate::network::{BLOCK, Shape};

/// Views a `#[repr(C)]` struct made only of `f32` arrays as a flat slice.
///
/// Every implementor is a `#[repr(C)]` struct whose fields are `f32` arrays
/// (possibly nested), so it has alignment 4, no padding (every field's size
/// is a multiple of 4 and its alignment is 4), and every bit pattern of it is
/// a valid value; its size in bytes is 4 times its number of `f32`s.
macro_rules! flat_f32 {
    ($ty:ident < $(const $g:ident),+ >) => {
        impl<$(const $g: usize),+> $ty<$($g),+> {
            /// All values as one flat slice, in field order.
            pub fn as_slice(&self) -> &[f32] {
                let len = core::mem::size_of::<Self>() / core::mem::size_of::<f32>();
                // SAFETY: see the macro's contract: `Self` is `len` contiguous,
                // initialized `f32`s with the alignment of `f32`, borrowed for
                // the slice's lifetime.
                unsafe { core::slice::from_raw_parts(self as *const Self as *const f32, len) }
            }

            /// All values as one flat mutable slice, in field order.
            pub fn as_mut_slice(&mut self) -> &mut [f32] {
                let len = core::mem::size_of::<Self>() / core::mem::size_of::<f32>();
                // SAFETY: as in `as_slice`; the exclusive borrow of `self`
                // makes the slice the only access, and any f32 written is a
                // valid value of the struct.
                unsafe { core::slice::from_raw_parts_mut(self as *mut Self as *mut f32, len) }
            }
        }
    };
}

/// Parameters (or a gradient) of an `I`-`H`-`O` network, in the core's flat layout.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct Params1<const I: usize, const H: usize, const O: usize> {
    w1: [[f32; I]; H],
    b1: [f32; H],
    w2: [[f32; H]; O],
    b2: [f32; O],
}

impl<const I: usize, const H: usize, const O: usize> Params1<I, H, O> {
    /// The shape `[I, H, O]` (a compile error if it is invalid).
    pub const SHAPE: Shape = match Shape::new(&[I, H, O]) {
        Ok(s) => s,
        Err(_) => panic!("invalid network shape"),
    };

    /// All zeros.
    pub const fn zeroed() -> Self {
        Params1 {
            w1: [[0.0; I]; H],
            b1: [0.0; H],
            w2: [[0.0; H]; O],
            b2: [0.0; O],
        }
    }
}
flat_f32!(Params1<const I, const H, const O>);

/// Parameters (or a gradient) of an `I`-`H1`-`H2`-`O` network, in the core's flat layout.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct Params2<const I: usize, const H1: usize, const H2: usize, const O: usize> {
    w1: [[f32; I]; H1],
    b1: [f32; H1],
    w2: [[f32; H1]; H2],
    b2: [f32; H2],
    w3: [[f32; H2]; O],
    b3: [f32; O],
}

impl<const I: usize, const H1: usize, const H2: usize, const O: usize> Params2<I, H1, H2, O> {
    /// The shape `[I, H1, H2, O]` (a compile error if it is invalid).
    pub const SHAPE: Shape = match Shape::new(&[I, H1, H2, O]) {
        Ok(s) => s,
        Err(_) => panic!("invalid network shape"),
    };

    /// All zeros.
    pub const fn zeroed() -> Self {
        Params2 {
            w1: [[0.0; I]; H1],
            b1: [0.0; H1],
            w2: [[0.0; H1]; H2],
            b2: [0.0; H2],
            w3: [[0.0; H2]; O],
            b3: [0.0; O],
        }
    }
}
flat_f32!(Params2<const I, const H1, const H2, const O>);

/// The activation workspace of an `I`-`H`-`O` network
/// (exactly [`Shape::workspace_len`] values).
#[repr(C)]
#[derive(Clone, Debug)]
pub struct Workspace1<const I: usize, const H: usize, const O: usize> {
    input: [[f32; I]; BLOCK],
    hidden: [[[f32; H]; BLOCK]; 2],
    output: [[f32; O]; BLOCK],
}

impl<const I: usize, const H: usize, const O: usize> Workspace1<I, H, O> {
    /// All zeros.
    pub const fn zeroed() -> Self {
        Workspace1 {
            input: [[0.0; I]; BLOCK],
            hidden: [[[0.0; H]; BLOCK]; 2],
            output: [[0.0; O]; BLOCK],
        }
    }
}
flat_f32!(Workspace1<const I, const H, const O>);

/// The activation workspace of an `I`-`H1`-`H2`-`O` network
/// (exactly [`Shape::workspace_len`] values).
#[repr(C)]
#[derive(Clone, Debug)]
pub struct Workspace2<const I: usize, const H1: usize, const H2: usize, const O: usize> {
    input: [[f32; I]; BLOCK],
    hidden1: [[[f32; H1]; BLOCK]; 2],
    hidden2: [[[f32; H2]; BLOCK]; 2],
    output: [[f32; O]; BLOCK],
}

impl<const I: usize, const H1: usize, const H2: usize, const O: usize> Workspace2<I, H1, H2, O> {
    /// All zeros.
    pub const fn zeroed() -> Self {
        Workspace2 {
            input: [[0.0; I]; BLOCK],
            hidden1: [[[0.0; H1]; BLOCK]; 2],
            hidden2: [[[0.0; H2]; BLOCK]; 2],
            output: [[0.0; O]; BLOCK],
        }
    }
}
flat_f32!(Workspace2<const I, const H1, const H2, const O>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_storage_matches_the_runtime_layout() {
        let mut p = Params1::<5, 3, 2>::zeroed();
        let shape = Params1::<5, 3, 2>::SHAPE;
        assert_eq!(p.as_slice().len(), shape.param_count());
        p.b1[2] = 7.0;
        p.w2[1][0] = 9.0;
        let flat = p.as_slice();
        let l0 = shape.layer(0);
        let l1 = shape.layer(1);
        assert_eq!(flat[l0.biases + 2], 7.0);
        assert_eq!(flat[l1.weights + 3], 9.0);
        p.as_mut_slice()[l1.biases + 1] = 4.0;
        assert_eq!(p.b2[1], 4.0);

        let q = Params2::<784, 128, 64, 10>::SHAPE;
        assert_eq!(q.param_count(), 109_386);
        let w = Workspace2::<4, 3, 2, 2>::zeroed();
        assert_eq!(
            w.as_slice().len(),
            Params2::<4, 3, 2, 2>::SHAPE.workspace_len()
        );
        let w = Workspace1::<5, 3, 2>::zeroed();
        assert_eq!(w.as_slice().len(), shape.workspace_len());
    }
}
