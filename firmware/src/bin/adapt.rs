//! The second firmware program: a model trained on the host
//! ([`adapt::BUILT_IN_MODEL`]) learns online from samples that arrive one at
//! a time from a shifted distribution it never saw (the shared definition
//! is `sooth_reference::adapt`: the shift, the stream, the ring of arrived
//! samples, the blocks of optimizer steps, over the core's `OnlineTrainer`). For L-BFGS (m = 5) and SGD in
//! turn, it logs the accuracy on the held-out shifted samples before
//! adaptation and after every block of arrivals, then the RAM use, and
//! exits through semihosting with success. `sooth adapt` replays it on the
//! host and prints the same lines; `tests/firmware_adapt.rs` compares them
//! bit for bit.
//!
//! `cd firmware && cargo run --release --bin adapt`
#![no_std]
#![no_main]

#[cfg(not(any(feature = "qemu", feature = "stm32f411", feature = "stm32l475")))]
compile_error!("choose a machine: the feature `qemu` (default), `stm32f411` or `stm32l475`");

// The defmt transport of the machine.
#[cfg(feature = "stm32f411")]
use defmt_rtt as _;
#[cfg(any(feature = "qemu", feature = "stm32l475"))]
use defmt_semihosting as _;

use cortex_m_rt::entry;
use sooth_core::{Error, PackedDataset, Packing, SavedModel};
use sooth_firmware::{exit, report_memory};
use sooth_reference::adapt::{self, Checkpoint, Shifted};
use sooth_reference::{self as reference, digits};

/// Samples that arrive: [`adapt::ARRIVALS`] in release builds (a line
/// after every block of 50: 100, 200, ... 500); 100 in
/// unoptimized debug builds, which run the core about ten times slower
/// (the first 100 arrivals give the same checkpoints either way).
const ARRIVALS: u32 = if cfg!(debug_assertions) {
    100
} else {
    adapt::ARRIVALS
};

#[entry]
fn main() -> ! {
    // cortex-m-rt turns these into `&'static mut` references, handed out
    // once; zero-initialized, so they live in .bss and take no flash.
    static mut STORAGE: adapt::Storage = adapt::Storage::new();

    if let Err(error) = adapt_both(STORAGE) {
        defmt::error!("the adapt program failed: {}", error);
        exit(false)
    }
    report_memory();
    exit(true)
}

/// Reads and evaluates the built-in model, then adapts it with each of
/// [`adapt::RUNS`].
fn adapt_both(storage: &mut adapt::Storage) -> Result<(), Error> {
    let model = SavedModel::read(adapt::BUILT_IN_MODEL)?;
    let clean_test = PackedDataset::new(
        digits::TEST_LEVELS,
        digits::TEST_LABELS,
        reference::INPUTS,
        reference::CLASSES,
        Packing::U8,
        digits::LEVEL_SCALE,
        0.0,
    )?;
    let (source, test) = (Shifted::train(), Shifted::test());
    let clean = storage.evaluate_model(&model, &clean_test)?;
    let shifted = storage.evaluate_model(&model, &test)?;
    defmt::info!(
        "adapt_model seed={=u64} param_hash={=u64:016x} clean_test_correct={=u32} shifted_test_correct={=u32} test_total={=u32} shifted_test_loss={=f64}",
        adapt::SEED,
        model.param_hash(),
        clean.correct,
        shifted.correct,
        shifted.total,
        shifted.loss,
    );
    for spec in &adapt::RUNS {
        defmt::info!(
            "adapt_run run={=str} seed={=u64} arrivals={=u32} block={=u32} steps_per_block={=u32} batch={=usize} capacity={=usize}",
            spec.name,
            adapt::SEED,
            ARRIVALS,
            adapt::BLOCK,
            adapt::STEPS_PER_BLOCK,
            adapt::BATCH_SIZE,
            adapt::CAPACITY,
        );
        let outcome = adapt::run(
            &adapt::Setup {
                optimizer: spec.optimizer,
                seed: adapt::SEED,
                arrivals: ARRIVALS,
            },
            &model,
            storage,
            &source,
            &test,
            |c| log_checkpoint(spec.name, c),
        )?;
        let last = outcome.last;
        defmt::info!(
            "adapt_final run={=str} arrivals={=u32} test_correct={=u32} test_total={=u32} test_accuracy={=f64} param_hash={=u64:016x}",
            spec.name,
            last.arrivals,
            last.test.correct,
            last.test.total,
            last.test.accuracy(),
            outcome.param_hash,
        );
    }
    Ok(())
}

/// Logs a checkpoint (the line `sooth adapt` prints for it).
fn log_checkpoint(run: &str, c: &Checkpoint) {
    defmt::info!(
        "adapt run={=str} arrivals={=u32} stored={=u32} steps={=u64} test_correct={=u32} test_total={=u32} test_accuracy={=f64} test_loss={=f64} mean_batch_loss={=f64} evaluations={=u64} gradients={=u64} recoveries={=u32} curvature_skips={=u32}",
        run,
        c.arrivals,
        c.stored,
        c.steps,
        c.test.correct,
        c.test.total,
        c.test.accuracy(),
        c.test.loss,
        c.mean_batch_loss,
        c.evaluations,
        c.gradients,
        c.recoveries,
        c.curvature_skips,
    );
}
