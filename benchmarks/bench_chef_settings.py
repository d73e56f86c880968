"""CHEF rounds against the user's own from-scratch fit, on the settings users pass.

``bench_chef_round.py`` times one configuration (its own data and solver
settings).  This one follows the user: for each setting a user might give
``LogisticRegression`` (``C``, ``tol``, ``class_weight``, ``fit_intercept``,
float32 or float64 rows, dense or sparse, 10⁴–10⁵ rows, 10²–10³ features,
easy and hard problems), it times in one run

* the yardstick: ``LogisticRegression(**settings).fit`` on the noisy labels
  (median of ``--repeats``);
* ``ChefCleaner(LogisticRegression(**settings), oracle=SimulatedOracle(...),
  budget=40, batch_size=10)`` with 1,000 clean trusted rows (median of
  ``--repeats`` whole fits), and its rounds: the first (which pays for the
  one-off work: a cold solve, a factorisation if CG needs one) and the median
  of the later ones.

Two ratios: a later round over the user's fit, and the issue's amortised
measure ``(whole CHEF fit − one user fit) / rounds`` over the user's fit,
which charges the first round and the set-up to the four rounds.

Usage: python benchmarks/bench_chef_settings.py [--repeats 3] [--only NAME ...]
       [--device cpu|cuda|auto]
"""

import argparse
import statistics
import sys

import numpy as np
import scipy.sparse as sp
from _util import add_device_argument, machine, median_time, parse_args, print_table, timed_fit
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner, SimulatedOracle

N_TRUSTED = 1000


def gaussian(n, d, seed, classes=2, positive=None):
    """Gaussian rows, labels from a random linear model (the issue's data)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n + N_TRUSTED, d)
    Z = X @ rng.randn(d, classes if classes > 2 else 1)
    if classes > 2:
        y = Z.argmax(1)
    else:
        cut = 0.0 if positive is None else np.quantile(Z, 1 - positive)
        y = (Z[:, 0] > cut).astype(int)
    return X, y


def overlapping(n, d, seed):
    """Many informative but weak directions: classes overlap (a hard problem)."""
    return make_classification(n + N_TRUSTED, d, n_informative=d // 2, n_redundant=0,
                               class_sep=0.5, flip_y=0.0, random_state=seed)


def sparse_text(n, d, seed, density=0.005):
    """TF-IDF-like rows: non-negative, 0.5% non-zero, labels from a sparse linear model."""
    rng = np.random.RandomState(seed)
    X = sp.random(n + N_TRUSTED, d, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: rng.exponential(1.0, k))
    X = sp.csr_matrix(X.multiply(1 / np.sqrt(X.multiply(X).sum(1) + 1e-12)))
    z = X @ rng.randn(d)
    return X, (z > np.median(z)).astype(int)


# name, (generator, n, d, kwargs), LogisticRegression settings, float dtype
SETTINGS = [
    ("issue: 20000x512 float32", (gaussian, 20_000, 512, {}), {}, np.float32),
    ("float64 rows", (gaussian, 20_000, 512, {}), {}, np.float64),
    ("C=0.01", (gaussian, 20_000, 512, {}), {"C": 0.01}, np.float32),
    ("C=100", (gaussian, 20_000, 512, {}), {"C": 100.0}, np.float32),
    ("tol=1e-6", (gaussian, 20_000, 512, {}), {"tol": 1e-6}, np.float32),
    ("class_weight='balanced', 10% positive", (gaussian, 20_000, 512, {"positive": 0.1}),
     {"class_weight": "balanced"}, np.float32),
    ("fit_intercept=False", (gaussian, 20_000, 512, {}), {"fit_intercept": False},
     np.float32),
    ("100000x100", (gaussian, 100_000, 100, {}), {}, np.float32),
    ("hard: 10000x1000 overlapping", (overlapping, 10_000, 1000, {}), {}, np.float64),
    ("5 classes, 20000x200", (gaussian, 20_000, 200, {"classes": 5}), {}, np.float32),
    ("sparse TF-IDF 50000x2000", (sparse_text, 50_000, 2000, {}), {}, np.float64),
]


def make_problem(setting, seed=0):
    _, (gen, n, d, kw), _, dtype = setting
    X, y = gen(n, d, seed, **kw)
    X = X.astype(dtype)
    X_t, y_t, X, y = X[:N_TRUSTED], y[:N_TRUSTED], X[N_TRUSTED:], y[N_TRUSTED:]
    rng = np.random.RandomState(seed + 1)
    flip = rng.rand(len(y)) < 0.2
    classes = np.unique(y)
    shift = rng.randint(1, len(classes), len(y))
    y_noisy = np.where(flip, classes[(np.searchsorted(classes, y) + shift) % len(classes)], y)
    return X, y, y_noisy, X_t, y_t


def run_chef(settings, X, y, y_noisy, X_t, y_t, device):
    chef = ChefCleaner(LogisticRegression(max_iter=1000, **settings),
                       oracle=SimulatedOracle(X, y), budget=40, batch_size=10,
                       device=device, random_state=0)
    return (*timed_fit(chef, X, y_noisy, X_trusted=X_t, y_trusted=y_t), chef)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", nargs="+", default=None,
                   help="run the settings whose name contains one of these strings")
    add_device_argument(p)
    args = parse_args(p, argv)
    device = args.device
    given = sys.argv[1:] if argv is None else argv
    print(f"# python benchmarks/bench_chef_settings.py {' '.join(given)}".rstrip())
    print(f"# machine: {machine(device)}; budget 40, batch_size 10 (4 rounds), 20% of labels "
          f"flipped, {N_TRUSTED} trusted rows; median of {args.repeats} runs each")
    rows = []
    for setting in SETTINGS:
        name, _, settings, _ = setting
        if args.only and not any(s in name for s in args.only):
            continue
        X, y, y_noisy, X_t, y_t = make_problem(setting)
        user = LogisticRegression(max_iter=1000, **settings)
        t_fit = median_time(lambda u=user, X=X, y=y_noisy: u.fit(X, y), repeats=args.repeats,
                            warmup=0)
        n_iter = int(np.max(user.n_iter_))
        runs = [run_chef(settings, X, y, y_noisy, X_t, y_t, device)
                for _ in range(args.repeats)]
        total = statistics.median(r[0] for r in runs)
        first = statistics.median(r[1][0] for r in runs)
        later = statistics.median(statistics.median(r[1][1:]) for r in runs)
        n_rounds = len(runs[0][1])
        chef = runs[0][2]
        rows.append([name, f"{t_fit:.3f} ({n_iter})", f"{first:.3f}", f"{later:.3f}",
                     f"{later / t_fit:.2f}x", f"{(total - t_fit) / n_rounds / t_fit:.2f}x",
                     chef.adapter_.dtype.__repr__().replace("torch.", "")])
        print(f"  done: {name}", file=sys.stderr)
    print_table("CHEF rounds against LogisticRegression(**settings).fit on the same rows",
                ["setting", "user fit s (L-BFGS iters)", "round 1 s", "later rounds s",
                 "later / fit", "(whole - fit) / rounds / fit", "CHEF dtype"], rows)


if __name__ == "__main__":
    main()
