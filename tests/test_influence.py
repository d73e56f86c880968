"""Influence core against brute force: explicit expectations, solves and retraining."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression

from skclean.influence import (
    SymmetricInverse,
    cg_solve,
    exact_inverse_hvp,
    full_fisher,
    full_fisher_diagonal,
    group_mean_gradients,
    lissa,
    mean_similarity,
    minibatch_hvp,
    pairwise_similarity,
    removal_influence,
    retrain_loss_change,
    self_similarity,
    top_fisher,
    top_fisher_diagonal,
    top_fisher_from_outputs,
    top_fisher_vp,
    tracin_mean_similarity,
)
from skclean.models import make_adapter

from .conftest import brute_expected_fisher, small_net


@pytest.fixture(scope="module")
def net_adapter(iris):
    X, y = iris
    return make_adapter(small_net(4, 3, max_epochs=20), dtype="float64", random_state=0).fit(X, y)


def test_top_fisher_equals_expected_outer_products(iris, net_adapter):
    X, _ = iris
    F = top_fisher(net_adapter, X)
    np.testing.assert_allclose(F, brute_expected_fisher(net_adapter, X, "last"), atol=1e-12)
    np.testing.assert_allclose(top_fisher_diagonal(net_adapter, X), torch.diagonal(F), atol=1e-12)
    v = torch.randn(F.shape[0], dtype=F.dtype, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(top_fisher_vp(net_adapter, X)(v), F @ v, atol=1e-12)


def test_top_fisher_in_chunks_of_rows(iris, net_adapter):
    """Chunks that do not divide the rows give the same Fisher as one pass."""
    X, _ = iris
    with torch.no_grad():
        U, Z = net_adapter.last_layer_outputs(X)
    U1 = net_adapter.augment(U)
    F = top_fisher_from_outputs(U1, Z, net_adapter.head, chunk_size=17)
    np.testing.assert_allclose(F, brute_expected_fisher(net_adapter, X, "last"), atol=1e-12)
    np.testing.assert_allclose(F, F.T, atol=1e-13)  # symmetric up to GEMM rounding


def test_top_fisher_binary_sigmoid(breast):
    X, y = breast
    a = make_adapter(LogisticRegression(max_iter=1000)).fit(X, y)
    np.testing.assert_allclose(top_fisher(a, X), brute_expected_fisher(a, X, "last"), atol=1e-12)


def test_full_fisher_equals_expected_outer_products(iris, net_adapter):
    X = iris[0][::5]
    F = full_fisher(net_adapter, X)
    np.testing.assert_allclose(F, brute_expected_fisher(net_adapter, X, "all"), atol=1e-12)
    np.testing.assert_allclose(full_fisher_diagonal(net_adapter, X), torch.diagonal(F),
                               atol=1e-12)


def test_symmetric_inverse(rng):
    A = rng.randn(6, 4)
    M = torch.as_tensor(A @ A.T)  # rank 4: singular
    v = torch.as_tensor(rng.randn(6))
    np.testing.assert_allclose(SymmetricInverse(M)(v), np.linalg.pinv(M.numpy()) @ v.numpy(),
                               atol=1e-10)
    # eigenvalues below sqrt(eps)·λ_max count as zero
    Q, _ = np.linalg.qr(rng.randn(6, 6))
    N = torch.as_tensor(Q @ np.diag([1.0, 0.5, 1e-9, 1e-12, 0, 0]) @ Q.T)
    np.testing.assert_allclose(SymmetricInverse(N)(v),
                               Q[:, :2] @ np.diag([1.0, 2.0]) @ Q[:, :2].T @ v.numpy(), atol=1e-6)
    damped = SymmetricInverse(M, method="damped", damping=0.1)
    np.testing.assert_allclose(damped(v), np.linalg.solve(M.numpy() + 0.1 * np.eye(6), v.numpy()),
                               atol=1e-10)
    cols = torch.as_tensor(rng.randn(6, 3))
    np.testing.assert_allclose(damped(cols)[:, 1], damped(cols[:, 1]), atol=1e-12)
    with pytest.raises(ValueError, match="method"):
        SymmetricInverse(M, method="qr")


def test_cg_and_lissa_solve_the_hessian_system(breast):
    X, y = breast[0][:200], breast[1][:200]
    # C small enough that λ_min(H) ≥ 1/(C n) = 0.1: LiSSA contracts by (1 - 0.1/scale) a step
    a = make_adapter(LogisticRegression(C=0.05, max_iter=2000, tol=1e-10)).fit(X, y)
    b = a.loss_grad(breast[0][300:], breast[1][300:])
    exact = exact_inverse_hvp(a, X, y, b)
    np.testing.assert_allclose(exact, torch.linalg.solve(a.hessian(X, y), b), atol=1e-10)
    x, n_iter = cg_solve(a.hvp_fn(X, y), b)
    np.testing.assert_allclose(x, exact, rtol=1e-6, atol=1e-8)
    assert n_iter <= 10 * len(b)
    est = lissa(minibatch_hvp(a, X, y, batch_size=len(X)), b, depth=3000, scale=10.0)
    assert torch.linalg.vector_norm(est - exact) / torch.linalg.vector_norm(exact) < 1e-3
    # damping shifts the solve: (H + λI) x = b
    xd, _ = cg_solve(a.hvp_fn(X, y), b, damping=0.3)
    np.testing.assert_allclose(a.hessian(X, y) @ xd + 0.3 * xd, b, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["exact", "cg", "lissa"])
def test_removal_influence_tracks_leave_one_out_retraining(breast, method):
    """Spearman ≥ 0.9 between predicted and actual test-loss change on removal."""
    X, y = breast
    Xtr, ytr, Xte, yte = X[:150], y[:150], X[300:], y[300:]

    def factory():
        return make_adapter(LogisticRegression(C=0.5, tol=1e-12, max_iter=5000))

    a = factory().fit(Xtr, ytr)
    pred = removal_influence(a, Xtr, ytr, Xte, yte, method=method,
                             lissa_kwargs={"scale": 50.0, "depth": 2000, "batch_size": 50},
                             random_state=0)
    idx = np.argsort(-np.abs(pred))[:25]
    actual = retrain_loss_change(factory, Xtr, ytr, Xte, yte, idx)
    assert spearmanr(pred[idx], actual).statistic >= 0.9
    assert np.sign(pred[idx][:10]).tolist() == np.sign(actual[:10]).tolist()


def test_self_influence_is_the_first_order_gain_of_training_on_the_row(iris):
    """``(1/n) gᵀ H⁺ g`` against autograd gradients and the explicit Hessian, and against
    refitting with the row added: the log-probability the row gains."""
    from skclean.influence.hessian import self_influence

    X, y = iris
    Xtr, ytr, Xn, yn = X[::2], y[::2], X[1::2][:15], y[1::2][:15]

    def model():
        return LogisticRegression(C=1.0, tol=1e-12, max_iter=5000)

    a = make_adapter(model(), dtype="float64").fit(Xtr, ytr)
    got = self_influence(a, Xtr, ytr, Xn, yn)
    G = a.per_example_grads(Xn, yn).numpy()
    H = a.hessian(Xtr, ytr).numpy()  # singular along the intercepts' sum: pseudo-inverse
    want = np.einsum("ip,pq,iq->i", G, np.linalg.pinv(H, rcond=1e-10), G) / len(Xtr)
    np.testing.assert_allclose(got, want, rtol=1e-8)
    before = np.log(a.predict_proba(Xn)[np.arange(len(yn)), yn])
    gained = np.array([np.log(model().fit(np.vstack([Xtr, Xn[i:i + 1]]), np.r_[ytr, yn[i]])
                              .predict_proba(Xn[i:i + 1])[0, yn[i]]) - before[i]
                       for i in range(len(yn))])
    # the first-order step ignores the row's own curvature, which Sherman-Morrison puts in
    # the inverse: it overshoots, by at most that curvature's share (under 0.2 on 75 rows)
    assert np.all(gained > 0) and np.all(gained <= got * 1.01 + 1e-9)
    assert np.all(gained >= 0.75 * got)
    assert spearmanr(got, gained).statistic >= 0.95
    # a last layer too large for an explicit Hessian: no estimate
    assert self_influence(a, Xtr, ytr, Xn, yn, max_params=4) is None


def test_removal_influence_all_params_matches_last_for_linear_model(iris):
    X, y = iris
    a = make_adapter(LogisticRegression(max_iter=1000)).fit(X, y)
    np.testing.assert_allclose(
        removal_influence(a, X, y, X[:10], y[:10], which="all"),
        removal_influence(a, X, y, X[:10], y[:10], which="last"),
        atol=1e-12,
    )


@pytest.mark.parametrize("kind", ["gd", "gc", "if"])
def test_mean_similarity_equals_pairwise_mean(iris, net_adapter, kind):
    X, y = iris
    grads = net_adapter.last_layer_grads(X, y)
    ref_idx = np.arange(0, 150, 7)
    ref = grads[torch.as_tensor(ref_idx)]
    groups = torch.as_tensor(y[ref_idx])
    inverse = SymmetricInverse(top_fisher(net_adapter, X), method="damped", damping=1e-3)
    scores = mean_similarity(grads, ref, groups, 3, kind=kind, inverse=inverse)
    # brute force on the explicit gradient matrices, one pair at a time per class mean
    G, R = grads.materialize().numpy(), ref.materialize().numpy()
    Minv = np.linalg.inv(top_fisher(net_adapter, X).numpy() + 1e-3 * np.eye(G.shape[1]))
    for k in range(3):
        Rk = R[y[ref_idx] == k]
        if kind == "gd":
            S = G @ Rk.T
        elif kind == "gc":
            S = (G @ Rk.T) / np.linalg.norm(G, axis=1)[:, None] / np.linalg.norm(Rk, axis=1)[None]
        else:
            S = G @ Minv @ Rk.T
        np.testing.assert_allclose(scores[:, k], S.mean(1), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(pairwise_similarity(grads[:5], ref, kind=kind, inverse=inverse),
                               {"gd": G[:5] @ R.T,
                                "gc": (G[:5] @ R.T) / np.linalg.norm(G[:5], axis=1)[:, None]
                                / np.linalg.norm(R, axis=1)[None],
                                "if": G[:5] @ Minv @ R.T}[kind], rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("kind", ["gd", "gc", "pgc", "if"])
def test_self_similarity_is_the_pairwise_diagonal(iris, net_adapter, kind):
    X, y = iris
    grads = net_adapter.last_layer_grads(X[:40], y[:40])
    inverse = SymmetricInverse(top_fisher(net_adapter, X), method="damped", damping=1e-3)
    full = pairwise_similarity(grads, grads, kind=kind, inverse=inverse)
    np.testing.assert_allclose(self_similarity(grads, kind=kind, inverse=inverse, chunk_size=7),
                               torch.diagonal(full), rtol=1e-7, atol=1e-10)


def test_tracin_sums_weighted_checkpoints(iris, net_adapter):
    X, y = iris
    g = net_adapter.last_layer_grads(X, y)
    groups = torch.as_tensor(y[::5])
    ref = g[torch.arange(0, 150, 5)]
    gd = mean_similarity(g, ref, groups, 3, kind="gd")
    out = tracin_mean_similarity([(0.5, g, ref), (2.0, g, ref)], groups, 3)
    np.testing.assert_allclose(out, 2.5 * gd, rtol=1e-12)
    with pytest.raises(ValueError, match="checkpoint"):
        tracin_mean_similarity([], groups, 3)


def test_missing_reference_class_is_an_error(iris, net_adapter):
    X, y = iris
    g = net_adapter.last_layer_grads(X, y)
    with pytest.raises(ValueError, match="No reference rows"):
        group_mean_gradients(g[:10], torch.zeros(10, dtype=torch.long), 3)


def test_dot_many_matches_materialized(iris, net_adapter):
    X, y = iris
    g = net_adapter.last_layer_grads(X, y)
    Vs = torch.randn(4, *g.shape, dtype=g.R.dtype, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(g.dot_many(Vs), g.materialize() @ Vs.reshape(4, -1).T, atol=1e-12)
    np.testing.assert_allclose(g.dot(Vs[0]), g.materialize() @ Vs[0].reshape(-1), atol=1e-12)
    np.testing.assert_allclose(g.sq_norms(), (g.materialize() ** 2).sum(1), atol=1e-12)
    np.testing.assert_allclose(g.weighted_sum().reshape(-1), g.materialize().sum(0), atol=1e-12)


def test_symmetric_inverse_survives_eigh_failure(monkeypatch):
    """If the symmetric eigensolver fails, the SVD-based pseudo-inverse is used."""
    real = torch.linalg.pinv

    def flaky(M, *args, hermitian=False, **kw):
        if hermitian:
            raise torch.linalg.LinAlgError("eigh failed to converge")
        return real(M, *args, **kw)

    monkeypatch.setattr(torch.linalg, "pinv", flaky)
    A = torch.randn(5, 3, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    M = A @ A.T
    v = torch.randn(5, dtype=torch.float32, generator=torch.Generator().manual_seed(1))
    out = SymmetricInverse(M)(v)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out, np.linalg.pinv(M.double().numpy(), rcond=3.5e-4) @ v.numpy(),
                               rtol=1e-4, atol=1e-5)
