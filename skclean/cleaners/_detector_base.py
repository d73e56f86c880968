"""What the detectors share: thresholds, ``predict``, the dask dispatch, the trusted rows.

Scores follow scikit-learn's outlier convention (lower = more likely
mislabeled); ``offset_`` is the ``contamination``-quantile of the training
scores, as in ``IsolationForest``.  Every scoring method takes dask arrays
through one decorator, :func:`dask_rows`: the fitted summaries are shipped
once and each chunk of rows is scored where it lies.
"""

import functools

import numpy as np
from sklearn.utils.validation import check_array

from ._base import rows_from_mask


def dask_rows(dtype):
    """Decorate ``method(self, X, y)``: dask inputs give a lazy dask array, chunk by chunk."""

    def wrap(method):
        @functools.wraps(method)
        def scored(self, X, y):
            from .._dask import is_dask, map_rows  # dask stays optional: imported for dask input

            if is_dask(X) or is_dask(y):
                return map_rows(self, method.__name__, X, y, dtype=np.dtype(dtype))
            return method(self, X, y)

        return scored

    return wrap


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


def check_reference(X, y, X_ref, y_ref, reference_mask, n_features):
    if len(np.unique(y)) < 2:
        raise ValueError("Error detection needs labels of at least 2 classes; y has 1 class.")
    if reference_mask is not None:
        if X_ref is not None or y_ref is not None:
            raise ValueError("Pass either X_ref/y_ref or reference_mask, not both.")
        idx = rows_from_mask(reference_mask, len(X), "reference_mask")
        return X[idx], y[idx]
    if X_ref is None or y_ref is None:
        raise ValueError(
            "A small clean reference set is required: pass X_ref and y_ref to fit, or a "
            "reference_mask marking the rows of X whose labels are verified."
        )
    X_ref = check_array(X_ref, input_name="X_ref")
    y_ref = np.asarray(y_ref)
    if X_ref.shape[1] != n_features:
        raise ValueError(f"X_ref has {X_ref.shape[1]} features, X has {n_features}.")
    if y_ref.shape != (len(X_ref),):
        raise ValueError(f"y_ref must have shape ({len(X_ref)},), got {y_ref.shape}.")
    return X_ref, y_ref
