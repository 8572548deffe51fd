//! `sooth-golden`: runs every pinned computation of the crate `sooth-golden`
//! on this machine and prints one line per value, then `result ok` or
//! `result mismatch`; exits 1 on any mismatch. `scripts/cross-test.sh` runs
//! it under QEMU user mode on other architectures and reads its lines.
//!
//!   usage: sooth-golden [--quick] [--kernels portable|avx|avx512]
//!   --quick: the golden steps and the README's run only (a quarter of the
//!     time; what the cross test runs for its second build of a target)
//!
//! Lines (space-separated):
//!   `platform ARCH ENDIAN KERNELS`
//!   `check GROUP NAME GOT EXPECTED yes|no` (hashes as 16 hex digits)
//!   `result ok|mismatch SECONDS`

use sooth_core::simd::{KernelSet, kernels_in_use, use_kernels};
use sooth_golden::{
    CLI_RUNS, Digits, FIFTY_STEPS, FIRMWARE_RUNS, GOLDEN_SGD, cli_run, fifty_steps, firmware_run,
    sgd_100_steps,
};
use std::process::ExitCode;
use std::time::Instant;

/// Prints one `check` line; returns whether `got` equals `expected`.
fn print_check(group: &str, name: &str, got: u64, expected: u64) -> bool {
    let equal = got == expected;
    let name = name.replace(' ', "-");
    let verdict = if equal { "yes" } else { "no" };
    println!("check {group} {name} {got:016x} {expected:016x} {verdict}");
    equal
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.first().is_some_and(|a| a == "--quick");
    if quick {
        args.remove(0);
    }
    let limit = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => None,
        ["--kernels", "portable"] => Some(KernelSet::Portable),
        ["--kernels", "avx"] => Some(KernelSet::Avx),
        ["--kernels", "avx512"] => Some(KernelSet::Avx512),
        _ => {
            eprintln!("usage: sooth-golden [--quick] [--kernels portable|avx|avx512]");
            return ExitCode::from(2);
        }
    };
    if let Some(limit) = limit {
        use_kernels(limit);
    }
    let start = Instant::now();
    let endian = if cfg!(target_endian = "big") {
        "big"
    } else {
        "little"
    };
    let kernels = match kernels_in_use() {
        KernelSet::Portable => "portable",
        KernelSet::Avx => "avx",
        KernelSet::Avx512 => "avx512",
    };
    println!("platform {} {endian} {kernels}", std::env::consts::ARCH);

    let data = Digits::load();
    let mut all_equal = true;
    let mut check = |group: &str, name: &str, got: u64, expected: u64| {
        all_equal &= print_check(group, name, got, expected);
    };

    let sgd = sgd_100_steps(&data);
    check("golden", "sgd-100-steps", sgd.bits.hash, GOLDEN_SGD.hash);
    check(
        "golden",
        "sgd-100-steps-loss",
        sgd.bits.last_loss,
        GOLDEN_SGD.last_loss,
    );
    check(
        "golden",
        "sgd-100-steps-first",
        sgd.bits.first.into(),
        GOLDEN_SGD.first.into(),
    );
    check(
        "golden",
        "sgd-100-steps-last",
        sgd.bits.last.into(),
        GOLDEN_SGD.last.into(),
    );
    for case in &FIFTY_STEPS {
        let (hash, loss) = fifty_steps(&data, case.optimizer);
        check("golden", case.name, hash, case.expected.0);
        check(
            "golden",
            &format!("{}-loss", case.name),
            loss,
            case.expected.1,
        );
    }
    let (cli_runs, firmware_runs) = if quick {
        (&CLI_RUNS[..1], &FIRMWARE_RUNS[..0])
    } else {
        (&CLI_RUNS[..], &FIRMWARE_RUNS[..])
    };
    for run in cli_runs {
        let group = if run.name == CLI_RUNS[0].name {
            "readme"
        } else {
            "optimizer"
        };
        match cli_run(&data, run.optimizer) {
            Ok(hash) => check(group, run.name, hash, run.expected),
            Err(error) => {
                println!("error {group} {} {error}", run.name);
                check(group, run.name, 0, run.expected);
            }
        }
    }
    for &(name, expected) in firmware_runs {
        let spec = sooth_reference::RUNS.iter().find(|r| r.name == name);
        match spec.map(|spec| firmware_run(&data, spec)) {
            Some(Ok(hash)) => check("firmware", name, hash, expected),
            Some(Err(error)) => {
                println!("error firmware {name} {error}");
                check("firmware", name, 0, expected);
            }
            None => {
                println!("error firmware {name} is not in sooth_reference::RUNS");
                check("firmware", name, 0, expected);
            }
        }
    }
    let verdict = if all_equal { "ok" } else { "mismatch" };
    println!("result {verdict} {:.1}", start.elapsed().as_secs_f64());
    if all_equal {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
