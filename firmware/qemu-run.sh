#!/usr/bin/env bash
# Boots a firmware ELF on a QEMU machine (default mps2-an386, a Cortex-M4
# with FPU) and decodes its defmt log. This is the cargo runner (`cd firmware
# && cargo run`) and what tests/firmware.rs and scripts/cross-test.sh call.
# Exit status: QEMU's (0 when the firmware exits with success through
# semihosting), 124 on a hang past the timeout.
#   usage: qemu-run.sh [--machine MACHINE] FIRMWARE.elf
#   MACHINE: mps2-an386 (Cortex-M4F, memory-qemu.x), mps2-an385 (Cortex-M3,
#     memory-qemu.x), mps2-an505 (Cortex-M33, memory-qemu-an505.x) or
#     b-l475e-iot01a (STM32L475, memory-stm32l475.x); each machine has its
#     own CPU, and semihosting works on all of them.
#   SOOTH_QEMU_TIMEOUT: seconds before the run is killed (default 600)
set -euo pipefail
usage="usage: qemu-run.sh [--machine MACHINE] FIRMWARE.elf"
machine=mps2-an386
if [[ "${1:-}" == --machine ]]; then
    machine=${2:?$usage}
    shift 2
fi
elf=${1:?$usage}
for tool in qemu-system-arm defmt-print; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found: run scripts/setup-firmware.sh" >&2
        exit 127
    fi
done
set +e
timeout "${SOOTH_QEMU_TIMEOUT:-600}" \
    qemu-system-arm -machine "$machine" -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel "$elf" </dev/null |
    defmt-print -e "$elf"
status=("${PIPESTATUS[@]}")
set -e
if ((status[0] == 124)); then
    echo "error: $elf did not finish within ${SOOTH_QEMU_TIMEOUT:-600} s" >&2
elif ((status[0] != 0)); then
    echo "error: $elf exited with status ${status[0]}" >&2
elif ((status[1] != 0)); then
    echo "error: defmt-print could not decode the log of $elf" >&2
    exit "${status[1]}"
fi
exit "${status[0]}"
