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
row, which Algorithm 1 asks for) grows with the training set.  At the end,
one Top Fisher refresh from the sample and from every row is timed on the
final training set.

Usage: python benchmarks/bench_cincer_stream.py [--n-bootstrap 2000]
       [--n-stream 10000] [--block 1000]
"""

import argparse
import time

import numpy as np
from _util import machine, median_time, print_table
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
    args = p.parse_args(argv)
    n = args.n_bootstrap + args.n_stream
    X, y = make_classification(n_samples=n, n_features=30, n_informative=15, n_redundant=5,
                               n_classes=10, n_clusters_per_class=1, class_sep=1.5,
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    b = args.n_bootstrap
    c = CincerCleaner(LogisticRegression(max_iter=500), oracle=SimulatedOracle(X, y),
                      random_state=0)
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
          f"{c.n_queries_:,} queries, {c.n_cleaned_:,} labels cleaned")
    print_table(
        "Median milliseconds per stream row, by block of the stream",
        ["stream rows", "training rows at start", "queries", "margin test",
         "counter-example selection", "selection + oracle + append", "refit"],
        rows,
    )

    def refresh(rows_):
        def go():
            c.set_params(fisher_rows=rows_)
            c._init_fisher_sample()  # a reservoir over the final training set
            c._cache = {k: v for k, v in c._cache.items() if k == "outputs"}
            c._inverse("top")
        return median_time(go, 5)

    c._train_outputs()
    default_rows = c.fisher_rows
    print_table(
        f"One Top Fisher refresh (build + pseudo-inverse) on the final {len(c.X_):,} rows, "
        "median of 5",
        ["Fisher from", "ms"],
        [[f"fisher_rows={default_rows:,} sampled rows", f"{1e3 * refresh(default_rows):.1f}"],
         ["every row (fisher_rows=None)", f"{1e3 * refresh(None):.1f}"]],
    )


if __name__ == "__main__":
    main()
