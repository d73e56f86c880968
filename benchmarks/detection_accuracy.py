"""Error-detection accuracy of class-based influence vs plain influence, the
model-based detector and cleanlab's confident learning, on shipped data.

For every data set, noise kind (uniform, structured i -> i+1), noise rate and
seed: flip labels of the training split, take a clean reference set of
``--ref`` rows per class from the held-out split, score all training rows,
and report the share of truly flipped rows among the q% lowest scores
(q = 5, 10, 20) and the ROC AUC, as mean ± std over seeds.  cleanlab
(optional: ``pip install cleanlab``) ranks by its label-quality score with
5-fold out-of-fold probabilities from the same model, and its
``find_label_issues`` flags are reported as precision/recall.

Usage: python benchmarks/detection_accuracy.py [--datasets digits wine breast blobs]
       [--rates 0.1 0.2] [--seeds 3] [--ref 20] [--device cpu|cuda|auto]
"""

import argparse
import time
import warnings

import numpy as np
from _util import add_device_argument, machine, median_time, parse_args, print_table
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from skclean import ClassBasedIFDetector, ModelBasedDetector, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset
from skclean.models import default_classifier

SIMS = ("gd", "gc", "if", "tracin")
QS = (5, 10, 20)


def model_for(name, n_features, n_classes, device="cpu"):
    if name == "digits":  # the MLP of the paper's experiments, trained briefly
        return default_classifier(n_features, n_classes, max_epochs=40, lr=3e-3,
                                  device=device)
    return LogisticRegression(max_iter=1000)


def metrics(scores, flipped):
    order = np.argsort(scores, kind="stable")
    out = {f"acc@{q}": flipped[order[: max(1, len(scores) * q // 100)]].mean() for q in QS}
    out["auc"] = roc_auc_score(flipped, -scores)
    return out


def fit_model(model, X, y):
    if isinstance(model, LogisticRegression):
        return clone(model).fit(X, y)
    return clone(model).fit(X.astype(np.float32), y)


def run_config(name, kind, rate, seed, n_ref, device="cpu"):
    X, X_hold, y_true, y_hold = load_dataset(name, test_size=0.3, random_state=seed)
    y, flipped = flip_labels(y_true, rate, kind=kind, random_state=seed)
    rng = np.random.RandomState(seed)
    ref = np.concatenate([rng.permutation(np.flatnonzero(y_hold == c))[:n_ref]
                          for c in np.unique(y_hold)])
    X_ref, y_ref = X_hold[ref], y_hold[ref]
    classes = np.unique(y_true)
    model = model_for(name, X.shape[1], len(classes), device)
    fitted = fit_model(model, X, y)
    res = {}
    # the paper's exact scores
    paper = dict(normalize_features=False, class_scaling=None, loss_weight=0)
    for sim in SIMS:
        for cb in (True, False):
            if sim == "tracin":
                det = ClassBasedIFDetector(model, similarity=sim, class_based=cb,
                                           device=device, random_state=seed, **paper)
            else:
                det = ClassBasedIFDetector(fitted, similarity=sim, class_based=cb, prefit=True,
                                           device=device, **paper)
            s = det.fit(X, y, X_trusted=X_ref, y_trusted=y_ref).score_samples(X, y)
            res[f"{sim.upper()} {'class-based' if cb else 'plain'}"] = metrics(s, flipped)
    # PGC, unit features, per-class scaling, the log-probability weighted by the trusted rows
    det = ClassBasedIFDetector(fitted, prefit=True, device=device, random_state=seed)
    res["default"] = metrics(det.fit(X, y, X_trusted=X_ref, y_trusted=y_ref).score_samples(X, y),
                             flipped)
    for label, weight in [("model-based, paper (5x10 queries)", 0),
                          ("model-based default (5x10 queries)", "auto")]:
        mb = ModelBasedDetector(model, oracle=SimulatedOracle(X, y_true), n_rounds=5,
                                query_size=10, loss_weight=weight, device=device,
                                random_state=seed)
        mb.fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
        res[label] = metrics(mb.score_samples(X, y), flipped)
    try:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        return res, None
    # cleanlab scores numpy probabilities on the CPU; the out-of-fold probabilities come
    # from the same model (the network on --device, scikit-learn's model on the CPU)
    Xf = X if isinstance(model, LogisticRegression) else X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probs = cross_val_predict(clone(model), Xf, y, cv=5, method="predict_proba")
        quality = get_label_quality_scores(y, probs)
        issues = find_label_issues(y, probs)
    res["cleanlab (label quality)"] = metrics(quality, flipped)
    cl = (issues & flipped).sum() / max(1, issues.sum()), (issues & flipped).sum() / flipped.sum()
    return res, cl


def scoring_speed(n_rows=10_000, seed=0, device="cpu"):
    """Seconds to score 10,000 rows once fitted (digits MLP and logistic regression)."""
    X, X_hold, y, y_hold = load_dataset("digits", test_size=0.3, random_state=seed)
    Xb = np.resize(X, (n_rows, X.shape[1]))
    yb = np.resize(y, n_rows)
    rows = []
    for label, model in [("MLP", model_for("digits", 64, 10, device)),
                         ("logistic regression", LogisticRegression(max_iter=500))]:
        for sim in SIMS:
            det = ClassBasedIFDetector(model, similarity=sim, device=device, random_state=0)
            det.fit(X, y, X_trusted=X_hold, y_trusted=y_hold)
            t = median_time(lambda d=det: d.score_samples(Xb, yb), repeats=5, device=device)
            rows.append([label, sim.upper(), f"{1e3 * t:.0f}"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["digits", "wine", "breast", "blobs"])
    p.add_argument("--kinds", nargs="+", default=["uniform", "structured"])
    p.add_argument("--rates", nargs="+", type=float, default=[0.1, 0.2])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--ref", type=int, default=20, help="reference rows per class")
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    t0 = time.perf_counter()
    for name in args.datasets:
        for kind in args.kinds:
            for rate in args.rates:
                runs = [run_config(name, kind, rate, s, args.ref, args.device)
                        for s in range(args.seeds)]
                methods = list(runs[0][0])
                rows = []
                for m in methods:
                    vals = {k: np.array([r[0][m][k] for r in runs]) for k in runs[0][0][m]}
                    rows.append([m] + [f"{v.mean():.2f} ± {v.std():.2f}" for v in vals.values()])
                print_table(f"{name}, {kind} noise {rate:.0%}, {args.seeds} seeds "
                            "(mean ± std)", ["method", *[f"acc@{q}%" for q in QS], "ROC AUC"],
                            rows)
                if runs[0][1] is not None:
                    prec = np.mean([r[1][0] for r in runs])
                    rec = np.mean([r[1][1] for r in runs])
                    print(f"cleanlab find_label_issues: precision {prec:.2f}, recall {rec:.2f}")
    print_table("Scoring time for 10,000 rows after fit (median of 5)",
                ["model", "similarity", "ms"], scoring_speed(device=args.device))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
