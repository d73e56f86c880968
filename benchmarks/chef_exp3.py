"""CHEF Exp3: model update after each cleaning round — DeltaGrad-L vs retraining.

Softmax regression trained by mini-batch SGD (batches of 2,000 as in the
paper, L2 strength 1e-3) on a synthetic problem; each round cleans b = 10
rows (INFL two).  ``update="deltagrad"`` replays the cached trajectory with
j0 = 10, T0 = 20, m0 = 2; ``update="retrain"`` reruns SGD from scratch.  For
logistic regression solved by L-BFGS, warm start vs retrain is also shown.
Reported: median update time per round, the final test F1, and the distance
of DeltaGrad-L's parameters from retraining's after one round.

Usage: python benchmarks/chef_exp3.py [--n 30000] [--d 256] [--classes 4] [--rounds 5]
       [--device cpu|cuda|auto]
"""

import argparse
import copy
import time

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from skclean import ChefCleaner
from skclean.datasets import flip_labels
from skclean.models import SoftmaxRegression, soft_targets


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30000)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=0.02)
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    X, y = make_classification(n_samples=args.n + 5000, n_features=args.d, n_informative=40,
                               n_classes=args.classes, random_state=0)
    X_test, y_test, X, y = X[:5000], y[:5000], X[5000:], y[5000:]
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    sgd = SoftmaxRegression(alpha=1e-3, learning_rate=args.lr, n_epochs=args.epochs,
                            batch_size=2000, random_state=0)
    configs = {
        "SGD + DeltaGrad-L": (sgd, "deltagrad"),
        "SGD + retrain": (sgd, "retrain"),
        "L-BFGS + warm start": (LogisticRegression(max_iter=500), "warm_start"),
        "L-BFGS + retrain": (LogisticRegression(max_iter=500), "retrain"),
    }
    rows, fitted = [], {}
    # the cleaner's influence work runs on --device; the models train where they train
    # (SoftmaxRegression's SGD and DeltaGrad-L in torch on the CPU, L-BFGS in scikit-learn)
    for name, (est, update) in configs.items():
        c = ChefCleaner(est, label_source="suggested", update=update, budget=10 * args.rounds,
                        batch_size=10, validation_fraction=0.02, device=args.device,
                        random_state=0)
        c.fit(X, y_noisy)
        fitted[name] = c
        t = np.median([h["time_update"] for h in c.history_])
        f1 = f1_score(y_test, c.predict(X_test), average="macro")
        rows.append([name, f"{t:.3f}", f"{f1:.4f}",
                     f"{c.deltagrad_memory_ * 8 / 2**20:.0f}" if c.deltagrad_memory_ else "-"])
    base = float(rows[1][1])
    for r in rows[:2]:
        r.append(f"{base / float(r[1]):.1f}x")
    rows[2].append(f"{float(rows[3][1]) / float(rows[2][1]):.1f}x")
    rows[3].append("1.0x")
    rows[1][-1] = "1.0x"
    print_table(f"{args.n} rows x {args.d} features, {args.classes} classes, b=10, "
                f"{args.rounds} rounds, {sgd.n_epochs} epochs of batches of 2000",
                ["model + update", "s / update (median)", "test macro-F1",
                 "trajectory MiB", "speed-up vs retrain"], rows)

    # one round, same changed rows: how far is DeltaGrad-L from retraining?  (the model
    # alone, no cleaner: SoftmaxRegression takes no device, this part runs on the CPU)
    classes = np.unique(y)
    T, w = soft_targets(y_noisy, classes), np.full(len(y), 0.8)
    m = clone_fit = copy.deepcopy(sgd).set_params(classes=classes).fit(X, T, w)
    changed = fitted["SGD + retrain"].history_[0]["rows"]
    T2, w2 = T.copy(), w.copy()
    T2[changed] = soft_targets(y[changed], classes)
    w2[changed] = 1.0
    t0 = time.perf_counter()
    ref = copy.deepcopy(sgd).set_params(classes=classes).fit(X, T2, w2)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    upd = copy.deepcopy(m).deltagrad_update(X, T2, w2, changed, y_old=T, sample_weight_old=w)
    t_dg = time.perf_counter() - t0
    W = {k: np.c_[v.coef_, v.intercept_] for k, v in
         [("dg", upd), ("ref", ref), ("stale", clone_fit)]}
    rel = lambda k: np.linalg.norm(W[k] - W["ref"]) / np.linalg.norm(W["ref"])  # noqa: E731
    print(f"\nOne round: DeltaGrad-L {t_dg:.3f} s vs retrain {t_ref:.3f} s "
          f"({t_ref / t_dg:.1f}x); relative parameter distance to retrain: "
          f"DeltaGrad-L {rel('dg'):.2e}, not updating {rel('stale'):.2e}")


if __name__ == "__main__":
    main()
