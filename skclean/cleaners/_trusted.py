"""The verified rows, under one name on every estimator.

Every estimator that needs rows whose labels someone checked takes them the
same way: ``X_trusted, y_trusted`` (rows of their own), or ``trusted_mask``
(the rows of ``X`` whose labels are verified; they travel through a Pipeline
with the other rows, so the transformers before the estimator transform them
too).  The CLI's ``--trusted`` column is the same mask.

Earlier releases named them after each paper (``X_val``/``y_val``/
``validation_mask`` for CHEF, ``X_ref``/``y_ref``/``reference_mask`` for the
detectors).  Those names keep working for one deprecation cycle with a
``FutureWarning``, as scikit-learn renames parameters; they stay in the
``fit`` signatures so that metadata routing (``set_fit_request``) still
knows them.
"""

import warnings

import numpy as np
from sklearn.utils.validation import _num_samples, check_array

from ._pipeline_model import transform_rows

#: old keyword -> its new name
RENAMED = {"X_val": "X_trusted", "y_val": "y_trusted", "validation_mask": "trusted_mask",
           "X_ref": "X_trusted", "y_ref": "y_trusted", "reference_mask": "trusted_mask"}
_REMOVED_IN = "0.3"

_TRUSTED_DOC = """X_trusted, y_trusted : array-like, default=None
            The small set of rows whose labels are verified, given apart from
            ``X``{what}.
        trusted_mask : array-like of bool or int, default=None
            Instead of ``X_trusted, y_trusted``: the rows of ``X`` whose labels
            are verified (booleans, one per row, or positions).  They travel
            through a Pipeline with the other rows, so the transformers before
            the estimator transform them too{mask_note}."""
_DEPRECATED_DOC = """{old} : deprecated
            The former names of ``X_trusted``, ``y_trusted`` and ``trusted_mask``
            (``FutureWarning``; removed in {removed})."""


def trusted_doc(what="", mask_note="", old=None):
    """The ``fit`` docstring's entries for the trusted rows (and their deprecated names)."""
    doc = _TRUSTED_DOC.format(what=what, mask_note=mask_note)
    return doc if old is None else f"{doc}\n        {deprecated_doc(old)}"


def deprecated_doc(old):
    """The docstring entry for the deprecated names ``old`` of the trusted rows."""
    return _DEPRECATED_DOC.format(old=old, removed=_REMOVED_IN)


def renamed_trusted(estimator, X_trusted, y_trusted, trusted_mask, **old):
    """``(X_trusted, y_trusted, trusted_mask)`` with any deprecated keyword folded in.

    ``old`` maps deprecated keyword names (keys of :data:`RENAMED`) to what
    the caller passed; each one given warns once, and giving both names of
    the same thing is an error naming them.
    """
    new = {"X_trusted": X_trusted, "y_trusted": y_trusted, "trusted_mask": trusted_mask}
    for name, value in old.items():
        if value is None:
            continue
        target = RENAMED[name]
        if new[target] is not None:
            raise ValueError(f"{name} is the deprecated name of {target}: pass {target} only.")
        warnings.warn(
            f"{type(estimator).__name__}.fit({name}=...) is deprecated: the verified rows "
            f"have one name on every estimator, {target}=... ({name} is removed in "
            f"{_REMOVED_IN}).", FutureWarning, stacklevel=4)  # past fit and its _fit_context
        new[target] = value
    return new["X_trusted"], new["y_trusted"], new["trusted_mask"]


def check_labelled_rows(X, y, n_features, names=("X_trusted", "y_trusted"), estimator=None):
    """Validate rows given apart from ``X`` with their labels; errors name the arguments.

    With the ``estimator`` whose model is a Pipeline, the rows go through its
    fitted transformers first, as ``X`` did.  ``n_features=None`` keeps them raw
    (for an estimator that hands them on to such a model); their labels are checked.
    """
    x_name, y_name = names
    if y is None:
        raise ValueError(f"{x_name} was given without {y_name}.")
    if X is None:
        raise ValueError(f"{y_name} was given without {x_name}.")
    if n_features is None:  # raw rows: the model's Pipeline checks them
        return X, _one_label_per_row(y, _num_samples(X), names)
    X = transform_rows(estimator, X)
    row_shape = tuple(np.atleast_1d(n_features))  # n-D rows (images): their whole shape
    X = check_array(X, input_name=x_name, accept_sparse="csr", allow_nd=len(row_shape) > 1)
    if X.shape[1:] != row_shape:
        what = (f"{X.shape[1]} features, X has {row_shape[0]}" if len(row_shape) == 1
                else f"rows of shape {X.shape[1:]}, X has {row_shape}")
        raise ValueError(f"{x_name} has {what}.")
    return X, _one_label_per_row(y, X.shape[0], names)


def _one_label_per_row(y, n, names):
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{names[1]} must hold one label per row of {names[0]}: expected "
                         f"shape ({n},), got {y.shape}.")
    return y


def rows_from_mask(mask, n, name="trusted_mask"):
    """Positions of the rows a boolean mask (or integer positions) marks; errors name ``name``."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        if mask.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {mask.shape}.")
        idx = np.flatnonzero(mask)
    elif np.issubdtype(mask.dtype, np.integer):
        idx = mask.ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name} indices are out of range.")
        if len(np.unique(idx)) != len(idx):
            raise ValueError(f"{name} lists some rows twice.")
    else:
        raise ValueError(f"{name} must be booleans (one per row of X) or integer "
                         f"row positions, got dtype {mask.dtype}.")
    if idx.size == 0:
        raise ValueError(f"{name} selects no row: the set of trusted rows is empty.")
    return idx


def trusted_rows(X, X_trusted, y_trusted, trusted_mask, estimator=None, *, raw=False):
    """Where the trusted rows are: ``(positions, None, None)`` for rows of ``X`` marked by
    ``trusted_mask``, ``(None, X_trusted, y_trusted)`` validated for rows given apart, or
    ``None`` when neither was given (the caller says what it needs then).  ``raw=True``:
    rows as the user has them (texts, string columns), handed on to a model whose
    Pipeline checks them; only their labels are checked here."""
    if trusted_mask is not None:
        if X_trusted is not None or y_trusted is not None:
            raise ValueError("Pass either X_trusted/y_trusted or trusted_mask, not both.")
        return rows_from_mask(trusted_mask, _num_samples(X)), None, None
    if X_trusted is None and y_trusted is None:
        return None
    return (None, *check_labelled_rows(X_trusted, y_trusted, None if raw else X.shape[1:],
                                       estimator=estimator))


def hold_out(y, n, rng):
    """Positions ``(kept, held_out)``: ``n`` rows drawn at random to hold out, passing
    over a row whenever holding it out would leave its class with none to train on.

    (A plain random split of a few trusted rows per class can take every row of
    a class, and the model trained on the rest could never predict it.)  When
    no class runs short, the draw is exactly the first ``n`` of the permutation.
    """
    classes, inverse = np.unique(y, return_inverse=True)
    left = np.bincount(inverse, minlength=len(classes))
    kept, held = [], []
    for i in rng.permutation(len(y)):  # both lists stay in the order of the draw
        if len(held) < n and left[inverse[i]] > 1:
            left[inverse[i]] -= 1
            held.append(i)
        else:
            kept.append(i)
    return np.array(kept, dtype=np.intp), np.array(held, dtype=np.intp)


def split_trusted(X, y, trusted, *, missing_message, fraction=None, random_state=None,
                  estimator=None):
    """``(train, X_trusted, y_trusted)`` for a cleaner that cleans only the untrusted rows.

    ``trusted`` is ``(X_trusted, y_trusted, trusted_mask)``; ``y`` holds the
    hard labels of ``X``.  ``train`` lists the positions of the rows left to
    clean (``None``: all of them).  Without trusted rows, ``fraction`` opts in
    to trusting a random, stratified share of the *given* labels instead;
    with neither, ``missing_message`` is raised.
    """
    found = trusted_rows(X, *trusted, estimator=estimator)
    if found is None:
        if fraction is None:
            raise ValueError(missing_message)
        from sklearn.model_selection import train_test_split

        n_classes = len(np.unique(y))
        _, idx = train_test_split(np.arange(X.shape[0]), test_size=fraction,
                                  random_state=random_state,
                                  stratify=y if X.shape[0] * fraction >= n_classes else None)
        found = idx, None, None
    idx, X_trusted, y_trusted = found
    if idx is None:
        return None, X_trusted, y_trusted
    train = np.setdiff1d(np.arange(X.shape[0]), idx)
    if len(train) == 0:
        raise ValueError("trusted_mask marks every row: nothing is left to clean.")
    return train, X[idx], y[idx]
