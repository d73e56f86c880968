"""A Pipeline as the model: its transformers fitted once, then held fixed.

``CincerCleaner(make_pipeline(TfidfVectorizer(), LogisticRegression()))``
takes the rows as the user has them (raw texts, a DataFrame with string
columns).  In ``fit`` the steps before the last are fitted on the rows the
estimator is given (with their labels, as noisy as they are) and kept as
``transformer_``; from then on every row (streamed, trusted, scored) goes
through them unchanged, and the last step is the model the adapter wraps.
Influence is therefore taken over the last step's parameters only: the
transformers are features, not something a label moves.

This module is the one place that knows: ``validate_rows`` calls it, and the
cleaners work on the transformed rows without a branch of their own.
"""

from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, validate_data

from .._sparse import stack_rows


def split_model(model):
    """``(transformers, final)``: a Pipeline's steps before the last (``None`` for a
    one-step Pipeline) and its last step; ``(None, model)`` for any other model."""
    if not isinstance(model, Pipeline):
        return None, model
    final = model.steps[-1][1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise ValueError("The Pipeline passed as estimator must end in a model, not "
                         f"{final!r}: e.g. make_pipeline(StandardScaler(), LogisticRegression()).")
    return (model[:-1] if len(model.steps) > 1 else None), final


def model_of(estimator):
    """The model an estimator wraps, as the user passed it; for a cleaner that reviews a
    detector's ranking (``ReviewCleaner``), the detector's."""
    detector = getattr(estimator, "detector", None)
    return getattr(estimator if detector is None else detector, "estimator", None)


def has_transformers(estimator):
    """Whether ``estimator``'s model is a Pipeline with transformers before its model."""
    model = model_of(estimator)
    return isinstance(model, Pipeline) and split_model(model)[0] is not None


def stack_raw_rows(parts, like):
    """Rows as the user has them, stacked in order in the form of ``like`` (``X``): a
    DataFrame (its columns, the index renumbered), texts (a Series or a list) as one list,
    else arrays and sparse matrices as :func:`~skclean._sparse.stack_rows` stacks them."""
    parts = [p for p in parts if p is not None]
    if hasattr(like, "columns"):
        import pandas as pd

        return pd.concat([p if hasattr(p, "columns") else pd.DataFrame(p, columns=like.columns)
                          for p in parts], ignore_index=True)
    if isinstance(like, list | tuple) or hasattr(like, "iloc"):
        return [row for p in parts for row in p]
    return stack_rows([p.to_numpy() if hasattr(p, "columns") else p for p in parts])


def through_transformers(estimator, X, y, *, reset=True, **kwargs):
    """Rows (and labels) as the model takes them: ``X`` through the Pipeline's transformers.

    ``reset=True`` (in ``fit``) fits a clone of them on ``(X, y)`` and keeps it
    as ``estimator.transformer_``; a ``prefit`` estimator keeps its own fitted
    steps.  ``n_features_in_`` and ``feature_names_in_`` describe the raw rows,
    as on a Pipeline.  ``y="no_validation"`` validates ``X`` alone.
    """
    no_y = isinstance(y, str) and y == "no_validation"
    validate_data(estimator, X, skip_check_array=True, reset=reset)
    kwargs.setdefault("accept_sparse", "csr")
    if reset:
        steps = split_model(estimator.estimator)[0]
        if getattr(estimator, "prefit", False):
            check_is_fitted(steps)
            estimator.transformer_ = steps
            Xt = steps.transform(X)
        else:
            estimator.transformer_ = clone(steps)
            Xt = estimator.transformer_.fit_transform(X, None if no_y or getattr(
                y, "ndim", 1) == 2 else y)
    else:
        check_is_fitted(estimator, "transformer_")
        Xt = estimator.transformer_.transform(X)
    if no_y:
        return check_array(Xt, input_name="X", **kwargs)
    return check_X_y(Xt, y, **kwargs)


def transform_rows(estimator, X):
    """Rows given apart from ``X`` (the trusted rows) through the fitted transformers, if any."""
    if X is None or getattr(estimator, "transformer_", None) is None:
        return X
    return estimator.transformer_.transform(X)


def fitted_model(estimator, model):
    """The fitted model as the user passed it: the fitted Pipeline (transformers, then
    ``model``) when a Pipeline was passed, else ``model`` itself."""
    steps = getattr(estimator, "transformer_", None)
    if steps is None or not isinstance(estimator.estimator, Pipeline):
        return model
    return Pipeline([*steps.steps, (estimator.estimator.steps[-1][0], model)])
