"""What every skclean estimator shares: building its model adapter, records."""

import numpy as np
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..models import default_classifier, make_adapter

#: Parameter constraints shared by all estimators that wrap a model.
MODEL_CONSTRAINTS = {
    "estimator": "no_validation",  # anything make_adapter accepts; it raises a clear TypeError
    "device": [str, None],
    "dtype": [StrOptions({"float32", "float64"}), None],
    "random_state": ["random_state"],
}


class AdapterMixin:
    """Builds ``adapter_`` (and exposes ``estimator_``) from ``estimator``.

    Override :meth:`initialize_adapter` to change how the model is built, as
    in skorch's ``initialize_*`` steps.
    """

    def _default_estimator(self, n_features, n_classes):
        return default_classifier(n_features, n_classes, device=self.device or "cpu")

    def initialize_adapter(self, n_features, classes, *, clone_estimator=True, **kwargs):
        """Create ``self.adapter_`` around a clone of ``estimator`` (or the default network)."""
        est = self.estimator
        if est is None:
            est = self._default_estimator(n_features, len(classes))
        self.adapter_ = make_adapter(
            est,
            device=self.device,
            dtype=self.dtype,
            random_state=self._torch_seed(),
            classes=classes,
            clone_estimator=clone_estimator,
            **kwargs,
        )
        return self.adapter_

    def _torch_seed(self):
        rs = self.random_state
        if rs is None or isinstance(rs, np.random.RandomState):
            return rs
        return int(rs)

    @property
    def estimator_(self):
        """The fitted clone of ``estimator`` (scikit-learn model or skorch net)."""
        return self.adapter_.model


def check_judged(estimator, X, y):
    """Validate rows and the labels a fitted estimator is asked to judge (score_samples)."""
    check_is_fitted(estimator)
    X = validate_data(estimator, X, reset=False)
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), got {y.shape}.")
    unknown = ~np.isin(y, estimator.classes_)
    if unknown.any():
        raise ValueError(f"Unknown labels {np.unique(y[unknown]).tolist()}; "
                         f"classes are {estimator.classes_.tolist()}.")
    return X, y


class ModelDelegateMixin:
    """``predict_proba`` and ``predict`` of the wrapped model, for the cleaners."""

    def predict_proba(self, X):
        """Class probabilities of the current model."""
        check_is_fitted(self)
        return self.adapter_.predict_proba(validate_data(self, X, reset=False))

    def predict(self, X):
        """Labels predicted by the current model."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def records_table(records):
    """A list of dicts as a pandas DataFrame when pandas is installed, else as-is."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is optional
        return list(records)
    return pd.DataFrame.from_records(list(records))
