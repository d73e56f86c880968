"""Influence of removing each training row on a test loss (Koh & Liang, 2017)."""

import numpy as np
import torch

from .hessian import cg_solve, exact_inverse_hvp, lissa, minibatch_hvp


def removal_influence(adapter, X, y, X_test, y_test, *, method="exact", which="last",
                      damping=0.0, lissa_kwargs=None, random_state=None):
    """Predicted change of the mean test loss when each training row is removed.

    ``Δ_i ≈ 1/n · ∇L_test^T H^{-1} ∇ℓ(z_i)`` with ``H`` the Hessian of the
    training objective at the fitted parameters.  A positive value means that
    removing row ``i`` would *raise* the test loss (the row helps).

    Parameters
    ----------
    adapter : ModelAdapter
        A fitted adapter; ``(X, y)`` must be the rows it was trained on.
    method : {"exact", "cg", "lissa"}
        How ``H^{-1} ∇L_test`` is obtained: explicit Hessian, conjugate
        gradient over Hessian-vector products, or the LiSSA recursion.
    which : {"last", "all"}
        Differentiate the last layer only, or every parameter (then the
        per-example gradients are materialised: small models only).

    Returns
    -------
    ndarray of shape (n,)
    """
    g_test = adapter.loss_grad(X_test, y_test, which=which)
    if method == "exact":
        s = exact_inverse_hvp(adapter, X, y, g_test, damping=damping, which=which)
    elif method == "cg":
        s, _ = cg_solve(adapter.hvp_fn(X, y, which=which), g_test, damping=damping)
    elif method == "lissa":
        kw = {"depth": 1000, "scale": 10.0, "damping": damping, **(lissa_kwargs or {})}
        batch = kw.pop("batch_size", X.shape[0])
        hvp = minibatch_hvp(adapter, X, y, batch_size=batch, which=which,
                            random_state=random_state)
        s = lissa(hvp, g_test, **kw)
    else:
        raise ValueError(f"method must be 'exact', 'cg' or 'lissa', got {method!r}")
    if which == "last":
        out = adapter.last_layer_grads(X, y).dot(s)
    else:
        out = adapter.per_example_grads(X, y, which=which) @ s
    return (out / X.shape[0]).detach().cpu().numpy().astype(np.float64)


def retrain_loss_change(adapter_factory, X, y, X_test, y_test, indices):
    """Brute force: actual mean test-loss change after removing each row in ``indices``.

    ``adapter_factory()`` must return a fresh unfitted adapter; each removal
    retrains it to convergence.  Used by the tests and the documentation.
    """
    def test_loss(adapter):
        with torch.no_grad():
            Z = adapter.logits(X_test)
            return float(adapter.head.loss(Z, adapter.encode(y_test)).mean())

    base = test_loss(adapter_factory().fit(X, y))
    mask = np.ones(X.shape[0], dtype=bool)
    out = []
    for i in indices:
        mask[i] = False
        out.append(test_loss(adapter_factory().fit(X[mask], y[mask])) - base)
        mask[i] = True
    return np.asarray(out)
