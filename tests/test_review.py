"""ReviewCleaner: a detector's ranking asked about in batches, checked against doing it by hand."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skclean import ClassBasedIFDetector, ModelBasedDetector, ReviewCleaner, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset
from skclean.oracles import OracleStop


@pytest.fixture(scope="module")
def data():
    X, _, y, _ = load_dataset("wine", random_state=0)
    y_noisy, flipped = flip_labels(y, 0.25, random_state=0)
    trusted = np.zeros(len(X), dtype=bool)
    trusted[np.concatenate([np.flatnonzero(y == c)[:6] for c in np.unique(y)])] = True
    y_in = np.where(trusted, y, y_noisy)
    return X, y, y_in, trusted


def _detector():
    return ClassBasedIFDetector(LogisticRegression(max_iter=1000), random_state=0)


class Recording(SimulatedOracle):
    """The truth, remembering the rows (by value) it was shown, batch by batch."""

    def __init__(self, X, y):
        super().__init__(X, y)
        self.batches = []

    def __call__(self, Xq, yq, **ctx):
        self.batches.append(np.asarray(Xq).copy())
        return super().__call__(Xq, yq, **ctx)


def _positions(X, batch):
    return [int(np.flatnonzero((X == row).all(1))[0]) for row in batch]


def test_asks_the_lowest_scored_untrusted_rows_in_order(data):
    X, y, y_in, trusted = data
    oracle = Recording(X, y)
    review = ReviewCleaner(_detector(), oracle=oracle, budget=20, batch_size=7, rerank=False)
    review.fit(X, y_in, trusted_mask=trusted)

    by_hand = _detector().fit(X, y_in, trusted_mask=trusted).score_samples(X, y_in)
    order = [i for i in np.argsort(by_hand, kind="stable") if not trusted[i]][:20]
    asked = [p for batch in oracle.batches for p in _positions(X, batch)]
    assert asked == order
    assert [len(b) for b in oracle.batches] == [7, 7, 6]
    assert review.n_cleaned_ == 20 and not review.cleaned_mask_[trusted].any()
    np.testing.assert_array_equal(review.y_[order], y[order])
    assert review.n_changed_ == int((y_in[order] != y[order]).sum())
    np.testing.assert_allclose(review.scores_, by_hand)

    X_out, y_out = ReviewCleaner(_detector(), oracle=SimulatedOracle(X, y), budget=20,
                                 batch_size=7, rerank=False).fit_resample(
        X, y_in, trusted_mask=trusted)
    np.testing.assert_array_equal(y_out, review.y_)
    report = review.cleaning_report()
    assert len(report) == 20 and int(report["changed"].sum()) == review.n_changed_


def test_rerank_refits_the_detector_with_the_answers_among_the_trusted_rows(data):
    X, y, y_in, trusted = data
    oracle = Recording(X, y)
    ReviewCleaner(_detector(), oracle=oracle, budget=10, batch_size=5).fit(  # the default
        X, y_in, trusted_mask=trusted)

    # by hand: the first batch from the first ranking, the second from a detector refit
    # with the first batch's rows trusted, labelled as answered
    s1 = _detector().fit(X, y_in, trusted_mask=trusted).score_samples(X, y_in)
    first = [i for i in np.argsort(s1, kind="stable") if not trusted[i]][:5]
    y2 = y_in.copy()
    y2[first] = y[first]
    t2 = trusted.copy()
    t2[first] = True
    s2 = _detector().fit(X, y2, X_trusted=np.concatenate([X[trusted], X[first]]),
                         y_trusted=np.concatenate([y[trusted], y[first]])).score_samples(X, y2)
    second = [i for i in np.argsort(s2, kind="stable") if not t2[i]][:5]
    assert _positions(X, oracle.batches[0]) == first
    assert _positions(X, oracle.batches[1]) == second


def test_budget_beyond_the_rows_and_an_oracle_stop(data):
    X, y, y_in, trusted = data
    review = ReviewCleaner(_detector(), oracle=SimulatedOracle(X, y), budget=10_000,
                           batch_size=50).fit(X, y_in, trusted_mask=trusted)
    assert review.cleaned_mask_.sum() == (~trusted).sum()  # every untrusted row, once

    def stop_after_one(Xq, yq, **ctx):
        stop_after_one.calls += 1
        if stop_after_one.calls > 1:
            raise OracleStop("done for today")
        return yq
    stop_after_one.calls = 0
    review = ReviewCleaner(_detector(), oracle=stop_after_one, budget=30, batch_size=5)
    review.fit(X, y_in, trusted_mask=trusted)
    assert review.n_cleaned_ == 5 and review.questioner_.stopped
    assert stop_after_one.calls == 2  # nothing asked after the stop


def test_any_detector_and_clear_errors(data):
    X, y, y_in, trusted = data
    review = ReviewCleaner(ModelBasedDetector(LogisticRegression(max_iter=1000), n_rounds=1,
                                              random_state=0),
                           oracle=SimulatedOracle(X, y), budget=10, batch_size=5)
    review.fit(X, y_in, X_trusted=X[trusted], y_trusted=y[trusted])
    assert review.n_cleaned_ == 10
    with pytest.raises(ValueError, match="X_trusted/y_trusted, or trusted_mask"):
        ReviewCleaner(_detector(), oracle=SimulatedOracle(X, y)).fit(X, y_in)
    with pytest.raises(ValueError, match="detector"):
        ReviewCleaner("nope", oracle=SimulatedOracle(X, y)).fit(X, y_in, trusted_mask=trusted)
    with pytest.raises(ValueError, match="trusted_mask must have shape"):
        ReviewCleaner(_detector(), oracle=SimulatedOracle(X, y)).fit(X, y_in,
                                                                     trusted_mask=trusted[:-1])
