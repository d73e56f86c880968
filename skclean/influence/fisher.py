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

import torch

from ..models._base import curvature_matvec


def top_fisher_from_outputs(U1, Z, head):
    """Expected Fisher of the last layer ``[W | b]`` from features and logits.

    Block ``(c, c')`` is ``1/n U1^T diag(A[:, c, c']) U1`` with
    ``A_i = diag(D_i) − Q_i Q_i^T``.  The matrix is symmetric, so only the
    ``K(K+1)/2`` upper blocks are computed, each one GEMM over the rows:
    ``O(n K² d'² / 2)`` flops and no ``n × K·d'`` intermediate.
    """
    n, d = U1.shape
    D, Q = head.curvature_terms(Z)
    K = D.shape[1]
    F = torch.empty(K, d, K, d, dtype=U1.dtype, device=U1.device)
    for c in range(K):  # K is the number of classes, not of examples
        for c2 in range(c, K):
            a = -Q[:, c] * Q[:, c2]
            if c == c2:
                a = a + D[:, c]
            block = (U1 * a[:, None]).T @ U1
            F[c, :, c2, :] = block
            if c2 != c:
                F[c2, :, c, :] = block.T
    return F.reshape(K * d, K * d) / n


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
    """Apply the inverse of a symmetric PSD matrix ``M`` to vectors, factorised once.

    Parameters
    ----------
    M : tensor of shape (P, P)
    method : {"pinv", "damped"}
        ``"pinv"``: Moore-Penrose pseudo-inverse dropping eigenvalues below
        ``rtol · λ_max`` (the Fisher of a softmax layer is always singular: the
        logits are shift-invariant).  ``"damped"``: Cholesky solve of
        ``M + damping · I``.
    damping : float, default=0.0
        Added to the diagonal with ``"damped"`` (must make ``M`` positive definite).
    rtol : float, default=None
        Relative eigenvalue cut-off for ``"pinv"``; ``None`` uses ``√eps`` of
        the dtype (1.5e-8 for float64, 3.5e-4 for float32).  A Fisher built
        from ``n`` rows has rank at most ``n(K−1)``; its null directions come
        out of the eigensolver as noise of order ``eps · λ_max``, and inverting
        that noise would swamp every score.
    """

    def __init__(self, M, method="pinv", damping=0.0, rtol=None):
        self.method = method
        if method == "pinv":
            if rtol is None:
                rtol = float(torch.finfo(M.dtype).eps) ** 0.5
            # float32 eigensolvers can fail to converge on ill-conditioned Fishers (seen with
            # CNN features): decompose in float64, and fall back to the SVD, which always does
            M64 = M.to(torch.float64)
            try:
                inv = torch.linalg.pinv(M64, hermitian=True, rtol=rtol)
            except torch.linalg.LinAlgError:
                inv = torch.linalg.pinv(M64, rtol=rtol)
            self._inv = inv.to(M.dtype)
        elif method == "damped":
            eye = torch.eye(M.shape[0], dtype=M.dtype, device=M.device)
            self._chol = torch.linalg.cholesky(M + damping * eye)
        else:
            raise ValueError(f"method must be 'pinv' or 'damped', got {method!r}")

    def __call__(self, v):
        """``M^{-1} v`` for a vector ``(P,)`` or columns ``(P, m)``."""
        vec = v.ndim == 1
        B = v[:, None] if vec else v
        X = self._inv @ B if self.method == "pinv" else torch.cholesky_solve(B, self._chol)
        return X[:, 0] if vec else X
