#!/usr/bin/env bash
# Fuzzes every target in fuzz/ (the data readers) for SECONDS each (default
# 20), coverage-guided, on the pinned stable toolchain without a sanitizer
# (`-s none`; the readers have no unsafe code). Installs cargo-fuzz if
# missing. Exits non-zero if any target crashes; the crashing input is then
# in fuzz/artifacts/TARGET/ (replay: cargo fuzz run -s none TARGET FILE).
#
#   scripts/fuzz.sh          # 20 s per target, as CI runs it
#   scripts/fuzz.sh 600      # 10 minutes per target
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
case "$seconds" in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS per target]" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building the fuzz targets"
cargo fuzz build -s none

failed=()
for target in $(cargo fuzz list); do
    echo "== fuzzing $target for ${seconds}s"
    mkdir -p "corpus/$target"
    log="$(mktemp)"
    # New inputs go to corpus/TARGET (not committed); seeds/TARGET is read only.
    if cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -dict="dict/$target.dict" \
        -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
        status="ok"
    else
        status="CRASHED"
        failed+=("$target")
        tail -n 40 "$log"
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)"
    echo "$target: $status, $runs executions, ${cov:-cov: ?} edges"
    rm -f "$log"
done

if ((${#failed[@]})); then
    echo "fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "== no crashes"
