"""CINCER refit policies side by side: time per iteration (suspicion, selection,
refit) and the resulting quality, on breast cancer with the FC network.

``refit="scratch"`` retrains from the initial weights after every stream row
(the paper's protocol); ``refit="warm_start"`` continues 10 epochs from the
current weights.  Same rows, same noise, same order for both.

Usage: python benchmarks/cincer_refit.py [--dataset breast] [--repeats 3]
       [--device cpu|cuda|auto]
"""

import argparse

import numpy as np
from _util import add_device_argument, machine, parse_args, print_table
from cincer_protocol import mean_se, run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="breast")
    p.add_argument("--strategy", default="top_fisher")
    p.add_argument("--repeats", type=int, default=3)
    add_device_argument(p)
    args = parse_args(p, argv)
    print(f"# machine: {machine(args.device)}")
    rows, split = [], []
    for refit in ["scratch", "warm_start"]:
        runs = [run(args.dataset, args.strategy, seed, refit=refit, device=args.device)
                for seed in range(args.repeats)]
        times = [t for r in runs for t in r["times"]]
        sel = [h["time_selection"] for r in runs for h in r["history"]]
        med = {k: np.median([t[k] for t in times]) for k in times[0]}
        refit_ms = 1e3 * med["refit"]
        split.append([refit, f"{1e3 * med['suspicion']:.2f}",
                      f"{1e3 * np.median(sel):.2f}" if sel else "-", f"{refit_ms:.1f}",
                      f"{100 * np.median(sel) / med['refit']:.1f}%" if sel else "-"])
        rows.append([refit, f"{np.median([r['seconds'] for r in runs]):.1f}",
                     mean_se([r["cleaned"][-1] for r in runs]),
                     mean_se([r["f1"][-1] for r in runs]),
                     mean_se([r["queries"][-1] for r in runs])])
    print_table(f"{args.dataset}/FC, {args.strategy}, 100 stream rows, {args.repeats} repeats: "
                "median time per iteration (ms)",
                ["refit", "suspicion", "selection (per query)", "refit", "selection / refit"],
                split)
    print_table("Whole protocol per repeat and its outcome (mean ± s.e.)",
                ["refit", "s / run (median)", "# cleaned", "F1", "# queries"], rows)


if __name__ == "__main__":
    main()
