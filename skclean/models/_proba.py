"""Adapter for any classifier with ``predict_proba``: probabilities, no gradients.

Gradient boosting, random forests, a calibrated SVM: the methods that need
only the model's probabilities (:class:`~skclean.ModelBasedDetector`: a
model trained on the clean rows, rows scored by the log-probability of their
label) take them, as cleanlab takes any classifier.  Everything influence needs (features, logits,
gradients, curvature) raises one error that names the estimators that work
and the models they take.
"""

import copy

import numpy as np
import torch

from ._base import ModelAdapter
from ._sklearn import _expand_soft

#: What a user may pass instead, said once for every method that needs gradients.
GRADIENT_MODELS = ("LogisticRegression, LogisticRegressionCV, SGDClassifier(loss='log_loss'), "
                   "MLPClassifier, "
                   "a skorch NeuralNetClassifier or NeuralNetBinaryClassifier, a torch.nn.Module, "
                   "or a Pipeline ending in one")


def has_proba(estimator):
    """Whether ``estimator`` is a classifier this adapter can wrap."""
    return hasattr(estimator, "fit") and hasattr(estimator, "predict_proba")


def no_gradients_message(model, who):
    return (f"{who} takes the influence (gradients) of the model, and "
            f"{type(model).__name__} gives probabilities only. {who} wraps {GRADIENT_MODELS}. "
            "For any classifier with predict_proba use ModelBasedDetector (also through "
            "cross_fit_scores), or ChefCleaner(strategy='entropy'), which need its "
            "probabilities only.")


class ProbaAdapter(ModelAdapter):
    """Wrap a (cloned) classifier with ``fit`` and ``predict_proba``.

    ``fit`` trains it on hard labels (``sample_weight`` passed on when given);
    ``continue_fit`` trains it again on the rows it is given (its own
    ``warm_start`` decides whether that starts from the current model);
    ``get_state`` is a copy of the fitted model.  Probabilities come back in
    the columns of the declared ``classes_``, zero for a class the model did
    not see.
    """

    def __init__(self, estimator, *, device="cpu", dtype=torch.float64):
        self.estimator = estimator
        self.device = torch.device(device)
        self.dtype = dtype
        self.n_features = None

    def _unavailable(self, *args, **kwargs):
        raise TypeError(no_gradients_message(self.estimator, "This method"))

    last_layer_outputs = _param_items = _functional_logits = _last_layer = _unavailable
    fit_with_checkpoints = last_layer_grads = curvature_pieces = _unavailable
    hvp_fn = per_example_grads = objective = _unavailable

    def fit(self, X, y, sample_weight=None):
        """Fit on hard labels, or on probabilistic labels ``(n, C)`` as ``C`` copies of each
        row weighted by their probabilities (the same weighted loss; the classifier must
        take ``sample_weight`` for rows that are not one-hot or not of weight one)."""
        y, n_rows = np.asarray(y), X.shape[0]
        if y.ndim == 2:
            given = getattr(self, "_given_classes", None)
            classes = given if given is not None else np.arange(y.shape[1])
            X, y, sample_weight = _expand_soft(X, y, sample_weight, classes)
            if np.all(sample_weight == 1.0):
                sample_weight = None  # one-hot rows of weight one: the rows as they are
        self._set_classes(y)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        try:
            self.estimator.fit(X, y, **kwargs)
        except TypeError as exc:
            if "sample_weight" not in str(exc):
                raise
            raise TypeError(f"{type(self.estimator).__name__}.fit takes no sample_weight, which "
                            "weighted or probabilistic labels need (ChefCleaner weighs "
                            "uncleaned rows by gamma): use a classifier that takes it, or "
                            "gamma=1 with hard labels.") from exc
        self.n_features = X.shape[1] if X.ndim == 2 else None
        self.n_fit_ = n_rows
        return self

    def continue_fit(self, X, y, sample_weight=None, epochs=None):
        return self.fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None, *, seen=None):
        """One pass of the classifier's own ``partial_fit`` over the new rows."""
        if not hasattr(self.estimator, "partial_fit"):
            raise TypeError(f"{type(self.estimator).__name__} has no partial_fit: it cannot "
                            "continue on new rows. Refit on every row, or use a classifier "
                            "with partial_fit (SGDClassifier, MLPClassifier, a skorch net).")
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.estimator.partial_fit(X, y, classes=self.classes_, **kwargs)
        self.n_fit_ = getattr(self, "n_fit_", 0) + X.shape[0]
        return self

    def predict_proba(self, X):
        P = np.asarray(self.estimator.predict_proba(X), dtype=float)
        seen = np.asarray(self.estimator.classes_)
        if len(seen) == len(self.classes_) and np.array_equal(seen, self.classes_):
            return P
        out = np.zeros((P.shape[0], len(self.classes_)))
        out[:, np.searchsorted(self.classes_, seen)] = P
        return out

    def check_range(self, X):
        return None  # the model validates its own input

    @property
    def model(self):
        return self.estimator

    def get_state(self):
        return copy.deepcopy(self.estimator)

    def set_state(self, state):
        self.estimator = copy.deepcopy(state)
