"""Gradient similarities between training rows and reference rows (GD, GC, PGC, IF, TracIn).

All of them are bilinear in the two last-layer gradients (after normalising,
for GC and PGC), so the *mean* similarity of a row to a group of references is the
similarity to the group's mean (normalised) gradient.  Scoring ``n`` rows
against ``C`` reference classes therefore costs one ``(n, d') @ (d', C·K)``
GEMM, however many references there are.
"""

import torch

from .._sparse import row_sq_norms

SIMILARITIES = ("gd", "gc", "pgc", "if", "tracin")
# PGC, "partial" cosine: only the reference gradients are normalised.  The
# paper's Sec. 6 proposes it: normalising the references removes the noise a
# few large reference gradients bring, while the row keeps its gradient norm,
# which is what marks a wrong label.
_CHUNK = 65536


def _unit(grads, eps):
    """Row scale factors ``1 / ‖g_i‖`` (0 for a zero gradient)."""
    norms = grads.sq_norms().sqrt()
    return torch.where(norms > eps, 1.0 / norms.clamp_min(eps), torch.zeros_like(norms))


def group_mean_gradients(ref, groups, n_groups, *, normalize=False, eps=1e-12):
    """Mean reference gradient of each group, stacked as ``(n_groups, K, d')``.

    ``groups`` holds integer group ids ``0..n_groups-1`` (e.g. class indices);
    ``normalize=True`` averages unit gradients (for cosine similarity).
    """
    ones = torch.ones(len(ref), dtype=ref.R.dtype, device=ref.R.device)
    w = _unit(ref, eps) if normalize else ones
    onehot = (groups[:, None] == torch.arange(n_groups, device=groups.device)).to(ref.R.dtype)
    counts = onehot.sum(0)
    if torch.any(counts == 0):
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"No reference rows for group(s) {missing}.")
    # Σ_j w_j 1[j in k] r_j ⊗ u1_j for all k at once: one (C·K, n) @ (n, d') GEMM, whose
    # right factor may be sparse rows
    n, K = ref.R.shape
    left = ((onehot * w[:, None])[:, :, None] * ref.R[:, None, :]).reshape(n, n_groups * K)
    M = (left.T @ ref.U1).reshape(n_groups, K, -1)
    return M / counts[:, None, None]


def unit_features(grads, eps=1e-12):
    """The gradients with unit-norm feature factors: ``r_i ⊗ u1_i / ‖u1_i‖``.

    The last-layer gradient norm is ``‖r_i‖·‖u1_i‖``; on raw features the
    second factor (how far the row lies from the origin) can outweigh the
    first (how wrong the model finds the label).
    """
    # the scale is put on the residual factor: the same gradients, and sparse rows stay as
    # they are
    n = row_sq_norms(grads.U1).sqrt()
    return type(grads)(grads.U1, grads.R / n.clamp_min(eps)[:, None])


def reference_means(ref, groups, n_groups, *, kind="gd", inverse=None, eps=1e-12):
    """Per-group mean reference gradients, transformed for ``kind``: ``(n_groups, K, d')``.

    ``"gc"`` and ``"pgc"`` average unit gradients; ``"if"`` applies ``inverse`` (``M^{-1}``
    of the Hessian or Fisher, on flat vectors or columns) to each mean.  Score
    rows against the result with :func:`score_against_means`.
    """
    if kind not in ("gd", "gc", "pgc", "if"):
        raise ValueError(f"kind must be 'gd', 'gc', 'pgc' or 'if', got {kind!r}")
    M = group_mean_gradients(ref, groups, n_groups, normalize=kind in ("gc", "pgc"), eps=eps)
    if kind == "if":
        if inverse is None:
            raise ValueError("kind='if' needs an inverse curvature operator.")
        M = inverse(M.reshape(n_groups, -1).T).T.reshape(M.shape)
    return M


def score_against_means(grads, means, *, kind="gd", chunk_size=_CHUNK, eps=1e-12):
    """Similarity of every row of ``grads`` to each group mean: ``(n, n_groups)``."""
    out = torch.cat([grads[s : s + chunk_size].dot_many(means)
                     for s in range(0, len(grads), chunk_size)])
    if kind == "gc":
        out = out * _unit(grads, eps)[:, None]
    return out


def mean_similarity(grads, ref, groups, n_groups, *, kind="gd", inverse=None, eps=1e-12):
    """Mean similarity of every row of ``grads`` to each group of ``ref``: ``(n, n_groups)``.

    Parameters
    ----------
    grads, ref : LastLayerGrads
        Rows to score and reference rows.
    groups : LongTensor of shape (m,)
        Group (class) index of each reference row.
    kind : {"gd", "gc", "pgc", "if"}
        Dot product, cosine, partial cosine ``g_i^T g_j / ‖g_j‖``, or
        ``g_i^T M^{-1} g_j`` with ``inverse`` applying ``M^{-1}`` (Hessian or
        Fisher) to flat vectors or columns.
    """
    M = reference_means(ref, groups, n_groups, kind=kind, inverse=inverse, eps=eps)
    return score_against_means(grads, M, kind=kind, eps=eps)


def self_similarity(grads, *, kind="gd", inverse=None, eps=1e-12, chunk_size=1024):
    """``sim(g_i, g_i)`` for every row: the diagonal of :func:`pairwise_similarity`.

    It is what a reference row adds to its own group's summed similarity, so a
    group mean without row ``i`` is ``(n·mean − self_similarity_i) / (n − 1)``.
    """
    sq = grads.sq_norms()
    if kind == "gd":
        return sq
    if kind == "pgc":
        return sq.sqrt()
    if kind == "gc":
        return (sq.sqrt() > eps).to(sq.dtype)
    if kind == "if":
        if inverse is None:
            raise ValueError("kind='if' needs an inverse curvature operator.")
        parts = []
        for s in range(0, len(grads), chunk_size):
            G = grads[s : s + chunk_size].materialize()
            parts.append((G * inverse(G.T).T).sum(1))
        return torch.cat(parts)
    raise ValueError(f"kind must be 'gd', 'gc', 'pgc' or 'if', got {kind!r}")


def pairwise_similarity(grads, ref, *, kind="gd", inverse=None, eps=1e-12):
    """All pairwise similarities ``(n, m)`` (for small sets and brute-force checks)."""
    if kind == "gd":
        return grads.gram(ref)
    if kind == "gc":
        return grads.gram(ref) * _unit(grads, eps)[:, None] * _unit(ref, eps)[None, :]
    if kind == "pgc":
        return grads.gram(ref) * _unit(ref, eps)[None, :]
    if kind == "if":
        G = ref.materialize()
        return grads.materialize() @ inverse(G.T)
    raise ValueError(f"kind must be 'gd', 'gc', 'pgc' or 'if', got {kind!r}")


def tracin_mean_similarity(checkpoints, groups, n_groups):
    """TracIn: ``Σ_t η_t`` × mean gradient dot product at checkpoint ``t``.

    ``checkpoints`` is an iterable of ``(eta_t, grads_t, ref_t)``, the
    gradients of the rows and of the references taken with the checkpoint's
    parameters.
    """
    total = None
    for eta, grads, ref in checkpoints:
        s = eta * mean_similarity(grads, ref, groups, n_groups, kind="gd")
        total = s if total is None else total + s
    if total is None:
        raise ValueError("TracIn needs at least one checkpoint.")
    return total
