"""Reference values for the tests of `sooth::stats`, computed with SciPy and statsmodels.

Run once (`pip install scipy statsmodels pandas`, then `python3 host/src/stats/reference.py`)
and paste the printed numbers into the tests in `host/src/stats/tests.rs`. The data tables below
are the same literals as in the Rust tests; each Rust test repeats the snippet that produced its
numbers. Generated with SciPy 1.17.1, statsmodels 0.15.0, pandas 3.1.1, numpy 2.4.6.
"""

import itertools

import numpy as np
import pandas as pd
import scipy
import statsmodels
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.multitest import multipletests

# --- Data (identical literals in tests.rs) -------------------------------------------------------

# 3x4 unbalanced design, 2..6 observations per cell, with an interaction (lbfgs at b1024, sgd at
# b0016). Levels are listed in the order that pandas sorts them, so the printed tables line up.
UNBALANCED_3X4 = {
    ("adam", "b0016"): [0.93, 0.9336, 0.9267],
    ("adam", "b0064"): [0.9243, 0.9295, 0.9231, 0.9357, 0.9511],
    ("adam", "b0256"): [0.9141, 0.9126],
    ("adam", "b1024"): [0.9059, 0.9043, 0.9013, 0.8888, 0.8996, 0.9083],
    ("lbfgs", "b0016"): [0.9339, 0.9445, 0.9272, 0.9345],
    ("lbfgs", "b0064"): [0.9329, 0.9522],
    ("lbfgs", "b0256"): [0.9248, 0.9433, 0.9419, 0.9378, 0.9098, 0.9335],
    ("lbfgs", "b1024"): [0.8794, 0.8814, 0.8616],
    ("sgd", "b0016"): [0.8743, 0.8683, 0.8703, 0.8927, 0.8703],
    ("sgd", "b0064"): [0.9046, 0.9156, 0.898],
    ("sgd", "b0256"): [0.8887, 0.8913, 0.8908, 0.8753],
    ("sgd", "b1024"): [0.8709, 0.8863],
}

# 2x2 balanced design, 3 observations per cell.
BALANCED_2X2 = {
    ("cg", "large"): [12.04, 7.44, 10.42],
    ("cg", "small"): [10.23, 10.35, 10.58],
    ("sgd", "large"): [9.48, 11.27, 10.63],
    ("sgd", "small"): [15.62, 12.53, 11.95],
}

# 2x3 unbalanced design with a crossover interaction (lbfgs improves with the batch, sgd worsens).
CROSSOVER_2X3 = {
    ("lbfgs", "b032"): [0.8005, 0.8204],
    ("lbfgs", "b128"): [0.8784, 0.8523, 0.8555, 0.8521],
    ("lbfgs", "b512"): [0.9185, 0.9092, 0.9212],
    ("sgd", "b032"): [0.8723, 0.9235, 0.8986, 0.9102, 0.898],
    ("sgd", "b128"): [0.8643, 0.8769],
    ("sgd", "b512"): [0.8324, 0.817, 0.8177],
}

# Samples for the descriptive summary.
SUMMARY_ODD = [3.5, -1.25, 7.0, 2.0, 2.0, 10.5, 0.75]
SUMMARY_EVEN = [0.93, 0.9336, 0.9267, 0.9243, 0.9295, 0.9231, 0.9357, 0.9511]

# Small integer groups with many ties, for Kruskal-Wallis.
TIED_GROUPS = [[1, 1, 2, 3], [2, 2, 3], [1, 3, 3, 4, 4]]

# Raw p-values for the multiple-testing adjustments (ties, and values that clip at 1).
RAW_P = [0.01, 0.04, 0.03, 0.005, 0.04, 0.5, 0.2, 0.0001]


def frame(cells):
    rows = [(a, b, y) for (a, b), ys in cells.items() for y in ys]
    return pd.DataFrame(rows, columns=["a", "b", "y"])


def groups(cells):
    return [np.array(ys) for ys in cells.values()]


def r(x):
    """Shortest repr that round-trips, as a Rust f64 literal."""
    return repr(float(x))


def anova(name, cells):
    df = frame(cells)
    for transform in ["identity", "ln"]:
        d = df.copy()
        if transform == "ln":
            d["y"] = np.log(d["y"])
        typ2 = anova_lm(ols("y ~ C(a) * C(b)", d).fit(), typ=2)
        typ3 = anova_lm(ols("y ~ C(a, Sum) * C(b, Sum)", d).fit(), typ=3)
        for label, table in [("II", typ2), ("III", typ3)]:
            print(f"-- anova {name} type {label} {transform}: [sum_sq, df, F, p] for A, B, A:B, Residual")
            for term, row in table.iterrows():
                if term == "Intercept":
                    continue
                print(f"   {term:28s} [{r(row['sum_sq'])}, {r(row['df'])}, {r(row['F'])}, {r(row['PR(>F)'])}],")


def summary(name, xs):
    x = np.array(xs)
    print(f"-- summary {name}: [n, mean, sd, var, min, p5, median, max]")
    print(
        f"   [{len(x)}, {r(x.mean())}, {r(x.std(ddof=1))}, {r(x.var(ddof=1))}, {r(x.min())}, "
        f"{r(np.percentile(x, 5))}, {r(np.median(x))}, {r(x.max())}]"
    )


def variance(name, gs):
    lm = stats.levene(*gs, center="mean")
    bf = stats.levene(*gs, center="median")
    print(f"-- levene {name}: [W, p]  mean-centred = [{r(lm.statistic)}, {r(lm.pvalue)}]")
    print(f"-- brown-forsythe {name}: [W, p] median-centred = [{r(bf.statistic)}, {r(bf.pvalue)}]")


def one_way(name, gs):
    res = stats.f_oneway(*gs)
    print(f"-- f_oneway {name}: [F, p] = [{r(res.statistic)}, {r(res.pvalue)}]")


def kruskal(name, gs):
    res = stats.kruskal(*gs)
    print(f"-- kruskal {name}: [H, p] = [{r(res.statistic)}, {r(res.pvalue)}]")


def pairwise(name, gs):
    rows = []
    for i, j in itertools.combinations(range(len(gs)), 2):
        res = stats.ttest_ind(gs[i], gs[j], equal_var=False)
        ci = res.confidence_interval(0.95)
        diff = gs[i].mean() - gs[j].mean()
        rows.append((i, j, res.statistic, res.df, res.pvalue, diff, ci.low, ci.high))
    p = [row[4] for row in rows]
    holm = multipletests(p, method="holm")[1]
    bonf = multipletests(p, method="bonferroni")[1]
    print(f"-- pairwise welch {name}: [i, j, t, df, p, diff, ci_low, ci_high, p_holm, p_bonferroni]")
    for row, h, b in zip(rows, holm, bonf):
        i, j, t, df, pv, diff, lo, hi = row
        print(f"   ({i}, {j}, [{r(t)}, {r(df)}, {r(pv)}, {r(diff)}, {r(lo)}, {r(hi)}, {r(h)}, {r(b)}]),")


def edge_cases():
    print(f"-- np.percentile([1, 2, 3, 4], [0, 10, 25, 50, 90, 100]) = {list(map(float, np.percentile([1, 2, 3, 4], [0, 10, 25, 50, 90, 100])))}")
    res = stats.kruskal([1, 4], [2, 3])
    print(f"-- kruskal([1, 4], [2, 3]) = [{r(res.statistic)}, {r(res.pvalue)}]")
    # Zero residual variance: every cell constant. statsmodels' residual is rounding (~1e-31), so
    # its F (~1e31) is meaningless; only the effect sums of squares are references.
    rows = [(a, b, y) for a, b, y in [("x", "u", 0.1), ("x", "v", 0.2), ("y", "u", 0.3), ("y", "v", 0.7)] for _ in range(3)]
    d = pd.DataFrame(rows, columns=["a", "b", "y"])
    for label, table in [
        ("II", anova_lm(ols("y ~ C(a) * C(b)", d).fit(), typ=2)),
        ("III", anova_lm(ols("y ~ C(a, Sum) * C(b, Sum)", d).fit(), typ=3)),
    ]:
        print(f"-- constant cells type {label} sum_sq: {[float(x) for x in table['sum_sq']]}")


def main():
    print(f"# scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, pandas {pd.__version__}, numpy {np.__version__}")
    summary("odd", SUMMARY_ODD)
    summary("even", SUMMARY_EVEN)
    anova("unbalanced_3x4", UNBALANCED_3X4)
    anova("balanced_2x2", BALANCED_2X2)
    anova("crossover_2x3", CROSSOVER_2X3)
    variance("unbalanced_3x4", groups(UNBALANCED_3X4))
    variance("balanced_2x2", groups(BALANCED_2X2))
    one_way("unbalanced_3x4", groups(UNBALANCED_3X4))
    one_way("balanced_2x2", groups(BALANCED_2X2))
    kruskal("unbalanced_3x4", groups(UNBALANCED_3X4))
    kruskal("balanced_2x2", groups(BALANCED_2X2))
    kruskal("tied", [np.array(g, dtype=float) for g in TIED_GROUPS])
    pairwise("balanced_2x2", groups(BALANCED_2X2))
    pairwise("crossover_2x3", groups(CROSSOVER_2X3))
    print("-- multipletests RAW_P holm / bonferroni")
    print(f"   holm = {list(map(float, multipletests(RAW_P, method='holm')[1]))}")
    print(f"   bonferroni = {list(map(float, multipletests(RAW_P, method='bonferroni')[1]))}")
    edge_cases()


if __name__ == "__main__":
    main()
