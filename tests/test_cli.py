"""``skclean clean`` on a CSV, through a subprocess, as a user runs it."""

import subprocess
import sys

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


def skclean(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "skclean", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_dry_run_with_a_simulated_annotator_fixes_labels(csv, tmp_path):
    path, df = csv
    out, audit = tmp_path / "clean.csv", tmp_path / "audit.csv"
    r = skclean("clean", path, "--label", "label", "--trusted", "verified", "--truth", "truth",
                "--index-col", "bottle", "--out", out, "--audit", audit, "--budget", 20)
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


def test_unreadable_file_and_version_and_help(tmp_path):
    r = skclean("clean", tmp_path / "missing.csv", "--label", "y", "--out", tmp_path / "o.csv")
    assert r.returncode == 2 and "cannot read" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    v = skclean("--version")
    assert v.returncode == 0 and v.stdout.startswith("skclean ")
    h = skclean("clean", "--help")
    assert h.returncode == 0 and "examples:" in h.stdout and "--journal" in h.stdout
