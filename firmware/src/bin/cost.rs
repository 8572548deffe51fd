//! The one-epoch benchmark of `scripts/device-cost.sh` (feature `cost`,
//! QEMU only): for each optimizer (SGD, Adam, CG, L-BFGS m = 5) on the
//! reference network, batch and data, one warm-up epoch (so that L-BFGS has
//! its pairs and every optimizer its state), then one measured epoch whose
//! two halves are bracketed by [`cost_mark`]: the training steps, then the
//! test evaluation (the forward pass alone, per test sample).
//!
//! The instrument is outside: a QEMU TCG plugin (`firmware/cost/plugin.c`)
//! counts the instructions executed and prints its counters each time
//! `cost_mark` runs; the defmt log names the phases in the same order.
#![no_std]
#![no_main]

#[cfg(not(all(feature = "cost", feature = "qemu")))]
compile_error!("the cost benchmark runs under QEMU: build it with `--features cost` (and `qemu`)");

use defmt_semihosting as _;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::debug;
use sooth_core::{
    AdamConfig, CgConfig, Dataset, Error, Mlp, OptimizerConfig, PackedDataset, Packing,
    TrainBuffers, Trainer, seed_streams,
};
use sooth_reference::{self as reference, RunStorage, digits};

/// The optimizers measured, with their names in the log.
const OPTIMIZERS: [(&str, OptimizerConfig); 4] = [
    ("sgd", reference::RUNS[1].optimizer),
    ("adam", OptimizerConfig::Adam(AdamConfig::DEFAULT)),
    ("cg", OptimizerConfig::Cg(CgConfig::DEFAULT)),
    ("lbfgs", reference::RUNS[0].optimizer),
];

// Every optimizer's state fits the reference run's storage.
const _: () = {
    let mut i = 0;
    while i < OPTIMIZERS.len() {
        let setup = sooth_core::TrainSetup {
            optimizer: OPTIMIZERS[i].1,
            ..reference::RUNS[0].setup()
        };
        let lengths = setup.buffer_lengths(&reference::SHAPE, digits::TRAIN_LEN);
        assert!(lengths.optimizer <= reference::LENGTHS.optimizer);
        assert!(lengths.work <= reference::LENGTHS.work);
        i += 1;
    }
};

/// The marker the plugin watches: it prints its counters whenever this
/// function's first instruction executes. Never inlined, kept by name.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn cost_mark(phase: u32) {
    core::hint::black_box(phase);
}

#[entry]
fn main() -> ! {
    static mut STORAGE: RunStorage = RunStorage::new();
    for (name, optimizer) in OPTIMIZERS {
        if let Err(error) = measure(name, optimizer, STORAGE.buffers()) {
            defmt::error!("cost run {=str} failed: {}", name, error);
            exit(false)
        }
    }
    exit(true)
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

/// One optimizer: a warm-up epoch, then the measured one (marks 1, 2, 3
/// around its steps and its test evaluation).
fn measure(name: &str, optimizer: OptimizerConfig, buffers: TrainBuffers<'_>) -> Result<(), Error> {
    let train = digits_set(digits::TRAIN_LEVELS, digits::TRAIN_LABELS)?;
    let test = digits_set(digits::TEST_LEVELS, digits::TEST_LABELS)?;
    let mlp = Mlp::new(reference::SHAPE, reference::ACTIVATION);
    let (mut init_rng, sampler_rng) = seed_streams(reference::SEED);
    mlp.init(
        buffers.params,
        reference::ACTIVATION.default_init(),
        &mut init_rng,
    )?;
    let setup = sooth_core::TrainSetup {
        optimizer,
        ..reference::RUNS[0].setup()
    };
    let mut trainer = Trainer::new(mlp, &setup, train.len(), sampler_rng, buffers)?;
    let warm = trainer.run_epoch(&train, &test)?;
    cost_mark(1);
    let steps = trainer.train_steps(&train)?;
    cost_mark(2);
    let report = trainer.evaluate(steps, &test, None::<&PackedDataset<'_>>)?;
    cost_mark(3);
    defmt::info!(
        "cost optimizer={=str} steps={=u32} samples={=u32} evaluations={=u64} gradients={=u64} test_samples={=u32} test_correct={=u32}",
        name,
        report.steps,
        report.steps * reference::BATCH_SIZE as u32,
        report.evaluations - warm.evaluations,
        report.gradients - warm.gradients,
        report.test.total,
        report.test.correct,
    );
    Ok(())
}

/// Ends the run through semihosting (QEMU's exit status).
fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic");
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc {=u32:#010x}", frame.pc());
    exit(false)
}
