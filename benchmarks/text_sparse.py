"""Wrong labels in real text, TF-IDF word 1-2-grams kept sparse: skclean against cleanlab.

The texts are the docstrings of installed libraries, labelled by module
(:func:`skclean.datasets.load_docstrings`: about 2,300 texts, 16 overlapping
and imbalanced classes, 123,000 TF-IDF columns).  A share of the labels is
flipped uniformly at random; 10 rows per class keep their true label and
serve as the trusted rows of the methods that take them.  Every method uses
the same ``LogisticRegression(C=10, max_iter=1000)`` and ranks the
untrusted rows, lowest first = most likely wrong:

* ``class-based``: :class:`ClassBasedIFDetector`, defaults;
* ``class-based 2-fold``: the same, cross-fitted (:func:`skclean.cross_fit_scores`,
  ``cv=2``): each row scored by a model fitted to the other half;
* ``model-based``: :class:`ModelBasedDetector`, defaults (no oracle);
* ``chef-infl``: CHEF's INFL at the suggested label (``ChefCleaner.score_samples``
  after a fit with ``budget=1``);
* ``in-sample loss``: ``log p(y|x)`` of that model;
* ``cleanlab``: 5-fold ``cross_val_predict`` then ``cleanlab.rank.get_label_quality_scores``
  (self-confidence; the same order ``find_label_issues`` ranks by); ``cleanlab 2-fold``:
  the same with two folds, at the cost of the cross-fitted detector.

Reported per method (mean over seeds): precision among the lowest-scored
5/10/20% of the untrusted rows, ROC AUC of the score for "is wrong", the
wall time of fit + score, and peak memory: the resident set size of a fresh
process that loads the matrix and runs the one method, above the same
process before the matrix was built, as a multiple of the sparse matrix plus
the model's coefficients.

Run: ``python benchmarks/text_sparse.py [--seeds 5] [--noise 0.1 0.3]
[--device cpu|cuda|auto]`` (about 4 minutes per seed and noise level on 2 cores;
``--resume`` reuses finished runs).  The skclean methods run on ``--device``; the
in-sample loss and cleanlab are scikit-learn fits and stay on the CPU.
CINCER is left out: it judges rows as they stream in, not a fitted pool (its
margin on a model fitted to every row ties nearly all rows at zero).
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table

METHODS = ("class-based", "class-based 2-fold", "model-based", "chef-infl", "in-sample loss",
           "cleanlab 2-fold", "cleanlab")
C = 10.0


def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def one(method, noise, seed, device="cpu"):
    """Run one method in this (fresh) process; return its measurements as a dict."""
    import warnings

    warnings.filterwarnings("ignore")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    from skclean import (
        ChefCleaner,
        ClassBasedIFDetector,
        ModelBasedDetector,
        cross_fit_scores,
    )
    from skclean.datasets import flip_labels, load_docstrings

    texts, labels = load_docstrings()
    base = _rss_mib()
    X = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    classes, y_true = np.unique(labels, return_inverse=True)
    y, _ = flip_labels(y_true, noise, random_state=seed)
    rng = np.random.default_rng(seed)
    trusted = np.zeros(len(y), dtype=bool)
    for c in range(len(classes)):
        trusted[rng.choice(np.flatnonzero(y_true == c), 10, replace=False)] = True
    y[trusted] = y_true[trusted]
    model = LogisticRegression(C=C, max_iter=1000)
    matrix = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    coef = len(classes) * (X.shape[1] + 1) * 8
    loaded = _rss_mib()

    t0 = time.perf_counter()
    if method == "class-based":
        s = ClassBasedIFDetector(model, device=device).fit(
            X, y, trusted_mask=trusted).score_samples(X, y)
    elif method == "class-based 2-fold":
        s = cross_fit_scores(ClassBasedIFDetector(model, device=device), X, y,
                             trusted_mask=trusted, cv=2, random_state=seed)
    elif method == "model-based":
        s = ModelBasedDetector(model, device=device, random_state=seed).fit(
            X, y, trusted_mask=trusted).score_samples(X, y)
    elif method == "chef-infl":
        s = ChefCleaner(model, budget=1, label_source="suggested", device=device,
                        random_state=seed).fit(X, y, trusted_mask=trusted).score_samples(X, y)
    # the baselines are scikit-learn (and cleanlab) alone: on the CPU whatever the device
    elif method == "in-sample loss":
        P = model.fit(X, y).predict_proba(X)
        s = np.log(P[np.arange(len(y)), y])
    elif method.startswith("cleanlab"):
        from cleanlab.rank import get_label_quality_scores

        P = cross_val_predict(model, X, y, cv=2 if "2" in method else 5,
                              method="predict_proba")
        s = get_label_quality_scores(y, P, method="self_confidence")
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - t0
    keep = ~trusted
    s, wrong = np.asarray(s, dtype=float)[keep], (y != y_true)[keep]
    order = np.argsort(s, kind="stable")
    out = {"method": method, "noise": noise, "seed": seed, "seconds": seconds,
           "auc": roc_auc_score(wrong, -s), "shape": list(X.shape),
           "memory_x": (_rss_mib() - base) * 2**20 / (matrix + coef),
           "loaded_x": (loaded - base) * 2**20 / (matrix + coef)}
    for pct in (5, 10, 20):
        k = max(1, round(pct / 100 * len(s)))
        out[f"p@{pct}"] = float(wrong[order[:k]].mean())
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--resume", metavar="FILE",
                        help="JSON lines of runs already done (this script's stderr, one "
                             "'# {...}' per run): those are not run again")
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "NOISE", "SEED"),
                        help=argparse.SUPPRESS)
    add_device_argument(parser)
    args = parse_args(parser, argv)
    if args.one:
        print(json.dumps(one(args.one[0], float(args.one[1]), int(args.one[2]), args.device)))
        return

    done = []
    if args.resume:
        import ast

        with open(args.resume) as f:
            done = [ast.literal_eval(line.removeprefix("# ").strip()) for line in f
                    if line.strip()]
    results = []
    for noise in args.noise:
        for seed in range(args.seeds):
            for method in args.methods:
                old = [r for r in done if (r["method"], r["noise"], r["seed"]) ==
                       (method, noise, seed)]
                if old:
                    results.append(old[0])
                    continue
                run = subprocess.run([sys.executable, __file__, "--one", method, str(noise),
                                      str(seed), "--device", args.device],
                                     capture_output=True, text=True, check=True)
                results.append(json.loads(run.stdout.strip().splitlines()[-1]))
                print(f"# {results[-1]}", file=sys.stderr)
    shape = results[0]["shape"]
    print(f"Docstrings of installed libraries by module, {shape[0]} texts x {shape[1]:,} "
          f"TF-IDF columns (sparse), 16 classes; LogisticRegression(C={C:g}); 10 trusted "
          f"rows per class; means over {args.seeds} seeds; machine: {machine(args.device)}.")
    print("Memory: peak resident memory of the method's own process above the same process "
          "before the matrix was built, in units of (sparse matrix + coefficients).")
    for noise in args.noise:
        rows = []
        for method in args.methods:
            rs = [r for r in results if r["method"] == method and r["noise"] == noise]
            rows.append([method, *(f"{np.mean([r[k] for r in rs]):.3f}"
                                   for k in ("p@5", "p@10", "p@20", "auc")),
                         f"{np.median([r['seconds'] for r in rs]):.1f}",
                         f"{np.max([r['memory_x'] for r in rs]):.1f}x"])
        print_table(f"{noise:.0%} of the labels flipped uniformly",
                    ["method", "precision @5%", "@10%", "@20%", "ROC AUC",
                     "fit+score s (median)", "peak memory (max)"], rows)


if __name__ == "__main__":
    main()
