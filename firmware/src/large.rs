//! The `large` build (`--features large`): instead of the reference runs,
//! the largest network that L-BFGS (m = 5) with 16-bit curvature pairs
//! trains within the 96 KiB RAM budget (`sooth_reference::large`), logged
//! like the reference runs so that tests/firmware.rs compares it with the
//! host bit for bit.

use crate::{digits_set, exit, log_epoch, log_final, report_memory};
use cortex_m_rt::entry;
use sooth_core::Error;
use sooth_reference::{self as reference, digits, large};

#[entry]
fn main() -> ! {
    // As in the reference build: a `&'static mut` handed out once, in .bss.
    static mut STORAGE: large::Storage = large::Storage::new();

    if let Err(error) = train(STORAGE) {
        defmt::error!("training failed: {}", error);
        exit(false)
    }
    report_memory();
    exit(true)
}

/// The run on the digits in flash, logged.
fn train(storage: &mut large::Storage) -> Result<(), Error> {
    let train = digits_set(digits::TRAIN_LEVELS, digits::TRAIN_LABELS)?;
    let test = digits_set(digits::TEST_LEVELS, digits::TEST_LABELS)?;
    let run = &large::RUN;
    defmt::info!(
        "run name={=str} digits {=usize}-{=usize}-{=usize} relu, {=usize} parameters, batch {=usize}, {=u32} epochs, seed {=u64}, optimizer {}",
        run.name,
        reference::INPUTS,
        large::HIDDEN,
        reference::CLASSES,
        large::PARAM_COUNT,
        reference::BATCH_SIZE,
        reference::EPOCHS,
        reference::SEED,
        run.optimizer,
    );
    let outcome = large::run(storage.buffers(), &train, &test, log_epoch)?;
    log_final(run.name, &outcome);
    Ok(())
}
