//! `sooth slurm`: its flags and what it prints; the work (pinning the
//! study, the job scripts, shard accounting, `sbatch`) is in
//! [`crate::slurm`].

use crate::cli::output::{OutputError, outln};
use crate::slurm::{self, ShardState, StudyStatus, Tasks, WrittenJobs, array_list, shell_word};
use clap::Args;
use std::path::PathBuf;

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

impl SlurmArgs {
    /// The library's request: these flags as they are.
    fn request(&self) -> slurm::JobRequest {
        slurm::JobRequest {
            out: self.out.clone(),
            config: self.config.clone(),
            shards: self.shards,
            cpus_per_task: self.cpus_per_task,
            mem: self.mem.clone(),
            time: self.time.clone(),
            partition: self.partition.clone(),
            account: self.account.clone(),
            sbatch_options: self.sbatch_option.clone(),
            sooth: self.sooth.clone(),
            script_dir: self.script_dir.clone(),
            tasks: self.tasks.clone(),
        }
    }
}

/// The table of shards: runs, share of the expected work, runs done.
fn print_table(states: &[ShardState]) -> Result<(), OutputError> {
    outln!("shard   runs  expected work   done  errors")?;
    for (k, s) in states.iter().enumerate() {
        outln!(
            "{k:>5}  {:>5}  {:>12.1}%  {:>5}  {:>6}",
            s.runs,
            100.0 * s.share,
            s.done,
            s.errors
        )?;
    }
    let (mean, max) = (
        1.0 / states.len().max(1) as f64,
        states.iter().map(|s| s.share).fold(0.0, f64::max),
    );
    outln!(
        "the largest shard has {:.2}x the mean expected work (the array takes about as long as it)",
        max / mean
    )?;
    Ok(())
}

/// Runs `sooth slurm`.
pub fn run(args: SlurmArgs) -> Result<(), String> {
    if args.status {
        let status = slurm::read_status(&args.out, args.shards).map_err(|e| e.to_string())?;
        print_status(&args.out, &status)?;
        return Ok(());
    }
    let jobs = slurm::write_jobs(&args.request()).map_err(|e| e.to_string())?;
    let n = jobs.shards;
    outln!(
        "{}: {} runs on {} (config hash {}); {n} shards x {} CPU",
        jobs.study.name,
        jobs.runs,
        jobs.data_name,
        jobs.study.config_hash(),
        args.cpus_per_task
    )?;
    print_table(&jobs.states)?;
    outln!(
        "wrote {} (array 0-{}), {} and {}",
        jobs.sweep_script.display(),
        n - 1,
        jobs.merge_script.display(),
        jobs.out.join(slurm::PINNED_STUDY).display()
    )?;
    if !args.submit {
        print_how_to_submit(&jobs)?;
        return Ok(());
    }
    if jobs.nothing_to_run() {
        outln!("every shard is complete: submitting only the merge job")?;
    }
    let submitted = slurm::submit(&jobs).map_err(|e| e.to_string())?;
    print_submitted(&jobs, &submitted)?;
    Ok(())
}

/// The sbatch command lines that submit `jobs`.
fn print_how_to_submit(jobs: &WrittenJobs) -> Result<(), OutputError> {
    outln!("submit (or rerun this command with --submit):")?;
    if jobs.nothing_to_run() {
        outln!(
            "  every shard is complete; merge: sbatch {}",
            shell_word(&jobs.merge_arg())
        )?;
    } else {
        outln!(
            "  jid=$(sbatch --parsable {}) && sbatch --dependency=afterok:${{jid%%;*}} {}",
            jobs.array_args()
                .iter()
                .map(|a| shell_word(a))
                .collect::<Vec<_>>()
                .join(" "),
            shell_word(&jobs.merge_arg())
        )?;
    }
    Ok(())
}

/// The submitted jobs and how to follow them.
fn print_submitted(jobs: &WrittenJobs, submitted: &slurm::Submitted) -> Result<(), OutputError> {
    let (n, out, logs) = (jobs.shards, &jobs.out, &jobs.logs);
    let merge_id = &submitted.merge_job;
    let ids = match &submitted.array_job {
        Some(id) => {
            outln!(
                "submitted: array job {id} (tasks {}), merge job {merge_id} (after every task succeeds)",
                jobs.shown_tasks()
            )?;
            format!("{id},{merge_id}")
        }
        None => {
            outln!("submitted: merge job {merge_id}")?;
            merge_id.clone()
        }
    };
    let log_glob = match &submitted.array_job {
        Some(id) => format!("{}/shard-*.{id}.out", logs.display()),
        None => format!("{}/merge.{merge_id}.out", logs.display()),
    };
    outln!("watch:")?;
    outln!("  squeue -j {ids}")?;
    outln!(
        "  sacct -j {ids} --format=JobID,JobName,State,Elapsed,ExitCode   (where accounting is on)"
    )?;
    outln!("  tail -f {log_glob}")?;
    outln!("  sooth slurm --status --out {}", out.display())?;
    outln!(
        "if a task fails or is cancelled, Slurm cancels the merge job; rerun what is missing with:\n  \
         sooth slurm --out {} --shards {n} --tasks missing --submit   (plus the resource flags)",
        out.display()
    )?;
    outln!("results (after the merge job): {}/runs.csv", out.display())?;
    Ok(())
}

/// `sooth slurm --status`: each shard's runs done of planned.
fn print_status(out: &std::path::Path, status: &StudyStatus) -> Result<(), OutputError> {
    let runs = status.runs;
    outln!(
        "{}: {runs} runs (config hash {}), {} shards in {}",
        status.study.name,
        status.study.config_hash(),
        status.shards,
        out.display()
    )?;
    print_table(&status.states)?;
    let done: usize = status.states.iter().map(|s| s.done).sum();
    let missing = slurm::incomplete(&status.states);
    if missing.is_empty() {
        outln!("all {runs} runs are done")?;
    } else {
        outln!(
            "{done} of {runs} runs are done; shards with runs missing: {} (running, pending, or to \
             resubmit with --tasks missing)",
            array_list(&missing)
        )?;
    }
    match status.merged {
        Some(merged) => outln!(
            "merged: {merged} of {runs} runs in {}",
            out.join(crate::sweep::store::RUNS_CSV).display()
        )?,
        None => outln!("not merged yet")?,
    }
    Ok(())
}
