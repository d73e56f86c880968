"""CINCER Q2: counter-example precision at 5 and 10.

A model is fit once on a noisy bootstrap set (20% uniform noise); rows of
the remaining training split arrive with their *clean* labels; each one the
model mispredicts ranks the pertinent counter-example candidates, and Pr@k
is the share of truly mislabeled rows among the k best.  Averaged over the
stream rows of each run, then over runs (mean ± s.e.).

Usage: python benchmarks/cincer_precision.py [--datasets breast wine]
       [--repeats 5] [--n-bootstrap 100] [--n-stream 100] [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from cincer_protocol import mean_se, model_for

from skclean import CincerCleaner
from skclean.datasets import flip_labels, load_dataset

METHODS = {"influence": "IF (LiSSA)", "practical_fisher": "Practical Fisher",
           "top_fisher": "Top Fisher", "full_fisher": "Full Fisher"}


def precision_run(dataset, seed, n_bootstrap, n_stream, lissa_depth, device="cpu"):
    X, _, y, _ = load_dataset(dataset, test_size=0.25, random_state=0)
    rng = np.random.RandomState(seed)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=rng)
    order = rng.permutation(len(X))
    boot, stream = order[:n_bootstrap], order[n_bootstrap : n_bootstrap + n_stream]
    cleaner = CincerCleaner(model_for(dataset, X.shape[1], len(np.unique(y))), dtype="float64",
                            lissa_depth=lissa_depth, device=device, random_state=seed)
    cleaner.fit(X[boot], y_noisy[boot], classes=np.unique(y))
    wrong_in_data = flipped[boot]
    out = {m: {5: [], 10: []} for m in METHODS}
    pred = cleaner.predict(X[stream])
    for i, p in zip(stream, pred, strict=True):
        if p == y[i]:
            continue
        for m in METHODS:
            cleaner.set_params(counterexample=m)
            ranked = cleaner.rank_counterexamples(X[i], y[i], k=10)
            for k in (5, 10):
                if len(ranked):
                    out[m][k].append(wrong_in_data[ranked[:k]].mean())
    return {m: {k: float(np.mean(v)) if v else np.nan for k, v in d.items()}
            for m, d in out.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["breast", "wine"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n-bootstrap", type=int, default=100)
    p.add_argument("--n-stream", type=int, default=100)
    p.add_argument("--lissa-depth", type=int, default=1000)
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    for d in args.datasets:
        runs = [precision_run(d, s, args.n_bootstrap, args.n_stream, args.lissa_depth,
                              args.device) for s in range(args.repeats)]
        rows = [[name, mean_se([r[m][5] for r in runs]), mean_se([r[m][10] for r in runs])]
                for m, name in METHODS.items()]
        print_table(f"{d}/FC: counter-example precision, {args.repeats} runs (mean ± s.e.)",
                    ["method", "Pr@5", "Pr@10"], rows)


if __name__ == "__main__":
    main()
