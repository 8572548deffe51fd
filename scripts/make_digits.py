#!/usr/bin/env python3
"""Builds data/digits/ from the digits split in CSV form (or from scikit-learn).

The split is scikit-learn's bundled `load_digits` (UCI "Optical Recognition of
Handwritten Digits", 1797 8x8 images, 10 classes), `train_test_split(test_size=0.25,
random_state=0, stratify=y)`: 1347 train, 450 test samples. Every feature is an
integer level 0..16; the CSV holds level / 16.

Usage:
    scripts/make_digits.py CSV_DIR        # from digits_train.csv / digits_test.csv
    scripts/make_digits.py --sklearn      # regenerate the split with scikit-learn
"""
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "data" / "digits"


def from_csv(directory):
    parts = {}
    for part in ("train", "test"):
        labels, levels = [], []
        path = Path(directory) / f"digits_{part}.csv"
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            cells = line.split(",")
            assert len(cells) == 65, f"{path}:{lineno}: expected 65 cells"
            labels.append(int(cells[0]))
            for c in cells[1:]:
                q = float(c) * 16
                assert q == round(q) and 0 <= q <= 16, f"{path}:{lineno}: {c} is not a level/16"
                levels.append(int(round(q)))
        parts[part] = (labels, levels)
    return parts


def from_sklearn():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(
        d.data, d.target, test_size=0.25, random_state=0, stratify=d.target
    )
    return {
        "train": ([int(v) for v in ytr], [int(v) for v in xtr.reshape(-1)]),
        "test": ([int(v) for v in yte], [int(v) for v in xte.reshape(-1)]),
    }


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    parts = from_sklearn() if sys.argv[1] == "--sklearn" else from_csv(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    for part, (labels, levels) in parts.items():
        (OUT / f"{part}-labels.u8").write_bytes(bytes(labels))
        (OUT / f"{part}-levels.u8").write_bytes(bytes(levels))
        print(f"{part}: {len(labels)} samples, {len(levels)} levels")


if __name__ == "__main__":
    main()
