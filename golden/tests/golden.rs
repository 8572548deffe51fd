//! Golden-bit tests: the committed bits of `sooth-golden` that every
//! platform and build profile must reproduce. CI runs this file in debug AND
//! release (scripts/test.sh), and on aarch64 and s390x under QEMU
//! (scripts/cross-test.sh); a change of any bit here means results changed.

use sooth_golden::*;
use std::sync::OnceLock;

fn data() -> &'static Digits {
    static DATA: OnceLock<Digits> = OnceLock::new();
    DATA.get_or_init(Digits::load)
}

#[test]
fn sgd_100_steps_on_digits() {
    let got = sgd_100_steps(data());
    println!("{got:#x?}");
    // A sanity anchor that does not depend on bits: SGD learned something.
    assert!(
        got.train_accuracy > 0.9,
        "train accuracy {}",
        got.train_accuracy
    );
    assert_eq!(got.bits, GOLDEN_SGD);
}

#[test]
fn fifty_steps_of_each_optimizer() {
    let mut failures = Vec::new();
    for case in &FIFTY_STEPS {
        let got = fifty_steps(data(), case.optimizer);
        println!("{}: ({:#018x}, {:#018x})", case.name, got.0, got.1);
        if got != case.expected {
            failures.push(case.name);
        }
    }
    assert!(failures.is_empty(), "golden bits changed for {failures:?}");
}

/// The README's run and the same command with each other optimizer, as
/// `sooth train` computes them (host/tests/cli.rs checks the CLI itself).
#[test]
fn the_cli_runs_give_their_pinned_hashes() {
    let mut failures = Vec::new();
    for run in &CLI_RUNS {
        let got = cli_run(data(), run.optimizer).expect("the run trains");
        println!("{}: {got:016x}", run.name);
        if got != run.expected {
            failures.push(run.name);
        }
    }
    assert!(failures.is_empty(), "hashes changed for {failures:?}");
}

/// The firmware's reference runs on the host: the hashes the Cortex-M
/// firmware logs (tests/firmware.rs compares every epoch with the device).
#[test]
fn the_firmware_runs_give_their_pinned_hashes() {
    for (name, expected) in FIRMWARE_RUNS {
        let spec = sooth_reference::RUNS
            .iter()
            .find(|r| r.name == name)
            .expect("a reference run of that name");
        let got = firmware_run(data(), spec).expect("the run trains");
        assert_eq!(got, expected, "{name}: {got:016x} != {expected:016x}");
    }
}
