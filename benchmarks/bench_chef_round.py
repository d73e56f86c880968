"""CHEF round cost against fitting scikit-learn's LogisticRegression from scratch.

CHEF's promise is that a cleaning round (rank the uncleaned rows by INFL, take
``batch_size`` of them, update the model) costs less than retraining.  On
synthetic binary data with probabilistic labels (the paper's setting: weak
labels, uncleaned rows weighted by γ = 0.8) this times, in one run:

* ``LogisticRegression().fit`` from scratch on the hard labels (the yardstick),
  and on the probabilistic labels the way scikit-learn can take them (every row
  copied once per class, weighted by its probability: the naive way);
* median seconds per ChefCleaner round (selection + update, rounds 2.., the
  first round pays for the one-off work and is reported apart) for the
  solver/update combinations, all with Newton warm starts but the last:
  ``solver="auto"`` (warm-started CG, preconditioned by a Hessian factorised
  once a solve needs more than 25 iterations), the same in float32,
  ``"pcg"`` (factorised at the first round), plain CG, the explicit Hessian
  rebuilt every round, and retraining every round.

INFL (two) is used (the suggested label is applied, no oracle time).

Usage: python benchmarks/bench_chef_round.py [--sizes 19000x512 78000x2048]
       [--rounds 6] [--repeats 3] [--selection incremental] [--device cpu|cuda|auto]
"""

import argparse
import statistics
import sys

import numpy as np
import torch
from _util import add_device_argument, machine, median_time, parse_args, print_table, timed_fit
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner
from skclean.datasets import flip_labels
from skclean.models._sklearn import _expand_soft

CONFIGS = [
    ("auto: CG, factorised if slow", dict(solver="auto", update="warm_start")),
    ("auto, dtype='float32'", dict(solver="auto", update="warm_start", dtype="float32")),
    ("PCG: factorised at once", dict(solver="pcg", update="warm_start")),
    ("CG, never factorised", dict(solver="cg", update="warm_start")),
    ("explicit Hessian every round", dict(solver="exact", update="warm_start")),
    ("auto + retrain every round", dict(solver="auto", update="retrain")),
]


def make_data(n, d, seed=0):
    X, y = make_classification(n_samples=n + 2000, n_features=d, n_informative=min(d, 64),
                               n_redundant=0, class_sep=0.8, random_state=seed)
    X = X.astype(np.float64)
    X_val, y_val, X, y = X[:500], y[:500], X[2000:], y[2000:]
    y_noisy, _ = flip_labels(y, 0.2, random_state=seed)
    rng = np.random.RandomState(seed)
    Y = 0.7 * np.eye(2)[y_noisy] + 0.3 * rng.dirichlet([1.0, 1.0], len(y))
    return X, Y, y_noisy, X_val, y_val


def chef_rounds(X, Y, X_val, y_val, params, rounds, selection, device):
    chef = ChefCleaner(LogisticRegression(C=1.0, max_iter=1000), label_source="suggested",
                       budget=10 * rounds, batch_size=10, selection=selection, device=device,
                       random_state=0, **params)
    total, per_round = timed_fit(chef, X, Y, X_trusted=X_val, y_trusted=y_val)
    return chef, per_round, total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["19000x512", "78000x2048"])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--repeats", type=int, default=3, help="repeats of each from-scratch fit")
    p.add_argument("--selection", default="incremental", choices=["full", "incremental"])
    add_device_argument(p)
    args = parse_args(p, argv)
    given = sys.argv[1:] if argv is None else argv
    print(f"# python benchmarks/bench_chef_round.py {' '.join(given)}".rstrip())
    print(f"# machine: {machine(args.device)}, torch {torch.__version__}; b = 10, γ = 0.8, "
          f"INFL (two), selection={args.selection}")
    for size in args.sizes:
        n, d = map(int, size.split("x"))
        X, Y, y_hard, X_val, y_val = make_data(n, d)
        expanded = _expand_soft(X, Y, np.full(len(X), 0.8), np.arange(2))
        t_fit = median_time(lambda X=X, y=y_hard: LogisticRegression(max_iter=1000).fit(X, y),
                            repeats=args.repeats, warmup=0)
        t_soft = median_time(lambda e=expanded: LogisticRegression(max_iter=1000).fit(*e),
                             repeats=args.repeats, warmup=0)
        del expanded
        rows = []
        picked = {}
        for label, params in CONFIGS:
            chef, per_round, total = chef_rounds(X, Y, X_val, y_val, params, args.rounds,
                                                 args.selection, args.device)
            later = statistics.median(per_round[1:])
            picked[label] = np.concatenate([h["rows"] for h in chef.history_])
            rows.append([label, f"{per_round[0]:.3f}", f"{later:.3f}",
                         f"{later / t_fit:.2f}x", f"{total:.1f}"])
        ref = picked["explicit Hessian every round"]  # the exact solve
        differ = {k: len(np.setdiff1d(v, ref)) for k, v in picked.items()}
        print_table(f"{n} rows x {d} features: LogisticRegression().fit {t_fit:.2f} s (hard "
                    f"labels), {t_soft:.2f} s (soft labels, rows copied per class); median of "
                    f"{args.repeats}", ["CHEF round", "round 1 (s)", "later rounds (s, median)",
                                        "round / LR fit", "whole fit (s)"], rows)
        print(f"rows cleaned that the exact solve did not clean (of {len(ref)}): "
              + ", ".join(f"{k}: {v}" for k, v in differ.items()))


if __name__ == "__main__":
    main()
