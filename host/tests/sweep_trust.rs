//! Results you can trust (issue 18): a merge never loses a row and never
//! writes to its inputs; a study is a set; the exit status says whether
//! runs failed; `sooth report` says when a directory is incomplete; a
//! resume on changed data is refused; a huge study is refused before it is
//! planned; Ctrl-C says what was saved.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// 6 runs of about 10 ms each.
const STUDY: &str = r#"
name = "trust"
[model]
hidden = [8]
[grid]
batch_sizes = ["32", "full"]
seeds = 3
epochs = 1
[[optimizer]]
name = "sgd"
"#;

fn sooth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sooth"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sooth-trust-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str], dir: &Path) -> Output {
    sooth().args(args).current_dir(dir).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "failed: {}", stderr(&o));
    o
}

fn run_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_to_string(dir.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["run_id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// Every file of `dir` with its length and a hash of its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<(PathBuf, usize, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (p, bytes.len(), h.finish())
        })
        .collect();
    files.sort();
    files
}

/// The three shards of STUDY in `d/s0..s2` and the whole sweep in `d/full`.
fn shards(d: &Path) {
    write(d, "s.toml", STUDY);
    for k in 0..3 {
        ok(run(
            &[
                "sweep",
                "-q",
                "--config",
                "s.toml",
                "--shard",
                &format!("{k}/3"),
                "--out",
                &format!("s{k}"),
            ],
            d,
        ));
    }
    ok(run(
        &["sweep", "-q", "--config", "s.toml", "--out", "full"],
        d,
    ));
}

/// Issue 18, failure 4: merging into a directory that holds results adds
/// the new rows; an incremental merge keeps the first one; merging into a
/// shard's directory is refused.
#[test]
fn merge_adds_rows_to_what_the_target_holds() {
    let d = scratch("merge-adds");
    shards(&d);
    let all = run_ids(&d.join("full"));
    assert_eq!(all.len(), 6);
    ok(run(&["merge", "-q", "s0", "s1", "--out", "m"], &d));
    let first = run_ids(&d.join("m"));
    assert!(first.len() < 6 && !first.is_empty(), "{first:?}");
    ok(run(&["merge", "-q", "s2", "--out", "m"], &d));
    assert_eq!(
        run_ids(&d.join("m")),
        all,
        "the incremental merge kept the first"
    );
    // A copy of the whole sweep, merged with one shard, keeps its rows.
    ok(run(&["merge", "-q", "s2", "--out", "full"], &d));
    assert_eq!(run_ids(&d.join("full")), all);
    // Into a shard's own directory: refused, the shard untouched.
    let before = snapshot(&d.join("s0"));
    let o = run(&["merge", "s1", "--out", "s0"], &d);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("s0: holds shard 0/3 of this study"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&d.join("s0")), before);
    // Rows without a study.json cannot be checked: refused.
    std::fs::create_dir_all(d.join("bare")).unwrap();
    std::fs::copy(d.join("s1/runs.jsonl"), d.join("bare/runs.jsonl")).unwrap();
    let o = run(&["merge", "s0", "--out", "bare"], &d);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no study.json"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

/// Issue 18, weak spot: a merge reads its inputs without writing to them
/// (a torn last line stays), and waits for no one: a locked target is
/// refused.
#[test]
fn merge_leaves_its_inputs_as_they_are_and_takes_the_target_lock() {
    let d = scratch("merge-reads");
    shards(&d);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("s2/runs.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"run_id\":\"sgd-b32").unwrap();
    drop(f);
    let before = snapshot(&d.join("s2"));
    let o = ok(run(&["merge", "s2", "s1", "--out", "m"], &d));
    assert!(
        stderr(&o).contains("s2: left out a torn last line"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&d.join("s2")), before, "the input was written to");
    assert_eq!(run_ids(&d.join("m")).len(), 4);
    // The target's lock, held by another process (here: this one).
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(d.join("m/.sooth-sweep.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let o = run(&["merge", "s0", "--out", "m"], &d);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is writing this directory"),
        "{}",
        stderr(&o)
    );
    drop(lock);
    assert_eq!(run_ids(&d.join("m")).len(), 4);
    std::fs::remove_dir_all(&d).unwrap();
}

/// Issue 18, failure 5: duplicate batch sizes (after reading "032" as 32
/// and "FULL" as full), seeds and configurations are refused, naming them.
#[test]
fn a_study_is_a_set() {
    let d = scratch("sets");
    for (from, to, message) in [
        (
            r#"batch_sizes = ["32", "full"]"#,
            r#"batch_sizes = ["32", "032"]"#,
            "[grid] batch_sizes: 32 is listed twice",
        ),
        (
            r#"batch_sizes = ["32", "full"]"#,
            r#"batch_sizes = ["FULL", "full"]"#,
            "[grid] batch_sizes: full is listed twice",
        ),
        (
            "seeds = 3",
            "seeds = [1, 1, 2]",
            "[grid] seeds: 1 is listed twice",
        ),
        (
            "name = \"sgd\"",
            "name = \"sgd\"\nlr = [0.1, 0.10]",
            "[[optimizer]] sgd: configurations h0 and h1 are the same",
        ),
    ] {
        let text = STUDY.replace(from, to);
        assert_ne!(text, STUDY);
        write(&d, "dup.toml", &text);
        let o = run(&["sweep", "--config", "dup.toml", "--out", "out"], &d);
        assert_eq!(o.status.code(), Some(1), "{to}");
        assert!(
            stderr(&o).starts_with(&format!("error: dup.toml: {message}")),
            "{to}: {}",
            stderr(&o)
        );
        assert!(!d.join("out/runs.jsonl").exists(), "{to}: it ran");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Issue 18, failure 6: a sweep, tune or report in which runs failed exits
/// with 3 and says so on stderr; the Slurm array task treats that as done,
/// the merge job reports it, and `--tasks missing` does not resubmit it.
#[test]
fn failed_runs_give_exit_status_3() {
    let d = scratch("exit");
    let study = STUDY.replace(r#"["32", "full"]"#, r#"["5000", "32"]"#);
    write(&d, "f.toml", &study);
    let o = run(&["sweep", "-q", "--config", "f.toml", "--out", "f"], &d);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sooth sweep: finished, but 3 of 6 runs ended in an error (first: sgd-b5000-h0-s1: error: batch size 5000"),
        "{}",
        stderr(&o)
    );
    // A rerun resumes everything and still tells.
    let o = run(&["sweep", "-q", "--config", "f.toml", "--out", "f"], &d);
    assert_eq!(o.status.code(), Some(3));
    let o = run(&["report", "--no-plots", "f"], &d);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sooth report: 3 of the 6 runs in f ended in an error"),
        "{}",
        stderr(&o)
    );
    assert!(d.join("f/report.md").exists());
    // Tune: a run that ended in an error (here written into its
    // directory) is counted when the race resumes.
    let tune = [
        "tune",
        "-q",
        "--optimizer",
        "sgd",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--batch-sizes",
        "32,full",
        "--initial-seeds",
        "2",
        "--max-seeds",
        "2",
        "--out",
        "t",
    ];
    ok(run(&tune, &d));
    let rows = std::fs::read_to_string(d.join("t/runs.jsonl")).unwrap();
    let failed = rows.replacen("\"status\":\"ok\"", "\"status\":\"error: injected\"", 1);
    assert_ne!(failed, rows);
    write(&d, "t/runs.jsonl", &failed);
    let o = run(&tune, &d);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sooth tune: finished, but 1 of"),
        "{}",
        stderr(&o)
    );
    // A race leaves runs of its grid out by design: not "incomplete".
    let o = run(&["report", "--no-plots", "t"], &d);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!stderr(&o).contains("incomplete"), "{}", stderr(&o));
    // A study without failures: 0.
    write(&d, "s.toml", STUDY);
    ok(run(
        &["sweep", "-q", "--config", "s.toml", "--out", "g"],
        &d,
    ));
    ok(run(&["report", "--no-plots", "g"], &d));

    // Slurm: the array tasks finish, the merge job reports the failures.
    let out = d.canonicalize().unwrap().join("slurm");
    let out_s = out.to_str().unwrap();
    ok(run(
        &[
            "slurm", "--config", "f.toml", "--out", out_s, "--shards", "2",
        ],
        &d,
    ));
    for k in 0..2 {
        let o = Command::new("bash")
            .arg(out.join("sweep.sbatch"))
            .env("SLURM_ARRAY_TASK_ID", k.to_string())
            .env("SLURM_CPUS_PER_TASK", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "task {k}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("finished, but some of its runs failed"),
            "{}",
            stderr(&o)
        );
    }
    let o = Command::new("bash")
        .arg(out.join("merge.sbatch"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("ended in an error"), "{}", stderr(&o));
    assert_eq!(run_ids(&out).len(), 6);
    assert!(out.join("report.md").exists());
    let o = ok(run(
        &[
            "slurm", "--out", out_s, "--shards", "2", "--tasks", "missing",
        ],
        &d,
    ));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("every shard is complete"), "{text}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Issue 18, weak spot: `sooth report` on a shard or an unfinished sweep
/// warns on stderr and in the report, and counts what is missing.
#[test]
fn a_report_of_an_incomplete_directory_says_so() {
    let d = scratch("incomplete");
    write(&d, "s.toml", STUDY);
    ok(run(
        &[
            "sweep", "-q", "--config", "s.toml", "--shard", "0/3", "--out", "s0",
        ],
        &d,
    ));
    let o = ok(run(&["report", "--no-plots", "s0"], &d));
    assert!(
        stderr(&o).contains(
            "warning: s0: incomplete: it holds shard 0/3 of the study, 2 of its 6 runs (4 missing)"
        ),
        "{}",
        stderr(&o)
    );
    let md = std::fs::read_to_string(d.join("s0/report.md")).unwrap();
    assert!(
        md.contains("> **Incomplete:** 4 of the study's 6 runs are missing"),
        "{md}"
    );
    assert!(
        md.contains("| Runs | 2 of 6 planned, **4 missing** (2 ok, 0 errored)"),
        "{md}"
    );
    // A sweep that stopped (its last rows gone): counted too.
    ok(run(
        &["sweep", "-q", "--config", "s.toml", "--out", "w"],
        &d,
    ));
    let rows = std::fs::read_to_string(d.join("w/runs.jsonl")).unwrap();
    let kept: Vec<&str> = rows.lines().take(5).collect();
    std::fs::write(d.join("w/runs.jsonl"), kept.join("\n") + "\n").unwrap();
    let o = ok(run(&["report", "--no-plots", "w"], &d));
    assert!(
        stderr(&o).contains("w: incomplete: 5 of the study's 6 runs are here (1 missing"),
        "{}",
        stderr(&o)
    );
    // A complete one: no such warning.
    write(&d, "w/runs.jsonl", &rows);
    let o = ok(run(&["report", "--no-plots", "w"], &d));
    assert!(!stderr(&o).contains("incomplete"), "{}", stderr(&o));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A small CSV data set: 2 classes, 3 features.
fn csv(rows: usize, shift: f64) -> String {
    let mut s = String::new();
    for i in 0..rows {
        let c = i % 2;
        let x = i as f64 * 0.01 + shift;
        s.push_str(&format!("{c},{},{},{}\n", c as f64 + x, x, 1.0 - x));
    }
    s
}

/// Issue 18, integrity: the data files' content hashes are kept beside the
/// configuration hash; a resume on changed data is refused naming the
/// file, and a directory without them (an older sooth's) still resumes.
#[test]
fn a_resume_on_changed_data_is_refused() {
    let d = scratch("data-hash");
    write(&d, "data.csv", &csv(80, 0.0));
    let study = STUDY.replace("[model]", "[data]\ndataset = \"data.csv\"\n[model]");
    write(&d, "c.toml", &study);
    ok(run(
        &["sweep", "-q", "--config", "c.toml", "--out", "c"],
        &d,
    ));
    let manifest = std::fs::read_to_string(d.join("c/study.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        m["data_hashes"]["data.csv"].as_str().unwrap().len(),
        16,
        "{manifest}"
    );
    // The configuration hash does not see the data.
    let plan = ok(run(&["sweep", "--plan", "--config", "c.toml"], &d));
    assert!(String::from_utf8_lossy(&plan.stdout).contains(m["config_hash"].as_str().unwrap()));
    ok(run(
        &["sweep", "-q", "--config", "c.toml", "--out", "c"],
        &d,
    ));
    write(&d, "data.csv", &csv(80, 0.5));
    let o = run(&["sweep", "-q", "--config", "c.toml", "--out", "c"], &d);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("c: its runs were made with data.csv of content hash"),
        "{}",
        stderr(&o)
    );
    // A directory written before the hashes were kept resumes and merges.
    let mut old = m.clone();
    old.as_object_mut().unwrap().remove("data_hashes");
    write(
        &d,
        "c/study.json",
        &serde_json::to_string_pretty(&old).unwrap(),
    );
    ok(run(
        &["sweep", "-q", "--config", "c.toml", "--out", "c"],
        &d,
    ));
    ok(run(&["merge", "-q", "c", "--out", "m"], &d));
    assert_eq!(run_ids(&d.join("m")).len(), 6);
    std::fs::remove_dir_all(&d).unwrap();
}

/// Issue 18, weak spot: `seeds = 100000000` is refused at once, with the
/// limit, instead of growing past gigabytes while planning.
#[test]
fn a_huge_study_is_refused_before_it_is_planned() {
    let d = scratch("huge");
    for (from, to, message) in [
        (
            "seeds = 3",
            "seeds = 100000000",
            "[grid] seeds = 100000000: more than 1000000 runs",
        ),
        (
            "seeds = 3",
            "seeds = 600000",
            "[grid]: the study has more than 1000000 runs",
        ),
        (
            "seeds = 3",
            "seeds = 3\nfirst_seed = 18446744073709551614",
            "the seeds go past 18446744073709551615",
        ),
    ] {
        write(&d, "h.toml", &STUDY.replace(from, to));
        let mut child = sooth()
            .args(["sweep", "--plan", "--config", "h.toml"])
            .current_dir(&d)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("{to}: still planning after a minute");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{to}");
        assert!(stderr(&o).contains(message), "{to}: {}", stderr(&o));
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// Issue 18, weak spot: Ctrl-C during a sweep says how many runs are saved
/// and how to resume; the rerun resumes them.
#[test]
fn an_interrupted_sweep_says_what_was_saved() {
    let d = scratch("sigint");
    let study = STUDY
        .replace("seeds = 3", "seeds = 100")
        .replace("epochs = 1", "epochs = 3");
    write(&d, "l.toml", &study);
    let child = sooth()
        .args([
            "sweep",
            "-q",
            "--threads",
            "1",
            "--config",
            "l.toml",
            "--out",
            "l",
        ])
        .current_dir(&d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(d.join("l/runs.jsonl")).map_or(0, |t| t.lines().count()) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no row after a minute"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let saved = run_ids(&d.join("l")).len();
    assert!(
        stderr(&o).contains(&format!(
            "interrupted: {saved} runs saved; rerun the same command to resume"
        )),
        "{saved}: {}",
        stderr(&o)
    );
    let o = ok(run(
        &[
            "sweep",
            "--threads",
            "2",
            "--config",
            "l.toml",
            "--out",
            "l",
        ],
        &d,
    ));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("({saved} done before, ")),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    std::fs::remove_dir_all(&d).unwrap();
}
