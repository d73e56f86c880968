"""Wrong labels fixed per question: cleaners with a person in the loop against cleanlab.

A simulated annotator (always right) is asked about ``--budget`` shares of the
training rows (1, 5, 10 and 20% by default), a batch of 1% of the rows at a
time.  Each method decides which rows to ask about:

- ``cleanlab one-shot``: cleanlab's label-quality ranking from 5-fold
  out-of-fold probabilities, computed once; the lowest rows are asked.
- ``cleanlab re-fit per batch``: the same, with the out-of-fold probabilities
  recomputed on the corrected labels after every batch (the honest active
  baseline).
- ``ReviewCleaner``: :class:`~skclean.ReviewCleaner` with the default
  :class:`~skclean.ClassBasedIFDetector`, as a user builds it (the
  detector's ranking, fitted once, asked in order).
- ``ReviewCleaner(rerank=True)`` (the default): the detector fitted again
  after every batch, on the labels as corrected so far, with the answered
  rows among the trusted rows, the options its first fit chose kept and the
  labels as first given passed along (its noise model learns the
  annotators' confusions from the answers), re-ranking the rows not yet
  asked.
- ``CHEF``: :class:`~skclean.ChefCleaner` with ``batch_size`` 1% of the rows
  (INFL on the trusted rows, the oracle's answers applied).

CINCER is not here: it asks about rows of a stream as they arrive, when its
margin test fires, and has no way to spend a fixed budget on rows already
held.  For each budget: the wrong labels fixed (the answers that changed a
label), their ratio to cleanlab one-shot's, and the accuracy on held-out rows
of a ``LogisticRegression`` fitted on the labels as corrected so far.  The
data sets and noise are those of ``benchmarks/detection_hard.py`` (40
trusted rows per class, drawn from the held-out split, as there).

Usage: python benchmarks/interactive_budget.py [--datasets synth10 ordinal6]
       [--noise uniform:0.2 adjacent:0.2 confusion:0.2] [--budgets 1 5 10 20]
       [--seeds 2] [--device cpu|cuda|auto]
"""

import argparse
import platform
import time
import warnings

import numpy as np
import torch
from _util import add_device_argument, parse_args, print_table
from detection_hard import load
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from skclean import ChefCleaner, ClassBasedIFDetector, ReviewCleaner, SimulatedOracle
from skclean.datasets import flip_labels

METHODS = ["cleanlab one-shot", "cleanlab re-fit per batch", "ReviewCleaner",
           "ReviewCleaner(rerank=True)", "CHEF"]
BASELINE = "cleanlab one-shot"


def model():
    return LogisticRegression(max_iter=2000)


def cleanlab_scores(X, y, seed):
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P = cross_val_predict(model(), X, y, method="predict_proba",
                              cv=StratifiedKFold(5, shuffle=True, random_state=seed))
    return get_label_quality_scores(y, P)


def ask_in_rounds(score, rerank, n_questions, batch, y, y_true):
    """Ask ``batch`` rows at a time, lowest score first among the rows not yet asked;
    ``score(labels, asked)`` ranks again after every batch when ``rerank``.  Returns the
    rows in the order asked."""
    labels, asked = y.copy(), np.zeros(len(y), bool)
    order, s = [], None
    while len(order) < n_questions:
        if s is None or rerank:
            s = score(labels, np.flatnonzero(asked))
        s = np.where(asked, np.inf, s)
        rows = np.argsort(s, kind="stable")[: min(batch, n_questions - len(order))]
        labels[rows] = y_true[rows]  # the annotator is right
        asked[rows] = True
        order.extend(rows.tolist())
    return np.array(order)


def review_order(X, y, y_true, X_ref, y_ref, n_questions, batch, seed, device, rerank):
    review = ReviewCleaner(ClassBasedIFDetector(model(), random_state=seed, device=device),
                           oracle=SimulatedOracle(X, y_true), budget=n_questions,
                           batch_size=batch, rerank=rerank)
    review.fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
    return np.concatenate([np.asarray(h["row_ids"]) for h in review.history_])


def chef_order(X, y, y_true, X_ref, y_ref, n_questions, batch, seed, device):
    chef = ChefCleaner(model(), oracle=SimulatedOracle(X, y_true), budget=n_questions,
                       batch_size=batch, random_state=seed, device=device)
    chef.fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
    return np.concatenate([np.asarray(h["rows"]) for h in chef.history_])


def run(name, kind, rate, seed, budgets, device):
    X, X_hold, y_true, y_hold = load(name, seed)
    X, X_hold = X.astype(np.float64), X_hold.astype(np.float64)
    y, wrong = flip_labels(y_true, rate, kind=kind, random_state=seed)
    rng = np.random.RandomState(seed)
    ref = np.concatenate([rng.permutation(np.flatnonzero(y_hold == c))[:40]
                          for c in np.unique(y_hold)])
    X_ref, y_ref = X_hold[ref], y_hold[ref]
    test = np.setdiff1d(np.arange(len(y_hold)), ref)
    if len(test) < 100:  # a small data set (diabetes5): score on every held-out row
        test = np.arange(len(y_hold))
    n = len(y)
    batch = max(1, n // 100)
    n_max = int(round(max(budgets) / 100 * n))

    def cleanlab(labels, asked):
        return cleanlab_scores(X, labels, seed)

    orders, times = {}, {}
    runs = {"cleanlab one-shot": lambda: ask_in_rounds(cleanlab, False, n_max, batch, y, y_true),
            "cleanlab re-fit per batch": lambda: ask_in_rounds(cleanlab, True, n_max, batch, y,
                                                               y_true),
            "ReviewCleaner": lambda: review_order(X, y, y_true, X_ref, y_ref, n_max, batch,
                                                  seed, device, rerank=False),
            "ReviewCleaner(rerank=True)": lambda: review_order(X, y, y_true, X_ref, y_ref, n_max,
                                                               batch, seed, device, rerank=True),
            "CHEF": lambda: chef_order(X, y, y_true, X_ref, y_ref, n_max, batch, seed, device)}
    for label, fn in runs.items():
        t0 = time.perf_counter()
        orders[label] = fn()
        times[label] = time.perf_counter() - t0
    out = {}
    for label, order in orders.items():
        for b in budgets:
            asked = order[: int(round(b / 100 * n))]
            labels = y.copy()
            labels[asked] = y_true[asked]
            acc = model().fit(X, labels).score(X_hold[test], y_hold[test])
            out[label, b] = (wrong[asked].sum(), acc)
    before = model().fit(X, y).score(X_hold[test], y_hold[test])
    return out, times, wrong.sum(), before


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["synth10", "ordinal6"])
    p.add_argument("--noise", nargs="+", default=["uniform:0.2", "adjacent:0.2",
                                                  "confusion:0.2"])
    p.add_argument("--budgets", nargs="+", type=float, default=[1, 5, 10, 20],
                   help="shares of the training rows asked about, in percent")
    p.add_argument("--seeds", type=int, default=2)
    add_device_argument(p)
    args = parse_args(p, argv)
    print("# python benchmarks/interactive_budget.py "
          + " ".join(argv if argv is not None else __import__("sys").argv[1:]))
    print(f"# machine: {platform.machine()}, {torch.get_num_threads()} torch threads, device "
          f"{args.device}; mean over {args.seeds} seeds")
    t_start = time.perf_counter()
    at10 = []
    for name in args.datasets:
        for spec in args.noise:
            kind, rate = spec.split(":")
            runs = [run(name, kind, float(rate), s, args.budgets, args.device)
                    for s in range(args.seeds)]
            n_wrong = np.mean([r[2] for r in runs])
            rows = []
            for label in METHODS:
                cells = []
                for b in args.budgets:
                    fixed = np.mean([r[0][label, b][0] for r in runs])
                    base = np.mean([r[0][BASELINE, b][0] for r in runs])
                    acc = np.mean([r[0][label, b][1] for r in runs])
                    cells.append(f"{fixed:.0f} ({fixed / max(base, 1e-9):.2f}×), {acc:.3f}")
                    if b == 10:
                        at10.append((f"{name}, {kind} {float(rate):.0%}", label,
                                     fixed / max(base, 1e-9)))
                rows.append([label, *cells, f"{np.median([r[1][label] for r in runs]):.0f}"])
            before = np.mean([r[3] for r in runs])
            print_table(f"{name}, {kind} noise {float(rate):.0%}: {n_wrong:.0f} wrong labels; "
                        f"per budget, wrong labels fixed (× cleanlab one-shot), test accuracy "
                        f"after (before any question: {before:.3f})",
                        ["method", *[f"{b:g}% asked" for b in args.budgets], "s"], rows)
    if at10:
        settings = list(dict.fromkeys(s for s, _, _ in at10))
        print_table("At a 10% budget: wrong labels fixed relative to cleanlab one-shot",
                    ["method", *settings, "mean"],
                    [[label, *[f"{r:.2f}" for s2, lab, r in at10 if lab == label],
                      f"{np.mean([r for _, lab, r in at10 if lab == label]):.2f}"]
                     for label in METHODS])
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
