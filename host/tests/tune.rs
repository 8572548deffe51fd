//! `sooth tune` end to end on a tiny real study (digits, 8 hidden units,
//! 2 epochs of SGD, batch 64 / 256 / full, 2 then 4 seeds): the decisions
//! agree with the rows in the directory, a rerun resumes without running
//! anything and decides the same, the directory is a sweep directory.

use serde_json::Value;
use sooth::tune::race::one_sided_welch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TUNE: [&str; 16] = [
    "tune",
    "--dataset",
    "digits",
    "--hidden",
    "8",
    "--optimizer",
    "sgd",
    "--batch-sizes",
    "64,256,full,5000",
    "--epochs",
    "2",
    "--initial-seeds",
    "2",
    "--max-seeds",
    "4",
    "--quiet",
];

fn sooth(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sooth"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sooth-tune-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Peak accuracies (percent) by (batch size, seed) from `runs.jsonl`.
fn peaks(dir: &Path) -> BTreeMap<(String, u64), f64> {
    std::fs::read_to_string(dir.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["status"], "ok", "{l}");
            (
                (
                    v["batch_size"].as_str().unwrap().to_string(),
                    v["seed"].as_u64().unwrap(),
                ),
                100.0 * v["peak_test_accuracy"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_tiny_tune_decides_from_its_rows_and_resumes() {
    let dir = scratch("e2e");
    let out = sooth(&TUNE, &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("recommended: batch"), "{stdout}");
    for file in [
        "study.json",
        "runs.jsonl",
        "runs.csv",
        "tune.md",
        "tune.json",
    ] {
        assert!(dir.join(file).is_file(), "{file}");
    }
    let png = std::fs::read(dir.join("tune_race.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(dir.join("tune_race.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("batch 64"));

    let summary = json(&dir.join("tune.json"));
    // 5000 exceeds the 1347 training samples: left out.
    assert_eq!(summary["dropped_batch_sizes"], serde_json::json!(["5000"]));
    let labels: Vec<&str> = summary["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["batch 64", "batch 256", "batch full"]);
    assert_eq!(summary["runs"]["full_grid"], 12);
    // The rows are exactly the race's runs.
    let rows = peaks(&dir);
    assert_eq!(rows.len() as u64, summary["runs"]["race"].as_u64().unwrap());
    assert_eq!(summary["runs"]["ran_now"], summary["runs"]["race"]);

    // Every test in tune.json is the one-sided Welch test on the rows of
    // its round, and every verdict follows from its adjusted p.
    let batch = |c: u64| {
        summary["candidates"][c as usize]["batch_size"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let level = summary["alpha_per_round"].as_f64().unwrap();
    assert!((level - 0.05 / 2.0).abs() < 1e-15, "two planned rounds");
    let rounds = summary["rounds"].as_array().unwrap();
    assert!(!rounds.is_empty());
    for round in rounds {
        let seeds = round["seeds"].as_u64().unwrap();
        let sample = |c: u64| -> Vec<f64> { (1..=seeds).map(|s| rows[&(batch(c), s)]).collect() };
        let best = round["best"].as_u64().unwrap();
        for e in round["entries"].as_array().unwrap() {
            let c = e["candidate"].as_u64().unwrap();
            let mean = sample(c).iter().sum::<f64>() / seeds as f64;
            assert!((e["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
            if let Some(p) = e["p"].as_f64() {
                let expected = one_sided_welch(&sample(best), &sample(c)).unwrap();
                assert!((p - expected).abs() < 1e-12, "{p} vs {expected}");
                let out = e["verdict"]["verdict"] == "eliminated";
                assert_eq!(out, e["p_holm"].as_f64().unwrap() < level, "{e}");
            }
        }
    }
    // Two full-batch steps of SGD do not beat chance: out at once.
    let full = summary["eliminated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["label"] == "batch full")
        .expect("full batch eliminated");
    assert_eq!(full["round"], 1);
    assert_eq!(full["reason"]["kind"], "all_failed");
    let pick = &summary["recommendation"];
    assert_eq!(pick["batch_size"], "64");
    assert!(
        pick["command"]
            .as_str()
            .unwrap()
            .starts_with("sooth train --hidden 8 --optimizer sgd --batch-size 64 --epochs 2")
    );

    // A rerun runs nothing and decides the same.
    let again = sooth(&TUNE, &dir);
    assert!(again.status.success());
    let second = json(&dir.join("tune.json"));
    assert_eq!(second["runs"]["ran_now"], 0);
    assert_eq!(second["runs"]["resumed"], summary["runs"]["race"]);
    for key in ["rounds", "recommendation", "eliminated", "stop"] {
        assert_eq!(second[key], summary[key], "{key}");
    }
    assert_eq!(peaks(&dir), rows);

    // The directory holds this study only.
    let mut other = TUNE.to_vec();
    other[10] = "3"; // --epochs 3
    let refused = sooth(&other, &dir);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("another configuration"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_name_the_flag() {
    let dir = scratch("usage");
    let run = |extra: &[&str]| {
        let mut args = TUNE.to_vec();
        args.extend(extra);
        let out = sooth(&args, &dir);
        assert!(!out.status.success(), "{extra:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run(&["--budget", "5"]).contains("first round"));
    assert!(run(&["--grid", "hidden=4,8"]).contains("not an optimizer flag"));
    assert!(run(&["--grid", "lr=0.1,0.2", "--lr", "0.1"]).contains("give it once"));
    assert!(run(&["--grid", "momentum=2"]).contains("momentum"));
    assert!(run(&["--history", "5"]).contains("--history"));
    assert!(run(&["--budget", "20", "--time", "1"]).contains("cannot be used with"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_time_limit_stops_before_a_round_that_does_not_fit() {
    // The first round always runs; 6 ms cannot fit a second one.
    let dir = scratch("time");
    let mut args = TUNE.to_vec();
    args.extend(["--time", "0.0001"]);
    let out = sooth(&args, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = json(&dir.join("tune.json"));
    assert_eq!(summary["stop"], "time");
    assert_eq!(summary["rounds"].as_array().unwrap().len(), 1);
    // 3 candidates x 2 seeds, and the rows hold no more.
    assert_eq!(summary["runs"]["race"], 6);
    assert_eq!(peaks(&dir).len(), 6);
    // Round 1 leaves batch 64 and 256 (full failed); with 2 seeds neither is
    // shown equivalent to the other within 0.5 points: the higher mean wins.
    let r = &summary["recommendation"];
    assert_eq!(r["rule"]["rule"], "equivalence");
    assert_eq!(r["rule"]["equivalent"].as_array().unwrap().len(), 0);
    assert_eq!(r["candidate"], r["rule"]["best_mean"]);
    assert_eq!(summary["response"], "peak");
    // These rows have no validation split: `--response selected` is refused
    // by name (before any run), `final` is raced.
    let mut again = args.clone();
    again.extend(["--response", "selected"]);
    let out = sooth(&again, &dir);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--response selected: 6 of the 6 ok runs have no selected_test_accuracy"),
        "{err}"
    );
    let mut again = args.clone();
    again.extend(["--response", "final"]);
    let out = sooth(&again, &dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&dir.join("tune.json"))["response"], "final");
    assert!(
        std::fs::read_to_string(dir.join("tune.md"))
            .unwrap()
            .contains("Response: **final test accuracy**")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
