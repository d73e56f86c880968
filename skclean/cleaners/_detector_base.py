"""What the detectors share: thresholds, ``predict``, the dask dispatch, the trusted rows.

Scores follow scikit-learn's outlier convention (lower = more likely
mislabeled); ``offset_`` is the ``contamination``-quantile of the training
scores, as in ``IsolationForest``.  Every scoring method takes dask arrays
through one decorator, :func:`._base.dask_rows`: the fitted summaries are shipped
once and each chunk of rows is scored where it lies.
"""

import numpy as np

from ._base import dask_rows
from ._trusted import trusted_rows

#: Rows of those seen that ``partial_fit`` keeps a uniform sample of
#: (:class:`~skclean.utils.SeenRows`): the curvature of the rows it no longer
#: holds is estimated from them.
SEEN_ROWS = 5000


def sample_seed(estimator, rng):
    """The seed of the :class:`~skclean.utils.SeenRows` sample: ``random_state`` itself when
    an int (the fit's own draws stay as they were), else one drawn from ``rng``."""
    rs = estimator.random_state
    return rs if rs is None or isinstance(rs, int | np.integer) else int(rng.randint(2**31))


def quantiles(ranked, values):
    """The empirical CDF of the sorted ``ranked`` at ``values`` (ties: their mid-point), in
    ``(0, 1]``: scores of different models (cross-fitted folds, checkpoints) on one scale."""
    below = np.searchsorted(ranked, values, side="left")
    upto = np.searchsorted(ranked, values, side="right")
    return np.maximum(below + upto, 1) / (2 * len(ranked))


class DetectorMixin:
    """Threshold, ``predict`` and ``fit_predict`` from ``score_samples`` (IsolationForest-style).

    Subclasses define ``score_samples(X, y)`` (decorated with :func:`dask_rows`).
    """

    @dask_rows(np.float64)
    def decision_function(self, X, y):
        """``score_samples(X, y) - offset_``: negative for rows flagged as mislabeled.

        Dask arrays in give a lazy dask array out, computed chunk by chunk
        (:ref:`dask-scoring`).
        """
        return self.score_samples(X, y) - self.offset_

    @dask_rows(int)
    def predict(self, X, y):
        """``-1`` for rows flagged as mislabeled, ``1`` otherwise.

        Dask arrays in give a lazy dask array out, computed chunk by chunk
        (:ref:`dask-scoring`).
        """
        return np.where(self.decision_function(X, y) < 0, -1, 1)

    def fit_predict(self, X, y, **fit_params):
        """Fit on ``(X, y)`` and flag its rows."""
        return self.fit(X, y, **fit_params).predict(X, y)

    def score(self, X, y):
        """Mean of :meth:`score_samples`: how plausible the detector finds the labels ``y``.

        Higher is better.  On held-out rows whose labels are verified, a
        higher score means the detector trusts correct labels more, which is
        what ``cross_val_score`` and ``GridSearchCV`` maximise by default.
        """
        return float(np.mean(self.score_samples(X, y)))

    def _set_offset(self, train_scores):
        # The contamination-quantile of the training scores: that share of rows is flagged.
        self.offset_ = float(np.percentile(train_scores, 100.0 * self.contamination))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def check_reference(X, y, X_trusted, y_trusted, trusted_mask, estimator=None):
    """The detectors' trusted rows ``(X_trusted, y_trusted)``: given apart, or rows of ``X``."""
    if len(np.unique(y)) < 2:
        raise ValueError("Error detection needs labels of at least 2 classes; y has 1 class.")
    found = trusted_rows(X, X_trusted, y_trusted, trusted_mask, estimator=estimator)
    if found is None:
        raise ValueError(
            "A small set of trusted rows is required: pass X_trusted and y_trusted to fit, "
            "or a trusted_mask marking the rows of X whose labels are verified.")
    idx, X_trusted, y_trusted = found
    return (X[idx], y[idx]) if idx is not None else (X_trusted, y_trusted)
