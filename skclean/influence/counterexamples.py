"""CINCER's counter-examples: the training rows that most support the model's suspicion.

Teso et al. (2021), Eq. 10-12.  For a suspicious row ``z_t`` the
counter-example maximises ``−g_tᵀ M⁻¹ g_k`` over candidate training rows
``z_k`` (``g`` = loss gradient): ``M`` is the Hessian (influence, Eq. 10, solved
by LiSSA), the expected Fisher of the last layer (Top Fisher, Eq. 12) or of
every parameter (Full Fisher), or the identity (Practical Fisher).  The
estimator keeps the inverses and the candidates' gradients between rows;
:func:`counterexample_scores` is the score they feed.
"""

import numpy as np

from .._linalg import SymmetricInverse
from .fisher import full_fisher, top_fisher_from_outputs

__all__ = ["counterexample_scores", "fisher_inverse"]


def counterexample_scores(adapter, x, y, X_cand=None, y_cand=None, *, params="last",
                          inverse=None, candidate_grads=None):
    """``−g_tᵀ M⁻¹ g_k`` for each candidate ``k``: higher = a better counter-example.

    Parameters
    ----------
    adapter : ModelAdapter
    x : ndarray of shape (n_features,)
        The suspicious row; ``y`` its label.
    X_cand, y_cand : the candidate rows and labels (not needed for ``params="last"``
        when ``candidate_grads`` is given).
    params : {"last", "all"}
        Differentiate the last layer (Top and Practical Fisher; gradients kept
        as factors, one GEMM for all candidates) or every parameter
        (Full Fisher, influence over the whole network; materialised
        gradients: small models).
    inverse : callable or None
        ``v -> M⁻¹ v`` (e.g. :func:`fisher_inverse`, or a LiSSA solve);
        ``None`` is ``M = I`` (Practical Fisher).
    candidate_grads : LastLayerGrads or None
        The candidates' last-layer gradients when already at hand.

    Returns
    -------
    ndarray of shape (n_candidates,), float64
    """
    xq, yq = np.asarray(x)[None], np.asarray([y])
    if params == "last":
        g_t = adapter.last_layer_grads(xq, yq).materialize()[0]
    elif params == "all":
        g_t = adapter.per_example_grads(xq, yq, which="all")[0]
    else:
        raise ValueError(f"params must be 'last' or 'all', got {params!r}.")
    v = g_t if inverse is None else inverse(g_t)
    if params == "last":
        grads = candidate_grads if candidate_grads is not None else adapter.last_layer_grads(
            X_cand, y_cand)
        s = grads.dot(v)
    else:
        s = adapter.per_example_grads(X_cand, y_cand, which="all") @ v
    return (-s).detach().cpu().numpy().astype(np.float64)


def fisher_inverse(adapter, X=None, *, kind="top", outputs=None, damping=0.0):
    """The (pseudo-)inverse of the expected Fisher over rows ``X``, factorised once.

    ``kind="top"``: the last layer's, from ``outputs = (U1, Z)`` (features with
    the bias column, logits) when given, else from a forward pass over ``X``;
    ``kind="full"``: every parameter's (small models).  ``damping=0``
    pseudo-inverts, ``> 0`` inverts ``F + damping·I``.
    """
    if kind == "top":
        U1, Z = adapter.augmented_outputs(X) if outputs is None else outputs
        F = top_fisher_from_outputs(U1, Z, adapter.head)
    elif kind == "full":
        F = full_fisher(adapter, X)
    else:
        raise ValueError(f"kind must be 'top' or 'full', got {kind!r}.")
    if damping > 0:
        return SymmetricInverse(F, method="damped", damping=damping)
    return SymmetricInverse(F)
