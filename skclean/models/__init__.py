"""Model adapters: one interface over every classifier skclean can differentiate."""

import torch
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from torch import nn

from ._base import LastLayerGrads, ModelAdapter
from ._heads import ClassWeightedHead, OneVsRestHead, SigmoidHead, SoftmaxHead
from ._mlp import MLPClassifierAdapter
from ._networks import (
    MLP,
    SmallCNN,
    StopAtTrainAccuracy,
    default_classifier,
    train_accuracy_stop,
)
from ._proba import ProbaAdapter, has_proba, no_gradients_message
from ._sklearn import LOGISTIC_FAMILY, LogisticRegressionAdapter
from ._softmax import SoftmaxRegression, soft_targets
from ._torch import TorchAdapter, is_module_class, wrap_module

__all__ = [
    "LastLayerGrads",
    "ModelAdapter",
    "LogisticRegressionAdapter",
    "MLPClassifierAdapter",
    "TorchAdapter",
    "MLP",
    "SmallCNN",
    "ClassWeightedHead",
    "OneVsRestHead",
    "ProbaAdapter",
    "SigmoidHead",
    "SoftmaxHead",
    "SoftmaxRegression",
    "StopAtTrainAccuracy",
    "default_classifier",
    "is_module_class",
    "make_adapter",
    "train_accuracy_stop",
    "soft_targets",
    "wrap_module",
]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype):
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype)]
    except KeyError:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from None


def make_adapter(estimator, *, device=None, dtype=None, random_state=None, classes=None,
                 clone_estimator=True, needs_gradients=True, caller=None, **kwargs):
    """Return the adapter for ``estimator``, wrapping a clone of it by default.

    Parameters
    ----------
    estimator : LogisticRegression, LogisticRegressionCV, SGDClassifier, MLPClassifier, \
            NeuralNetClassifier or torch.nn.Module
        The classifier to wrap.
    device : str or torch.device, default=None
        Where tensors live; ``None`` keeps the estimator's own (``"cpu"`` for
        scikit-learn models).
    dtype : {"float32", "float64"} or torch.dtype, default=None
        ``None`` picks float64 for logistic regression and float32 for networks.
    random_state : int, RandomState or None
        Seeds network initialisation and shuffling.
    classes : array-like, default=None
        The full label set, when the first training rows may miss some class.
    clone_estimator : bool, default=True
        Wrap ``clone(estimator)`` (a deep copy for plain modules) so the
        caller's object is never trained in place.
    needs_gradients : bool, default=True
        ``False`` also accepts any classifier with ``predict_proba``
        (:class:`ProbaAdapter`, probabilities only); ``True`` refuses one
        with an error naming ``caller`` and what it takes instead.
    caller : str, default=None
        The estimator asking, for the error message.
    **kwargs
        Passed to the adapter (e.g. ``checkpoint_every`` for torch models).
    """
    if isinstance(estimator, LOGISTIC_FAMILY):
        est = clone(estimator) if clone_estimator else estimator
        adapter = LogisticRegressionAdapter(
            est, device=device or "cpu", dtype=resolve_dtype(dtype or "float64")
        )
    elif isinstance(estimator, MLPClassifier):
        adapter = MLPClassifierAdapter(
            clone(estimator) if clone_estimator else estimator, device=device or "cpu",
            dtype=resolve_dtype(dtype or "float64"))
    elif isinstance(estimator, NeuralNetClassifier | NeuralNetBinaryClassifier | nn.Module) \
            or is_module_class(estimator):
        if isinstance(estimator, NeuralNetClassifier | NeuralNetBinaryClassifier) \
                and clone_estimator:
            estimator = clone(estimator)
        adapter = TorchAdapter(estimator, device=device, dtype=resolve_dtype(dtype or "float32"),
                               random_state=random_state, **kwargs)
    elif has_proba(estimator) and not needs_gradients:
        adapter = ProbaAdapter(clone(estimator) if clone_estimator else estimator,
                               device=device or "cpu", dtype=resolve_dtype(dtype or "float64"))
    elif has_proba(estimator):
        raise TypeError(no_gradients_message(estimator, caller or "This method"))
    else:
        raise TypeError(
            "skclean can wrap a scikit-learn LogisticRegression, LogisticRegressionCV, "
            "SGDClassifier(loss='log_loss') or MLPClassifier, a skorch NeuralNetClassifier or "
            "NeuralNetBinaryClassifier, or a "
            f"torch.nn.Module; got {type(estimator).__name__}."
        )
    if classes is not None:
        adapter.set_classes(classes)
    return adapter
