"""CHEF's suggested labels on two classes: right exactly when the row was wrong.

With two classes every suggestion rule proposes the other class, so the
share of correct labels that ``label_source="suggested"`` (INFL two)
applies equals the share of truly wrong rows among those it selects: the
ranking's precision.  This measures both, for the ``"alternative"`` and the
paper's ``"infl"`` rule, on the breast-cancer data and on a harder
``make_classification`` problem (3,000 rows, 8 informative of 20 features,
``class_sep=0.6``, 200 trusted rows), 20% uniform noise, a budget of 10% of
the rows in batches of 10, LogisticRegression, mean ± std over seeds.

Usage: python benchmarks/chef_suggestion_binary.py [--seeds 3] [--device cpu|cuda|auto]
"""

import argparse
import sys

import numpy as np
from _util import add_device_argument, machine, parse_args
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner
from skclean.datasets import flip_labels, load_dataset


def data(name, seed):
    if name == "breast":
        X, X_t, y, y_t = load_dataset("breast", random_state=seed)
        return X, y, X_t, y_t
    X, y = make_classification(3000, 20, n_informative=8, class_sep=0.6, flip_y=0,
                               random_state=seed)
    return X[200:], y[200:], X[:200], y[:200]


def run(name, suggestion, seed, device):
    X, y, X_t, y_t = data(name, seed)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=seed)
    chef = ChefCleaner(LogisticRegression(max_iter=1000), label_source="suggested",
                       suggestion=suggestion, budget=int(0.1 * len(y)), batch_size=10,
                       device=device, random_state=seed)
    chef.fit(X, y_noisy, X_trusted=X_t, y_trusted=y_t)
    rows = np.concatenate([h["rows"] for h in chef.history_])
    applied = np.concatenate([h["labels"] for h in chef.history_])
    return (applied == y[rows]).mean(), flipped[rows].mean()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    add_device_argument(p)
    args = parse_args(p, argv)
    given = sys.argv[1:] if argv is None else argv
    print(f"# python benchmarks/chef_suggestion_binary.py {' '.join(given)}".rstrip())
    print(f"# machine: {machine(args.device)}; 20% uniform noise, budget 10% of the rows")
    print(f"{'data':<12} {'suggestion':<12} {'applied labels correct':>24} "
          f"{'selected rows wrong':>22}")
    for name in ("breast", "hard binary"):
        for suggestion in ("alternative", "infl"):
            out = np.array([run(name, suggestion, s, args.device) for s in range(args.seeds)])
            print(f"{name:<12} {suggestion:<12} "
                  f"{out[:, 0].mean():>17.3f} ± {out[:, 0].std():.3f} "
                  f"{out[:, 1].mean():>15.3f} ± {out[:, 1].std():.3f}")


if __name__ == "__main__":
    main()
