"""CHEF Exp2: selection time per round, full INFL vs Increm-INFL.

A synthetic binary problem the size of the paper's largest (78,000 rows ×
2,048 features; MIMIC in the paper) and a small one.  Logistic regression,
b = 10, INFL (two) so no oracle time is counted.  Per round we time the
solve of ``v = H⁻¹∇L_val`` (CG over Hessian-vector products) and the ranking
(full: every row and class; incremental: bounds, then exact INFL for the
surviving rows), and check both pick the same rows.  The paper reports
151 s (full) and 2.8 s (Increm-INFL) per round on MIMIC.

Usage: python benchmarks/chef_exp2.py [--sizes 78000x2048 5000x64] [--rounds 6]
       [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner
from skclean.datasets import flip_labels


def timed_rounds(X, y, selection, rounds, device="cpu"):
    c = ChefCleaner(LogisticRegression(C=1.0, max_iter=200), label_source="suggested",
                    selection=selection, solver="cg", budget=10 * rounds, batch_size=10,
                    validation_fraction=0.01, device=device, random_state=0)
    c.fit(X, y)
    solve = [h["time_solve"] for h in c.history_]  # the solve's share of the selection
    total = [h["time_selection"] for h in c.history_]
    rank = [t - s for t, s in zip(total, solve, strict=True)]
    return c, np.array(solve), np.array(rank), np.array([h["n_exact"] for h in c.history_])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["78000x2048", "5000x64"])
    p.add_argument("--rounds", type=int, default=6)
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    for size in args.sizes:
        n, d = map(int, size.split("x"))
        X, y = make_classification(n_samples=n, n_features=d, n_informative=min(d, 50),
                                   random_state=0)
        X = X.astype(np.float64)
        y, _ = flip_labels(y, 0.1, random_state=0)
        res = {s: timed_rounds(X, y, s, args.rounds, args.device) for s in ["full", "incremental"]}
        same = all(np.array_equal(a["rows"], b["rows"]) for a, b in
                   zip(res["full"][0].history_, res["incremental"][0].history_, strict=True))
        rows = []
        # round 1 of the incremental run is its initialisation round; later rounds prune
        for s, (_, solve, rank, n_exact) in res.items():
            later = slice(1, None)
            rows.append([s, f"{np.median(solve[later]):.2f}", f"{np.median(rank[later]):.3f}",
                         f"{np.median(solve[later] + rank[later]):.2f}",
                         f"{rank[0]:.3f}", f"{int(np.median(n_exact[later]))}"])
        ratio = np.median(res["full"][2][1:]) / np.median(res["incremental"][2][1:])
        print_table(f"{n} rows x {d} features, b=10, {args.rounds} rounds: median seconds "
                    f"per round after the first (same rows picked: {same})",
                    ["selection", "solve v (CG)", "rank", "total", "round 1 rank",
                     "rows evaluated exactly"], rows)
        print(f"ranking speed-up of Increm-INFL over full: {ratio:.1f}x")


if __name__ == "__main__":
    main()
