"""CINCER's Top Fisher from a sample of training rows: precision and refresh cost.

CincerCleaner rebuilds the Top Fisher after every model update.  Built from
every training row its cost grows with the training set; built from a
uniform sample of ``fisher_rows`` rows (a reservoir kept up to date as the
stream grows) it does not.  This measures what the sample costs in
counter-example quality, to choose the default.

Setting: 10 overlapping classes (``make_classification``, 30 features,
``class_sep=1``), standardised; CINCER's default network (64-32 ReLU) fit on a
noisy training set (20% uniform flips); rows of a held-out clean split that
the model mispredicts rank the pertinent training rows by Top Fisher, with
the Fisher from ``m`` sampled rows or from all of them.  Reported: Pr@5 and
Pr@10 (share of flipped rows among the best k), agreement with the exact
ranking (same best row; overlap of the top 10), and the seconds of one
refresh (Fisher build + pseudo-inverse), median of 5.

Usage: python benchmarks/cincer_fisher_rows.py [--n-train 6000] [--seeds 3]
       [--rows 30 100 300 1000 2000] [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
from _util import (
    add_device_argument,
    machine,
    median_time,
    parse_args,
    print_table,
    rank_with_fisher_sample,
)
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from skclean import CincerCleaner
from skclean.datasets import flip_labels
from skclean.influence import fisher_inverse
from skclean.models import default_classifier
from skclean.utils import ReservoirSample


def run(seed, n_train, rows, device, n_queries=60):
    X, y = make_classification(n_samples=n_train + 2000, n_features=30, n_informative=15,
                               n_redundant=5, n_classes=10, n_clusters_per_class=1,
                               class_sep=1.0, random_state=seed)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    X_tr, y_tr, X_new, y_new = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    y_noisy, flipped = flip_labels(y_tr, 0.2, random_state=seed)
    net = default_classifier(30, 10, device=device, batch_size=128, max_epochs=30)
    c = CincerCleaner(net, fisher_rows=None, device=device, random_state=seed).fit(X_tr,
                                                                                  y_noisy)
    wrong = np.flatnonzero(c.predict(X_new) != y_new)[:n_queries]

    def rankings(m):
        # a fresh reservoir for each m over the same fitted model (refitting per m would
        # change the model as well as the sample)
        rng = np.random.default_rng(seed)
        return [rank_with_fisher_sample(c, m, X_new[i], y_new[i], rng)[:10] for i in wrong]

    U1, Z = c.adapter_.augmented_outputs(c.X_)  # one forward pass per model, as in CINCER

    def refresh(m):
        def go():
            rows = ReservoirSample(m, len(c.X_), np.random.default_rng(seed)).rows()
            fisher_inverse(c.adapter_, outputs=(U1[rows], Z[rows]))
        return median_time(go, 5, device=device)

    exact = rankings(None)
    out = {}
    for m in [*rows, None]:
        ranked = exact if m is None else rankings(m)
        out[m] = dict(
            p5=np.mean([flipped[r[:5]].mean() for r in ranked]),
            p10=np.mean([flipped[r].mean() for r in ranked]),
            top1=np.mean([r[0] == e[0] for r, e in zip(ranked, exact, strict=True)]),
            overlap=np.mean([len(np.intersect1d(r, e)) / len(e)
                             for r, e in zip(ranked, exact, strict=True)]),
            seconds=refresh(m),
        )
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=6000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rows", type=int, nargs="+", default=[30, 100, 300, 1000, 2000])
    add_device_argument(p)
    args = parse_args(p, argv)
    runs = [run(s, args.n_train, args.rows, args.device) for s in range(args.seeds)]
    print(f"Top Fisher from fisher_rows sampled rows; {args.n_train} training rows, 10 classes, "
          f"30 features, 20% uniform noise, CINCER's default network; {args.seeds} seeds "
          f"(mean ± sd), 60 mispredicted rows each; {machine(args.device)}")

    def cell(m, key, fmt="{:.3f}"):
        v = [r[m][key] for r in runs]
        return f"{fmt.format(np.mean(v))} ± {fmt.format(np.std(v))}"

    print_table(
        "Counter-example quality and refresh cost",
        ["fisher_rows", "Pr@5", "Pr@10", "same best row as exact", "top-10 overlap",
         "refresh (s)"],
        [[("all" if m is None else m), cell(m, "p5"), cell(m, "p10"), cell(m, "top1"),
          cell(m, "overlap"), cell(m, "seconds", "{:.4f}")] for m in [*args.rows, None]],
    )


if __name__ == "__main__":
    main()
