"""Detector scoring cost per 10,000 rows, float32 against float64, and the memory floor.

``ClassBasedIFDetector.score_samples`` reads each row once: the features
(through the model, for a network), the residual ``p − e_y``, one GEMM
against the per-class mean reference gradients.  This times it on
``--n`` rows for every similarity, in float64 and float32, against

* the memory floor: one read of the features as the scorer receives them
  (a sum over the float32 / float64 array), measured in the same run;
* scikit-learn's ``LogisticRegression.predict_proba`` on the same rows (the
  least any model-based score costs);
* ``ModelBasedDetector.score_samples``.

and checks that float32 ranks the rows as float64 does (Spearman).
Logistic regression, 10 overlapping classes, 50 features; median of repeats.

Usage: python benchmarks/bench_detection_scoring.py [--n 500000] [--repeats 5]
       [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
import torch
from _util import add_device_argument, machine, median_time, parse_args, print_table
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skclean import ClassBasedIFDetector, ModelBasedDetector
from skclean.datasets import flip_labels

SIMILARITIES = ("pgc", "gd", "gc", "tracin", "if")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500_000)
    p.add_argument("--repeats", type=int, default=5)
    add_device_argument(p)
    args = parse_args(p, argv)
    n_fit = 20_000
    X, y = make_classification(n_samples=n_fit + args.n, n_features=50, n_informative=20,
                               n_redundant=10, n_classes=10, n_clusters_per_class=1,
                               class_sep=1.0, random_state=0)
    y, _ = flip_labels(y, 0.2, random_state=0)
    X_fit, y_fit, X_big, y_big = X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:]
    ref = np.zeros(n_fit, dtype=bool)
    ref[np.random.RandomState(0).choice(n_fit, 400, replace=False)] = True
    X32 = X_big.astype(np.float32)
    X_big_t = {np.float64: torch.as_tensor(X_big), np.float32: torch.as_tensor(X32)}
    per10k = lambda t: f"{1e3 * t * 10_000 / args.n:.2f}"  # noqa: E731
    reps, dev = args.repeats, args.device

    # the floors and scikit-learn stay on the CPU: the scorer receives the rows as host
    # arrays, and scikit-learn has no GPU path
    floors = {dt: median_time(lambda t=t: float(t.sum()), reps) for dt, t in X_big_t.items()}
    lr = LogisticRegression(max_iter=1000).fit(X_fit, y_fit)
    t_sklearn = median_time(lambda: lr.predict_proba(X_big), reps)
    rows = [["memory floor: one read of X, float64", "-", per10k(floors[np.float64]), "1.0x",
             "-"],
            ["memory floor: one read of X, float32", "-", per10k(floors[np.float32]), "1.0x",
             "-"],
            ["sklearn LogisticRegression.predict_proba", "float64", per10k(t_sklearn),
             f"{t_sklearn / floors[np.float64]:.1f}x", "-"]]
    for sim in SIMILARITIES:
        scores = {}
        for dtype, Xs in (("float64", X_big), ("float32", X32)):
            det = ClassBasedIFDetector(LogisticRegression(max_iter=1000), similarity=sim,
                                       dtype=dtype, device=dev, random_state=0)
            det.fit(X_fit, y_fit, trusted_mask=ref)
            scores[dtype] = det.score_samples(Xs, y_big)
            t = median_time(lambda d=det, Xs=Xs: d.score_samples(Xs, y_big), reps, device=dev)
            floor = floors[np.float32 if dtype == "float32" else np.float64]
            rows.append([f"ClassBasedIFDetector(similarity={sim!r})", dtype, per10k(t),
                         f"{t / floor:.1f}x", ""])
        rho = spearmanr(scores["float32"], scores["float64"]).statistic
        rows[-1][-1] = rows[-2][-1] = f"1 - {1 - rho:.1e}"
    mb = ModelBasedDetector(LogisticRegression(max_iter=1000), device=dev, random_state=0)
    mb.fit(X_fit, y_fit, trusted_mask=ref)
    t = median_time(lambda: mb.score_samples(X_big, y_big), reps, device=dev)
    rows.append(["ModelBasedDetector", "float64", per10k(t), f"{t / floors[np.float64]:.1f}x",
                 "-"])
    print(f"{args.n:,} rows scored, 50 features, 10 classes, LogisticRegression fit on "
          f"{n_fit:,} rows with 400 trusted references; {machine(dev)}; median of {reps}")
    print_table("Milliseconds per 10,000 rows scored",
                ["scorer", "dtype", "ms / 10k rows", "vs memory floor (same dtype)",
                 "Spearman float32 vs float64"], rows)


if __name__ == "__main__":
    main()
