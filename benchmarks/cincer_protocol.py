"""CINCER's experimental protocol (Q1/Q3): cleaned examples and F1 per iteration.

Protocol of the paper and its reference code: 20% uniform label noise on the
whole training split; a bootstrap set of 100 rows; T = 100 stream rows;
τ = 0.2; a perfect simulated oracle; the model refit after every stream row;
weighted F1 on the clean test set after every iteration; repeats with
different noise seeds; every strategy sees the same rows in the same order.
Models: FC (64-32 ReLU, dropout 0.2, Adam 1e-3, batches of 32, at most 100
epochs, stop at 90% training accuracy) and the CNN for 8×8 digits.

Usage: python benchmarks/cincer_protocol.py [--datasets breast wine digits
       digits-cnn blobs] [--strategies top_fisher practical_fisher influence
       nearest none drop] [--repeats 5] [--refit warm_start] [--plot out.png]
       [--device cpu|cuda|auto]
"""

import argparse
import time

import numpy as np
import torch
from _util import add_device_argument, machine, parse_args, print_table
from sklearn.metrics import f1_score
from skorch import NeuralNetClassifier
from torch import nn

from skclean import CincerCleaner, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset
from skclean.models import SmallCNN, default_classifier, train_accuracy_stop

BATCH = 32

STRATEGIES = {
    "top_fisher": "Top Fisher",
    "practical_fisher": "Practical Fisher",
    "influence": "IF (LiSSA)",
    "nearest": "Nearest",
    "none": "No CE",
    "drop": "Drop CE",
}


def model_for(dataset, n_features, n_classes):
    if dataset == "digits-cnn":
        return NeuralNetClassifier(
            SmallCNN, module__side=8, module__n_classes=n_classes,
            criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3,
            max_epochs=100, batch_size=BATCH, train_split=None, verbose=0,
            callbacks=train_accuracy_stop(0.9),
        )
    return default_classifier(n_features, n_classes, batch_size=BATCH,
                              stop_at_train_accuracy=0.9)


def run(dataset, strategy, seed, *, refit="warm_start", n_bootstrap=100, n_stream=100,
        threshold=0.2, noise=0.2, lissa_depth=1000, **cleaner_kwargs):
    """One repeat: returns per-iteration arrays and the cleaner."""
    name = "digits" if dataset == "digits-cnn" else dataset
    X, X_test, y, y_test = load_dataset(name, test_size=0.25, random_state=0)
    rng = np.random.RandomState(seed)  # one stream of draws: noise and order independent
    y_noisy, flipped = flip_labels(y, noise, random_state=rng)
    order = rng.permutation(len(X))[: n_bootstrap + n_stream]
    boot, stream = order[:n_bootstrap], order[n_bootstrap:]
    cleaner = CincerCleaner(
        model_for(dataset, X.shape[1], len(np.unique(y))), oracle=SimulatedOracle(X, y),
        threshold=threshold, counterexample=None if strategy == "none" else strategy,
        refit=refit, lissa_depth=lissa_depth, random_state=seed, **cleaner_kwargs,
    )
    cleaner.fit(X[boot], y_noisy[boot], classes=np.unique(y))
    f1 = [f1_score(y_test, cleaner.predict(X_test), average="weighted")]
    cleaned, queries = [0], [0]
    t0 = time.perf_counter()
    for i in stream:
        cleaner.partial_fit(X[i : i + 1], y_noisy[i : i + 1])
        f1.append(f1_score(y_test, cleaner.predict(X_test), average="weighted"))
        cleaned.append(cleaner.n_changed_)
        queries.append(cleaner.n_queries_)
    return {
        "f1": np.array(f1), "cleaned": np.array(cleaned), "queries": np.array(queries),
        "n_noisy": int(flipped[order].sum()), "seconds": time.perf_counter() - t0,
        "times": cleaner.iteration_times_, "history": cleaner.history_,
    }


def mean_se(values):
    v = np.asarray(values, dtype=float)
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return f"{v.mean():.3g} ± {se:.2g}"


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({d for d, _ in results})
    fig, axes = plt.subplots(2, len(datasets), figsize=(3.6 * len(datasets), 6), squeeze=False)
    for j, d in enumerate(datasets):
        for (dd, s), runs in results.items():
            if dd != d:
                continue
            for i, key in enumerate(["cleaned", "f1"]):
                curves = np.stack([r[key] for r in runs])
                m = curves.mean(0)
                se = curves.std(0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else 0 * m
                x = np.arange(len(m))
                axes[i, j].plot(x, m, label=STRATEGIES[s])
                axes[i, j].fill_between(x, m - se, m + se, alpha=0.2)
        axes[0, j].set_title(d)
        axes[0, j].set_ylabel("# cleaned")
        axes[1, j].set_ylabel("weighted F1")
        axes[1, j].set_xlabel("iteration")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"\nplot written to {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+",
                   default=["breast", "wine", "digits", "digits-cnn", "blobs"])
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--refit", default="warm_start", choices=["warm_start", "scratch"])
    p.add_argument("--lissa-depth", type=int, default=1000)
    p.add_argument("--plot", default=None)
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    results = {}
    for d in args.datasets:
        rows = []
        for s in args.strategies:
            runs = [run(d, s, seed, refit=args.refit, lissa_depth=args.lissa_depth,
                        device=args.device) for seed in range(args.repeats)]
            results[d, s] = runs
            rows.append([STRATEGIES[s], mean_se([r["cleaned"][-1] for r in runs]),
                         mean_se([r["f1"][-1] for r in runs]),
                         mean_se([r["queries"][-1] for r in runs]),
                         f"{np.median([r['seconds'] for r in runs]):.1f}"])
        n_noisy = np.mean([r["n_noisy"] for r in results[d, args.strategies[0]]])
        print_table(f"{d}: after {len(results[d, args.strategies[0]][0]['f1']) - 1} "
                    f"iterations, {args.repeats} repeats, refit={args.refit} "
                    f"(~{n_noisy:.0f} noisy rows among bootstrap + stream; mean ± s.e.)",
                    ["strategy", "# cleaned", "F1", "# queries", "s / run (median)"], rows)
        if "top_fisher" in args.strategies and "none" in args.strategies:
            tf = np.mean([r["cleaned"][-1] for r in results[d, "top_fisher"]])
            no = np.mean([r["cleaned"][-1] for r in results[d, "none"]])
            print(f"Top Fisher cleans {tf / max(no, 1e-9):.2f}x what No CE cleans")
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
