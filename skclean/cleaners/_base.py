"""What every skclean estimator shares: its model adapter, labels, row ids, questions."""

import functools

import numpy as np
import torch

try:  # imbalanced-learn registers fit_resample with scikit-learn's metadata routing, which
    import imblearn  # noqa: F401  must happen before the estimators are defined, so that
except ImportError:  # pragma: no cover  set_fit_resample_request exists on them
    pass
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ..models import default_classifier, make_adapter
from ..questions import Journal, Questioner, raw_row_fingerprints, transaction
from ._pipeline_model import fitted_model, has_transformers, split_model

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR rows go through the adapters as sparse GEMMs
        return tags

    #: Whether the method differentiates the model; ``False`` also takes any classifier
    #: with ``predict_proba`` (probabilities only).
    _needs_gradients = True

    def _continue_or_fit(self, fitted_attr, X, y, fit_params, first_call, classes=None,
                         **kwargs):
        """``partial_fit``'s one meaning, written once: an unfitted estimator (no
        ``fitted_attr``) is fitted by ``first_call()``; a fitted one takes rows only and
        continues through ``self._partial_fit(X, y, **kwargs)``.  ``classes`` (the label
        set, scikit-learn's ``partial_fit`` argument) must be the one the first call
        learns: every class needs rows then."""
        if not hasattr(self, fitted_attr):
            with transaction(self):  # a refused label set leaves the estimator unfitted
                out = first_call()
                missing = np.setdiff1d(np.asarray([] if classes is None else classes),
                                       self.classes_)
                if missing.size:
                    raise ValueError(
                        f"classes={np.asarray(classes).tolist()}: the first rows and the "
                        f"trusted rows have no row of {missing.tolist()}, and "
                        f"{type(self).__name__} learns its classes from them. Include rows "
                        "of every class in the first call.")
            return out
        if fit_params:
            raise TypeError(f"partial_fit takes the trusted rows on its first call only; got "
                            f"{sorted(fit_params)}. Refit to change them.")
        self._partial_fit(X, y, **kwargs)
        return self

    def _default_estimator(self, n_features, n_classes):
        return default_classifier(n_features, n_classes, device=self.device or "cpu")

    def _adapter_dtype(self):
        """The ``dtype`` given to the adapter (``None``: the adapter's own default)."""
        return self.dtype

    def initialize_adapter(self, n_features, classes, *, clone_estimator=True, X=None,
                           **kwargs):
        """Create ``self.adapter_`` around a clone of ``estimator`` (or the default network).

        Given the training rows ``X``, refuses values the model's precision cannot
        hold, before any training.
        """
        self.adapter_ = self._make_adapter(n_features, classes, clone_estimator=clone_estimator,
                                           **kwargs)
        if X is not None:
            self.adapter_.check_range(X)
        return self.adapter_

    def _make_adapter(self, n_features, classes, *, clone_estimator=True, **kwargs):
        check_device(self.device)
        est = split_model(self.estimator)[1]  # a Pipeline's transformers ran in validation
        if est is None:
            est = self._default_estimator(n_features, len(classes))
        return make_adapter(
            est,
            needs_gradients=self._needs_gradients,
            caller=type(self).__name__,
            device=self.device,
            dtype=self._adapter_dtype(),
            random_state=self._torch_seed(),
            classes=classes,
            clone_estimator=clone_estimator,
            **kwargs,
        )

    def set_params(self, **params):
        """Set parameters; ``estimator__*`` needs an explicit ``estimator``."""
        nested = [k for k in params if k.startswith("estimator__")]
        if nested and params.get("estimator", self.estimator) is None:
            raise ValueError(
                f"Cannot set {nested[0]!r}: estimator=None builds skclean's default network "
                "at fit time, so there is nothing to set yet. Pass the network explicitly, "
                "e.g. estimator=skclean.models.default_classifier(n_features, n_classes), "
                "then tune its parameters (estimator__lr, estimator__max_epochs, ...).")
        return super().set_params(**params)

    def _torch_seed(self):
        rs = self.random_state
        if rs is None or isinstance(rs, np.random.RandomState):
            return rs
        return int(rs)

    @property
    def estimator_(self):
        """The fitted clone of ``estimator`` (scikit-learn model or skorch net; a Pipeline
        passed as ``estimator`` comes back as the fitted Pipeline)."""
        return fitted_model(self, self.adapter_.model)


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


class ModelDelegateMixin:
    """``predict_proba`` and ``predict`` of the wrapped model, for the cleaners."""

    def predict_proba(self, X):
        """Class probabilities of the current model."""
        from ._labels import validate_rows

        check_is_fitted(self)
        return self.adapter_.predict_proba(validate_rows(self, X, reset=False))

    def predict(self, X):
        """Labels predicted by the current model."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def records_table(records):
    """A list of dicts as a pandas DataFrame."""
    import pandas as pd

    return pd.DataFrame.from_records(list(records))


def check_device(device):
    """Fail early, naming ``device``, for a device torch cannot use here."""
    if device is None:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device ({exc}).") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}, but torch sees no CUDA device on this machine; "
                         "use device='cpu' or None.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}, but only {torch.cuda.device_count()} CUDA "
                         "device(s) are visible.")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r}, but the MPS backend is not available here.")


RESAMPLE_DOC = """Fit, then return ``X`` with its labels cleaned (imbalanced-learn's sampler API).

        Lets the cleaner sit in an ``imblearn.pipeline.Pipeline`` before any
        classifier, which is then trained on the cleaned labels.  To hand it
        the trusted rows there, enable scikit-learn's metadata routing and
        request them: ``cleaner.set_fit_request({mask}=True)`` and
        ``cleaner.set_fit_resample_request({mask}=True)``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like or Series of shape (n_samples,)
        {params} : as in :meth:`fit`

        Returns
        -------
        X_resampled : ``X`` itself (minus any rows the cleaner dropped)
        y_resampled : ``y`` with every answer applied, in the same form as ``y``
        """


class QuestionsMixin:
    """Owns ``questioner_`` and the journal behind it, for the cleaners that ask.

    The journal outlives a ``fit`` that ended with an error or a Ctrl-C, so
    calling ``fit`` again on the same data replays the answers instead of
    asking again; a completed ``fit`` starts the next one afresh unless
    ``journal`` names a file.
    """

    def _open_questioner(self):
        path = getattr(self, "journal", None)
        if path is not None:
            journal = Journal(path)
        elif getattr(self, "_resumable_journal", None) is not None:
            journal = self._resumable_journal
        else:
            journal = Journal()
        # until the run completes, its journal waits here for a resumed run
        # (questions.transaction keeps it through a rollback)
        self._resumable_journal = journal
        self.questioner_ = Questioner(self.classes_, journal,
                                      fingerprints=self.__dict__.get("_raw_fingerprints"))
        return self.questioner_

    def _note_raw_rows(self, X, ids, *, reset):
        """Where the model is a Pipeline with transformers, fingerprint the rows as given
        (before them) under their ids: the journal then knows a row again after the
        transformers are refitted on other rows (a new vocabulary, a new scale), which
        changes every transformed row.  ``reset`` in ``fit``; ``partial_fit`` adds rows
        to the same table, which the questioner reads."""
        if not has_transformers(self):
            self._raw_fingerprints = None
            return
        table = None if reset else self.__dict__.get("_raw_fingerprints")
        if table is None:
            table = self._raw_fingerprints = {}
        table.update(zip(ids.tolist() if hasattr(ids, "tolist") else ids,
                         raw_row_fingerprints(X), strict=True))

    def _run_completed(self):
        self._resumable_journal = None

    @property
    def journal_(self):
        """The :class:`~skclean.questions.Journal` of this run's answers."""
        check_is_fitted(self, "questioner_")
        return self.questioner_.journal

    def cleaning_report(self):
        """What was asked and what was done, one row per row asked about.

        Returns
        -------
        pandas.DataFrame
            Columns: ``row_id`` (the DataFrame index of ``X``, or the row's
            position in it), ``question`` (rows asked together share it),
            ``role`` (``"suspicious"``, ``"counterexample"`` or
            ``"candidate"``), ``given`` (the label before), ``suggested``,
            ``answer`` (``None`` if skipped), ``applied`` (the label the row
            has now), ``skipped``, ``score``, ``annotator`` (``"journal"``
            for a replayed answer), ``from_journal``, ``time`` (UTC),
            ``changed`` (the label was fixed), and the estimator's own extras
            (``round`` or ``position``).  Labels are in your label space.
        """
        check_is_fitted(self, "questioner_")
        return self.questioner_.report()

    def _resample(self, X, y, **fit_params):
        """Fit, then ``(X, y)`` with every answer applied (see ``fit_resample``)."""
        self._fit_for_resample(X, y, **fit_params)
        keep, labels = self._cleaned_rows(len(y))
        y_out = _relabel(y, labels, getattr(self, "label_columns_", self.classes_))
        if keep is None:
            return X, y_out
        return _take(X, keep), _take(y_out, keep)

    def _fit_for_resample(self, X, y, **fit_params):
        return self.fit(X, y, **fit_params)


def _take(a, rows):
    if hasattr(a, "iloc"):
        return a.iloc[rows]
    return a[rows] if hasattr(a, "tocsr") else np.asarray(a)[rows]  # sparse rows stay sparse


def _relabel(y, labels, classes):
    """``y`` with ``labels`` (position -> label) applied, keeping its type (Series, 2-D).

    ``classes`` is the label set, in the column order of probabilistic ``y``.
    """
    arr = np.asarray(y)
    if arr.ndim == 2:  # probabilistic labels: cleaned rows become one-hot
        out = arr.astype(float, copy=True)
        for pos, lab in labels.items():
            out[pos] = 0.0
            out[pos, np.flatnonzero(np.asarray(classes) == lab)[0]] = 1.0
    else:
        out = arr.astype(np.asarray(classes).dtype, copy=True)
        for pos, lab in labels.items():
            out[pos] = lab
    if hasattr(y, "iloc"):  # a pandas Series or DataFrame keeps its index and name
        import pandas as pd

        if out.ndim == 1:
            return pd.Series(out, index=y.index, name=getattr(y, "name", None))
        return pd.DataFrame(out, index=y.index, columns=y.columns)
    return out
