#!/usr/bin/env bash
# What one training step costs on the Cortex-M4F: instructions counted under
# QEMU (mps2-an386) by the project's TCG plugin (firmware/cost/plugin.c) on
# the one-epoch benchmark (firmware/src/bin/cost.rs, feature `cost`), and
# cycles estimated from them with the Cortex-M4 TRM's timings (the model and
# its assumptions: firmware/cost/README.md). Counts are exact and
# deterministic; cycles and milliseconds are an ESTIMATE.
#   usage: device-cost.sh [--json] [--check]
#     --json   one JSON object per line (per optimizer, and `forward`)
#     --check  fail if an optimizer's instructions per sample exceed the
#              budget in firmware/cost/budget.txt (a count, not a timing)
# Needs QEMU and defmt-print (scripts/setup-firmware.sh), gcc, and the
# plugin header of the installed QEMU's exact version, which it fetches
# once from Debian's source package into ~/.cache/sooth (SOOTH_CACHE).
# SOOTH_COST_ELF=path measures that benchmark ELF instead of building one
# (e.g. one built from an older commit, for a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."

json=false
check=false
for arg in "$@"; do
    case "$arg" in
    --json) json=true ;;
    --check) check=true ;;
    *)
        echo "usage: $0 [--json] [--check]" >&2
        exit 2
        ;;
    esac
done

CLOCK_HZ=100000000 # an STM32F411 at 100 MHz

for tool in qemu-system-arm defmt-print arm-none-eabi-nm gcc; do
    if ! command -v "$tool" >/dev/null; then
        echo "error: $tool not found (scripts/setup-firmware.sh installs QEMU and defmt-print)" >&2
        exit 127
    fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# --- the plugin header of exactly the installed QEMU
qemu_version=$(dpkg-query -W -f='${Version}' qemu-system-arm)
cache="${SOOTH_CACHE:-$HOME/.cache/sooth}/qemu-${qemu_version//[:~+]/_}"
header="$cache/include/qemu/qemu-plugin.h"
if [[ ! -f "$header" ]]; then
    echo "== device cost: fetching the plugin header of QEMU $qemu_version (Debian source)" >&2
    work=$(mktemp -d)
    trap 'rm -rf "${work:-}"' EXIT
    mkdir -p "$work/lists/partial" "$work/src"
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    cat >"$work/sources.list" <<SOURCES
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian $codename-backports main
SOURCES
    apt_options=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$work/lists")
    apt-get "${apt_options[@]}" update -qq >&2
    # The .debian.tar.xz part may 404 (apt then exits non-zero); only the
    # upstream tarball is needed, so it is checked for instead.
    (cd "$work/src" && apt-get "${apt_options[@]}" source --download-only "qemu=$qemu_version" >&2) || true
    tarball=$(ls "$work"/src/qemu_*.orig.tar.* 2>/dev/null | head -n 1)
    if [[ -z "$tarball" ]]; then
        echo "error: could not download QEMU $qemu_version's source (apt-get source)" >&2
        exit 1
    fi
    tar -xf "$tarball" -C "$work/src" --wildcards '*/include/qemu/qemu-plugin.h'
    mkdir -p "$cache/include/qemu"
    cp "$work"/src/qemu-*/include/qemu/qemu-plugin.h "$header.tmp"
    mv "$header.tmp" "$header"
fi
if ! pkg-config --exists glib-2.0 2>/dev/null; then
    # qemu-plugin.h includes glib.h (types only; the plugin links nothing of it).
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends --no-remove \
        libglib2.0-dev pkg-config >&2
fi

# --- the plugin and the benchmark
out=firmware/target/cost
mkdir -p "$out"
# shellcheck disable=SC2046 # pkg-config's flags are words
gcc -shared -fPIC -O2 -Wall -Wextra -Werror -I"$cache/include/qemu" $(pkg-config --cflags glib-2.0) \
    -o "$out/libsooth-cost.so" firmware/cost/plugin.c
if [[ -n "${SOOTH_COST_ELF:-}" ]]; then
    elf=$SOOTH_COST_ELF
else
    (cd firmware && cargo build --locked --release --features cost --bin sooth-cost >&2)
    elf=firmware/target/thumbv7em-none-eabihf/release/sooth-cost
fi
mark=$(arm-none-eabi-nm "$elf" | awk '$3 == "cost_mark" { print "0x" $1 }')
if [[ -z "$mark" ]]; then
    echo "error: no symbol cost_mark in $elf" >&2
    exit 1
fi

# --- the run: counters at every mark, the defmt log names the phases
rm -f "$out/counts.txt"
set +e
timeout "${SOOTH_QEMU_TIMEOUT:-600}" \
    qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    -plugin "$out/libsooth-cost.so,mark=$mark" -d plugin -D "$out/counts.txt" </dev/null |
    defmt-print -e "$elf" >"$out/log.txt"
status=("${PIPESTATUS[@]}")
set -e
if ((status[0] != 0 || status[1] != 0)); then
    cat "$out/log.txt" >&2
    echo "error: the benchmark failed under QEMU (status ${status[*]})" >&2
    exit 1
fi

# Marks come in threes per optimizer (before the steps, after them, after
# the test evaluation); `cost optimizer=...` lines name them in order.
report() {
    awk -v json="$1" -v clock="$CLOCK_HZ" '
function field(line, name,    re, m) {
    re = " " name "=[0-9]+"
    if (match(line, re)) { m = substr(line, RSTART + 1, RLENGTH - 1); sub(/^[^=]*=/, "", m); return m + 0 }
    return -1
}
function diff(a, b, name) { return field(marks[b], name) - field(marks[a], name) }
function row(name, kind, steps, samples, a, b,    insns, cycles, flops, sps, ips, cps, fpc, msstep, s) {
    insns = diff(a, b, "insns"); cycles = diff(a, b, "cycles"); flops = diff(a, b, "flops")
    ips = insns / samples; cps = cycles / samples; fpc = cycles ? flops / cycles : 0
    fp_arith = (diff(a, b, "fp_arith") + diff(a, b, "fp_mac")) / samples
    fp_ls = diff(a, b, "fp_load_store") / samples
    fp_x = diff(a, b, "fp_transfer") / samples
    integer = diff(a, b, "integer") / samples
    ls = diff(a, b, "load_store") / samples
    br = diff(a, b, "branch") / samples
    dv = (diff(a, b, "divide") + diff(a, b, "fp_div_sqrt")) / samples
    taken = diff(a, b, "taken_branches") / samples
    if (kind == "train") {
        epoch_cycles = cycles + eval_cycles[name]
        ms_epoch = epoch_cycles / clock * 1000
        ms_step = cycles / steps / clock * 1000
    }
    if (json == "true") {
        s = sprintf("{\"optimizer\":\"%s\",\"phase\":\"%s\",\"samples\":%d", name, kind, samples)
        if (kind == "train") s = s sprintf(",\"steps\":%d,\"evaluations\":%d,\"gradients\":%d,\"instructions_per_step\":%.0f,\"cycles_per_step\":%.0f,\"ms_per_step_100mhz\":%.3f", steps, evals[name], grads[name], insns / steps, cycles / steps, ms_step)
        s = s sprintf(",\"instructions_per_sample\":%.1f,\"cycles_per_sample\":%.1f,\"flop_per_sample\":%.1f,\"flop_per_cycle\":%.4f", ips, cps, flops / samples, fpc)
        if (kind == "train") s = s sprintf(",\"ms_per_epoch_100mhz\":%.2f", ms_epoch)
        s = s sprintf(",\"per_sample\":{\"fp_arith\":%.1f,\"fp_load_store\":%.1f,\"fp_transfer\":%.1f,\"integer\":%.1f,\"load_store\":%.1f,\"branch\":%.1f,\"taken_branch\":%.1f,\"div_sqrt\":%.1f}}", fp_arith, fp_ls, fp_x, integer, ls, br, taken, dv)
        print s
    } else {
        printf "| %-7s | %-5s | %9.0f | %9.0f | %6.3f | %s | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f | %6.1f | %5s |\n", name, kind == "train" ? "step" : "fwd", ips, cps, fpc, kind == "train" ? sprintf("%8.1f", ms_epoch) : "       -", fp_arith, fp_ls, integer + fp_x, ls, br, dv, kind == "train" ? steps : "-"
    }
}
FNR == NR { if ($1 ~ /^mark=/) marks[++nmarks] = $0; next }
/cost optimizer=/ {
    line = $0; sub(/.*cost /, "", line)
    n = split(line, kv, " ")
    for (i = 1; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
    names[++nopt] = v["optimizer"]; steps[nopt] = v["steps"]; samples[nopt] = v["samples"]
    tests[nopt] = v["test_samples"]; evals[v["optimizer"]] = v["evaluations"]; grads[v["optimizer"]] = v["gradients"]
}
END {
    if (nmarks != 3 * nopt || nopt == 0) { print "error: " nmarks " marks for " nopt " optimizers" > "/dev/stderr"; exit 1 }
    if (json != "true") {
        print "| optimizer | phase | instructions / sample | cycles / sample (est.) | FLOP / cycle | ms / epoch @100 MHz (est.) | FP arith | FP ld/st | integer | ld/st | branch | div+sqrt | steps |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }
    for (o = 1; o <= nopt; o++) eval_cycles[names[o]] = field(marks[3 * o], "cycles") - field(marks[3 * o - 1], "cycles")
    for (o = 1; o <= nopt; o++) row(names[o], "train", steps[o], samples[o], 3 * o - 2, 3 * o - 1)
    # The forward pass alone: the test evaluation (forward + loss + argmax) of the first optimizer.
    row("forward", "eval", 0, tests[1], 2, 3)
}' "$out/counts.txt" "$out/log.txt"
}
report true >"$out/costs.jsonl"
report false >"$out/table.txt"
if $json; then
    cat "$out/costs.jsonl"
else
    cat "$out/table.txt"
    echo
    echo "Instructions: counted under QEMU (exact). Cycles, ms and FLOP/cycle: estimates from the"
    echo "Cortex-M4 TRM timings at zero wait states (firmware/cost/README.md). The class columns are"
    echo "instructions per sample; 'step' rows are the training steps of one epoch (batch 32), 'ms /"
    echo "epoch' adds the test evaluation; 'fwd' is the forward pass alone (per test sample)."
fi

if $check; then
    over=()
    while read -r name budget; do
        [[ -z "$name" || "$name" == \#* ]] && continue
        got=$(sed -n -E "s/.*\"optimizer\":\"$name\".*\"instructions_per_sample\":([0-9.]+).*/\1/p" "$out/costs.jsonl")
        if [[ -z "$got" ]]; then
            over+=("$name: not measured")
        elif awk -v g="$got" -v b="$budget" 'BEGIN { exit !(g > b) }'; then
            over+=("$name: $got instructions per sample > budget $budget")
        else
            echo "budget: $name $got <= $budget instructions per sample" >&2
        fi
    done <firmware/cost/budget.txt
    if ((${#over[@]})); then
        printf 'error: over the instruction budget (firmware/cost/budget.txt): %s\n' "${over[@]}" >&2
        exit 1
    fi
fi
