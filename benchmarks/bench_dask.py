"""Scoring 10^7 rows out of core with dask: ClassBasedIFDetector(LogisticRegression()).

The detector is fitted on a small in-memory sample (20,000 rows, 20
features, 5 classes, 10% of labels flipped; 50 clean reference rows per
class).  The rows to score are a dask array generated chunk by chunk from a
seed (Gaussian classes around fixed centres, like make_classification), so
no more than a few chunks are ever in memory; the scores are reduced (mean,
minimum, rows flagged) rather than gathered.  For comparison the in-memory
path scores 10^6 rows held in a numpy array.  Each measurement runs in its
own process, so that its peak resident memory is its own: the peak of the
process tree's RSS, sampled every 20 ms (workers included), and the
process's ``ru_maxrss``.

    python benchmarks/bench_dask.py > benchmarks/results/bench_dask.txt
    python benchmarks/bench_dask.py --n-rows 1e6 --chunk-rows 100000 --scheduler distributed
    python benchmarks/bench_dask.py --device cpu|cuda|auto
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time

import numpy as np
from _util import add_device_argument, machine, parse_args

N_FEATURES, N_CLASSES, NOISE, SEED = 20, 5, 0.1, 0


def _centres():
    return 2.0 * np.random.default_rng(SEED).standard_normal((N_CLASSES, N_FEATURES))


def make_rows(n, start, seed=SEED):
    """Rows ``start..start+n`` of the endless data set: ``(X, y_noisy, y_true)``."""
    rng = np.random.default_rng([seed, start])
    y = rng.integers(0, N_CLASSES, n)
    X = _centres()[y] + 1.5 * rng.standard_normal((n, N_FEATURES))
    flip = rng.random(n) < NOISE
    y_noisy = np.where(flip, (y + rng.integers(1, N_CLASSES, n)) % N_CLASSES, y)
    return X, y_noisy, y


def dask_rows(n_rows, chunk_rows):
    """``X, y`` as dask arrays, each chunk generated from the seed when it is needed."""
    import dask.array as da

    ids = da.arange(n_rows, chunks=chunk_rows)
    X = ids.map_blocks(lambda i: make_rows(len(i), int(i[0]) if len(i) else 0)[0],
                       new_axis=1, chunks=(ids.chunks[0], (N_FEATURES,)),
                       meta=np.empty((0, 0)))
    y = ids.map_blocks(lambda i: make_rows(len(i), int(i[0]) if len(i) else 0)[1],
                       meta=np.empty((0,), dtype=np.int64))
    return X, y


def fitted_detector(device):
    from sklearn.linear_model import LogisticRegression

    from skclean import ClassBasedIFDetector

    X, y, _ = make_rows(20_000, 0, seed=SEED + 1)  # not rows of the scored data
    X_ref, _, y_ref = make_rows(5_000, 0, seed=SEED + 2)
    keep = np.concatenate([np.flatnonzero(y_ref == c)[:50] for c in range(N_CLASSES)])
    det = ClassBasedIFDetector(LogisticRegression(max_iter=1000), device=device)
    return det.fit(X, y, X_trusted=X_ref[keep], y_trusted=y_ref[keep])


class PeakRSS:
    """Peak resident memory of this process and its children, sampled in a thread."""

    def __init__(self, every=0.02):
        import psutil

        self.proc, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self):
        total = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            time.sleep(self.every)

    def __enter__(self):
        self.peak = self._tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())


def _maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def run_dask(args):
    import dask
    import dask.array as da

    det = fitted_detector(args.device)
    before = PeakRSS()._tree_rss()
    X, y = dask_rows(args.n_rows, args.chunk_rows)
    client = cluster = None
    if args.scheduler == "distributed":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        client = Client(cluster)
        client.run(lambda: __import__("skclean"))  # workers import torch before the clock
    config = {} if client else {"scheduler": args.scheduler, "num_workers": args.workers}
    with dask.config.set(**config), PeakRSS() as peak:
        t0 = time.perf_counter()
        scores = det.score_samples(X, y)
        t_graph = time.perf_counter() - t0
        mean, low, flagged = da.compute(scores.mean(), scores.min(),
                                        (scores < det.offset_).sum())
        wall = time.perf_counter() - t0
    if client:
        client.close()
        cluster.close()
    return {"wall": wall, "graph": t_graph, "peak": peak.peak, "maxrss": _maxrss(),
            "before": before, "mean": float(mean), "min": float(low), "flagged": int(flagged),
            "chunks": len(X.chunks[0])}


def run_memory(args):
    det = fitted_detector(args.device)
    before = PeakRSS()._tree_rss()
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        # the same rows as the dask array of that many rows, held in numpy arrays
        parts = [make_rows(min(args.chunk_rows, args.n_rows - s), s)
                 for s in range(0, args.n_rows, args.chunk_rows)]
        X = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        del parts
        t_data = time.perf_counter() - t0
        scores = det.score_samples(X, y)
        wall = time.perf_counter() - t0
        flagged = int((scores < det.offset_).sum())
    return {"wall": wall - t_data, "data": t_data, "peak": peak.peak, "maxrss": _maxrss(),
            "before": before, "mean": float(scores.mean()), "flagged": flagged,
            "data_bytes": X.nbytes + y.nbytes}


def _child(phase, n_rows, args):
    cmd = [sys.executable, __file__, "--phase", phase, "--n-rows", str(n_rows),
           "--chunk-rows", str(args.chunk_rows), "--scheduler", args.scheduler,
           "--workers", str(args.workers), "--device", args.device]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _mib(b):
    return f"{b / 2**20:,.0f} MiB"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-rows", type=float, default=1e7)
    p.add_argument("--chunk-rows", type=float, default=250_000)
    p.add_argument("--scheduler", choices=["threads", "processes", "distributed"],
                   default="threads")
    p.add_argument("--workers", type=int, default=2, help="dask threads/processes/workers")
    add_device_argument(p)
    p.add_argument("--memory-rows", type=float, default=1e6,
                   help="rows scored in memory for comparison (0: skip)")
    p.add_argument("--phase", choices=["dask", "memory"], help=argparse.SUPPRESS)
    args = parse_args(p, argv)  # a child gets the resolved device: cpu or cuda
    args.n_rows, args.chunk_rows = int(args.n_rows), int(args.chunk_rows)
    args.memory_rows = int(args.memory_rows)
    if args.phase:
        run = run_dask if args.phase == "dask" else run_memory
        print(json.dumps(run(args)))
        return

    import dask
    import torch

    import skclean

    print("python benchmarks/bench_dask.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(f"machine: {os.cpu_count()}-core {platform.machine()} CPU "
          f"({platform.processor() or 'unknown'}), shared with other jobs; load average "
          f"at start {os.getloadavg()[0]:.1f}; {torch.get_num_threads()} torch threads; "
          + (machine(args.device) if args.device == "cuda" else "device cpu"))
    print(f"skclean {skclean.__version__}, dask {dask.__version__}, torch "
          f"{torch.__version__}, numpy {np.__version__}")
    from skclean import ClassBasedIFDetector

    params = {k: v for k, v in ClassBasedIFDetector().get_params().items()
              if k not in ("estimator", "random_state", "device", "n_jobs", "dtype")}
    print(f"ClassBasedIFDetector(LogisticRegression(), device={args.device!r}) in float64, "
          f"other parameters at their defaults: {params}")
    print(f"fitted on 20,000 rows x {N_FEATURES} features, {N_CLASSES} classes, {NOISE:.0%} "
          "of labels flipped; 250 clean reference rows")
    row_bytes = N_FEATURES * 8 + 8
    print()
    r = _child("dask", args.n_rows, args)
    print(f"dask, {args.scheduler} scheduler, {args.workers} workers: {args.n_rows:,} rows in "
          f"{r['chunks']} chunks of {args.chunk_rows:,} rows "
          f"({_mib(args.chunk_rows * row_bytes)} of X and y per chunk)")
    print(f"  graph built in         {r['graph']:.3f} s (nothing computed)")
    print(f"  wall time              {r['wall']:.1f} s (rows generated, scored, reduced)")
    print(f"  throughput             {args.n_rows / r['wall']:,.0f} rows/s")
    print(f"  resident memory        {_mib(r['before'])} after fit -> peak {_mib(r['peak'])} "
          f"(all processes; ru_maxrss {_mib(r['maxrss'])})")
    print(f"  in memory it would be  {_mib(args.n_rows * row_bytes)} for X and y alone "
          f"(+ {_mib(args.n_rows * 8)} of scores)")
    print(f"  mean score {r['mean']:.4f}, min {r['min']:.4f}, flagged {r['flagged']:,} "
          f"({r['flagged'] / args.n_rows:.1%})")
    if args.memory_rows:
        m = _child("memory", args.memory_rows, args)
        print()
        print(f"in memory (numpy), for comparison: {args.memory_rows:,} rows")
        print(f"  scoring time           {m['wall']:.2f} s (+ {m['data']:.2f} s to generate "
              f"the rows)")
        print(f"  throughput             {args.memory_rows / m['wall']:,.0f} rows/s")
        print(f"  resident memory        {_mib(m['before'])} after fit -> peak "
              f"{_mib(m['peak'])} (X and y: {_mib(m['data_bytes'])})")
        print(f"  mean score {m['mean']:.4f}, flagged {m['flagged']:,} "
              f"({m['flagged'] / args.memory_rows:.1%})")


if __name__ == "__main__":
    main()
