//! The `sooth` command line's library: data readers, training runs, sweeps,
//! statistics and reports, around `sooth-core`.

#![deny(missing_docs)]

pub mod adapt;
pub mod atomic;
pub mod cli;
pub mod data;
pub mod export;
pub mod predict;
pub mod report;
pub mod run;
pub mod run_files;
pub mod slurm;
pub mod spec;
pub mod stats;
pub mod sweep;
pub mod tune;
