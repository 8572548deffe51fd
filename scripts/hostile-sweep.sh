#!/usr/bin/env bash
# Issue 18, the sweep's part: drives the release `sooth` through hostile
# uses of sweep, merge, report, tune and the Slurm scripts, one function per
# case, and prints `N passed, M failed` (exit status 1 if any failed).
# SOOTH=/path/to/sooth skips the build. Runs in well under a minute.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ -z ${SOOTH:-} ]]; then
    cargo build --release --locked -q -p sooth || exit 1
    SOOTH=${CARGO_TARGET_DIR:-$PWD/target}/release/sooth
fi
work=$(mktemp -d /tmp/sooth-hostile-sweep.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# 6 runs of a few milliseconds each.
cat >s.toml <<'EOF'
[model]
hidden = [8]
[grid]
batch_sizes = ["32", "full"]
seeds = 3
epochs = 1
[[optimizer]]
name = "sgd"
EOF

rows() { wc -l <"$1/runs.jsonl"; }
expect() { # expect WHAT STATUS COMMAND...: the exit status is STATUS
    local what=$1 want=$2
    shift 2
    "$@" >"$work/out.txt" 2>"$work/err.txt"
    local got=$?
    ((got == want)) || { echo "  $what: exit $got, expected $want: $(head -c 300 "$work/err.txt")"; return 1; }
}
says() { grep -qF -- "$1" "$work/err.txt" || { echo "  stderr lacks \"$1\": $(head -c 300 "$work/err.txt")"; return 1; }; }
shards() {
    [[ -d s2 ]] && return 0
    for k in 0 1 2; do "$SOOTH" sweep -q --config s.toml --shard "$k/3" --out "s$k" || return 1; done
    "$SOOTH" sweep -q --config s.toml --out full
}

merge_into_results_adds_rows() {
    shards || return 1
    rm -rf out && cp -r full out
    expect "merge s2 into a full sweep" 0 "$SOOTH" merge -q s2 --out out || return 1
    (($(rows out) == 6)) || { echo "  $(rows out) rows, expected 6"; return 1; }
}

incremental_merge_keeps_the_first() {
    shards || return 1
    rm -rf m
    "$SOOTH" merge -q s0 s1 --out m && "$SOOTH" merge -q s2 --out m || return 1
    (($(rows m) == 6)) || { echo "  $(rows m) rows, expected 6"; return 1; }
}

merge_into_a_shard_is_refused() {
    shards || return 1
    expect "merge s1 --out s0" 1 "$SOOTH" merge s1 --out s0 && says "holds shard 0/3"
}

merge_leaves_a_torn_input_alone() {
    shards || return 1
    rm -rf t m2 && cp -r s2 t && printf '{"run_id":"x' >>t/runs.jsonl
    local before
    before=$(md5sum t/runs.jsonl)
    expect "merge of a torn shard" 0 "$SOOTH" merge t --out m2 || return 1
    [[ $(md5sum t/runs.jsonl) == "$before" ]] || { echo "  the input was truncated"; return 1; }
}

merge_into_a_locked_directory_is_refused() {
    shards || return 1
    rm -rf m3 && mkdir m3 && : >m3/.sooth-sweep.lock
    flock m3/.sooth-sweep.lock sleep 5 &
    local holder=$!
    sleep 0.2
    expect "merge into a locked directory" 1 "$SOOTH" merge s0 --out m3
    local rc=$?
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    ((rc == 0)) && says "is writing this directory"
}

duplicate() { # duplicate FROM TO MESSAGE
    sed "s/$1/$2/" s.toml >dup.toml
    expect "sweep of $2" 1 "$SOOTH" sweep --config dup.toml --out dup && says "$3"
}
duplicate_batch_size_032_is_refused() { duplicate '"32", "full"' '"32", "032"' 'batch_sizes: 32 is listed twice'; }
duplicate_batch_size_FULL_is_refused() { duplicate '"32", "full"' '"FULL", "full"' 'batch_sizes: full is listed twice'; }
duplicate_seed_is_refused() { duplicate 'seeds = 3' 'seeds = [1, 1, 2]' 'seeds: 1 is listed twice'; }
duplicate_configuration_is_refused() { duplicate 'name = "sgd"' 'name = "sgd"\nlr = [0.1, 0.10]' 'configurations h0 and h1 are the same'; }

every_run_failed_exits_3() {
    sed 's/"32", "full"/"5000"/' s.toml >f.toml
    expect "sweep of batch size 5000" 3 "$SOOTH" sweep -q --config f.toml --out f && says "finished, but 3 of 3 runs ended in an error"
}

report_of_failed_runs_exits_3() {
    sed 's/"32", "full"/"5000", "32"/' s.toml >g.toml
    "$SOOTH" sweep -q --config g.toml --out g 2>/dev/null
    expect "report of failed runs" 3 "$SOOTH" report --no-plots g && says "3 of the 6 runs in g ended in an error"
}

report_of_a_shard_warns() {
    shards || return 1
    expect "report of a shard" 0 "$SOOTH" report --no-plots s0 && says "incomplete: it holds shard 0/3" &&
        grep -qF "**4 missing**" s0/report.md
}

slurm_task_with_failed_runs_is_done() {
    rm -rf sl
    sed 's/"32", "full"/"5000", "32"/' s.toml >h.toml
    "$SOOTH" slurm --config h.toml --out "$work/sl" --shards 2 >/dev/null || return 1
    for k in 0 1; do
        expect "array task $k" 0 env SLURM_ARRAY_TASK_ID=$k bash sl/sweep.sbatch || return 1
    done
    expect "merge job" 3 bash sl/merge.sbatch && says "ended in an error" || return 1
    "$SOOTH" slurm --out "$work/sl" --shards 2 --tasks missing | grep -q "every shard is complete" ||
        { echo "  --tasks missing would resubmit"; return 1; }
}

changed_data_is_refused() {
    rm -rf c
    seq 1 80 | awk '{ print $1 % 2 "," $1 / 100 "," 1 - $1 / 100 }' >data.csv
    sed 's/\[model\]/[data]\ndataset = "data.csv"\n[model]/' s.toml >c.toml
    "$SOOTH" sweep -q --config c.toml --out c || return 1
    seq 1 80 | awk '{ print $1 % 2 "," $1 / 50 "," 1 - $1 / 100 }' >data.csv
    expect "resume on changed data" 1 "$SOOTH" sweep -q --config c.toml --out c && says "its runs were made with data.csv"
}

huge_study_is_refused() {
    sed 's/seeds = 3/seeds = 100000000/' s.toml >huge.toml
    expect "seeds = 100000000" 1 timeout 20 "$SOOTH" sweep --plan --config huge.toml && says "more than 1000000 runs"
}

ctrl_c_says_what_was_saved() {
    rm -rf l
    sed 's/seeds = 3/seeds = 100/; s/epochs = 1/epochs = 3/' s.toml >l.toml
    "$SOOTH" sweep -q --threads 1 --config l.toml --out l 2>"$work/err.txt" &
    local pid=$! i
    for ((i = 0; i < 300; i++)); do
        [[ -s l/runs.jsonl ]] && break
        sleep 0.05
    done
    kill -INT "$pid"
    wait "$pid"
    local rc=$?
    ((rc == 130)) || { echo "  exit $rc, expected 130"; return 1; }
    says "runs saved; rerun the same command to resume"
}

cases=(
    merge_into_results_adds_rows incremental_merge_keeps_the_first merge_into_a_shard_is_refused
    merge_leaves_a_torn_input_alone merge_into_a_locked_directory_is_refused
    duplicate_batch_size_032_is_refused duplicate_batch_size_FULL_is_refused duplicate_seed_is_refused
    duplicate_configuration_is_refused every_run_failed_exits_3 report_of_failed_runs_exits_3
    report_of_a_shard_warns slurm_task_with_failed_runs_is_done changed_data_is_refused
    huge_study_is_refused ctrl_c_says_what_was_saved
)
passed=0
failed=0
for case in "${cases[@]}"; do
    if "$case"; then
        passed=$((passed + 1))
        echo "ok   $case"
    else
        failed=$((failed + 1))
        echo "FAIL $case"
    fi
done
echo "$passed passed, $failed failed"
((failed == 0))
