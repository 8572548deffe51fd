#!/usr/bin/env python3
"""The README's table of what 16-bit curvature pairs cost L-BFGS on digits,
from a sweep of docs/pair-precision/study.toml (standard library only):

    sooth sweep --config docs/pair-precision/study.toml --out runs/pair-precision
    scripts/pair-precision-table.py runs/pair-precision/runs.csv
"""
import csv
import re
import statistics
import sys


def main(path):
    cells = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] != "ok":
                raise SystemExit(f"{path}: run {row['run_id']} has status {row['status']}")
            m = int(re.search(r"\(m (\d+),", row["config"]).group(1))
            found = re.search(r"pairs in (\w+)", row["config"])
            precision = found.group(1) if found else "f32"
            key = (m, row["batch_size"], precision)
            cells.setdefault(key, []).append(row)
    order = {"f32": 0, "bf16": 1, "f16": 2}
    batch = lambda b: (b == "full", int(b) if b.isdigit() else 0)
    print("| m | batch | pairs | peak test accuracy % | final test accuracy % | evaluations | runs |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for key in sorted(cells, key=lambda k: (k[0], batch(k[1]), order[k[2]])):
        rows = cells[key]
        peak = [100 * float(r["peak_test_accuracy"]) for r in rows]
        final = [100 * float(r["final_test_accuracy"]) for r in rows]
        evals = [int(r["evaluations"]) for r in rows]
        m, b, p = key
        print(
            f"| {m} | {b} | {p} | {statistics.mean(peak):.2f} ± {statistics.stdev(peak):.2f} "
            f"| {statistics.mean(final):.2f} ± {statistics.stdev(final):.2f} "
            f"| {statistics.mean(evals):.0f} | {len(rows)} |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/pair-precision/runs.csv")
