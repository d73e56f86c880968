"""Reliability of a person's answers: killed runs, duplicate rows, shared journals.

Usage: python benchmarks/reliability.py [--runs 50] [--seed 0] [--device cpu|cuda|auto]
       (``make stress``; the test suite runs the same checks a few times)

1. **Killed at a random answer.**  For each oracle kind (the ``skclean clean``
   command line, and a script fitting ``ChefCleaner`` with a ``ConsoleOracle``)
   and ``--runs`` times: start the run, type a random number of answers (1-12,
   random labels or ``keep``), wait until the next question is on screen, send
   a random signal (SIGINT, SIGTERM, SIGHUP, SIGKILL), then count the answers
   typed that are not in the journal, check the exit (130 and one line, no
   traceback, for the catchable signals), and run again: no answered row may
   be asked again.
2. **Duplicate and near-duplicate rows x every cleaner.**  Integer-coded
   categorical rows (many exact duplicates whose true labels differ) plus
   copies that differ by 1e-9 (equal in float32); a perfect annotator answers
   by row id and notes every row it is shown.  Count labels changed on rows it
   was never shown.
3. **One journal, two processes** writing 300 answers each at once: answers
   in the file afterwards, and whether it reads back.
"""

import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _util import add_device_argument, machine, parse_args

SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGKILL"]
CATCHABLE = {"SIGINT", "SIGTERM", "SIGHUP"}
NAMES = np.array(["barolo", "grignolino", "barbera"])
PROMPT = "Enter ="

CONSOLE_SCRIPT = """
import sys
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from skclean import ChefCleaner, ConsoleOracle
df = pd.read_csv(sys.argv[1], index_col="bottle")
X = df.drop(columns=["label", "truth", "verified"])
Xs = (X - X.mean()) / X.std()
ChefCleaner(LogisticRegression(max_iter=1000), oracle=ConsoleOracle(data=X), budget=20,
            batch_size=5, journal=sys.argv[2]).fit(Xs, df["label"],
                                                   trusted_mask=df["verified"].to_numpy())
"""


def make_csv(folder):
    from sklearn.datasets import load_wine

    d = load_wine(as_frame=True)
    rng = np.random.RandomState(0)
    df = d.frame.iloc[rng.permutation(len(d.frame))].reset_index(drop=True)
    truth = NAMES[df.pop("target").to_numpy()]
    label = truth.copy()
    flip = rng.rand(len(df)) < 0.2
    label[flip] = NAMES[(np.searchsorted(NAMES, truth[flip], sorter=np.argsort(NAMES)) + 1) % 3]
    verified = np.arange(len(df)) < 24
    label[verified] = truth[verified]
    df.insert(0, "bottle", [f"b{i:03d}" for i in range(len(df))])
    df["label"], df["truth"], df["verified"] = label, truth, verified
    path = Path(folder) / "wine.csv"
    df.to_csv(path, index=False)
    return path


def journal_count(path):
    if not Path(path).exists():
        return 0
    with sqlite3.connect(path) as con:
        try:
            return con.execute("SELECT COUNT(DISTINCT row_key) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def command(kind, csv, journal, out):
    if kind == "cli":
        return [sys.executable, "-m", "skclean", "clean", str(csv), "--label", "label",
                "--trusted", "verified", "--index-col", "bottle", "--out", str(out),
                "--journal", str(journal), "--budget", "20", "--batch-size", "5"]
    return [sys.executable, "-c", CONSOLE_SCRIPT, str(csv), str(journal)]


def killed_run(kind, csv, folder, rng):
    """One run killed at a random answer: (typed, lost, clean_exit, asked_again)."""
    journal, out = Path(folder) / f"{kind}.sqlite", Path(folder) / f"{kind}.csv"
    for p in (journal, out):
        p.unlink(missing_ok=True)
    k = int(rng.randint(1, 13))
    answers = [str(rng.choice(NAMES)) if rng.rand() < 0.5 else "keep" for _ in range(k)]
    sig = SIGNALS[rng.randint(len(SIGNALS))]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(command(kind, csv, journal, out), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(iter(lambda: proc.stdout.read(1), "")),
                              daemon=True)
    reader.start()
    proc.stdin.write("".join(a + "\n" for a in answers))
    proc.stdin.flush()
    deadline = time.time() + 120
    while "".join(seen).count(PROMPT) < k + 1 and time.time() < deadline:  # question k+1 shown
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    proc.wait(timeout=60)  # stdout is the reader thread's
    err = proc.stderr.read()
    reader.join(timeout=5)
    kept = journal_count(journal)
    # the command line's promise: one line and exit code 130 (a script exits as Python does)
    clean = None if kind != "cli" or sig not in CATCHABLE else (
        proc.returncode == 130 and "Traceback" not in err and "interrupted;" in err)
    # the same run again: every answered row is replayed, never asked
    again = subprocess.run(command(kind, csv, journal, out), input="keep\n" * 40,
                           capture_output=True, text=True, timeout=300, env=env)
    asked_again = 20 - kept - again.stdout.count(PROMPT)  # < 0: an answered row asked again
    return k, k - kept, clean, max(0, -asked_again)


def duplicate_rows(seed, device="cpu"):
    """Labels changed on rows the annotator was never shown, per cleaner."""
    from sklearn.linear_model import LogisticRegression

    from skclean import (
        ChefCleaner,
        CincerCleaner,
        ClassBasedIFDetector,
        ModelBasedDetector,
        ReviewCleaner,
    )

    rng = np.random.RandomState(seed)
    X = rng.randint(0, 3, size=(900, 4)).astype(float)
    near = rng.rand(900) < 0.2
    X[near, 0] += 1e-9  # equal to its neighbours in float32
    truth = ((X.round().sum(1) + rng.randint(0, 2, 900)) % 3).astype(int)
    noisy = truth.copy()
    flip = rng.rand(900) < 0.25
    noisy[flip] = (noisy[flip] + 1) % 3
    trusted = np.arange(900) < 90
    noisy[trusted] = truth[trusted]
    lr = LogisticRegression(max_iter=1000)
    out = {}
    makers = {
        "ChefCleaner": lambda o: ChefCleaner(lr, oracle=o, budget=60, batch_size=10,
                                             device=device, random_state=seed),
        "CincerCleaner": lambda o: CincerCleaner(lr, oracle=o, bootstrap_size=300,
                                                 device=device, random_state=seed),
        "ModelBasedDetector": lambda o: ModelBasedDetector(lr, oracle=o, n_rounds=4,
                                                           query_size=20, device=device,
                                                           random_state=seed),
        "ReviewCleaner": lambda o: ReviewCleaner(ClassBasedIFDetector(
            lr, device=device, random_state=seed), oracle=o, budget=60, batch_size=10),
    }
    for name, make in makers.items():
        shown = set()

        def annotator(Xq, yq, row_ids, shown=shown, **ctx):
            shown.update(int(r) for r in row_ids)
            return truth[np.asarray(row_ids, dtype=int)]

        params = {} if name == "CincerCleaner" else {"trusted_mask": trusted}
        _, cleaned = make(annotator).fit_resample(X, noisy, **params)
        changed = set(np.flatnonzero(np.asarray(cleaned) != noisy).tolist())
        out[name] = (len(shown), len(changed), len(changed - shown))
    return out


WRITER = """
import sys, numpy as np
from skclean.questions import Journal
j = Journal(sys.argv[1])
for i in range(300):
    j.record([{"row_id": f"{sys.argv[2]}-{i}", "fingerprint": "f", "answer": int(i % 3)}])
"""


def shared_journal(folder):
    path = Path(folder) / "shared.sqlite"
    path.unlink(missing_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), who],
                              stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    from skclean.questions import Journal

    return journal_count(path), len(Journal(path)), [e for e in errors if e.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    add_device_argument(p)
    args = parse_args(p, argv)
    rng = np.random.RandomState(args.seed)
    t0 = time.time()
    # the killed runs (1.) start `skclean clean`, which has no --device option, and a script
    # with the same model: both run on the CPU, what they measure is the journal, not speed;
    # the cleaners of 2. run on --device
    lines = [f"Reliability, {args.runs} killed runs per oracle kind (seed {args.seed}); "
             f"machine: {machine(args.device)}"
             + (" (killed runs on the CPU)" if args.device != "cpu" else ""), ""]
    with tempfile.TemporaryDirectory() as folder:
        csv = make_csv(folder)
        lines += ["| oracle kind | runs | answers typed | typed answers lost | clean exits "
                  "(catchable signals) | answered rows asked again |",
                  "|---|---|---|---|---|---|"]
        for kind in ("cli", "console"):
            rows = [killed_run(kind, csv, folder, rng) for _ in range(args.runs)]
            typed = sum(r[0] for r in rows)
            lost = sum(r[1] for r in rows)
            judged = [r[2] for r in rows if r[2] is not None]
            again = sum(r[3] for r in rows)
            label = "skclean clean (CLI)" if kind == "cli" else "script + ConsoleOracle"
            clean = f"{sum(judged)} of {len(judged)}" if kind == "cli" else "(Python's own)"
            lines.append(f"| {label} | {args.runs} | {typed} | {lost} | {clean} | {again} |")
        lines += ["", "Signals drawn at random among " + ", ".join(SIGNALS) + ". The CLI ends "
                  "a catchable one with one line and exit code 130; a user's script ends as "
                  "Python ends it.", ""]
        lines += ["| cleaner (duplicate + near-duplicate rows) | rows shown | labels changed "
                  "| changed but never shown |", "|---|---|---|---|"]
        for name, (shown, changed, unseen) in duplicate_rows(args.seed, args.device).items():
            lines.append(f"| {name} | {shown} | {changed} | {unseen} |")
        n_rows, n_read, errors = shared_journal(folder)
        lines += ["", f"Two processes writing 300 answers each to one journal at once: "
                  f"{n_rows} answers in the file, {n_read} read back, "
                  f"{len(errors)} writer error(s)."]
    lines += ["", f"total {time.time() - t0:.0f} s"]
    text = "\n".join(lines)
    print(re.sub(r"\n{3,}", "\n\n", text))


if __name__ == "__main__":
    main()
