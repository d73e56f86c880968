"""INFL: the influence of fixing one label on a trusted validation loss (CHEF, Eq. 6-8).

Wu, Weimer & Davidson (PVLDB 2021).  Training minimises
``Σ_i w_i ℓ(x_i, ỹ_i) / n`` with weight ``γ`` on uncleaned rows.  Cleaning row
``i`` to class ``c`` replaces its term by ``ℓ(x_i, e_c)`` at weight 1; a first
order step ``−H⁻¹∇ΔF`` then moves the validation loss by::

    I(i, c) = −∇L_valᵀ H⁻¹ [∇ℓ(x_i, e_c) − γ ∇ℓ(x_i, ỹ_i)]      (up to the 1/n)

(lower = more beneficial).  With ``v = H⁻¹∇L_val`` fixed for a round, every
row and class costs one GEMM: the last-layer gradient of row ``i`` is
``r ⊗ u1_i`` and ``⟨v, r ⊗ u1_i⟩ = (V u1_i)ᵀ r``.

The pieces are public so that tests and benchmarks call what the estimator
calls: :func:`validation_gradient`, :func:`last_layer_inverse_hvp` (``v``),
:func:`infl` / :func:`infl_from_outputs` (the ``(n, C)`` matrix),
:func:`suggest_labels` (each row's suggestion and ranking key),
:func:`removal_infl` (INFL-D, Eq. 2) and :class:`IncrementalINFL`
(Increm-INFL's bounds, Theorem 1).
"""

import numpy as np
import torch

from .._linalg import SymmetricInverse, cg_solve, times_bias_rows
from .._sparse import row_sq_norms

#: The rules :func:`suggest_labels` knows.
SUGGESTIONS = ("alternative", "predicted", "infl")


def validation_gradient(adapter, X_val, y_val):
    """``∇L_val``: the mean last-layer loss gradient over the trusted rows, flat ``[W | b]``."""
    g = adapter.last_layer_grads(X_val, y_val).weighted_sum().reshape(-1)
    return g / X_val.shape[0]


def last_layer_inverse_hvp(adapter, X, g, *, sample_weight=None, y=None, method="cg",
                           damping=0.0, x0=None, preconditioner=None, tol=1e-8,
                           maxiter=None):
    """``(H + damping·I)⁻¹ g`` for the last layer's Hessian ``H`` of the training objective.

    Parameters
    ----------
    adapter : ModelAdapter
        Fitted on ``X`` (with ``sample_weight``).
    X : array-like
        The training rows ``H`` is taken over.
    g : tensor of shape (P,)
        A flat last-layer vector, e.g. :func:`validation_gradient`.
    sample_weight : array-like of shape (n,), default=None
    y : array-like, default=None
        The labels ``X`` is trained on; needed only when the model weighs
        classes, which makes the Hessian depend on them.
    method : {"exact", "cg"}
        ``"exact"`` eigendecomposes the explicit Hessian (pseudo-inverse when
        ``damping=0``: the softmax Hessian is singular along the unpenalised
        shift of all class biases, to which ``g`` is orthogonal); ``"cg"``
        runs conjugate gradient over Hessian-vector products, started at
        ``x0`` and preconditioned by ``preconditioner`` (``r -> M⁻¹ r``).
    tol : float
        CG's relative residual.
    maxiter : int or None
        CG iterations at most (``None``: CG's own limit).

    Returns
    -------
    v : tensor of shape (P,)
    n_iter : int
        CG iterations (0 for ``"exact"``).
    """
    if method == "exact":
        H = adapter.last_layer_hessian(X, sample_weight, y)
        kind = "damped" if damping > 0 else "pinv"
        return SymmetricInverse(H, method=kind, damping=damping)(g), 0
    if method != "cg":
        raise ValueError(f"method must be 'exact' or 'cg', got {method!r}.")
    x0 = x0 if x0 is not None and x0.shape == g.shape else None
    return cg_solve(adapter.hvp_fn(X, y, sample_weight=sample_weight), g, damping=damping,
                    x0=x0, tol=tol, maxiter=maxiter, preconditioner=preconditioner)


def _class_residual(Z, c, head, base):
    """``∇_z ℓ(x_i, e_c) − γ ∇_z ℓ(x_i, ỹ_i)`` for every row (``base`` is the second term)."""
    e_c = torch.full((len(Z),), c, dtype=torch.long, device=Z.device)
    return head.residual(Z, e_c) - base


def _base_residual(Z, Y, head, gamma):
    T = torch.as_tensor(np.asarray(Y), dtype=Z.dtype, device=Z.device)
    return gamma * head.residual(Z, T)


def infl_from_outputs(U1, Z, Y, V, head, *, gamma):
    """INFL ``(n, C)`` from features ``U1`` (bias column included), logits ``Z``, labels.

    Parameters
    ----------
    U1 : tensor of shape (n, d')
    Z : tensor of shape (n, K)
    Y : array of shape (n, C)
        The rows' current (probabilistic) labels.
    V : tensor of shape (K, d')
        ``H⁻¹∇L_val`` as a matrix.
    head : the adapter's output head (residuals in logit space).
    gamma : float
        Weight of an uncleaned row.

    Returns
    -------
    tensor of shape (n, C)
        ``I(i, c)`` times ``n`` (the common factor does not change a ranking).
    """
    return _infl_from_projection(U1 @ V.T, Z, Y, head, gamma)


def _infl_from_projection(A, Z, Y, head, gamma):
    """INFL from ``A = U1 Vᵀ`` (``v`` projected on each row's features) and the logits."""
    base = _base_residual(Z, Y, head, gamma)
    # a column per class, not an (n, C, K) tensor: memory stays O(n·K)
    return torch.stack([-(A * _class_residual(Z, c, head, base)).sum(1)
                        for c in range(np.shape(Y)[1])], 1)


def infl(adapter, X, Y, V, *, gamma):
    """INFL of rows ``X`` with current labels ``Y`` ``(n, C)``, and the model's probabilities.

    ``V`` is ``H⁻¹∇L_val`` as a ``(K, d')`` matrix.  Returns ``(I, P)``: the
    ``(n, C)`` tensor of :func:`infl_from_outputs` and the ``(n, C)``
    predicted probabilities (ndarray), from one forward pass.
    """
    with torch.no_grad():
        U, Z = adapter.last_layer_outputs(X)
    # [U | 1] Vᵀ without building [U | 1]: a copy of every row would cost more than the GEMM
    I = _infl_from_projection(times_bias_rows(U, V, adapter.has_bias), Z, Y, adapter.head, gamma)
    return I, adapter.head.proba(Z).cpu().numpy()


def suggest_labels(I, P, Y, rule="alternative"):
    """Each row's suggested class index and its ranking key (INFL at that class).

    Parameters
    ----------
    I : ndarray of shape (n, C)
        INFL per row and class.
    P : ndarray of shape (n, C)
        The model's probabilities.
    Y : ndarray of shape (n, C)
        The rows' current labels (one-hot or probabilistic).
    rule : {"alternative", "predicted", "infl"}
        The model's most probable class other than the current label (for a
        probabilistic label, which one-hot in its own class would still
        change: the most probable class), its prediction, or
        ``argmin_c I(i, c)`` (the paper's Eq. 6).

    Returns
    -------
    suggested : ndarray of int, shape (n,)
    key : ndarray of shape (n,)
        ``I[i, suggested[i]]``: lower = more beneficial to clean.
    """
    if rule == "infl":
        sugg = I.argmin(1)
    elif rule == "predicted":
        sugg = P.argmax(1)
    elif rule == "alternative":
        # a one-hot label's own class would change nothing (I = 0), while a probabilistic
        # label can still be made certain in its own class: the row may be right, only unsure
        Y = np.asarray(Y)
        certain = np.flatnonzero(Y.max(1) >= 1 - 1e-6)  # within check_label_matrix's slack
        P = P.copy()
        P[certain, Y[certain].argmax(1)] = -np.inf
        sugg = P.argmax(1)
    else:
        raise ValueError(f"rule must be one of {SUGGESTIONS}, got {rule!r}.")
    return sugg, I[np.arange(len(I)), sugg]


def removal_infl(adapter, X, Y, V):
    """INFL-D (Eq. 2): ``∇ℓ_iᵀ V`` per row, the validation-loss change of removing it, times n.

    The most harmful rows are those whose removal lowers the validation loss
    most (most negative).
    """
    return adapter.last_layer_grads(X, Y).dot(V).cpu().numpy()


class IncrementalINFL:
    """Increm-INFL (Algorithm 1): INFL bounded from quantities cached at the model ``w(0)``.

    Caches the features ``U1`` and every class's residual ``R⁰_ic`` at the
    current model.  After the model moved to ``W``,
    ``R_ic(W) − R⁰_ic = (1−γ)(p_i(W) − p_i(w(0)))`` and the softmax Jacobian
    has norm at most ``L = 1/2`` (``1/4`` for a sigmoid), so with
    ``a_i = V u1_i``::

        |I(i, c) − Î(i, c)| ≤ (1−γ) L ‖a_i‖ ‖W − W(0)‖ ‖u1_i‖,   Î(i, c) = −a_iᵀ R⁰_ic,

    a rigorous form of Theorem 1's bound.

    Parameters
    ----------
    adapter : ModelAdapter
        At the model ``w(0)``.
    X : array-like of shape (n, n_features)
    Y : ndarray of shape (n, C)
        The labels at ``w(0)`` (the residual's ``γ ∇ℓ(x_i, ỹ_i)`` term).
    gamma : float
    """

    def __init__(self, adapter, X, Y, *, gamma):
        U1, Z = adapter.augmented_outputs(X)
        head = adapter.head
        base = _base_residual(Z, Y, head, gamma)
        self.R0 = torch.stack([_class_residual(Z, c, head, base)
                               for c in range(np.shape(Y)[1])], 1)  # (n, C, K)
        self.U1 = U1
        self.W0 = adapter.last_layer_params().clone()
        self.x_norm = row_sq_norms(U1).sqrt()
        self.shift = head.residual_shift(gamma)
        self.gamma = gamma
        self.head = head

    def centres(self, rows, V, W):
        """``(Î, A, P)`` for ``rows``: INFL at ``w(0)``'s residuals (ndarray ``(m, C)``),
        ``a_i = V u1_i`` and the probabilities at ``W``, from the cached features."""
        idx = torch.as_tensor(rows, device=self.U1.device)
        # one GEMM over the cached features (no forward pass), then index the small result
        A = (self.U1 @ V.T)[idx]
        centre = -torch.einsum("nk,nck->nc", A, self.R0[idx])
        P = self.head.proba((self.U1 @ W.T)[idx]).cpu().numpy()  # index after: no copy of U1
        return centre.cpu().numpy(), A, P

    def radius(self, rows, A, W):
        """The bound on ``|I(i, c) − Î(i, c)|`` for every class of each of ``rows``."""
        idx = torch.as_tensor(rows, device=self.U1.device)
        dW = float((W - self.W0).norm())
        return self.shift * dW * A.norm(dim=1) * self.x_norm[idx]


def increm_infl_candidates(key, radius, b):
    """Rows whose INFL interval ``key ± radius`` can reach the ``b`` lowest: a boolean mask.

    A row whose lower bound exceeds the ``b``-th smallest upper bound cannot be
    among the ``b`` best, whatever its exact INFL; the others are evaluated
    exactly, so pruning never changes the selection.
    """
    key = torch.as_tensor(key, dtype=radius.dtype, device=radius.device)
    lower, upper = key - radius, key + radius
    L = torch.kthvalue(upper, min(b, len(upper))).values
    return (lower <= L + 1e-9 * (1 + L.abs())).cpu().numpy()
