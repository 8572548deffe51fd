//! The command line as a hostile user drives it (issue 18): closed pipes
//! and full disks on stdout, failed saves, corrupted models, huge shapes,
//! weak spots of the data readers. Each test failed before the fix it
//! names: a panic (exit 101), an abort, a destroyed file, exit 0 on a
//! corrupt model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("hostile")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sooth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sooth"));
    c.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    c
}

fn run(args: &[&str], dir: &Path) -> Output {
    sooth().args(args).current_dir(dir).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn succeeds(args: &[&str], dir: &Path) -> String {
    let out = run(args, dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "sooth {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs `sooth args` in `dir` and expects exit status `code`; its stderr.
fn fails_with(code: i32, args: &[&str], dir: &Path) -> String {
    let out = run(args, dir);
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "sooth {args:?} panicked: {stderr}"
    );
    assert_eq!(out.status.code(), Some(code), "sooth {args:?}: {stderr}");
    stderr
}

const STUDY: &str = r#"name = "tiny"
[data]
dataset = "digits"
[model]
hidden = [4]
[grid]
batch_sizes = ["64", "full"]
seeds = 2
epochs = 1
[[optimizer]]
name = "sgd"
[[optimizer]]
name = "lbfgs"
"#;

/// A directory with a saved model, a finished sweep (`sw`) and a Slurm
/// directory (`sl`), for the commands that read them.
fn fixtures(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("s.toml"), STUDY).unwrap();
    // Two unlabelled samples for the digits model (`sooth predict`).
    let row = vec!["0.5"; 64].join(",");
    std::fs::write(dir.join("new.csv"), format!("{row}\n{row}\n")).unwrap();
    succeeds(
        &[
            "train",
            "--epochs",
            "1",
            "-q",
            "--hidden",
            "16",
            "--save",
            "model.bin",
        ],
        &dir,
    );
    succeeds(&["sweep", "--config", "s.toml", "--out", "sw", "-q"], &dir);
    succeeds(
        &[
            "slurm", "--config", "s.toml", "--out", "sl", "--shards", "2",
        ],
        &dir,
    );
    dir
}

/// Every command that prints to stdout, with its arguments.
const COMMANDS: &[&[&str]] = &[
    &["train", "--epochs", "2", "--hidden", "4"],
    &["train", "--epochs", "1", "--hidden", "4", "-q", "--json"],
    &["eval", "--model", "model.bin"],
    &["export", "--model", "model.bin", "--out", "export.bin"],
    &[
        "predict",
        "--model",
        "model.bin",
        "--dataset",
        "new.csv",
        "--label-column",
        "none",
    ],
    &["sweep", "--print-default"],
    &["sweep", "--config", "s.toml", "--plan"],
    &["sweep", "--config", "s.toml", "--out", "sw"],
    &["merge", "sw", "--out", "merged"],
    &["report", "sw", "--no-plots"],
    &["slurm", "--status", "--out", "sl"],
    &[
        "slurm", "--config", "s.toml", "--out", "sl", "--shards", "2",
    ],
    &[
        "tune",
        "--hidden",
        "4",
        "--optimizer",
        "sgd",
        "--batch-sizes",
        "64,full",
        "--epochs",
        "1",
        "--initial-seeds",
        "2",
        "--max-seeds",
        "2",
        "--quiet",
        "--out",
        "tuned",
    ],
];

/// Issue 18 #1: every command panicked (exit 101, `failed printing to
/// stdout: Broken pipe`) when its reader had gone. Now it ends quietly with
/// 141, as a Unix tool ended by SIGPIPE.
#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dir = fixtures("pipe");
    for args in COMMANDS {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = sooth()
            .args(*args)
            .current_dir(&dir)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "sooth {args:?}: {stderr}");
        assert!(!stderr.contains("error"), "sooth {args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "sooth {args:?}: {stderr}");
    }
}

/// Issue 18 #1: `> /dev/full` panicked (`No space left on device`, exit
/// 101). Now it is an error naming standard output, exit 1.
#[test]
fn a_full_disk_on_stdout_is_an_error() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let dir = fixtures("full");
    for args in COMMANDS {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = sooth()
            .args(*args)
            .current_dir(&dir)
            .stdout(Stdio::from(full))
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "sooth {args:?}: {stderr}");
        assert!(
            stderr.contains("error: writing to standard output: No space left on device"),
            "sooth {args:?}: {stderr}"
        );
        assert_eq!(out.status.code(), Some(1), "sooth {args:?}: {stderr}");
    }
}

/// Runs `sooth args` in `dir` with files limited to `kib` KiB (writing
/// more fails with EFBIG, as on a full disk).
fn with_file_limit(kib: u32, args: &[&str], dir: &Path) -> Output {
    let mut command = String::from("trap '' XFSZ; ulimit -f ");
    command.push_str(&(2 * kib).to_string());
    command.push_str("; exec \"$0\" \"$@\"");
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .arg(env!("CARGO_BIN_EXE_sooth"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Issue 18 #7: a save that failed half-way left a partial model in place
/// of the good one. Now the previous file is intact, and the error says so.
#[test]
fn a_failed_save_leaves_the_previous_file_intact() {
    let dir = scratch("save");
    let train = [
        "train", "--epochs", "1", "-q", "--hidden", "16", "--seed", "1",
    ];
    let mut args = train.to_vec();
    args.extend(["--save", "model.bin"]);
    succeeds(&args, &dir);
    let good = std::fs::read(dir.join("model.bin")).unwrap();
    assert!(good.len() > 4096, "{}", good.len());
    args[7] = "2";
    let out = with_file_limit(2, &args, &dir);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("model.bin") && stderr.contains("the previous file is intact"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.join("model.bin")).unwrap(), good);
    // The metrics CSV the same way, and no temporary file is left.
    let mut args = train.to_vec();
    args[2] = "40";
    args.extend(["--metrics", "m.csv"]);
    succeeds(&args, &dir);
    let good = std::fs::read(dir.join("m.csv")).unwrap();
    assert!(good.len() > 2048, "{}", good.len());
    args[7] = "3";
    let out = with_file_limit(2, &args, &dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.join("m.csv")).unwrap(), good);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
}

/// Issue 18 #3: flipping bit 7 of byte 203 (inside the stored input
/// scaling) went unnoticed: accuracy fell from 92.67% to 17.78% with exit 0.
/// Now the checksum covers every byte.
#[test]
fn a_flipped_bit_of_the_input_scaling_is_found() {
    let dir = scratch("flip");
    succeeds(
        &[
            "train", "--epochs", "5", "-q", "--hidden", "16", "--scale", "min-max", "--save",
            "v.bin",
        ],
        &dir,
    );
    let mut bytes = std::fs::read(dir.join("v.bin")).unwrap();
    assert!(succeeds(&["eval", "--model", "v.bin"], &dir).contains("accuracy"));
    bytes[203] ^= 1 << 7;
    std::fs::write(dir.join("v.bin"), &bytes).unwrap();
    let stderr = fails_with(1, &["eval", "--model", "v.bin"], &dir);
    assert!(
        stderr.contains("v.bin") && stderr.contains("corrupt"),
        "{stderr}"
    );
}

/// A model saved by the previous version (format 1: no sections, no
/// checksum) still evaluates, with a note; `sooth export` upgrades it.
#[test]
fn a_version_1_model_still_reads_with_a_note() {
    let dir = scratch("v1");
    succeeds(
        &[
            "train", "--epochs", "1", "-q", "--hidden", "16", "--save", "m.bin",
        ],
        &dir,
    );
    let saved = std::fs::read(dir.join("m.bin")).unwrap();
    assert_eq!(saved[8], 2);
    // The saved model has sections (its data split): drop them, as a
    // version 2 model without sections (section length 0, checksum).
    // One section, id 2, its body the split as JSON up to the checksum.
    let body = saved
        .windows(11)
        .position(|w| w == b"{\"dataset\":")
        .unwrap();
    let sections_at = body - 6;
    assert_eq!(saved[sections_at..sections_at + 2], 2u16.to_le_bytes());
    let fnv1a = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut v2 = saved[..sections_at - 4].to_vec();
    v2.extend(0u32.to_le_bytes());
    v2.extend(fnv1a(&v2).to_le_bytes());
    // Version 1 = version 2 without the section length and the checksum.
    let mut v1 = v2[..v2.len() - 12].to_vec();
    v1[8] = 1;
    std::fs::write(dir.join("old.bin"), &v1).unwrap();
    let new = succeeds(&["eval", "--model", "m.bin"], &dir);
    let out = run(&["eval", "--model", "old.bin"], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).replace("old.bin", "m.bin"), new);
    assert!(
        text(&out.stderr).contains("format version 1"),
        "{}",
        text(&out.stderr)
    );
    succeeds(&["export", "--model", "old.bin", "--out", "e.bin"], &dir);
    assert_eq!(std::fs::read(dir.join("e.bin")).unwrap(), v2);
}

/// Issue 18 #2: huge shapes aborted (`memory allocation of 1288490188600
/// bytes failed`, SIGABRT). Now they are errors naming the flag or limit.
#[test]
fn huge_shapes_are_errors_not_aborts() {
    let dir = scratch("huge");
    let stderr = fails_with(
        2,
        &["train", "--optimizer", "sgd", "--hidden", "4294967295"],
        &dir,
    );
    assert!(stderr.contains("--hidden"), "{stderr}");
    let stderr = fails_with(
        1,
        &["train", "--optimizer", "sgd", "--hidden", "100000,100000"],
        &dir,
    );
    assert!(
        stderr.contains("64-100000-100000-10") && stderr.contains("limit of 4 GiB"),
        "{stderr}"
    );
    let rows: String = (0..20)
        .map(|i| format!("{} 1:0.5 2000000:1\n", i % 2))
        .collect();
    std::fs::write(dir.join("wide.svm"), rows).unwrap();
    let stderr = fails_with(
        1,
        &["train", "--dataset", "wide.svm", "--batch-size", "4"],
        &dir,
    );
    assert!(stderr.contains("2000000-32-2"), "{stderr}");
}

/// A small CSV of two classes, label first, `sep` between cells.
fn csv(sep: &str) -> String {
    (0..40)
        .map(|i| {
            let c = i % 2;
            format!("{c}{sep}{}{sep}{}\n", c * 3 + i % 5, i % 7)
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const TRAIN_CSV: [&str; 8] = [
    "train",
    "--dataset",
    "d.csv",
    "--epochs",
    "1",
    "-q",
    "--batch-size",
    "8",
];

/// Issue 18: trailing garbage after a gzip stream was blamed on the wrong
/// byte; trailing zero padding (which `gzip -t` accepts) was refused.
#[test]
fn gzip_trailing_garbage_is_located_and_zero_padding_accepted() {
    let dir = scratch("gzip");
    let packed = gzip(csv(",").as_bytes());
    let mut padded = packed.clone();
    padded.extend([0u8; 1024]);
    std::fs::write(dir.join("d.csv.gz"), &padded).unwrap();
    let mut args = TRAIN_CSV.to_vec();
    args[2] = "d.csv.gz";
    succeeds(&args, &dir);
    let mut garbage = packed.clone();
    garbage.extend(b"trailing junk");
    std::fs::write(dir.join("d.csv.gz"), &garbage).unwrap();
    let stderr = fails_with(1, &args, &dir);
    assert!(
        stderr.contains(&format!("d.csv.gz: byte {}", packed.len()))
            && stderr.contains("after the end of the gzip stream"),
        "{stderr}"
    );
}

/// Issue 18: `--header auto` took a first data row with one typo for a
/// header and dropped it (the same typo in row 2 was an error).
#[test]
fn a_first_row_with_a_typo_is_not_dropped_as_a_header() {
    let dir = scratch("header");
    let mut rows = csv(",");
    rows.replace_range(2..3, "O"); // letter O for the digit 0, in a feature
    std::fs::write(dir.join("d.csv"), &rows).unwrap();
    let stderr = fails_with(1, &TRAIN_CSV, &dir);
    assert!(
        stderr.contains("d.csv:1: the first line mixes")
            && stderr.contains("--header yes or --header no"),
        "{stderr}"
    );
    // In the label column, text reads as a class name (issue 19), and the
    // numbers after it are an error that points at it.
    let mut rows = csv(",");
    rows.replace_range(0..1, "O");
    std::fs::write(dir.join("d.csv"), &rows).unwrap();
    let stderr = fails_with(1, &TRAIN_CSV, &dir);
    assert!(
        stderr.contains("d.csv:2: column 1: label")
            && stderr.contains("holds class names (line 1: \"O\", a typo?)"),
        "{stderr}"
    );
    // A real header (no numbers) is still found.
    std::fs::write(dir.join("d.csv"), format!("label,a,b\n{}", csv(","))).unwrap();
    let out = succeeds(&TRAIN_CSV, &dir);
    assert!(out.contains("peak test accuracy"), "{out}");
}

/// Issue 18: tab- and semicolon-separated files could not be read although
/// the error suggested "wrong delimiter?"; now --delimiter reads them.
#[test]
fn the_delimiter_flag_reads_tab_and_semicolon_files() {
    let dir = scratch("delimiter");
    for (sep, flag) in [("\t", "tab"), (";", ";")] {
        std::fs::write(dir.join("d.csv"), csv(sep)).unwrap();
        let stderr = fails_with(1, &TRAIN_CSV, &dir);
        assert!(stderr.contains("wrong delimiter?"), "{stderr}");
        let mut args = TRAIN_CSV.to_vec();
        args.extend(["--delimiter", flag]);
        assert!(succeeds(&args, &dir).contains("peak test accuracy"));
    }
    let mut args = TRAIN_CSV.to_vec();
    args.extend(["--delimiter", "ab"]);
    let stderr = fails_with(2, &args, &dir);
    assert!(stderr.contains("--delimiter"), "{stderr}");
}

/// Issue 18: a data set with a single class was accepted and reported
/// 100% accuracy.
#[test]
fn one_class_data_is_refused() {
    let dir = scratch("one-class");
    let rows: String = (0..40)
        .map(|i| format!("1,{},{}\n", i % 5, i % 7))
        .collect();
    std::fs::write(dir.join("d.csv"), rows).unwrap();
    let stderr = fails_with(1, &TRAIN_CSV, &dir);
    assert!(
        stderr.contains("d.csv") && stderr.contains("every training sample has class 1"),
        "{stderr}"
    );
}

/// Issue 18: a run on raw 0..255 features with --scale none and SGD lr 0.1
/// learned nothing (chance accuracy) with exit 0 and no hint. Now a warning
/// names the likely cause; with --scale min-max the same run learns.
#[test]
fn a_run_that_learns_nothing_names_the_likely_cause() {
    let dir = scratch("diverged");
    let mut noise = 7u64;
    let rows: String = (0..600)
        .map(|i| {
            let c = i % 3;
            let cells: Vec<String> = (0..12)
                .map(|j| {
                    noise = noise
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let jitter = (noise >> 58) as i64 * 4;
                    let base = if j % 3 == c { 60 + 70 * c as i64 } else { 40 };
                    (base + jitter).clamp(0, 255).to_string()
                })
                .collect();
            format!("{c},{}\n", cells.join(","))
        })
        .collect();
    std::fs::write(dir.join("raw.csv"), rows).unwrap();
    let args = [
        "train",
        "--dataset",
        "raw.csv",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--epochs",
        "3",
        "--hidden",
        "16",
        "-q",
    ];
    let out = run(&args, &dir);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: the run")
            && stderr.contains("max |x| = ")
            && stderr.contains("try --scale min-max"),
        "{stderr}"
    );
    let mut scaled = args.to_vec();
    scaled.extend(["--scale", "min-max"]);
    let out = run(&scaled, &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

/// Issue 18: flags silently reinterpreted: `--max-step 0` meant "no limit"
/// and `--lr 1e39` was reported as `invalid value 'inf'`.
#[test]
fn reinterpreted_flag_values_are_refused_as_written() {
    let dir = scratch("flags");
    let stderr = fails_with(2, &["train", "--max-step", "0"], &dir);
    assert!(
        stderr.contains("'--max-step <LENGTH>'") && stderr.contains("no limit"),
        "{stderr}"
    );
    let stderr = fails_with(2, &["train", "--optimizer", "sgd", "--lr", "1e39"], &dir);
    assert!(
        stderr.contains("invalid value '1e39' for '--lr <LR>'") && !stderr.contains("'inf'"),
        "{stderr}"
    );
}

/// Issue 18: a flag that has no effect with the data given was accepted
/// silently (`--header yes` on the built-in digits trained as if it were not
/// there); now it is a usage error naming the flag and why.
#[test]
fn data_flags_without_effect_are_refused() {
    let dir = scratch("no-effect");
    for flag in [
        &["--header", "yes"][..],
        &["--delimiter", ";"],
        &["--label-column", "1"],
        &["--width", "5"],
        &["--classes", "3"],
        &["--format", "csv"],
    ] {
        let mut args = vec!["train", "--epochs", "1", "-q"];
        args.extend_from_slice(flag);
        let stderr = fails_with(2, &args, &dir);
        assert!(
            stderr.contains(&format!(
                "the argument '{}' cannot be used with '--dataset digits'",
                flag[0]
            )) && stderr.contains("a built-in data set"),
            "{stderr}"
        );
    }
    std::fs::write(dir.join("d.txt"), "1 1:0.5\n0 1:0.25\n").unwrap();
    let stderr = fails_with(
        2,
        &[
            "train",
            "--dataset",
            "d.txt",
            "--format",
            "libsvm",
            "--header",
            "no",
        ],
        &dir,
    );
    assert!(
        stderr.contains(
            "the argument '--header' cannot be used with '--format libsvm' (it is for CSV files)"
        ),
        "{stderr}"
    );
}
