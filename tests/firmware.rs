//! Bit-identical training on the microcontroller: the firmware's reference
//! run (the crate `sooth-reference`, `reference/`), built in release and in debug and run
//! under QEMU (Cortex-M4F, mps2-an386), must log exactly what the same run
//! gives on this host through sooth-core: every epoch's mean batch loss and
//! test loss (f64 bits), test accuracy and evaluation counts, the peak, and
//! the hash of the final parameters.
//!
//! The host reads the digits as f32 rows (`level / 16`) in a `SliceDataset`;
//! the firmware streams the same levels from flash through a
//! `PackedDataset`. Both run the one `sooth_reference::run_from`, so seed, model,
//! optimizer, batch size and epochs cannot drift apart.
//!
//! Needs QEMU and defmt-print (`scripts/setup-firmware.sh` installs them).
//! The firmware is built here with cargo in `firmware/`, unless
//! `SOOTH_FIRMWARE_ELF_RELEASE` / `SOOTH_FIRMWARE_ELF_DEBUG` name built ELFs
//! (as `scripts/firmware-test.sh` does). Each decoded log is kept beside its
//! ELF as `ELF.log`, where `firmware/memory-table.sh` reads the stack peak.

use sooth_core::{EpochReport, SliceDataset};
use sooth_reference::{self as reference, RunStorage, Start, adapt, digits, large};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// An f64 compared by its bits (the log prints the shortest decimal that
/// reads back to the same f64, so nothing is lost on the way).
#[derive(Clone, Copy)]
struct Bits(f64);

impl PartialEq for Bits {
    fn eq(&self, other: &Bits) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl std::fmt::Debug for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:#018x})", self.0, self.0.to_bits())
    }
}

/// What one epoch logs, in the firmware's words.
#[derive(Debug, PartialEq)]
struct Epoch {
    epoch: u32,
    mean_batch_loss: Bits,
    test_correct: u32,
    test_total: u32,
    test_loss: Bits,
    evaluations: u64,
    gradients: u64,
    recoveries: u32,
}

/// The end of a run.
#[derive(Debug, PartialEq)]
struct Final {
    test_correct: u32,
    test_total: u32,
    peak_accuracy: Bits,
    peak_epoch: u32,
    param_hash: u64,
}

#[derive(Debug, PartialEq)]
struct RunLog {
    name: String,
    epochs: Vec<Epoch>,
    last: Final,
}

impl Epoch {
    fn from_report(r: &EpochReport) -> Epoch {
        Epoch {
            epoch: r.epoch,
            mean_batch_loss: Bits(r.mean_batch_loss),
            test_correct: r.test.correct,
            test_total: r.test.total,
            test_loss: Bits(r.test.loss),
            evaluations: r.evaluations,
            gradients: r.gradients,
            recoveries: r.recoveries,
        }
    }
}

/// The reference runs on the host, once for all tests.
fn host_runs() -> &'static [RunLog] {
    static RUNS: OnceLock<Vec<RunLog>> = OnceLock::new();
    RUNS.get_or_init(|| reference::RUNS.iter().map(host_run).collect())
}

/// The digits as f32 rows on the host: (train, test) data sets over `rows`.
fn host_digits<'a>(
    train_x: &'a [f32],
    test_x: &'a [f32],
) -> (SliceDataset<'a, u8>, SliceDataset<'a, u8>) {
    let slice = |x, y| SliceDataset::new(x, y, reference::INPUTS, reference::CLASSES);
    (
        slice(train_x, digits::TRAIN_LABELS).expect("training rows"),
        slice(test_x, digits::TEST_LABELS).expect("test rows"),
    )
}

/// One reference run on the host.
fn host_run(spec: &reference::ReferenceRun) -> RunLog {
    let (train_x, test_x) = (rows(digits::TRAIN_LEVELS), rows(digits::TEST_LEVELS));
    let (train, test) = host_digits(&train_x, &test_x);
    let mut buffers = Box::new(RunStorage::new());
    let mut epochs = Vec::new();
    let outcome = reference::run_from(
        spec,
        reference::EPOCHS,
        Start::Seeded,
        buffers.buffers(),
        &train,
        &test,
        |r| epochs.push(Epoch::from_report(r)),
    )
    .expect("the reference run on the host");
    run_log(spec, epochs, &outcome)
}

/// The run of the `large` firmware build on the host.
fn host_large_run() -> RunLog {
    let (train_x, test_x) = (rows(digits::TRAIN_LEVELS), rows(digits::TEST_LEVELS));
    let (train, test) = host_digits(&train_x, &test_x);
    let mut buffers = Box::new(large::Storage::new());
    let mut epochs = Vec::new();
    let outcome = large::run(buffers.buffers(), &train, &test, |r| {
        epochs.push(Epoch::from_report(r))
    })
    .expect("the large run on the host");
    run_log(&large::RUN, epochs, &outcome)
}

/// A run's log from its epochs and outcome.
fn run_log(
    spec: &reference::ReferenceRun,
    epochs: Vec<Epoch>,
    outcome: &reference::Outcome,
) -> RunLog {
    RunLog {
        name: spec.name.to_owned(),
        epochs,
        last: Final {
            test_correct: outcome.last.test.correct,
            test_total: outcome.last.test.total,
            peak_accuracy: Bits(outcome.peak.accuracy),
            peak_epoch: outcome.peak.epoch,
            param_hash: outcome.param_hash,
        },
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails with the fix when a tool the test needs is missing.
fn require_tool(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not installed: run scripts/setup-firmware.sh (installs QEMU, defmt-print and the thumbv7em target)"
    );
}

/// The firmware ELF of a profile: from `env_var` if set, else built now.
fn firmware_elf(profile: &str, env_var: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env_var}={} is not a file", path.display());
        return path;
    }
    build_firmware(profile, None)
}

/// Builds the firmware (with `model` built in, into a target directory of
/// its own) and returns the ELF.
fn build_firmware(profile: &str, model: Option<&Path>) -> PathBuf {
    build_firmware_with(profile, model, None)
}

/// [`build_firmware`] with a cargo feature (into a target directory of its
/// own, `target/FEATURE`).
fn build_firmware_with(profile: &str, model: Option<&Path>, feature: Option<&str>) -> PathBuf {
    let firmware = repo_root().join("firmware");
    let target_dir = match (model, feature) {
        (None, None) => firmware.join("target"),
        (Some(_), None) => firmware.join("target/with-model"),
        (_, Some(feature)) => firmware.join("target").join(feature),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    // From firmware/, so that firmware/.cargo/config.toml (target, linker
    // scripts) applies; without the host build's flags and target dir.
    build
        .current_dir(&firmware)
        .args(["build", "--locked", "--target-dir"])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("SOOTH_MODEL");
    if let Some(model) = model {
        build.env("SOOTH_MODEL", model);
    }
    if let Some(feature) = feature {
        build.args(["--features", feature]);
    }
    if profile == "release" {
        build.arg("--release");
    }
    let output = build.output().expect("run cargo to build the firmware");
    assert!(
        output.status.success(),
        "building the firmware ({profile}) failed (scripts/setup-firmware.sh installs the thumbv7em target):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target_dir.join(format!("thumbv7em-none-eabihf/{profile}/sooth-firmware"))
}

/// Runs `elf` under QEMU and returns its decoded defmt log.
fn run_in_qemu(elf: &Path) -> String {
    require_tool("qemu-system-arm");
    require_tool("defmt-print");
    let output = Command::new(repo_root().join("firmware/qemu-run.sh"))
        .arg(elf)
        .env("SOOTH_QEMU_TIMEOUT", "600")
        .output()
        .expect("run firmware/qemu-run.sh");
    let log = String::from_utf8_lossy(&output.stdout).into_owned();
    // Kept beside the ELF for firmware/memory-table.sh (the stack's peak).
    let mut log_path = elf.as_os_str().to_owned();
    log_path.push(".log");
    let log_path = PathBuf::from(log_path);
    if let Err(error) = std::fs::write(&log_path, &log) {
        eprintln!("could not keep the log in {}: {error}", log_path.display());
    }
    assert!(
        output.status.success(),
        "the firmware {} failed under QEMU ({}):\n{log}\n{}",
        elf.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    log
}

/// The `key=value` fields of a log line.
fn fields(line: &str) -> impl Iterator<Item = (&str, &str)> {
    line.split_whitespace().filter_map(|t| t.split_once('='))
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> T {
    let (_, value) = fields(line)
        .find(|&(k, _)| k == key)
        .unwrap_or_else(|| panic!("no `{key}=` in the log line {line:?}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("`{key}={value}` does not parse in {line:?}"))
}

fn f64_bits(line: &str, key: &str) -> Bits {
    Bits(field(line, key))
}

/// Reads the runs (header, epochs, final line) from the firmware's log.
fn parse_log(log: &str) -> Vec<RunLog> {
    let message = |line: &str| line.split_once("INFO").map(|(_, m)| m.trim().to_owned());
    let mut runs = Vec::new();
    let mut name = None;
    let mut epochs = Vec::new();
    for line in log.lines().filter_map(message) {
        if line.starts_with("run name=") {
            name = Some(field::<String>(&line, "name"));
            epochs = Vec::new();
        } else if line.starts_with("epoch=") {
            epochs.push(Epoch {
                epoch: field(&line, "epoch"),
                mean_batch_loss: f64_bits(&line, "mean_batch_loss"),
                test_correct: field(&line, "test_correct"),
                test_total: field(&line, "test_total"),
                test_loss: f64_bits(&line, "test_loss"),
                evaluations: field(&line, "evaluations"),
                gradients: field(&line, "gradients"),
                recoveries: field(&line, "recoveries"),
            });
        } else if line.starts_with("final ") {
            let hash: String = field(&line, "param_hash");
            let run: String = field(&line, "run");
            assert_eq!(Some(&run), name.as_ref(), "a final line of another run");
            runs.push(RunLog {
                name: run,
                epochs: std::mem::take(&mut epochs),
                last: Final {
                    test_correct: field(&line, "test_correct"),
                    test_total: field(&line, "test_total"),
                    peak_accuracy: f64_bits(&line, "peak_accuracy"),
                    peak_epoch: field(&line, "peak_epoch"),
                    param_hash: u64::from_str_radix(&hash, 16)
                        .unwrap_or_else(|_| panic!("param_hash={hash} is not hexadecimal")),
                },
            });
        }
    }
    assert!(
        !runs.is_empty(),
        "no `final` line in the firmware's log:\n{log}"
    );
    runs
}

fn check_profile(profile: &str, env_var: &str) {
    let elf = firmware_elf(profile, env_var);
    let log = run_in_qemu(&elf);
    let device = parse_log(&log);
    let host = host_runs();
    assert_eq!(
        device.iter().map(|r| &r.name).collect::<Vec<_>>(),
        host.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "the firmware ran other runs than reference::RUNS"
    );
    for (d, h) in device.iter().zip(host) {
        assert_eq!(h.epochs.len(), reference::EPOCHS as usize);
        for (de, he) in d.epochs.iter().zip(&h.epochs) {
            assert_eq!(
                de, he,
                "{}: epoch {} differs ({profile} firmware vs host)",
                h.name, he.epoch
            );
        }
        assert_eq!(d, h, "{}: {profile} firmware vs host", h.name);
        // A run that learns nothing could agree trivially: each reference
        // run reaches over 90 % test accuracy.
        assert!(
            h.last.test_correct * 10 > h.last.test_total * 9,
            "{}: {:?}",
            h.name,
            h.last
        );
    }
}

#[test]
fn release_firmware_trains_bit_identical_to_the_host() {
    check_profile("release", "SOOTH_FIRMWARE_ELF_RELEASE");
}

#[test]
fn debug_firmware_trains_bit_identical_to_the_host() {
    check_profile("debug", "SOOTH_FIRMWARE_ELF_DEBUG");
}

/// The `large` build (64-31-10, L-BFGS m = 5 with bf16 pairs, within the
/// 96 KiB budget): the release firmware logs exactly the host's run
/// (`SOOTH_FIRMWARE_ELF_LARGE` may name a built ELF).
#[test]
fn large_firmware_trains_bit_identical_to_the_host() {
    let elf = match std::env::var_os("SOOTH_FIRMWARE_ELF_LARGE") {
        Some(path) => PathBuf::from(path),
        None => build_firmware_with("release", None, Some("large")),
    };
    let log = run_in_qemu(&elf);
    let device = parse_log(&log);
    let host = host_large_run();
    assert_eq!(device.len(), 1, "one run in the large build");
    assert_eq!(host.epochs.len(), reference::EPOCHS as usize);
    for (de, he) in device[0].epochs.iter().zip(&host.epochs) {
        assert_eq!(
            de, he,
            "epoch {} differs (large firmware vs host)",
            he.epoch
        );
    }
    assert_eq!(device[0], host, "large firmware vs host");
    // It learns: over 90 % test accuracy.
    assert!(
        host.last.test_correct * 10 > host.last.test_total * 9,
        "{:?}",
        host.last
    );
}

/// A model trained on the host and built into the firmware: the firmware's
/// evaluation of it equals the host's, and its on-device fine-tuning gives
/// the bits of the same fine-tuning on the host.
#[test]
fn a_built_in_model_is_evaluated_and_fine_tuned_as_on_the_host() {
    let (train_x, test_x) = (rows(digits::TRAIN_LEVELS), rows(digits::TEST_LEVELS));
    let (train, test) = host_digits(&train_x, &test_x);
    // The model: 3 epochs of the reference SGD run, saved as `sooth train --save` does.
    let mut buffers = Box::new(RunStorage::new());
    reference::run_from(
        &reference::RUNS[1],
        3,
        Start::Seeded,
        buffers.buffers(),
        &train,
        &test,
        |_| {},
    )
    .expect("train the model");
    let model = buffers.params.to_vec();
    let mlp = sooth_core::Mlp::new(reference::SHAPE, reference::ACTIVATION);
    let mut bytes = vec![0u8; sooth_core::saved_len(&reference::SHAPE, false)];
    let len = sooth_core::write_model(&mlp, &model, None, &mut bytes).unwrap();
    let path =
        std::env::temp_dir().join(format!("sooth-firmware-model-{}.bin", std::process::id()));
    std::fs::write(&path, &bytes[..len]).unwrap();

    // The host: evaluation, then fine-tuning from the model.
    let mut work = vec![0.0; reference::SHAPE.workspace_len()];
    let eval = mlp.evaluate(&model, &test, &mut work).unwrap();
    let mut buffers = Box::new(RunStorage::new());
    buffers.params.copy_from_slice(&model);
    let mut epochs = Vec::new();
    let outcome = reference::run_from(
        &reference::FINE_TUNE,
        reference::FINE_TUNE_EPOCHS,
        Start::AsGiven,
        buffers.buffers(),
        &train,
        &test,
        |r| epochs.push(Epoch::from_report(r)),
    )
    .expect("fine-tune on the host");

    // The device.
    let elf = build_firmware("release", Some(&path));
    let log = run_in_qemu(&elf);
    let _ = std::fs::remove_file(&path);
    let model_line = log
        .lines()
        .find_map(|l| {
            l.split_once("INFO")
                .map(|(_, m)| m.trim().to_owned())
                .filter(|m| m.starts_with("model "))
        })
        .unwrap_or_else(|| panic!("no `model` line in the firmware's log:\n{log}"));
    assert_eq!(field::<u32>(&model_line, "test_correct"), eval.correct);
    assert_eq!(f64_bits(&model_line, "test_loss"), Bits(eval.loss));
    let device = parse_log(&log);
    assert_eq!(device.len(), 1, "one fine-tuning run");
    assert_eq!(device[0].name, "finetune");
    assert_eq!(device[0].epochs, epochs);
    assert_eq!(device[0].last.param_hash, outcome.param_hash);
    assert_eq!(device[0].last.test_correct, outcome.last.test.correct);
}

/// The `adapt` ELF of a profile: from `env_var` if set, else built now
/// (the same build as the reference firmware's).
fn adapt_elf(profile: &str, env_var: &str) -> PathBuf {
    match std::env::var_os(env_var) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{env_var}={} is not a file", path.display());
            path
        }
        None => build_firmware(profile, None).with_file_name("adapt"),
    }
}

/// Runs the adapt firmware of `profile` (whose stream has `arrivals`
/// samples) and compares its `adapt*` lines with the host replay's, text
/// for text (every f64 is printed as the shortest decimal of its bits).
fn check_adapt(profile: &str, env_var: &str, arrivals: u32) {
    let log = run_in_qemu(&adapt_elf(profile, env_var));
    let device: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once("INFO").map(|(_, m)| m.trim()))
        .filter(|m| m.starts_with("adapt"))
        .collect();
    let model = sooth::adapt::host_model(adapt::SEED).expect("the host model");
    let replay = sooth::adapt::replay(model, &adapt::RUNS, arrivals).expect("the host replay");
    let host = sooth::adapt::log_lines(&replay);
    assert_eq!(
        device.len(),
        host.len(),
        "{profile} adapt firmware: other lines than the host's:\n{log}"
    );
    for (d, h) in device.iter().zip(&host) {
        assert_eq!(d, h, "{profile} adapt firmware vs host");
    }
    // It adapts: on the held-out shifted samples, each run ends over 5
    // points above the host model after 100 arrivals, over 20 after 500.
    let gain = if arrivals >= 500 { 90 } else { 22 };
    for run in &replay.runs {
        let last = run.checkpoints.last().unwrap();
        assert_eq!(last.arrivals, arrivals);
        assert!(
            last.test.correct > replay.model.shifted_test.correct + gain,
            "{}: {:?} vs the host model's {:?}",
            run.run,
            last.test,
            replay.model.shifted_test
        );
    }
}

/// The release adapt firmware (500 arrivals) logs the host replay's lines.
#[test]
fn release_adapt_firmware_learns_online_bit_identical_to_the_host() {
    check_adapt("release", "SOOTH_ADAPT_ELF_RELEASE", adapt::ARRIVALS);
}

/// The debug adapt firmware (a 100-arrival stream: the unoptimized core
/// is about ten times slower) logs the host replay's lines.
#[test]
fn debug_adapt_firmware_learns_online_bit_identical_to_the_host() {
    check_adapt("debug", "SOOTH_ADAPT_ELF_DEBUG", 100);
}

/// `level / 16` in f32 (exact): the values the firmware's PackedDataset
/// computes as `level * (1/16)`.
fn rows(levels: &[u8]) -> Vec<f32> {
    levels.iter().map(|&q| f32::from(q) / 16.0).collect()
}

#[test]
fn the_log_parser_reads_the_firmware_format() {
    // Lines as defmt-print prints them (format of firmware/src/main.rs).
    let log = "INFO  run name=sgd digits 64-16-10 relu\n\
        INFO  epoch=1 mean_batch_loss=1.316549114439459 test_accuracy=0.8288888888888889 test_correct=373 test_total=450 test_loss=0.5 evaluations=42 gradients=42 recoveries=0\n\
        INFO  final run=sgd test_correct=428 test_total=450 test_accuracy=0.95 peak_accuracy=0.9755555555555555 peak_epoch=12 param_hash=c877523ea49d8d5e\n";
    let runs = parse_log(log);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.name, "sgd");
    assert_eq!(
        run.epochs,
        [Epoch {
            epoch: 1,
            mean_batch_loss: Bits(1.316549114439459),
            test_correct: 373,
            test_total: 450,
            test_loss: Bits(0.5),
            evaluations: 42,
            gradients: 42,
            recoveries: 0,
        }]
    );
    assert_eq!(
        run.last,
        Final {
            test_correct: 428,
            test_total: 450,
            peak_accuracy: Bits(439.0 / 450.0),
            peak_epoch: 12,
            param_hash: 0xc877_523e_a49d_8d5e,
        }
    );
}
