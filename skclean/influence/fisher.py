"""Fisher information matrices and their (pseudo-)inverses.

CINCER (Eq. 11) uses the *expected* Fisher information, with labels drawn from
the model's own predictive distribution, not the empirical one built from the
given (possibly wrong) labels:

    F = 1/n Σ_i E_{y ~ P(·|x_i)} [∇ log P(y|x_i) ∇ log P(y|x_i)^T].

Through the logits ``z_i = f(x_i; θ)`` this is ``1/n Σ_i J_i^T A_i J_i`` with
``A_i = diag(p_i) − p_i p_i^T`` the logit-space curvature.  For the last layer
``J_i = I ⊗ u1_i^T``, so the Top Fisher is ``1/n Σ_i A_i ⊗ u1_i u1_i^T`` and can
be built from features and probabilities alone.

The Fisher belongs to the model's predictive distribution, not to its training
objective: class weights (``class_weight``) do not enter it.
"""

import torch

from .._linalg import (
    MATRIX_FREE,
    SymmetricInverse,
    check_dense_size,
    curvature_gram,
    curvature_matvec,
)
from .._sparse import square_entries
from ..models._heads import model_curvature_head

__all__ = [
    "SymmetricInverse",  # re-exported from the bottom layer
    "full_fisher",
    "full_fisher_diagonal",
    "top_fisher",
    "top_fisher_diagonal",
    "top_fisher_from_outputs",
    "top_fisher_vp",
]


def top_fisher_from_outputs(U1, Z, head, chunk_size=4096):
    """Expected Fisher of the last layer ``[W | b]`` from features ``U1`` (with the bias
    column) and logits ``Z``: ``1/n Σ_i A_i ⊗ u1_i u1_iᵀ``, built with
    :func:`~skclean._linalg.curvature_gram` (``K + 1`` GEMMs per chunk of rows)."""
    D, Q = model_curvature_head(head).curvature_terms(Z)
    return curvature_gram(U1, D, Q, chunk_size=chunk_size) / U1.shape[0]


def top_fisher(adapter, X):
    """"Top Fisher": the expected Fisher information of the model's last layer."""
    with torch.no_grad():
        U, Z = adapter.last_layer_outputs(X)
    return top_fisher_from_outputs(adapter.augment(U), Z, adapter.head)


def top_fisher_vp(adapter, X):
    """A matrix-free ``v -> F v`` for the Top Fisher (``v`` flat or ``(K, d')``)."""
    U1, Z = adapter.augmented_outputs(X)
    D, Q = model_curvature_head(adapter.head).curvature_terms(Z)
    return lambda v: curvature_matvec(U1, D, Q, v) / U1.shape[0]


def top_fisher_diagonal(adapter, X):
    """Diagonal of the Top Fisher, ``1/n Σ_i A_i[c,c] u1_ia²``."""
    return top_fisher_diagonal_from_outputs(*adapter.augmented_outputs(X), adapter.head)


def top_fisher_diagonal_from_outputs(U1, Z, head):
    """:func:`top_fisher_diagonal` from features ``U1`` (bias column included) and logits:
    ``O(nnz · K)``, dense or sparse rows."""
    D, Q = model_curvature_head(head).curvature_terms(Z)
    return (((D - Q**2).T @ square_entries(U1)) / U1.shape[0]).reshape(-1)


def _fisher_factor(adapter, X, which):
    """``G_i = S_i^T J_i`` for every row, ``(n, K, P)``, with ``S_i S_i^T = A_i``."""
    check_dense_size(X.shape[0] * adapter.head.n_outputs, adapter.n_params(which), adapter.dtype,
                     "The full Fisher's logit Jacobian", MATRIX_FREE)
    J = adapter.logit_jacobian(X, which=which)
    with torch.no_grad():
        S = model_curvature_head(adapter.head).curvature_sqrt(adapter.logits(X))
    return torch.einsum("nkj,nkp->njp", S, J)


def full_fisher(adapter, X, which="all"):
    """Expected Fisher over all parameters, ``1/n Σ_i J_i^T A_i J_i`` (small models).

    Built as ``G^T G / n`` with ``G_i = S_i^T J_i`` and ``S_i S_i^T = A_i``, which
    needs the ``(n, K, P)`` logit Jacobian: use it where ``n K P`` fits in memory.
    """
    P = adapter.n_params(which)
    check_dense_size(P, P, adapter.dtype, f"The full Fisher ({P:,} parameters)", MATRIX_FREE)
    G = _fisher_factor(adapter, X, which)
    return G.reshape(-1, P).T @ G.reshape(-1, P) / len(G)


def full_fisher_diagonal(adapter, X, which="all"):
    """Diagonal of :func:`full_fisher` without forming the ``P × P`` matrix."""
    G = _fisher_factor(adapter, X, which)
    return (G**2).sum((0, 1)) / len(G)
