"""Every bad input gets a clear error naming what is wrong, before any work (issue #25).

One row per entry of the table on the docs' reliability page
(``docs/user_guide/reliability.rst``); a test checks the two list the same
inputs.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner, CincerCleaner, ClassBasedIFDetector
from skclean.influence import fisher_inverse
from skclean.models import make_adapter
from skclean.questions import Journal, JournalConflict, OracleError, Questioner

PAGE = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "reliability.rst"
RNG = np.random.RandomState(0)
X = RNG.randn(90, 4)
Y = (X[:, 0] + 0.3 * RNG.randn(90) > 0).astype(int)
MASK = np.arange(90) % 6 == 0


def _lr():
    return LogisticRegression(max_iter=500)


def _detector(X_=X, y=Y, **kw):
    return lambda: ClassBasedIFDetector(_lr(), **kw).fit(X_, y, trusted_mask=MASK)


def _with(value, row=3, col=1):
    out = X.copy()
    out[row, col] = value
    return out


def _journal_file(tmp_path, kind):
    import sqlite3

    path = tmp_path / f"{kind}.sqlite"
    if kind == "foreign":
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE orders (id INTEGER)")
    elif kind == "text":
        path.write_text("not a database" * 100)
    return path


def _conflict():
    q = Questioner(np.array([0, 1]), Journal())
    q.ask(lambda Xq, yq, **c: [1], X[:1], Y[:1], [7], role="r")
    q.ask(lambda Xq, yq, **c: [1], X[1:2], Y[1:2], [7], role="r")


def _oracle(answer):
    return lambda: Questioner(np.array([0, 1]), Journal()).ask(
        lambda Xq, yq, **c: answer, X[:2], Y[:2], [0, 1], role="r")


def _huge_fisher():
    import skclean._linalg as linalg

    a = make_adapter(_lr(), classes=np.arange(3)).fit(X, Y % 3 + (X[:, 1] > 1))
    limit = linalg.MAX_DENSE_BYTES
    linalg.MAX_DENSE_BYTES = 1000  # a 15 x 15 matrix is over it
    try:
        fisher_inverse(a, X, kind="full")  # (the Top Fisher falls back to its diagonal)
    finally:
        linalg.MAX_DENSE_BYTES = limit


#: docs row -> (what raises it, exception, message pattern)
CASES = {
    "a text column in X": (
        _detector(pd.DataFrame(X).assign(region=["north", "south", "east"] * 30)),
        ValueError, r"X has text column\(s\) \['region'\].*OneHotEncoder"),
    "NaN or infinity in X": (_detector(_with(np.inf)), ValueError, "Input X contains infinity"),
    "a value beyond float32 with dtype='float32'": (
        _detector(_with(1e300), dtype="float32"), ValueError,
        r"beyond the range of torch.float32.*dtype='float64'"),
    "continuous (float) labels": (_detector(y=Y + 0.5), ValueError, "Unknown label type"),
    "missing labels (None, NaN)": (
        _detector(y=np.where(np.arange(90) == 5, None, Y).astype(object)), ValueError,
        r"y has 1 missing label\(s\).*rows \[5\]"),
    "a class with no trusted row": (
        _detector(y=np.where(np.arange(90) == 1, 2, Y)), ValueError,
        r"trusted rows have no rows of class\(es\) \[2\]"),
    "a curvature matrix too large for memory": (
        _huge_fisher, MemoryError, r"would be a .* matrix .*practical_fisher"),
    "a trusted_mask of the wrong length": (
        lambda: ClassBasedIFDetector(_lr()).fit(X, Y, trusted_mask=MASK[:-1]), ValueError,
        r"trusted_mask must have shape \(90,\)"),
    "an old and a new name for the trusted rows together": (
        lambda: ChefCleaner(_lr(), label_source="suggested").fit(
            X, Y, X_trusted=X[:9], y_trusted=Y[:9], X_val=X[:9]), ValueError,
        "X_val is the deprecated name of X_trusted"),
    "no trusted rows where they are needed": (
        lambda: ChefCleaner(_lr(), label_source="suggested").fit(X, Y), ValueError,
        "pass X_trusted/y_trusted, or trusted_mask"),
    "labels outside the declared classes": (
        lambda: CincerCleaner(_lr()).fit(X, Y + 1, classes=[0, 1]), ValueError,
        r"y has labels \[2\] outside classes=\[0, 1\]"),
    "a journal in a folder that does not exist": (
        lambda: Journal("/no/such/folder/answers.sqlite"), ValueError,
        "the folder /no/such/folder does not exist"),
    "a journal file that is not skclean's": (
        "foreign", ValueError, r"not an skclean journal.*left untouched"),
    "a journal file that is not a database": (
        "text", ValueError, "not a readable skclean journal"),
    "the same row id with other values": (_conflict, JournalConflict,
                                          "row id 7 given for other values"),
    "an oracle answering None": (_oracle(None), OracleError, "returned None"),
    "an oracle answering too few labels": (_oracle([1]), OracleError, "expected 2"),
    "an oracle answering an unknown class": (_oracle([1, 9]), OracleError,
                                             r"unknown label\(s\) \[9\]"),
}


@pytest.mark.parametrize("row", list(CASES))
def test_each_bad_input_gets_its_message(row, tmp_path):
    raiser, error, pattern = CASES[row]
    if isinstance(raiser, str):  # a journal file made for the test
        path = _journal_file(tmp_path, raiser)
        before = path.read_bytes()
        raiser = lambda: Journal(path)  # noqa: E731
    with pytest.raises(error, match=pattern):
        raiser()
    if CASES[row][0] in ("foreign", "text"):
        assert path.read_bytes() == before  # left untouched


def test_the_docs_table_lists_every_tested_input():
    text = PAGE.read_text()
    table = text[text.index(".. _bad-inputs:"):]
    rows = re.findall(r"^   \* - (.+)$", table, flags=re.M)
    assert rows[1:] == list(CASES)  # after the header
