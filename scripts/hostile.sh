#!/usr/bin/env bash
# Drives the release binary the way a hostile user would (issue 18): closed
# pipes and full disks on stdout, saves that fail half-way, corrupted
# models, huge shapes, weak data files. Prints one line per case and
# `N passed, M failed`; exits non-zero if any case failed.
#
# To add a case: write a function `case_NAME` that returns 0 when the tool
# behaved (use `fail "why"` to say what went wrong) and append NAME to
# CASES. Each case runs in its own empty directory ($PWD); `$SOOTH` is the
# binary and `fixtures` gives a saved model, a finished sweep and a Slurm
# directory in the current directory.
#
#   scripts/hostile.sh              # builds the release binary first
#   SOOTH=path/to/sooth scripts/hostile.sh
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [[ -z "${SOOTH:-}" ]]; then
    (cd "$root" && cargo build --release --locked -p sooth --bin sooth -q) || exit 2
    SOOTH="$root/target/release/sooth"
fi
export SOOTH
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ------------------------------------------------------------------ helpers

fail() {
    echo "    $*" >&2
    return 1
}

# `expect CODE CMD...`: runs CMD, stdout and stderr into out/err; fails
# unless the exit status is CODE and nothing panicked.
expect() {
    local want=$1
    shift
    "$@" >out 2>err
    local got=$?
    if grep -q panicked err; then fail "panicked: $(head -c 300 err)"; return 1; fi
    [[ $got == "$want" ]] || { fail "exit $got, expected $want: $(head -c 300 err)"; return 1; }
}

# `closed_pipe CMD...`: runs CMD with stdout on a pipe whose reader has
# gone (deterministically: a FIFO whose only reader is closed first).
closed_pipe() {
    rm -f fifo && mkfifo fifo
    exec {r}<>fifo {w}>fifo
    exec {r}<&-
    "$@" >&"$w" 2>err
    local got=$?
    exec {w}>&-
    return $got
}

# `limited KIB CMD...`: runs CMD with files limited to KIB KiB (a write
# beyond fails with EFBIG, as on a full disk).
limited() {
    local kib=$1
    shift
    (trap "" XFSZ; ulimit -f "$kib"; exec "$@") # bash: 1024-byte blocks
}

STUDY='name = "tiny"
[data]
dataset = "digits"
[model]
hidden = [4]
[grid]
batch_sizes = ["64", "full"]
seeds = 2
epochs = 1
[[optimizer]]
name = "sgd"
[[optimizer]]
name = "lbfgs"'

fixtures() {
    echo "$STUDY" >s.toml
    "$SOOTH" train --epochs 1 -q --hidden 16 --save model.bin >/dev/null &&
        "$SOOTH" sweep --config s.toml --out sw -q &&
        "$SOOTH" slurm --config s.toml --out sl --shards 2 >/dev/null
}

# The commands that print on stdout (fixtures in the current directory).
OUTPUT_COMMANDS=(
    "train --epochs 2 --hidden 4"
    "train --epochs 1 --hidden 4 -q --json"
    "eval --model model.bin"
    "export --model model.bin --out export.bin"
    "sweep --print-default"
    "sweep --config s.toml --plan"
    "sweep --config s.toml --out sw"
    "merge sw --out merged"
    "report sw --no-plots"
    "slurm --status --out sl"
    "tune --hidden 4 --optimizer sgd --batch-sizes 64,full --epochs 1 --initial-seeds 2 --max-seeds 2 --quiet --out tuned"
)

# -------------------------------------------------------------------- cases

# 1: a closed pipe ends every command quietly, exit 141 (no panic, 101).
case_closed_pipe_every_command() {
    fixtures || return 1
    local c ok=0
    for c in "${OUTPUT_COMMANDS[@]}"; do
        # shellcheck disable=SC2086
        closed_pipe "$SOOTH" $c
        local got=$?
        if [[ $got != 141 ]] || [[ -s err ]]; then
            fail "sooth $c: exit $got: $(head -c 200 err)"
            ok=1
        fi
    done
    return $ok
}

# 1: `sooth train --epochs 30 | head -1`, the issue's reproduction.
case_head_of_train() {
    local line
    line=$("$SOOTH" train --epochs 30 2>err | head -1)
    local got=${PIPESTATUS[0]}
    [[ $line == "sooth train: digits"* ]] || fail "first line: $line" || return 1
    [[ $got == 141 ]] || fail "exit $got: $(head -c 200 err)" || return 1
    [[ ! -s err ]] || fail "stderr: $(head -c 200 err)"
}

# 1: a full disk on stdout is an error naming standard output, exit 1.
case_full_stdout_every_command() {
    [[ -w /dev/full ]] || return 0
    fixtures || return 1
    local c ok=0
    for c in "${OUTPUT_COMMANDS[@]}"; do
        # shellcheck disable=SC2086
        "$SOOTH" $c >/dev/full 2>err
        local got=$?
        if [[ $got != 1 ]] || ! grep -q "error: writing to standard output: No space left" err ||
            grep -q panicked err; then
            fail "sooth $c: exit $got: $(head -c 200 err)"
            ok=1
        fi
    done
    return $ok
}

# 7: a save that fails half-way leaves the previous model intact.
case_failed_save_keeps_the_model() {
    "$SOOTH" train --epochs 1 -q --hidden 16 --save model.bin >/dev/null || return 1
    cp model.bin good.bin
    expect 1 limited 2 "$SOOTH" train --epochs 1 -q --hidden 16 --seed 2 --save model.bin || return 1
    grep -q "the previous file is intact" err || fail "message: $(cat err)" || return 1
    cmp -s model.bin good.bin || fail "model.bin changed" || return 1
    [[ -z $(find . -name '*tmp*') ]] || fail "temporary files left: $(find . -name '*tmp*')"
}

# 7: the same for --metrics, export and the report files.
case_failed_writes_keep_the_files() {
    fixtures || return 1
    "$SOOTH" train --epochs 40 -q --hidden 4 --metrics m.csv >/dev/null || return 1
    cp m.csv good.csv
    expect 1 limited 2 "$SOOTH" train --epochs 40 -q --hidden 4 --seed 3 --metrics m.csv || return 1
    cmp -s m.csv good.csv || fail "m.csv changed" || return 1
    "$SOOTH" report sw --no-plots >/dev/null || return 1
    cp sw/report.json good.json
    expect 1 limited 1 "$SOOTH" report sw --no-plots || return 1
    cmp -s sw/report.json good.json || fail "report.json changed"
}

# 3: a flipped bit of the stored input scaling is found (it was exit 0).
case_flipped_scaling_bit() {
    "$SOOTH" train --epochs 5 -q --hidden 16 --scale min-max --save v.bin >/dev/null || return 1
    printf "$(printf '\\%03o' $(($(od -An -tu1 -j203 -N1 v.bin) ^ 128)))" |
        dd of=v.bin bs=1 seek=203 conv=notrunc status=none
    expect 1 "$SOOTH" eval --model v.bin || return 1
    grep -q corrupt err || fail "message: $(cat err)"
}

# 2: huge widths are errors, not aborts.
case_huge_hidden() {
    expect 2 "$SOOTH" train --optimizer sgd --hidden 4294967295 || return 1
    grep -q -- "--hidden" err || fail "message: $(cat err)"
}

case_huge_network() {
    expect 1 "$SOOTH" train --optimizer sgd --hidden 100000,100000 || return 1
    grep -q "limit of 4 GiB" err || fail "message: $(cat err)"
}

# 2: a LIBSVM file with one index 2000000.
case_huge_libsvm_index() {
    for i in $(seq 20); do echo "$((i % 2)) 1:0.5 2000000:1"; done >wide.svm
    expect 1 "$SOOTH" train --dataset wide.svm --batch-size 4 || return 1
    grep -q "2000000-32-2" err || fail "message: $(cat err)"
}

# Data: a small CSV of two classes, label first, separated by $1.
two_class_csv() {
    local i
    for i in $(seq 0 39); do echo "$((i % 2))$1$((i % 5))$1$((i % 7))"; done
}

# Weak spot: trailing garbage after a gzip stream is named at its byte.
case_gzip_trailing_garbage() {
    two_class_csv , | gzip -c >d.csv.gz
    local size
    size=$(wc -c <d.csv.gz)
    printf 'junk' >>d.csv.gz
    expect 1 "$SOOTH" train --dataset d.csv.gz --epochs 1 -q --batch-size 8 || return 1
    grep -q "byte $size: .*after the end of the gzip stream" err || fail "message: $(cat err)"
}

# Weak spot: zero padding after a gzip stream (gzip -t accepts it) reads.
case_gzip_zero_padding() {
    two_class_csv , | gzip -c >d.csv.gz
    head -c 1024 /dev/zero >>d.csv.gz
    expect 0 "$SOOTH" train --dataset d.csv.gz --epochs 1 -q --batch-size 8
}

# Weak spot: a first data row with a typo is not dropped as a header.
# (In the label column text reads as a class name since issue 19, and the
# numbers after it are an error that points at it.)
case_header_typo_not_dropped() {
    two_class_csv , | sed '1s/^0,0/0,O/' >d.csv
    expect 1 "$SOOTH" train --dataset d.csv --epochs 1 -q --batch-size 8 || return 1
    grep -q "header yes or --header no" err || fail "message: $(cat err)"
    two_class_csv , | sed '1s/^0/O/' >l.csv
    expect 1 "$SOOTH" train --dataset l.csv --epochs 1 -q --batch-size 8 || return 1
    grep -q 'holds class names (line 1: "O", a typo?)' err || fail "message: $(cat err)"
}

# Weak spot: tab- and semicolon-separated files read with --delimiter.
case_delimiter_flag() {
    two_class_csv $'\t' >t.csv
    two_class_csv ';' >s.csv
    expect 0 "$SOOTH" train --dataset t.csv --delimiter tab --epochs 1 -q --batch-size 8 || return 1
    expect 0 "$SOOTH" train --dataset s.csv --delimiter ';' --epochs 1 -q --batch-size 8
}

# Weak spot: one-class data is refused (it scored 100%).
case_one_class_refused() {
    for i in $(seq 0 39); do echo "1,$((i % 5)),$((i % 7))"; done >d.csv
    expect 1 "$SOOTH" train --dataset d.csv --epochs 1 -q --batch-size 8 || return 1
    grep -q "every training sample has class 1" err || fail "message: $(cat err)"
}

# Weak spot: a run on raw 0..255 features that learns nothing gets a
# warning naming the cause.
case_divergence_warning() {
    local i
    for i in $(seq 0 599); do
        echo "$((i % 3)),$(((i % 3) * 80 + i % 13)),$((255 - (i % 3) * 80 - i % 7)),$((i % 11 * 20))"
    done >raw.csv
    expect 0 "$SOOTH" train --dataset raw.csv --optimizer sgd --lr 0.1 --epochs 3 --hidden 16 -q || return 1
    grep -q "try --scale min-max" err || fail "no warning: $(cat err)"
}

# Weak spot: values that were silently reinterpreted are refused as written.
case_reinterpreted_flags() {
    expect 2 "$SOOTH" train --max-step 0 || return 1
    grep -q "no limit" err || fail "message: $(cat err)" || return 1
    expect 2 "$SOOTH" train --optimizer sgd --lr 1e39 || return 1
    grep -q "invalid value '1e39'" err || fail "message: $(cat err)"
}

CASES=(
    closed_pipe_every_command
    head_of_train
    full_stdout_every_command
    failed_save_keeps_the_model
    failed_writes_keep_the_files
    flipped_scaling_bit
    huge_hidden
    huge_network
    huge_libsvm_index
    gzip_trailing_garbage
    gzip_zero_padding
    header_typo_not_dropped
    delimiter_flag
    one_class_refused
    divergence_warning
    reinterpreted_flags
)

# ------------------------------------------------------------------- runner

passed=0
failed=0
for name in "${CASES[@]}"; do
    dir="$work/$name"
    mkdir -p "$dir"
    if (cd "$dir" && "case_$name"); then
        echo "ok     $name"
        passed=$((passed + 1))
    else
        echo "FAILED $name"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
