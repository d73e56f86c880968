"""cross_fit_scores: each row judged by a clone that never saw it (checked by refitting)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from skclean import ClassBasedIFDetector, ModelBasedDetector, cross_fit_scores
from skclean.datasets import flip_labels, make_blobs_dataset


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs_dataset(n_samples=200, n_features=5, n_classes=3, cluster_std=3.0,
                              random_state=3)
    y_noisy, flipped = flip_labels(y, 0.25, random_state=3)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[np.concatenate([np.flatnonzero(y == c)[:8] for c in range(3)])] = True
    y_noisy[trusted] = y[trusted]
    return X, y_noisy, trusted


@pytest.mark.parametrize("make", [lambda: ClassBasedIFDetector(LogisticRegression()),
                                  lambda: ModelBasedDetector(LogisticRegression(),
                                                             random_state=0)])
def test_each_fold_is_scored_by_a_detector_fitted_without_it(data, make):
    X, y, trusted = data
    scores = cross_fit_scores(make(), X, y, trusted_mask=trusted, cv=2, random_state=0)
    rows = np.flatnonzero(~trusted)
    for _, test in StratifiedKFold(2, shuffle=True, random_state=0).split(rows, y[rows]):
        fold = rows[test]
        keep = np.concatenate([np.setdiff1d(rows, fold), np.flatnonzero(trusted)])
        by_hand = make().fit(X[keep], y[keep], trusted_mask=np.isin(keep, np.flatnonzero(
            trusted)))
        # the fold's scores are the by-hand detector's, as quantiles within the fold
        raw = by_hand.score_samples(X[fold], y[fold])
        np.testing.assert_allclose(scores[fold], (rankdata(raw) - 0.5) / len(fold),
                                   rtol=1e-12)


def test_trusted_rows_given_apart_and_sparse_rows(data):
    X, y, trusted = data
    a = cross_fit_scores(ClassBasedIFDetector(LogisticRegression()), X[~trusted], y[~trusted],
                         X_trusted=X[trusted], y_trusted=y[trusted], random_state=1)
    b = cross_fit_scores(ClassBasedIFDetector(LogisticRegression()),
                         sp.csr_matrix(X[~trusted]), y[~trusted],
                         X_trusted=sp.csr_matrix(X[trusted]), y_trusted=y[trusted],
                         random_state=1)
    assert a.shape == ((~trusted).sum(),)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.ptp(a))


def test_a_memorising_model_judged_out_of_fold_finds_more_wrong_labels():
    """Wide one-hot rows a model can memorise: in-sample scores lose the wrong labels."""
    rng = np.random.default_rng(0)
    n, d = 400, 4000
    y_true = rng.integers(0, 2, n)
    cols = np.where(rng.random((n, 10)) < 0.5, y_true[:, None] * 20 + rng.integers(0, 20, (n, 10)),
                    rng.integers(40, d, (n, 10)))
    X = sp.csr_matrix((np.ones(n * 10), (np.repeat(np.arange(n), 10), cols.ravel())),
                      shape=(n, d))
    y, flipped = flip_labels(y_true, 0.2, random_state=0)
    trusted = np.arange(n) < 40
    y[trusted] = y_true[trusted]
    flipped &= ~trusted
    det = ClassBasedIFDetector(LogisticRegression(C=1000.0, max_iter=2000))
    inside = det.fit(X, y, trusted_mask=trusted).score_samples(X, y)
    outside = cross_fit_scores(det, X, y, trusted_mask=trusted, random_state=0)
    k = int(flipped.sum())
    hits = {name: flipped[np.argsort(s)[:k]].mean() for name, s in
            (("inside", inside), ("outside", outside))}
    assert hits["outside"] >= hits["inside"] + 0.1, hits


def test_bad_arguments_are_named(data):
    X, y, trusted = data
    det = ClassBasedIFDetector(LogisticRegression())
    with pytest.raises(ValueError, match="cv must be an integer of at least 2"):
        cross_fit_scores(det, X, y, trusted_mask=trusted, cv=1)
    with pytest.raises(ValueError, match="needs the trusted rows"):
        cross_fit_scores(det, X, y)
