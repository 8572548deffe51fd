//! A study as a Slurm job array, one array task per shard, and a merge job
//! that runs once every task has succeeded.
//!
//! Everything lives in the results directory `DIR` (which every node must
//! see): `study.toml` (the study, pinned: every task reads this copy),
//! `shard-K/` (the sweep of shard K/N), `logs/`, the two job scripts, and,
//! after the merge job, the merged `study.json`, `runs.jsonl`, `runs.csv`
//! and `curves.jsonl`. A task resumes its shard, so resubmitting any task
//! (or the whole array) reruns only the runs that are missing.
//!
//! [`write_jobs`] pins the study and writes the scripts, [`submit()`] hands
//! them to `sbatch`, [`read_status`] reads each shard's progress; the
//! pieces are in [`script`] (the job scripts and their quoting), [`shards`]
//! (shard accounting) and [`submit`](mod@submit) (`sbatch`). Errors are
//! [`SlurmError`]s, worded for people.

mod error;
pub mod script;
pub mod shards;
pub mod submit;

pub use error::SlurmError;
pub use script::{JobScripts, array_list, shell_quote, shell_word};
pub use shards::{ShardState, TaskListError, Tasks, incomplete};
pub use submit::{Submitted, submit};

use crate::sweep::{Study, store};
use std::path::{Path, PathBuf};

/// The pinned study in the results directory.
pub const PINNED_STUDY: &str = "study.toml";
/// The job array's script.
pub const SWEEP_SCRIPT: &str = "sweep.sbatch";
/// The merge job's script.
pub const MERGE_SCRIPT: &str = "merge.sbatch";
/// The directory of the jobs' logs, in the results directory.
pub const LOGS: &str = "logs";

/// What to write for a study on Slurm (the flags of `sooth slurm`).
#[derive(Clone, Debug, PartialEq)]
pub struct JobRequest {
    /// The results directory, on a file system every node sees (created).
    pub out: PathBuf,
    /// The study (TOML); `None`: the study already pinned in `out`, else the
    /// built-in default study.
    pub config: Option<PathBuf>,
    /// Number of shards; `None`: as many as the shard directories in `out`
    /// say.
    pub shards: Option<usize>,
    /// CPUs of each task (`>= 1`; the sweep runs that many runs at once).
    pub cpus_per_task: usize,
    /// `--mem` of each task.
    pub mem: Option<String>,
    /// `--time` of each task.
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// More `#SBATCH` options for both jobs.
    pub sbatch_options: Vec<String>,
    /// The sooth binary the jobs run; `None`: the running one.
    pub sooth: Option<PathBuf>,
    /// Where to write the two scripts; `None`: `out`.
    pub script_dir: Option<PathBuf>,
    /// The array tasks to submit; `None`: all.
    pub tasks: Option<Tasks>,
}

/// What [`write_jobs`] wrote, and the plan the scripts run.
#[derive(Clone, Debug, PartialEq)]
pub struct WrittenJobs {
    /// The results directory (canonical).
    pub out: PathBuf,
    /// The pinned study.
    pub study: Study,
    /// The name of the study's data set.
    pub data_name: String,
    /// Number of runs in the study.
    pub runs: usize,
    /// Number of shards (array tasks), in `1..=runs`.
    pub shards: usize,
    /// Each shard's plan and progress.
    pub states: Vec<ShardState>,
    /// The job array's script.
    pub sweep_script: PathBuf,
    /// The merge job's script.
    pub merge_script: PathBuf,
    /// The directory of the jobs' logs.
    pub logs: PathBuf,
    /// The array tasks to submit (sorted; `Tasks::Missing` resolved to the
    /// incomplete shards); `None`: all.
    pub tasks: Option<Vec<usize>>,
}

impl WrittenJobs {
    /// True when only some tasks were asked for and none of them is left.
    pub fn nothing_to_run(&self) -> bool {
        self.tasks.as_ref().is_some_and(|l| l.is_empty())
    }

    /// The arguments of `sbatch` for the array: `--array=LIST` when only
    /// some tasks are asked for, then the script.
    pub fn array_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(list) = &self.tasks
            && !list.is_empty()
        {
            args.push(format!("--array={}", array_list(list)));
        }
        args.push(self.sweep_script.to_string_lossy().into_owned());
        args
    }

    /// The merge script as an argument of `sbatch`.
    pub fn merge_arg(&self) -> String {
        self.merge_script.to_string_lossy().into_owned()
    }

    /// The tasks to submit, as an sbatch `--array` list (all of them:
    /// `0-{shards - 1}`).
    pub fn shown_tasks(&self) -> String {
        match &self.tasks {
            Some(list) => array_list(list),
            None => format!("0-{}", self.shards - 1),
        }
    }
}

/// Checks `request`, pins its study in `request.out` (see
/// [`shards::pin_study`]), writes the two job scripts and the logs
/// directory, and reads each shard's progress. Nothing is written when a
/// flag's value is refused.
pub fn write_jobs(request: &JobRequest) -> Result<WrittenJobs, SlurmError> {
    for (flag, value) in [
        ("--mem", &request.mem),
        ("--time", &request.time),
        ("--partition", &request.partition),
        ("--account", &request.account),
    ] {
        if let Some(v) = value {
            script::sbatch_value(flag, v)?;
        }
    }
    for option in &request.sbatch_options {
        script::sbatch_option(option)?;
    }
    std::fs::create_dir_all(&request.out).map_err(SlurmError::io(&request.out))?;
    let out = request
        .out
        .canonicalize()
        .map_err(SlurmError::io(&request.out))?;
    let out_text = script::sbatch_path(&out, "--out")?;
    let sooth = match &request.sooth {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(SlurmError::CurrentExe)?,
    };
    let sooth = sooth.canonicalize().map_err(|source| SlurmError::Sooth {
        path: sooth.clone(),
        source,
    })?;
    if !sooth.is_file() {
        return Err(SlurmError::SoothNotAFile(sooth));
    }
    let study = shards::pin_study(&out, request.config.as_deref())?;
    let (data, runs) = crate::sweep::prepare(&study).map_err(SlurmError::sweep)?;
    let n = shards::shard_count(&out, &study, request.shards, runs.len())?;
    if let Some(Tasks::List(list)) = &request.tasks
        && let Some(&task) = list.iter().find(|&&k| k >= n)
    {
        return Err(SlurmError::NoSuchTask { task, shards: n });
    }
    let script_dir = request.script_dir.clone().unwrap_or_else(|| out.clone());
    std::fs::create_dir_all(&script_dir).map_err(SlurmError::io(&script_dir))?;
    let script_dir = script_dir
        .canonicalize()
        .map_err(SlurmError::io(&script_dir))?;
    let logs = out.join(LOGS);
    // Slurm opens the log files before a task starts: the directory must exist.
    std::fs::create_dir_all(&logs).map_err(SlurmError::io(&logs))?;
    let jobs = JobScripts {
        out: out_text,
        sooth: sooth.to_string_lossy().into_owned(),
        shards: n,
        name: script::job_name(&out),
        cpus_per_task: request.cpus_per_task,
        mem: request.mem.clone(),
        time: request.time.clone(),
        partition: request.partition.clone(),
        account: request.account.clone(),
        extra: request.sbatch_options.clone(),
    };
    let sweep_script = script_dir.join(SWEEP_SCRIPT);
    let merge_script = script_dir.join(MERGE_SCRIPT);
    store::write_atomically(&sweep_script, jobs.sweep_script().as_bytes())
        .map_err(SlurmError::sweep)?;
    store::write_atomically(&merge_script, jobs.merge_script().as_bytes())
        .map_err(SlurmError::sweep)?;

    let states = shards::shard_states(&out, &runs, n)?;
    let tasks = match &request.tasks {
        None => None,
        Some(Tasks::Missing) => Some(incomplete(&states)),
        Some(Tasks::List(list)) => Some(list.clone()),
    };
    Ok(WrittenJobs {
        out,
        study,
        data_name: data.name.clone(),
        runs: runs.len(),
        shards: n,
        states,
        sweep_script,
        merge_script,
        logs,
        tasks,
    })
}

/// The progress of a study written by [`write_jobs`].
#[derive(Clone, Debug, PartialEq)]
pub struct StudyStatus {
    /// The pinned study.
    pub study: Study,
    /// Number of runs in the study.
    pub runs: usize,
    /// Number of shards.
    pub shards: usize,
    /// Each shard's plan and progress.
    pub states: Vec<ShardState>,
    /// Runs in the merged results in `DIR`; `None` before the merge.
    pub merged: Option<usize>,
}

/// Reads the progress of the study pinned in `out`, split into `shards`
/// shards, or as many as `DIR/sweep.sbatch` or the shard directories say.
/// Writes nothing.
pub fn read_status(out: &Path, shards: Option<usize>) -> Result<StudyStatus, SlurmError> {
    let pinned = out.join(PINNED_STUDY);
    let text = std::fs::read_to_string(&pinned).map_err(|source| SlurmError::NoPinnedStudy {
        path: pinned.clone(),
        source,
    })?;
    let study =
        Study::from_toml(&text, &pinned.display().to_string()).map_err(SlurmError::sweep)?;
    let (_, runs) = crate::sweep::prepare(&study).map_err(SlurmError::sweep)?;
    let given = shards.or_else(|| script::scripted_shards(out));
    let n = shards::shard_count(out, &study, given, runs.len())?;
    let states = shards::shard_states(out, &runs, n)?;
    let (merged, _) =
        shards::finished_runs(out, &runs.iter().map(|r| r.run_id.as_str()).collect())?;
    let merged = store::read_manifest(out)
        .map_err(SlurmError::sweep)?
        .map(|_| merged);
    Ok(StudyStatus {
        study,
        runs: runs.len(),
        shards: n,
        states,
        merged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUDY: &str = r#"
name = "slurm library test"
[data]
dataset = "digits"
[model]
hidden = [8]
[grid]
batch_sizes = ["32", "full"]
seeds = 2
epochs = 1
[[optimizer]]
name = "sgd"
lr = 0.1
"#;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sooth-slurm-lib-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    }

    fn request(dir: &Path, shards: usize) -> JobRequest {
        JobRequest {
            out: dir.join("out"),
            config: Some(dir.join("study.toml")),
            shards: Some(shards),
            cpus_per_task: 2,
            mem: Some("1G".into()),
            time: None,
            partition: None,
            account: None,
            sbatch_options: vec!["--qos=low".into()],
            sooth: None,
            script_dir: None,
            tasks: None,
        }
    }

    #[test]
    fn jobs_are_written_and_their_status_read_back() {
        let dir = scratch("write");
        std::fs::write(dir.join("study.toml"), STUDY).unwrap();
        let mut req = request(&dir, 3);
        req.tasks = Some(Tasks::Missing);
        let jobs = write_jobs(&req).unwrap();
        let out = dir.join("out");
        assert_eq!(jobs.out, out);
        assert_eq!((jobs.runs, jobs.shards, jobs.states.len()), (4, 3, 3));
        assert_eq!(jobs.states.iter().map(|s| s.runs).sum::<usize>(), 4);
        assert_eq!(jobs.tasks, Some(vec![0, 1, 2]));
        assert!(!jobs.nothing_to_run());
        assert_eq!(jobs.shown_tasks(), "0-2");
        let sweep = out.join(SWEEP_SCRIPT);
        assert_eq!(
            jobs.array_args(),
            ["--array=0-2".to_string(), sweep.display().to_string()]
        );
        assert_eq!(
            jobs.merge_arg(),
            out.join(MERGE_SCRIPT).display().to_string()
        );
        let script = std::fs::read_to_string(&sweep).unwrap();
        assert!(
            script.contains("#SBATCH --mem=1G\n#SBATCH --qos=low\n"),
            "{script}"
        );
        assert!(out.join(LOGS).is_dir());
        assert!(out.join(PINNED_STUDY).is_file());

        let status = read_status(&out, None).unwrap();
        assert_eq!((status.runs, status.shards, status.merged), (4, 3, None));
        assert_eq!(status.states, jobs.states);
        assert_eq!(status.study, jobs.study);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refusals_are_typed_and_write_nothing() {
        let dir = scratch("refuse");
        std::fs::write(dir.join("study.toml"), STUDY).unwrap();
        let mut req = request(&dir, 3);
        req.time = Some("1 h".into());
        let e = write_jobs(&req).unwrap_err();
        assert!(matches!(e, SlurmError::NotOneWord { .. }), "{e:?}");
        assert!(!dir.join("out").exists());

        let e = write_jobs(&request(&dir, 5)).unwrap_err();
        assert!(
            matches!(e, SlurmError::TooManyShards { shards: 5, runs: 4 }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "--shards 5: the study has only 4 runs; give at most 4 shards"
        );

        let mut req = request(&dir, 2);
        req.tasks = Some(Tasks::List(vec![1, 2]));
        let e = write_jobs(&req).unwrap_err();
        assert!(
            matches!(e, SlurmError::NoSuchTask { task: 2, shards: 2 }),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "--tasks: there is no task 2; the array's tasks are 0-1"
        );

        let e = read_status(&dir.join("nowhere"), None).unwrap_err();
        assert!(matches!(e, SlurmError::NoPinnedStudy { .. }), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
