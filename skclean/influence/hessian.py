"""Inverse Hessian-vector products: exact, conjugate gradient and LiSSA."""

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._linalg import SymmetricInverse, cg_solve, sampled_hessian_inverse  # noqa: F401
from .._sparse import is_sparse


def last_layer_hessian(adapter, X, sample_weight=None, y=None):
    """Explicit Hessian of the training objective w.r.t. the last layer ``[W | b]``
    (see :meth:`~skclean.models.ModelAdapter.last_layer_hessian`)."""
    return adapter.last_layer_hessian(X, sample_weight, y)


def exact_inverse_hvp(adapter, X, y, v, *, damping=0.0, sample_weight=None, which="last"):
    """``(H + damping I)^{-1} v`` with the explicit Hessian (small or convex models)."""
    H = adapter.hessian(X, y, sample_weight=sample_weight, which=which)
    return SymmetricInverse(H, method="damped", damping=damping)(v.to(H.dtype))


class LissaDivergenceError(FloatingPointError):
    """The LiSSA recursion diverged: ``scale`` is below the Hessian's largest eigenvalue."""


def lissa(hvp_batch, v, *, depth=1000, scale=10.0, damping=0.0, samples=1):
    """LiSSA estimate of ``(H + scale·damping·I)^{-1} v`` (Agarwal et al., 2017).

    Iterates ``h ← v + (1 − damping) h − H_j h / scale`` for ``depth`` steps, with
    ``H_j`` a mini-batch Hessian from ``hvp_batch(h, j)``, and returns
    ``h / scale`` averaged over ``samples`` independent recursions.  It converges
    when ``‖H‖ < scale``; a larger scale is safer and slower.

    Divergence is detected, never returned: when every step contracts
    (``0 ⪯ H_j ⪯ 2·scale``) the ``j``-th iterate has norm at most
    ``(j + 1)‖v‖``, so an iterate ten times beyond that bound, or a non-finite
    one, raises :class:`LissaDivergenceError`.

    Parameters
    ----------
    hvp_batch : callable ``(vector, step) -> vector``
        Stochastic Hessian-vector product, e.g. from :func:`minibatch_hvp`.
    v : tensor of shape (P,)
    depth, scale, damping, samples : recursion settings (CINCER's reference
        code uses depth 1000, one sample, no damping).
    """
    estimate = torch.zeros_like(v)
    v_norm = float(torch.linalg.vector_norm(v))
    step = 0
    for _ in range(samples):
        h = v.clone()
        for j in range(depth):
            h = v + (1 - damping) * h - hvp_batch(h, step) / scale
            step += 1
            if j % 10 == 9 or j == depth - 1:  # a norm per step would cost a sync on GPUs
                norm = float(torch.linalg.vector_norm(h))
                if not np.isfinite(norm) or norm > 10.0 * (j + 2) * max(v_norm, 1e-300):
                    raise LissaDivergenceError(
                        f"LiSSA diverged after {j + 1} steps (iterate norm {norm:.3g}): "
                        f"scale={scale:g} is below the largest eigenvalue of the Hessian. "
                        "Raise the scale (lissa_scale), or scale the features.")
        estimate += h / scale
    return estimate / samples


def largest_eigenvalue(matvec, dim, *, n_iter=50, dtype=torch.float64, device=None,
                       random_state=None):
    """Largest-magnitude eigenvalue of a symmetric operator by power iteration."""
    rng = check_random_state(random_state)
    x = torch.as_tensor(rng.randn(dim), dtype=dtype, device=device)
    x = x / torch.linalg.vector_norm(x)
    lam = 0.0
    for _ in range(n_iter):
        y = matvec(x)
        lam = float(x @ y)
        norm = torch.linalg.vector_norm(y)
        if not torch.isfinite(norm) or norm == 0:
            break
        x = y / norm
    return abs(lam)


def minibatch_hvp(adapter, X, y, *, batch_size=64, which="last", random_state=None):
    """A ``(v, step) -> H_batch v`` sampler over random mini-batches, for :func:`lissa`.

    Each mini-batch's Hessian includes the full L2 term of the objective, so
    its expectation is the Hessian of the whole training objective.  The
    forward setup is done once; every step only indexes a batch.
    """
    rng = check_random_state(random_state)
    X = X if is_sparse(X) else np.asarray(X)
    y = np.asarray(y)
    n = X.shape[0]
    if batch_size >= n:
        full = adapter.hvp_fn(X, y, which=which)
        return lambda v, step: full(v)
    batch = adapter.batch_hvp_fn(X, y, which=which)
    device = adapter.device

    def hvp(v, step):
        idx = torch.as_tensor(rng.choice(n, batch_size, replace=False), device=device)
        return batch(v, idx)

    return hvp


def lissa_inverse_hvp(adapter, X, y, g, *, which="all", batch_size=32, depth=1000, scale=10.0,
                      damping=0.0, samples=1, random_state=None):
    """``H⁻¹ g`` by LiSSA over mini-batches of ``(X, y)``, safe against divergence.

    If the recursion diverges (``scale`` below the Hessian's largest
    eigenvalue) it warns and retries once with ``scale`` four times the
    largest eigenvalue (mini-batch Hessians spread around the full one) and,
    for a network whose Hessian has negative eigenvalues, with the damping
    that shifts the most negative one past zero.
    """
    rng = check_random_state(random_state)
    hvp = minibatch_hvp(adapter, X, y, batch_size=batch_size, which=which, random_state=rng)
    kw = dict(depth=depth, damping=damping, samples=samples)
    try:
        return lissa(hvp, g, scale=scale, **kw)
    except LissaDivergenceError as exc:
        full = adapter.hvp_fn(X, y, which=which)
        lam = largest_eigenvalue(full, g.numel(), dtype=g.dtype, device=g.device,
                                 random_state=rng)
        new_scale = 4.0 * max(lam, 1e-12)
        # no scale makes the recursion contract along a negative eigenvalue: damp past the
        # most negative one (power iteration on lam·I − H finds lam − λ_min)
        shifted = largest_eigenvalue(lambda v: lam * v - full(v), g.numel(), dtype=g.dtype,
                                     device=g.device, random_state=rng)
        lam_min = lam - shifted
        if lam_min + damping <= 0:
            damping = -lam_min + 0.01 * lam
        warnings.warn(f"{exc} Retrying with lissa_scale={new_scale:.3g} (4x the Hessian's "
                      f"largest eigenvalue) and lissa_damping={damping:.3g}; set them to at "
                      "least these to avoid this.", ConvergenceWarning, stacklevel=2)
        return lissa(hvp, g, scale=new_scale + damping, **{**kw, "damping": damping})


#: The largest last layer (parameters) whose Hessian :func:`self_influence` builds.
MAX_EXPLICIT_PARAMS = 4096


def self_influence(adapter, X_train, y_train, X, y, max_params=MAX_EXPLICIT_PARAMS):
    """How much each row's loss would fall, to first order, were it one more training row.

    Adding row ``i`` to the ``n`` rows of the objective
    ``J = 1/n Σ ℓ + l2/2 ‖θ‖²`` moves the last layer by ``−H⁻¹ g_i / n``
    and its own loss by ``−g_iᵀ H⁻¹ g_i / n`` (``g_i = r_i ⊗ [u_i, 1]``, ``H``
    the Hessian of ``J``; its pseudo-inverse, since a softmax layer's gradients
    never leave the identifiable subspace).  A model's log-probability of a
    row it was trained on is higher than of a row it never saw by about this
    much: the detectors add it to the trusted rows' log-probabilities so that
    they are compared with the training rows on the same footing.

    Parameters
    ----------
    adapter : fitted model adapter
    X_train, y_train : the rows and labels the model was fitted on (``H``)
    X, y : the rows and labels to score
    max_params : int, default=4096
        The largest last layer whose explicit Hessian is built.

    Returns
    -------
    ndarray of shape (n_rows,) or None
        The fall of each row's loss (rise of its log-probability); ``None``
        where the last layer has more than ``max_params`` parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skclean.influence import self_influence
    >>> from skclean.models import make_adapter
    >>> X, y = load_iris(return_X_y=True)
    >>> a = make_adapter(LogisticRegression(max_iter=1000)).fit(X[::2], y[::2])
    >>> gain = self_influence(a, X[::2], y[::2], X[1::2], y[1::2])
    >>> bool((gain > 0).all()), gain.shape
    (True, (75,))
    """
    P = int(adapter.last_layer_params().numel())
    if P > max_params:
        return None
    H = adapter.last_layer_hessian(X_train, y=y_train)
    # solved in float64 whatever the model's precision: float32's default cut-off (√eps =
    # 3.5e-4 of the largest eigenvalue) would drop the directions only the L2 term holds up
    # (l2 = 1/(C·n)); 1e-6 still stays above a float32 Hessian's rounding (~10 eps)
    rtol = 1e-6 if H.dtype == torch.float32 else None
    H = H.double()
    G = adapter.last_layer_grads(X, y).materialize().double()  # (m, P), P small
    V = SymmetricInverse(H, method="pinv", rtol=rtol)(G.T)  # (P, m)
    return ((G * V.T).sum(1) / X_train.shape[0]).double().cpu().numpy()
