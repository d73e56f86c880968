"""Labels as the cleaners take them: hard labels in the user's label space, or probabilities.

``classes_`` is always sorted (scikit-learn's convention, and the
adapters'); a declared ``classes`` may list labels the data lacks, and
fixes the column order of probabilistic labels.
"""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..models import soft_targets
from ._pipeline_model import has_transformers, model_of, split_model, through_transformers


def check_classes(classes, name="classes"):
    """The declared label set as an array; duplicates are an error naming the argument."""
    arr = np.asarray(classes)
    if arr.ndim != 1 or len(arr) < 2:
        raise ValueError(f"{name} must list at least two labels, got {classes!r}.")
    uniq, counts = np.unique(arr, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"{name} has duplicate labels {uniq[counts > 1].tolist()}.")
    return arr


def as_labels(y, classes):
    """``y`` in the dtype of ``classes`` (no truncation of longer string labels later)."""
    return np.asarray(y).astype(np.asarray(classes).dtype, copy=True)


def check_label_matrix(y, n_classes=None):
    """Validate probabilistic labels: 2-D, finite, non-negative, rows summing to 1."""
    Y = check_array(y, ensure_2d=True, dtype=np.float64)
    if n_classes is not None and Y.shape[1] != n_classes:
        raise ValueError(f"Probabilistic labels must have {n_classes} columns (one per class), "
                         f"got {Y.shape[1]}.")
    if np.any(Y < 0):
        raise ValueError("Probabilistic labels must be non-negative.")
    bad = np.abs(Y.sum(1) - 1) > 1e-6
    if np.any(bad):
        raise ValueError(f"Probabilistic label rows must sum to 1; rows {np.flatnonzero(bad)[:5]} "
                         "do not.")
    return Y


def validate_rows(estimator, X, y="no_validation", *, model_rows=True, **kwargs):
    """scikit-learn's ``validate_data``, with the mistakes people make named in their terms:
    text columns (which column, and how to encode it) and missing labels (which rows).

    When the estimator's model is a Pipeline, the rows come back as its last
    step takes them (see :mod:`._pipeline_model`); ``model_rows=False`` keeps
    them raw (for a function that hands them on to clones).
    """
    if not (isinstance(y, str) and y == "no_validation"):
        _check_missing_labels(y)
    if has_transformers(estimator):
        if not model_rows:  # the transformers check them; the features are recorded here
            validate_data(estimator, X, skip_check_array=True, reset=kwargs.get("reset", True))
            if isinstance(y, str):
                return X
            y = column_or_1d(y, warn=True)  # a column vector of hard labels, as check_X_y
            check_consistent_length(X, y)
            return X, y
        return through_transformers(estimator, X, y, **kwargs)
    if getattr(X, "ndim", 2) > 2:
        _check_takes_nd(estimator, X.shape)
        kwargs.setdefault("allow_nd", True)
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "items"):
        import pandas as pd

        text = [str(c) for c, dt in dtypes.items()
                if not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))]
        if text:
            raise ValueError(
                f"X has text column(s) {text[:5]}: the model needs numbers. Encode them first, "
                "e.g. make_pipeline(make_column_transformer((OneHotEncoder(), "
                f"{text[:5]}), remainder=StandardScaler()), cleaner).")
    # sparse rows (TF-IDF, one-hot) go through as CSR: the adapters multiply them sparse
    kwargs.setdefault("accept_sparse", "csr")
    if isinstance(y, str) and y == "no_validation":  # scikit-learn's marker: X alone
        return validate_data(estimator, X, **kwargs)
    return validate_data(estimator, X, y, **kwargs)


def _model_of(estimator):
    """The model an estimator wraps (a detector's, for a cleaner that reviews its ranking)."""
    return split_model(model_of(estimator))[1]


def _check_takes_nd(estimator, shape):
    """Rows of more than one axis (images ``(n, C, H, W)``, sequences) go to networks only."""
    from skorch import NeuralNet
    from torch import nn

    from ..models import is_module_class

    model = _model_of(estimator)
    if isinstance(model, NeuralNet | nn.Module) or is_module_class(model):
        return
    what = ("skclean's default network (an MLP on flat rows)" if model is None
            else type(model).__name__)
    raise ValueError(
        f"X has shape {tuple(shape)}: rows with more than one axis (images, sequences) need a "
        f"network that takes them, and {what} takes flat rows. Pass a torch module or skorch "
        "net whose forward takes them (e.g. a CNN), or flatten the rows: "
        "X.reshape(len(X), -1).")


def _check_missing_labels(y):
    labels = (np.asarray(y, dtype=object).ravel() if y is not None
              and np.asarray(y).dtype == object else None)
    if labels is not None:
        import pandas as pd

        missing = np.flatnonzero(pd.isna(labels))
        if missing.size:
            raise ValueError(f"y has {missing.size} missing label(s) (None or NaN), at rows "
                             f"{missing[:5].tolist()}: drop or fill them first.")


def check_hard_labels(estimator, X, y, classes=None, *, model_rows=True):
    """``(X, y, classes_)``: validated rows, labels in the dtype of the sorted label set
    (``model_rows``: as in :func:`validate_rows`)."""
    X, y = validate_rows(estimator, X, y, model_rows=model_rows)
    check_classification_targets(y)
    labels = np.unique(y) if classes is None else np.sort(check_classes(classes))
    outside = ~np.isin(y, labels)
    if outside.any():
        raise ValueError(f"y has labels {np.unique(y[outside]).tolist()} outside "
                         f"classes={labels.tolist()}.")
    return X, as_labels(y, labels), labels


def check_any_labels(estimator, X, y, classes=None):
    """``(X, Y, classes_, columns)`` for hard or probabilistic ``y``: ``Y`` holds one row of
    class probabilities per row (columns in the order of ``classes_``); ``columns`` is the
    user's column order of probabilistic labels (``None`` for hard labels)."""
    y = np.asarray(y) if y is not None else y
    if y is not None and y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)  # a column vector of hard labels
    if y is None or y.ndim != 2:  # validate_data names what is wrong with it
        X, y, labels = check_hard_labels(estimator, X, y, classes)
        return X, soft_targets(y, labels), labels, None
    X = validate_rows(estimator, X)
    columns = np.arange(y.shape[1]) if classes is None else check_classes(classes)
    Y = check_label_matrix(y, len(columns))
    if X.shape[0] != len(Y):
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(Y)}.")
    order = np.argsort(columns, kind="stable")  # reordered once, to the sorted classes_
    return X, Y[:, order], columns[order], columns


def check_judged(estimator, X, y, *, soft=False, hint=""):
    """Validate rows and the labels a fitted estimator is asked to judge (``score_samples``).

    With ``soft=True``, ``y`` may also be probabilistic labels; they come back
    as an ``(n, C)`` matrix either way.
    """
    check_is_fitted(estimator)
    X = validate_rows(estimator, X, reset=False)
    y = np.asarray(y)
    if soft and y.ndim == 2:
        if len(y) != X.shape[0]:
            raise ValueError(f"y has {len(y)} rows, X has {X.shape[0]}.")
        return X, check_label_matrix(y, len(estimator.classes_))
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}.")
    unknown = ~np.isin(y, estimator.classes_)
    if unknown.any():
        raise ValueError(f"Unknown labels {np.unique(y[unknown]).tolist()}; "
                         f"classes are {estimator.classes_.tolist()}{hint}.")
    return X, soft_targets(y, estimator.classes_) if soft else y
