#!/usr/bin/env bash
# `sooth slurm` on a REAL Slurm: a single-node cluster started in a temporary
# folder (scripts/slurm/local-cluster.sh; installs Debian's slurmctld,
# slurmd, slurm-client and munge when missing; needs root).
#
#  1. A small study (digits; sgd and lbfgs x 3 batch sizes x 3 seeds) as a
#     job array of 4 shards plus the merge job must give, bit for bit, the
#     rows and curves of an unsharded local `sooth sweep` (timings aside).
#  2. Again into a fresh directory, with one array task cancelled after its
#     first run: the merge job must be cancelled with it, and resubmitting
#     `--tasks missing` must rerun that shard only, resume it, and give the
#     same rows again.
#
# Every daemon it starts is stopped on exit, failure or not. Prints the wall
# time of the local sweep and of the Slurm path (submission to merged).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$SECONDS

[[ $(id -u) == 0 ]] || { echo "slurm-test: needs root (it installs and runs Slurm's daemons)" >&2; exit 1; }

work=$(mktemp -d /tmp/sooth-slurm-test.XXXXXX)
cluster=$work/cluster
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if ((rc != 0)); then
        echo "slurm-test: FAILED (exit $rc); logs:" >&2
        for f in "$work"/*/logs/*.out "$cluster"/log/*.log; do
            [[ -f $f ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    scripts/slurm/local-cluster.sh stop "$cluster" || rc=1
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "slurm-test: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

echo "== slurm: build sooth (release)"
cargo build --release --locked -p sooth
sooth=${CARGO_TARGET_DIR:-$root/target}/release/sooth

echo "== slurm: start a single-node cluster in $cluster"
scripts/slurm/local-cluster.sh start "$cluster"
export SLURM_CONF=$cluster/slurm.conf
sinfo

cat >"$work/study.toml" <<'EOF'
name = "slurm test: sgd and lbfgs on digits"
[data]
dataset = "digits"
[model]
hidden = [64]
[grid]
batch_sizes = ["32", "128", "full"]
seeds = 3
epochs = 20
[[optimizer]]
name = "sgd"
lr = 0.1
[[optimizer]]
name = "lbfgs"
history = 10
EOF
runs=18
shards=4
cancelled=2 # a shard that starts after the first two and has 5 runs
slurm_flags=(--config "$work/study.toml" --shards "$shards" --cpus-per-task 1 --mem 500M --time 5)

# Rows and curves without their timings.
strip() { sed -E 's/"(wall|train)_seconds":[^,}]*/"\1_seconds":0/g' "$1"; }
same_as_local() {
    local dir=$1 file
    for file in runs.jsonl curves.jsonl; do
        [[ -f $dir/$file ]] || fail "$dir/$file is missing"
        if ! cmp -s <(strip "$work/local/$file") <(strip "$dir/$file"); then
            diff <(strip "$work/local/$file") <(strip "$dir/$file") | head -n 10 >&2
            fail "$dir/$file differs from the unsharded sweep's"
        fi
    done
    local rows ok
    rows=$(wc -l <"$dir/runs.jsonl")
    ok=$(grep -c '"status":"ok"' "$dir/runs.jsonl" || true)
    ((rows == runs && ok == runs)) || fail "$dir: $rows rows, $ok ok; expected $runs ok rows"
    echo "   $dir: the $runs rows and their curves equal the unsharded sweep's (timings aside)"
}

# Submits with `sooth slurm ... --submit`; sets submitted (its output),
# array_id and merge_id.
submit() {
    local text
    text=$("$sooth" slurm "$@" --submit)
    echo "$text" | sed 's/^/   /'
    submitted=$text
    array_id=$(sed -nE 's/^submitted: array job ([0-9]+) .*/\1/p' <<<"$text")
    merge_id=$(sed -nE 's/^submitted: .*merge job ([0-9]+).*/\1/p' <<<"$text")
    [[ -n $array_id && -n $merge_id ]] || fail "no job ids in the output of sooth slurm"
}

# Waits (up to $2 s) until squeue no longer lists job $1 (an array: any task).
wait_gone() {
    local deadline=$((SECONDS + $2))
    while [[ -n $(squeue -h -j "$1" 2>/dev/null) ]]; do
        ((SECONDS < deadline)) || fail "job $1 still queued after $2 s: $(squeue -h -j "$1")"
        sleep 0.2
    done
}

# The states of job $1 (one per line; all tasks of an array).
states() { scontrol show job "$1" | sed -nE 's/.*JobState=([A-Z_]+).*/\1/p'; }

expect_state() {
    local job=$1 want=$2 got
    got=$(states "$job" | sort -u | tr '\n' ' ')
    [[ $got == "$want " ]] || fail "job $job: state $got, expected $want"
}

echo "== slurm: the study locally, unsharded (reference rows and wall time)"
t=$(now)
"$sooth" sweep --config "$work/study.toml" --out "$work/local" --threads "$(nproc)" --quiet
local_seconds=$(since "$t")
echo "   $runs runs in $local_seconds s on $(nproc) threads"

echo "== slurm: a job array of $shards shards and the merge job"
t=$(now)
submit "${slurm_flags[@]}" --out "$work/array"
wait_gone "$array_id" 120
wait_gone "$merge_id" 60
slurm_seconds=$(since "$t")
expect_state "$array_id" COMPLETED
expect_state "$merge_id" COMPLETED
same_as_local "$work/array"

echo "== slurm: cancel task $cancelled after its first run, resubmit what is missing"
submit "${slurm_flags[@]}" --out "$work/cancel"
rows_file=$work/cancel/shard-$cancelled/runs.jsonl
deadline=$((SECONDS + 120))
until [[ -s $rows_file ]]; do
    ((SECONDS < deadline)) || fail "shard $cancelled wrote no row in 120 s"
    sleep 0.05
done
scancel "${array_id}_$cancelled"
wait_gone "$array_id" 120
wait_gone "$merge_id" 60
planned=$("$sooth" sweep --plan --config "$work/study.toml" --shard "$cancelled/$shards" |
    sed -nE 's/^shard [0-9]+\/[0-9]+: ([0-9]+) runs.*/\1/p')
kept=$(wc -l <"$rows_file")
echo "   task ${array_id}_$cancelled cancelled with $kept of its $planned runs done"
((kept < planned)) || fail "the cancel came after shard $cancelled had finished; nothing was interrupted"
[[ $(states "${array_id}_$cancelled") == CANCELLED ]] || fail "task ${array_id}_$cancelled: $(states "${array_id}_$cancelled")"
expect_state "$merge_id" CANCELLED
[[ ! -e $work/cancel/runs.jsonl ]] || fail "the merge job ran although a task was cancelled"
"$sooth" slurm --status --out "$work/cancel" | sed 's/^/   /'

first_array=$array_id
submit "${slurm_flags[@]}" --out "$work/cancel" --tasks missing
[[ $submitted == *"array job $array_id (tasks $cancelled)"* ]] || fail "expected a resubmission of task $cancelled only"
wait_gone "$array_id" 120
wait_gone "$merge_id" 60
expect_state "$array_id" COMPLETED
expect_state "$merge_id" COMPLETED
[[ $(states "$array_id" | wc -l) == 1 ]] || fail "the resubmission ran $(states "$array_id" | wc -l) tasks, expected 1"
log=$work/cancel/logs/shard-$cancelled.$array_id.out
grep -qE "\($kept done before, $((planned - kept)) now, 0 with errors\)" "$log" ||
    fail "$log: expected the task to resume with $kept runs done: $(cat "$log")"
echo "   array job $first_array's shard $cancelled resumed in job $array_id: $kept runs kept, $((planned - kept)) run"
same_as_local "$work/cancel"

echo "== slurm: passed in $((SECONDS - start)) s"
echo "   wall time of the study ($runs runs): local sweep $local_seconds s on $(nproc) threads;" \
    "Slurm array of $shards x 1 CPU + merge $slurm_seconds s (submission to merged)"
