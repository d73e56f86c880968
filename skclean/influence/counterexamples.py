"""CINCER's counter-examples: the training rows that most support the model's suspicion.

Teso et al. (2021), Eq. 10-12.  For a suspicious row ``z_t`` the
counter-example maximises ``−g_tᵀ M⁻¹ g_k`` over candidate training rows
``z_k`` (``g`` = loss gradient): ``M`` is the Hessian (influence, Eq. 10, solved
by LiSSA), the expected Fisher of the last layer (Top Fisher, Eq. 12) or of
every parameter (Full Fisher), or the identity (Practical Fisher).
:func:`counterexample_scores` is the score; :class:`CounterexampleSearch`
restricts the candidates (pertinence, distance) and keeps, per model, the
inverses and the training rows' last-layer outputs that every stream row
reuses.
"""

import copy

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import pairwise_distances

from .._linalg import DiagonalInverse, SymmetricInverse, fits_dense
from .._sparse import SparseRows, flat_rows, one_row
from ..models import LastLayerGrads
from .fisher import full_fisher, top_fisher_diagonal_from_outputs, top_fisher_from_outputs
from .hessian import lissa_inverse_hvp

__all__ = ["COUNTEREXAMPLES", "CounterexampleSearch", "counterexample_scores", "fisher_inverse"]

#: The strategies :class:`CounterexampleSearch` knows.
COUNTEREXAMPLES = ("top_fisher", "practical_fisher", "full_fisher", "influence", "nearest",
                   "random", "drop")


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
    xq, yq = one_row(x), np.asarray([y])
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

    A Top Fisher too large to hold (``K·d'`` parameters whose ``(K·d')²``
    matrix exceeds ``SKCLEAN_MAX_DENSE_BYTES``, e.g. 10⁵ TF-IDF columns) is
    replaced by its diagonal, inverted the same way: the structured
    approximation ``benchmarks/cincer_wide_fisher.py`` measures against the
    exact one.
    """
    if kind == "top":
        U1, Z = adapter.augmented_outputs(X) if outputs is None else outputs
        P = Z.shape[1] * U1.shape[1]
        if not fits_dense(P, 2 * P, adapter.dtype):
            return DiagonalInverse(top_fisher_diagonal_from_outputs(U1, Z, adapter.head),
                                   damping=damping)
        F = top_fisher_from_outputs(U1, Z, adapter.head)
    elif kind == "full":
        F = full_fisher(adapter, X)
    else:
        raise ValueError(f"kind must be 'top' or 'full', got {kind!r}.")
    if damping > 0:
        return SymmetricInverse(F, method="damped", damping=damping)
    return SymmetricInverse(F)


def check_metric(metric, X):
    """Fail early, naming ``metric``, for a distance scikit-learn does not know."""
    if callable(metric):
        return
    try:
        pairwise_distances(flat_rows(X[:1]), flat_rows(X[:1]), metric=metric)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"metric={metric!r} is not a distance "
                         f"sklearn.metrics.pairwise_distances knows ({exc}).") from None


class CounterexampleSearch:
    """Finds CINCER's counter-example for a suspicious row among the training rows.

    Parameters
    ----------
    strategy : str, default="top_fisher"
        How the counter-example is chosen, always maximising ``−g_tᵀ M⁻¹ g_k``
        over the candidates (``g`` = loss gradient):

        - ``"top_fisher"``: ``M`` = expected Fisher of the last layer incl.
          bias (Eq. 12), pseudo-inverted (or damped, ``fisher_damping``);
        - ``"practical_fisher"``: ``M = I`` on the last layer;
        - ``"full_fisher"``: expected Fisher of all parameters (small models);
        - ``"influence"``: ``M`` = Hessian of the training loss, ``M⁻¹ g_t`` by
          LiSSA (Eq. 10; ``lissa``);
        - ``"nearest"``: the nearest candidate in input space (``metric``);
        - ``"random"``: a random candidate;
        - ``"drop"``: selects as ``"top_fisher"`` (the cleaner asks only
          about the suspicious row, and drops the counter-example if the
          oracle keeps the suspicious label: the paper's Drop CE).
    pertinent : bool, default=True
        Only rows whose current label is the prediction for the suspicious row.
    radius, n_neighbors : float or None, int or None
        Only rows within ``radius``, or among the ``n_neighbors`` closest.
    metric : str or callable, default="euclidean"
        Any :func:`~sklearn.metrics.pairwise_distances` metric.
    fisher_damping : float, default=0.0
        ``0`` pseudo-inverts the Fisher; ``> 0`` solves ``F + damping·I``.
    influence_params : {"all", "last"}, default="all"
        What ``"influence"`` differentiates.
    lissa : dict
        Keyword arguments of :func:`lissa_inverse_hvp` (``depth``, ``scale``,
        ``damping``, ``samples``, ``batch_size``).
    random_state : numpy.random.RandomState
        For ``"random"`` and LiSSA's batches.

    Notes
    -----
    Everything cached belongs to one model: call :meth:`reset` when it
    changes.  A copy (``copy.deepcopy``, as a cleaner's rollback makes)
    shares the cached entries, which are replaced, never modified in place.
    """

    def __init__(self, strategy="top_fisher", *, pertinent=True, radius=None, n_neighbors=None,
                 metric="euclidean", fisher_damping=0.0, influence_params="all", lissa=None,
                 random_state=None):
        self.strategy, self.pertinent, self.metric = strategy, pertinent, metric
        self.radius, self.n_neighbors = radius, n_neighbors
        self.fisher_damping, self.influence_params = fisher_damping, influence_params
        self.lissa, self.random_state = dict(lissa or {}), random_state
        self._cache = {}

    def __deepcopy__(self, memo):
        new = copy.copy(self)
        new._cache = dict(self._cache)
        new.random_state = copy.deepcopy(self.random_state, memo)
        return new

    def reset(self):
        """The model changed: forget what was cached for the old one."""
        self._cache = {}

    def cached_fisher_inverse(self):
        """The Top Fisher's inverse cached for the current model, or ``None``."""
        return self._cache.get("top")

    def forget_curvature(self):
        """The rows the Fisher is estimated on changed (the model did not): forget the
        cached inverses, keep the rows' outputs."""
        self._cache = {k: v for k, v in self._cache.items() if k == "outputs"}

    def set_params(self, **settings):
        """Change settings (the constructor's names); a new damping drops the cached inverses."""
        if settings.get("fisher_damping", self.fisher_damping) != self.fisher_damping:
            self.forget_curvature()
        for name, value in settings.items():
            if name not in ("strategy", "pertinent", "radius", "n_neighbors", "metric",
                            "fisher_damping", "influence_params", "lissa"):
                raise ValueError(f"CounterexampleSearch has no setting {name!r}.")
            setattr(self, name, dict(value) if name == "lissa" else value)
        return self

    def candidates(self, X, y, x, pred):
        """Rows of ``X`` (labels ``y``) that may serve, and their distances to ``x`` (or None)."""
        idx = np.arange(X.shape[0])
        if self.pertinent:
            idx = idx[y == pred]
        if len(idx) and (self.radius is not None or self.n_neighbors is not None
                         or self.strategy == "nearest"):
            d = pairwise_distances(flat_rows(one_row(x)), flat_rows(X[idx]),
                                   metric=self.metric)[0]
            keep = np.ones(len(idx), dtype=bool)
            if self.radius is not None:
                keep &= d <= self.radius
            if self.n_neighbors is not None:
                keep &= np.isin(np.arange(len(idx)),
                                np.argsort(d, kind="stable")[: self.n_neighbors])
            return idx[keep], d[keep]
        return idx, None

    def scores(self, adapter, X, y, x, label, pred, fisher_rows=slice(None)):
        """Candidate positions in ``X`` and their scores (higher = better counter-example).

        ``(x, label)`` is the suspicious row, ``pred`` the model's prediction
        for it; ``fisher_rows`` the rows of ``X`` the Fisher is estimated on.
        """
        cand, dist = self.candidates(X, y, x, pred)
        if len(cand) == 0:
            return cand, np.empty(0)
        strategy = self.strategy
        if strategy == "nearest":
            return cand, -dist
        if strategy == "random":
            return cand, self.random_state.rand(len(cand))
        if strategy in ("top_fisher", "drop", "practical_fisher"):
            U1, Z = self._outputs(adapter, X)
            residual = adapter.head.residual(Z[cand], adapter.encode(y[cand]))
            grads = LastLayerGrads(U1[cand], residual)
            inverse = (None if strategy == "practical_fisher"
                       else self._inverse(adapter, X, "top", fisher_rows))
            return cand, counterexample_scores(adapter, x, label, inverse=inverse,
                                               candidate_grads=grads)
        if strategy == "full_fisher":
            inverse, params = self._inverse(adapter, X, "full", fisher_rows), "all"
        else:  # influence, Eq. 10 with LiSSA
            params = self.influence_params

            def inverse(g):
                return lissa_inverse_hvp(adapter, X, y, g, which=params,
                                         random_state=self.random_state, **self.lissa)
        return cand, counterexample_scores(adapter, x, label, X[cand], y[cand], params=params,
                                           inverse=inverse)

    def best(self, adapter, X, y, x, label, pred, fisher_rows=slice(None)):
        """``(k, score)``: the best counter-example's position in ``X`` and its score.

        ``(None, nan)`` when no row qualifies; non-finite scores are an error
        (no counter-example is chosen from them).
        """
        cand, scores = self.scores(adapter, X, y, x, label, pred, fisher_rows)
        if not len(cand):
            return None, np.nan
        if not np.all(np.isfinite(scores)):
            raise FloatingPointError(
                f"counterexample={self.strategy!r} gave non-finite scores for "
                f"{int((~np.isfinite(scores)).sum())} of {len(scores)} candidates; no "
                "counter-example is chosen from them. Scale the features, or raise the damping.")
        best = int(np.argmax(scores))
        return int(cand[best]), float(scores[best])

    def _outputs(self, adapter, X):
        """Features (with bias column) and logits of ``X``: one forward pass per model.

        Rows appended to ``X`` since (a stream between two refits of the model)
        are passed forward alone and added to buffers that double when full, so
        a row costs amortised O(1), not a copy of every row so far.
        """
        n = X.shape[0]
        cached = self._cache.get("outputs")
        if cached is None:
            U1, Z = adapter.augmented_outputs(X)
            cached = (U1, Z, n)
        elif cached[2] < n:
            U1, Z = adapter.augmented_outputs(X[cached[2]:])
            cached = (*(_grow(old, cached[2], new) for old, new in
                        zip(cached[:2], (U1, Z), strict=True)), n)
        self._cache["outputs"] = cached
        return cached[0][:n], cached[1][:n]

    def _inverse(self, adapter, X, kind, rows):
        """The (pseudo-)inverse Fisher over ``X[rows]``, once per model."""
        if kind not in self._cache:
            outputs = None
            if kind == "top":
                U1, Z = self._outputs(adapter, X)
                index = rows if isinstance(rows, slice) else torch.as_tensor(rows,
                                                                             device=U1.device)
                outputs = U1[index], Z[index]
            self._cache[kind] = fisher_inverse(adapter, None if outputs else X[rows], kind=kind,
                                               outputs=outputs, damping=self.fisher_damping)
        return self._cache[kind]


def _grow(buf, used, rows):
    """``buf[:used]`` followed by ``rows``, in ``buf`` if it has room, else in a buffer of
    twice the size.  The rows past ``used`` are overwritten: a copy of the cache that
    shares ``buf`` keeps reading only its own prefix.  Sparse rows are stacked anew."""
    if isinstance(buf, SparseRows):
        return SparseRows(sp.vstack([buf.X[:used], rows.X], format="csr"), buf.dtype,
                          buf.device, buf.bias)
    end = used + rows.shape[0]
    if end > buf.shape[0]:
        bigger = buf.new_empty((max(2 * buf.shape[0], end), *buf.shape[1:]))
        bigger[:used] = buf[:used]
        buf = bigger
    buf[used:end] = rows
    return buf
