"""Timing and command-line helpers shared by the benchmark scripts."""

import platform
import statistics
import time

import numpy as np
import torch

DEVICES = ("cpu", "cuda", "auto")


def add_device_argument(parser):
    """Add ``--device {cpu,cuda,auto}`` (default ``cpu``) to an ``argparse`` parser.

    Call :func:`resolve_device` right after ``parse_args``: it turns ``auto`` into
    the device there is, and refuses ``cuda`` where torch sees no CUDA device.
    """
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where skclean's tensors live: cpu (default), cuda (an error "
                             "where torch sees no CUDA device) or auto (cuda when there is "
                             "one, else cpu)")
    return parser


def no_cuda_reason():
    """Why ``--device cuda`` cannot run here, for the error message."""
    built = (f"built with CUDA {torch.version.cuda}" if torch.version.cuda
             else "built without CUDA")
    return f"no CUDA device is visible to torch (torch {torch.__version__}, {built})"


def resolve_device(parser, args):
    """The concrete device for ``args.device``, also stored back in ``args.device``.

    ``auto`` is ``cuda`` when ``torch.cuda.is_available()``, else ``cpu`` (the CPU
    fallback).  ``cuda`` where no CUDA device is visible ends the run through
    ``parser.error`` (exit code 2, a usage line and the reason on stderr), before
    any data is made.
    """
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif torch.device(device).type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {device}: {no_cuda_reason()}; run with --device cpu, or "
                     "--device auto to use a GPU when there is one")
    args.device = device
    return device


def parse_args(parser, argv=None):
    """``parser.parse_args(argv)`` with ``args.device`` resolved (:func:`resolve_device`)."""
    args = parser.parse_args(argv)
    resolve_device(parser, args)
    return args


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


def timed_fit(cleaner, X, y, **fit_params):
    """Fit a ChefCleaner; return its wall seconds and each round's (selection + update)."""
    t0 = time.perf_counter()
    cleaner.fit(X, y, **fit_params)
    total = time.perf_counter() - t0
    return total, [h["time_selection"] + h["time_update"] for h in cleaner.history_]


def machine(device):
    """The hardware a run used, ending with the device it ran on."""
    if torch.device(device).type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, device {device}"
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch "
            f"threads, device {device}")


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
