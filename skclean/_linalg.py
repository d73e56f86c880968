"""The bottom layer: linear algebra that the model adapters and the influence core share.

Nothing here knows a model type or imports another skclean module, so both
``skclean.models`` and ``skclean.influence`` import from it and no arrow
runs up the house.  Everything is written for the last layer of a
cross-entropy classifier, whose per-row gradient is the outer product
``r_i ⊗ u1_i`` of a logit-space residual and the features with a trailing 1
(the bias), and whose per-row curvature is ``A_i ⊗ u1_i u1_iᵀ`` with
``A_i = diag(D_i) − Q_i Q_iᵀ`` in logit space: every product below is a GEMM
over ``U1``, never over an ``n × K·d'`` gradient matrix.
"""

import os

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._sparse import SparseRows, dense_rows

__all__ = [
    "PRECONDITION_MAX_PARAMS",
    "DiagonalInverse",
    "SymmetricInverse",
    "append_ones",
    "cg_solve",
    "curvature_gram",
    "curvature_matvec",
    "fits_dense",
    "sample_rows",
    "sampled_hessian_inverse",
    "times_bias_rows",
]

# A factorised Hessian preconditions CG up to this many parameters: factorising costs
# O(rows · P²) once, and it is reused while the parameters move little (CHEF rounds,
# Newton steps from a nearby optimum).
PRECONDITION_MAX_PARAMS = 4096


def append_ones(U, bias=True):
    """``[U | 1]``: the features the last layer's ``[W | b]`` multiplies (``U`` without a bias)."""
    if not bias:
        return U
    if isinstance(U, SparseRows):  # the column of ones stays virtual: no copy of the rows
        return U.with_bias()
    return torch.cat([U, torch.ones(U.shape[0], 1, dtype=U.dtype, device=U.device)], 1)


def times_bias_rows(U, V, bias=True):
    """``[U | 1] Vᵀ`` for ``V`` of shape ``(K, d + bias)``, without building ``[U | 1]``."""
    if not bias:
        return U @ V.T
    return U @ V[:, :-1].T + V[:, -1]


def sample_rows(n, max_rows, random_state=None):
    """Sorted positions of at most ``max_rows`` of ``n`` rows, drawn without replacement."""
    rows = np.arange(n)
    if n > max_rows:
        rows = np.sort(check_random_state(random_state).choice(rows, max_rows, replace=False))
    return rows


def curvature_matvec(U1, D, Q, v, weights=None):
    """``Σ_i w_i (A_i V u1_i) ⊗ u1_i`` with ``A_i = diag(D_i) − Q_i Q_i^T``, matrix-free.

    This is ``n`` times the Gauss-Newton (= expected Fisher = Hessian, for a
    cross-entropy last layer) product with ``v``; two GEMMs over features.
    """
    V = v.reshape(D.shape[1], U1.shape[1])
    S = U1 @ V.T  # (n, K): the direction in logit space
    AS = D * S - Q * (Q * S).sum(1, keepdim=True)
    if weights is not None:
        AS = AS * weights[:, None]
    return (AS.T @ U1).reshape(v.shape)


#: The largest explicit matrix skclean allocates, in bytes (``SKCLEAN_MAX_DENSE_BYTES``).
MAX_DENSE_BYTES = int(os.environ.get("SKCLEAN_MAX_DENSE_BYTES", 4 * 2**30))


def fits_dense(rows, cols, dtype):
    """Whether an explicit ``rows × cols`` matrix is within :data:`MAX_DENSE_BYTES`."""
    return int(rows) * int(cols) * torch.empty((), dtype=dtype).element_size() <= MAX_DENSE_BYTES


def check_dense_size(rows, cols, dtype, what, instead):
    """Refuse an explicit ``rows × cols`` matrix larger than :data:`MAX_DENSE_BYTES`, with
    what would take its place, before the allocation is attempted."""
    size = int(rows) * int(cols) * torch.empty((), dtype=dtype).element_size()
    if not fits_dense(rows, cols, dtype):
        raise MemoryError(
            f"{what} would be a {rows:,} x {cols:,} matrix ({size / 2**30:,.1f} GiB, over "
            f"the {MAX_DENSE_BYTES / 2**30:.0f} GiB limit set by SKCLEAN_MAX_DENSE_BYTES): "
            f"{instead}")


#: What to use when an explicit curvature matrix would not fit.
MATRIX_FREE = ("use a matrix-free setting instead: ChefCleaner(solver='cg'), "
               "CincerCleaner(counterexample='practical_fisher'), or a ClassBasedIFDetector "
               "similarity other than 'if'; or fewer classes or features.")


def curvature_gram(U1, D, Q, chunk_size=4096, *, instead=MATRIX_FREE):
    """``Σ_i A_i ⊗ u1_i u1_iᵀ`` with ``A_i = diag(D_i) − Q_i Q_iᵀ``, as a ``(K·d', K·d')`` matrix.

    ``n`` times the expected Fisher (and, for a cross-entropy last layer, the
    Hessian of the data term) of a last layer ``[W | b]``.  It equals
    ``blockdiag_c U1ᵀ diag(D[:, c]) U1 − VᵀV`` where row ``i`` of
    ``V`` is ``Q_i ⊗ u1_i``.  Per chunk of ``chunk_size`` rows that is one GEMM
    for the block diagonal and one per class for the upper block-rows of
    ``V^T V`` (the matrix is symmetric): ``K + 1`` products instead of the
    ``K(K+1)/2`` small ones, each with its Python overhead, of a block-by-block
    build.  ``V`` is never formed for all rows.
    """
    n, d = U1.shape
    K = D.shape[1]
    P = K * d
    check_dense_size(P, 2 * P, U1.dtype, f"The last layer's curvature ({K} outputs x {d} "
                     "features with the bias)", instead)
    upper = torch.zeros(P, P, dtype=U1.dtype, device=U1.device)  # upper block-rows of V^T V
    diag = torch.zeros(P, d, dtype=U1.dtype, device=U1.device)
    for s in range(0, n, chunk_size):
        u = dense_rows(U1[s : s + chunk_size])  # sparse rows: densified a chunk at a time
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
    return F



def cg_solve(matvec, b, *, damping=0.0, tol=1e-10, maxiter=None, x0=None, preconditioner=None):
    """Solve ``(A + damping I) x = b`` by (preconditioned) conjugate gradient, matrix-free.

    Runs on ``b``'s device in its dtype (scipy's CG would copy to the host at
    every iteration).  ``A`` must be symmetric positive (semi-)definite on the
    span of ``b``; stops when ``‖r‖ ≤ tol · ‖b‖``.  ``preconditioner``, a
    symmetric positive (semi-)definite ``r -> M⁻¹ r`` with ``M ≈ A``, cuts the
    iterations to a handful when ``M`` is ``A`` at nearby parameters.

    Returns
    -------
    x : tensor
    n_iter : int
    """
    maxiter = maxiter or 10 * b.numel()
    if x0 is None:  # r = b: no product with the zero start (a pass over the data)
        x, r = torch.zeros_like(b), b.clone()
    else:
        x = x0.clone()
        r = b - (matvec(x) + damping * x)
    z = r if preconditioner is None else preconditioner(r)
    p = z.clone()
    rz = r @ z
    stop = (tol * torch.linalg.vector_norm(b)) ** 2
    for it in range(1, maxiter + 1):
        if r @ r <= stop or rz <= 0:
            return x, it - 1
        Ap = matvec(p) + damping * p
        alpha = rz / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        z = r if preconditioner is None else preconditioner(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, maxiter


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


class DiagonalInverse:
    """Apply the (pseudo-)inverse of a diagonal matrix: ``v / diag``, zero where the
    diagonal is below ``rtol · max`` (a direction the data never varies along).

    The structured stand-in for :class:`SymmetricInverse` when the explicit
    matrix would not fit (e.g. a last layer over 10⁵ TF-IDF columns); same
    call convention, vectors ``(P,)`` or columns ``(P, m)``.
    """

    def __init__(self, diag, damping=0.0, rtol=None):
        if rtol is None:
            rtol = float(torch.finfo(diag.dtype).eps) ** 0.5
        if not bool(torch.isfinite(diag).all()):
            raise FloatingPointError("The diagonal to invert has NaN or infinite entries.")
        top = float(diag.abs().max()) if diag.numel() else 0.0
        keep = diag > rtol * top
        self.rank_ = int(keep.sum())
        self._inv = torch.where(keep, 1.0 / (diag + damping).clamp_min(1e-300),
                                torch.zeros_like(diag))

    def __call__(self, v):
        return v * (self._inv if v.ndim == 1 else self._inv[:, None]).to(v.dtype)


def sampled_hessian_inverse(adapter, X, sample_weight=None, *, y=None, max_rows=20_000,
                            damping=0.0, random_state=None):
    """``(H + damping I)⁻¹`` of the last layer, with ``H`` estimated on at most ``max_rows`` rows.

    Meant as a conjugate-gradient preconditioner: the Hessian is a mean over
    rows, so a few thousand rows estimate it well enough to cut CG to a few
    iterations, at ``O(max_rows · P²)`` instead of ``O(n · P²)``.  ``adapter``
    is any object with ``last_layer_hessian(X, sample_weight, y)`` (a model
    adapter); ``y`` matters only to a model that weighs classes.
    """
    rows = sample_rows(X.shape[0], max_rows, random_state)
    w = None if sample_weight is None else np.asarray(sample_weight)[rows]
    H = adapter.last_layer_hessian(X[rows] if hasattr(X, "tocsr") else np.asarray(X)[rows],
                                   sample_weight=w, y=None if y is None else np.asarray(y)[rows])
    return SymmetricInverse(H, method="damped", damping=damping)
