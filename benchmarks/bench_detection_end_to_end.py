"""Detectors end to end (fit + score) against cleanlab's whole pipeline, on 10⁵ dense rows.

A user who wants wrong labels ranked either fits a detector and scores the
rows, or runs cleanlab's recipe: out-of-fold probabilities from a 5-fold
``cross_val_predict`` of the same model, then ``get_label_quality_scores``
(self-confidence, the order ``find_label_issues`` ranks by).  This times
both in one run, on ``make_classification`` rows (10 overlapping classes,
100 features of which 40 informative, 2 clusters per class), 20% of the
labels flipped uniformly, 20 trusted rows per class, every method with the
same ``LogisticRegression(max_iter=1000)``:

* ``class-based``: :class:`ClassBasedIFDetector`, defaults;
* ``class-based 2-fold``: the same cross-fitted (:func:`skclean.cross_fit_scores`, ``cv=2``);
* ``model-based``: :class:`ModelBasedDetector`, defaults;
* ``in-sample loss``: ``log p(y|x)`` of the model fitted to every row;
* ``cleanlab``, ``cleanlab 2-fold``: out-of-fold probabilities (5 or 2 folds)
  then ``cleanlab.rank.get_label_quality_scores``.

Reported: the median wall time of fit + score over ``--repeats`` runs (the
methods interleaved, so each sees the same machine), its ratio to cleanlab's
5-fold pipeline, and precision among the lowest-scored 10% / 20% of the
untrusted rows and ROC AUC (deterministic given the seed).  The sparse text
case is ``text_sparse.py``.

Usage: python benchmarks/bench_detection_end_to_end.py [--rows 100000]
       [--features 100] [--repeats 3] [--device cpu|cuda|auto]
"""

import argparse
import sys
import time
import warnings

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from skclean import ClassBasedIFDetector, ModelBasedDetector, cross_fit_scores
from skclean.datasets import flip_labels

METHODS = ("class-based", "class-based 2-fold", "model-based", "in-sample loss",
           "cleanlab 2-fold", "cleanlab")


def make_data(n, d, seed=0, classes=10, per_class=20, noise=0.2):
    X, y_true = make_classification(n, d, n_informative=40, n_redundant=10,
                                    n_classes=classes, n_clusters_per_class=2, class_sep=1.0,
                                    random_state=seed)
    y, _ = flip_labels(y_true, noise, random_state=seed)
    rng = np.random.default_rng(seed)
    trusted = np.zeros(n, dtype=bool)
    for c in range(classes):
        trusted[rng.choice(np.flatnonzero(y_true == c), per_class, replace=False)] = True
    y[trusted] = y_true[trusted]
    return X, y, y_true, trusted


def score(method, X, y, trusted, device, seed=0):
    model = LogisticRegression(max_iter=1000)
    if method == "class-based":
        return ClassBasedIFDetector(model, device=device).fit(
            X, y, trusted_mask=trusted).score_samples(X, y)
    if method == "class-based 2-fold":
        return cross_fit_scores(ClassBasedIFDetector(model, device=device), X, y,
                                trusted_mask=trusted, cv=2, random_state=seed)
    if method == "model-based":
        return ModelBasedDetector(model, device=device, random_state=seed).fit(
            X, y, trusted_mask=trusted).score_samples(X, y)
    # the baselines are scikit-learn (and cleanlab) alone: on the CPU whatever the device
    if method == "in-sample loss":
        P = model.fit(X, y).predict_proba(X)
        return np.log(P[np.arange(len(y)), y])
    if method.startswith("cleanlab"):
        from cleanlab.rank import get_label_quality_scores

        P = cross_val_predict(model, X, y, cv=2 if "2" in method else 5, method="predict_proba")
        return get_label_quality_scores(y, P, method="self_confidence")
    raise ValueError(method)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--features", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    add_device_argument(p)
    args = parse_args(p, argv)
    warnings.filterwarnings("ignore")
    X, y, y_true, trusted = make_data(args.rows, args.features)
    given = sys.argv[1:] if argv is None else argv
    print(f"# python benchmarks/bench_detection_end_to_end.py {' '.join(given)}".rstrip())
    print(f"# {args.rows:,} x {args.features} dense rows, 10 classes, 20% uniform noise, "
          f"{int(trusted.sum())} trusted rows; LogisticRegression(max_iter=1000); "
          f"machine: {machine(args.device)}; median of {args.repeats} interleaved runs")
    seconds = {m: [] for m in args.methods}
    scores = {}
    for _ in range(args.repeats):
        for m in args.methods:
            t0 = time.perf_counter()
            scores[m] = np.asarray(score(m, X, y, trusted, args.device), dtype=float)
            seconds[m].append(time.perf_counter() - t0)
            print(f"  {m}: {seconds[m][-1]:.1f} s", file=sys.stderr)
    keep = ~trusted
    wrong = (y != y_true)[keep]
    base = np.median(seconds["cleanlab"]) if "cleanlab" in seconds else np.nan
    rows = []
    for m in args.methods:
        s = scores[m][keep]
        order = np.argsort(s, kind="stable")
        prec = [wrong[order[: round(f * len(s))]].mean() for f in (0.1, 0.2)]
        t = np.median(seconds[m])
        rows.append([m, f"{t:.1f}", f"{t / base:.2f}x", f"{prec[0]:.3f}", f"{prec[1]:.3f}",
                     f"{roc_auc_score(wrong, -s):.3f}"])
    print_table("Fit + score, end to end", ["method", "seconds (median)", "/ cleanlab 5-fold",
                                            "precision @10%", "@20%", "ROC AUC"], rows)


if __name__ == "__main__":
    main()
