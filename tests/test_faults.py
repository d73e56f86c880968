"""One fault-injection suite for every interactive estimator × model kind.

An oracle that fails on its k-th question — it raises, answers the wrong
number of labels, an unknown class, ``None``, lets an annotator vote a
non-class, or the person presses Ctrl-C — must leave the estimator exactly
as it was before that question (model, labels, weights, records, RNGs), and
resuming must end exactly where an uninterrupted run ends, without asking
again what was already answered.

What "before that question" means per estimator:

* ChefCleaner: after the last complete round (rounds are all or nothing);
* CincerCleaner: after the last complete stream row;
* ModelBasedDetector, ReviewCleaner: as before ``fit`` (their fit is all or nothing).
"""

import numpy as np
import pytest
import scipy.sparse as sp

from skclean import (
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    ModelBasedDetector,
    ReviewCleaner,
    SimulatedOracle,
)
from skclean.datasets import flip_labels, make_blobs_dataset
from skclean.questions import OracleError

from ._state import assert_same_state, state_of
from .conftest import CORE_KINDS, model_of_kind

N_FEATURES, N_CLASSES = 4, 3
FAULTS = ["raise", "wrong_count", "unknown_class", "none", "non_class_vote", "ctrl_c"]
K = 2  # the question that fails


def make_model(kind):
    return model_of_kind(kind, N_FEATURES, N_CLASSES)


# Which fault it was is told apart in one place (skclean.questions), the same for every
# estimator and model; what each model kind can get wrong is the rollback, which any fault
# exercises.  So: every fault with the logistic model, on dense rows and, for an oracle that
# raises, one that answers outside the classes and Ctrl-C, on sparse (CSR) rows (the paths a
# sparse matrix could take differently); with every other model kind, an error and Ctrl-C
# on dense rows and an unknown class on sparse ones.
KIND_LAYOUT_FAULTS = (
    [("lr", "dense", f) for f in FAULTS]
    + [("lr", "sparse", f) for f in ("raise", "unknown_class", "ctrl_c")]
    + [(kind, layout, f) for kind in CORE_KINDS if kind != "lr"
       for layout, f in (("dense", "raise"), ("dense", "ctrl_c"), ("sparse", "unknown_class"))])


@pytest.fixture(scope="module")
def data(request):
    X, y = make_blobs_dataset(n_samples=160, n_features=N_FEATURES, n_classes=N_CLASSES,
                              cluster_std=2.5, random_state=0)
    y_noisy, _ = flip_labels(y, 0.25, random_state=0)
    if request.param == "sparse":  # CSR rows, a third of them zero: the same guarantees
        X = sp.csr_matrix(np.where(np.abs(X) < 1.0, 0.0, X))
    return X, y, y_noisy


class Counting:
    """The truth, counting the rows it was asked about."""

    def __init__(self, X, y):
        self.truth = SimulatedOracle(X, y)
        self.rows = 0

    def __call__(self, Xq, yq, **ctx):
        self.rows += Xq.shape[0]
        return self.truth(Xq, yq, **ctx)


class Faulty:
    """The truth until its k-th call, which fails as ``fault`` says."""

    def __init__(self, X, y, fault, k=K):
        self.truth, self.fault, self.k, self.calls = SimulatedOracle(X, y), fault, k, 0
        self.last_votes_ = None

    def __call__(self, Xq, yq, **ctx):
        self.calls += 1
        answer = self.truth(Xq, yq, **ctx)
        self.last_votes_ = None
        if self.calls != self.k:
            return answer
        if self.fault == "raise":
            raise RuntimeError("annotator went home")
        if self.fault == "wrong_count":
            return answer[:-1]
        if self.fault == "unknown_class":
            return np.full(len(answer), 99)
        if self.fault == "none":
            return None
        if self.fault == "non_class_vote":  # the majority is fine; one annotator typed 7
            self.last_votes_ = np.stack([answer, answer, np.full(len(answer), 7)], 1)
            return answer
        raise KeyboardInterrupt


def expected_error(fault):
    return KeyboardInterrupt if fault == "ctrl_c" else OracleError


# ----------------------------------------------------------------------- scenarios
def chef(kind, oracle, budget=9):
    return ChefCleaner(make_model(kind), oracle=oracle, budget=budget, batch_size=3,
                       random_state=0)


def chef_fit(est, data):
    X, _, y_noisy = data
    return est.fit(X[:120], y_noisy[:120], X_trusted=X[120:], y_trusted=data[1][120:])


def cincer(kind, oracle):
    return CincerCleaner(make_model(kind), oracle=oracle, refit_epochs=2, random_state=0)


def model_based(kind, oracle):
    return ModelBasedDetector(make_model(kind), oracle=oracle, n_rounds=3, query_size=4,
                              epochs_per_round=2, random_state=0)


def review(kind, oracle):
    return ReviewCleaner(ClassBasedIFDetector(make_model(kind), random_state=0), oracle=oracle,
                         budget=6, batch_size=3, rerank=True)


def mb_fit(est, data):
    X, y, y_noisy = data
    mask = np.zeros(X.shape[0], dtype=bool)
    mask[np.concatenate([np.flatnonzero(y == c)[:8] for c in range(N_CLASSES)])] = True
    y_in = np.where(mask, y, y_noisy)  # the trusted rows carry their true labels
    return est.fit(X, y_in, trusted_mask=mask)


@pytest.mark.parametrize(("kind", "data", "fault"), KIND_LAYOUT_FAULTS, indirect=["data"])
def test_chef_fault_keeps_completed_rounds_and_resumes(data, kind, fault):
    X, y, _ = data
    full = chef_fit(chef(kind, Counting(X, y)), data)
    before = chef_fit(chef(kind, Counting(X, y), budget=3 * (K - 1)), data)

    est = chef(kind, Faulty(X, y, fault))
    with pytest.raises(expected_error(fault)):
        chef_fit(est, data)
    assert_same_state(est, before)
    assert est.predict(X[:5]).shape == (5,)  # a consistent model, after round K-1

    resumed_oracle, asked_in_full = Counting(X, y), full.oracle.rows
    chef_fit(est.set_params(oracle=resumed_oracle), data)
    assert_same_state(est, full)
    assert resumed_oracle.rows == asked_in_full - 3 * (K - 1)  # nothing asked twice


@pytest.mark.parametrize(("kind", "data", "fault"), KIND_LAYOUT_FAULTS, indirect=["data"])
def test_cincer_fault_keeps_processed_rows_and_resumes(data, kind, fault):
    X, y, y_noisy = data
    stream = slice(60, 110)
    full = cincer(kind, Counting(X, y)).fit(X[:60], y_noisy[:60])
    full.partial_fit(X[stream], y_noisy[stream])

    est = cincer(kind, Faulty(X, y, fault)).fit(X[:60], y_noisy[:60])
    with pytest.raises(expected_error(fault)) as info:
        est.partial_fit(X[stream], y_noisy[stream])
    done = est.n_seen_
    assert any("resume with partial_fit" in n for n in getattr(info.value, "__notes__", []))
    before = cincer(kind, Counting(X, y)).fit(X[:60], y_noisy[:60])
    before.partial_fit(X[60:60 + done], y_noisy[60:60 + done])
    assert_same_state(est, before)

    good = Counting(X, y)
    est.set_params(oracle=good).partial_fit(X[60 + done:110], y_noisy[60 + done:110])
    assert_same_state(est, full)


@pytest.mark.parametrize(("kind", "data", "fault"), KIND_LAYOUT_FAULTS, indirect=["data"])
@pytest.mark.parametrize("make", [model_based, review])
def test_atomic_fit_resumes_without_asking_twice(data, kind, fault, make):
    X, y, _ = data
    full = mb_fit(make(kind, Counting(X, y)), data)

    est = make(kind, Faulty(X, y, fault))
    unfitted = state_of(est)
    with pytest.raises(expected_error(fault)):
        mb_fit(est, data)
    assert state_of(est) == unfitted  # nothing half-fitted (the journal is kept aside)

    good, asked_in_full = Counting(X, y), full.oracle.rows
    mb_fit(est.set_params(oracle=good), data)
    assert_same_state(est, full)
    assert good.rows < asked_in_full  # the first round's answers were replayed


@pytest.mark.parametrize("data", ["dense", "sparse"], indirect=True)
@pytest.mark.parametrize("kind", CORE_KINDS)
def test_refit_failure_keeps_the_previous_fitted_state(data, kind):
    """A detector refit that fails (here: an oracle fault) leaves the old fit whole."""
    X, y, _ = data
    est = mb_fit(model_based(kind, Counting(X, y)), data)
    fitted = state_of(est)
    est.set_params(oracle=Faulty(X, y, "raise", k=1))
    with pytest.raises(OracleError):
        mb_fit(est, data)
    assert state_of(est)["offset_"] == fitted["offset_"]
    assert state_of(est)["adapter_"] == fitted["adapter_"]
