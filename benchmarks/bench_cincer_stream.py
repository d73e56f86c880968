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
       [--n-stream 10000] [--block 1000] [--device cpu|cuda|auto]
"""

import argparse
import sys
import time

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table, rank_with_fisher_sample
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skclean import CincerCleaner, SimulatedOracle
from skclean.datasets import flip_labels


def stream_table(X, y, y_noisy, b, n_stream, device):
    """Stream ``n_stream`` rows after ``b`` bootstrap rows; the per-block table."""
    c = CincerCleaner(LogisticRegression(max_iter=500), oracle=SimulatedOracle(X, y),
                      device=device, random_state=0)
    t0 = time.perf_counter()
    c.fit(X[:b], y_noisy[:b])
    t_boot = time.perf_counter() - t0
    t0 = time.perf_counter()
    c.partial_fit(X[b:b + n_stream], y_noisy[b:b + n_stream])
    t_stream = time.perf_counter() - t0

    times = c.iteration_times_
    queried = {h["position"] for h in c.history_}
    block_size = max(1, n_stream // 10)
    rows = []
    for s in range(0, len(times), block_size):
        block = range(s, min(s + block_size, len(times)))
        sel = [times[i]["selection_and_query"] for i in block if i in queried]
        sel_only = [h["time_selection"] for h in c.history_ if h["position"] in block]
        ms = lambda v: f"{1e3 * np.median(v):.2f}" if len(v) else "-"  # noqa: E731
        whole = [sum(times[i].values()) for i in block]
        rows.append([f"{s + 1:,}-{block[-1] + 1:,}", f"{b + s:,}", len(sel),
                     ms([times[i]["suspicion"] for i in block]), ms(sel_only), ms(sel),
                     ms([times[i]["refit"] for i in block]), ms(whole),
                     f"{1e3 * np.mean(whole):.2f}"])
    print(f"\n{b:,} bootstrap + {n_stream:,} stream rows: bootstrap fit {t_boot:.2f} s; "
          f"stream {t_stream:.1f} s = {1e3 * t_stream / n_stream:.2f} ms per row on average; "
          f"{c.n_queries_:,} queries, {c.n_changed_:,} labels changed, {c.n_refits_:,} refits "
          f"(Newton over every row, when the rows moved the model past its tol)")
    print_table(
        "Milliseconds per stream row, by block of the stream (medians, and the mean of the "
        "whole step)",
        ["stream rows", "training rows at start", "queries", "margin test",
         "counter-example selection", "selection + oracle + append", "refit",
         "whole step", "whole step, mean"],
        rows,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-bootstrap", type=int, default=2000)
    p.add_argument("--n-stream", type=int, nargs="*", default=[10_000, 100_000],
                   help="stream lengths, one table each (none: only the controlled table)")
    p.add_argument("--controlled", action=argparse.BooleanOptionalAction, default=True,
                   help="the controlled table (one selection by training-set size)")
    add_device_argument(p)
    args = parse_args(p, argv)
    b = args.n_bootstrap
    n = b + max([*args.n_stream, 10_000])
    X, y = make_classification(n_samples=n, n_features=30, n_informative=15, n_redundant=5,
                               n_classes=10, n_clusters_per_class=1, class_sep=1.5,
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    given = sys.argv[1:] if argv is None else argv
    print(f"# python benchmarks/bench_cincer_stream.py {' '.join(given)}".rstrip())
    print(f"# 30 features, 10 classes, 20% uniform noise, LogisticRegression(max_iter=500), "
          f"Top Fisher from fisher_rows=2000; {machine(args.device)}")
    for n_stream in args.n_stream:
        stream_table(X, y, y_noisy, b, n_stream, args.device)
    if not args.controlled:
        return

    # controlled: one selection after a model update, by training-set size
    sizes = [s for s in (2000, 4000, 8000, 12000) if s <= n]
    rows, default_rows = [], CincerCleaner().fisher_rows
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
