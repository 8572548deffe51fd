"""Reference values for the tests of `sooth::stats::effect` (omega squared and its bootstrap),
computed once with SciPy 1.17.1, statsmodels 0.15.0 and numpy 2.4.6 (`pip install scipy
statsmodels pandas`, then `python3 host/src/stats/reference_effect.py`); the printed numbers are in
the tests in `host/src/stats/effect.rs`, each with the snippet that produced it.
"""
import numpy as np, pandas as pd, scipy
from scipy import stats
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
G = {
 "a": [97.1, 96.4, 97.8, 96.9, 97.3],
 "b": [95.2, 96.0, 94.8, 95.5],
 "c": [97.6, 98.0, 97.2, 97.9, 97.5, 97.7],
 "d": [90.1, 93.4, 88.7, 91.9, 92.5],
}
def omega(*samples):
    k = len(samples); n = sum(len(s) for s in samples)
    allv = np.concatenate(samples); grand = allv.mean()
    ssb = sum(len(s) * (np.mean(s) - grand) ** 2 for s in samples)
    ssw = sum(((np.asarray(s) - np.mean(s)) ** 2).sum() for s in samples)
    msw = ssw / (n - k)
    return (ssb - (k - 1) * msw) / (ssb + ssw + msw)
df = pd.DataFrame([(g, v) for g, vs in G.items() for v in vs], columns=["g", "y"])
t = anova_lm(ols("y ~ C(g)", df).fit(), typ=2)
ssb, ssw = t.loc["C(g)", "sum_sq"], t.loc["Residual", "sum_sq"]
dfb, dfw = t.loc["C(g)", "df"], t.loc["Residual", "df"]
msw = ssw / dfw
print("statsmodels omega2 =", repr((ssb - dfb * msw) / (ssb + ssw + msw)), "numpy:", repr(omega(*G.values())))
print("F", t.loc["C(g)", "F"], "p", t.loc["C(g)", "PR(>F)"])
# null-ish groups: omega2 negative
H = {"x": [1.0, 2.0, 3.0], "y": [2.0, 3.0, 1.0], "z": [3.0, 1.0, 2.5]}
print("negative omega2 =", repr(omega(*H.values())))
res = stats.bootstrap(tuple(np.array(v) for v in G.values()), omega, n_resamples=20000,
                      method="percentile", confidence_level=0.95, vectorized=False,
                      rng=np.random.default_rng(12345))
print("scipy", scipy.__version__, "percentile CI", repr(res.confidence_interval.low), repr(res.confidence_interval.high))
reps = np.array([0.3, -0.1, 0.25, 0.5, 0.12, 0.4, 0.05, 0.33])
print("np.percentile", repr(np.percentile(reps, 2.5)), repr(np.percentile(reps, 97.5)))
def eta(*samples):
    allv = np.concatenate(samples); grand = allv.mean()
    ssb = sum(len(s) * (np.mean(s) - grand) ** 2 for s in samples)
    return ssb / ((allv - grand) ** 2).sum()
r2 = stats.bootstrap(tuple(np.array(v) for v in G.values()), eta, n_resamples=20000, method="percentile", vectorized=False, rng=np.random.default_rng(12345))
print("eta CI", r2.confidence_interval)
