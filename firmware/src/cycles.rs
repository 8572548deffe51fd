//! The cycle counter of a board (feature `stm32f411`; the QEMU build has
//! none of this): the DWT's CYCCNT, read around each epoch so that anyone
//! with a board can check the cycle model of `scripts/device-cost.sh`
//! (firmware/cost/README.md) against the hardware.

use cortex_m::peripheral::{DWT, Peripherals};

/// Starts the DWT cycle counter (trace enabled in the DCB first); call once,
/// at the start of `main`. Returns whether the core has the counter.
pub fn start() -> bool {
    let Some(mut core) = Peripherals::take() else {
        return false;
    };
    core.DCB.enable_trace();
    if !DWT::has_cycle_counter() {
        return false;
    }
    core.DWT.enable_cycle_counter();
    true
}

/// The counter now (32 bits: wraps after 42.9 s at 100 MHz, far longer
/// than an epoch of the reference run).
pub fn now() -> u32 {
    DWT::cycle_count()
}
