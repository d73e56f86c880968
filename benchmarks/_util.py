"""Timing helpers shared by the benchmark scripts."""

import platform
import statistics
import time

import numpy as np
import torch


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, repeats=7, warmup=1, device="cpu"):
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine(device):
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def print_table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def rank_with_fisher_sample(cleaner, m, x, y, rng):
    """CINCER's counter-example ranking for ``(x, y)`` with the Top Fisher estimated on a
    fresh reservoir of ``m`` rows of the fitted cleaner's ``X_`` (``None``: every row): the
    same model, another sample; built from the public influence functions."""
    from skclean.influence import counterexample_scores, fisher_inverse
    from skclean.utils import ReservoirSample

    a = cleaner.adapter_
    U1, Z = a.augmented_outputs(cleaner.X_)
    rows = ReservoirSample(m, len(cleaner.X_), rng).rows()
    inverse = fisher_inverse(a, outputs=(U1[rows], Z[rows]))
    pred = cleaner.predict(x[None])[0]
    cand = np.flatnonzero(cleaner.y_ == pred)  # pertinent candidates
    scores = counterexample_scores(a, x, y, cleaner.X_[cand], cleaner.y_[cand], inverse=inverse)
    return cand[np.argsort(-scores, kind="stable")]
