"""CINCER's Top Fisher on rows too wide for an explicit matrix: which stand-in to use.

With ``K`` classes and ``d`` TF-IDF columns the Top Fisher is a
``K(d+1) × K(d+1)`` matrix: 123,000 columns and 16 classes make it 2·10⁶
square, which no machine holds.  Past ``SKCLEAN_MAX_DENSE_BYTES``
:func:`skclean.influence.fisher_inverse` uses the Fisher's diagonal instead.
This script measures that choice where the exact matrix still fits: the
docstring corpus (:func:`skclean.datasets.load_docstrings`) restricted to its
eight scikit-learn modules and the ``--features`` most frequent words, 20%
of the labels flipped, a logistic regression fitted on every row.  For each
suspicious row (wrong prediction, the CINCER margin test) it ranks the
pertinent candidates with the exact pseudo-inverse Fisher, its diagonal, and
the identity (Practical Fisher), and reports how often each stand-in picks
the exact method's counter-example, and the overlap of their top 5.

Run: ``python benchmarks/cincer_wide_fisher.py [--features 500] [--rows 150]
[--device cpu|cuda|auto]``.
"""

import argparse
import warnings

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=500)
    parser.add_argument("--rows", type=int, default=150, help="suspicious rows ranked")
    add_device_argument(parser)
    args = parse_args(parser, argv)
    warnings.filterwarnings("ignore")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from skclean._linalg import DiagonalInverse
    from skclean.datasets import LIBRARY_MODULES, flip_labels, load_docstrings
    from skclean.influence import (
        counterexample_scores,
        fisher_inverse,
        top_fisher_diagonal_from_outputs,
    )
    from skclean.models import make_adapter

    texts, labels = load_docstrings([m for m in LIBRARY_MODULES if m.startswith("sklearn")])
    X = TfidfVectorizer(max_features=args.features, sublinear_tf=True).fit_transform(texts)
    classes, y_true = np.unique(labels, return_inverse=True)
    y, _ = flip_labels(y_true, 0.2, random_state=0)
    # the model is fitted by scikit-learn on the CPU; its outputs, the Fisher and the
    # scores are tensors on --device
    a = make_adapter(LogisticRegression(C=10.0, max_iter=2000), device=args.device).fit(X, y)
    U1, Z = a.augmented_outputs(X)
    exact = fisher_inverse(a, outputs=(U1, Z))
    diagonal = DiagonalInverse(top_fisher_diagonal_from_outputs(U1, Z, a.head))
    pred = a.predict(X)
    suspicious = np.flatnonzero(pred != y)[: args.rows]
    same = {"diagonal": [], "identity (Practical Fisher)": []}
    overlap = {k: [] for k in same}
    for i in suspicious:
        cand = np.flatnonzero(y == pred[i])
        cand = cand[cand != i]
        ranks = {}
        for name, inverse in (("exact", exact), ("diagonal", diagonal),
                              ("identity (Practical Fisher)", None)):
            s = counterexample_scores(a, X[i], y[i], X[cand], y[cand], inverse=inverse)
            ranks[name] = cand[np.argsort(-s, kind="stable")]
        for name in same:
            same[name].append(ranks[name][0] == ranks["exact"][0])
            overlap[name].append(len(set(ranks[name][:5]) & set(ranks["exact"][:5])) / 5)
    print(f"Docstrings of scikit-learn's 8 modules, {X.shape[0]} texts x {X.shape[1]} TF-IDF "
          f"words, {len(classes)} classes, 20% flipped; LogisticRegression(C=10) on every row; "
          f"{len(suspicious)} suspicious rows; exact Fisher rank {exact.rank_} of "
          f"{len(classes) * (X.shape[1] + 1)}; machine: {machine(args.device)}.")
    print_table("Counter-examples chosen by a stand-in for the exact Top Fisher",
                ["stand-in", "same counter-example", "top-5 overlap"],
                [[name, f"{np.mean(same[name]):.2f}", f"{np.mean(overlap[name]):.2f}"]
                 for name in same])


if __name__ == "__main__":
    main()
