//! `sooth sweep` end to end: a kill -9 at any moment, resumed, gives the
//! rows of an uninterrupted sweep; shards merged give the unsharded rows;
//! thread count does not matter; another configuration is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STUDY: &str = r#"
name = "small test study"
[data]
dataset = "digits"
[model]
hidden = [16]
[grid]
batch_sizes = ["32", "256", "full"]
seeds = 3
epochs = 3
[[optimizer]]
name = "sgd"
lr = [0.05, 0.1]
[[optimizer]]
name = "lbfgs"
history = 5
"#;

fn sooth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sooth"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sooth-sweep-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_study(dir: &Path, text: &str) -> PathBuf {
    write_study_as(dir, "study.toml", text)
}

fn write_study_as(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run_sweep(config: &Path, out: &Path, extra: &[&str]) {
    let output = sooth()
        .args(["sweep", "--quiet", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "sooth sweep failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The lines of a sweep's JSON-lines file without their timings, in file order.
fn without_timings(dir: &Path, file: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("wall_seconds");
            o.remove("train_seconds");
            v
        })
        .collect()
}

fn rows(dir: &Path) -> Vec<serde_json::Value> {
    without_timings(dir, "runs.jsonl")
}

fn curves(dir: &Path) -> Vec<serde_json::Value> {
    without_timings(dir, "curves.jsonl")
}

fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn resume_after_kill_sharding_and_threads_give_the_same_rows() {
    let base = scratch("main");
    let config = write_study(&base, STUDY);

    // The reference: uninterrupted, one thread.
    let reference = base.join("reference");
    run_sweep(&config, &reference, &["--threads", "1"]);
    let expected = rows(&reference);
    assert_eq!(
        expected.len(),
        3 * 3 * 3,
        "2 sgd configs + 1 lbfgs, 3 batch sizes, 3 seeds"
    );
    assert!(expected.iter().all(|r| r["status"] == "ok"));
    let csv = std::fs::read_to_string(reference.join("runs.csv")).unwrap();
    assert_eq!(csv.lines().count(), expected.len() + 1);

    // Two threads: the same rows.
    let two = base.join("two-threads");
    run_sweep(&config, &two, &["--threads", "2"]);
    assert_eq!(rows(&two), expected);
    assert_eq!(curves(&two), curves(&reference));

    // Killed with SIGKILL while runs are being written, then resumed.
    let killed = base.join("killed");
    let mut child = sooth()
        .args(["sweep", "--quiet", "--threads", "2", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while count_lines(&killed.join("runs.jsonl")) < 5 && start.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = count_lines(&killed.join("runs.jsonl"));
    assert!(
        partial >= 5 && partial < expected.len(),
        "killed after {partial} runs"
    );
    // A torn last line, as a kill in the middle of a write leaves one.
    let mut text = std::fs::read_to_string(killed.join("runs.jsonl")).unwrap();
    text.push_str("{\"run_id\":\"lbfgs-b32-h0-s1\",\"optimizer\":\"lbf");
    std::fs::write(killed.join("runs.jsonl"), text).unwrap();
    run_sweep(&config, &killed, &["--threads", "2"]);
    assert_eq!(rows(&killed), expected);
    assert_eq!(curves(&killed), curves(&reference));
    // A second rerun has nothing left to do and changes nothing.
    run_sweep(&config, &killed, &[]);
    assert_eq!(rows(&killed), expected);

    // Two shards, merged.
    let (s0, s1, merged) = (base.join("s0"), base.join("s1"), base.join("merged"));
    run_sweep(&config, &s0, &["--shard", "0/2"]);
    run_sweep(&config, &s1, &["--shard", "1/2"]);
    let (n0, n1) = (rows(&s0).len(), rows(&s1).len());
    assert!(n0 > 0 && n1 > 0 && n0 + n1 == expected.len(), "{n0} + {n1}");
    let output = sooth()
        .args(["merge", "--quiet", "--out"])
        .arg(&merged)
        .arg(&s0)
        .arg(&s1)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(rows(&merged), expected);
    assert_eq!(curves(&merged), curves(&reference));

    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn another_configuration_is_refused_and_shards_need_their_own_directory() {
    let base = scratch("refuse");
    let tiny = STUDY
        .replace("seeds = 3", "seeds = 1")
        .replace("epochs = 3", "epochs = 1");
    let config = write_study(&base, &tiny);
    let out = base.join("out");
    run_sweep(&config, &out, &[]);
    let other = write_study_as(
        &base,
        "other.toml",
        &tiny.replace("history = 5", "history = 6"),
    );
    let output = sooth()
        .args(["sweep", "--quiet", "--config"])
        .arg(&other)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("another configuration") && err.contains(&*out.to_string_lossy()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let output = sooth()
        .args(["sweep", "--quiet", "--shard", "0/2", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("holds shard (all)") && err.contains("0/2"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn study_errors_name_the_file_and_the_option() {
    let base = scratch("errors");
    let config = write_study(&base, "[[optimizer]]\nname = \"sgd\"\nhistory = 5\n");
    let output = sooth()
        .args(["sweep", "--config"])
        .arg(&config)
        .args(["--out", "/nonexistent/never"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("study.toml") && err.contains("--history"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// `sooth merge` reads each shard's study.json back option by option: a
/// corrupt option there is an error naming the file and the option (it
/// used to fall back to the default data set, or panic).
#[test]
fn merge_of_a_corrupt_study_json_is_an_error_naming_file_and_key() {
    let base = scratch("corrupt");
    let config = write_study(
        &base,
        "[data]\ndataset = \"blobs\"\n[model]\nhidden = [4]\n[grid]\nbatch_sizes = [\"full\"]\n\
         seeds = 1\nepochs = 1\n[[optimizer]]\nname = \"lbfgs\"\nhistory = 5\n",
    );
    let shard = base.join("shard");
    run_sweep(&config, &shard, &[]);
    let study_json = shard.join("study.json");
    let good = std::fs::read_to_string(&study_json).unwrap();
    for (from, to, says) in [
        (
            "\"history\": \"5\"",
            "\"history\": \"many\"",
            "invalid value 'many' for '--history <M>'",
        ),
        (
            "\"dataset\": \"blobs\"",
            "\"dataset\": \"blobs\",\n        \"scale\": \"weird\"",
            "[data]: invalid value 'weird' for '--scale",
        ),
    ] {
        let bad = good.replace(from, to);
        assert_ne!(bad, good, "{from} is not in study.json:\n{good}");
        std::fs::write(&study_json, &bad).unwrap();
        let output = sooth()
            .args(["merge", "--quiet", "--out"])
            .arg(base.join("merged"))
            .arg(&shard)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&*study_json.to_string_lossy()) && err.contains(says),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// `--study sensitivity` names the built-in sensitivity study: printed by
/// `--print-default --study sensitivity`, planned by `--plan`; the printed
/// text, read back with `--config`, is the same study (same hash); `--study
/// default` is the default study, whose hash does not move.
#[test]
fn the_built_in_studies_print_and_plan() {
    let stdout = |args: &[&str]| {
        let out = sooth().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = stdout(&["sweep", "--print-default", "--study", "sensitivity"]);
    assert!(
        text.starts_with("name = \"digits: hyperparameter sensitivity\""),
        "{text}"
    );
    assert!(
        text.contains("lr = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]"),
        "{text}"
    );
    assert_eq!(
        stdout(&["sweep", "--print-default"]),
        stdout(&["sweep", "--print-default", "--study", "default"])
    );
    let plan = stdout(&["sweep", "--plan", "--study", "sensitivity"]);
    assert!(
        plan.starts_with("digits: hyperparameter sensitivity: 1500 runs on digits (config hash "),
        "{plan}"
    );
    let dir = scratch("builtin");
    let file = write_study(&dir, &text);
    let hash = |s: &str| s.split("config hash ").nth(1).unwrap().to_string();
    assert_eq!(
        hash(&plan),
        hash(&stdout(&[
            "sweep",
            "--plan",
            "--config",
            file.to_str().unwrap()
        ]))
    );
    assert!(
        stdout(&["sweep", "--plan", "--study", "default"])
            .contains("(config hash afc09eb38e3d939c)")
    );
    let refused = sooth()
        .args([
            "sweep",
            "--study",
            "sensitivity",
            "--config",
            file.to_str().unwrap(),
            "--out",
            "x",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
