//! Issue 21 on the command line: the validation split and the selected
//! epoch, the split a saved model records and `sooth eval`'s warning, the
//! stopping rules and the refused flag combinations, and a study whose
//! runs stop early (shorter curves) through sweep and report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("validation")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sooth"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs and expects success; (stdout, stderr).
fn ok(args: &[&str], dir: &Path) -> (String, String) {
    let out = run(args, dir);
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "sooth {args:?}: {o}{e}");
    (o, e)
}

/// Runs and expects a usage error (exit 2); stderr.
fn refused(args: &[&str], dir: &Path) -> String {
    let out = run(args, dir);
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "sooth {args:?}: {e}");
    e
}

/// 150 rows, 3 classes, 2 features (deterministic, no RNG).
fn write_csv(dir: &Path) {
    let mut s = String::from("a,b,label\n");
    for i in 0..150u32 {
        let c = i % 3;
        let jitter = |k: u32| ((i * 37 + k * 11) % 17) as f64 / 17.0 - 0.5;
        s.push_str(&format!(
            "{:.3},{:.3},{c}\n",
            f64::from(c) + 1.2 * jitter(1),
            -f64::from(c) + 1.2 * jitter(2)
        ));
    }
    std::fs::write(dir.join("d.csv"), s).unwrap();
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line.trim()).unwrap()
}

const DATA: [&str; 8] = [
    "--dataset",
    "d.csv",
    "--label-column",
    "last",
    "--test-fraction",
    "0.3",
    "--data-seed",
    "4",
];

#[test]
fn a_validation_split_selects_an_epoch_and_save_keeps_it_with_the_split() {
    let dir = scratch("select");
    write_csv(&dir);
    let mut args: Vec<&str> = vec!["train", "--epochs", "12", "--batch-size", "16", "-q"];
    args.extend(DATA);
    args.extend([
        "--validation-fraction",
        "0.2",
        "--json",
        "--metrics",
        "m.csv",
    ]);
    let (out, _) = ok(&args, &dir);
    let r = json(&out);
    // 150 rows: 45 test, then 21 of the 105 for validation.
    assert_eq!(r["train_samples"], 84);
    assert_eq!(r["test_samples"], 45);
    assert_eq!(r["stop_reason"], "epochs");
    assert_eq!(r["epochs"], 12);
    let epoch = r["selected_epoch"].as_u64().unwrap();
    assert!((1..=12).contains(&epoch));
    let v = r["selected_validation_accuracy"].as_f64().unwrap();
    let t = r["selected_test_accuracy"].as_f64().unwrap();
    // Accuracies are counts over 21 validation and 45 test rows.
    assert!(((v * 21.0).round() - v * 21.0).abs() < 1e-9, "{v}");
    assert!(((t * 45.0).round() - t * 45.0).abs() < 1e-9, "{t}");
    assert!(t <= r["peak_test_accuracy"].as_f64().unwrap());

    // --save: the summary says which epoch; eval on the same split
    // reproduces the selected epoch's test accuracy, without a warning.
    let mut args: Vec<&str> = vec!["train", "--epochs", "12", "--batch-size", "16", "-q"];
    args.extend(DATA);
    args.extend(["--validation-fraction", "0.2", "--save", "m.bin"]);
    let (out, _) = ok(&args, &dir);
    assert!(
        out.contains(&format!(
            "saved m.bin with the parameters of the selected epoch {epoch} (best validation accuracy)"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("selected epoch {epoch} (best validation accuracy")));
    let mut args: Vec<&str> = vec!["eval", "--model", "m.bin", "--json"];
    args.extend(DATA);
    let (out, err) = ok(&args, &dir);
    assert_eq!(json(&out)["accuracy"].as_f64().unwrap(), t);
    assert!(!err.contains("warning"), "{err}");

    // The split is in the model: default flags (another split of the same
    // file) score rows it trained on, and eval says so.
    let (_, err) = ok(
        &[
            "eval",
            "--model",
            "m.bin",
            "--dataset",
            "d.csv",
            "--label-column",
            "last",
        ],
        &dir,
    );
    assert!(
        err.contains("warning: m.bin has seen rows of this test part: of its 38 rows, "),
        "{err}"
    );
    assert!(
        err.contains("--test-fraction 0.3 --data-seed 4 --validation-fraction 0.2"),
        "{err}"
    );
    // The training part with the same flags: every row trained on or
    // validated with.
    let mut args: Vec<&str> = vec!["eval", "--model", "m.bin", "--part", "train"];
    args.extend(DATA);
    let (_, err) = ok(&args, &dir);
    assert!(
        err.contains("of its 105 rows, 84 were in its training part and 21 in its validation part"),
        "{err}"
    );
    // Another file (different content): no warning.
    std::fs::copy(dir.join("d.csv"), dir.join("e.csv")).unwrap();
    std::fs::write(
        dir.join("e.csv"),
        std::fs::read_to_string(dir.join("e.csv")).unwrap() + "0.0,0.0,0\n",
    )
    .unwrap();
    let (_, err) = ok(
        &[
            "eval",
            "--model",
            "m.bin",
            "--dataset",
            "e.csv",
            "--label-column",
            "last",
        ],
        &dir,
    );
    assert!(!err.contains("warning"), "{err}");

    // Without a validation split the last epoch is saved, and said so.
    let mut args: Vec<&str> = vec!["train", "--epochs", "3", "--batch-size", "16", "-q"];
    args.extend(DATA);
    args.extend(["--save", "last.bin"]);
    let (out, _) = ok(&args, &dir);
    assert!(
        out.contains("saved last.bin with the parameters of the last epoch 3 (no validation split"),
        "{out}"
    );
}

#[test]
fn gtol_stops_full_batch_lbfgs_on_digits() {
    let dir = scratch("gtol");
    let (out, _) = ok(
        &[
            "train",
            "--dataset",
            "digits",
            "--optimizer",
            "lbfgs",
            "--batch-size",
            "full",
            "--epochs",
            "2000",
            "--gtol",
            "1e-5",
            "--json",
            "-q",
        ],
        &dir,
    );
    let r = json(&out);
    assert_eq!(r["stop_reason"], "gtol");
    assert_eq!(r["epochs"], 83);
    assert_eq!(r["evaluations"], 87);
    assert_eq!(r["peak_test_accuracy"].as_f64().unwrap(), 438.0 / 450.0);
    assert_eq!(r["final_test_accuracy"].as_f64().unwrap(), 437.0 / 450.0);
    // Without gtol the run stalls (zero loss; the line search fails right
    // after a restart) and stops there instead of repeating the failure.
    let (out, _) = ok(
        &[
            "train",
            "--dataset",
            "digits",
            "--optimizer",
            "lbfgs",
            "--batch-size",
            "full",
            "--epochs",
            "2000",
        ],
        &dir,
    );
    assert!(
        out.contains(
            "stop: stalled after epoch 95 of 2000: a line search failed right after a restart"
        ),
        "{out}"
    );
    assert!(out.contains("140 evaluations (140 gradients), 0 recoveries, 2 failed line searches"));
}

#[test]
fn patience_stops_after_that_many_epochs_without_a_better_validation_accuracy() {
    let dir = scratch("patience");
    write_csv(&dir);
    let mut args: Vec<&str> = vec![
        "train",
        "--epochs",
        "200",
        "--batch-size",
        "16",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
        "--validation-fraction",
        "0.2",
        "--patience",
        "4",
        "--json",
        "-q",
    ];
    args.extend(DATA);
    let (out, _) = ok(&args, &dir);
    let r = json(&out);
    assert_eq!(r["stop_reason"], "patience");
    assert_eq!(
        r["epochs"].as_u64().unwrap(),
        r["selected_epoch"].as_u64().unwrap() + 4
    );
}

#[test]
fn ftol_stops_full_batch_runs() {
    let dir = scratch("ftol");
    let (out, _) = ok(
        &[
            "train",
            "--dataset",
            "digits",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
            "--batch-size",
            "full",
            "--epochs",
            "2000",
            "--ftol",
            "1e-3",
            "--json",
            "-q",
        ],
        &dir,
    );
    let r = json(&out);
    assert_eq!(r["stop_reason"], "ftol");
    let epochs = r["epochs"].as_u64().unwrap();
    assert!(epochs > 2 && epochs < 2000, "{epochs}");
}

#[test]
fn flags_that_cannot_apply_are_refused_by_name() {
    let dir = scratch("refused");
    let e = refused(&["train", "--gtol", "1e-5", "--batch-size", "64"], &dir);
    assert!(
        e.contains("the argument '--gtol' cannot be used with '--batch-size 64'"),
        "{e}"
    );
    let e = refused(&["train", "--ftol", "1e-9"], &dir);
    assert!(
        e.contains("the argument '--ftol' cannot be used with '--batch-size 64'"),
        "{e}"
    );
    let e = refused(&["train", "--patience", "3"], &dir);
    assert!(
        e.contains("the argument '--patience' needs '--validation-fraction <FRACTION>'"),
        "{e}"
    );
    for (bad, shown) in [("1", "1"), ("0", "0"), ("-0.2", "-0.2"), ("nan", "NaN")] {
        let e = refused(&["train", "--validation-fraction", bad], &dir);
        assert!(
            e.contains(&format!(
                "invalid value '{shown}' for '--validation-fraction <FRACTION>': expected a \
                 number between 0 and 1 (exclusive)"
            )),
            "{e}"
        );
    }
    let e = refused(&["train", "--batch-size", "full", "--gtol", "-1"], &dir);
    assert!(
        e.contains("invalid value '-1' for '--gtol <GTOL>': expected a finite number >= 0"),
        "{e}"
    );
    let e = refused(&["train", "--batch-size", "full", "--ftol", "nan"], &dir);
    assert!(e.contains("invalid value 'NaN' for '--ftol <FTOL>'"), "{e}");
}

#[test]
fn a_study_whose_runs_stop_early_sweeps_and_reports() {
    let dir = scratch("study");
    std::fs::write(
        dir.join("s.toml"),
        r#"name = "stops"
[data]
dataset = "digits"
validation_fraction = 0.2
[model]
hidden = [8]
[grid]
batch_sizes = ["full", "full"]
seeds = 2
epochs = 300
gtol = 1e-3
patience = 5
[[optimizer]]
name = "lbfgs"
[[optimizer]]
name = "cg"
"#
        .replace(r#"["full", "full"]"#, r#"["full"]"#),
    )
    .unwrap();
    ok(&["sweep", "--config", "s.toml", "--out", "sw", "-q"], &dir);
    let rows = std::fs::read_to_string(dir.join("sw/runs.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = rows.lines().map(json).collect();
    assert_eq!(rows.len(), 4);
    let curves = std::fs::read_to_string(dir.join("sw/curves.jsonl")).unwrap();
    let mut lengths = Vec::new();
    for row in &rows {
        let reason = row["stop_reason"].as_str().unwrap();
        assert!(["gtol", "patience", "stalled"].contains(&reason), "{row}");
        let epochs = row["epochs"].as_u64().unwrap();
        assert!(epochs < 300, "{row}");
        assert!(row["selected_epoch"].as_u64().unwrap() <= epochs);
        lengths.push(epochs);
    }
    assert!(curves.contains("validation_accuracy"), "{curves}");
    let csv = std::fs::read_to_string(dir.join("sw/runs.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(
        "selected_epoch,selected_validation_accuracy,selected_test_accuracy,stop_reason,index"
    ));
    // The report reads curves of different lengths.
    let (out, err) = ok(&["report", "sw", "--no-plots"], &dir);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.is_empty());
    // Gtol with a minibatch size is refused when the study is read.
    std::fs::write(
        dir.join("bad.toml"),
        "[grid]\nbatch_sizes = [\"8\"]\ngtol = 1e-3\n[[optimizer]]\nname = \"lbfgs\"\n",
    )
    .unwrap();
    let out = run(&["sweep", "--config", "bad.toml", "--out", "b", "-q"], &dir);
    let e = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(e.contains("[grid] gtol/ftol need the full batch"), "{e}");
}
