#!/usr/bin/env bash
# Prints the firmware's memory table (markdown) and checks the budget of the
# reference training: flash and static RAM from `arm-none-eabi-size`, the
# stack's high-water mark from the run's decoded log (`ELF.log`, which
# tests/firmware.rs writes; `qemu-run.sh ELF > ELF.log` does as well).
#   usage: memory-table.sh NAME=ELF [NAME=ELF...]
# A build named `release` or `release-*` (e.g. `release-large`, the `large`
# feature) must fit the budget below, or the script fails.
set -euo pipefail
cd "$(dirname "$0")"

FLASH_BUDGET=$((256 * 1024)) # bytes: code, constants, data set, .data image
RAM_BUDGET=$((96 * 1024))    # bytes: statics + the stack's peak

data_bytes=$(cat ../data/digits/*.u8 | wc -c)
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

echo "| build | flash: code + constants | flash: digits data | flash total | static RAM (data + bss) | stack peak | RAM total |"
echo "|---|---:|---:|---:|---:|---:|---:|"
over=()
for entry in "$@"; do
    name=${entry%%=*}
    elf=${entry#*=}
    # Berkeley format: text (vector table, code, rodata), data, bss (+ uninit).
    read -r text data bss _ < <(arm-none-eabi-size "$elf" | awk 'NR == 2')
    flash=$((text + data))
    statics=$((data + bss))
    stack="?"
    if [[ -f "$elf.log" ]]; then
        stack=$(grep -o 'stack_peak_bytes=[0-9]*' "$elf.log" | cut -d= -f2 || true)
    fi
    if [[ "$stack" =~ ^[0-9]+$ ]]; then
        ram=$((statics + stack))
        stack_cell="$stack B"
        ram_cell="$(kib "$ram")"
    else
        ram=""
        stack_cell="(no log)"
        ram_cell="(no log)"
    fi
    echo "| $name | $(kib $((flash - data_bytes))) | $(kib "$data_bytes") | $(kib "$flash") | $(kib "$statics") | $stack_cell | $ram_cell |"
    if [[ "$name" == release || "$name" == release-* ]]; then
        ((flash <= FLASH_BUDGET)) || over+=("$name: flash $flash B > $FLASH_BUDGET B")
        if [[ -z "$ram" ]]; then
            over+=("$name: no stack measurement for $elf (no $elf.log)")
        elif ((ram > RAM_BUDGET)); then
            over+=("$name: RAM $ram B > $RAM_BUDGET B")
        fi
    fi
done
echo
echo "Budget of the release builds: flash $(kib $FLASH_BUDGET), RAM $(kib $RAM_BUDGET) (statics + stack peak)."
if ((${#over[@]})); then
    printf 'error: a release build is over budget: %s\n' "${over[@]}" >&2
    exit 1
fi
