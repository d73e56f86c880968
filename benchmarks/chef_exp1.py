"""CHEF Exp1 analogue: test F1 after cleaning min(100, 20% of rows), by method.

Training labels are probabilistic: 20% of the hard labels are flipped, then
each row's label is ``0.6 · onehot(noisy) + 0.4 · Dirichlet(1)``.  Three
simulated annotators each answer wrong 5% of the time.  INFL (one) asks the
majority of the three; INFL (two) accepts INFL's suggestion; INFL (three)
takes the majority of the suggestion and two annotators; INFL-D ranks by
plain removal influence (Eq. 2); Active (one/two) by least confidence /
entropy, all answered by the majority of three.  Also reported: the share
of INFL's suggested labels equal to the ground truth (the paper: over 70%).
Each ``--suggestion`` rule (ChefCleaner's ``suggestion``; the paper's is
``infl``, argmin over classes of INFL) gets its own tables.

Usage: python benchmarks/chef_exp1.py [--datasets breast wine digits blobs] [--seeds 3]
       [--suggestion alternative infl] [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from sklearn.metrics import f1_score

from skclean import ChefCleaner, MajorityVoteOracle, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset
from skclean.models import soft_targets

METHODS = {
    "INFL (one)": dict(strategy="infl", label_source="oracle", n_annotators=3),
    "INFL (two)": dict(strategy="infl", label_source="suggested", n_annotators=0),
    "INFL (three)": dict(strategy="infl", label_source="vote", n_annotators=2),
    "INFL-D": dict(strategy="infl_d", label_source="oracle", n_annotators=3),
    "Active (one)": dict(strategy="least_confidence", label_source="oracle", n_annotators=3),
    "Active (two)": dict(strategy="entropy", label_source="oracle", n_annotators=3),
}


def setup(name, seed):
    X, X_hold, y, y_hold = load_dataset(name, test_size=0.4, random_state=seed)
    half = len(X_hold) // 2
    X_val, y_val, X_test, y_test = X_hold[:half], y_hold[:half], X_hold[half:], y_hold[half:]
    rng = np.random.RandomState(seed)
    classes = np.unique(y)
    y_noisy, _ = flip_labels(y, 0.2, random_state=rng)
    P = 0.6 * soft_targets(y_noisy, classes) + 0.4 * rng.dirichlet(np.ones(len(classes)), len(y))
    return X, y, P, X_val, y_val, X_test, y_test, classes


def budget_for(n_rows):
    """The paper cleans 100 rows of tens of thousands; small sets clean at most 20%."""
    return min(100, n_rows // 5)


def run(name, method, b, seed, suggestion, device="cpu"):
    X, y, P, X_val, y_val, X_test, y_test, classes = setup(name, seed)
    budget = budget_for(len(X))
    cfg = dict(METHODS[method])
    k = cfg.pop("n_annotators")
    annotators = [SimulatedOracle(X, y, error_rate=0.05, random_state=100 * seed + i)
                  for i in range(k)]
    oracle = MajorityVoteOracle(annotators) if annotators else None
    c = ChefCleaner(oracle=oracle, budget=budget, batch_size=b, classes=classes, device=device,
                    suggestion=suggestion, random_state=seed, **cfg)
    c.fit(X, P, X_trusted=X_val, y_trusted=y_val)
    rows = np.concatenate([h["rows"] for h in c.history_])
    sugg = np.concatenate([h["suggested"] for h in c.history_])
    agree = float(np.mean(sugg == y[rows])) if cfg["strategy"] == "infl" else np.nan
    return f1_score(y_test, c.predict(X_test), average="weighted"), agree


def uncleaned(name, seed, device="cpu"):
    X, y, P, X_val, y_val, X_test, y_test, classes = setup(name, seed)
    # a target every score reaches: the rounds stop before the first question
    c = ChefCleaner(label_source="suggested", target_score=0.0, classes=classes,
                    budget=1, device=device).fit(X, P, X_trusted=X_val, y_trusted=y_val)
    return f1_score(y_test, c.predict(X_test), average="weighted")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["breast", "wine", "digits", "blobs"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--suggestion", nargs="+", default=["alternative", "infl"],
                   choices=["alternative", "predicted", "infl"])
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    for suggestion, name in ((r, d) for r in args.suggestion for d in args.datasets):
        base = np.mean([uncleaned(name, s, args.device) for s in range(args.seeds)])
        rows = [["uncleaned", f"{base:.3f}", "", ""]]
        for method in METHODS:
            cells = [method]
            agree_all = []
            for b in (100, 10):
                out = [run(name, method, b, s, suggestion, args.device)
                       for s in range(args.seeds)]
                f1 = np.array([o[0] for o in out])
                agree_all += [o[1] for o in out]
                cells.append(f"{f1.mean():.3f} ± {f1.std():.3f}")
            agree = np.nanmean(agree_all) if not np.all(np.isnan(agree_all)) else np.nan
            cells.append("" if np.isnan(agree) else f"{agree:.0%}")
            rows.append(cells)
        n = len(setup(name, 0)[0])
        print_table(f"{name}, suggestion={suggestion!r}: weighted test F1 after cleaning "
                    f"{budget_for(n)} of {n} rows, {args.seeds} seeds (mean ± std)",
                    ["method", "b=100", "b=10", "suggestions = truth"], rows)


if __name__ == "__main__":
    main()
