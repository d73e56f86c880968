"""Appending stream rows to CINCER's training set: copy per row vs doubling buffer.

CincerCleaner adds every processed stream row to ``X_``.  Copying the whole
array per row (``np.vstack``, the landed version) is quadratic in the stream
length; views of a buffer that doubles when full are amortised O(1).  This
times the append alone (no model), median of repeats, for streams of growing
length, with 50 features.

    python benchmarks/bench_stream_append.py > benchmarks/results/bench_stream_append.txt

Usage: python benchmarks/bench_stream_append.py [--device cpu|cuda|auto]
"""

import argparse
import time

import numpy as np
from _util import add_device_argument, machine, parse_args

from skclean.utils import append_row


def vstack_appends(X):
    out = X[:1]
    for x in X[1:]:
        out = np.vstack([out, x[None]])
    return out


def buffer_appends(X):
    view, buf = X[:1], None  # CincerCleaner keeps each per-row array this way
    for x in X[1:]:
        view, buf = append_row(view, buf, x)
    return view


def median_time(fn, X, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(X)
        times.append(time.perf_counter() - t0)
    assert np.array_equal(out, X)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    device = parse_args(parser, argv).device
    # CincerCleaner keeps its rows (X_, y_) in host numpy arrays whatever its device, so the
    # appends timed here run on the CPU; --device is checked and named, nothing moves
    rng = np.random.RandomState(0)
    note = "" if device == "cpu" else f" (--device {device}: appends are host numpy arrays)"
    print(f"# machine: {machine('cpu')}{note}")
    print("stream rows  vstack per row (s)  doubling buffer (s)  speed-up   (50 features, "
          "median of 3)")
    for n in (1_000, 5_000, 20_000):
        X = rng.randn(n, 50)
        a, b = median_time(vstack_appends, X, 3), median_time(buffer_appends, X, 3)
        print(f"{n:11,d}  {a:18.3f}  {b:19.3f}  {a / b:7.1f}x")


if __name__ == "__main__":
    main()
