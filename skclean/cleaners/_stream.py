"""What a cleaner that learns from a stream keeps: rows that grow one at a time.

A stream cleaner's training set grows by a row per step.  Its per-row arrays
(``X_``, ``y_``, ``row_ids_``, the label-state masks) are views over
doubling buffers, so an append costs amortised O(1) instead of a copy of
everything so far; the views pickle as plain arrays.  ``fit_resample`` on a
stream cleaner bootstraps on the first rows and streams the rest.
"""

from numbers import Integral

import numpy as np
import torch

from .._sparse import one_row
from ..questions import row_ids_of
from ..utils import append_row


class ToleranceRefit:
    """Refit a stream's L2 ``LogisticRegression`` only once its rows need it.

    scikit-learn's solvers stop when the largest entry of the objective's
    gradient is at most ``tol``; warm-started, they stop at once if the
    current coefficients already pass.  An appended row (or a changed label)
    moves that gradient by its own loss gradient over ``n``, so on a long
    stream most rows leave the model within ``tol``, and the refit Algorithm 1
    asks for after each row is then a no-op.  This keeps
    ``G = Σ_i ∇ℓ_i + n·λ·θ`` (``n`` times the gradient) at the current
    parameters, updated in O(P) per row; a Newton refit over every row runs
    only when ``max |G| / n`` exceeds ``tol``, solves to a tenth of it (room
    for the next rows), and recomputes ``G``.  The refits then come every
    ~n·tol / ‖∇ℓ‖ rows, each O(n): the cost per row does not grow with the
    stream.  After every row the model meets the estimator's tolerance on
    every row so far, as a warm-started refit after each row would leave it
    (not necessarily at the same point within that tolerance).
    """

    #: A refit solves to this share of ``tol``: Newton's last step costs little more, and
    #: a model left just under ``tol`` would need a refit again after the next row.
    headroom = 0.1

    def __init__(self, adapter, X, y):
        self.tol = float(adapter.estimator.tol)
        self.reset(adapter, X, y)

    def refit(self, adapter, X, y, preconditioner=None):
        """Newton over every row, to ``headroom · tol``; then ``G`` afresh.

        ``preconditioner``: an inverse of the loss's curvature at a recent model (for
        a logistic model, CINCER's Top Fisher); kept for the refits that find none.
        """
        self.preconditioner = preconditioner or getattr(self, "preconditioner", None)
        adapter.newton_refit(X, y, preconditioner=self.preconditioner,
                             tol=self.headroom * self.tol)
        self.reset(adapter, X, y)

    @staticmethod
    def applies(adapter):
        """Whether ``adapter`` is a logistic model Newton refits (an L2 LogisticRegression)."""
        return bool(getattr(adapter, "_newton_applies", lambda: False)())

    def reset(self, adapter, X, y):
        """The model was (re)fitted on ``(X, y)``: ``G`` from every row, O(n)."""
        n = X.shape[0]
        with torch.no_grad():
            U, Z = adapter.last_layer_outputs(X)  # the logits the refit just computed
            R = adapter.head.residual(Z, adapter.encode(y))
            G = R.T @ U  # Σ_i r_i ⊗ [u_i | 1], the bias column apart (no copy of the rows)
            if adapter.has_bias:
                G = torch.cat([G, R.sum(0)[:, None]], 1)
            penalty = adapter.last_layer_l2_mask() * adapter.last_layer_params().reshape(-1)
            self.G = G.reshape(-1) + n * adapter.l2 * penalty
        self.n = n

    def change(self, adapter, x, y, sign=1):
        """Row ``x`` with label ``y`` joined (``sign=1``) or left (``-1``) the training set."""
        with torch.no_grad():
            g = adapter.last_layer_grads(one_row(x), np.asarray([y])).weighted_sum()
        self.G = self.G + sign * g.reshape(-1)
        self.n += sign
        adapter.count_rows(self.n)

    def due(self):
        """Whether the current model misses the estimator's tolerance on the current rows."""
        return float(self.G.abs().max()) > self.tol * self.n


class StreamRowsMixin:
    """Growable per-row arrays, and ``fit_resample`` as bootstrap-then-stream."""

    #: Growable storage behind the per-row arrays (which are views of it).
    _BUFFERS = {"X_": "_X_buf", "y_": "_y_buf", "row_ids_": "_ids_buf",
                "cleaned_mask_": "_cleaned_buf", "skipped_mask_": "_skipped_buf"}
    #: Replaced, never modified in place (or buffers past their views' end): not copied
    #: by the rollback of a failed step.
    _shared_state = ("X_", "row_ids_", *_BUFFERS.values())

    def _append_row(self, x, y, row_id):
        """Append one row to every per-row array (not judged yet), in amortised O(1)."""
        for name, value in (("X_", x), ("y_", y), ("row_ids_", row_id),
                            ("cleaned_mask_", False), ("skipped_mask_", False)):
            buf_name = self._BUFFERS[name]
            view, buf = append_row(getattr(self, name), getattr(self, buf_name, None), value)
            setattr(self, name, view)
            setattr(self, buf_name, buf)

    def _keep_rows(self, keep):
        """Keep the rows where ``keep`` is true, in every per-row array."""
        for name in self._BUFFERS:
            setattr(self, name, getattr(self, name)[keep])

    def __getstate__(self):
        state = super().__getstate__()
        for buf_name in self._BUFFERS.values():  # the views pickle as plain arrays
            state.pop(buf_name, None)
        return state

    def _fit_for_resample(self, X, y, **fit_params):
        """Bootstrap on the first ``bootstrap_size`` rows, stream the rest."""
        n = len(y)
        k = self.bootstrap_size if isinstance(self.bootstrap_size, Integral) else int(
            np.ceil(self.bootstrap_size * n))
        if not 2 <= k < n:
            raise ValueError(f"bootstrap_size={self.bootstrap_size} leaves {k} of {n} rows to "
                             "bootstrap on: it must leave at least 2, and some rows to stream.")
        row_ids = fit_params.pop("row_ids", None)
        self._resample_ids = list(row_ids_of(X, row_ids=row_ids))
        head, tail = (X.iloc[:k], X.iloc[k:]) if hasattr(X, "iloc") else (X[:k], X[k:])
        y_head, y_tail = (y.iloc[:k], y.iloc[k:]) if hasattr(y, "iloc") else (
            np.asarray(y)[:k], np.asarray(y)[k:])
        ids = (None, None) if row_ids is None else (self._resample_ids[:k],
                                                     self._resample_ids[k:])
        self.fit(head, y_head, row_ids=ids[0], **fit_params)
        return self.partial_fit(tail, y_tail, row_ids=ids[1])

    def _cleaned_rows(self, n):
        pos = self.row_ids_  # positions in X, when X was an array
        if pos.dtype == object:  # DataFrame index: back to positions through the records
            lookup = {rid: i for i, rid in enumerate(self._resample_ids)}
            pos = np.asarray([lookup[r] for r in pos])
        keep = np.sort(pos) if len(pos) < n else None  # rows dropped (Drop CE)
        return keep, dict(zip(pos.tolist(), self.y_, strict=True))
