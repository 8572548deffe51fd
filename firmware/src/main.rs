//! sooth's reference training run on a Cortex-M4F: the digits data stay in
//! flash and are streamed sample by sample; every buffer is a `static` sized
//! by the core's `const fn`s; there is no heap. The run is the crate
//! `sooth-reference` (`reference/`), which the host's determinism test runs too.
//!
//! The defmt log ends with the final test accuracy, the peak, the parameter
//! hash and the RAM use; the program then exits through semihosting with
//! success. A training error, a panic or a HardFault exits with failure.
#![no_std]
#![no_main]

#[cfg(feature = "stm32f411")]
mod cycles;
#[cfg(feature = "large")]
mod large;

#[cfg(any(
    all(feature = "qemu", feature = "stm32f411"),
    all(feature = "qemu", feature = "stm32l475"),
    all(feature = "stm32f411", feature = "stm32l475"),
))]
compile_error!("choose one machine: the feature `qemu` (default), `stm32f411` or `stm32l475`");
#[cfg(not(any(feature = "qemu", feature = "stm32f411", feature = "stm32l475")))]
compile_error!("choose a machine: the feature `qemu` (default), `stm32f411` or `stm32l475`");

// The defmt transport of the machine.
#[cfg(feature = "stm32f411")]
use defmt_rtt as _;
#[cfg(any(feature = "qemu", feature = "stm32l475"))]
use defmt_semihosting as _;

#[cfg(not(feature = "large"))]
use cortex_m_rt::entry;
use sooth_core::{EpochReport, Error, PackedDataset, Packing};
#[cfg(not(feature = "large"))]
use sooth_core::{SavedModel, TrainBuffers};
use sooth_firmware::{exit, report_memory};
use sooth_reference::{self as reference, digits};
#[cfg(not(feature = "large"))]
use sooth_reference::{RunStorage, Start};

#[cfg(not(feature = "large"))]
#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` references, handed out
    // once; zero-initialized, so they live in .bss and take no flash.
    static mut STORAGE: RunStorage = RunStorage::new();

    #[cfg(feature = "stm32f411")]
    if !cycles::start() {
        defmt::warn!("no DWT cycle counter: epochs are logged without cycles");
    }
    if MODEL.is_empty() {
        for spec in &reference::RUNS {
            if let Err(error) = train(spec, Start::Seeded, reference::EPOCHS, STORAGE.buffers()) {
                defmt::error!("training failed: {}", error);
                exit(false)
            }
        }
    } else {
        if let Err(error) = evaluate_and_fine_tune(STORAGE.buffers()) {
            defmt::error!("the built-in model failed: {}", error);
            exit(false)
        }
    }
    report_memory();
    exit(true)
}

/// The model built in with `SOOTH_MODEL=... cargo build` (empty without).
#[cfg(not(feature = "large"))]
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.bin"));

/// Evaluates the built-in model on the test digits, then fine-tunes it
/// on the device ([`reference::FINE_TUNE`]).
#[cfg(not(feature = "large"))]
fn evaluate_and_fine_tune(buffers: TrainBuffers<'_>) -> Result<(), Error> {
    let model = SavedModel::read(MODEL)?;
    let mlp = model.mlp();
    if mlp.shape() != reference::SHAPE
        || mlp.activation() != reference::ACTIVATION
        || model.has_transform()
    {
        defmt::error!(
            "the built-in model is {=[?]} {} (input scaling: {=bool}); this firmware trains {=usize}-{=usize}-{=usize} relu on unscaled digits",
            mlp.shape().widths(),
            mlp.activation(),
            model.has_transform(),
            reference::INPUTS,
            reference::HIDDEN,
            reference::CLASSES,
        );
        exit(false);
    }
    model.read_params(buffers.params)?;
    let test = digits_set(digits::TEST_LEVELS, digits::TEST_LABELS)?;
    let eval = mlp.evaluate(buffers.params, &test, buffers.work)?;
    defmt::info!(
        "model test_correct={=u32} test_total={=u32} test_loss={=f64} param_hash={=u64:016x}",
        eval.correct,
        eval.total,
        eval.loss,
        model.param_hash(),
    );
    train(
        &reference::FINE_TUNE,
        Start::AsGiven,
        reference::FINE_TUNE_EPOCHS,
        buffers,
    )
}

/// The digits in flash as a data set.
fn digits_set(
    levels: &'static [u8],
    labels: &'static [u8],
) -> Result<PackedDataset<'static>, Error> {
    PackedDataset::new(
        levels,
        labels,
        reference::INPUTS,
        reference::CLASSES,
        Packing::U8,
        digits::LEVEL_SCALE,
        0.0,
    )
}

/// One run on the digits in flash, logged.
#[cfg(not(feature = "large"))]
fn train(
    spec: &reference::ReferenceRun,
    start: Start,
    epochs: u32,
    buffers: TrainBuffers<'_>,
) -> Result<(), Error> {
    let train = digits_set(digits::TRAIN_LEVELS, digits::TRAIN_LABELS)?;
    let test = digits_set(digits::TEST_LEVELS, digits::TEST_LABELS)?;
    defmt::info!(
        "run name={=str} digits {=usize}-{=usize}-{=usize} relu, {=usize} parameters, batch {=usize}, {=u32} epochs, seed {=u64}, optimizer {}",
        spec.name,
        reference::INPUTS,
        reference::HIDDEN,
        reference::CLASSES,
        reference::PARAM_COUNT,
        reference::BATCH_SIZE,
        epochs,
        reference::SEED,
        spec.optimizer,
    );
    // On a board, the cycles of each epoch (its steps and test evaluation,
    // not the logging) are logged before its report.
    #[cfg(feature = "stm32f411")]
    let mut last = cycles::now();
    let outcome = reference::run_from(spec, epochs, start, buffers, &train, &test, |report| {
        #[cfg(feature = "stm32f411")]
        defmt::info!(
            "epoch_cycles run={=str} epoch={=u32} cycles={=u32}",
            spec.name,
            report.epoch,
            cycles::now().wrapping_sub(last)
        );
        log_epoch(report);
        #[cfg(feature = "stm32f411")]
        {
            last = cycles::now();
        }
    })?;
    log_final(spec.name, &outcome);
    Ok(())
}

/// Logs a run's `final` line (the one `tests/firmware.rs` compares with
/// the host's): last test accuracy, peak, and the parameters' hash.
fn log_final(name: &str, outcome: &reference::Outcome) {
    let test = outcome.last.test;
    defmt::info!(
        "final run={=str} test_correct={=u32} test_total={=u32} test_accuracy={=f64} peak_accuracy={=f64} peak_epoch={=u32} param_hash={=u64:016x}",
        name,
        test.correct,
        test.total,
        test.accuracy(),
        outcome.peak.accuracy,
        outcome.peak.epoch,
        outcome.param_hash,
    );
}

fn log_epoch(report: &EpochReport) {
    defmt::info!(
        "epoch={=u32} mean_batch_loss={=f64} test_accuracy={=f64} test_correct={=u32} test_total={=u32} test_loss={=f64} evaluations={=u64} gradients={=u64} recoveries={=u32}",
        report.epoch,
        report.mean_batch_loss,
        report.test.accuracy(),
        report.test.correct,
        report.test.total,
        report.test.loss,
        report.evaluations,
        report.gradients,
        report.recoveries,
    );
}
