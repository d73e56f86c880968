"""Fisher information matrices and their (pseudo-)inverses.

CINCER (Eq. 11) uses the *expected* Fisher information, with labels drawn from
the model's own predictive distribution, not the empirical one built from the
given (possibly wrong) labels:

    F = 1/n Σ_i E_{y ~ P(·|x_i)} [∇ log P(y|x_i) ∇ log P(y|x_i)^T].

Through the logits ``z_i = f(x_i; θ)`` this is ``1/n Σ_i J_i^T A_i J_i`` with
``A_i = diag(p_i) − p_i p_i^T`` the logit-space curvature.  For the last layer
``J_i = I ⊗ u1_i^T``, so the Top Fisher is ``1/n Σ_i A_i ⊗ u1_i u1_i^T`` and can
be built from features and probabilities alone.
"""

import numpy as np
import torch

from ..models._base import curvature_matvec


def top_fisher_from_outputs(U1, Z, head, chunk_size=4096):
    """Expected Fisher of the last layer ``[W | b]`` from features and logits.

    With ``A_i = diag(D_i) − Q_i Q_i^T`` the Fisher is
    ``1/n (blockdiag_c U1^T diag(D[:, c]) U1 − V^T V)`` where row ``i`` of
    ``V`` is ``Q_i ⊗ u1_i``.  Per chunk of ``chunk_size`` rows that is one GEMM
    for the block diagonal and one per class for the upper block-rows of
    ``V^T V`` (the matrix is symmetric): ``K + 1`` products instead of the
    ``K(K+1)/2`` small ones, each with its Python overhead, of a block-by-block
    build.  ``V`` is never formed for all rows.
    """
    n, d = U1.shape
    D, Q = head.curvature_terms(Z)
    K = D.shape[1]
    P = K * d
    upper = torch.zeros(P, P, dtype=U1.dtype, device=U1.device)  # upper block-rows of V^T V
    diag = torch.zeros(P, d, dtype=U1.dtype, device=U1.device)
    for s in range(0, n, chunk_size):
        u = U1[s : s + chunk_size]
        m = len(u)
        diag.addmm_((D[s : s + chunk_size, :, None] * u[:, None, :]).reshape(m, P).T, u)
        q = Q[s : s + chunk_size]
        if bool(q.any()):  # a sigmoid head's Q is zero
            V = (q[:, :, None] * u[:, None, :]).reshape(m, P)
            for c in range(K):
                rows = slice(c * d, (c + 1) * d)
                upper[rows, c * d :].addmm_(V[:, rows].T, V[:, c * d :])
    # mirror the upper blocks; the diagonal blocks, counted twice, once
    F = -(upper + upper.T)
    idx = torch.arange(K, device=U1.device)
    F.view(K, d, K, d)[idx, :, idx, :] += (upper.view(K, d, K, d)[idx, :, idx, :]
                                           + diag.view(K, d, d))
    return F / n


def top_fisher(adapter, X):
    """"Top Fisher": the expected Fisher information of the model's last layer."""
    with torch.no_grad():
        U, Z = adapter.last_layer_outputs(X)
    return top_fisher_from_outputs(adapter._augment(U), Z, adapter.head)


def top_fisher_vp(adapter, X):
    """A matrix-free ``v -> F v`` for the Top Fisher (``v`` flat or ``(K, d')``)."""
    U1, D, Q = adapter.curvature_pieces(X)
    return lambda v: curvature_matvec(U1, D, Q, v) / U1.shape[0]


def top_fisher_diagonal(adapter, X):
    """Diagonal of the Top Fisher, ``1/n Σ_i A_i[c,c] u1_ia²``."""
    U1, D, Q = adapter.curvature_pieces(X)
    return (((D - Q**2).T @ U1**2) / U1.shape[0]).reshape(-1)


def full_fisher(adapter, X, which="all"):
    """Expected Fisher over all parameters, ``1/n Σ_i J_i^T A_i J_i`` (small models).

    Built as ``G^T G / n`` with ``G_i = S_i^T J_i`` and ``S_i S_i^T = A_i``, which
    needs the ``(n, K, P)`` logit Jacobian: use it where ``n K P`` fits in memory.
    """
    J = adapter.logit_jacobian(X, which=which)
    with torch.no_grad():
        S = adapter.head.curvature_sqrt(adapter.logits(X))
    G = torch.einsum("nkj,nkp->njp", S, J).reshape(-1, J.shape[2])
    return G.T @ G / J.shape[0]


def full_fisher_diagonal(adapter, X, which="all"):
    """Diagonal of :func:`full_fisher` without forming the ``P × P`` matrix."""
    J = adapter.logit_jacobian(X, which=which)
    with torch.no_grad():
        S = adapter.head.curvature_sqrt(adapter.logits(X))
    G = torch.einsum("nkj,nkp->njp", S, J)
    return (G**2).sum((0, 1)) / J.shape[0]


class SymmetricInverse:
    """Apply the (pseudo-)inverse of a symmetric PSD matrix ``M`` to vectors, factorised once.

    The matrices skclean inverts are often singular *and consistent*: the
    Fisher of a softmax layer, and the Hessian of a multinomial model with an
    unpenalised intercept, do not change when the same constant is added to
    every class's logit, while every gradient they are applied to is
    orthogonal to that direction.  The solve is therefore done in the
    identifiable subspace: ``M + damping·I`` is eigendecomposed (in float64)
    and eigenvalues below ``rtol · λ_max`` are dropped, which gives the
    minimum-norm solution whatever the machine's rounding.  A Cholesky
    factorisation would succeed or fail on such a matrix depending on the
    last bit of the BLAS.

    Parameters
    ----------
    M : tensor of shape (P, P)
    method : {"pinv", "damped"}
        ``"pinv"``: Moore-Penrose pseudo-inverse of ``M``.  ``"damped"``:
        inverse of ``M + damping·I`` (its pseudo-inverse when ``damping`` is
        too small to make it well conditioned).
    damping : float, default=0.0
        Added to the diagonal with ``"damped"``.
    rtol : float, default=None
        Relative eigenvalue cut-off; ``None`` uses ``√eps`` of ``M``'s dtype
        (1.5e-8 for float64, 3.5e-4 for float32).  A matrix computed in that
        precision carries rounding noise of order ``eps · λ_max`` in every
        direction; eigenvalues under ``√eps · λ_max`` are dominated by it, and
        inverting them would swamp every score.

    Attributes
    ----------
    rank_ : int
        Eigen-directions kept.
    """

    def __init__(self, M, method="pinv", damping=0.0, rtol=None):
        if method not in ("pinv", "damped"):
            raise ValueError(f"method must be 'pinv' or 'damped', got {method!r}")
        if damping < 0 or not np.isfinite(damping):
            raise ValueError(f"damping must be a finite number >= 0, got {damping}.")
        if not bool(torch.isfinite(M).all()):
            raise FloatingPointError("The matrix to invert has NaN or infinite entries.")
        self.method = method
        if rtol is None:
            rtol = float(torch.finfo(M.dtype).eps) ** 0.5
        M64 = M.to(torch.float64)
        M64 = (M64 + M64.T) / 2  # exact symmetry: rounding in a GEMM can break it
        if method == "damped" and damping > 0:
            M64 = M64 + damping * torch.eye(M.shape[0], dtype=torch.float64, device=M.device)
        try:
            evals, evecs = torch.linalg.eigh(M64)
        except torch.linalg.LinAlgError:  # seen on ill-conditioned CNN Fishers
            U, evals, _ = torch.linalg.svd(M64)
            evecs = U
        top = float(evals.abs().max()) if evals.numel() else 0.0
        keep = evals > rtol * top
        self.rank_ = int(keep.sum())
        self._V = evecs[:, keep].to(M.dtype)
        self._inv_evals = (1.0 / evals[keep]).to(M.dtype)

    def __call__(self, v):
        """``M^{-1} v`` for a vector ``(P,)`` or columns ``(P, m)``."""
        vec = v.ndim == 1
        B = v[:, None] if vec else v
        X = self._V @ (self._inv_evals[:, None] * (self._V.T @ B.to(self._V.dtype)))
        return X[:, 0] if vec else X
