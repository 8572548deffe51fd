//! `sooth slurm`: a study as a Slurm job array, one array task per shard,
//! and a merge job that runs once every task has succeeded.
//!
//! Everything lives in the results directory `DIR` (which every node must
//! see): `study.toml` (the study, pinned: every task reads this copy),
//! `shard-K/` (the sweep of shard K/N), `logs/`, the two job scripts, and,
//! after the merge job, the merged `study.json`, `runs.jsonl`, `runs.csv`
//! and `curves.jsonl`. A task resumes its shard, so resubmitting any task
//! (or the whole array) reruns only the runs that are missing.

use crate::sweep::{PlannedRun, Shard, Study, assign_shards, store};
use clap::Args;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned study in the results directory.
pub const PINNED_STUDY: &str = "study.toml";
/// The job array's script.
pub const SWEEP_SCRIPT: &str = "sweep.sbatch";
/// The merge job's script.
pub const MERGE_SCRIPT: &str = "merge.sbatch";
/// The directory of the jobs' logs, in the results directory.
pub const LOGS: &str = "logs";

/// Flags of `sooth slurm`.
#[derive(Debug, Args)]
#[command(after_help = "\
Writes DIR/sweep.sbatch (a job array: task K runs `sooth sweep --shard K/N --out DIR/shard-K`) \
and DIR/merge.sbatch (`sooth merge` of the shards into DIR, then `sooth report DIR` where this \
sooth has it), pins the study as DIR/study.toml and prints each shard's share of the expected \
work. With --submit, submits the array and the merge job (after all tasks succeed). A task \
resumes its shard, so resubmitting reruns only what is missing.

Examples:
  sooth slurm --out /scratch/runs/default --shards 8 --cpus-per-task 4 --time 1:00:00 --submit
  sooth slurm --status --out /scratch/runs/default
  sooth slurm --out /scratch/runs/default --shards 8 --cpus-per-task 4 --time 2:00:00 \\
      --tasks missing --submit")]
pub struct SlurmArgs {
    /// The study (TOML). Default: the study already pinned in DIR, else the
    /// built-in default study.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The results directory, on a file system every node sees (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of shards, one array task each (balanced by expected cost).
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "status",
        value_parser = at_least_one
    )]
    pub shards: Option<usize>,
    /// CPUs of each task; the sweep runs that many runs at once.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = at_least_one)]
    pub cpus_per_task: usize,
    /// Memory of each task (`--mem` of sbatch: `2G`, `500M`); default: the
    /// cluster's.
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// Time limit of each task (`--time` of sbatch: `30`, `2:00:00`,
    /// `1-00:00:00`); default: the partition's.
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// The partition (default: the cluster's default).
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// The account to charge.
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
    /// Another `#SBATCH` option for both jobs, repeatable
    /// (`--sbatch-option=--qos=short`).
    #[arg(long, value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch_option: Vec<String>,
    /// The sooth binary the jobs run (default: this one), on a path every
    /// node sees.
    #[arg(long, value_name = "PATH")]
    pub sooth: Option<PathBuf>,
    /// Where to write the two job scripts (default: DIR).
    #[arg(long, value_name = "D")]
    pub script_dir: Option<PathBuf>,
    /// Submit only these array tasks: a list like `3,5` or `0-2,7`, or
    /// `missing` for the shards whose directories lack runs.
    #[arg(long, value_name = "LIST|missing")]
    pub tasks: Option<Tasks>,
    /// Submit the array and the merge job with sbatch.
    #[arg(long)]
    pub submit: bool,
    /// Print each shard's progress (runs done of planned) and exit; writes
    /// and submits nothing.
    #[arg(long, conflicts_with_all = ["submit", "tasks", "config"])]
    pub status: bool,
}

/// A count flag's value: a whole number `>= 1`.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number >= 1".into()),
    }
}

/// Which array tasks to submit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tasks {
    /// The shards whose directories lack some of their runs.
    Missing,
    /// These task indices (sorted, without duplicates).
    List(Vec<usize>),
}

impl std::str::FromStr for Tasks {
    type Err = String;
    fn from_str(s: &str) -> Result<Tasks, String> {
        if s.trim() == "missing" {
            return Ok(Tasks::Missing);
        }
        let bad = |part: &str| {
            format!(
                "`{part}` in `{s}` is not a task; expected `missing` or indices and ranges \
                 like 3,5 or 0-2,7"
            )
        };
        let mut list = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => {
                    let a: usize = a.trim().parse().map_err(|_| bad(part))?;
                    let b: usize = b.trim().parse().map_err(|_| bad(part))?;
                    if a > b {
                        return Err(bad(part));
                    }
                    list.extend(a..=b);
                }
                None => list.push(part.parse().map_err(|_| bad(part))?),
            }
        }
        list.sort_unstable();
        list.dedup();
        Ok(Tasks::List(list))
    }
}

/// Task indices as an sbatch `--array` list: `0-2,7`.
pub fn array_list(tasks: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < tasks.len() {
        let mut j = i;
        while j + 1 < tasks.len() && tasks[j + 1] == tasks[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j == i {
            let _ = write!(out, "{}", tasks[i]);
        } else {
            let _ = write!(out, "{}-{}", tasks[i], tasks[j]);
        }
        i = j + 1;
    }
    out
}

/// `s` quoted for the shell (single quotes).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` for a command line people copy: as is if the shell leaves it alone.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        s.to_string()
    } else {
        shell_quote(s)
    }
}

/// A path as text that an `#SBATCH` line can hold (it is not parsed by a
/// shell, and `%` starts a Slurm file-name pattern), or why not.
fn sbatch_path(path: &Path, what: &str) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("{what} {}: not UTF-8", path.display()))?;
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "%\"'\\".contains(*c))
    {
        return Err(format!(
            "{what} {text}: contains {c:?}, which #SBATCH lines cannot hold; choose a \
             directory without spaces, quotes, backslashes or %"
        ));
    }
    Ok(text.to_string())
}

/// A value for an `#SBATCH` option, or why not.
fn sbatch_value(flag: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "invalid value {value:?} for '{flag}': expected one word without spaces"
        ));
    }
    Ok(())
}

/// The resources and paths the two job scripts are written from.
#[derive(Clone, Debug, PartialEq)]
pub struct Jobs {
    /// The results directory (absolute).
    pub out: String,
    /// The sooth binary (absolute).
    pub sooth: String,
    /// Number of shards.
    pub shards: usize,
    /// A name for the jobs (`sooth-<dir name>`).
    pub name: String,
    /// CPUs per task.
    pub cpus_per_task: usize,
    /// `--mem`.
    pub mem: Option<String>,
    /// `--time`.
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// More `#SBATCH` options.
    pub extra: Vec<String>,
}

impl Jobs {
    /// The `#SBATCH` lines both jobs share.
    fn common_options(&self) -> String {
        let mut s = String::new();
        for (flag, value) in [
            ("mem", &self.mem),
            ("time", &self.time),
            ("partition", &self.partition),
            ("account", &self.account),
        ] {
            if let Some(v) = value {
                let _ = writeln!(s, "#SBATCH --{flag}={v}");
            }
        }
        for option in &self.extra {
            let _ = writeln!(s, "#SBATCH {option}");
        }
        s
    }

    /// The job array: task K sweeps shard K/N into `DIR/shard-K`.
    pub fn sweep_script(&self) -> String {
        format!(
            r#"#!/bin/bash
# Written by `sooth slurm` (sooth {version}): task K of this job array runs
# shard K/{n} of the study pinned in {out}/{pinned} into {out}/shard-K.
# A task resumes its shard, so resubmitting is safe and reruns only what is
# missing: `sbatch --array=3,5 {script}` reruns shards 3 and 5.
# Without Slurm: SLURM_ARRAY_TASK_ID=3 bash {script}
#SBATCH --job-name={name}
#SBATCH --array={array}
#SBATCH --ntasks=1
#SBATCH --cpus-per-task={cpus}
{common}#SBATCH --output={out}/{logs}/shard-%a.%A.out
set -euo pipefail
sooth={sooth}
out={out_q}
shards={n}
k=${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}}
threads=${{SLURM_CPUS_PER_TASK:-{cpus}}}
echo "sooth slurm: shard $k/$shards, job ${{SLURM_ARRAY_JOB_ID:-none}}_$k on $(hostname), CPUs: $threads, $(date)"
# Idempotent: a rerun of this task (after scancel, a time limit or a node
# failure) resumes the shard; the sweep's directory lock is an OS lock that
# ends with the process that held it.
exec "$sooth" sweep --config "$out/{pinned}" --shard "$k/$shards" --out "$out/shard-$k" --threads "$threads"
"#,
            version = env!("CARGO_PKG_VERSION"),
            n = self.shards,
            out = self.out,
            out_q = shell_quote(&self.out),
            pinned = PINNED_STUDY,
            script = SWEEP_SCRIPT,
            name = self.name,
            array = array_list(&(0..self.shards).collect::<Vec<_>>()),
            cpus = self.cpus_per_task,
            common = self.common_options(),
            logs = LOGS,
            sooth = shell_quote(&self.sooth),
        )
    }

    /// The merge job: all shards into `DIR`, then the report if this sooth
    /// has the command.
    pub fn merge_script(&self) -> String {
        format!(
            r#"#!/bin/bash
# Written by `sooth slurm` (sooth {version}): merges the {n} shards in {out}
# into {out} and writes the report. Submitted with
# --dependency=afterok:<array job>; cancelled by Slurm if a task fails.
#SBATCH --job-name={name}-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
{common}#SBATCH --kill-on-invalid-dep=yes
#SBATCH --output={out}/{logs}/merge.%j.out
set -euo pipefail
sooth={sooth}
out={out_q}
shards={n}
dirs=()
for ((k = 0; k < shards; k++)); do dirs+=("$out/shard-$k"); done
"$sooth" merge --out "$out" "${{dirs[@]}}"
if "$sooth" help report >/dev/null 2>&1; then
    "$sooth" report "$out"
else
    echo "this sooth has no report command; the results are in $out/runs.csv"
fi
"#,
            version = env!("CARGO_PKG_VERSION"),
            n = self.shards,
            out = self.out,
            out_q = shell_quote(&self.out),
            name = self.name,
            common = self.common_options(),
            logs = LOGS,
            sooth = shell_quote(&self.sooth),
        )
    }
}

/// A job name from the results directory's name: `sooth-<name>`.
fn job_name(out: &Path) -> String {
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if clean.is_empty() {
        "sooth".into()
    } else {
        format!("sooth-{clean}")
    }
}

/// The study to run, pinned as `DIR/study.toml`: `config` if given (and the
/// same study as one pinned before), else the pinned one, else the default.
fn pin_study(out: &Path, config: Option<&Path>) -> Result<Study, String> {
    let pinned = out.join(PINNED_STUDY);
    let read = |path: &Path| -> Result<(String, Study), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let study = Study::from_toml(&text, &path.display().to_string())?;
        Ok((text, study))
    };
    let before = if pinned.exists() {
        Some(read(&pinned)?)
    } else {
        None
    };
    let (text, study) = match config {
        Some(path) => read(path)?,
        None => match &before {
            Some((_, study)) => return Ok(study.clone()),
            None => {
                let text = crate::sweep::DEFAULT_STUDY.trim_start().to_string();
                let study = Study::from_toml(&text, "the default study")?;
                (text, study)
            }
        },
    };
    if let Some((_, pinned_study)) = before {
        if pinned_study.config_hash() != study.config_hash() {
            return Err(format!(
                "{} pins another study (config hash {}) than {} (config hash {}); its shards \
                 belong to that one: use another --out, or delete {} to start over",
                pinned.display(),
                pinned_study.config_hash(),
                config.map_or("the default study".into(), |p| p.display().to_string()),
                study.config_hash(),
                out.display()
            ));
        }
        // The same runs: keep the copy running tasks may be reading.
        return Ok(pinned_study);
    }
    if let Some(found) = store::read_manifest(out)?
        && found.config_hash != study.config_hash()
    {
        return Err(format!(
            "{}: holds a sweep of another configuration (hash {}, this one {}); use another \
             --out directory",
            out.display(),
            found.config_hash,
            study.config_hash()
        ));
    }
    store::write_atomically(&pinned, text.as_bytes())?;
    Ok(study)
}

/// The `shard-K` directories in `out` and the shard their manifest names.
fn existing_shards(out: &Path, study: &Study) -> Result<Vec<(PathBuf, Shard)>, String> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(k) = name.strip_prefix("shard-") else {
            continue;
        };
        if k.parse::<usize>().is_err() || !entry.path().is_dir() {
            continue;
        }
        let dir = entry.path();
        let Some(manifest) = store::read_manifest(&dir)? else {
            continue;
        };
        if manifest.config_hash != study.config_hash() {
            return Err(format!(
                "{}: holds a sweep of another configuration (hash {}, the pinned study's {})",
                dir.display(),
                manifest.config_hash,
                study.config_hash()
            ));
        }
        let shard = manifest
            .shard
            .as_deref()
            .and_then(|s| s.parse::<Shard>().ok())
            .ok_or_else(|| format!("{}: not a shard's directory", dir.display()))?;
        found.push((dir, shard));
    }
    found.sort_by_key(|(_, s)| s.index);
    Ok(found)
}

/// The number of shards of `out`: `given`, checked against the shard
/// directories already there, or what they say.
fn shard_count(
    out: &Path,
    study: &Study,
    given: Option<usize>,
    runs: usize,
) -> Result<usize, String> {
    let existing = existing_shards(out, study)?;
    if let Some((dir, other)) = existing
        .iter()
        .find(|(_, s)| given.is_some_and(|n| n != s.count))
    {
        return Err(format!(
            "{} holds shard {other} of this study, not of --shards {}: give the same --shards, \
             or use another --out",
            dir.display(),
            given.unwrap_or(0)
        ));
    }
    let n = match (given, existing.first()) {
        (Some(n), _) => n,
        (None, Some((_, s))) => s.count,
        (None, None) => {
            return Err(format!(
                "{}: no shard has started yet; give --shards N",
                out.display()
            ));
        }
    };
    if n == 0 {
        return Err("invalid value '0' for '--shards <N>': expected at least 1".into());
    }
    if n > runs {
        return Err(format!(
            "--shards {n}: the study has only {runs} runs; give at most {runs} shards"
        ));
    }
    Ok(n)
}

/// One shard's plan and progress.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardState {
    /// Runs planned.
    pub runs: usize,
    /// Share of the study's expected work, in [0, 1].
    pub share: f64,
    /// Runs with a row in the shard's directory.
    pub done: usize,
    /// Of those, runs whose status is an error.
    pub errors: usize,
}

/// Counts the finished runs of `wanted` in `dir/runs.jsonl` without
/// touching the file (a task may be appending to it): lines that do not
/// parse, such as a torn last line, are not counted.
fn finished_runs(dir: &Path, wanted: &HashSet<&str>) -> Result<(usize, usize), String> {
    let path = dir.join(store::RUNS_JSONL);
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut seen = HashSet::new();
    let mut errors = 0;
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        if let Ok(row) = serde_json::from_str::<store::Row>(line)
            && wanted.contains(row.run_id.as_str())
            && seen.insert(row.run_id.clone())
            && row.status != "ok"
        {
            errors += 1;
        }
    }
    Ok((seen.len(), errors))
}

/// The plan and progress of each of the `n` shards of `runs` in `out`.
pub fn shard_states(out: &Path, runs: &[PlannedRun], n: usize) -> Result<Vec<ShardState>, String> {
    let of = assign_shards(runs, n);
    let total: f64 = runs.iter().map(|r| r.cost).sum();
    let mut states = Vec::with_capacity(n);
    for k in 0..n {
        let mine: Vec<&PlannedRun> = runs
            .iter()
            .zip(&of)
            .filter(|(_, s)| **s == k)
            .map(|(r, _)| r)
            .collect();
        let ids: HashSet<&str> = mine.iter().map(|r| r.run_id.as_str()).collect();
        let (done, errors) = finished_runs(&out.join(format!("shard-{k}")), &ids)?;
        let cost: f64 = mine.iter().map(|r| r.cost).sum();
        states.push(ShardState {
            runs: mine.len(),
            share: if total > 0.0 { cost / total } else { 0.0 },
            done,
            errors,
        });
    }
    Ok(states)
}

/// The table of shards: runs, share of the expected work, runs done.
fn print_table(states: &[ShardState]) {
    println!("shard   runs  expected work   done  errors");
    for (k, s) in states.iter().enumerate() {
        println!(
            "{k:>5}  {:>5}  {:>12.1}%  {:>5}  {:>6}",
            s.runs,
            100.0 * s.share,
            s.done,
            s.errors
        );
    }
    let (mean, max) = (
        1.0 / states.len().max(1) as f64,
        states.iter().map(|s| s.share).fold(0.0, f64::max),
    );
    println!(
        "the largest shard has {:.2}x the mean expected work (the array takes about as long as it)",
        max / mean
    );
}

/// The shards whose directories lack runs.
fn incomplete(states: &[ShardState]) -> Vec<usize> {
    states
        .iter()
        .enumerate()
        .filter(|(_, s)| s.done < s.runs)
        .map(|(k, _)| k)
        .collect()
}

/// Runs `sbatch --parsable ARGS`; returns the job id.
fn sbatch(args: &[String]) -> Result<String, String> {
    let shown = format!("sbatch --parsable {}", args.join(" "));
    let output = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .output()
        .map_err(|e| {
            format!("{shown}: {e} (is this a Slurm login node? sbatch must be on the PATH)")
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    // `--parsable` prints `jobid` or `jobid;cluster`.
    let id = stdout.trim().split(';').next().unwrap_or("").trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{shown}: expected a job id, got {:?}",
            stdout.trim()
        ));
    }
    Ok(id.to_string())
}

/// Runs `sooth slurm`.
pub fn run(args: SlurmArgs) -> Result<(), String> {
    if args.status {
        return status(&args.out, args.shards);
    }
    for (flag, value) in [
        ("--mem", &args.mem),
        ("--time", &args.time),
        ("--partition", &args.partition),
        ("--account", &args.account),
    ] {
        if let Some(v) = value {
            sbatch_value(flag, v)?;
        }
    }
    for option in &args.sbatch_option {
        if !option.starts_with('-') || option.chars().any(char::is_control) {
            return Err(format!(
                "invalid value {option:?} for '--sbatch-option': expected one sbatch option \
                 such as --qos=short"
            ));
        }
    }
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let out = args
        .out
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    let out_text = sbatch_path(&out, "--out")?;
    let sooth = match &args.sooth {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| format!("the sooth binary: {e}"))?,
    };
    let sooth = sooth
        .canonicalize()
        .map_err(|e| format!("--sooth {}: {e}", sooth.display()))?;
    if !sooth.is_file() {
        return Err(format!("--sooth {}: not a file", sooth.display()));
    }
    let study = pin_study(&out, args.config.as_deref())?;
    let (data, runs) = crate::sweep::prepare(&study)?;
    let n = shard_count(&out, &study, args.shards, runs.len())?;
    if let Some(Tasks::List(list)) = &args.tasks
        && let Some(k) = list.iter().find(|&&k| k >= n)
    {
        return Err(format!(
            "--tasks: there is no task {k}; the array's tasks are 0-{}",
            n - 1
        ));
    }
    let script_dir = args.script_dir.clone().unwrap_or_else(|| out.clone());
    std::fs::create_dir_all(&script_dir).map_err(|e| format!("{}: {e}", script_dir.display()))?;
    let script_dir = script_dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", script_dir.display()))?;
    let logs = out.join(LOGS);
    // Slurm opens the log files before a task starts: the directory must exist.
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let jobs = Jobs {
        out: out_text,
        sooth: sooth.to_string_lossy().into_owned(),
        shards: n,
        name: job_name(&out),
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        time: args.time.clone(),
        partition: args.partition.clone(),
        account: args.account.clone(),
        extra: args.sbatch_option.clone(),
    };
    let sweep_path = script_dir.join(SWEEP_SCRIPT);
    let merge_path = script_dir.join(MERGE_SCRIPT);
    store::write_atomically(&sweep_path, jobs.sweep_script().as_bytes())?;
    store::write_atomically(&merge_path, jobs.merge_script().as_bytes())?;

    let states = shard_states(&out, &runs, n)?;
    println!(
        "{}: {} runs on {} (config hash {}); {n} shards x {} CPU",
        study.name,
        runs.len(),
        data.name,
        study.config_hash(),
        args.cpus_per_task
    );
    print_table(&states);
    println!(
        "wrote {} (array 0-{}), {} and {}",
        sweep_path.display(),
        n - 1,
        merge_path.display(),
        out.join(PINNED_STUDY).display()
    );

    let tasks: Option<Vec<usize>> = match &args.tasks {
        None => None,
        Some(Tasks::Missing) => Some(incomplete(&states)),
        Some(Tasks::List(list)) => Some(list.clone()),
    };
    let sweep_arg = sweep_path.to_string_lossy().into_owned();
    let merge_arg = merge_path.to_string_lossy().into_owned();
    let mut array_args = Vec::new();
    if let Some(list) = &tasks
        && !list.is_empty()
    {
        array_args.push(format!("--array={}", array_list(list)));
    }
    array_args.push(sweep_arg.clone());
    let nothing_to_run = tasks.as_ref().is_some_and(|l| l.is_empty());

    if !args.submit {
        println!("submit (or rerun this command with --submit):");
        if nothing_to_run {
            println!(
                "  every shard is complete; merge: sbatch {}",
                shell_word(&merge_arg)
            );
        } else {
            println!(
                "  jid=$(sbatch --parsable {}) && sbatch --dependency=afterok:${{jid%%;*}} {}",
                array_args
                    .iter()
                    .map(|a| shell_word(a))
                    .collect::<Vec<_>>()
                    .join(" "),
                shell_word(&merge_arg)
            );
        }
        return Ok(());
    }
    let array_id = if nothing_to_run {
        println!("every shard is complete: submitting only the merge job");
        None
    } else {
        Some(sbatch(&array_args)?)
    };
    let mut merge_args = Vec::new();
    if let Some(id) = &array_id {
        merge_args.push(format!("--dependency=afterok:{id}"));
    }
    merge_args.push(merge_arg);
    let merge_id = sbatch(&merge_args).map_err(|e| match &array_id {
        Some(id) => format!(
            "{e}\nthe array job {id} is submitted; submit the merge by hand: sbatch \
             --dependency=afterok:{id} {}",
            merge_path.display()
        ),
        None => e,
    })?;
    let shown_tasks = match &tasks {
        Some(list) => array_list(list),
        None => format!("0-{}", n - 1),
    };
    let ids = match &array_id {
        Some(id) => {
            println!(
                "submitted: array job {id} (tasks {shown_tasks}), merge job {merge_id} (after every task succeeds)"
            );
            format!("{id},{merge_id}")
        }
        None => {
            println!("submitted: merge job {merge_id}");
            merge_id.clone()
        }
    };
    let log_glob = match &array_id {
        Some(id) => format!("{}/shard-*.{id}.out", logs.display()),
        None => format!("{}/merge.{merge_id}.out", logs.display()),
    };
    println!("watch:");
    println!("  squeue -j {ids}");
    println!(
        "  sacct -j {ids} --format=JobID,JobName,State,Elapsed,ExitCode   (where accounting is on)"
    );
    println!("  tail -f {log_glob}");
    println!("  sooth slurm --status --out {}", out.display());
    println!(
        "if a task fails or is cancelled, Slurm cancels the merge job; rerun what is missing with:\n  \
         sooth slurm --out {} --shards {n} --tasks missing --submit   (plus the resource flags)",
        out.display()
    );
    println!("results (after the merge job): {}/runs.csv", out.display());
    Ok(())
}

/// The number of shards `DIR/sweep.sbatch` (as written) runs, if it is there.
fn scripted_shards(out: &Path) -> Option<usize> {
    let script = std::fs::read_to_string(out.join(SWEEP_SCRIPT)).ok()?;
    script
        .lines()
        .find_map(|l| l.strip_prefix("shards="))
        .and_then(|n| n.trim().parse().ok())
}

/// `sooth slurm --status`: each shard's runs done of planned.
fn status(out: &Path, shards: Option<usize>) -> Result<(), String> {
    let pinned = out.join(PINNED_STUDY);
    let text = std::fs::read_to_string(&pinned).map_err(|e| {
        format!(
            "{}: {e}; expected a directory written by `sooth slurm`",
            pinned.display()
        )
    })?;
    let study = Study::from_toml(&text, &pinned.display().to_string())?;
    let (_, runs) = crate::sweep::prepare(&study)?;
    let shards = shards.or_else(|| scripted_shards(out));
    let n = shard_count(out, &study, shards, runs.len())?;
    let states = shard_states(out, &runs, n)?;
    println!(
        "{}: {} runs (config hash {}), {n} shards in {}",
        study.name,
        runs.len(),
        study.config_hash(),
        out.display()
    );
    print_table(&states);
    let done: usize = states.iter().map(|s| s.done).sum();
    let missing = incomplete(&states);
    if missing.is_empty() {
        println!("all {} runs are done", runs.len());
    } else {
        println!(
            "{done} of {} runs are done; shards with runs missing: {} (running, pending, or to \
             resubmit with --tasks missing)",
            runs.len(),
            array_list(&missing)
        );
    }
    let (merged, _) = finished_runs(out, &runs.iter().map(|r| r.run_id.as_str()).collect())?;
    if store::read_manifest(out)?.is_some() {
        println!(
            "merged: {merged} of {} runs in {}",
            runs.len(),
            out.join(store::RUNS_CSV).display()
        );
    } else {
        println!("not merged yet");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs() -> Jobs {
        Jobs {
            out: "/scratch/me/runs".into(),
            sooth: "/home/me/bin/it's sooth".into(),
            shards: 4,
            name: "sooth-runs".into(),
            cpus_per_task: 2,
            mem: Some("1G".into()),
            time: None,
            partition: Some("short".into()),
            account: None,
            extra: vec!["--qos=low".into()],
        }
    }

    #[test]
    fn task_lists_parse_and_compact() {
        assert_eq!("3,5".parse::<Tasks>(), Ok(Tasks::List(vec![3, 5])));
        assert_eq!(
            "7, 0-2,1".parse::<Tasks>(),
            Ok(Tasks::List(vec![0, 1, 2, 7]))
        );
        assert_eq!("missing".parse::<Tasks>(), Ok(Tasks::Missing));
        for bad in ["", "3-1", "a", "1,,2", "-1", "2-"] {
            let e = bad.parse::<Tasks>().unwrap_err();
            assert!(e.contains("expected `missing`"), "{bad}: {e}");
        }
        assert_eq!(array_list(&[0, 1, 2, 7]), "0-2,7");
        assert_eq!(array_list(&[3, 5]), "3,5");
        assert_eq!(array_list(&[4]), "4");
        assert_eq!(array_list(&[0, 1, 3, 4, 5, 9]), "0-1,3-5,9");
        assert_eq!(array_list(&[]), "");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn sbatch_lines_refuse_what_they_cannot_hold() {
        assert_eq!(
            sbatch_path(Path::new("/scratch/a-b_c.d"), "--out"),
            Ok("/scratch/a-b_c.d".into())
        );
        for bad in ["/my runs", "/100%", "/a\"b", "/a\\b", "/a\nb"] {
            let e = sbatch_path(Path::new(bad), "--out").unwrap_err();
            assert!(e.contains("#SBATCH lines cannot hold"), "{bad}: {e}");
        }
        assert!(sbatch_value("--mem", "2G").is_ok());
        assert!(sbatch_value("--time", "1:00:00 x").is_err());
        assert!(sbatch_value("--account", "").is_err());
    }

    #[test]
    fn the_array_script_runs_shard_k_of_n_with_its_resources() {
        let s = jobs().sweep_script();
        let sbatch: Vec<&str> = s.lines().filter(|l| l.starts_with("#SBATCH")).collect();
        assert_eq!(
            sbatch,
            [
                "#SBATCH --job-name=sooth-runs",
                "#SBATCH --array=0-3",
                "#SBATCH --ntasks=1",
                "#SBATCH --cpus-per-task=2",
                "#SBATCH --mem=1G",
                "#SBATCH --partition=short",
                "#SBATCH --qos=low",
                "#SBATCH --output=/scratch/me/runs/logs/shard-%a.%A.out",
            ]
        );
        assert!(s.contains(r"sooth='/home/me/bin/it'\''s sooth'"), "{s}");
        assert!(s.contains("shards=4\n"));
        assert!(s.ends_with(
            "\nexec \"$sooth\" sweep --config \"$out/study.toml\" --shard \"$k/$shards\" \
             --out \"$out/shard-$k\" --threads \"$threads\"\n"
        ));
    }

    #[test]
    fn the_merge_script_merges_every_shard_and_dies_with_a_failed_task() {
        let s = jobs().merge_script();
        assert!(s.contains("#SBATCH --kill-on-invalid-dep=yes\n"));
        assert!(s.contains("#SBATCH --output=/scratch/me/runs/logs/merge.%j.out\n"));
        assert!(s.contains("#SBATCH --cpus-per-task=1\n"));
        assert!(s.contains("\"$sooth\" merge --out \"$out\" \"${dirs[@]}\""));
        assert!(s.contains("if \"$sooth\" help report"));
        assert!(!s.contains("--array"));
    }

    #[test]
    fn job_names_are_one_word() {
        assert_eq!(job_name(Path::new("/x/my study (2)")), "sooth-my_study__2_");
        assert_eq!(job_name(Path::new("/")), "sooth");
    }
}
