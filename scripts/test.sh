#!/usr/bin/env bash
# The whole test suite: what CI runs after its lint steps, and what a
# developer runs before pushing. Installs what it needs when it is missing
# (QEMU, defmt-print, the thumbv7em target: scripts/setup-firmware.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-firmware.sh

echo "== firmware: build the QEMU images (debug, release) for the determinism test"
(
    cd firmware
    cargo build --locked
    cargo build --locked --release
    # The largest network L-BFGS trains in 96 KiB (16-bit pairs), in a target dir of its own.
    cargo build --locked --release --features large --target-dir target/large
)
elf_dir="$PWD/firmware/target/thumbv7em-none-eabihf"
export SOOTH_FIRMWARE_ELF_DEBUG="$elf_dir/debug/sooth-firmware"
export SOOTH_FIRMWARE_ELF_RELEASE="$elf_dir/release/sooth-firmware"
export SOOTH_FIRMWARE_ELF_LARGE="$PWD/firmware/target/large/thumbv7em-none-eabihf/release/sooth-firmware"
# The second program (online adaptation), from the same builds.
export SOOTH_ADAPT_ELF_DEBUG="$elf_dir/debug/adapt"
export SOOTH_ADAPT_ELF_RELEASE="$elf_dir/release/adapt"

echo "== unit, integration and doc tests (debug; includes the firmware under QEMU)"
cargo test --workspace --locked

echo "== golden-bit tests and the core's unit tests in release (its vectorised code paths)"
cargo test --locked --release -p sooth-golden
cargo test --locked --release -p sooth-core --lib

echo "== firmware: memory budget (release: 256 KiB flash, 96 KiB RAM)"
firmware/memory-table.sh debug="$SOOTH_FIRMWARE_ELF_DEBUG" release="$SOOTH_FIRMWARE_ELF_RELEASE" \
    release-large="$SOOTH_FIRMWARE_ELF_LARGE" release-adapt="$SOOTH_ADAPT_ELF_RELEASE"

echo "== firmware: instructions per training sample on the Cortex-M4F (budget: firmware/cost/budget.txt)"
scripts/device-cost.sh --check
