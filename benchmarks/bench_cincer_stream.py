"""CINCER on a long stream: per-row selection and refit times as the training set grows.

Algorithm 1 processes a stream one row at a time: margin test, counter-example
selection for suspicious rows (Top Fisher, refreshed after every model
update), the oracle's answer, the row appended, the model refit.  This streams
``--n-stream`` noisy rows (20% uniform flips, a simulated oracle) after a
bootstrap set, with scikit-learn's LogisticRegression (warm-started refits)
on 10 overlapping classes, and reports, per block of stream rows, the median
milliseconds of each step.  Appends are amortised O(1) (a doubling buffer)
and the Top Fisher is estimated from ``fisher_rows`` sampled rows (2,000 by
default), so selection should stay flat while the refit (a solve over every
row, which Algorithm 1 asks for) grows with the training set.  The stream
shares the machine's noise, so a second, controlled table fits the model on
2,000 to 12,000 rows and times one selection after a model update (Top
Fisher refresh from ``fisher_rows`` sampled rows or from every row, then
scoring every candidate), median of 15 suspicious rows, both settings
interleaved.

Usage: python benchmarks/bench_cincer_stream.py [--n-bootstrap 2000]
       [--n-stream 10000] [--block 1000] [--device cpu]
"""

import argparse
import time

import numpy as np
from _util import machine, print_table, rank_with_fisher_sample
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skclean import CincerCleaner, SimulatedOracle
from skclean.datasets import flip_labels


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-bootstrap", type=int, default=2000)
    p.add_argument("--n-stream", type=int, default=10_000)
    p.add_argument("--block", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    n = args.n_bootstrap + args.n_stream
    X, y = make_classification(n_samples=n, n_features=30, n_informative=15, n_redundant=5,
                               n_classes=10, n_clusters_per_class=1, class_sep=1.5,
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    b = args.n_bootstrap
    c = CincerCleaner(LogisticRegression(max_iter=500), oracle=SimulatedOracle(X, y),
                      device=args.device, random_state=0)
    t0 = time.perf_counter()
    c.fit(X[:b], y_noisy[:b])
    t_boot = time.perf_counter() - t0
    t0 = time.perf_counter()
    c.partial_fit(X[b:], y_noisy[b:])
    t_stream = time.perf_counter() - t0

    times = c.iteration_times_
    queried = {h["position"] for h in c.history_}
    rows = []
    for s in range(0, len(times), args.block):
        block = range(s, min(s + args.block, len(times)))
        sel = [times[i]["selection_and_query"] for i in block if i in queried]
        sel_only = [h["time_selection"] for h in c.history_ if h["position"] in block]
        ms = lambda v: f"{1e3 * np.median(v):.1f}" if len(v) else "-"  # noqa: E731
        rows.append([f"{s + 1:,}-{block[-1] + 1:,}", f"{b + s:,}", len(sel),
                     ms([times[i]["suspicion"] for i in block]), ms(sel_only), ms(sel),
                     ms([times[i]["refit"] for i in block])])
    print(f"{b:,} bootstrap + {args.n_stream:,} stream rows, 30 features, 10 classes, 20% "
          f"uniform noise, LogisticRegression (warm-started refits), Top Fisher from "
          f"fisher_rows={c.fisher_rows}; {machine('cpu')}")
    print(f"bootstrap fit {t_boot:.2f} s; stream {t_stream:.1f} s = "
          f"{1e3 * t_stream / args.n_stream:.1f} ms per row on average; "
          f"{c.n_queries_:,} queries, {c.n_changed_:,} labels changed")
    print_table(
        "Median milliseconds per stream row, by block of the stream",
        ["stream rows", "training rows at start", "queries", "margin test",
         "counter-example selection", "selection + oracle + append", "refit"],
        rows,
    )

    # controlled: one selection after a model update, by training-set size
    sizes = [s for s in (2000, 4000, 8000, 12000) if s <= n]
    rows, default_rows = [], c.fisher_rows
    for size in sizes:
        fitted = CincerCleaner(LogisticRegression(max_iter=500), device=args.device,
                               random_state=0).fit(X[:size], y_noisy[:size])
        pred = fitted.predict(X[-500:])
        wrong = np.flatnonzero(pred != y_noisy[-500:])[:15]
        times = {default_rows: [], None: []}
        for i in wrong:
            for m in times:  # interleaved: both settings see the same machine noise
                t0 = time.perf_counter()  # a refresh after a refit: same model, new sample
                rank_with_fisher_sample(fitted, m, X[n - 500 + i], y_noisy[n - 500 + i],
                                        np.random.default_rng(0))
                times[m].append(time.perf_counter() - t0)
        a, b = (1e3 * np.median(times[m]) for m in (default_rows, None))
        rows.append([f"{size:,}", f"{a:.1f}", f"{b:.1f}", f"{b / a:.1f}x"])
    print_table(
        "One counter-example selection after a model update (Fisher refresh + scoring every "
        "candidate), median ms over 15 suspicious rows",
        ["training rows", f"fisher_rows={default_rows:,}", "fisher_rows=None (every row)",
         "ratio"], rows)


if __name__ == "__main__":
    main()
