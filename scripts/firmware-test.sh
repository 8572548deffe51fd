#!/usr/bin/env bash
# The firmware's checks, as CI runs them: installs what they need, lints the
# firmware workspace, builds it in debug and release, runs both under QEMU
# against the same training on the host (tests/firmware.rs), and prints the
# memory table, failing if the release build is over its budget.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-firmware.sh

echo "== firmware: format and clippy (both machines)"
(
    cd firmware
    cargo fmt --check
    cargo clippy --locked --release -- -D warnings
    cargo clippy --locked --release --no-default-features --features stm32f411 -- -D warnings
    cargo clippy --locked --release --features large -- -D warnings
)

echo "== firmware: build (STM32F411 board: links only; then QEMU debug, release)"
(
    cd firmware
    cargo build --locked --release --no-default-features --features stm32f411
    cargo build --locked
    cargo build --locked --release
    cargo build --locked --release --features large --target-dir target/large
)
elf_dir=firmware/target/thumbv7em-none-eabihf
export SOOTH_FIRMWARE_ELF_DEBUG="$PWD/$elf_dir/debug/sooth-firmware"
export SOOTH_FIRMWARE_ELF_RELEASE="$PWD/$elf_dir/release/sooth-firmware"
export SOOTH_FIRMWARE_ELF_LARGE="$PWD/firmware/target/large/thumbv7em-none-eabihf/release/sooth-firmware"
# The second program (online adaptation), from the same builds.
export SOOTH_ADAPT_ELF_DEBUG="$PWD/$elf_dir/debug/adapt"
export SOOTH_ADAPT_ELF_RELEASE="$PWD/$elf_dir/release/adapt"

echo "== firmware: QEMU runs against the host (tests/firmware.rs)"
cargo test --locked --test firmware

echo "== firmware: memory"
firmware/memory-table.sh debug="$SOOTH_FIRMWARE_ELF_DEBUG" release="$SOOTH_FIRMWARE_ELF_RELEASE" \
    release-large="$SOOTH_FIRMWARE_ELF_LARGE" release-adapt="$SOOTH_ADAPT_ELF_RELEASE"
