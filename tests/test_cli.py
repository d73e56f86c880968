"""``skclean clean`` on a CSV, as a user runs it.

Most runs call the command's ``main`` in this process, with its standard
streams swapped (starting a Python that imports torch costs seconds a run);
the end-to-end run, ``--version`` and the signals go through a real process.
"""

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

NAMES = np.array(["barolo", "grignolino", "barbera"])


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    d = load_wine(as_frame=True)
    rng = np.random.RandomState(0)
    df = d.frame.iloc[rng.permutation(len(d.frame))].reset_index(drop=True)
    truth = NAMES[df.pop("target").to_numpy()]
    label = truth.copy()
    flip = rng.rand(len(df)) < 0.2
    label[flip] = NAMES[(np.searchsorted(NAMES, truth[flip], sorter=np.argsort(NAMES)) + 1) % 3]
    verified = np.zeros(len(df), dtype=bool)
    verified[:24] = True
    label[verified] = truth[verified]
    df.insert(0, "bottle", [f"b{i}" for i in range(len(df))])
    df["label"], df["truth"], df["verified"] = label, truth, verified
    path = tmp_path_factory.mktemp("cli") / "wine.csv"
    df.to_csv(path, index=False)
    return path, df


def skclean(*args, stdin="", process=False):
    """Run ``skclean ARGS`` with ``stdin`` typed in: ``returncode``, ``stdout``, ``stderr``."""
    if process:
        return subprocess.run([sys.executable, "-m", "skclean", *map(str, args)], input=stdin,
                              capture_output=True, text=True, timeout=300)
    from skclean.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch("sys.stdin", io.StringIO(stdin)), redirect_stdout(out), \
            redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's errors, --help
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return SimpleNamespace(returncode=code or 0, stdout=out.getvalue(), stderr=err.getvalue())


def test_dry_run_with_a_simulated_annotator_fixes_labels(csv, tmp_path):
    path, df = csv
    out, audit = tmp_path / "clean.csv", tmp_path / "audit.csv"
    r = skclean("clean", path, "--label", "label", "--trusted", "verified", "--truth", "truth",
                "--index-col", "bottle", "--out", out, "--audit", audit, "--budget", 20,
                process=True)
    assert r.returncode == 0, r.stderr
    cleaned = pd.read_csv(out, index_col="bottle")
    assert list(cleaned.index) == list(df["bottle"])  # the user's ids, the user's order
    wrong_before = (df["label"] != df["truth"]).sum()
    wrong_after = (cleaned["label"] != cleaned["truth"]).sum()
    assert wrong_after <= wrong_before - 10
    rep = pd.read_csv(audit)
    assert len(rep) == 20 and rep["row_id"].str.startswith("b").all()
    assert (rep["applied"] == df.set_index("bottle").loc[rep["row_id"], "truth"].values).all()
    assert "asked about 20 row(s), 20 answered" in r.stdout


@pytest.mark.parametrize("method", ["detector", "chef"])
def test_a_person_answers_then_ends_input_and_resumes_from_the_journal(csv, tmp_path, method):
    path, df = csv
    out, journal = tmp_path / "clean.csv", tmp_path / "answers.sqlite"
    args = ["clean", path, "--label", "label", "--trusted", "verified", "--index-col",
            "bottle", "--out", out, "--journal", journal, "--budget", 6, "--batch-size", 3,
            "--method", method]
    first = skclean(*args, stdin="barbera\nkeep\n")  # two answers, then end of input
    assert first.returncode == 0, first.stderr
    assert "End of input" in first.stdout and "question 1 of 6: row b" in first.stdout
    assert "alcohol=" in first.stdout  # the raw row, with its column names
    assert "Enter = accept" in first.stdout  # a suggestion to accept with one key
    assert "asked:" not in first.stderr  # no progress bar between a person's questions
    cleaned = pd.read_csv(out, index_col="bottle")
    assert (cleaned["label"] != df.set_index("bottle")["label"]).sum() <= 1
    # run again: the two answers come from the journal, the person is asked the rest
    second = skclean(*args, stdin="skip\n" * 6)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("--- question") == 4
    assert "question 1 of 6" not in second.stdout


@pytest.mark.parametrize("args,message", [
    (["--label", "nope"], "--label 'nope': no such column"),
    (["--label", "label", "--truth", "alcohol"], "--truth 'alcohol' holds labels"),
    (["--label", "label", "--trusted", "nothing_trusted"], "marks no row"),
    (["--label", "label", "--trusted", "alcohol"], "must hold true/false"),
])
def test_bad_inputs_get_one_line_and_exit_code_2(csv, tmp_path, args, message):
    path, df = csv
    bad = df.assign(nothing_trusted=False)
    bad_path = tmp_path / "bad.csv"
    bad.to_csv(bad_path, index=False)
    base = ["--trusted", "verified"] if "--trusted" not in args else []
    r = skclean("clean", bad_path, *args, *base, "--out", tmp_path / "o.csv")
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.answers.sqlite").exists()  # no journal for a run that never asked


def test_unreadable_file_and_version_and_help(tmp_path):
    r = skclean("clean", tmp_path / "missing.csv", "--label", "y", "--out", tmp_path / "o.csv")
    assert r.returncode == 2 and "cannot read" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    v = skclean("--version", process=True)
    assert v.returncode == 0 and v.stdout.startswith("skclean ")
    h = skclean("clean", "--help")
    assert h.returncode == 0 and "examples:" in h.stdout and "--journal" in h.stdout


# ------------------------------------------------------------ answers and files are kept
@pytest.fixture(scope="module")
def raw_csv(tmp_path_factory):
    """A CSV as people write them: zero-padded ids, a repeated header, a class named NA,
    numbers written their own way, a cell a spreadsheet would run."""
    d = load_wine(as_frame=True)
    rng = np.random.RandomState(1)
    frame = d.frame.iloc[rng.permutation(len(d.frame))].reset_index(drop=True)
    names = np.array(["NA", "grignolino", "barbera"])
    truth = names[frame.pop("target").to_numpy()]
    label = truth.copy()
    flip = rng.rand(len(frame)) < 0.2
    label[flip] = names[(np.searchsorted(names, truth[flip], sorter=np.argsort(names)) + 1) % 3]
    verified = np.arange(len(frame)) < 30
    label[verified] = truth[verified]
    header = ["id", *frame.columns[:6], "label", "truth", "verified", "note", "note"]
    lines = [",".join(header)]
    for i in range(len(frame)):
        cells = [f"{i:05d}", *(f"{v:.2f}" for v in frame.iloc[i, :6]), label[i], truth[i],
                 "yes" if verified[i] else "no", "=SUM(A1:A9)" if i % 7 == 0 else "x", "1"]
        lines.append(",".join(cells))
    path = tmp_path_factory.mktemp("raw") / "raw.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(path):
    import csv as csv_module

    with open(path, newline="") as f:
        return list(csv_module.reader(f))


def test_the_cleaned_csv_changes_only_labels_and_the_journal_is_kept_by_default(raw_csv,
                                                                             tmp_path):
    out, audit = tmp_path / "clean.csv", tmp_path / "audit.csv"
    r = skclean("clean", raw_csv, "--label", "label", "--trusted", "verified", "--truth",
                "truth", "--index-col", "id", "--out", out, "--audit", audit, "--budget", 25)
    assert r.returncode == 0, r.stderr
    journal = tmp_path / "clean.answers.sqlite"  # next to --out, named in the output
    assert journal.exists() and f"answers kept in {journal}" in r.stdout
    before, after = _rows(raw_csv), _rows(out)
    assert before[0] == after[0] and len(before) == len(after)  # the header as written
    label = before[0].index("label")
    changed = 0
    for b, a in zip(before[1:], after[1:], strict=True):
        assert b[:label] + b[label + 1:] == a[:label] + a[label + 1:]  # every other cell
        changed += b[label] != a[label]
        assert a[label] == a[label + 1] or b[label] == a[label]  # a change fixes the label
    assert changed >= 5 and any(row[label] == "NA" for row in after[1:])
    report = pd.read_csv(audit, dtype=str, keep_default_na=False)
    assert set(report["row_id"]) <= {row[0] for row in before[1:]}  # '00007', not 7


def test_outputs_that_would_destroy_data_are_refused_before_any_question(raw_csv, tmp_path):
    original = raw_csv.read_bytes()
    journal, notes = tmp_path / "answers.sqlite", tmp_path / "notes.txt"
    notes.write_text("my notes, not a journal\n" * 50)
    base = ["clean", raw_csv, "--label", "label", "--trusted", "verified", "--index-col", "id"]
    for extra, message in [
        (["--out", raw_csv], "--out .* is the same file as DATA.csv"),
        (["--out", journal, "--journal", journal], "--journal .* is the same file as --out"),
        (["--out", tmp_path / "o.csv", "--audit", tmp_path / "o.csv"], "same file as --out"),
        (["--out", tmp_path / "no" / "such" / "o.csv"], "does not exist"),
        (["--out", tmp_path / "o.csv", "--journal", ""], "names no file"),
        (["--out", tmp_path / "o.csv", "--journal", notes], "not a readable skclean journal"),
    ]:
        r = skclean(*base, *map(str, extra), stdin="barbera\n" * 5)
        assert r.returncode == 2, (extra, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
        assert pd.Series([r.stderr]).str.contains(message).all(), r.stderr
        assert "--- question" not in r.stdout  # refused before anyone was asked
    assert raw_csv.read_bytes() == original and notes.read_text().startswith("my notes")
    assert not journal.exists() and not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_an_interrupted_person_loses_no_typed_answer(raw_csv, tmp_path, signal_name):
    import signal
    import sqlite3
    import time

    out, journal = tmp_path / "clean.csv", tmp_path / "answers.sqlite"
    args = [sys.executable, "-m", "skclean", "clean", str(raw_csv), "--label", "label",
            "--trusted", "verified", "--index-col", "id", "--out", str(out), "--journal",
            str(journal), "--budget", 20, "--batch-size", 5]
    proc = subprocess.Popen(list(map(str, args)), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("keep\n" * 7)  # one question of 5 answered, two answers into the next
    proc.stdin.flush()
    n, deadline = 0, time.time() + 120
    while n < 7 and time.time() < deadline:
        time.sleep(0.2)
        if journal.exists():
            with sqlite3.connect(journal) as con:
                try:
                    n = con.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
    time.sleep(0.5)  # the person is looking at the eighth row
    assert n == 7  # each answer was in the file before the next question
    proc.send_signal(getattr(signal, signal_name))
    stdout, stderr = proc.communicate(timeout=60)
    if signal_name == "SIGKILL":  # no goodbye, and nothing typed is lost either
        assert proc.returncode == -signal.SIGKILL
        with sqlite3.connect(journal) as con:
            assert con.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 7
    else:
        assert proc.returncode == 130, stderr
        assert "Traceback" not in stderr
        assert f"interrupted; 7 answer(s) kept in {journal}" in stderr
        assert "run the same command again to resume" in stderr
    assert not out.exists()  # nothing half-written
    resumed = skclean(*args[3:], stdin="keep\n" * 20)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("--- question") == 13  # the 7 answers were not asked again


def test_without_verified_rows_cincer_cleans_and_says_so(csv, tmp_path):
    path, df = csv
    out, audit = tmp_path / "clean.csv", tmp_path / "audit.csv"
    r = skclean("clean", path, "--label", "label", "--truth", "truth", "--index-col", "bottle",
                "--out", out, "--audit", audit, "--budget", 24)
    assert r.returncode == 0, r.stderr
    assert "no --trusted column: cleaning with CINCER" in r.stdout
    rep = pd.read_csv(audit)
    asked = rep[~rep["from_journal"]]
    assert len(asked) <= 26 and (~asked["skipped"]).sum() <= 24  # the budget, in rows asked
    assert set(rep["role"]) == {"suspicious", "counterexample"}
    cleaned = pd.read_csv(out, index_col="bottle")
    assert (cleaned["label"] != cleaned["truth"]).sum() < (df["label"] != df["truth"]).sum()
    r = skclean("clean", path, "--label", "label", "--method", "chef", "--out", out)
    assert r.returncode == 2 and "--method chef ranks rows by rows whose labels you have " \
        "verified: name them with --trusted COL, or use --method cincer" in r.stderr


def test_every_method_runs(csv, tmp_path):
    path, _ = csv
    for method in ("model-based", "cincer"):
        out = tmp_path / f"{method}.csv"
        r = skclean("clean", path, "--label", "label", "--trusted", "verified", "--truth",
                    "truth", "--index-col", "bottle", "--out", out, "--budget", 10,
                    "--method", method)
        assert r.returncode == 0, r.stderr
        assert "asked about" in r.stdout and out.exists()


@pytest.fixture(scope="module")
def text_csv(tmp_path_factory):
    """Reviews with a date, a region, a free-text column and an id-like code column."""
    rng = np.random.default_rng(2)
    n = 240
    words = {"good": "great lovely fine excellent sturdy", "bad": "awful broken poor terrible",
             "meh": "okay average plain ordinary"}
    truth = rng.choice(sorted(words), n)
    review = [" ".join([*rng.choice(words[t].split(), 3), *rng.choice(
        "the a product box item arrived".split(), 3)]) for t in truth]
    label = truth.copy()
    flip = rng.random(n) < 0.2
    label[flip] = np.array(sorted(words))[(np.searchsorted(sorted(words), truth[flip]) + 1) % 3]
    verified = np.arange(n) < 45
    label[verified] = truth[verified]
    df = pd.DataFrame({"id": [f"r{i:04d}" for i in range(n)],
                       "when": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
                       "region": rng.choice(["north", "south", "east"], n),
                       "size": rng.normal(size=n).round(3), "review": review,
                       "code": [f"c{v}x" for v in rng.permutation(10**6)[:n]],
                       "label": label, "truth": truth, "verified": verified})
    df.loc[5, "review"] = None  # a missing text has no words
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    df.to_csv(path, index=False)
    return path, df


def test_string_columns_are_encoded_and_the_output_says_how(text_csv, tmp_path):
    path, df = text_csv
    out = tmp_path / "clean.csv"
    common = ("clean", path, "--label", "label", "--trusted", "verified", "--truth", "truth",
              "--index-col", "id", "--out", out, "--budget", 30, "--no-journal")
    r = skclean(*common)
    assert r.returncode == 0, r.stderr
    assert "numbers, scaled: size" in r.stdout
    assert "categories, one-hot: region (3 categories)" in r.stdout
    assert "review (free text; --text review would use its words)" in r.stdout
    assert "when (dates)" in r.stdout and "code (an id" in r.stdout
    r = skclean(*common, "--text", "review")
    assert r.returncode == 0, r.stderr
    assert "text, TF-IDF of words and word pairs: review" in r.stdout
    cleaned = pd.read_csv(out, index_col="id")
    # the words carry the label: its sparse TF-IDF rows find nearly every wrong one asked
    fixed = (df.set_index("id")["label"] != cleaned["label"]).sum()
    assert fixed >= 25 and (cleaned["label"] != cleaned["truth"]).sum() <= 10
    r = skclean(*common, "--text", "comment")
    assert r.returncode == 2 and "--text 'comment': no such column" in r.stderr
