"""Regression tests for issue #8: each failed on the first landed version.

The shared suites cover the rest: ``test_faults.py`` (oracle faults and
Ctrl-C for every estimator × model kind) and ``test_invariance.py`` (label
types and order, pickling, float32/64).
"""

import os
import signal
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from skclean import (
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    ConsoleOracle,
    MajorityVoteOracle,
    ModelBasedDetector,
    SimulatedOracle,
)
from skclean.datasets import flip_labels, load_dataset, make_blobs_dataset
from skclean.influence import LissaDivergenceError, SymmetricInverse, lissa, removal_influence
from skclean.models import make_adapter
from skclean.questions import OracleError

from ._state import assert_same_state
from .conftest import small_net


@pytest.fixture(scope="module")
def wine():
    X, X_val, y, y_val = load_dataset("wine", random_state=0)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    return X, y, y_noisy, flipped, X_val, y_val


@pytest.fixture(scope="module")
def breast():
    X, X_val, y, y_val = load_dataset("breast", random_state=0)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    return X, y, y_noisy, flipped, X_val, y_val


# ---------------------------------------------------------------- 1. singular solves
def test_singular_consistent_solve_is_the_minimum_norm_solution():
    """``M`` PSD of rank 12 in 20 dimensions, spectrum 1 … 1e-4; ``v`` in its range.

    The solution must satisfy ``M x = v`` to ``100 · eps · κ`` (κ = 1e4, the
    condition number on the range) and have no component in the null space,
    whatever the BLAS: no factorisation of the singular matrix is attempted.
    """
    rng = np.random.RandomState(0)
    Q, _ = np.linalg.qr(rng.randn(20, 20))
    lam = np.r_[np.logspace(0, -4, 12), np.zeros(8)]
    M = (Q * lam) @ Q.T
    v = M @ rng.randn(20)
    for method in ("pinv", "damped"):  # damping=0: Cholesky used to fail here
        x = SymmetricInverse(torch.as_tensor(M), method=method, damping=0.0)(
            torch.as_tensor(v)).numpy()
        kappa, eps = 1e4, np.finfo(np.float64).eps
        assert np.linalg.norm(M @ x - v) <= 100 * eps * kappa * np.linalg.norm(M, 2) * \
            np.linalg.norm(x)
        assert np.linalg.norm(Q[:, 12:].T @ x) <= 100 * eps * kappa * np.linalg.norm(x)
    # exactly singular 2x2: the old Cholesky path raised "not positive-definite"
    x = SymmetricInverse(torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64),
                         method="damped")(torch.tensor([2.0, 2.0], dtype=torch.float64))
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_defaults_work_on_multinomial_models_with_free_intercepts(seed):
    """The Hessian is singular along the shift of all intercepts, on every seed."""
    X, y = make_blobs_dataset(n_samples=90, n_features=3, n_classes=3, random_state=seed)
    a = make_adapter(LogisticRegression(max_iter=1000)).fit(X, y)
    infl = removal_influence(a, X, y, X[:5], y[:5])
    assert np.all(np.isfinite(infl))
    det = ClassBasedIFDetector(LogisticRegression(max_iter=1000), similarity="if", damping=0)
    scores = det.fit(X, y, trusted_mask=np.arange(0, 90, 5)).score_samples(X, y)
    assert np.all(np.isfinite(scores))


# ---------------------------------------------------------------- 2-4. CHEF rankings
def _picked(c):
    return np.concatenate([h["rows"] for h in c.history_])


def test_chef_with_classes_in_another_order_still_finds_wrong_labels(breast):
    X, y, y_noisy, flipped, X_val, y_val = breast
    runs = [ChefCleaner(LogisticRegression(max_iter=1000), label_source="suggested", budget=30,
                        classes=order).fit(X, y_noisy, X_trusted=X_val, y_trusted=y_val)
            for order in ([0, 1], [1, 0])]
    np.testing.assert_array_equal(_picked(runs[0]), _picked(runs[1]))
    assert flipped[_picked(runs[1])].mean() > 0.6  # 20% base rate; it was 0%


def test_infl_d_ranks_harmful_rows_first(wine):
    X, y, y_noisy, flipped, X_val, y_val = wine
    c = ChefCleaner(LogisticRegression(C=0.5, max_iter=1000), strategy="infl_d",
                    oracle=SimulatedOracle(X, y), budget=20, batch_size=5).fit(
        X, y_noisy, X_trusted=X_val, y_trusted=y_val)
    assert flipped[_picked(c)].mean() > 0.5  # 20% base rate; it was 3%


def test_vote_with_a_non_class_vote_is_a_fault_and_changes_nothing(wine):
    X, y, y_noisy, _, X_val, y_val = wine
    truth = SimulatedOracle(X, y)
    seven = lambda Xq, yq, **ctx: np.full(len(yq), 7)  # noqa: E731
    c = ChefCleaner(LogisticRegression(max_iter=1000), label_source="vote", budget=10,
                    batch_size=5, oracle=MajorityVoteOracle([truth, truth, seven]))
    with pytest.raises(OracleError, match=r"Annotator 2 answered unknown label\(s\) \[7\]"):
        c.fit(X, y_noisy, X_trusted=X_val, y_trusted=y_val)
    assert c.n_cleaned_ == 0 and np.allclose(c.y_.sum(1), 1)


# ---------------------------------------------------------------- 7. LiSSA divergence
def test_lissa_divergence_is_detected_not_returned():
    H = torch.diag(torch.tensor([50.0, 1.0], dtype=torch.float64))
    v = torch.tensor([1.0, 1.0], dtype=torch.float64)
    with pytest.raises(LissaDivergenceError, match="scale=10"):
        lissa(lambda h, step: H @ h, v, depth=200, scale=10.0)
    ok = lissa(lambda h, step: H @ h, v, depth=2000, scale=100.0)
    np.testing.assert_allclose(ok.numpy(), [1 / 50, 1.0], rtol=1e-6)


def test_cincer_influence_on_large_features_warns_and_falls_back(breast):
    X, y, y_noisy, _, _, _ = breast
    X10 = X * 10
    c = CincerCleaner(LogisticRegression(max_iter=2000), counterexample="influence",
                      lissa_depth=1000, random_state=0).fit(X10[:150], y_noisy[:150])
    x, yt = X10[200], 1 - c.predict(X10[200:201])[0]
    with pytest.warns(ConvergenceWarning, match="LiSSA diverged"):
        order = c.rank_counterexamples(x, yt)
    # the fallback's choice is the exact Eq. 10 choice, not the first candidate
    a = c.adapter_
    H = a.hessian(c.X_, c.y_).numpy()
    g = a.per_example_grads(x[None], [yt]).numpy()[0]
    G = a.per_example_grads(c.X_, c.y_).numpy()
    exact = -(G @ np.linalg.pinv(H, rcond=1e-10, hermitian=True) @ g)
    cand = np.flatnonzero(c.y_ == c.predict(x[None])[0])
    assert order[0] in cand[np.argsort(-exact[cand])[:3]]


# ---------------------------------------------------------------- 8. stable row ids
def test_cincer_records_identify_rows_stably_after_drops(breast):
    X, y, y_noisy, _, _, _ = breast
    keep_label = lambda Xq, yq, **ctx: yq  # noqa: E731  (keeping the label drops z_k)
    c = CincerCleaner(LogisticRegression(max_iter=1000), counterexample="drop",
                      oracle=keep_label, threshold=0.0).fit(X[:100], y_noisy[:100])
    c.partial_fit(X[100:160], y_noisy[100:160])
    dropped = [h["counterexample"] for h in c.history_ if h["dropped"]]
    assert len(dropped) >= 3
    assert not set(dropped) & set(c.row_ids_.tolist())  # the dropped rows are gone
    # every remaining row id still points at its own row of the user's X
    np.testing.assert_array_equal(c.X_, X[c.row_ids_])


# ---------------------------------------------------------------- 9. smaller ones
def test_detector_refit_failure_keeps_the_previous_fit(wine):
    X, y, y_noisy, _, _, _ = wine
    det = ClassBasedIFDetector(LogisticRegression(max_iter=1000)).fit(
        X, y_noisy, trusted_mask=np.arange(0, len(X), 10))
    before = det.score_samples(X, y_noisy)
    no_class_2 = np.flatnonzero(y_noisy != 2)[:10]
    with pytest.raises(ValueError, match="no rows of class"):
        det.fit(X[:60], y_noisy[:60], trusted_mask=no_class_2[no_class_2 < 60])
    np.testing.assert_array_equal(det.score_samples(X, y_noisy), before)
    assert det.n_features_in_ == X.shape[1]


class _InterruptOnce(Callback):
    armed = False

    def on_epoch_end(self, net, **kwargs):
        if _InterruptOnce.armed:
            _InterruptOnce.armed = False
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_during_a_skorch_refit_stops_the_stream():
    X, y = make_blobs_dataset(n_samples=120, n_features=4, n_classes=2, random_state=0)
    y_noisy, _ = flip_labels(y, 0.2, random_state=0)

    def cleaner():
        net = small_net(4, 2, max_epochs=3, callbacks=[("interrupt", _InterruptOnce())])
        return CincerCleaner(net, oracle=SimulatedOracle(X, y), refit_epochs=2,
                             random_state=0).fit(X[:60], y_noisy[:60])

    c = cleaner()
    c.partial_fit(X[60:70], y_noisy[60:70])
    _InterruptOnce.armed = True
    with pytest.raises(KeyboardInterrupt):  # skorch used to swallow it and go on
        c.partial_fit(X[70:100], y_noisy[70:100])
    assert c.n_seen_ == 10  # the interrupted row was rolled back
    ref = cleaner()
    ref.partial_fit(X[60:70], y_noisy[60:70])
    assert_same_state(c, ref)


def test_random_counterexamples_resume_exactly():
    X, y = make_blobs_dataset(n_samples=150, n_features=4, n_classes=3, cluster_std=2.5,
                              random_state=0)
    y_noisy, _ = flip_labels(y, 0.25, random_state=0)
    truth = SimulatedOracle(X, y)
    calls = []

    def ctrl_c_on_second(Xq, yq, **ctx):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return truth(Xq, yq, **ctx)

    def cleaner(oracle):
        return CincerCleaner(LogisticRegression(max_iter=500), counterexample="random",
                             oracle=oracle, random_state=0).fit(X[:60], y_noisy[:60])

    full = cleaner(truth)
    full.partial_fit(X[60:120], y_noisy[60:120])
    c = cleaner(ctrl_c_on_second)
    with pytest.raises(KeyboardInterrupt):
        c.partial_fit(X[60:120], y_noisy[60:120])
    k = c.n_seen_
    c.set_params(oracle=truth).partial_fit(X[60 + k:120], y_noisy[60 + k:120])
    assert_same_state(c, full)


def test_simulated_oracle_tells_apart_near_and_duplicate_rows():
    X = np.array([[1.0, 2.0], [1.0 + 1e-9, 2.0], [3.0, 4.0], [3.0, 4.0]])
    y = np.array([0, 1, 0, 1])  # rows 0/1 differ below float32; rows 2/3 are duplicates
    o = SimulatedOracle(X, y)
    np.testing.assert_array_equal(o(X[:2], y[:2]), [0, 1])
    np.testing.assert_array_equal(o(X[2:], y[2:], row_ids=[2, 3]), [0, 1])
    with pytest.raises(KeyError, match="different labels"):
        o(X[2:3], y[2:3])  # ambiguous without a row id: an error, not a guess


def test_invalid_settings_fail_early_naming_the_argument(wine):
    X, y, y_noisy, _, X_val, y_val = wine
    lr = LogisticRegression(max_iter=500)
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\]"):
        CincerCleaner(lr).fit(X[y < 2][:40], y[y < 2][:40], classes=[0, 1, 2])
    with pytest.raises(InvalidParameterError, match="threshold"):
        CincerCleaner(lr, threshold=1.5).fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="metric='nope'"):
        CincerCleaner(lr, metric="nope").fit(X[:40], y[:40])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda'"):
            ClassBasedIFDetector(lr, device="cuda").fit(X, y, trusted_mask=[0, 1, 2])
    with pytest.raises(ValueError, match="target_score"):
        ChefCleaner(lr, label_source="suggested", target_score=float("nan")).fit(
            X, y, X_trusted=X_val, y_trusted=y_val)
    with pytest.raises(ValueError, match="classes has duplicate"):
        ChefCleaner(lr, label_source="suggested", classes=[0, 1, 1, 2]).fit(
            X, y, X_trusted=X_val, y_trusted=y_val)
    with pytest.raises(InvalidParameterError, match="scoring"):
        ChefCleaner(lr, label_source="suggested", scoring="acuracy").fit(
            X, y, X_trusted=X_val, y_trusted=y_val)
    with pytest.raises(ValueError, match="y_trusted must hold one label per row"):
        ChefCleaner(lr, label_source="suggested").fit(X, y, X_trusted=X_val, y_trusted=y_val[:-1])
    with pytest.raises(ValueError, match="trusted_mask must be booleans"):
        ClassBasedIFDetector(lr).fit(X, y, trusted_mask=np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="have no row of class"):
        ModelBasedDetector(lr).fit(X, y, trusted_mask=np.flatnonzero(y != 2)[:30])
    with pytest.raises(ValueError, match="X_val has 3 features"):
        ModelBasedDetector(lr).fit(X, y, trusted_mask=np.arange(0, len(X), 3),
                                   X_val=X_val[:, :3], y_val=y_val)
    with pytest.raises(ValueError, match="y_val must hold one label per row"):
        ModelBasedDetector(lr).fit(X, y, trusted_mask=np.arange(0, len(X), 3),
                                   X_val=X_val, y_val=y_val[:5])
    prefit = LogisticRegression(max_iter=500).fit(X[:, :5], y)
    with pytest.raises(ValueError, match="trained on 5"):
        ClassBasedIFDetector(prefit, prefit=True).fit(X, y, trusted_mask=[0, 1, 2, 60, 61,
                                                                            62, 120, 121])


# ---------------------------------------------------------------- 10. skip and stop
def test_chef_with_a_person_skip_is_not_a_confirmation_and_end_of_input_keeps_answers(wine):
    X, y, y_noisy, _, X_val, y_val = wine
    typed = iter(["skip", "", "keep", "skip", "0"])  # then end of input (Ctrl-D)

    def read(prompt):
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    printed = []
    oracle = ConsoleOracle(input_fn=read, print_fn=printed.append)
    c = ChefCleaner(LogisticRegression(max_iter=1000), oracle=oracle, budget=10, batch_size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.fit(X, y_noisy, X_trusted=X_val, y_trusted=y_val)  # a clean stop: no exception
    assert c.stop_reason_ == "oracle" and c.stopped_early_
    # two skips, and the row on screen at end of input (unanswered)
    assert c.n_cleaned_ == 3 and int(c.skipped_mask_.sum()) == 3
    np.testing.assert_allclose(c.sample_weight_[c.skipped_mask_], c.gamma)  # not verified
    rows = np.concatenate([h["rows"] for h in c.history_])
    first = c.history_[0]
    assert first["skipped"].tolist() == [True, False, False]
    # Enter accepted the suggestion; "keep" confirmed the given label
    assert c.classes_[c.y_[rows[1]].argmax()] == first["suggested"][1]
    assert c.classes_[c.y_[rows[2]].argmax()] == y_noisy[rows[2]]
    assert any("End of input" in line for line in printed)
    assert len(c.journal_) == 3  # the three answers, none of the skips


def test_cincer_influence_with_negative_curvature_damps_past_it(breast):
    """A network's Hessian has negative eigenvalues; no LiSSA scale contracts along them."""
    import re

    from .conftest import small_net

    X, y, y_noisy, _, _, _ = breast
    X = X.astype(np.float32)
    c = CincerCleaner(small_net(30, 2, max_epochs=30, lr=1e-2), counterexample="influence",
                      influence_params="all", random_state=0).fit(X[:100], y_noisy[:100])
    a = c.adapter_
    H = a.hessian(c.X_, c.y_, which="all").double().numpy()
    evals = np.linalg.eigvalsh(H)
    assert evals[0] + c.lissa_damping < 0  # the case: the damped Hessian is indefinite
    x = X[150]
    yt = 1 - c.predict(x[None])[0]
    with pytest.warns(ConvergenceWarning, match="lissa_damping") as record:
        order = c.rank_counterexamples(x, yt)
    damping = float(re.search(r"lissa_damping=([0-9.e+-]+)", str(record[-1].message)).group(1))
    assert damping > -evals[0]  # damped past the most negative eigenvalue
    g = a.per_example_grads(x[None], [yt], which="all").double().numpy()[0]
    G = a.per_example_grads(c.X_, c.y_, which="all").double().numpy()
    exact = -(G @ np.linalg.solve(H + damping * np.eye(len(H)), g))
    cand = np.flatnonzero(c.y_ == c.predict(x[None])[0])
    # LiSSA is a truncated stochastic series: its pick ranks high under the exact solve
    best = cand[np.argsort(-exact[cand])]
    assert order[0] in best[: max(3, len(cand) // 5)]
