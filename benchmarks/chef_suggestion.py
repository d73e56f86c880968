"""Which label should CHEF suggest, and rank by?  (issue #10.3)

INFL(i, c) predicts the change of the validation loss if row i were relabelled
to class c (and its weight raised from γ to 1).  Three ways to pick the c at
which a row is ranked and that is suggested to the annotator:

* ``infl``        the paper's argmin over classes of INFL(i, c);
* ``predicted``   the model's prediction;
* ``alternative`` the model's most probable class other than the current label.

For each: ROC AUC of the ranking against the flipped rows, precision among the
first 10% (or 100) rows of the ranking, and how often the suggestion is the
true label of a flipped row.  The in-sample probability of the given label is
the baseline ranking.  Logistic regression, 20% uniform noise, mean ± std over
seeds.

    python benchmarks/chef_suggestion.py > benchmarks/results/chef_suggestion.txt

Usage: python benchmarks/chef_suggestion.py [--seeds 3] [--data wine breast ...]
       [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
import torch
from _util import add_device_argument, machine, parse_args
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from skclean import ChefCleaner
from skclean.datasets import flip_labels, load_dataset
from skclean.influence import infl, last_layer_inverse_hvp, suggest_labels, validation_gradient


def data(name, seed):
    if name.startswith("synthetic"):
        C = int(name.split("-")[1])
        X, y = make_classification(n_samples=3000, n_features=40, n_informative=30,
                                   n_classes=C, n_clusters_per_class=1, class_sep=1.5,
                                   random_state=seed)
        X_val, y_val, X, y = X[2500:], y[2500:], X[:2500], y[:2500]
    else:
        X, X_val, y, y_val = load_dataset(name, random_state=seed)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=seed)
    return X, y, y_noisy, flipped, X_val, y_val


def measure(name, seed, device="cpu"):
    X, y, y_noisy, flipped, X_val, y_val = data(name, seed)
    top = 100 if name.startswith("synthetic") else int(0.1 * len(X))
    out = {}
    for suggestion in ("infl", "predicted", "alternative"):
        c = ChefCleaner(LogisticRegression(C=0.5, max_iter=5000), label_source="suggested",
                        suggestion=suggestion, target_score=0.0, device=device).fit(
            X, y_noisy, X_trusted=X_val, y_trusted=y_val)
        key = c.score_samples(X, y_noisy)
        rows = np.argsort(key, kind="stable")[:top]
        a = c.adapter_
        v, _ = last_layer_inverse_hvp(a, X, validation_gradient(a, X_val, y_val),
                                      sample_weight=c.sample_weight_)
        I, P = infl(a, X, c.y_, v.reshape(a.head.n_outputs, -1), gamma=c.gamma)
        sugg = c.classes_[suggest_labels(I.cpu().numpy(), P, c.y_, suggestion)[0]]
        out[suggestion] = (roc_auc_score(flipped, -key), flipped[rows].mean(),
                           (sugg == y)[flipped].mean())
    # the baseline is scikit-learn's own predict_proba: on the CPU whatever the device
    P = LogisticRegression(C=0.5, max_iter=5000).fit(X, y_noisy).predict_proba(X)
    base = P[np.arange(len(X)), np.searchsorted(np.unique(y_noisy), y_noisy)]
    out["in-sample p(given)"] = (roc_auc_score(flipped, -base),
                                 flipped[np.argsort(base, kind="stable")[:top]].mean(), np.nan)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", nargs="+", default=["wine", "breast", "digits", "synthetic-5",
                                                      "synthetic-10", "synthetic-20"])
    add_device_argument(parser)
    args = parse_args(parser, argv)
    torch.set_num_threads(2)
    print(f"# machine: {machine(args.device)}")
    print(f"CHEF suggestion and ranking, mean ± std over {args.seeds} seeds "
          "(AUC | precision in the first 10% of rows, or 100 for synthetic | suggestion "
          "correct on flipped rows)")
    header = f"{'data':13s} {'method':20s} {'ROC AUC':>13s} {'precision@top':>15s} " \
             f"{'suggestion ok':>15s}"
    print(header)
    print("-" * len(header))
    for name in args.data:
        runs = [measure(name, seed, args.device) for seed in range(args.seeds)]
        for method in runs[0]:
            vals = np.array([r[method] for r in runs])
            cells = [f"{m:.3f} ± {s:.3f}" if np.isfinite(m) else "—"
                     for m, s in zip(vals.mean(0), vals.std(0), strict=True)]
            print(f"{name:13s} {method:20s} {cells[0]:>13s} {cells[1]:>15s} {cells[2]:>15s}")


if __name__ == "__main__":
    main()
