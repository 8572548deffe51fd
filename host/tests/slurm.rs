//! `sooth slurm` without a cluster: the scripts it writes, run with bash as
//! Slurm would run them (one call per array task, then the merge), give the
//! rows of an unsharded sweep; `--submit` talks to a stand-in `sbatch` that
//! records its arguments; and what must be refused is. (The same on a real
//! Slurm: `scripts/slurm-test.sh`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const STUDY: &str = r#"
name = "slurm test study"
[data]
dataset = "digits"
[model]
hidden = [16]
[grid]
batch_sizes = ["32", "256", "full"]
seeds = 2
epochs = 2
[[optimizer]]
name = "sgd"
lr = [0.05, 0.1]
[[optimizer]]
name = "lbfgs"
history = 5
"#;
const RUNS: usize = 2 * 3 * 2 + 3 * 2;

/// A stand-in for sbatch: appends its arguments to $FAKE_SBATCH_LOG and
/// prints job id 40 + its call number (the second with a cluster name, as
/// `--parsable` does on federated clusters); fails on call
/// $FAKE_SBATCH_FAIL_AT.
const FAKE_SBATCH: &str = r#"#!/bin/bash
echo "$*" >> "$FAKE_SBATCH_LOG"
n=$(wc -l < "$FAKE_SBATCH_LOG")
if [[ ${FAKE_SBATCH_FAIL_AT:-0} == "$n" ]]; then
    echo "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified" >&2
    exit 1
fi
if ((n == 2)); then echo "$((40 + n));cluster1"; else echo "$((40 + n))"; fi
"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sooth-slurm-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// A directory with the study and the stand-in sbatch.
fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let study = dir.join("study.toml");
    std::fs::write(&study, STUDY).unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sbatch = bin.join("sbatch");
    std::fs::write(&sbatch, FAKE_SBATCH).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, study)
}

/// `sooth slurm ARGS` with the stand-in sbatch first on the PATH.
fn slurm(dir: &Path, args: &[&str], fail_at: Option<usize>) -> Output {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sooth"));
    cmd.arg("slurm")
        .args(args)
        .env("PATH", path)
        .env("FAKE_SBATCH_LOG", dir.join("sbatch.log"));
    if let Some(n) = fail_at {
        cmd.env("FAKE_SBATCH_FAIL_AT", n.to_string());
    }
    cmd.output().unwrap()
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "sooth slurm failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn err(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected an error: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// Runs array task `k` of `script` with bash, as slurmd would.
fn run_task(script: &Path, k: usize) {
    let output = Command::new("bash")
        .arg(script)
        .env("SLURM_ARRAY_TASK_ID", k.to_string())
        .env("SLURM_CPUS_PER_TASK", "2")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "task {k}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The rows of a sweep without their timings.
fn rows(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("wall_seconds");
            o.remove("train_seconds");
            v
        })
        .collect()
}

/// (runs, share %) of each shard, from the table `sooth slurm` prints.
fn table(stdout: &str) -> Vec<(usize, f64)> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("shard "))
        .skip(1)
        .map_while(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            let share = cells.get(2)?.strip_suffix('%')?.parse().ok()?;
            Some((cells[1].parse().ok()?, share))
        })
        .collect()
}

fn log_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("sbatch.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_written_scripts_run_the_shards_and_merge_to_the_unsharded_rows() {
    let (dir, study) = setup("scripts");
    let out = dir.join("out");
    let stdout = ok(slurm(
        &dir,
        &[
            "--config",
            study.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--shards",
            "3",
            "--cpus-per-task",
            "2",
            "--mem",
            "1G",
            "--time",
            "10:00",
            "--partition",
            "short",
            "--account",
            "lab",
            "--sbatch-option=--qos=low",
        ],
        None,
    ));
    // The study is pinned, and the table is the plan's.
    assert_eq!(
        std::fs::read_to_string(out.join("study.toml")).unwrap(),
        STUDY
    );
    let shards = table(&stdout);
    assert_eq!(shards.len(), 3, "{stdout}");
    assert_eq!(shards.iter().map(|s| s.0).sum::<usize>(), RUNS);
    for (k, (runs, share)) in shards.iter().enumerate() {
        let plan = Command::new(env!("CARGO_BIN_EXE_sooth"))
            .args(["sweep", "--plan", "--config"])
            .arg(&study)
            .args(["--shard", &format!("{k}/3")])
            .output()
            .unwrap();
        let plan = String::from_utf8(plan.stdout).unwrap();
        assert!(
            plan.contains(&format!(
                "shard {k}/3: {runs} runs, {share:.1}% of the expected work"
            )),
            "{plan}\n{stdout}"
        );
    }
    assert!(
        log_lines(&dir).is_empty(),
        "nothing submitted without --submit"
    );
    let script = std::fs::read_to_string(out.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-2",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=1G",
        "#SBATCH --time=10:00",
        "#SBATCH --partition=short",
        "#SBATCH --account=lab",
        "#SBATCH --qos=low",
    ] {
        assert!(script.lines().any(|l| l == line), "{line}:\n{script}");
    }
    assert!(out.join("logs").is_dir(), "Slurm needs the log directory");

    for k in 0..3 {
        run_task(&out.join("sweep.sbatch"), k);
    }
    // A task run again finds its shard done: nothing reruns.
    run_task(&out.join("sweep.sbatch"), 1);
    let merge = Command::new("bash")
        .arg(out.join("merge.sbatch"))
        .output()
        .unwrap();
    assert!(
        merge.status.success(),
        "{}",
        String::from_utf8_lossy(&merge.stderr)
    );
    let merged_text = String::from_utf8_lossy(&merge.stdout);
    assert!(
        merged_text.contains(&format!("sooth merge: {RUNS} of {RUNS} runs")),
        "{merged_text}"
    );

    let local = dir.join("local");
    let sweep = Command::new(env!("CARGO_BIN_EXE_sooth"))
        .args(["sweep", "--quiet", "--config"])
        .arg(&study)
        .arg("--out")
        .arg(&local)
        .output()
        .unwrap();
    assert!(sweep.status.success());
    assert_eq!(rows(&out).len(), RUNS);
    assert_eq!(rows(&out), rows(&local));

    let status = ok(slurm(
        &dir,
        &["--status", "--out", out.to_str().unwrap()],
        None,
    ));
    assert!(
        status.contains(&format!("all {RUNS} runs are done")),
        "{status}"
    );
    assert!(
        status.contains(&format!("merged: {RUNS} of {RUNS} runs")),
        "{status}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn submit_chains_the_merge_after_the_array_and_resubmits_what_is_missing() {
    let (dir, study) = setup("submit");
    let out = dir.join("out");
    let out_s = out.to_str().unwrap();
    let base = ["--config", study.to_str().unwrap(), "--out", out_s];
    let stdout = ok(slurm(
        &dir,
        &[&base[..], &["--shards", "3", "--submit"]].concat(),
        None,
    ));
    let sweep_script = format!("{out_s}/sweep.sbatch");
    let merge_script = format!("{out_s}/merge.sbatch");
    assert_eq!(
        log_lines(&dir),
        [
            format!("--parsable {sweep_script}"),
            format!("--parsable --dependency=afterok:41 {merge_script}"),
        ]
    );
    assert!(
        stdout.contains("submitted: array job 41 (tasks 0-2), merge job 42"),
        "{stdout}"
    );
    assert!(stdout.contains("squeue -j 41,42"), "{stdout}");
    assert!(
        stdout.contains(&format!("{out_s}/logs/shard-*.41.out")),
        "{stdout}"
    );

    // Shards 0 and 2 finish; 1 is missing. The study now comes from the
    // pinned copy (no --config).
    run_task(&out.join("sweep.sbatch"), 0);
    run_task(&out.join("sweep.sbatch"), 2);
    std::fs::remove_file(dir.join("sbatch.log")).unwrap();
    let status = ok(slurm(&dir, &["--status", "--out", out_s], None));
    assert!(status.contains("shards with runs missing: 1 "), "{status}");
    let stdout = ok(slurm(
        &dir,
        &[
            "--out", out_s, "--shards", "3", "--tasks", "missing", "--submit",
        ],
        None,
    ));
    assert_eq!(
        log_lines(&dir),
        [
            format!("--parsable --array=1 {sweep_script}"),
            format!("--parsable --dependency=afterok:41 {merge_script}"),
        ]
    );
    assert!(stdout.contains("array job 41 (tasks 1)"), "{stdout}");

    // An explicit list, then nothing missing: only the merge is submitted.
    std::fs::remove_file(dir.join("sbatch.log")).unwrap();
    ok(slurm(
        &dir,
        &[
            "--out", out_s, "--shards", "3", "--tasks", "2,0", "--submit",
        ],
        None,
    ));
    assert_eq!(
        log_lines(&dir)[0],
        format!("--parsable --array=0,2 {sweep_script}")
    );
    run_task(&out.join("sweep.sbatch"), 1);
    std::fs::remove_file(dir.join("sbatch.log")).unwrap();
    let stdout = ok(slurm(
        &dir,
        &[
            "--out", out_s, "--shards", "3", "--tasks", "missing", "--submit",
        ],
        None,
    ));
    assert_eq!(log_lines(&dir), [format!("--parsable {merge_script}")]);
    assert!(stdout.contains("submitted: merge job 41"), "{stdout}");

    // sbatch's refusal reaches the user, and a failed merge submission
    // names the array job already submitted.
    std::fs::remove_file(dir.join("sbatch.log")).unwrap();
    let e = err(slurm(
        &dir,
        &["--out", out_s, "--shards", "3", "--submit"],
        Some(1),
    ));
    assert!(e.contains("Invalid account"), "{e}");
    std::fs::remove_file(dir.join("sbatch.log")).unwrap();
    let e = err(slurm(
        &dir,
        &["--out", out_s, "--shards", "3", "--submit"],
        Some(2),
    ));
    assert!(
        e.contains("the array job 41 is submitted; submit the merge by hand"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn what_cannot_work_is_refused() {
    let (dir, study) = setup("refuse");
    let out = dir.join("out");
    let out_s = out.to_str().unwrap();
    let study_s = study.to_str().unwrap();
    ok(slurm(
        &dir,
        &["--config", study_s, "--out", out_s, "--shards", "3"],
        None,
    ));
    run_task(&out.join("sweep.sbatch"), 0);

    // Another study into the same directory.
    let other = dir.join("other.toml");
    std::fs::write(&other, STUDY.replace("seeds = 2", "seeds = 3")).unwrap();
    let e = err(slurm(
        &dir,
        &[
            "--config",
            other.to_str().unwrap(),
            "--out",
            out_s,
            "--shards",
            "3",
        ],
        None,
    ));
    assert!(e.contains("pins another study"), "{e}");
    // The same runs under another name are the same study.
    let renamed = dir.join("renamed.toml");
    std::fs::write(&renamed, STUDY.replace("slurm test study", "renamed")).unwrap();
    ok(slurm(
        &dir,
        &[
            "--config",
            renamed.to_str().unwrap(),
            "--out",
            out_s,
            "--shards",
            "3",
        ],
        None,
    ));
    assert_eq!(
        std::fs::read_to_string(out.join("study.toml")).unwrap(),
        STUDY
    );

    // Another shard count over existing shard directories.
    let e = err(slurm(&dir, &["--out", out_s, "--shards", "4"], None));
    assert!(e.contains("holds shard 0/3 of this study"), "{e}");
    // Tasks the array does not have, more shards than runs, bad values.
    let e = err(slurm(
        &dir,
        &["--out", out_s, "--shards", "3", "--tasks", "1,5"],
        None,
    ));
    assert!(e.contains("there is no task 5"), "{e}");
    let fresh = dir.join("fresh");
    let e = err(slurm(
        &dir,
        &[
            "--out",
            fresh.to_str().unwrap(),
            "--shards",
            "100",
            "--config",
            study_s,
        ],
        None,
    ));
    assert!(e.contains(&format!("only {RUNS} runs")), "{e}");
    let e = err(slurm(
        &dir,
        &["--out", out_s, "--shards", "3", "--time", "1 hour"],
        None,
    ));
    assert!(e.contains("'--time'"), "{e}");
    let spaced = dir.join("my runs");
    let e = err(slurm(
        &dir,
        &[
            "--out",
            spaced.to_str().unwrap(),
            "--shards",
            "3",
            "--config",
            study_s,
        ],
        None,
    ));
    assert!(e.contains("#SBATCH lines cannot hold"), "{e}");
    let usage = slurm(
        &dir,
        &["--out", out_s, "--tasks", "3-1", "--shards", "3"],
        None,
    );
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("`3-1`"));
    // --status needs a directory written by sooth slurm.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = err(slurm(
        &dir,
        &["--status", "--out", empty.to_str().unwrap()],
        None,
    ));
    assert!(
        e.contains("expected a directory written by `sooth slurm`"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_task_ended_by_slurm_can_be_rerun() {
    let (dir, study) = setup("lock");
    let out = dir.join("out");
    let out_s = out.to_str().unwrap();
    let study_s = study.to_str().unwrap();
    ok(slurm(
        &dir,
        &["--config", study_s, "--out", out_s, "--shards", "1"],
        None,
    ));
    let script = out.join("sweep.sbatch");
    let lock = out.join("shard-0").join(".sooth-sweep.lock");

    // SIGTERM, as scancel and the time limit send it, to the sweep: the
    // task fails, and its lock ends with it.
    let mut task = Command::new("bash")
        .arg(&script)
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_CPUS_PER_TASK", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let holder = loop {
        if let Ok(text) = std::fs::read_to_string(&lock)
            && let Some((_, pid)) = text.split_once(' ')
            && !pid.is_empty()
        {
            break pid.to_string();
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "no lock at {} while the sweep runs",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let kill = Command::new("kill")
        .args(["-TERM", &holder])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = task.wait().unwrap();
    assert!(
        !status.success(),
        "the task must fail when its sweep is killed"
    );
    // Run again: it takes the lock and completes the shard.
    run_task(&script, 0);
    assert_eq!(rows(&out.join("shard-0")).len(), RUNS);
    std::fs::remove_dir_all(&dir).unwrap();
}
