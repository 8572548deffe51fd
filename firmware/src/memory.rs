//! RAM use measured on the device: static RAM from the linker's symbols, and
//! the stack's high-water mark from the paint that cortex-m-rt (feature
//! `paint-stack`) lays over the whole stack before `main`.

use cortex_m_rt::STACK_PAINT_VALUE;

unsafe extern "C" {
    // From cortex-m-rt's link.x: RAM starts at `_ram_start` with .data,
    // .bss and .uninit; the stack grows down from `_stack_start` to
    // `_stack_end`, the end of the statics. Only their addresses are used.
    static _ram_start: u32;
    static _stack_end: u32;
    static _stack_start: u32;
}

/// RAM use, in bytes.
#[derive(Clone, Copy, Debug, defmt::Format)]
pub struct RamUse {
    /// .data + .bss + .uninit.
    pub statics: u32,
    /// The deepest the stack has reached since reset.
    pub stack_peak: u32,
    /// Room the stack has (from the statics to the top of RAM).
    pub stack_room: u32,
}

/// Measures RAM use now: call it at the end of the run.
pub fn ram_use() -> RamUse {
    let ram_start = (&raw const _ram_start) as usize;
    let bottom = (&raw const _stack_end) as usize;
    let top = (&raw const _stack_start) as usize;
    // The lowest word whose paint was scrubbed off is the deepest the stack
    // reached. Words are read one at a time, volatile, below any live frame
    // of this function (which sits near the top).
    let mut deepest = top;
    let mut address = bottom;
    while address < top {
        // SAFETY: `address` is word-aligned (`_stack_end` is 4-aligned by
        // link.x) and inside RAM between the statics and the initial stack
        // pointer, which every execution may read.
        let word = unsafe { core::ptr::read_volatile(address as *const u32) };
        if word != STACK_PAINT_VALUE {
            deepest = address;
            break;
        }
        address += 4;
    }
    RamUse {
        statics: (bottom - ram_start) as u32,
        stack_peak: (top - deepest) as u32,
        stack_room: (top - bottom) as u32,
    }
}
