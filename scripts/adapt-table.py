#!/usr/bin/env python3
"""The README's table of the adapt program (issue 19): accuracy on the
held-out shifted digits before adaptation and after 100, 200 and 500
arrivals, for L-BFGS (m = 5) and SGD, mean +- sample sd over seeds. Each seed
trains its own host model and draws its own stream (`sooth adapt --seed S
--json`, the host replay of the firmware's program).

    usage: scripts/adapt-table.py [--seeds N] [--sooth PATH]

Without --sooth it builds and runs `cargo run --release -p sooth`.
"""
import argparse
import json
import statistics
import subprocess
import sys

CHECKPOINTS = (0, 100, 200, 500)


def replay(sooth, seed):
    out = subprocess.run(
        sooth + ["adapt", "--seed", str(seed), "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N (default 10)")
    parser.add_argument("--sooth", help="the sooth binary (default: cargo run --release -p sooth)")
    args = parser.parse_args()
    if args.seeds < 2:
        sys.exit("error: --seeds must be at least 2 (a standard deviation needs two)")
    sooth = [args.sooth] if args.sooth else ["cargo", "run", "--quiet", "--release", "-p", "sooth", "--"]
    acc = {}  # (run, arrivals) -> [accuracy per seed]
    clean = []
    for seed in range(1, args.seeds + 1):
        r = replay(sooth, seed)
        clean.append(r["model"]["clean_test"]["accuracy"])
        for run in r["runs"]:
            by_arrivals = {c["arrivals"]: c["test_accuracy"] for c in run["checkpoints"]}
            for a in CHECKPOINTS:
                acc.setdefault((run["run"], a), []).append(by_arrivals[a])

    def cell(values):
        return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}"

    print(f"Host model on the clean test digits: {cell(clean)} % (seeds 1..{args.seeds}).")
    print()
    print("| optimizer | " + " | ".join(
        "before (0 arrivals)" if a == 0 else f"after {a}" for a in CHECKPOINTS) + " |")
    print("|---|" + "---:|" * len(CHECKPOINTS))
    for run, name in (("lbfgs", "L-BFGS (m = 5)"), ("sgd", "SGD (lr 0.1, momentum 0.9)")):
        print(f"| {name} | " + " | ".join(cell(acc[(run, a)]) for a in CHECKPOINTS) + " |")


if __name__ == "__main__":
    main()
