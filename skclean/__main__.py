"""Command line: ``skclean demo`` runs the demonstration, ``skclean clean`` cleans a CSV."""

import argparse
import sys
import time

import numpy as np


def demo(out="skclean_demo.png", noise=0.2, budget=0.25, random_state=0):
    """Breast cancer with flipped labels: detect, ask a simulated annotator, retrain.

    Returns a dict of the figures it printed (used by the tests).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, roc_auc_score

    from skclean import ClassBasedIFDetector, SimulatedOracle
    from skclean.datasets import flip_labels, load_dataset
    from skclean.oracles import query_oracle

    X, X_test, y, y_test = load_dataset("breast", test_size=0.3, random_state=random_state)
    # a small verified reference set: 20 rows per class taken from the held-out split
    rng = np.random.RandomState(random_state)
    ref_idx = np.concatenate([rng.choice(np.flatnonzero(y_test == c), 20, replace=False)
                              for c in np.unique(y_test)])
    X_trusted, y_trusted = X_test[ref_idx], y_test[ref_idx]
    keep = np.setdiff1d(np.arange(len(X_test)), ref_idx)
    X_test, y_test = X_test[keep], y_test[keep]

    y_noisy, flipped = flip_labels(y, noise, random_state=random_state)
    oracle = SimulatedOracle(X, y)
    model = LogisticRegression(max_iter=1000)
    t0 = time.perf_counter()
    det = ClassBasedIFDetector(model, contamination=budget, random_state=random_state)
    flags = det.fit_predict(X, y_noisy, X_trusted=X_trusted, y_trusted=y_trusted)
    scores = det.score_samples(X, y_noisy)
    asked = np.flatnonzero(flags == -1)
    answers = query_oracle(oracle, X[asked], y_noisy[asked], det.classes_,
                           role=["candidate"] * len(asked))
    y_clean = y_noisy.copy()
    y_clean[asked] = answers
    elapsed = time.perf_counter() - t0

    def f1(labels):
        pred = LogisticRegression(max_iter=1000).fit(X, labels).predict(X_test)
        return f1_score(y_test, pred, average="weighted")

    res = {
        "n_train": len(X), "n_flipped": int(flipped.sum()), "n_asked": len(asked),
        "n_fixed": int(np.sum(answers != y_noisy[asked])),
        "auc": roc_auc_score(flipped, -scores),
        "f1_noisy": f1(y_noisy), "f1_cleaned": f1(y_clean), "f1_true": f1(y),
        "seconds": elapsed,
    }
    print("skclean demo: breast cancer, logistic regression, class-based influence (GD)")
    print(f"  training rows            {res['n_train']}  ({res['n_flipped']} labels flipped, "
          f"{noise:.0%})")
    print(f"  reference rows (clean)   {len(X_trusted)}")
    print(f"  rows shown to annotator  {res['n_asked']}  (contamination={budget})")
    print(f"  wrong labels fixed       {res['n_fixed']} of {res['n_flipped']}")
    print(f"  detection ROC AUC        {res['auc']:.3f}")
    print(f"  test F1 noisy -> cleaned {res['f1_noisy']:.3f} -> {res['f1_cleaned']:.3f} "
          f"(true labels: {res['f1_true']:.3f})")
    print(f"  detection + cleaning     {res['seconds']:.2f} s")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = np.linspace(scores.min(), scores.max(), 40)
    ax1.hist(scores[~flipped], bins=bins, alpha=0.7, label="correct label")
    ax1.hist(scores[flipped], bins=bins, alpha=0.7, label="flipped label")
    ax1.axvline(det.offset_, color="k", ls="--", label="threshold")
    ax1.set_xlabel("class-based influence score (lower = more suspicious)")
    ax1.set_ylabel("rows")
    ax1.legend()
    names = ["noisy", "cleaned", "true"]
    vals = [res["f1_noisy"], res["f1_cleaned"], res["f1_true"]]
    ax2.bar(names, vals, color=["tab:red", "tab:green", "tab:gray"])
    ax2.set_ylim(min(vals) - 0.05, 1.0)
    ax2.set_ylabel("weighted F1 on clean test set")
    for i, v in enumerate(vals):
        ax2.text(i, v + 0.003, f"{v:.3f}", ha="center")
    fig.suptitle(f"{res['n_fixed']} of {res['n_flipped']} flipped labels fixed "
                 f"after {res['n_asked']} questions")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"  plot written to {out}")
    return res


def main(argv=None):
    from . import __version__
    from ._cli_clean import add_parser

    parser = argparse.ArgumentParser(
        prog="skclean", description="Find and fix wrong labels with influence functions and "
        "an annotator in the loop.", epilog="Run 'skclean COMMAND --help' for a command's "
        "options and examples.")
    parser.add_argument("--version", action="version", version=f"skclean {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="clean breast-cancer labels with a simulated annotator")
    d.add_argument("--out", default="skclean_demo.png", help="where to write the plot")
    d.add_argument("--noise", type=float, default=0.2, help="share of labels flipped")
    d.add_argument("--budget", type=float, default=0.25, help="share of rows shown")
    d.add_argument("--seed", type=int, default=0)
    add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(out=args.out, noise=args.noise, budget=args.budget, random_state=args.seed)
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
