#!/usr/bin/env python3
"""sooth next to scikit-learn on the same digits split, in one run.

Trains the same 64-32-10 ReLU network (alpha / l2 = 0) with the same optimizer settings on the
same 1347/450 split in scikit-learn's MLPClassifier and in `sooth train`, over several seeds:
SGD and Adam at batch sizes 8, 32, 128, 512 and full (1347), and full-batch L-BFGS. Reports
peak and final test accuracy (mean +- sd over seeds) and training time per epoch (median over
seeds), checks the project's speed targets and writes a markdown report.

    python3 benches/compare/compare.py            # full run, ~5-15 minutes
    python3 benches/compare/compare.py --quick    # fewer seeds and epochs, ~2 minutes

See benches/compare/README.md for what exactly is measured and how.
"""

import os

# One BLAS / OpenMP thread for scikit-learn (sooth is single-threaded): set before numpy loads.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
VENV = REPO / "target" / "compare-venv"
DIGITS = REPO / "data" / "digits"

BATCH_SIZES = (8, 32, 128, 512, "full")
TRAIN_SAMPLES = 1347
HIDDEN = 32
SGD_LR, MOMENTUM = 0.1, 0.9
ADAM_LR, BETA1, BETA2, EPSILON = 1e-3, 0.9, 0.999, 1e-8
LBFGS_HISTORY = 10  # scipy's L-BFGS-B default maxcor, which scikit-learn does not change

# The project's targets: sooth per-epoch speed-up over scikit-learn.
SMALL_BATCH_TARGET = 20.0  # batch sizes <= 32
FULL_BATCH_TARGET = 3.0  # full batch
# Accuracy "in the same band": the gap in mean peak accuracy is within 1 percentage point,
# or within 2 standard errors of the difference of the two means.
BAND_PP = 1.0


# ---------------------------------------------------------------------------------------------
# Environment: pinned scikit-learn in a venv under target/, and a release build of sooth.


def pins():
    """(name, version) pairs from requirements.txt."""
    out = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            out.append((name.strip(), version.strip()))
    return out


def pin_mismatches():
    bad = []
    for name, want in pins():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have != want:
            bad.append(f"{name} {have or 'missing'} (want {want})")
    return bad


def ensure_python_env(args):
    """Re-executes in target/compare-venv (created and filled from requirements.txt) unless the
    running interpreter already has exactly the pinned versions."""
    bad = pin_mismatches()
    if not bad:
        return
    if args.no_venv:
        sys.exit("compare.py: --no-venv, but this Python does not match requirements.txt: "
                 + ", ".join(bad))
    venv_python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() != VENV.resolve():
        if not venv_python.exists():
            print(f"compare.py: creating {VENV} ...", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    print(f"compare.py: installing {REQUIREMENTS.relative_to(REPO)} into {VENV} "
          f"({', '.join(bad)}) ...", file=sys.stderr)
    subprocess.run([str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(REQUIREMENTS)], check=True)
    still = pin_mismatches()
    if still:
        sys.exit("compare.py: the venv still does not match requirements.txt: " + ", ".join(still))


def build_sooth():
    """`cargo build --release -p sooth`; returns the binary's path."""
    print("compare.py: cargo build --release -p sooth ...", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "-p", "sooth"], cwd=REPO, check=True)
    meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                          check=True, capture_output=True, text=True)
    binary = Path(json.loads(meta.stdout)["target_directory"]) / "release" / "sooth"
    if not binary.is_file():
        sys.exit(f"compare.py: cargo built, but {binary} is missing")
    return binary


# ---------------------------------------------------------------------------------------------
# Data: the repo's raw files, checked against scikit-learn's own load_digits split.


def load_digits_split():
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    def read(name, width):
        path = DIGITS / name
        raw = np.fromfile(path, dtype=np.uint8)
        if width:
            if raw.size % width:
                sys.exit(f"compare.py: {path}: {raw.size} bytes is not a multiple of {width}")
            raw = raw.reshape(-1, width)
        return raw

    x_train = read("train-levels.u8", 64) / 16.0
    y_train = read("train-labels.u8", 0).astype(np.int64)
    x_test = read("test-levels.u8", 64) / 16.0
    y_test = read("test-labels.u8", 0).astype(np.int64)

    x, y = load_digits(return_X_y=True)
    ref = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    ours = (x_train, x_test, y_train, y_test)
    names = ("train features", "test features", "train labels", "test labels")
    for name, a, b in zip(names, ours, ref):
        if a.shape != b.shape or not np.array_equal(a, b):
            sys.exit(f"compare.py: data/digits {name} differ from scikit-learn's load_digits split "
                     "(train_test_split(test_size=0.25, random_state=0, stratify=y))")
    return x_train, y_train, x_test, y_test


# ---------------------------------------------------------------------------------------------
# scikit-learn runs.


class Sklearn:
    """MLPClassifier runs on the digits split, with test accuracy taken after every epoch (or
    L-BFGS iteration) outside the timed region."""

    def __init__(self, nesterov, he_init=False):
        import numpy as np
        import scipy.optimize
        from sklearn.neural_network import MLPClassifier

        self.np = np
        self.scipy_optimize = scipy.optimize
        self.MLPClassifier = MLPClassifier
        self.nesterov = nesterov
        self.he_init = he_init
        self.x_train, self.y_train, self.x_test, self.y_test = load_digits_split()

    def params(self, optimizer, batch, seed, epochs):
        """MLPClassifier keyword arguments of one run."""
        common = dict(hidden_layer_sizes=(HIDDEN,), activation="relu", alpha=0.0, tol=0.0,
                      max_iter=epochs, random_state=seed)
        if optimizer == "lbfgs":
            return dict(solver="lbfgs", max_fun=15000, **common)
        kw = dict(solver=optimizer, batch_size=TRAIN_SAMPLES if batch == "full" else batch,
                  shuffle=True, early_stopping=False, n_iter_no_change=self.np.inf, **common)
        if optimizer == "sgd":
            kw.update(learning_rate="constant", learning_rate_init=SGD_LR, momentum=MOMENTUM,
                      nesterovs_momentum=self.nesterov)
        else:
            kw.update(learning_rate_init=ADAM_LR, beta_1=BETA1, beta_2=BETA2, epsilon=EPSILON)
        return kw

    def model(self, optimizer, batch, seed, epochs):
        model = self.MLPClassifier(**self.params(optimizer, batch, seed, epochs))
        if self.he_init:
            np = self.np

            # Diagnostic only: sooth's initialization (weights He-uniform, biases zero) drawn from
            # scikit-learn's own generator, in place of its Glorot-style default.
            def he_uniform(fan_in, fan_out, dtype):
                bound = np.sqrt(6.0 / fan_in)
                coef = model._random_state.uniform(-bound, bound, (fan_in, fan_out))
                return coef.astype(dtype, copy=False), np.zeros(fan_out, dtype=dtype)

            model._init_coef = he_uniform
        return model

    def accuracy(self, coefs, intercepts):
        np = self.np
        hidden = np.maximum(self.x_test @ coefs[0] + intercepts[0], 0.0)
        out = hidden @ coefs[1] + intercepts[1]
        return float(np.mean(np.argmax(out, axis=1) == self.y_test))

    def accuracy_packed(self, x):
        """Accuracy at scikit-learn's packed L-BFGS vector: weights (fan_in x fan_out, row-major)
        of both layers, then both bias vectors."""
        a, b = 64 * HIDDEN, 64 * HIDDEN + HIDDEN * 10
        w1, w2 = x[:a].reshape(64, HIDDEN), x[a:b].reshape(HIDDEN, 10)
        b1, b2 = x[b:b + HIDDEN], x[b + HIDDEN:b + HIDDEN + 10]
        return self.accuracy((w1, w2), (b1, b2))

    def run(self, optimizer, batch, seed, epochs):
        if optimizer == "lbfgs":
            return self._run_lbfgs(seed, epochs)
        model = self.model(optimizer, batch, seed, epochs)
        accs, epoch_seconds = [], []
        spent = [0.0, 0.0]  # evaluation wall and CPU seconds, taken out of the timings
        resumed = [0.0]  # when the current epoch started
        end_of_epoch = model._update_no_improvement_count

        # Called by _fit_stochastic once per epoch, after the epoch's last update.
        def evaluate_then_continue(*a, **k):
            t0, c0 = time.perf_counter(), time.process_time()
            epoch_seconds.append(t0 - resumed[0])
            accs.append(self.accuracy(model.coefs_, model.intercepts_))
            result = end_of_epoch(*a, **k)
            resumed[0] = time.perf_counter()
            spent[0] += resumed[0] - t0
            spent[1] += time.process_time() - c0
            return result

        model._update_no_improvement_count = evaluate_then_continue
        diverged = False
        t0, c0 = time.perf_counter(), time.process_time()
        resumed[0] = t0
        try:
            model.fit(self.x_train, self.y_train)
        except ValueError as e:  # raised after the last epoch when the weights are not finite
            if "non-finite" not in str(e):
                raise
            diverged = True
        wall = time.perf_counter() - t0 - spent[0]
        cpu = time.process_time() - c0 - spent[1]
        if len(accs) != epochs:
            raise RuntimeError(f"scikit-learn ran {len(accs)} epochs, not {epochs}")
        if not diverged:
            check = model.score(self.x_test, self.y_test)
            if abs(check - accs[-1]) > 1e-12:
                raise RuntimeError(f"per-epoch accuracy {accs[-1]} != model.score {check}")
        return dict(peak=max(accs), final=accs[-1], seconds=wall, cpu_seconds=cpu,
                    fastest=min(epoch_seconds), iterations=epochs, evaluations=None,
                    diverged=diverged)

    def _run_lbfgs(self, seed, iterations):
        model = self.model("lbfgs", "full", seed, iterations)
        so = self.scipy_optimize
        minimize = so.minimize
        accs, iteration_seconds, info = [], [], {}
        spent = [0.0, 0.0]
        resumed = [0.0]

        # scikit-learn calls scipy.optimize.minimize once; add a per-iteration callback.
        def minimize_with_callback(*a, **k):
            resumed[0] = time.perf_counter()

            def after_iteration(intermediate_result):
                t0, c0 = time.perf_counter(), time.process_time()
                iteration_seconds.append(t0 - resumed[0])
                accs.append(self.accuracy_packed(intermediate_result.x))
                resumed[0] = time.perf_counter()
                spent[0] += resumed[0] - t0
                spent[1] += time.process_time() - c0

            res = minimize(*a, callback=after_iteration, **k)
            info.update(nit=res.nit, nfev=res.nfev, message=str(res.message))
            return res

        so.minimize = minimize_with_callback
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(self.x_train, self.y_train)
            wall = time.perf_counter() - t0 - spent[0]
            cpu = time.process_time() - c0 - spent[1]
        finally:
            so.minimize = minimize
        if len(accs) != info["nit"]:
            raise RuntimeError(f"{len(accs)} callbacks for {info['nit']} L-BFGS iterations")
        final = model.score(self.x_test, self.y_test)
        if abs(final - accs[-1]) > 1e-12:
            raise RuntimeError(f"last callback accuracy {accs[-1]} != model.score {final}")
        return dict(peak=max(accs), final=final, seconds=wall, cpu_seconds=cpu,
                    fastest=min(iteration_seconds), iterations=info["nit"], evaluations=info["nfev"], diverged=False,
                    message=info["message"])


# ---------------------------------------------------------------------------------------------
# sooth runs.


def sooth_args(optimizer, batch, seed, epochs, nesterov, metrics):
    args = ["train", "--dataset", "digits", "--hidden", str(HIDDEN), "--activation", "relu",
            "--l2", "0", "--optimizer", optimizer, "--batch-size", str(batch),
            "--sampling", "shuffle", "--last-batch", "keep", "--epochs", str(epochs),
            "--seed", str(seed)]
    if optimizer == "sgd":
        args += ["--lr", str(SGD_LR), "--momentum", str(MOMENTUM)] + (["--nesterov"] if nesterov else [])
    elif optimizer == "adam":
        args += ["--lr", str(ADAM_LR), "--beta1", str(BETA1), "--beta2", str(BETA2),
                 "--epsilon", str(EPSILON)]
    else:
        args += ["--history", str(LBFGS_HISTORY), "--line-search", "wolfe", "--c1", "1e-4",
                 "--c2", "0.9"]
    return args + ["--metrics", str(metrics), "--json", "--quiet"]


def run_sooth(binary, optimizer, batch, seed, epochs, nesterov, scratch):
    metrics = Path(scratch) / "metrics.csv"
    cmd = [str(binary)] + sooth_args(optimizer, batch, seed, epochs, nesterov, metrics)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    outside = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if out.returncode != 0:
        sys.exit(f"compare.py: {shlex.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    r = json.loads(out.stdout)
    with open(metrics, newline="") as f:
        cumulative = [float(row["train_seconds"]) for row in csv.DictReader(f)]
    fastest = min(b - a for a, b in zip([0.0] + cumulative, cumulative))
    return dict(peak=r["peak_test_accuracy"], final=r["final_test_accuracy"],
                seconds=r["train_seconds"], wall_seconds=r["wall_seconds"],
                process_seconds=outside,
                # sooth reports wall time only; scale it by the process's CPU share (CPU time /
                # wall time of the whole process) for an estimate of the CPU time spent training.
                cpu_seconds=r["train_seconds"] * min(1.0, child_cpu / outside),
                fastest=fastest, iterations=r["epochs"], evaluations=r["evaluations"],
                diverged=False, recoveries=r["recoveries"],
                line_search_failures=r["line_search_failures"])


# ---------------------------------------------------------------------------------------------
# Statistics and the report.


def mean_sd(values):
    m = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return m, sd


def pct(values):
    m, sd = mean_sd([100.0 * v for v in values])
    return f"{m:.2f} ± {sd:.2f}"


def per_epoch_ms(runs):
    return [1e3 * r["seconds"] / r["iterations"] for r in runs]


def target_for(batch):
    if batch == "full":
        return FULL_BATCH_TARGET
    if batch <= 32:
        return SMALL_BATCH_TARGET
    return None


def in_band(sk_runs, so_runs):
    a = [100.0 * r["peak"] for r in sk_runs]
    b = [100.0 * r["peak"] for r in so_runs]
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    gap = mb - ma
    se = math.sqrt(sa * sa / len(a) + sb * sb / len(b))
    return gap, abs(gap) <= max(BAND_PP, 2.0 * se)


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return model, os.cpu_count(), usable


def git_rev():
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} thread)"
                         for p in threadpool_info())
    except Exception as e:  # informational only
        return f"unknown ({e})"


def wait_for_load(limit, most_seconds):
    """Sleeps (at most most_seconds) until the 1-minute load average is below limit."""
    if limit is None:
        return
    deadline = time.monotonic() + most_seconds
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="5 seeds and 30 epochs instead of 10 seeds and 50 epochs")
    ap.add_argument("--out", metavar="FILE.md", type=Path,
                    help="report file (default benches/compare/results.md, "
                         "or results-quick.md with --quick)")
    ap.add_argument("--seeds", type=int, help="seeds per cell (seeds 1..N)")
    ap.add_argument("--epochs", type=int, help="epochs per run, and L-BFGS iterations")
    ap.add_argument("--heavy-ball", action="store_true",
                    help="SGD with heavy-ball momentum on both sides (default: Nesterov on both)")
    ap.add_argument("--only", choices=("sgd", "adam", "lbfgs"), action="append",
                    help="run only these optimizers (repeatable)")
    ap.add_argument("--wait-load", type=float, metavar="LOAD",
                    help="before each cell, wait up to 60 s for the 1-minute load average to drop "
                         "below LOAD")
    ap.add_argument("--sklearn-he-init", action="store_true",
                    help="diagnostic: initialize scikit-learn like sooth (He-uniform weights, zero "
                         "biases) instead of its default, to see how much of an accuracy gap is "
                         "initialization")
    ap.add_argument("--no-venv", action="store_true",
                    help="use the running Python as is (it must match requirements.txt)")
    args = ap.parse_args()

    ensure_python_env(args)
    seeds = list(range(1, 1 + (args.seeds or (5 if args.quick else 10))))
    epochs = args.epochs or (30 if args.quick else 50)
    if len(seeds) < 2 or epochs < 1:
        sys.exit("compare.py: need at least 2 seeds and 1 epoch")
    out_path = args.out or (HERE / ("results-quick.md" if args.quick else "results.md"))
    nesterov = not args.heavy_ball
    optimizers = args.only or ["sgd", "adam", "lbfgs"]

    binary = build_sooth()
    from threadpoolctl import threadpool_limits
    import numpy
    import scipy
    import sklearn

    sk = Sklearn(nesterov, he_init=args.sklearn_he_init)
    started = time.monotonic()
    load_start = os.getloadavg()
    cells = [(o, b) for o in ("sgd", "adam") if o in optimizers for b in BATCH_SIZES]
    if "lbfgs" in optimizers:
        cells.append(("lbfgs", "full"))
    results = []
    with threadpool_limits(limits=1), warnings.catch_warnings(), \
            tempfile.TemporaryDirectory(prefix="sooth-compare-") as scratch:
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: expected here
        for optimizer, batch in cells:
            wait_for_load(args.wait_load, 60)
            load = [os.getloadavg()[0]]
            sk_runs, so_runs = [], []
            for i, seed in enumerate(seeds):
                # Interleaved, alternating which side goes first, so load hits both alike.
                order = ("sk", "so") if i % 2 == 0 else ("so", "sk")
                for side in order:
                    if side == "sk":
                        sk_runs.append(sk.run(optimizer, batch, seed, epochs))
                    else:
                        so_runs.append(run_sooth(binary, optimizer, batch, seed, epochs, nesterov,
                                                 scratch))
            load.append(os.getloadavg()[0])
            results.append(dict(optimizer=optimizer, batch=batch, sk=sk_runs, so=so_runs,
                                load=statistics.fmean(load)))
            print(f"compare.py: {optimizer} batch {batch}: sklearn "
                  f"{statistics.median(per_epoch_ms(sk_runs)):.2f} ms/epoch, sooth "
                  f"{statistics.median(per_epoch_ms(so_runs)):.3f} ms/epoch "
                  f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    elapsed = time.monotonic() - started

    report = render(results, dict(
        seeds=seeds, epochs=epochs, nesterov=nesterov, he_init=args.sklearn_he_init, quick=args.quick, elapsed=elapsed,
        load_start=load_start, load_end=os.getloadavg(), binary=binary,
        versions=dict(sooth=git_rev(), sklearn=sklearn.__version__, numpy=numpy.__version__,
                      scipy=scipy.__version__, python=platform.python_version(), blas=blas_info()),
        argv=sys.argv[1:], sklearn_params=sk.params))
    print(report)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(report)
    print(f"compare.py: wrote {out_path}", file=sys.stderr)


def literal(value):
    """Python source for a parameter value; placeholders such as `<seed>` stay bare."""
    if isinstance(value, str) and value.startswith("<"):
        return value
    if isinstance(value, float) and math.isinf(value):
        return "np.inf"
    return repr(value)


def render(results, meta):
    seeds, epochs, nesterov = meta["seeds"], meta["epochs"], meta["nesterov"]
    model, cpus, usable = machine()
    v = meta["versions"]
    momentum = "Nesterov" if nesterov else "heavy-ball"
    L = []
    L.append("# sooth vs scikit-learn on the digits split")
    L.append("")
    L.append(f"Generated {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} by "
             f"`python3 benches/compare/compare.py{' ' if meta['argv'] else ''}"
             f"{shlex.join(meta['argv'])}` in {meta['elapsed']:.0f} s"
             f"{' (--quick)' if meta['quick'] else ''}.")
    L.append("")
    L.append(f"- Machine: {model}, {cpus} logical CPUs ({usable} usable); 1-minute load average "
             f"{meta['load_start'][0]:.2f} at the start, {meta['load_end'][0]:.2f} at the end "
             "(other workers share the machine; see the `load` column).")
    L.append(f"- sooth: git {v['sooth']}, `cargo build --release -p sooth`.")
    L.append(f"- scikit-learn {v['sklearn']}, numpy {v['numpy']}, scipy {v['scipy']}, "
             f"Python {v['python']}; BLAS: {v['blas']}; {', '.join(THREAD_VARS)} = 1.")
    L.append(f"- Data: data/digits raw files (1347 train / 450 test, features level/16), checked "
             "equal to scikit-learn's `load_digits` split "
             "(`train_test_split(test_size=0.25, random_state=0, stratify=y)`).")
    L.append(f"- Network 64-32-10 ReLU, softmax cross-entropy (mean over the batch), alpha / l2 = 0. "
             f"Seeds {seeds[0]}..{seeds[-1]} on each side ({len(seeds)} runs per cell; "
             f"scikit-learn `random_state=seed`, sooth `--seed seed`), {epochs} epochs, a fresh "
             "shuffle each epoch, last short batch kept.")
    L.append(f"- SGD: lr {SGD_LR}, momentum {MOMENTUM}, {momentum} momentum on both sides. "
             f"Adam: lr {ADAM_LR:g}, betas {BETA1}/{BETA2}, eps {EPSILON:g}. L-BFGS: full batch, "
             f"history {LBFGS_HISTORY}, {epochs} iterations (sooth: one iteration per epoch).")
    if meta["he_init"]:
        L.append("- **Diagnostic run (`--sklearn-he-init`)**: scikit-learn initialized like sooth "
                 "(He-uniform weights, zero biases), not with its own default.")
    L.append("")
    L.append("Accuracy: peak (best test accuracy after any epoch or L-BFGS iteration) and final, "
             "mean ± sd over seeds, in %. Time: training only (no test evaluation, no process "
             "start-up), per epoch (per iteration for L-BFGS), median over seeds. ratio = "
             "scikit-learn ms / sooth ms.")
    L.append("")
    L.append("| optimizer | batch | sklearn peak % | sklearn final % | sooth peak % | sooth final % "
             "| Δ peak pp | band | sklearn ms/epoch | sooth ms/epoch | ratio | target | met | load |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for r in results:
        sk, so = r["sk"], r["so"]
        sk_ms, so_ms = statistics.median(per_epoch_ms(sk)), statistics.median(per_epoch_ms(so))
        ratio = sk_ms / so_ms
        gap, band = in_band(sk, so)
        target = target_for(r["batch"])
        met = "" if target is None else ("yes" if ratio >= target else "**no**")
        name = {"sgd": f"SGD ({momentum})", "adam": "Adam", "lbfgs": "L-BFGS"}[r["optimizer"]]
        L.append(f"| {name} | {r['batch']} | {pct([x['peak'] for x in sk])} "
                 f"| {pct([x['final'] for x in sk])} | {pct([x['peak'] for x in so])} "
                 f"| {pct([x['final'] for x in so])} | {gap:+.2f} | {'yes' if band else '**no**'} "
                 f"| {sk_ms:.2f} | {so_ms:.3f} | {ratio:.1f}x "
                 f"| {'' if target is None else f'>= {target:g}x'} | {met} | {r['load']:.1f} |")
        verdicts.append((name, r["batch"], ratio, target, band, gap))
    L.append("")
    L.append("band: yes when |Δ peak| <= max(1 pp, 2 standard errors of the difference of the means).")
    L.append("")

    L.append("## Targets")
    L.append("")
    speed = [x for x in verdicts if x[3] is not None]
    missed = [x for x in speed if x[2] < x[3]]
    out_band = [x for x in verdicts if not x[4]]
    L.append(f"- Speed: sooth >= {SMALL_BATCH_TARGET:g}x faster per epoch at batch sizes <= 32 and "
             f">= {FULL_BATCH_TARGET:g}x at full batch: "
             + ("**met** in all " + str(len(speed)) + " cells." if not missed else
                f"**not met** in {len(missed)} of {len(speed)} cells: "
                + "; ".join(f"{n} batch {b}: {ratio:.1f}x (target {t:g}x)"
                            for n, b, ratio, t, _, _ in missed) + "."))
    L.append("- Accuracy in the same band (peak): "
             + ("yes in all cells." if not out_band else
                f"**no** in {len(out_band)} of {len(verdicts)} cells: "
                + "; ".join(f"{n} batch {b}: {gap:+.2f} pp" for n, b, _, _, _, gap in out_band)
                + "."))
    L.append("")

    L.append("## Timing detail")
    L.append("")
    L.append("ms per epoch (per iteration for L-BFGS) over seeds: min / median / max of wall time. "
             "CPU columns are less sensitive to other workers than wall time: sklearn CPU = process "
             "CPU time around `fit`; sooth CPU = `train_seconds` x (the process's CPU time / its wall "
             "time), an estimate, since sooth reports wall time only. sooth start-up = median of "
             "(subprocess wall time - the run's own `wall_seconds`): process start and data "
             "loading, not counted anywhere above. fastest = the fastest single epoch (iteration) "
             "of a run, median over seeds: the least disturbed by other workers.")
    L.append("")
    L.append("| optimizer | batch | sklearn wall | sooth wall | ratio of minima | sklearn CPU median "
             "| sooth CPU median | CPU ratio | sklearn fastest | sooth fastest | fastest ratio "
             "| sooth start-up ms |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        sk, so = per_epoch_ms(r["sk"]), per_epoch_ms(r["so"])
        sk_cpu = statistics.median(1e3 * x["cpu_seconds"] / x["iterations"] for x in r["sk"])
        so_cpu = statistics.median(1e3 * x["cpu_seconds"] / x["iterations"] for x in r["so"])
        startup = statistics.median(1e3 * (x["process_seconds"] - x["wall_seconds"]) for x in r["so"])
        sk_fast = statistics.median(1e3 * x["fastest"] for x in r["sk"])
        so_fast = statistics.median(1e3 * x["fastest"] for x in r["so"])
        L.append(f"| {r['optimizer']} | {r['batch']} | {min(sk):.2f} / {statistics.median(sk):.2f} / "
                 f"{max(sk):.2f} | {min(so):.3f} / {statistics.median(so):.3f} / {max(so):.3f} "
                 f"| {min(sk) / min(so):.1f}x | {sk_cpu:.2f} | {so_cpu:.3f} | {sk_cpu / so_cpu:.1f}x "
                 f"| {sk_fast:.2f} | {so_fast:.3f} | {sk_fast / so_fast:.1f}x | {startup:.1f} |")
    L.append("")

    lb = [r for r in results if r["optimizer"] == "lbfgs"]
    if lb:
        sk, so = lb[0]["sk"], lb[0]["so"]
        L.append("## L-BFGS detail")
        L.append("")
        L.append("| side | iterations (mean) | function evaluations (mean) | ms per evaluation (median) |")
        L.append("|---|---|---|---|")
        for side, runs in (("scikit-learn (scipy L-BFGS-B)", sk), ("sooth", so)):
            its = statistics.fmean(x["iterations"] for x in runs)
            evs = statistics.fmean(x["evaluations"] for x in runs)
            per_eval = statistics.median(1e3 * x["seconds"] / x["evaluations"] for x in runs)
            L.append(f"| {side} | {its:.1f} | {evs:.1f} | {per_eval:.3f} |")
        msgs = sorted({x["message"] for x in sk})
        L.append("")
        L.append("scipy stop messages: " + "; ".join(f"`{m}`" for m in msgs) + ".")
        L.append("")

    notes = []
    for r in results:
        div = sum(x["diverged"] for x in r["sk"])
        if div:
            notes.append(f"scikit-learn {r['optimizer']} batch {r['batch']}: {div} of {len(r['sk'])} "
                         "runs ended with non-finite weights (fit raised ValueError after the last "
                         "epoch; counted with the accuracies they had).")
        rec = sum(x["recoveries"] for x in r["so"])
        fails = sum(x["line_search_failures"] for x in r["so"])
        if rec or fails:
            notes.append(f"sooth {r['optimizer']} batch {r['batch']}: {rec} non-finite recoveries, "
                         f"{fails} line-search failures over {len(r['so'])} runs.")
    if notes:
        L.append("## Notes from this run")
        L.append("")
        L.extend(f"- {n}" for n in notes)
        L.append("")

    L.append("## Exact commands")
    L.append("")
    L.append("sooth, per cell (`<seed>` = each seed; `<b>` = the batch size, `full` = 1347):")
    L.append("")
    L.append("```")
    for opt in sorted({r["optimizer"] for r in results}, key=["sgd", "adam", "lbfgs"].index):
        batch = "full" if opt == "lbfgs" else "<b>"
        args = sooth_args(opt, batch, "<seed>", epochs, nesterov, "<tmp>/metrics.csv")
        L.append("target/release/sooth " + " ".join(args))
    L.append("```")
    L.append("")
    L.append("scikit-learn, per run (`model.fit(x_train, y_train)` timed; test accuracy taken after "
             "every epoch from a hook on `_update_no_improvement_count`, and for L-BFGS from a "
             "`scipy.optimize.minimize` callback, with the hook's time subtracted):")
    L.append("")
    L.append("```")
    for opt in sorted({r["optimizer"] for r in results}, key=["sgd", "adam", "lbfgs"].index):
        params = meta["sklearn_params"](opt, "<b>" if opt != "lbfgs" else "full", "<seed>", epochs)
        text = ", ".join(f"{k}={literal(v)}" for k, v in params.items())
        L.append(f"MLPClassifier({text})")
    L.append("```")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    main()
