"""Scoring every training row against one query: closed-form GEMMs vs autograd.

A suspicious query row asks "which training row influences me most?" (CINCER,
Eq. 12). With last-layer gradients kept as factors ``(U1, R)`` every score is
``((U1 @ V.T) * R).sum(1)`` for ``V = F^+ g_query``; the naive way materialises
the ``N × K·(d+1)`` per-example gradient matrix with autograd first.

Usage: python benchmarks/bench_influence.py [--n 60000] [--width 128]
       [--classes 10] [--device cpu|cuda|auto] [--repeats 7]
"""

import argparse

import numpy as np
import torch
from _util import add_device_argument, machine, median_time, parse_args, print_table
from torch import nn

from skclean.influence import SymmetricInverse, top_fisher
from skclean.models import make_adapter, wrap_module


def build(n, width, classes, device, seed=0):
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 32).astype(np.float32)
    y = rng.randint(0, classes, n)
    module = nn.Sequential(nn.Linear(32, width), nn.ReLU(), nn.Linear(width, classes))
    net = wrap_module(module, device=device, max_epochs=1, batch_size=1024)
    adapter = make_adapter(net, device=device, random_state=seed).fit(X, y)
    return adapter, X, y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60_000)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--classes", type=int, default=10)
    add_device_argument(p)
    p.add_argument("--repeats", type=int, default=7)
    args = parse_args(p, argv)
    adapter, X, y = build(args.n, args.width, args.classes, args.device)
    xq, yq = X[:1], y[:1]
    print(f"N={args.n}, penultimate width={args.width}, classes={args.classes}, "
          f"P={adapter.n_params()} last-layer parameters, machine: {machine(args.device)}")

    # refresh (once per model update): factors, Top Fisher, its pseudo-inverse
    t_factors = median_time(lambda: adapter.last_layer_grads(X, y), args.repeats,
                            device=args.device)
    t_fisher = median_time(lambda: top_fisher(adapter, X), args.repeats, device=args.device)
    F = top_fisher(adapter, X)
    t_pinv = median_time(lambda: SymmetricInverse(F), 3, device=args.device)
    grads = adapter.last_layer_grads(X, y)
    Finv = SymmetricInverse(F)

    def gemm_query():
        g = adapter.last_layer_grads(xq, yq)
        v = Finv(g.materialize()[0])  # one K·(d+1) vector
        return torch.argmax(-grads.dot(v))

    def autograd_query():
        G = adapter.per_example_grads(X, y)  # N × P, by torch.func vmap(grad)
        g = adapter.per_example_grads(xq, yq)[0]
        return torch.argmax(-(G @ Finv(g)))

    G_cached = adapter.per_example_grads(X, y)

    def cached_matrix_query():
        g = adapter.per_example_grads(xq, yq)[0]
        return torch.argmax(-(G_cached @ Finv(g)))

    assert int(gemm_query()) == int(autograd_query()), "both paths must pick the same row"
    t_gemm = median_time(gemm_query, args.repeats, device=args.device)
    t_auto = median_time(autograd_query, max(3, args.repeats // 2), device=args.device)
    t_cached = median_time(cached_matrix_query, args.repeats, device=args.device)
    # the floor: one read of the factors every query must touch (a reduction over each)
    t_floor = median_time(lambda: (float(grads.U1.sum()), float(grads.R.sum())), args.repeats,
                          device=args.device)
    mib_factors = sum(t.numel() * t.element_size() for t in (grads.U1, grads.R)) / 2**20
    # the other floor: the N·K·d' multiply-adds every query needs (K per number read), at
    # the rate this machine reaches on a large square GEMM of the same dtype
    sq = torch.randn(2048, 2048, dtype=grads.U1.dtype, device=args.device)
    t_sq = median_time(lambda: sq @ sq, 5, device=args.device)
    gflops = 2 * 2048**3 / t_sq / 1e9
    t_compute = 2 * grads.U1.numel() * grads.R.shape[1] / (gflops * 1e9)
    mb = G_cached.numel() * G_cached.element_size() / 2**20

    ms = lambda t: f"{1e3 * t:.1f}"  # noqa: E731
    print_table(
        "Per query: score all N candidates (median of repeats)",
        ["path", "ms / query", "vs GEMM path"],
        [
            [f"memory floor: one read of (U1, R), {mib_factors:.0f} MiB", ms(t_floor),
             f"{t_floor / t_gemm:.2f}x"],
            [f"compute floor: N·K·d' multiply-adds at {gflops:.0f} GFLOP/s (square GEMM)",
             ms(t_compute), f"{t_compute / t_gemm:.2f}x"],
            ["closed-form GEMMs over (U1, R)", ms(t_gemm), "1.0x"],
            ["autograd per-example grads, materialised", ms(t_auto), f"{t_auto / t_gemm:.0f}x"],
            [f"pre-materialised N x P matrix ({mb:.0f} MiB kept)", ms(t_cached),
             f"{t_cached / t_gemm:.1f}x"],
        ],
    )
    print_table(
        "Per model refresh",
        ["step", "ms"],
        [
            ["features + residuals (U1, R) for N rows", ms(t_factors)],
            ["Top Fisher build (P x P)", ms(t_fisher)],
            ["Top Fisher pseudo-inverse (eigh)", ms(t_pinv)],
        ],
    )


if __name__ == "__main__":
    main()
