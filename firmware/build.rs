//! Puts the memory layout of the selected machine on the linker's search
//! path as `memory.x`, where cortex-m-rt's `link.x` includes it.

use std::{env, fs, path::PathBuf};

fn main() {
    let layout = if env::var_os("CARGO_FEATURE_STM32F411").is_some() {
        "memory-stm32f411.x"
    } else {
        "memory-qemu.x"
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(layout, out.join("memory.x")).expect("copy the memory layout to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={layout}");
    println!("cargo:rerun-if-changed=build.rs");
}
