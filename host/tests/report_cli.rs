//! `sooth report DIR` end to end on generated sweep directories: exit codes,
//! messages, the sections of report.md, report.json, and plots that exist
//! and hold drawings (decoded and inspected, not just present). PNG checks
//! need the `png` feature (default); without it the report must embed the
//! SVG files and say why there is no PNG.

#[cfg(feature = "png")]
use resvg::tiny_skia::Pixmap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sooth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sooth"))
        .args(args)
        .output()
        .expect("run sooth")
}

/// An empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Deterministic noise in [-1, 1] (a 64-bit LCG's top bits).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

const BATCHES: [&str; 4] = ["8", "32", "128", "full"];

/// A sweep like the lead's: per optimizer a mean and spread of peak accuracy
/// per batch size; sgd has two configurations (one failing at batch 8); one
/// cg run errored; the file ends in a torn line.
fn write_sweep(dir: &Path, optimizers: &[&str]) {
    let profile = |o: &str| -> ([f64; 4], [f64; 4]) {
        match o {
            "sgd" => ([0.93, 0.965, 0.968, 0.93], [0.02, 0.01, 0.008, 0.01]),
            "adam" => ([0.968, 0.97, 0.955, 0.80], [0.006, 0.005, 0.008, 0.04]),
            "cg" => ([0.90, 0.93, 0.94, 0.91], [0.02, 0.015, 0.012, 0.015]),
            _ => ([0.95, 0.968, 0.965, 0.935], [0.01, 0.0025, 0.003, 0.006]),
        }
    };
    let mut noise = Noise(7);
    let (mut runs, mut curves) = (String::new(), String::new());
    for &o in optimizers {
        let configs: &[&str] = if o == "sgd" { &["h0", "h1"] } else { &["h0"] };
        let (means, spreads) = profile(o);
        for (bi, b) in BATCHES.iter().enumerate() {
            for c in configs {
                for seed in 0..5u64 {
                    let id = format!("{o}-b{b}-{c}-s{seed}");
                    let head = format!(
                        r#""run_id": "{id}", "optimizer": "{o}", "batch_size": "{b}", "config_id": "{c}", "config": "{o} ({c})", "seed": {seed}"#
                    );
                    if o == "cg" && *b == "8" && seed == 4 {
                        writeln!(
                            runs,
                            r#"{{{head}, "status": "error: non-finite loss at epoch 2"}}"#
                        )
                        .unwrap();
                        continue;
                    }
                    let mut peak = (means[bi] + spreads[bi] * noise.next()).min(0.999);
                    if o == "sgd" && *b == "8" && *c == "h1" && seed < 2 {
                        peak = 0.09 + 0.02 * seed as f64;
                    }
                    let epochs = 12;
                    let mut best = 0.0f64;
                    for e in 1..=epochs {
                        let acc = peak * (1.0 - (-(e as f64) / 3.0).exp()).min(1.0);
                        let acc = if e == 9 { peak } else { acc.min(peak) };
                        best = best.max(acc);
                        writeln!(
                            curves,
                            r#"{{"run_id": "{id}", "epoch": {e}, "mean_batch_loss": 0.3, "test_loss": 0.25, "test_accuracy": {acc}, "train_loss": null, "train_accuracy": null, "evaluations": {}, "wall_seconds": {}}}"#,
                            e * 40,
                            e as f64 * 0.1
                        )
                        .unwrap();
                    }
                    writeln!(
                        runs,
                        r#"{{{head}, "status": "ok", "peak_test_accuracy": {best}, "peak_epoch": 9, "final_test_accuracy": {}, "final_test_loss": 0.25, "final_train_loss": 0.2, "epochs": {epochs}, "evaluations": 480, "gradients": 480, "recoveries": 0, "line_search_failures": 0, "wall_seconds": 1.25, "train_seconds": 1.0, "param_hash": "0011223344556677"}}"#,
                        peak * 0.995
                    )
                    .unwrap();
                }
            }
        }
    }
    runs.push_str(r#"{"run_id": "lbfgs-b8-h0-s9", "optimizer": "lbf"#);
    std::fs::write(dir.join("runs.jsonl"), runs).unwrap();
    std::fs::write(dir.join("curves.jsonl"), curves).unwrap();
    let quoted: Vec<String> = optimizers.iter().map(|o| format!("\"{o}\"")).collect();
    std::fs::write(
        dir.join("study.json"),
        format!(
            r#"{{"name": "fixture study", "dataset": "digits", "model": "64-32-10 relu", "epochs": {{"sgd": 12, "adam": 12, "cg": 12, "lbfgs": 12}}, "batch_sizes": ["8", "32", "128", "full"], "seeds": 5, "optimizers": [{}], "config_hash": "c0ffee", "train_samples": 1347}}"#,
            quoted.join(", ")
        ),
    )
    .unwrap();
}

#[cfg(feature = "png")]
/// Decodes a PNG and checks it is a drawing of `size`: mostly white
/// background, a real amount of ink, and pixels of each `colors`.
fn check_png(path: &Path, size: (u32, u32), colors: &[(u8, u8, u8)]) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 10_000,
        "{}: only {} bytes",
        path.display(),
        bytes.len()
    );
    let pixmap = Pixmap::decode_png(&bytes).unwrap();
    assert_eq!(
        (pixmap.width(), pixmap.height()),
        size,
        "{}",
        path.display()
    );
    let pixels = pixmap.pixels();
    let white = pixels
        .iter()
        .filter(|p| (p.red(), p.green(), p.blue()) == (255, 255, 255))
        .count();
    let share = white as f64 / pixels.len() as f64;
    assert!(
        (0.5..0.99).contains(&share),
        "{}: {:.3} of the pixels are white",
        path.display(),
        share
    );
    for &(r, g, b) in colors {
        let close = pixels.iter().any(|p| {
            (i32::from(p.red()) - i32::from(r)).abs() <= 2
                && (i32::from(p.green()) - i32::from(g)).abs() <= 2
                && (i32::from(p.blue()) - i32::from(b)).abs() <= 2
        });
        assert!(
            close,
            "{}: no pixel of colour {:?}",
            path.display(),
            (r, g, b)
        );
    }
}

#[cfg(feature = "png")]
const SGD_BLUE: (u8, u8, u8) = (31, 119, 180);
#[cfg(feature = "png")]
const LBFGS_RED: (u8, u8, u8) = (214, 39, 40);

#[test]
fn report_writes_the_document_the_json_and_the_plots() {
    let dir = scratch("full");
    write_sweep(&dir, &["sgd", "adam", "cg", "lbfgs"]);
    let out = sooth(&["report", dir.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // Finished, but a run failed: exit status 3, said on stderr.
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains("sooth report: 1 of the 100 runs in ")
            && stderr.contains("ended in an error (listed in "),
        "{stderr}"
    );
    assert!(stdout.contains("100 runs (99 ok, 1 errored)"), "{stdout}");
    assert!(stdout.contains("(a) batch size matters: holds"), "{stdout}");
    assert!(
        stderr.contains("runs.jsonl line 101: not a complete JSON object")
            && stderr.contains("torn last line"),
        "{stderr}"
    );

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "# Sweep report: fixture study",
        "| Data set | digits |",
        "| Model | 64-32-10 relu |",
        "| Batch sizes | 8, 32, 128, full |",
        "| Runs | 100 (99 ok, 1 errored); 2 ok run(s) at or near chance |",
        "| Compute | 2 min 04 s wall time summed over 99 run(s)",
        "## Summary",
        "- **(a) Batch size has a statistically significant effect on peak test accuracy — HOLDS.**",
        "| sgd-b8-h1-s0 | sgd | 8 | h1 | 0 | 9.00 |",
        "| cg-b8-h0-s4 | cg | 8 | h0 | 4 | error: non-finite loss at epoch 2 |",
        "**Type II, response peak accuracy**",
        "**Type III, response ln(peak accuracy)**",
        "**Across optimizers, at each batch size**",
        "**Across batch sizes, for each optimizer**",
        "## 7. Recommended batch size per optimizer",
        "**lbfgs: across batch sizes**",
        "### Kruskal-Wallis",
        "torn last line",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }

    #[cfg(feature = "png")]
    let embedded = [
        "![Mean ± sd of peak test accuracy vs batch size](peak_mean_sd.png)",
        "![Variance of peak test accuracy vs batch size](peak_variance.png)",
        "(peak_cells.png)",
        "(curves.png)",
        "<sub>Also as vector graphics: [curves.svg](curves.svg).</sub>",
    ];
    #[cfg(not(feature = "png"))]
    let embedded = [
        "![Mean ± sd of peak test accuracy vs batch size](peak_mean_sd.svg)",
        "![Variance of peak test accuracy vs batch size](peak_variance.svg)",
        "(peak_cells.svg)",
        "(curves.svg)",
        "<sub>No PNG: this sooth was built without the `png` feature.</sub>",
    ];
    for needle in embedded {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }
    assert_eq!(
        stdout.contains("no PNG: built without the `png` feature"),
        cfg!(not(feature = "png")),
        "{stdout}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let plots = json["plots"].as_array().unwrap();
    // The four plots, and the heatmap of sgd, the one optimizer with two
    // configurations (claim (d) is then there but not testable: lbfgs has one).
    assert_eq!(plots.len(), 5);
    assert_eq!(plots[4]["svg"], "sensitivity_sgd.svg");
    assert!(
        stdout.contains("(d) L-BFGS is less sensitive to its hyperparameters: not testable"),
        "{stdout}"
    );
    assert!(
        md.contains("## 10. Hyperparameter sensitivity (claim d)"),
        "report.md lacks section 10"
    );
    for p in plots {
        assert_eq!(p.get("png").is_some(), cfg!(feature = "png"), "{p}");
    }
    let a = &json["analysis"];
    assert_eq!(a["runs"]["ok"], 99);
    assert_eq!(a["unit"], "percent");
    assert_eq!(a["claims"]["batch_size_matters"]["verdict"], "holds");
    assert_eq!(a["anova"]["status"], "done");
    assert_eq!(a["anova"]["result"]["tables"].as_array().unwrap().len(), 4);
    assert_eq!(a["cells"].as_array().unwrap().len(), 16);
    let lbfgs = a["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["optimizer"] == "lbfgs")
        .unwrap();
    assert_eq!(lbfgs["result"]["status"], "done");
    assert_eq!(lbfgs["result"]["result"]["rule"]["margin"], 0.5);
    assert_eq!(a["response"], "peak");
    let paired = a["paired"].as_array().unwrap();
    assert_eq!(paired.len(), 4);
    // cg's batch 8 lost seed 4 to an error: Friedman uses 4 complete blocks.
    let cg = paired.iter().find(|p| p["optimizer"] == "cg").unwrap();
    assert_eq!(
        (cg["blocks"].as_u64(), cg["complete_blocks"].as_u64()),
        (Some(5), Some(4))
    );
    assert_eq!(cg["friedman"]["result"]["df"], 3);
    assert_eq!(json["study"]["config_hash"], "c0ffee");

    #[cfg(feature = "png")]
    {
        check_png(
            &dir.join("peak_mean_sd.png"),
            (1000, 600),
            &[SGD_BLUE, LBFGS_RED],
        );
        check_png(
            &dir.join("peak_variance.png"),
            (1000, 600),
            &[SGD_BLUE, LBFGS_RED],
        );
        check_png(
            &dir.join("peak_cells.png"),
            (1000, 600),
            &[SGD_BLUE, LBFGS_RED],
        );
        check_png(&dir.join("curves.png"), (1000, 600), &[]);
    }
    #[cfg(not(feature = "png"))]
    for png in ["peak_mean_sd", "peak_variance", "peak_cells", "curves"] {
        assert!(!dir.join(format!("{png}.png")).exists(), "{png}.png");
    }
    for svg in ["peak_mean_sd", "peak_variance", "peak_cells", "curves"] {
        let text = std::fs::read_to_string(dir.join(format!("{svg}.svg"))).unwrap();
        assert!(text.starts_with("<svg"), "{svg}.svg");
        assert!(text.len() > 3_000, "{svg}.svg has {} bytes", text.len());
    }
    let svg = std::fs::read_to_string(dir.join("peak_mean_sd.svg")).unwrap();
    for label in [
        "batch size (log scale)",
        "full (1347)",
        "\nlbfgs\n",
        "\nsgd\n",
    ] {
        assert!(svg.contains(label), "peak_mean_sd.svg lacks {label:?}");
    }
}

#[test]
fn one_optimizer_and_no_plots() {
    let dir = scratch("one-optimizer");
    write_sweep(&dir, &["lbfgs"]);
    std::fs::remove_file(dir.join("study.json")).unwrap();
    let out = sooth(&[
        "report",
        "--no-plots",
        "--classes",
        "10",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("# Sweep report: one-optimizer"));
    assert!(md.contains(
        "Not computed: the sweep has 1 optimizer(s); the two-factor ANOVA needs 2 or more"
    ));
    assert!(md.contains("One-way ANOVA across batch sizes: lbfgs: F(3, 16)"));
    assert!(md.contains("(10 classes, from --classes;"));
    assert!(!dir.join("peak_mean_sd.png").exists());
    assert!(!dir.join("peak_mean_sd.svg").exists());
}

#[test]
fn response_flag_chooses_the_accuracy_and_refuses_selected_without_a_split() {
    let dir = scratch("response");
    write_sweep(&dir, &["lbfgs"]);
    let d = dir.to_str().unwrap();
    let out = sooth(&["report", "--no-plots", "--response", "selected", d]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--response selected: 20 of the 20 ok runs have no selected_test_accuracy"),
        "{err}"
    );
    let out = sooth(&["report", "--no-plots", "--response", "final", d]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("response: final test accuracy (--response final)")
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("| Response | **final test accuracy**"));
    assert!(md.contains("## 1. Final test accuracy by cell"));
    // Final accuracy is 0.995 x peak in the fixture: the cells' means move with it.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["analysis"]["response"], "final");
    let cell = &json["analysis"]["cells"][0];
    let (peak, fin) = (
        cell["peak"]["mean"].as_f64().unwrap(),
        cell["final_accuracy"]["mean"].as_f64().unwrap(),
    );
    assert!((peak - fin).abs() < 1e-9, "{peak} vs {fin}");
    // With a validation split (every ok row has selected_test_accuracy) the
    // default is `selected`.
    let runs = std::fs::read_to_string(dir.join("runs.jsonl")).unwrap();
    let runs = runs.replace(
        r#""status": "ok", "#,
        r#""status": "ok", "selected_test_accuracy": 0.9, "selected_epoch": 3, "#,
    );
    std::fs::write(dir.join("runs.jsonl"), runs).unwrap();
    let out = sooth(&["report", "--no-plots", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("response: selected test accuracy"));
    let out = sooth(&["report", "--no-plots", "--response", "bogus", d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected peak, selected or final"));
    let out = sooth(&["report", "--no-plots", "--equivalence-margin", "0", d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not positive"));
}

#[test]
fn errors_name_the_path_and_line() {
    let out = sooth(&["report", "/nonexistent/sweep-dir"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: /nonexistent/sweep-dir: no such directory; expected a sweep directory holding runs.jsonl\n"
    );

    let dir = scratch("bad-line");
    write_sweep(&dir, &["sgd", "lbfgs"]);
    let runs = std::fs::read_to_string(dir.join("runs.jsonl")).unwrap();
    let mut lines: Vec<&str> = runs.lines().collect();
    lines[3] =
        r#"{"run_id": "x", "optimizer": "sgd", "batch_size": "huge", "seed": 1, "status": "ok"}"#;
    std::fs::write(dir.join("runs.jsonl"), lines.join("\n")).unwrap();
    let out = sooth(&["report", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("runs.jsonl line 4: `batch_size`: `huge` is not a batch size; expected a number of samples >= 1, or `full`"),
        "{stderr}"
    );

    let out = sooth(&["report", "--alpha", "5", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("5 is outside (0, 1)"));
}
