"""Adapters: predictions, closed-form last-layer gradients and Hessians vs autograd."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier
from torch import nn

from skclean import (
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    ModelBasedDetector,
    SimulatedOracle,
)
from skclean.datasets import flip_labels
from skclean.influence import top_fisher_from_outputs
from skclean.models import (
    LogisticRegressionAdapter,
    ProbaAdapter,
    SigmoidHead,
    SoftmaxHead,
    TorchAdapter,
    make_adapter,
)

from .conftest import CUDA, small_net


def _lr(**kw):
    return LogisticRegression(tol=1e-10, max_iter=2000, **kw)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("binary", [True, False])
def test_lr_adapter_matches_sklearn(iris, fit_intercept, binary):
    X, y = iris
    if binary:
        y = (y == 2).astype(int)
    a = make_adapter(_lr(fit_intercept=fit_intercept)).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), a.estimator.predict_proba(X), atol=1e-12)
    assert isinstance(a.head, SigmoidHead if binary else SoftmaxHead)
    assert a.has_bias is fit_intercept
    np.testing.assert_array_equal(a.predict(X), a.estimator.predict(X))


@pytest.mark.parametrize("binary", [True, False])
def test_last_layer_grads_equal_autograd(iris, binary):
    X, y = iris
    if binary:
        y = (y == 1).astype(int)
    a = make_adapter(_lr()).fit(X, y)
    closed = a.last_layer_grads(X, y).materialize()
    # Brute force: one backward pass per row, no torch.func.
    W, b = (t.clone().requires_grad_(True) for t in (a._W, a._b))
    rows = []
    for i in range(len(X)):
        Z = a.to_tensor(X[i : i + 1]) @ W.T + b
        loss = a.head.loss(Z, a.encode(y[i : i + 1]))[0]
        gW, gb = torch.autograd.grad(loss, (W, b))
        rows.append(torch.cat([gW, gb[:, None]], 1).reshape(-1))
    np.testing.assert_allclose(closed, torch.stack(rows), atol=1e-12)
    np.testing.assert_allclose(a.per_example_grads(X, y), closed, atol=1e-12)


def test_lr_hessian_is_fisher_plus_penalty(breast):
    """For logistic regression the Hessian equals the expected Fisher plus the L2 term."""
    X, y = breast[0][:200], breast[1][:200]
    a = make_adapter(_lr(C=0.3)).fit(X, y)
    H = a.hessian(X, y)
    U, Z = a.last_layer_outputs(X)
    F = top_fisher_from_outputs(a.augment(U), Z, a.head)
    reg = torch.full((H.shape[0],), 1 / (0.3 * len(X)), dtype=H.dtype)
    reg[-1] = 0  # intercept not penalised
    np.testing.assert_allclose(H, F + torch.diag(reg), atol=1e-12)
    assert a.l2 == pytest.approx(1 / (0.3 * 200))


def test_lr_objective_gradient_vanishes_at_sklearn_optimum(breast):
    X, y = breast
    a = make_adapter(_lr(C=0.5)).fit(X, y)
    assert float(a.loss_grad(X, y).abs().max()) < 1e-6


def test_hvp_matches_hessian(iris):
    X, y = iris
    a = make_adapter(_lr()).fit(X, y)
    v = torch.randn(a.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(a.hvp(v, X, y), a.hessian(X, y) @ v, atol=1e-10)
    np.testing.assert_allclose(a.hvp_fn(X, y)(v), a.hessian(X, y) @ v, atol=1e-10)


def test_sample_weight_enters_objective(iris):
    X, y = iris
    w = np.linspace(0.5, 2.0, len(X))
    a = make_adapter(_lr()).fit(X, y, sample_weight=w)
    assert float(a.loss_grad(X, y, sample_weight=w).abs().max()) < 1e-6
    assert float(a.loss_grad(X, y).abs().max()) > 1e-4


def test_lr_adapter_rejects_non_smooth_objectives():
    with pytest.raises(ValueError, match="twice-differentiable"):
        make_adapter(LogisticRegression(l1_ratio=1.0, solver="saga"))
    with pytest.raises(TypeError, match="can wrap"):
        make_adapter(object())


def _weighted_objective(X, y, cw, C, binary):
    """scikit-learn's class-weighted objective divided by ``C n``, written out by hand."""
    Xt, n = torch.as_tensor(X), len(X)
    yt = torch.as_tensor(y)
    w = torch.as_tensor(cw)[yt]

    def rows(theta):
        V = theta.reshape(1 if binary else 3, -1)
        Z = Xt @ V[:, :-1].T + V[:, -1]
        if binary:
            return torch.nn.functional.binary_cross_entropy_with_logits(
                Z[:, 0], yt.double(), reduction="none")
        return torch.nn.functional.cross_entropy(Z, yt, reduction="none")

    def J(theta):
        V = theta.reshape(1 if binary else 3, -1)
        return (w * rows(theta)).sum() / n + 0.5 / (C * n) * (V[:, :-1] ** 2).sum()

    return J, lambda theta: w * rows(theta)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 4.0, 2: 0.5}])
@pytest.mark.parametrize("binary", [True, False])
def test_class_weight_is_the_objective_influence_is_taken_of(iris, class_weight, binary):
    """class_weight weighs each row's loss by its label's weight, as scikit-learn fits it:
    gradients, Hessian and the leave-one-out change of the parameters all follow it."""
    from torch.func import hessian, jacrev

    X, y = iris[0][20:], iris[1][20:]  # imbalanced: 30, 50 and 50 rows
    if binary:
        y = (y == 2).astype(int)
    a = make_adapter(_lr(C=2.0, class_weight=class_weight)).fit(X, y)
    counts = np.bincount(y)
    cw = (len(y) / (len(counts) * counts) if class_weight == "balanced"
          else np.array([class_weight[c] for c in range(len(counts))]))
    np.testing.assert_allclose(a.class_weight_, cw)
    J, rows = _weighted_objective(X, y, cw, 2.0, binary)
    theta = a.last_layer_params().reshape(-1)
    assert float(torch.func.grad(J)(theta).abs().max()) < 1e-6  # sklearn's optimum is J's
    np.testing.assert_allclose(a.last_layer_hessian(X, y=y), hessian(J)(theta), atol=1e-12)
    np.testing.assert_allclose(a.last_layer_grads(X, y).materialize(), jacrev(rows)(theta),
                               atol=1e-12)
    with pytest.raises(ValueError, match="class_weight.*pass y"):
        a.last_layer_hessian(X)
    # retraining with row i down-weighted by ε (scikit-learn multiplies its sample weight by
    # cw_y) moves θ by ε H⁻¹ g_i / n, up to O(ε²): checked on the three rows that move it most
    # (softmax: H is singular along a common shift of the biases, which the logits ignore;
    # the pseudo-inverse and centred biases leave that direction out)
    H, G = a.last_layer_hessian(X, y=y), a.last_layer_grads(X, y).materialize()
    eps = 1e-2
    predicted = eps * (torch.linalg.pinv(H, hermitian=True) @ G.T).T.numpy() / len(y)

    def centred(v):
        V = v.reshape(a.head.n_outputs, -1).copy()
        V[:, -1] -= V[:, -1].mean() if len(V) > 1 else 0.0
        return V.ravel()

    for i in np.argsort(-np.linalg.norm(predicted, axis=1))[:3]:
        w = np.ones(len(y))
        w[i] -= eps
        refit = _lr(C=2.0, class_weight=a.estimator.class_weight).fit(X, y, sample_weight=w)
        change = centred(np.c_[refit.coef_, refit.intercept_].ravel() - theta.numpy())
        assert np.linalg.norm(centred(predicted[i]) - change) < 0.05 * np.linalg.norm(change)


def test_class_weight_with_probabilistic_labels_reaches_the_weighted_row_copies_optimum():
    """Newton on soft labels with class weights lands where scikit-learn's fit on the C
    weighted copies of each row does (it multiplies copy c's weight by cw_c)."""
    from sklearn.datasets import make_classification

    from skclean.models._sklearn import _expand_soft

    X, y = make_classification(800, 6, n_informative=4, n_classes=3, random_state=1)
    Y = 0.7 * np.eye(3)[y] + 0.1
    cw = {0: 0.5, 1: 1.0, 2: 3.0}
    ref = _lr(C=0.5, class_weight=cw).fit(*_expand_soft(X, Y, None, np.arange(3)))
    # Newton stops at the model's own tol (its largest gradient entry): set it tight here
    a = LogisticRegressionAdapter(LogisticRegression(C=0.5, class_weight=cw, tol=1e-8)).fit(X, Y)
    bound = 1e-8 * np.sqrt(a.n_params("last")) * 0.5 * len(X) * 2 / 0.5  # ‖g‖/μ, min cw 0.5
    np.testing.assert_allclose(a.estimator.coef_, ref.coef_, atol=bound)
    assert float(a.loss_grad(X, Y).abs().max()) < 1e-7


def test_balanced_class_weight_on_a_prefit_model_asks_for_a_dict(iris):
    X, y = iris
    with pytest.raises(ValueError, match="compute_class_weight"):
        make_adapter(LogisticRegression(class_weight="balanced").fit(X, y),
                     clone_estimator=False)


def test_class_weight_through_every_estimator():
    """Every estimator takes a class-weighted model; CHEF's refits stay at the optimum of
    the weighted soft-label objective, and CINCER's LiSSA uses the weighted curvature."""
    from sklearn.datasets import make_classification

    X, y = make_classification(400, 6, n_informative=4, n_classes=3, weights=[0.7, 0.2],
                               random_state=0)
    noisy = np.where(np.arange(len(y)) % 7 == 0, (y + 1) % 3, y)
    oracle, trusted = SimulatedOracle(X, y), np.arange(len(y)) < 45
    model = LogisticRegression(class_weight="balanced")
    for est in (ClassBasedIFDetector(model, similarity="if"), ModelBasedDetector(model)):
        assert np.isfinite(est.fit(X, noisy, trusted_mask=trusted).score_samples(X, noisy)).all()
    chef = ChefCleaner(model, oracle=oracle, budget=20, batch_size=10, random_state=0)
    a = chef.fit(X, noisy, trusted_mask=trusted).adapter_
    assert a.class_weight_ is not None and len(chef.history_) == 2
    # every refit ends where the model's own solver would: largest gradient entry <= its tol
    assert float(a.loss_grad(chef.X_, chef.y_, chef.sample_weight_).abs().max()) <= model.tol
    cincer = CincerCleaner(model, oracle=oracle, counterexample="influence", lissa_depth=50,
                           lissa_scale=50.0, random_state=0)
    assert cincer.fit(X[:200], noisy[:200]).partial_fit(X[200:260], noisy[200:260]).n_seen_ == 60


def test_encode_rejects_unknown_labels(iris):
    X, y = iris
    a = make_adapter(_lr()).fit(X, y)
    with pytest.raises(ValueError, match="Unknown labels"):
        a.encode(np.array([0, 7]))


def test_continue_fit_warm_starts(iris):
    X, y = iris
    a = make_adapter(_lr(C=1.0)).fit(X[::3], y[::3])
    a.continue_fit(X, y)
    ref = _lr(C=1.0).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    assert a.estimator.warm_start is False


# ---------------------------------------------------------------- torch / skorch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_last_layer_grads_equal_autograd(iris, dtype):
    X, y = iris
    a = make_adapter(small_net(4, 3), dtype=dtype, random_state=0).fit(X, y)
    closed = a.last_layer_grads(X, y).materialize()
    lin = a._linear
    rows = []
    for i in range(len(X)):
        U, _ = a.last_layer_outputs(X[i : i + 1])
        W, b = lin.weight.detach().requires_grad_(True), lin.bias.detach().requires_grad_(True)
        loss = a.head.loss(U @ W.T + b, a.encode(y[i : i + 1]))[0]
        gW, gb = torch.autograd.grad(loss, (W, b))
        rows.append(torch.cat([gW, gb[:, None]], 1).reshape(-1))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(closed, torch.stack(rows), atol=tol)
    assert closed.dtype == getattr(torch, dtype)


def test_torch_all_param_grads_equal_loop(iris):
    X, y = iris
    X, y = X[::12], y[::12]
    a = make_adapter(small_net(4, 3), dtype="float64", random_state=0).fit(X, y)
    G = a.per_example_grads(X, y, which="all")
    module = a.net.module_.eval()
    params = [p for p in module.parameters()]
    for i in range(len(X)):
        loss = a.head.loss(module(a.to_tensor(X[i : i + 1])), a.encode(y[i : i + 1]))[0]
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params)])
        np.testing.assert_allclose(G[i], g, atol=1e-12)


def test_torch_hessian_matches_finite_differences(iris):
    X, y = iris
    X, y = X[::5], y[::5]
    net = small_net(4, 3, optimizer__weight_decay=1e-2)
    a = make_adapter(net, dtype="float64", random_state=0).fit(X, y)
    assert a.l2 == pytest.approx(1e-2)
    theta, J = a.objective(X, y, which="all")
    H = a.hessian(X, y, which="all")
    gJ = torch.func.grad(J)
    eps = 1e-6
    for j in [0, 5, len(theta) - 1]:
        e = torch.zeros_like(theta)
        e[j] = eps
        fd = (gJ(theta + e) - gJ(theta - e)) / (2 * eps)
        np.testing.assert_allclose(H[:, j], fd, atol=1e-6)


def test_torch_adapter_trains_on_every_row(iris):
    X, y = iris
    net = NeuralNetClassifier(nn.Sequential(nn.Linear(4, 3)), criterion=nn.CrossEntropyLoss,
                              max_epochs=2, verbose=0)
    assert net.train_split is not None  # skorch default holds out 20%
    a = make_adapter(net, random_state=0).fit(X, y)
    assert a.net.train_split is None
    assert a.net.history[-1, "batches", -1, "train_batch_size"] > 0
    assert sum(b["train_batch_size"] for b in a.net.history[-1, "batches"]) == len(X)
    assert net.train_split is not None  # the caller's object is untouched


def test_torch_adapter_is_deterministic_and_refits_from_initial_weights(iris):
    X, y = iris
    p1 = make_adapter(small_net(4, 3), random_state=3).fit(X, y).predict_proba(X)
    a = make_adapter(small_net(4, 3), random_state=3)
    p2 = a.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(p1, p2, atol=1e-6)
    init = {k: v.clone() for k, v in a._initial_state.items()}
    a.continue_fit(X, y, epochs=3)
    p3 = a.predict_proba(X)
    assert np.abs(p3 - p2).max() > 1e-4
    a.fit(X[:50], y[:50])  # from scratch: back to the same initial weights first
    for k, v in a._initial_state.items():
        np.testing.assert_array_equal(v, init[k])


def test_torch_global_rng_untouched(iris):
    X, y = iris
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_adapter(small_net(4, 3), random_state=0).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


class _SoftmaxModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, X):
        return torch.softmax(self.out(torch.tanh(self.hidden(X))), dim=-1)


def test_nllloss_module_returning_probabilities(iris):
    X, y = iris
    net = NeuralNetClassifier(_SoftmaxModule, max_epochs=3, lr=0.1, verbose=0)
    a = make_adapter(net, random_state=0).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), a.net.predict_proba(X.astype("float32")),
                               atol=1e-6)
    # log-probabilities are valid logits: all-parameter grads agree with the last-layer closed form
    G = a.per_example_grads(X[:5], y[:5], which="all")  # ..., out.weight (3x6), out.bias (3)
    closed = a.last_layer_grads(X[:5], y[:5]).materialize().reshape(5, 3, 7)
    np.testing.assert_allclose(G[:, -21:-3], closed[:, :, :6].reshape(5, -1), atol=1e-5)
    np.testing.assert_allclose(G[:, -3:], closed[:, :, 6], atol=1e-5)


def test_plain_module_is_wrapped(iris):
    X, y = iris
    module = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    a = make_adapter(module, random_state=0)
    assert isinstance(a, TorchAdapter)
    a.fit(X, y)
    assert a.predict_proba(X).shape == (150, 3)
    assert a.net.module_ is not module  # the user's module is never trained in place


def test_module_whose_last_linear_is_not_the_output_is_rejected(iris):
    X, y = iris
    module = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    with pytest.raises(ValueError, match="last nn.Linear"):
        make_adapter(module).fit(X, y)
    with pytest.raises(ValueError, match="CrossEntropyLoss"):
        make_adapter(NeuralNetClassifier(nn.Linear(4, 3), criterion=nn.MSELoss))


@CUDA
@pytest.mark.gpu
def test_cuda_end_to_end(iris):
    X, y = iris
    a = make_adapter(small_net(4, 3), device="cuda", random_state=0).fit(X, y)
    g = a.last_layer_grads(X, y)
    assert g.U1.device.type == "cuda"
    np.testing.assert_allclose(g.materialize().cpu(), a.per_example_grads(X, y).cpu(), atol=1e-5)
    lr = make_adapter(_lr(), device="cuda").fit(X, y)
    assert lr.hessian(X, y).device.type == "cuda"
    assert isinstance(lr, LogisticRegressionAdapter)


def test_closed_form_last_layer_hvp_matches_autograd_hessian(iris):
    """The two-GEMM last-layer HVP equals torch.func's Hessian, weights and decay included."""
    X, y = iris
    net = small_net(4, 3, optimizer__weight_decay=0.05)
    a = make_adapter(net, dtype="float64", random_state=0).fit(X, y)
    w = np.linspace(0.2, 1.0, len(X))
    v = torch.randn(a.n_params(), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    H = a.hessian(X, y, sample_weight=w)  # autograd through the objective
    np.testing.assert_allclose(a.hvp(v, X, y, sample_weight=w), H @ v, atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_soft_labels_are_fitted_directly_to_the_row_expansion_optimum(n_classes):
    """Newton on probabilistic labels reaches scikit-learn's optimum on C weighted row copies."""
    from sklearn.datasets import make_classification

    from skclean.models._sklearn import _expand_soft

    X, y = make_classification(1500, 10, n_informative=6, n_classes=n_classes, random_state=0)
    rng = np.random.RandomState(0)
    Y = 0.7 * np.eye(n_classes)[y] + 0.3 * rng.dirichlet(np.ones(n_classes), len(y))
    w = rng.uniform(0.5, 1.0, len(y))
    ref = _lr(C=0.5).fit(*_expand_soft(X, Y, w, np.arange(n_classes)))
    a = LogisticRegressionAdapter(LogisticRegression(C=0.5)).fit(X, Y, sample_weight=w)
    # J is μ-strongly convex with μ ≥ l2 = 1/(C n): a gradient of norm ‖g‖ ≤ 1e-8·√P at
    # Newton's stop bounds the distance to the optimum by ‖g‖/μ (sklearn's tol is tighter)
    P = a.n_params("last")
    bound = 1e-8 * np.sqrt(P) * 0.5 * len(X) * 2
    np.testing.assert_allclose(a.estimator.coef_, ref.coef_, atol=bound)
    np.testing.assert_allclose(a.estimator.intercept_, ref.intercept_, atol=bound)
    assert a.newton_iterations_ <= 10


def test_newton_refit_after_label_changes_equals_a_fresh_fit(iris):
    X, y = iris
    a = make_adapter(_lr(C=1.0)).fit(X, y)
    Y = np.eye(3)[np.searchsorted(a.classes_, y)]
    Y[:10] = np.roll(Y[:10], 1, axis=1)  # ten labels change, as in a CHEF round
    w = np.where(np.arange(len(X)) < 10, 1.0, 0.8)
    H = a.hessian(X, y, sample_weight=w)
    from skclean.influence import SymmetricInverse

    a.newton_refit(X, Y, sample_weight=w, preconditioner=SymmetricInverse(H))
    fresh = _lr(C=1.0).fit(X, np.argmax(Y, 1), sample_weight=w)
    bound = 1e-8 * np.sqrt(a.n_params("last")) * 1.0 * len(X) * 2  # ‖g‖/μ as above
    np.testing.assert_allclose(a.estimator.coef_, fresh.coef_, atol=max(bound, 1e-6))
    assert a.newton_iterations_ <= 8  # quadratic convergence from the old optimum


def test_newton_refit_in_float32_stops_at_its_rounding(iris):
    """In float32 the gradient never gets under the float64 tolerance: the Newton
    decrement must end the solve after a few steps, at the float64 optimum up to float32
    rounding, instead of running to max_iter."""
    X, y = iris
    fits = {}
    for dtype in ("float32", "float64"):
        a = make_adapter(_lr(C=1.0), dtype=dtype).fit(X.astype(dtype), y)
        Y = np.eye(3)[np.searchsorted(a.classes_, y)]
        Y[:10] = np.roll(Y[:10], 1, axis=1)
        w = np.where(np.arange(len(X)) < 10, 1.0, 0.8)
        a.newton_refit(X.astype(dtype), Y, sample_weight=w)
        fits[dtype] = a
    assert fits["float32"].newton_iterations_ <= 8
    W32, W64 = fits["float32"].estimator.coef_, fits["float64"].estimator.coef_
    # iris' Hessian has condition number ~1e3 (|W| ~ 10): float32 gradients (eps 1.2e-7,
    # entries up to ~10) move the optimum by about cond · eps · |g| ~ 1e-3 of |W|
    np.testing.assert_allclose(W32, W64, atol=1e-3 * np.abs(W64).max())


def test_preconditioned_cg_solves_in_few_iterations():
    from skclean.influence import cg_solve

    rng = np.random.RandomState(0)
    B = torch.as_tensor(rng.randn(200, 40))
    A = B.T @ B / 200 + 1e-3 * torch.eye(40)
    b = torch.as_tensor(rng.randn(40))
    exact = torch.linalg.solve(A, b)
    A_near = A * (1 + 0.05 * torch.as_tensor(rng.rand(40, 40)).triu().add(
        torch.as_tensor(rng.rand(40, 40)).triu(1).T))  # a nearby SPD-ish matrix
    A_near = (A_near + A_near.T) / 2 + 1e-3 * torch.eye(40)
    M_inv = torch.linalg.inv(A_near)
    x_plain, it_plain = cg_solve(lambda v: A @ v, b, tol=1e-10)
    x_pre, it_pre = cg_solve(lambda v: A @ v, b, tol=1e-10, preconditioner=lambda r: M_inv @ r)
    cond = float(torch.linalg.cond(A))
    for x in (x_plain, x_pre):  # ‖x − x*‖ ≤ κ · tol · ‖x*‖
        assert float((x - exact).norm()) <= 10 * cond * 1e-10 * float(exact.norm())
    assert it_pre < it_plain / 2


# ---------------------------------------------------------------------- the logistic family
def test_logistic_regression_cv_searches_once_then_refits_at_the_chosen_c(iris, monkeypatch):
    from sklearn.linear_model import LogisticRegressionCV

    from skclean import ChefCleaner, SimulatedOracle

    X, y = iris
    searches = []
    fit = LogisticRegressionCV.fit
    monkeypatch.setattr(LogisticRegressionCV, "fit",
                        lambda self, *a, **k: searches.append(1) or fit(self, *a, **k))
    cv = LogisticRegressionCV(Cs=[0.01, 1.0, 100.0], max_iter=500, l1_ratios=(0.0,),
                              scoring="accuracy", use_legacy_attributes=False)
    y_noisy = y.copy()
    y_noisy[::7] = (y[::7] + 1) % 3
    cleaner = ChefCleaner(cv, oracle=SimulatedOracle(X, y), budget=12, batch_size=3,
                          random_state=0)
    cleaner.fit(X, y_noisy, trusted_mask=np.arange(len(y)) % 5 == 0)
    assert len(searches) == 1  # not once per round
    adapter = cleaner.adapter_
    chosen = float(np.ravel(adapter.cv_estimator_.C_)[0])
    assert type(adapter.model) is LogisticRegression and adapter.model.C == chosen
    # its coefficients are the optimum of the objective at that C, on the current labels
    g = adapter.loss_grad(cleaner.X_, cleaner.y_, sample_weight=cleaner.sample_weight_)
    assert float(g.abs().max()) < 1e-4


@pytest.mark.parametrize("binary", [True, False])
def test_sgd_classifier_influence_pieces_equal_autograd(iris, binary):
    from sklearn.linear_model import SGDClassifier

    X, y = iris
    if binary:
        y = (y == 2).astype(int)
    a = make_adapter(SGDClassifier(loss="log_loss", alpha=1e-2, random_state=0)).fit(X, y)
    assert a.head.name == ("sigmoid" if binary else "one-vs-rest")
    assert a.l2 == pytest.approx(1e-2)
    np.testing.assert_allclose(a.predict_proba(X), a.model.predict_proba(X), atol=1e-10)
    theta, J = a.objective(X, y)
    torch.testing.assert_close(a.hessian(X, y), torch.func.hessian(J)(theta))
    torch.testing.assert_close(a.loss_grad(X, y), torch.func.grad(J)(theta))
    torch.testing.assert_close(a.last_layer_grads(X[:6], y[:6]).materialize(),
                               a.per_example_grads(X[:6], y[:6]))
    before = a.model.coef_.copy()
    a.continue_fit(X, y, epochs=2)  # its own partial_fit, from where it stopped
    assert not np.allclose(before, a.model.coef_) and a.model.t_ > 1


@pytest.mark.parametrize("model, message", [
    ("hinge", "not a logistic model"),
    ("early", "early_stopping=True"),
    ("l1", "twice-differentiable"),
    ("elasticnet", "twice-differentiable"),
])
def test_sgd_classifier_settings_influence_cannot_use_are_refused(model, message):
    from sklearn.linear_model import SGDClassifier

    est = {"hinge": SGDClassifier(),
           "early": SGDClassifier(loss="log_loss", early_stopping=True),
           "l1": SGDClassifier(loss="log_loss", penalty="l1"),
           "elasticnet": SGDClassifier(loss="log_loss", penalty="elasticnet")}[model]
    with pytest.raises(ValueError, match=message):
        make_adapter(est)
    # an elastic net without its L1 part is the L2 objective
    make_adapter(SGDClassifier(loss="log_loss", penalty="elasticnet", l1_ratio=0.0))


def test_a_module_class_is_built_from_random_state_and_one_needing_arguments_is_named(iris):
    from skclean import ClassBasedIFDetector

    X, y = iris
    X = X.astype(np.float32)

    class Net(nn.Module):
        def __init__(self, hidden=8):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))

        def forward(self, x):
            return self.body(x)

    def fitted(seed):
        a = make_adapter(Net, random_state=seed)
        a.net.set_params(max_epochs=3)
        return a.fit(X, y).predict_proba(X)

    torch.manual_seed(123)  # the caller's global RNG plays no part
    first = fitted(0)
    torch.manual_seed(456)
    np.testing.assert_array_equal(first, fitted(0))
    assert not np.allclose(first, fitted(1))
    trusted = np.arange(len(y)) % 10 == 0
    ClassBasedIFDetector(Net, random_state=0).fit(X, y, trusted_mask=trusted)

    class NeedsSizes(nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.out = nn.Linear(n_features, n_classes)

    with pytest.raises(TypeError, match=r"NeuralNetClassifier\(NeedsSizes, "
                                        r"module__n_features=\.\.\., module__n_classes"):
        make_adapter(NeedsSizes)


class _OneLogit(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(30, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, X):
        return self.layers(X).squeeze(-1)  # skorch's binary convention: (n,) logits


def _binary_net(**kw):
    from skorch import NeuralNetBinaryClassifier

    return NeuralNetBinaryClassifier(_OneLogit, max_epochs=kw.pop("max_epochs", 10), lr=0.05,
                                     train_split=None, verbose=0, **kw)


def test_binary_net_influence_is_that_of_the_loss_skorch_trains(breast):
    """NeuralNetBinaryClassifier: one logit, BCEWithLogitsLoss on labels in any label space."""
    X, y = breast
    X, labels = X[::4], np.array(["benign", "malignant"])[y[::4]]
    a = make_adapter(_binary_net(), dtype="float64", random_state=0).fit(X, labels)
    assert type(a.head) is SigmoidHead and a.classes_.tolist() == ["benign", "malignant"]
    net = a.model
    np.testing.assert_allclose(a.predict_proba(X), net.predict_proba(X), atol=1e-12)
    G = a.per_example_grads(X, labels, which="all")
    module, bce = net.module_.eval(), nn.BCEWithLogitsLoss()
    params = list(module.parameters())
    target = torch.as_tensor((labels == "malignant").astype(float))
    for i in range(0, len(X), 9):
        loss = bce(module(a.to_tensor(X[i : i + 1])), target[i : i + 1])
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params)])
        np.testing.assert_allclose(G[i], g, atol=1e-12)
    last = a.last_layer_grads(X, labels).materialize()
    np.testing.assert_allclose(last, G[:, -9:], atol=1e-12)  # [W | b] of the last Linear
    # weighted soft-label training (CHEF's objective) goes through the same one logit
    P = np.where(labels[:, None] == a.classes_, 0.9, 0.1)
    before = a.objective(X, P, np.full(len(X), 0.5), which="all")[1]
    theta0 = a._functional("all", X[:1])[0]
    a.continue_fit(X, P, np.full(len(X), 0.5), epochs=5)
    theta1 = a._functional("all", X[:1])[0]
    assert before(theta1) < before(theta0)


def test_binary_net_through_every_estimator(breast):

    X, y = breast
    oracle = SimulatedOracle(X, y)
    trusted = np.arange(len(y)) < 40
    for est in (ClassBasedIFDetector(_binary_net(), random_state=0),
                ModelBasedDetector(_binary_net(), oracle=oracle, n_rounds=2, random_state=0)):
        assert est.fit(X, y, trusted_mask=trusted).score_samples(X, y).shape == (len(y),)
    chef = ChefCleaner(_binary_net(), oracle=oracle, budget=10, random_state=0)
    assert chef.fit(X, y, trusted_mask=trusted).predict_proba(X).shape == (len(y), 2)
    cincer = CincerCleaner(_binary_net(max_epochs=3), oracle=oracle, refit_epochs=2,
                           random_state=0).fit(X[:100], y[:100]).partial_fit(X[100:130],
                                                                             y[100:130])
    assert cincer.n_seen_ == 30
    with pytest.raises(ValueError, match="1 outputs for 3 classes"):
        make_adapter(_binary_net(), random_state=0).fit(X[:, :30], np.arange(len(y)) % 3)


def test_any_predict_proba_classifier_in_the_probability_only_method(breast):
    """Gradient boosting (or naive Bayes) in ModelBasedDetector; one clear error elsewhere."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.naive_bayes import GaussianNB

    X, y = breast
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    trusted = np.arange(len(y)) < 60
    y_noisy[trusted], flipped[trusted] = y[trusted], False
    gbm = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    det = ModelBasedDetector(gbm, oracle=SimulatedOracle(X, y), n_rounds=3,
                             random_state=0).fit(X, y_noisy, trusted_mask=trusted)
    assert isinstance(det.adapter_, ProbaAdapter)
    assert isinstance(det.estimator_, HistGradientBoostingClassifier) and det.estimator_ is not gbm
    low = np.argsort(det.score_samples(X, y_noisy))[: flipped.sum()]
    assert flipped[low].mean() >= 0.7  # base rate 0.2
    # the kept model is the best round's copy, not the last round's model
    best = det.history_[det.best_round_ - 1]["val_accuracy"]
    assert best == max(h["val_accuracy"] for h in det.history_)
    # a class the model never saw gets probability 0 in its column
    a = make_adapter(gbm, needs_gradients=False, classes=[0, 1, 2]).fit(X[:200], y[:200])
    P = a.predict_proba(X[:5])
    assert P.shape == (5, 3) and np.all(P[:, 2] == 0) and np.allclose(P.sum(1), 1)
    with pytest.raises(TypeError, match="gives probabilities only"):
        a.last_layer_grads(X[:5], y[:5])
    for est in (ClassBasedIFDetector(gbm), ChefCleaner(gbm, oracle=SimulatedOracle(X, y)),
                CincerCleaner(GaussianNB(), oracle=SimulatedOracle(X, y))):
        name = type(est).__name__
        with pytest.raises(TypeError, match=rf"{name} takes the influence.*probabilities only"
                                            r".*use ModelBasedDetector"):
            if isinstance(est, CincerCleaner):
                est.fit(X, y_noisy)
            else:
                est.fit(X, y_noisy, trusted_mask=trusted)


def _mlp(**kw):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier((6,), alpha=1e-2, solver="lbfgs", max_iter=3000, random_state=0, **kw)


@pytest.mark.parametrize("binary", [True, False])
def test_mlp_classifier_influence_is_that_of_the_objective_sklearn_minimises(iris, binary):
    """The adapter's forward pass, objective and gradients are scikit-learn's own: the
    objective equals its ``loss_`` (weights included), and per-example gradients over
    every weight equal central differences of the loss of its own ``predict_proba``."""
    from torch.func import hessian

    X, y = iris
    if binary:
        y = (y == 2).astype(int)
    w = np.linspace(0.5, 1.5, len(y))
    a = make_adapter(_mlp()).fit(X, y, sample_weight=w)
    assert isinstance(a.head, SigmoidHead if binary else SoftmaxHead)
    np.testing.assert_allclose(a.predict_proba(X), a.estimator.predict_proba(X), atol=1e-12)
    theta, J = a.objective(X, y, sample_weight=w, which="all")
    # sklearn divides by Σw, the adapter by n: the same objective up to that factor
    assert float(J(theta)) == pytest.approx(a.estimator.loss_ * w.sum() / len(y), rel=1e-8)
    G = a.per_example_grads(X, y, which="all")
    est, rng, eps = a.estimator, np.random.default_rng(0), 1e-6
    layer_sizes = [c.size for c in est.coefs_]
    for i in rng.choice(len(y), 3, replace=False):
        for layer in range(len(est.coefs_)):
            j, k = (rng.integers(s) for s in est.coefs_[layer].shape)
            losses = []
            for step in (eps, -eps):
                est.coefs_[layer][j, k] += step
                p = est.predict_proba(X[i : i + 1])[0]
                est.coefs_[layer][j, k] -= step
                losses.append(-np.log(p[np.searchsorted(est.classes_, y[i])]))
            # flat order: per layer, W (out, in) then b
            offset = sum(layer_sizes[:layer]) + sum(b.size for b in est.intercepts_[:layer])
            numeric = (losses[0] - losses[1]) / (2 * eps)
            np.testing.assert_allclose(float(G[i, offset + k * est.coefs_[layer].shape[0] + j]),
                                       numeric, atol=1e-7)
    # torch's softplus is linear beyond 20: autograd's sigmoid residual is off by e^-20 there
    np.testing.assert_allclose(a.last_layer_grads(X, y).materialize(),
                               a.per_example_grads(X, y, which="last"), atol=1e-8)
    theta, J = a.objective(X, y, which="last")
    np.testing.assert_allclose(a.last_layer_hessian(X), hessian(J)(theta), atol=1e-12)


def test_mlp_classifier_through_every_estimator(iris):
    X, y = iris
    oracle = SimulatedOracle(X, y)
    noisy = np.where(np.arange(len(y)) % 9 == 0, (y + 1) % 3, y)
    trusted = np.isin(np.arange(len(y)), np.r_[0:6, 50:56, 100:106])
    for est in (ClassBasedIFDetector(_mlp(), similarity="if"),
                ModelBasedDetector(_mlp(), oracle=oracle, n_rounds=2, loss_weight=1.0)):
        est.fit(X[:120], noisy[:120], trusted_mask=trusted[:120])
        assert np.isfinite(est.partial_fit(X[120:], noisy[120:]).score_samples(X, noisy)).all()
    chef = ChefCleaner(_mlp(), oracle=oracle, budget=6, batch_size=3, random_state=0)
    assert len(chef.fit(X, noisy, trusted_mask=trusted).history_) == 2  # soft labels fitted
    cincer = CincerCleaner(_mlp(), oracle=oracle, counterexample="full_fisher", random_state=0)
    assert cincer.fit(X[:90], noisy[:90]).partial_fit(X[90:110], noisy[90:110]).n_seen_ == 20
    with pytest.raises(ValueError, match="early_stopping=False"):
        make_adapter(_mlp(early_stopping=True))


def test_chef_ranks_by_entropy_with_any_predict_proba_classifier(breast):
    """Active learning needs probabilities only: gradient boosting in CHEF, its soft labels
    and gamma weights fitted as weighted row copies; a classifier without sample_weight
    is named."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.neighbors import KNeighborsClassifier

    X, y = breast
    y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    trusted = np.arange(len(y)) < 60
    y_noisy[trusted] = y[trusted]
    gbm = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    chef = ChefCleaner(gbm, oracle=SimulatedOracle(X, y), strategy="entropy", budget=20,
                       batch_size=10, random_state=0).fit(X, y_noisy, trusted_mask=trusted)
    assert isinstance(chef.adapter_, ProbaAdapter) and chef._n_asked() == 20
    assert chef.n_changed_ >= 8  # entropy finds wrong labels well above the base rate (4)
    with pytest.raises(TypeError, match="ChefCleaner takes the influence.*strategy='entropy'"):
        ChefCleaner(gbm, oracle=SimulatedOracle(X, y)).fit(X, y_noisy, trusted_mask=trusted)
    with pytest.raises(TypeError, match="KNeighborsClassifier.fit takes no sample_weight"):
        ChefCleaner(KNeighborsClassifier(), oracle=SimulatedOracle(X, y), strategy="entropy",
                    budget=10).fit(X, y_noisy, trusted_mask=trusted)
