//! Learning on the device from data that arrives at run time.
//!
//! * [`SampleStore`]: labelled samples in a fixed capacity of caller
//!   storage, kept by a [`Retention`] policy (the latest `N`, or a uniform
//!   reservoir sample of everything seen); a [`Dataset`](crate::Dataset).
//! * [`OnlineTrainer`]: owns the store and the run's buffers
//!   ([`OnlineBuffers`], lengths from [`OnlineSetup::buffer_lengths`]);
//!   samples are pushed at any time, [`train`](OnlineTrainer::train) takes
//!   `k` optimizer steps on minibatches drawn from what is stored, and the
//!   optimizer's whole state (L-BFGS history included) survives between
//!   calls.
//! * [`snapshot`]: the whole state as bytes
//!   ([`save`](OnlineTrainer::save), [`restore`](OnlineTrainer::restore)),
//!   e.g. to flash across a reset; training continues bit for bit.
//!
//! Same contracts as the rest of the core: no allocation, every length a
//! `const fn`, errors instead of panics, and the same seed and the same
//! order of pushes and steps give the same bits on x86_64 and the Cortex-M4F.

pub mod snapshot;
mod store;
mod trainer;

pub use store::{PushOutcome, Retention, SampleStore};
pub use trainer::{OnlineBuffers, OnlineLengths, OnlineReport, OnlineSetup, OnlineTrainer};
