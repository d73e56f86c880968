"""CincerCleaner: Eq. 12 against brute force, Algorithm 1 semantics, rollback."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skclean import CincerCleaner, SimulatedOracle
from skclean.datasets import flip_labels, load_dataset
from skclean.oracles import OracleError
from skclean.utils import ReservoirSample

from .conftest import brute_expected_fisher, small_net


@pytest.fixture(scope="module")
def stream():
    X, X_test, y, y_test = load_dataset("breast", random_state=0)
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    return X, y, y_noisy, flipped


def _lr():
    return LogisticRegression(max_iter=1000)


def _first_suspicious(c, X, y):
    mu = -c.score_samples(X, y)
    return int(np.flatnonzero(mu >= c.threshold)[0])


@pytest.mark.parametrize("strategy", ["top_fisher", "practical_fisher", "full_fisher"])
def test_counterexample_is_brute_force_argmax_of_eq12(stream, strategy):
    X, y, y_noisy, _ = stream
    est = _lr() if strategy != "full_fisher" else small_net(30, 2, max_epochs=20)
    c = CincerCleaner(est, counterexample=strategy, dtype="float64", random_state=0)
    c.fit(X[:120], y_noisy[:120])
    a = c.adapter_
    which = "all" if strategy == "full_fisher" else "last"
    G = a.per_example_grads(c.X_, c.y_, which=which).numpy()  # autograd, one row each
    rcond = np.finfo(np.float64).eps ** 0.5
    M = np.eye(G.shape[1]) if strategy == "practical_fisher" else np.linalg.pinv(
        brute_expected_fisher(a, c.X_, which).numpy(), rcond=rcond, hermitian=True)
    checked = 0
    for t in range(150, 300):
        x, yt = X[t], y_noisy[t]
        pred = c.predict(x[None])[0]
        if pred == yt:  # only suspicious rows get counter-examples (their gradient is not ~0)
            continue
        g_t = a.per_example_grads(x[None], [yt], which=which).numpy()[0]
        scores = -(G @ M @ g_t)
        cand = np.flatnonzero(c.y_ == pred)
        expected = cand[np.argmax(scores[cand])]
        assert c.rank_counterexamples(x, yt)[0] == expected
        ranked = c.rank_counterexamples(x, yt, k=5)
        np.testing.assert_array_equal(ranked, cand[np.argsort(-scores[cand], kind="stable")][:5])
        checked += 1
    assert checked >= 10


def test_influence_strategy_follows_exact_inverse_hessian(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(LogisticRegression(C=0.1, max_iter=1000), counterexample="influence",
                      lissa_depth=3000, lissa_scale=20.0, lissa_batch_size=120, random_state=0)
    c.fit(X[:120], y_noisy[:120])
    a = c.adapter_
    Hinv = np.linalg.inv(a.hessian(c.X_, c.y_).numpy())
    G = a.per_example_grads(c.X_, c.y_).numpy()
    x, yt = X[130], 1 - y_noisy[130]
    pred = c.predict(x[None])[0]
    g_t = a.per_example_grads(x[None], [yt]).numpy()[0]
    cand = np.flatnonzero(c.y_ == pred)
    expected = cand[np.argsort(-(-(G @ Hinv @ g_t))[cand], kind="stable")]
    assert c.rank_counterexamples(x, yt)[0] == expected[0]
    np.testing.assert_array_equal(c.rank_counterexamples(x, yt, k=5), expected[:5])


def test_algorithm_1_with_counterexamples(stream):
    X, y, y_noisy, flipped = stream
    calls = []
    truth = SimulatedOracle(X, y)

    def oracle(Xq, yq, **ctx):
        calls.append((len(Xq), list(ctx["role"])))
        return truth(Xq, yq)

    c = CincerCleaner(_lr(), oracle=oracle, random_state=0).fit(X[:100], y_noisy[:100])
    c.partial_fit(X[100:200], y_noisy[100:200])
    assert len(c.X_) == 200 and c.n_seen_ == 100
    assert c.n_queries_ == len(calls) == len(c.history_) > 0
    # a counter-example the annotator already labelled is answered from the journal
    assert all(roles == ["suspicious", "counterexample"][:n] for n, roles in calls)
    assert sum(n == 2 for n, _ in calls) > 0
    # every queried label is now the truth; every unqueried stream row is as given
    queried = {100 + h["position"] for h in c.history_}
    for h in c.history_:
        assert c.y_[100 + h["position"]] == y[100 + h["position"]]
    untouched = [i for i in range(100, 200) if i not in queried]
    np.testing.assert_array_equal(c.y_[[i for i in untouched]], y_noisy[untouched])
    # the counter-example got its true label, and it was pertinent (label = prediction)
    for h in c.history_:
        assert h["counterexample_label"] == h["predicted"]
        assert h["counterexample_answer"] == y[h["counterexample"]]
    report = c.cleaning_report()
    assert report["question"].nunique() == c.n_queries_
    assert int(report.loc[~report["from_journal"], "changed"].sum()) == c.n_changed_
    # the rows an answer judged: the queried stream rows and every counter-example
    judged = set(report.loc[~report["skipped"], "row_id"].tolist())
    assert c.n_cleaned_ == len(judged)
    assert set(c.row_ids_[c.cleaned_mask_].tolist()) == judged
    np.testing.assert_array_equal(report["applied"].to_numpy(dtype=int),
                                  y[report["row_id"].to_numpy(dtype=int)])
    # margins below the threshold were never queried
    assert all(h["margin"] >= c.threshold for h in c.history_)


def test_no_counterexample_asks_only_about_the_suspicious_row(stream):
    X, y, y_noisy, _ = stream
    sizes = []
    truth = SimulatedOracle(X, y)

    def oracle(Xq, yq, **ctx):
        sizes.append(len(Xq))
        assert list(ctx["role"]) == ["suspicious"]
        return truth(Xq, yq)

    c = CincerCleaner(_lr(), oracle=oracle, counterexample=None).fit(X[:100], y_noisy[:100])
    y_before = c.y_.copy()
    c.partial_fit(X[100:160], y_noisy[100:160])
    assert set(sizes) == {1}
    np.testing.assert_array_equal(c.y_[:100], y_before)  # the past is never cleaned
    assert all(h["counterexample"] is None for h in c.history_)
    with pytest.raises(ValueError, match="ranks no"):
        c.rank_counterexamples(X[0], y[0])


def test_drop_ce_semantics(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr(), counterexample="drop").fit(X[:100], y_noisy[:100])
    t = 100 + _first_suspicious(c, X[100:], y_noisy[100:])
    x, yt = X[t], y_noisy[t]
    k = c.rank_counterexamples(x, yt)[0]  # Top Fisher choice
    dropped_row = c.X_[k].copy()
    # the oracle keeps the suspicious label: z_k is dropped from the data
    c.set_params(oracle=lambda Xq, yq, **ctx: yq)
    n = len(c.X_)
    c.partial_fit(x[None], [yt])
    assert len(c.X_) == n  # one dropped, one added
    assert not any(np.array_equal(r, dropped_row) for r in c.X_)
    assert c.history_[-1]["dropped"] and c.history_[-1]["counterexample"] == k
    # the oracle relabels it: nothing is dropped
    c2 = CincerCleaner(_lr(), counterexample="drop").fit(X[:100], y_noisy[:100])
    c2.set_params(oracle=lambda Xq, yq, **ctx: 1 - yq)
    c2.partial_fit(x[None], [yt])
    assert len(c2.X_) == 101 and not c2.history_[-1]["dropped"]
    assert c2.y_[-1] == 1 - yt


def test_pertinence_and_distance_restrictions(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr()).fit(X[:150], y_noisy[:150])
    x, yt = X[160], y_noisy[160]
    pred = c.predict(x[None])[0]
    ranked = c.rank_counterexamples(x, yt)
    assert set(ranked) == set(np.flatnonzero(c.y_ == pred))
    c.set_params(pertinent=False)
    assert set(c.rank_counterexamples(x, yt)) == set(range(150))
    d = np.linalg.norm(c.X_ - x, axis=1)
    c.set_params(pertinent=True, n_neighbors=10)
    near = c.rank_counterexamples(x, yt)
    pert = np.flatnonzero(c.y_ == pred)
    np.testing.assert_array_equal(np.sort(near), np.sort(pert[np.argsort(d[pert])[:10]]))
    r = np.median(d)
    c.set_params(n_neighbors=None, radius=r)
    assert set(c.rank_counterexamples(x, yt)) == set(pert[d[pert] <= r])
    c.set_params(radius=None, counterexample="nearest")
    assert c.rank_counterexamples(x, yt)[0] == pert[np.argmin(d[pert])]


@pytest.mark.parametrize("fault", ["raises", "shape", "label"])
def test_oracle_fault_rolls_back(stream, fault):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr(), oracle=SimulatedOracle(X, y)).fit(X[:100], y_noisy[:100])
    t = 100 + _first_suspicious(c, X[100:], y_noisy[100:])
    c.partial_fit(X[100:t], y_noisy[100:t])  # the rows before the failing query
    snap = (c.X_.copy(), c.y_.copy(), list(c.history_), c.n_queries_, c.n_seen_,
            c.predict_proba(X))
    bad = {
        "raises": lambda Xq, yq, **k: (_ for _ in ()).throw(RuntimeError("gone")),
        "shape": lambda Xq, yq, **k: yq[:1],
        "label": lambda Xq, yq, **k: np.full(len(yq), 7),
    }[fault]
    c.set_params(oracle=bad)
    with pytest.raises(OracleError):
        c.partial_fit(X[t : t + 5], y_noisy[t : t + 5])
    np.testing.assert_array_equal(c.X_, snap[0])
    np.testing.assert_array_equal(c.y_, snap[1])
    assert c.history_ == snap[2] and c.n_queries_ == snap[3] and c.n_seen_ == snap[4]
    np.testing.assert_allclose(c.predict_proba(X), snap[5])


def test_keyboard_interrupt_keeps_answered_queries(stream):
    X, y, y_noisy, _ = stream
    truth = SimulatedOracle(X, y)
    answered = []

    def oracle(Xq, yq, **ctx):
        if len(answered) == 2:
            raise KeyboardInterrupt
        answered.append(1)
        return truth(Xq, yq)

    c = CincerCleaner(_lr(), oracle=oracle).fit(X[:100], y_noisy[:100])
    with pytest.raises(KeyboardInterrupt):
        c.partial_fit(X[100:300], y_noisy[100:300])
    assert c.n_queries_ == 2 and len(c.history_) == 2
    assert len(c.X_) == 100 + c.n_seen_
    for h in c.history_:
        assert c.y_[100 + h["position"]] == y[100 + h["position"]]


def test_input_validation_before_any_change(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr(), oracle=SimulatedOracle(X, y)).fit(X[:100], y_noisy[:100])
    n = len(c.X_)
    with pytest.raises(ValueError, match="Unknown labels"):
        c.partial_fit(X[100:110], np.r_[y_noisy[100:109], 5])
    bad = X[100:110].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        c.partial_fit(bad, y_noisy[100:110])
    with pytest.raises(ValueError, match="features"):
        c.partial_fit(X[100:110, :5], y_noisy[100:110])
    assert len(c.X_) == n and c.n_seen_ == 0
    with pytest.raises(ValueError, match="oracle"):
        CincerCleaner(_lr()).fit(X[:50], y[:50]).partial_fit(X[50:60], y[50:60])


def test_score_samples_is_negative_margin(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr()).fit(X[:100], y_noisy[:100])
    P = c.predict_proba(X)
    np.testing.assert_allclose(c.score_samples(X, y), P[np.arange(len(y)), y] - P.max(1))
    assert np.all(c.score_samples(X, y) <= 0)


def test_deterministic_with_random_state(stream):
    X, y, y_noisy, _ = stream
    runs = []
    for _ in range(2):
        c = CincerCleaner(small_net(30, 2, max_epochs=10), oracle=SimulatedOracle(X, y),
                          refit_epochs=2, random_state=7)
        c.fit(X[:60], y_noisy[:60]).partial_fit(X[60:90], y_noisy[60:90])
        runs.append(c)
    assert [h["counterexample"] for h in runs[0].history_] == \
        [h["counterexample"] for h in runs[1].history_]
    np.testing.assert_allclose(runs[0].predict_proba(X), runs[1].predict_proba(X), atol=1e-6)


def test_scratch_refit_retrains_from_initial_weights(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(small_net(30, 2, max_epochs=5), oracle=SimulatedOracle(X, y),
                      refit="scratch", random_state=0).fit(X[:60], y_noisy[:60])
    init = {k: v.clone() for k, v in c.adapter_._initial_state.items()}
    c.partial_fit(X[60:65], y_noisy[60:65])
    for k, v in c.adapter_._initial_state.items():
        np.testing.assert_array_equal(v, init[k])
    assert len(c.adapter_.net.history) == 5  # a full schedule, not a continuation


def test_pipeline_clone_and_default_network(stream):
    X, y, y_noisy, _ = stream
    pipe = make_pipeline(StandardScaler(), CincerCleaner(_lr()))
    pipe.fit(X[:100], y_noisy[:100])
    assert pipe.score(X[100:], y[100:]) > 0.8
    c = CincerCleaner(_lr(), threshold=0.3, counterexample="nearest")
    c2 = clone(c)
    assert c2.get_params()["threshold"] == 0.3 and c2.get_params()["counterexample"] == "nearest"
    net = CincerCleaner(random_state=0).fit(X[:60].astype(np.float32), y_noisy[:60])
    assert net.predict(X[:5]).shape == (5,)
    assert type(net.estimator_).__name__ == "NeuralNetClassifier"


def _keep_labels(Xq, yq, **ctx):
    return yq


def test_stream_appends_are_amortised_constant_time(stream):
    """X_ grows into a doubling buffer: a long stream reallocates O(log n) times."""
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr(), oracle=_keep_labels, threshold=1.0).fit(X[:50], y_noisy[:50])
    buffers = set()
    for i in range(50, 150):
        c.partial_fit(X[i:i + 1], y_noisy[i:i + 1])
        buffers.add(id(c.X_.base))
        assert c.X_.base is not None  # a view, not a fresh copy per row
    assert len(buffers) <= 3  # 64 -> 128 -> 256 rows of capacity
    np.testing.assert_array_equal(c.X_, X[:150])
    np.testing.assert_array_equal(c.y_, y_noisy[:150])
    np.testing.assert_array_equal(c.row_ids_, np.arange(150))
    again = pickle.loads(pickle.dumps(c))
    assert not hasattr(again, "_X_buf")
    again.partial_fit(X[150:152], y_noisy[150:152])
    np.testing.assert_array_equal(again.X_, X[:152])


def test_fisher_sample_is_a_uniform_reservoir():
    """Each of n streamed rows ends up in the m-row Fisher sample with probability m/n."""
    m, n, runs = 10, 100, 400
    counts = np.zeros(n)
    for seed in range(runs):
        sample = ReservoirSample(m, 5, np.random.default_rng(seed))
        for i in range(5, n):
            sample.offer(i)
        assert len(sample.indices) == m and len(set(sample.indices)) == m
        counts[sample.indices] += 1
    # binomial(400, 0.1): mean 40, sd 6; a sample biased to early or late rows is far out
    assert np.all(np.abs(counts - runs * m / n) < 5 * np.sqrt(runs * 0.1 * 0.9))
    assert abs(counts[:50].sum() - counts[50:].sum()) < 0.1 * runs * m


def test_top_fisher_from_the_row_sample_equals_brute_force(stream):
    """With fisher_rows < n the Fisher is the exact one over the sampled rows; with
    fisher_rows >= n (or None) over all rows; the sample follows appends and drops."""
    X, y, y_noisy, _ = stream
    kw = dict(counterexample="drop", dtype="float64", random_state=0, threshold=0.3,
              oracle=SimulatedOracle(X, y))
    rcond = np.finfo(np.float64).eps ** 0.5
    for rows in (40, None):
        c = CincerCleaner(_lr(), fisher_rows=rows, **kw).fit(X[:120], y_noisy[:120])
        c.partial_fit(X[120:220], y_noisy[120:220])
        idx = np.arange(len(c.X_)) if rows is None else c.fisher_sample_.indices
        n_dropped = sum(h["dropped"] for h in c.history_)
        assert n_dropped > 0  # the drop path was exercised
        assert len(idx) == len(c.X_) if rows is None else rows - n_dropped <= len(idx) <= rows
        assert len(np.unique(idx)) == len(idx) and idx.max() < len(c.X_)
        a = c.adapter_
        G = a.per_example_grads(c.X_, c.y_, which="last").numpy()
        M = np.linalg.pinv(brute_expected_fisher(a, c.X_[idx], "last").numpy(), rcond=rcond,
                           hermitian=True)
        checked = 0
        for t in range(300, 400):
            x, yt = X[t], y_noisy[t]
            pred = c.predict(x[None])[0]
            if pred == yt:
                continue
            g_t = a.per_example_grads(x[None], [yt], which="last").numpy()[0]
            cand = np.flatnonzero(c.y_ == pred)
            expected = cand[np.argsort(-(-(G @ M @ g_t))[cand], kind="stable")][:3]
            np.testing.assert_array_equal(c.rank_counterexamples(x, yt, k=3), expected)
            checked += 1
        assert checked >= 3


def test_a_stream_row_does_not_copy_the_records(stream):
    """Rolling back a stream row must not cost a copy of every record so far (a long stream
    would be quadratic): records are appended in place and cut back on failure."""
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr(), oracle=SimulatedOracle(X, y)).fit(X[:100], y_noisy[:100])
    c.partial_fit(X[100:200], y_noisy[100:200])
    assert c.n_queries_ > 0
    lists = (c.history_, c.iteration_times_)
    first = [dict(h) for h in c.history_]
    n_records = len(c.questioner_.records)
    c.partial_fit(X[200:260], y_noisy[200:260])
    assert c.history_ is lists[0] and c.iteration_times_ is lists[1]  # appended in place
    assert c.history_[: len(first)] == first
    n_hist, n_times = len(c.history_), len(c.iteration_times_)
    n_records = len(c.questioner_.records)
    c.set_params(oracle=lambda Xq, yq, **k: (_ for _ in ()).throw(RuntimeError("gone")))
    t = 260 + _first_suspicious(c, X[260:], y_noisy[260:])
    with pytest.raises(OracleError):
        c.partial_fit(X[260 : t + 1], y_noisy[260 : t + 1])
    # the rows before the failing one were kept; the failing one left no record
    assert len(c.history_) == n_hist and len(c.iteration_times_) == n_times + (t - 260)
    assert len(c.questioner_.records) == n_records


@pytest.mark.parametrize("counterexample", ["top_fisher", "drop"])
def test_logistic_refits_only_when_the_rows_moved_it_past_tol(stream, counterexample):
    """Between refits the model already meets the estimator's tol on every row so far:
    a warm start would not move it.  The tracked gradient sum is exact through appends,
    relabelled counter-examples and drops, and the refits are fewer than the rows."""
    X, y, y_noisy, _ = stream
    model = LogisticRegression(max_iter=1000, tol=0.02)
    c = CincerCleaner(model, oracle=SimulatedOracle(X, y), counterexample=counterexample,
                      dtype="float64", random_state=0).fit(X[:150], y_noisy[:150])
    c.partial_fit(X[150:450], y_noisy[150:450])
    assert 0 < c.n_refits_ < 0.5 * c.n_seen_
    if counterexample == "drop":
        assert any(h["dropped"] for h in c.history_)
    a = c.adapter_
    g = a.loss_grad(c.X_, c.y_)
    np.testing.assert_allclose(c._lazy_refit.G / len(c.X_), g, rtol=0,
                               atol=1e-10 * float(c._lazy_refit.G.abs().max()))
    assert float(g.abs().max()) <= model.tol
    before = a.estimator.coef_.copy()
    a.newton_refit(c.X_, c.y_)  # what the next warm start would do: nothing
    assert a.newton_iterations_ == 0
    np.testing.assert_array_equal(a.estimator.coef_, before)


def test_refit_switched_to_scratch_after_fit_keeps_the_tracked_gradient(stream):
    X, y, y_noisy, _ = stream
    c = CincerCleaner(_lr(), oracle=SimulatedOracle(X, y), dtype="float64",
                      random_state=0).fit(X[:150], y_noisy[:150])
    c.partial_fit(X[150:200], y_noisy[150:200])
    before = c.n_refits_
    c.set_params(refit="scratch").partial_fit(X[200:230], y_noisy[200:230])
    assert c.n_refits_ - before == 30  # from scratch: after every row
    c.set_params(refit="warm_start").partial_fit(X[230:260], y_noisy[230:260])
    g = c.adapter_.loss_grad(c.X_, c.y_)
    np.testing.assert_allclose(c._lazy_refit.G / len(c.X_), g, rtol=0,
                               atol=1e-10 * float(c._lazy_refit.G.abs().max()))
    assert float(g.abs().max()) <= c.adapter_.estimator.tol
