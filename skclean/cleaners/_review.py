"""A detector's ranking reviewed by the oracle, in batches: the most suspicious rows first.

The detectors rank rows; someone still has to look at them.  This cleaner
runs the shared loop over a detector's ranking: each step asks about the
``batch_size`` lowest-scored rows not yet asked about (never the trusted
ones), with the detector's model's prediction as the suggestion, and
applies the answers.  By default (``rerank=True``) the detector is fitted
again before each batch: on the labels as answered, with the answered rows
among the trusted ones, the options it chose on the trusted rows at its first
fit kept, and (where its ``fit`` takes ``y_given``) the labels as first given,
so that its noise model learns from the answers which labels the annotators
confuse.
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from ..questions import numeric_rows, row_ids_of, transaction
from ..utils import store_parameters
from ._base import RESAMPLE_DOC
from ._detection import ClassBasedIFDetector
from ._labels import check_hard_labels
from ._loop import ASKING_CONSTRAINTS, ROW_IDS_DOC, CleaningLoop, Question, with_journal_doc
from ._noise_model import KINDS
from ._pipeline_model import has_transformers, stack_raw_rows, transform_rows
from ._trusted import trusted_doc, trusted_rows


def chosen_options(detector):
    """The options of a fitted ``detector`` that it chose on the trusted rows, to keep when it
    is fitted again with the answers: the ``"auto"`` of ``loss_weight`` and ``noise_model``
    as fitted (their attributes ending in ``_``).  A noise model is ``"refit"`` wherever the
    refit was a candidate: with the answers its ``N`` holds their exact (true, given)
    pairs, what the trusted rows alone could not show."""
    params = detector.get_params(deep=False)
    chosen = {name: getattr(detector, name + "_") for name in ("loss_weight", "noise_model")
              if params.get(name) == "auto" and hasattr(detector, name + "_")}
    rates = getattr(detector, "noise_model_rates_", None)
    if "noise_model" in chosen and rates is not None and np.isfinite(
            rates[KINDS.index("refit")]):
        chosen["noise_model"] = "refit"
    return chosen


@with_journal_doc
class ReviewCleaner(CleaningLoop, BaseEstimator):
    """Ask the oracle about a detector's most suspicious rows, a batch at a time.

    Read more in the :ref:`User Guide <review>`.

    Parameters
    ----------
    detector : estimator or None, default=None
        Any skclean detector (``fit(X, y, X_trusted=..., y_trusted=...)`` and
        ``score_samples(X, y)``, lower = more suspicious); it is cloned.
        ``None``: :class:`ClassBasedIFDetector` with its defaults.
    oracle : callable
        Answers ``oracle(X_rows, y_current, suggested=..., ...)`` (see
        :mod:`skclean.oracles`).
    budget : int, default=100
        Rows to ask about in total.
    batch_size : int, default=10
        Rows per question.
    rerank : bool, default=True
        Fit the detector again after each batch and re-rank the rows not yet
        asked about: on the labels as answered so far, with the answered rows
        among the trusted rows.  What the first fit chose on the trusted rows
        (``loss_weight``, ``noise_model``) is kept: they are a sample of
        clean rows and the answered rows are not (the most suspicious, on the
        class boundaries).  The noise model becomes ``"refit"`` wherever that
        was a candidate, and the detector gets the labels as first given
        (``y_given``): each answer that changed a label is an exact (true,
        given) pair of its noise matrix.  Costs a detector fit per batch; at
        a budget of 10% of the rows it fixes 1.16–1.41 times the wrong
        labels that cleanlab's one-shot ranking fixes where the noise
        follows the classes, and as many (1.00–1.01 times) with uniform
        noise, in the six settings of ``benchmarks/interactive_budget.py``
        (:ref:`bench-interactive-budget` also lists a data set where it loses).
        ``False`` asks down the first ranking.
    {journal}
    verbose : int, default=0
        Progress bar over the rows asked.

    Attributes
    ----------
    detector_ : estimator
        The fitted clone of ``detector`` (refitted with the answers when
        ``rerank``).
    classes_, n_features_in_
    y_ : ndarray of shape (n_samples,)
        ``y`` with every answer applied.
    scores_ : ndarray of shape (n_samples,)
        The detector's scores of ``(X, y_)`` at the last ranking.
    cleaned_mask_, skipped_mask_ : ndarray of bool
        Rows an answer judged; rows the oracle skipped.
    n_cleaned_, n_changed_ : int
        Rows judged; labels the answers changed.
    history_ : list of dict
        One record per batch: its row ids, given labels and answers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skclean import ClassBasedIFDetector, ReviewCleaner, SimulatedOracle
    >>> from skclean.datasets import load_dataset, flip_labels
    >>> X, X_trusted, y, y_trusted = load_dataset("breast", test_size=0.2, random_state=0)
    >>> y_noisy, flipped = flip_labels(y, 0.1, random_state=0)
    >>> review = ReviewCleaner(ClassBasedIFDetector(LogisticRegression()),
    ...                        oracle=SimulatedOracle(X, y), budget=40, batch_size=10)
    >>> review = review.fit(X, y_noisy, X_trusted=X_trusted, y_trusted=y_trusted)
    >>> bool(review.n_changed_ >= 20)     # most of the 40 rows asked were wrong
    True
    """

    _parameter_constraints = {
        **ASKING_CONSTRAINTS,
        "oracle": [callable],
        "detector": [HasMethods(["fit", "score_samples"]), None],
        "budget": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "rerank": ["boolean"],
    }

    def __init__(self, detector=None, *, oracle=None, budget=100, batch_size=10, rerank=True,
                 journal=None, verbose=0):
        store_parameters(self, locals())

    @_fit_context(prefer_skip_nested_validation=False)  # the user's detector is checked too
    def fit(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None, row_ids=None):
        """Fit the detector, then ask about its ranking until the budget is spent.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows as the detector takes them; a DataFrame's index names the
            rows in the questions, the journal and the report.
        y : array-like of shape (n_samples,)
            The given labels; the answers go to a copy, ``y_``.
        {trusted}
        {row_ids}

        Returns
        -------
        self : the fitted cleaner; ``cleaning_report()`` lists what was asked.
        """
        # all or nothing: a failure leaves the previous fitted state whole (the answers
        # stay journaled, so fitting again asks nothing twice)
        with transaction(self):
            ids = row_ids_of(X, row_ids=row_ids)
            # rows as the detector takes them: raw where its model is a Pipeline that
            # encodes them (a DataFrame with string columns, texts), checked there
            raw = has_transformers(self)
            X, y, self.classes_ = check_hard_labels(self, X, y, model_rows=False)
            self._note_raw_rows(X, ids, reset=True)
            found = trusted_rows(X, X_trusted, y_trusted, trusted_mask, raw=raw)
            if found is None:
                raise ValueError("ReviewCleaner's detector needs trusted rows: pass "
                                 "X_trusted/y_trusted, or trusted_mask marking the rows of X "
                                 "whose labels are verified.")
            idx, X_t, y_t = found
            self._trusted = (_safe_indexing(X, idx), y[idx]) if idx is not None else (X_t, y_t)
            self._X, self._given, self.row_ids_, self.y_ = X, y, ids, y.copy()
            # the rows asked about: as given where they are numbers (the journal fingerprints
            # them, and they stay put when the detector refits its transformers), else as
            # the detector's model takes them (encoded string columns, TF-IDF rows)
            self._shown = numeric_rows(X) if raw else X
            if self._shown is not None and self._shown.ndim < 2:  # texts that read as numbers
                self._shown = None
            self._init_label_state(len(y))
            self._never = np.zeros(len(y), dtype=bool)  # trusted rows are never asked about
            if idx is not None:
                self._never[idx] = True
            self._fit_detector()
            self._open_questioner()
            self._run(range(self.budget), total=self._total(), desc="asked")
            del self._X, self._shown, self._given, self._trusted, self._never, self._chosen
            self._run_completed()
        return self

    fit.__doc__ = fit.__doc__.format(
        trusted=trusted_doc(mask_note="; they are never asked about"), row_ids=ROW_IDS_DOC)

    def fit_resample(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None,
                     row_ids=None):
        return self._resample(X, y, X_trusted=X_trusted, y_trusted=y_trusted,
                              trusted_mask=trusted_mask, row_ids=row_ids)

    fit_resample.__doc__ = RESAMPLE_DOC.format(mask="trusted_mask",
                                               params="X_trusted, y_trusted, trusted_mask")

    # replaced, never modified in place: a step's rollback need not copy them
    _shared_state = ("_X", "_shown", "_given", "_trusted", "_chosen", "row_ids_", "y_", "scores_",
                     "detector_")
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # as its detector
        return tags

    _progress_unit = "row"

    def _fit_detector(self):
        X_t, y_t = self._trusted
        done = self.cleaned_mask_
        detector = ClassBasedIFDetector() if self.detector is None else self.detector
        kwargs = {}
        if done.any():
            # the trusted rows are a sample of clean rows and the answered ones are not
            # (the most suspicious, on the boundaries): what the first fit chose on the
            # trusted rows is kept, and the answers re-estimate the models
            detector = clone(detector).set_params(**self._chosen)
            if has_fit_parameter(detector, "y_given"):  # answers told from the given labels
                kwargs["y_given"] = self._given
        self.detector_ = clone(detector)
        self.detector_.fit(self._X, self.y_,
                           X_trusted=stack_raw_rows([X_t, _safe_indexing(self._X, done)],
                                                    like=self._X),
                           y_trusted=np.concatenate([y_t, self.y_[done]]), **kwargs)
        if not done.any():
            self._chosen = chosen_options(self.detector_)
        self.scores_ = np.asarray(self.detector_.score_samples(self._X, self.y_), dtype=float)

    def _total(self):
        return int(min(self.budget, (~self._never).sum()))

    def _should_stop(self):
        return self._n_asked() >= self._total() or super()._should_stop()

    def _select(self, step):
        pool = np.flatnonzero(~(self.cleaned_mask_ | self.skipped_mask_ | self._never))
        b = min(self.batch_size, self._total() - self._n_asked())
        rows = pool[np.argsort(self.scores_[pool], kind="stable")[:b]]
        # the adapter, not the raw model: it feeds a network its own dtype
        model = getattr(self.detector_, "adapter_", None)
        X_model = transform_rows(self.detector_, _safe_indexing(self._X, rows))
        pred = None if model is None else model.predict(X_model)
        # the model's prediction is the suggestion: a person's Enter accepts it
        shown = X_model if self._shown is None else self._shown[rows]
        return Question(rows, shown, self.y_[rows], self.row_ids_[rows],
                        suggested=pred, predicted=pred, scores=self.scores_[rows],
                        note={"batch": len(self.history_) + 1},
                        extra={"n_asked": self._n_asked(), "budget": self._total()})

    def _apply(self, question, answer):
        done = ~answer.skipped
        self.y_ = self.y_.copy()  # the rollback of a failed step keeps the old one
        self.y_[question.positions[done]] = answer.labels[done]

    def _update(self, step, question, answer):
        if self.rerank and np.any(~answer.skipped):
            self._fit_detector()

    def score_samples(self, X, y):
        """The fitted detector's scores of ``(X, y)``: lower = more likely mislabeled."""
        check_is_fitted(self)
        return self.detector_.score_samples(X, y)

    def _cleaned_rows(self, n):
        done = np.flatnonzero(self.cleaned_mask_)
        return None, dict(zip(done.tolist(), self.y_[done], strict=True))
