"""Wrong labels in images with a small CNN: detectors against cleanlab, CHEF against entropy.

scikit-learn's 8×8 digits as image rows ``(n, 1, 8, 8)``, the CNN of the
gallery example (two 3×3 convolutions, max-pool, two linear layers, Adam,
learning rate 3e-3), trained for 10, 30 and 100 epochs.  Past 30 it
memorises: on seed 0 it predicts the given label of 45% of the wrong ones at
60 epochs and 72% at 120, its held-out accuracy falling from 0.97 (30) to
0.87 and 0.79.  1,400 training images, ten trusted per digit, the other 397
held out; two kinds of noise at 20%: uniform, and confusable
digits (1→7, 3→8, 4→9, 5→6, … always the same wrong digit: a class-conditional
confusion with a few dominant pairs).  Means over 3 seeds (noise, trusted rows
and the network's initial weights).

Detection, scored on the untrusted training images: precision among the
lowest-scored 10% and 20%, ROC AUC, and the wall time of the method (fits
included):

* the default ``ClassBasedIFDetector`` on the rows it was fitted to: for a
  network, the mean over 10 checkpoints of each one's score quantile
  (``trajectory="auto"``);
* the same with the trained network alone (``trajectory=False``, the papers'
  score), and that cross-fitted over 2 folds (``cross_fit_scores``);
* ``similarity="tracin"`` (checkpoints along training);
* in-sample log-probability of the given label (the loss a user would sort by);
* cleanlab's ``get_label_quality_scores`` on 5-fold out-of-fold probabilities of
  the same network (cleanlab's documented pipeline).

Cleaning, with a budget of 140 questions (10% of the training rows) asked 10 at a
time: ``ChefCleaner`` ranking by INFL and by entropy (``strategy="entropy"``),
the same network (30 epochs), one epoch after each round (``refit_epochs``);
wrong labels fixed per question, and the held-out accuracy of a fresh network
trained on the labels as cleaned (what a user trains next), against one trained
on the labels as given.

    python benchmarks/image_cnn.py > benchmarks/results/image_cnn.txt

Usage: python benchmarks/image_cnn.py [--seeds 3] [--device cpu|cuda|auto]
"""

import argparse
import time

import numpy as np
import torch
from _util import add_device_argument, machine, parse_args, print_table
from cleanlab.rank import get_label_quality_scores
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from skorch import NeuralNetClassifier
from torch import nn

from skclean import ChefCleaner, ClassBasedIFDetector, SimulatedOracle, cross_fit_scores
from skclean.datasets import flip_labels

CONFUSABLE = {0: 6, 1: 7, 2: 7, 3: 8, 4: 9, 5: 6, 6: 5, 7: 1, 8: 3, 9: 4}


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.classify = nn.Sequential(nn.Linear(16 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, X):
        return self.classify(self.features(X))


def cnn(epochs, device):
    return NeuralNetClassifier(CNN, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                               lr=3e-3, max_epochs=epochs, batch_size=64, train_split=None,
                               device=device, verbose=0)


def task(noise, seed):
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    train, test = order[:1400], order[1400:]
    y_true = digits.target[train]
    kind = {"uniform": {}, "confusable": {"kind": "structured", "mapping": CONFUSABLE}}[noise]
    y, flipped = flip_labels(y_true, 0.2, random_state=seed, **kind)
    trusted = np.zeros(len(y), dtype=bool)
    for c in range(10):
        trusted[rng.choice(np.flatnonzero(y_true == c), 10, replace=False)] = True
    y[trusted], flipped[trusted] = y_true[trusted], False
    return X[train], y, y_true, flipped, trusted, X[test], digits.target[test]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def detection(epochs, noise, seed, device):
    X, y, _, flipped, trusted, _, _ = task(noise, seed)
    torch.manual_seed(seed)
    det = ClassBasedIFDetector(cnn(epochs, device), random_state=seed)
    final = clone(det).set_params(trajectory=False)
    methods = {
        "default (trajectory)": lambda: det.fit(X, y, trusted_mask=trusted).score_samples(X, y),
        "trained net only": lambda: final.fit(X, y, trusted_mask=trusted).score_samples(X, y),
        "trained net only, cross-fitted (2 folds)": lambda: cross_fit_scores(
            final, X, y, trusted_mask=trusted, random_state=seed),
        "tracin": lambda: ClassBasedIFDetector(
            cnn(epochs, device), similarity="tracin", random_state=seed).fit(
                X, y, trusted_mask=trusted).score_samples(X, y),
        "in-sample log p(y|x)": lambda: _log_proba(cnn(epochs, device), X, y, seed),
        "cleanlab, 5-fold OOF": lambda: get_label_quality_scores(y, cross_val_predict(
            _seeded(cnn(epochs, device), seed), X, y.astype(np.int64), cv=5,
            method="predict_proba")),
    }
    keep = ~trusted
    out = {}
    for name, fn in methods.items():
        s, t = timed(fn)
        s, f = np.asarray(s)[keep], flipped[keep]
        order = np.argsort(s, kind="stable")
        out[name] = (f[order[: int(0.1 * len(s))]].mean(), f[order[: int(0.2 * len(s))]].mean(),
                     roc_auc_score(f, -s), t)
    return out


def _seeded(net, seed):
    torch.manual_seed(seed)
    return net


def _log_proba(net, X, y, seed):
    _seeded(net, seed).fit(X, y.astype(np.int64))
    P = net.predict_proba(X)
    return np.log(np.clip(P[np.arange(len(y)), y], 1e-12, None))


def cleaning(noise, seed, device):
    X, y, y_true, _, trusted, X_test, y_test = task(noise, seed)
    out = {}
    for strategy in ("infl", "entropy"):
        torch.manual_seed(seed)
        chef = ChefCleaner(cnn(30, device), oracle=SimulatedOracle(X, y_true), budget=140,
                           batch_size=10, strategy=strategy, random_state=seed)
        (chef, t) = timed(lambda chef=chef: chef.fit(X, y, trusted_mask=trusted))
        cleaned = chef.classes_[chef.y_.argmax(1)]  # the rows CHEF trained on: untrusted
        out[strategy] = (chef.n_changed_ / max(chef._n_asked(), 1),
                         _test_accuracy(X[~trusted], cleaned, X_test, y_test, seed, device), t)
    out["no cleaning"] = (np.nan, _test_accuracy(X[~trusted], y[~trusted], X_test, y_test, seed,
                                                 device), np.nan)
    return out


def _test_accuracy(X, y, X_test, y_test, seed, device):
    """Held-out accuracy of a fresh 30-epoch network trained on ``(X, y)``."""
    net = _seeded(cnn(30, device), seed).fit(X, np.asarray(y).astype(np.int64))
    return float((net.predict(X_test) == y_test).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_device_argument(parser)
    parser.add_argument("--seeds", type=int, default=3)
    args = parse_args(parser, argv)
    torch.set_num_threads(1)  # reproducible sums; the machine has 2 cores
    print(__doc__.split("\n\n")[0])
    print(f"\nmachine: {machine(args.device)}; means over {args.seeds} seeds")
    for noise in ("uniform", "confusable"):
        rows = []
        for epochs in (10, 30, 100):
            runs = [detection(epochs, noise, s, args.device) for s in range(args.seeds)]
            for name in runs[0]:
                m = np.mean([r[name] for r in runs], axis=0)
                rows.append([epochs, name, f"{m[0]:.3f}", f"{m[1]:.3f}", f"{m[2]:.3f}",
                             f"{m[3]:.1f}"])
        print_table(f"Detection, {noise} noise (20%)",
                    ["epochs", "method", "p@10%", "p@20%", "AUC", "time (s)"], rows)
        runs = [cleaning(noise, s, args.device) for s in range(args.seeds)]
        rows = []
        for name in runs[0]:
            m = np.nanmean([r[name] for r in runs], axis=0) if name != "no cleaning" else \
                np.array([np.nan, np.mean([r[name][1] for r in runs]), np.nan])
            rows.append([name, "" if np.isnan(m[0]) else f"{m[0]:.2f}", f"{m[1]:.3f}",
                         "" if np.isnan(m[2]) else f"{m[2]:.0f}"])
        print_table(f"CHEF with the CNN (30 epochs, 1 after each round), {noise} noise: "
                    "140 questions", ["ranking", "wrong labels fixed per question",
                                      "test accuracy of a net trained after", "time (s)"], rows)


if __name__ == "__main__":
    main()
