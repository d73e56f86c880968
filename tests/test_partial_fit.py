"""``partial_fit`` on every estimator: new rows arrive, the model continues from its state.

The shared invariance suite (``test_invariance.run``) already fits every
estimator × model kind in two calls; here: what the update must equal (a fit
on every row, while the sample of rows seen holds them all), how close it stays
once it does not, the sample itself, and the errors.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from skclean import ChefCleaner, ClassBasedIFDetector, ModelBasedDetector, SimulatedOracle
from skclean.datasets import flip_labels
from skclean.models import make_adapter
from skclean.utils import SeenRows


@pytest.fixture(scope="module")
def noisy():
    X, y = make_classification(900, 8, n_informative=5, n_classes=3, random_state=0)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    trusted = np.zeros(len(y), dtype=bool)
    trusted[:60] = True
    return X, y, np.where(trusted, y, y_noisy), trusted


def _lr():
    return LogisticRegression(C=1.0, tol=1e-10, max_iter=2000)


def _coef(est):
    return np.c_[est.coef_, est.intercept_]


@pytest.mark.parametrize("similarity", ["pgc", "if"])
def test_detector_partial_fit_equals_a_fit_on_every_row_while_the_sample_holds_them(
        noisy, similarity):
    X, y, y_in, trusted = noisy
    full = ClassBasedIFDetector(_lr(), similarity=similarity, dtype="float64",
                                random_state=0).fit(X, y_in, trusted_mask=trusted)
    inc = ClassBasedIFDetector(_lr(), similarity=similarity, dtype="float64", random_state=0)
    inc.partial_fit(X[:500], y_in[:500], trusted_mask=trusted[:500])
    inc.partial_fit(X[500:700], y_in[500:700]).partial_fit(X[700:], y_in[700:])
    assert inc.seen_.n_seen == len(y) and inc.seen_.complete  # trusted rows train too
    # Newton stops at a gradient of 1e-8 and lbfgs at 1e-10 of J, which is μ-strongly
    # convex with μ ≥ 1/(C n): the two optima are within ‖g‖/μ ≈ 1e-8·√P·n of each other
    bound = 1e-8 * np.sqrt(inc.adapter_.n_params()) * len(y)
    np.testing.assert_allclose(_coef(inc.estimator_), _coef(full.estimator_), atol=bound)
    (_, _, M_inc), (_, _, M_full) = inc.reference_means_[0], full.reference_means_[0]
    np.testing.assert_allclose(M_inc, M_full, atol=1e-4 * float(M_full.abs().max()))


def test_beyond_the_sample_the_update_lands_near_a_refit(noisy, monkeypatch):
    """With 300 of 900 rows kept, earlier rows enter through their curvature estimated
    from the sample (27 parameters): the update must land far closer to the refit than
    the model it started from."""
    monkeypatch.setattr("skclean.cleaners._detection.SEEN_ROWS", 300)
    X, y, y_in, trusted = noisy
    full = ClassBasedIFDetector(_lr(), random_state=0).fit(X, y_in, trusted_mask=trusted)
    inc = ClassBasedIFDetector(_lr(), random_state=0).fit(X[:400], y_in[:400],
                                                          trusted_mask=trusted[:400])
    before = _coef(inc.estimator_).copy()
    for s in range(400, len(y), 100):
        inc.partial_fit(X[s : s + 100], y_in[s : s + 100])
    assert inc.seen_.X.shape[0] == 300 and not inc.seen_.complete
    gap = np.linalg.norm(_coef(full.estimator_) - before)
    assert np.linalg.norm(_coef(inc.estimator_) - _coef(full.estimator_)) < 0.15 * gap


def test_seen_rows_is_a_uniform_sample_whatever_the_batches():
    """Algorithm R batch at a time: every row ends in the sample with probability k/n."""
    n, k, runs = 60, 10, 3000
    counts = np.zeros(n)
    X = np.arange(n, dtype=float)[:, None]
    for seed in range(runs):
        seen = SeenRows(X[:15], np.zeros(15), capacity=k, random_state=seed)
        for a, b in ((15, 16), (16, 40), (40, 60)):
            seen.add(X[a:b], np.zeros(b - a))
        assert seen.n_seen == n and seen.X.shape[0] == k
        counts[seen.X[:, 0].astype(int)] += 1
    # each count is Binomial(runs, k/n): 5 standard deviations either way
    p = k / n
    assert np.all(np.abs(counts - runs * p) < 5 * np.sqrt(runs * p * (1 - p)))


def test_chef_partial_fit_spends_its_budget_on_the_enlarged_pool(noisy):
    X, y, y_in, trusted = noisy
    oracle = SimulatedOracle(X, y)
    chef = ChefCleaner(_lr(), oracle=oracle, budget=20, batch_size=10, random_state=0)
    chef.partial_fit(X[60:500], y_in[60:500], X_trusted=X[:60], y_trusted=y[:60])
    chef.partial_fit(X[500:], y_in[500:])
    assert chef.X_.shape[0] == len(y) - 60 and chef._n_asked() == 40
    report = chef.cleaning_report()
    # an answer belongs to its row: positions continue after the rows of the first call
    rows = report.row_id.to_numpy().astype(int)
    applied = report.applied.to_numpy()
    truth = np.r_[y[60:500], y[500:]][rows]
    np.testing.assert_array_equal(applied, truth)
    assert rows.max() >= 440  # the new rows were in the pool the second call ranked
    # the model followed the added rows and answers: at the optimum of the weighted objective
    a = chef.adapter_
    assert float(a.loss_grad(chef.X_, chef.y_, chef.sample_weight_).abs().max()) < 1e-6


def test_partial_fit_errors_name_what_to_do(noisy):
    X, y, y_in, trusted = noisy
    det = ClassBasedIFDetector(_lr(), similarity="tracin", n_checkpoints=2)
    det.fit(X[:300], y_in[:300], trusted_mask=trusted[:300])
    with pytest.raises(ValueError, match="tracin.*refit"):
        det.partial_fit(X[300:], y_in[300:])
    det = ClassBasedIFDetector(_lr()).fit(X[:300], y_in[:300], trusted_mask=trusted[:300])
    with pytest.raises(TypeError, match="first call only"):
        det.partial_fit(X[300:], y_in[300:], trusted_mask=trusted[300:])
    # scikit-learn's partial_fit(X, y, classes=...): checked against what the first call learns
    first = ClassBasedIFDetector(_lr()).partial_fit(X[:300], y_in[:300], classes=[0, 1, 2],
                                                    trusted_mask=trusted[:300])
    assert first.classes_.tolist() == [0, 1, 2]
    fresh = ClassBasedIFDetector(_lr())
    with pytest.raises(ValueError, match=r"no row of \[3\].*Include rows of every class"):
        fresh.partial_fit(X[:300], y_in[:300], classes=[0, 1, 2, 3], trusted_mask=trusted[:300])
    assert not hasattr(fresh, "reference_means_")  # left unfitted
    with pytest.raises(ValueError, match="Unknown labels \\[7\\]"):
        det.partial_fit(X[300:310], np.full(10, 7))
    mb = ModelBasedDetector(HistGradientBoostingClassifier(max_iter=5), loss_weight=1.0)
    mb.fit(X[:300], y_in[:300], trusted_mask=trusted[:300])
    with pytest.raises(TypeError, match="HistGradientBoostingClassifier has no partial_fit"):
        mb.partial_fit(X[300:], y_in[300:])
    a = make_adapter(LogisticRegression(l1_ratio=0.0, solver="newton-cg", C=np.inf)).fit(
        X, y)
    with pytest.raises(TypeError, match="L2 LogisticRegression or SGDClassifier"):
        a.partial_fit(X[:10], y[:10])
    assert torch.isfinite(a.last_layer_params()).all()
