"""Cross-fitted scores: no row judged by a model that was fitted to its own label.

A flexible model fitted to every row learns the wrong labels too (a
logistic regression over 10⁵ TF-IDF columns, a network trained long
enough): its in-sample loss and influence then lose the signal a wrong label
leaves.  :func:`cross_fit_scores` is to a detector what scikit-learn's
``cross_val_predict`` is to a classifier: the untrusted rows are split into
folds, a clone of the detector is fitted without each fold (the trusted rows
always in, as references) and scores the fold.
"""

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples

from ._detector_base import quantiles
from ._labels import validate_rows
from ._pipeline_model import has_transformers
from ._trusted import trusted_rows

__all__ = ["cross_fit_scores"]


def cross_fit_scores(detector, X, y, *, X_trusted=None, y_trusted=None, trusted_mask=None,
                     cv=2, random_state=None):
    """Score every row with a clone of ``detector`` that was not fitted to it.

    Parameters
    ----------
    detector : ClassBasedIFDetector or ModelBasedDetector
        Unfitted; cloned once per fold.
    X : array-like or sparse matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        The labels to judge.
    X_trusted, y_trusted : array-like, default=None
        Rows whose labels were verified, apart from ``X``.
    trusted_mask : array-like of bool of shape (n_samples,), default=None
        Or: which rows of ``X`` are trusted.  Trusted rows are in every fold's
        fit (they are the references) and are scored by every fold's clone,
        averaged.
    cv : int, default=2
        Folds of the untrusted rows (stratified by label).  Two folds cost
        about one and a half fits on all rows; each row is then judged by a
        model fitted to half of them.
    random_state : int, RandomState instance or None, default=None
        Shuffles the rows into folds.

    Returns
    -------
    ndarray of shape (n_samples,)
        Lower = more likely mislabeled: each row's quantile among the rows of its
        fold, in ``(0, 1]``.  The folds' detectors are different models, whose
        raw scores need not share a scale (each fits its own loss weight and
        offset); the folds are stratified random halves of the same rows, so a
        quantile means the same in each.  A trusted row gets the mean, over the
        folds, of its raw score's quantile among the fold's rows.

    Examples
    --------
    Each half of the wine rows judged by a logistic regression fitted to the
    other half and the verified rows (a quarter of them):

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> import skclean
    >>> from skclean import datasets
    >>> X, _, y, _ = datasets.load_dataset("wine")
    >>> y_noisy, flipped = datasets.flip_labels(y, 0.2, random_state=0)
    >>> verified = np.arange(len(y)) % 4 == 0
    >>> y_noisy[verified], flipped[verified] = y[verified], False
    >>> detector = skclean.ClassBasedIFDetector(LogisticRegression())
    >>> scores = skclean.cross_fit_scores(detector, X, y_noisy, trusted_mask=verified,
    ...                                   random_state=0)
    >>> bool(flipped[np.argsort(scores)[: flipped.sum()]].mean() > 0.7)
    True
    """
    if not (isinstance(cv, int | np.integer) and cv >= 2):
        raise ValueError(f"cv must be an integer of at least 2, got {cv!r}.")
    # raw rows (texts, say) where the detector's Pipeline takes and checks them in its clones
    X, y = validate_rows(clone(detector), X, y, model_rows=False)
    y = np.asarray(y)
    found = trusted_rows(X, X_trusted, y_trusted, trusted_mask, raw=has_transformers(detector))
    if found is None:
        raise ValueError("cross_fit_scores needs the trusted rows: pass X_trusted and "
                         "y_trusted, or trusted_mask.")
    idx, X_t, y_t = found
    n = _num_samples(X)
    trusted = np.zeros(n, dtype=bool)
    if idx is not None:
        trusted[idx] = True
        X_t, y_t = _safe_indexing(X, idx), y[idx]
    rows = np.flatnonzero(~trusted)
    labels, counts = np.unique(y[rows], return_counts=True)
    if counts.min() < cv:  # stratify where every label can be split
        folds = np.array_split(check_random_state(random_state).permutation(rows), cv)
    else:
        split = StratifiedKFold(cv, shuffle=True, random_state=random_state)
        folds = [rows[test] for _, test in split.split(rows, y[rows])]
    scores = np.zeros(n)
    for fold in folds:
        # raw scores of different models: only their order within the fold is kept
        train = np.setdiff1d(rows, fold)
        est = clone(detector)
        if idx is not None:  # the trusted rows are part of X: in every fit, marked
            keep = np.concatenate([train, idx])
            est.fit(_safe_indexing(X, keep), y[keep],
                    trusted_mask=np.arange(len(keep)) >= len(train))
        else:
            est.fit(_safe_indexing(X, train), y[train], X_trusted=X_t, y_trusted=y_t)
        own = est.score_samples(_safe_indexing(X, fold), y[fold])
        raw = np.sort(own)
        scores[fold] = quantiles(raw, own)
        if idx is not None:
            scores[idx] += quantiles(raw, est.score_samples(X_t, y_t)) / cv
    return scores
