//! The one error type of the Slurm layer, worded for the person at the
//! login node.

use crate::sweep::Shard;
use std::path::PathBuf;
use std::process::ExitStatus;

/// Why a study could not be written as Slurm jobs, submitted, or its
/// progress read.
///
/// Each variant displays as the message `sooth slurm` prints, e.g.
/// `--shards 40: the study has only 18 runs; give at most 18 shards`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlurmError {
    /// A file or directory could not be read, written or created.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `DIR/study.toml` could not be read for `--status`.
    #[error("{}: {source}; expected a directory written by `sooth slurm`", path.display())]
    NoPinnedStudy {
        /// The pinned study's path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The path of the running sooth binary is unknown.
    #[error("the sooth binary: {0}")]
    CurrentExe(std::io::Error),
    /// The `--sooth` binary cannot be resolved.
    #[error("--sooth {}: {source}", path.display())]
    Sooth {
        /// The path given.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The `--sooth` path is not a file.
    #[error("--sooth {}: not a file", .0.display())]
    SoothNotAFile(PathBuf),
    /// A path that an `#SBATCH` line must hold is not UTF-8.
    #[error("{what} {}: not UTF-8", path.display())]
    PathNotUtf8 {
        /// The flag the path came from (`--out`).
        what: String,
        /// The path.
        path: PathBuf,
    },
    /// A path holds a character an `#SBATCH` line cannot hold.
    #[error(
        "{what} {path}: contains {found:?}, which #SBATCH lines cannot hold; choose a \
         directory without spaces, quotes, backslashes or %"
    )]
    PathUnfit {
        /// The flag the path came from (`--out`).
        what: String,
        /// The path.
        path: String,
        /// The first character it cannot hold.
        found: char,
    },
    /// A resource flag's value is not one word.
    #[error("invalid value {value:?} for '{flag}': expected one word without spaces")]
    NotOneWord {
        /// The flag (`--mem`).
        flag: String,
        /// Its value.
        value: String,
    },
    /// An `--sbatch-option` is not an option.
    #[error(
        "invalid value {0:?} for '--sbatch-option': expected one sbatch option such as \
         --qos=short"
    )]
    NotAnSbatchOption(String),
    /// `--tasks` names a task the array does not have.
    #[error("--tasks: there is no task {task}; the array's tasks are 0-{}", shards - 1)]
    NoSuchTask {
        /// The task asked for.
        task: usize,
        /// The number of shards (`>= 1`).
        shards: usize,
    },
    /// `DIR/study.toml` pins another study than the one given.
    #[error(
        "{} pins another study (config hash {pinned_hash}) than {given} (config hash \
         {given_hash}); its shards belong to that one: use another --out, or delete {} to \
         start over",
        pinned.display(),
        out.display()
    )]
    OtherStudyPinned {
        /// The pinned study's path.
        pinned: PathBuf,
        /// Its config hash.
        pinned_hash: String,
        /// The study given (its path, or `the default study`).
        given: String,
        /// Its config hash.
        given_hash: String,
        /// The results directory.
        out: PathBuf,
    },
    /// The results directory holds a merged sweep of another study.
    #[error(
        "{}: holds a sweep of another configuration (hash {found}, this one {wanted}); use \
         another --out directory",
        dir.display()
    )]
    OtherSweep {
        /// The directory.
        dir: PathBuf,
        /// The config hash found there.
        found: String,
        /// The study's config hash.
        wanted: String,
    },
    /// A `shard-K` directory holds a sweep of another study.
    #[error(
        "{}: holds a sweep of another configuration (hash {found}, the pinned study's {wanted})",
        dir.display()
    )]
    OtherShardSweep {
        /// The shard's directory.
        dir: PathBuf,
        /// The config hash found there.
        found: String,
        /// The pinned study's config hash.
        wanted: String,
    },
    /// A `shard-K` directory's manifest names no shard.
    #[error("{}: not a shard's directory", .0.display())]
    NotAShard(PathBuf),
    /// A shard directory was written with another `--shards`.
    #[error(
        "{} holds shard {shard} of this study, not of --shards {given}: give the same \
         --shards, or use another --out",
        dir.display()
    )]
    OtherShardCount {
        /// The shard's directory.
        dir: PathBuf,
        /// The shard it holds.
        shard: Shard,
        /// The `--shards` given.
        given: usize,
    },
    /// No `--shards` and no shard directory to take the count from.
    #[error("{}: no shard has started yet; give --shards N", .0.display())]
    NoShardYet(PathBuf),
    /// `--shards 0`.
    #[error("invalid value '0' for '--shards <N>': expected at least 1")]
    ZeroShards,
    /// More shards than runs.
    #[error("--shards {shards}: the study has only {runs} runs; give at most {runs} shards")]
    TooManyShards {
        /// The shards asked for.
        shards: usize,
        /// The study's runs.
        runs: usize,
    },
    /// `sbatch` could not be started.
    #[error("{command}: {source} (is this a Slurm login node? sbatch must be on the PATH)")]
    SbatchNotFound {
        /// The command line, for people.
        command: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// `sbatch` refused the job.
    #[error("{command} failed ({status}): {stderr}")]
    SbatchFailed {
        /// The command line, for people.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// `sbatch --parsable` printed no job id.
    #[error("{command}: expected a job id, got {stdout:?}")]
    NoJobId {
        /// The command line, for people.
        command: String,
        /// What it printed, trimmed.
        stdout: String,
    },
    /// The array job is submitted but the merge job is not.
    #[error(
        "{source}\nthe array job {array_job} is submitted; submit the merge by hand: sbatch \
         --dependency=afterok:{array_job} {}",
        merge_script.display()
    )]
    MergeNotSubmitted {
        /// The array job's id.
        array_job: String,
        /// The merge job's script.
        merge_script: PathBuf,
        /// Why the merge job was not submitted.
        source: Box<SlurmError>,
    },
    /// The study, its data or a sweep directory (from the sweep layer).
    #[error("{0}")]
    Sweep(Box<dyn std::error::Error + Send + Sync>),
}

impl SlurmError {
    /// An error of the sweep layer (reading the study, loading its data,
    /// reading or writing a sweep directory), shown as it is.
    pub fn sweep(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SlurmError {
        SlurmError::Sweep(e.into())
    }

    /// An I/O error at `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SlurmError {
        let path = path.into();
        move |source| SlurmError::Io { path, source }
    }
}
