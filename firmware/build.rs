//! Puts the memory layout of the selected machine (the feature, and for
//! `qemu` the target: mps2-an385/an386 or mps2-an505) on the linker's
//! search path as `memory.x`, where cortex-m-rt's `link.x` includes it, and the
//! model named by `SOOTH_MODEL` (if any) into `OUT_DIR/model.bin`.

use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let layout = if env::var_os("CARGO_FEATURE_STM32F411").is_some() {
        "memory-stm32f411.x"
    } else if env::var_os("CARGO_FEATURE_STM32L475").is_some() {
        "memory-stm32l475.x"
    } else if target.starts_with("thumbv8m") {
        "memory-qemu-an505.x"
    } else {
        "memory-qemu.x"
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(layout, out.join("memory.x")).expect("copy the memory layout to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={layout}");
    // A model to build in (from `sooth train --save` / `sooth export`):
    // `SOOTH_MODEL=path/to/model.bin cargo run --release`. Without it the
    // firmware runs its reference trainings.
    println!("cargo:rerun-if-env-changed=SOOTH_MODEL");
    let model = out.join("model.bin");
    match env::var_os("SOOTH_MODEL") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            fs::copy(&path, &model)
                .unwrap_or_else(|e| panic!("SOOTH_MODEL={}: {e}", path.display()));
        }
        None => fs::write(&model, []).expect("write an empty model.bin to OUT_DIR"),
    }
    println!("cargo:rerun-if-changed=build.rs");
}
