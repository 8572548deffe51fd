//! What the firmware's programs share: the RAM report (statics and the
//! stack's peak), the exit through semihosting, and the panic and HardFault
//! handlers (both end the run with failure). The programs are the reference
//! training (`src/main.rs`), the online adaptation (`src/bin/adapt.rs`)
//! and the cost benchmark (`src/bin/cost.rs`, which has its own handlers).
#![no_std]

pub mod memory;

use core::sync::atomic::{AtomicBool, Ordering};
use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::debug;

/// Logs the RAM use (statics and the stack's deepest point over all runs);
/// ends the run with failure if the stack overwrote the statics.
pub fn report_memory() {
    let ram = memory::ram_use();
    defmt::info!(
        "ram static_bytes={=u32} stack_peak_bytes={=u32} total_bytes={=u32} stack_room_bytes={=u32}",
        ram.statics,
        ram.stack_peak,
        ram.statics + ram.stack_peak,
        ram.stack_room,
    );
    if ram.stack_peak >= ram.stack_room {
        // The paint is gone down to the statics: the stack overwrote them.
        defmt::error!("stack overflow: the stack reached the statics; the results above are void");
        exit(false);
    }
}

/// Ends the run: semihosting exit (QEMU's status; `probe-rs run` also
/// handles it on a board), with success or failure.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Reached only without a host to take the exit call.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // A panic while logging one (e.g. a fault inside the logger) exits at once.
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if PANICKING.swap(true, Ordering::Relaxed) {
        exit(false)
    }
    match (info.message().as_str(), info.location()) {
        (Some(message), Some(at)) => {
            defmt::error!(
                "panic at {=str}:{=u32}: {=str}",
                at.file(),
                at.line(),
                message
            )
        }
        (None, Some(at)) => defmt::error!("panic at {=str}:{=u32}", at.file(), at.line()),
        _ => defmt::error!("panic"),
    }
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    defmt::error!("HardFault at pc {=u32:#010x}", frame.pc());
    exit(false)
}
