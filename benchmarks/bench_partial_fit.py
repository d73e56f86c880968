"""``partial_fit`` per call against a refit on every row seen, as the rows pile up.

A detector audits batches of 1,000 rows as they arrive: ``partial_fit`` on each
batch, from 10,000 rows up to 100,000.  For each size reached, the median time
of the calls around it is set against a ``fit`` on every row seen so far (what
a user without ``partial_fit`` would run), in the same process.  Quality: the
Spearman correlation of the two detectors' scores over every row seen, and the
precision among the lowest-scored 10% of each (20% of labels flipped at
random).  ``ChefCleaner`` follows, with its budget per call: each of its rounds
ranks the whole pool, so its cost per call grows with the pool, and the table
shows by how much.

    python benchmarks/bench_partial_fit.py > benchmarks/results/bench_partial_fit.txt
    python benchmarks/bench_partial_fit.py --device cuda   # where there is one (or auto)

Data: ``make_classification`` with 100 features (30 informative), 5 classes,
200 trusted rows.  Model: ``LogisticRegression(max_iter=1000)``, and
``SGDClassifier(loss="log_loss")`` whose own ``partial_fit`` is the update.
"""

import argparse
import statistics
import time

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, SGDClassifier

from skclean import ChefCleaner, ClassBasedIFDetector, SimulatedOracle
from skclean.datasets import flip_labels

BATCH, START, SIZES = 1_000, 10_000, (20_000, 50_000, 100_000)


def data():
    X, y = make_classification(100_000 + 200, 100, n_informative=30, n_redundant=0,
                               n_classes=5, class_sep=1.0, random_state=0)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    return X[200:], y[200:], y_noisy[200:], flipped[200:], X[:200], y[:200]


def precision_at(scores, flipped, share=0.1):
    k = int(share * len(scores))
    return float(flipped[np.argsort(scores, kind="stable")[:k]].mean())


def detector_rows(name, make, device):
    X, _, y_noisy, flipped, X_t, y_t = data()
    det = make(device).fit(X[:START], y_noisy[:START], X_trusted=X_t, y_trusted=y_t)
    calls, rows = [], []
    seen = START
    for size in SIZES:
        while seen < size:
            t0 = time.perf_counter()
            det.partial_fit(X[seen : seen + BATCH], y_noisy[seen : seen + BATCH])
            calls.append((seen + BATCH, time.perf_counter() - t0))
            seen += BATCH
        recent = statistics.median(t for n, t in calls if n > size - 5 * BATCH)
        refit_times = []
        for _ in range(3):
            t0 = time.perf_counter()
            ref = make(device).fit(X[:size], y_noisy[:size], X_trusted=X_t, y_trusted=y_t)
            refit_times.append(time.perf_counter() - t0)
        refit = statistics.median(refit_times)
        a = det.score_samples(X[:size], y_noisy[:size])
        b = ref.score_samples(X[:size], y_noisy[:size])
        rows.append([name, f"{size:,}", f"{recent * 1e3:,.0f}", f"{refit * 1e3:,.0f}",
                     f"{refit / recent:,.0f}x", f"{spearmanr(a, b).statistic:.4f}",
                     f"{precision_at(a, flipped[:size]):.3f}",
                     f"{precision_at(b, flipped[:size]):.3f}"])
    return rows


def chef_rows(device):
    X, y, y_noisy, _, X_t, y_t = data()
    oracle = SimulatedOracle(X, y)
    chef = ChefCleaner(LogisticRegression(max_iter=1000), oracle=oracle, budget=10,
                       batch_size=10, device=device, random_state=0)
    chef.fit(X[:START], y_noisy[:START], X_trusted=X_t, y_trusted=y_t)
    rows, seen = [], START
    for size in (20_000, 40_000):
        times = []
        while seen < size:
            t0 = time.perf_counter()
            chef.partial_fit(X[seen : seen + BATCH], y_noisy[seen : seen + BATCH])
            times.append(time.perf_counter() - t0)
            seen += BATCH
        t0 = time.perf_counter()
        ChefCleaner(LogisticRegression(max_iter=1000), oracle=oracle, budget=10, batch_size=10,
                    device=device, random_state=0).fit(X[:size], y_noisy[:size],
                                                       X_trusted=X_t, y_trusted=y_t)
        fit = time.perf_counter() - t0
        recent = statistics.median(times[-5:])
        rows.append(["ChefCleaner, 10 questions a call", f"{size:,}", f"{recent * 1e3:,.0f}",
                     f"{fit * 1e3:,.0f}", f"{fit / recent:,.1f}x", "", "", ""])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    device = parse_args(parser, argv).device
    print(__doc__.split("\n\n")[0])
    print(f"\nmachine: {machine(device)}; batches of {BATCH:,} rows after a fit on {START:,}")
    makers = {
        "class-based, LogisticRegression": lambda d: ClassBasedIFDetector(
            LogisticRegression(max_iter=1000), device=d, random_state=0),
        "class-based (IF), LogisticRegression": lambda d: ClassBasedIFDetector(
            LogisticRegression(max_iter=1000), similarity="if", device=d, random_state=0),
        "class-based, SGDClassifier": lambda d: ClassBasedIFDetector(
            SGDClassifier(loss="log_loss", random_state=0), device=d, random_state=0),
    }
    rows = []
    for name, make in makers.items():
        rows += detector_rows(name, make, device)
    rows += chef_rows(device)
    print_table("One partial_fit call (median of the last five calls) vs a fit on every row "
                "seen (median of 3)",
                ["estimator", "rows seen", "partial_fit (ms)", "refit (ms)", "refit / call",
                 "Spearman vs refit", "p@10% partial", "p@10% refit"], rows)


if __name__ == "__main__":
    main()
