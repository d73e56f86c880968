"""The model-based detector (the companion paper of paper 004, its Algorithm 2).

A model trained only on clean rows never learns the wrong labels, so the
log-probability it gives a row's label shows them; active learning grows the
clean set with the rows it is least sure of.  By default the log-probability
under a model trained on all rows is blended in, as the trusted rows show
works on the data (:mod:`._loss_weight`).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._sparse import stack_rows
from ..datasets import flip_labels
from ..questions import row_ids_of, transaction
from ..utils import SeenRows, store_parameters
from ._base import (
    MODEL_CONSTRAINTS,
    RESAMPLE_DOC,
    AdapterMixin,
    dask_rows,
)
from ._detector_base import SEEN_ROWS, DetectorMixin, check_reference, sample_seed
from ._labels import as_labels, check_judged, validate_rows
from ._loop import ASKING_CONSTRAINTS, ROW_IDS_DOC, CleaningLoop, Question, with_journal_doc
from ._loss_weight import combine_scores, fit_loss_weight
from ._trusted import check_labelled_rows, deprecated_doc, hold_out, renamed_trusted, trusted_doc


@with_journal_doc
class ModelBasedDetector(CleaningLoop, DetectorMixin, AdapterMixin, BaseEstimator):
    """Model-based error detection with active learning (companion paper, Algorithm 2).

    Trains the model on the clean reference set only, grows that set by
    asking the ``oracle`` to clean the ``query_size`` rows of highest
    predictive entropy each round, and keeps the round whose model best
    detects errors on a corrupted copy of a clean validation set.  The
    paper's score is the log-probability of a row's given label under that
    model (the negative loss); by default the log-probability under a model
    fit on all rows is added, weighted by what the held-out trusted rows show
    works on this data (``loss_weight``).  Lower means more likely mislabeled.

    Read more in the :ref:`User Guide <detection>`.

    Parameters
    ----------
    estimator : classifier or None
        The classifier: any with ``fit`` and ``predict_proba`` (gradient
        boosting, ``MLPClassifier``, a Pipeline ending in one, ...), as
        well as the logistic family, skorch nets and torch modules;
        ``None`` uses :func:`~skclean.models.default_classifier`.  Only its
        probabilities are used.
    oracle : callable or None, default=None
        Cleans the queried rows (see :mod:`skclean.oracles`); ``None`` trains
        on the reference set alone (no active learning).
    n_rounds : int, default=5
        Rounds ``T``.
    epochs_per_round : int, default=7
        Epochs ``u`` of training per round for networks (convex models are
        solved to convergence each round).
    query_size : int, default=100
        Rows ``r`` cleaned per round.
    validation_fraction : float, default=0.3
        Share of the reference rows held out as the detection validation set
        when ``X_val`` is not given, drawn at random while every class keeps
        at least one row for the clean model to train on.
    validation_noise : float, default=0.5
        Share of validation rows corrupted; the detection accuracy is the share
        of corrupted rows among that many lowest-scored ones (the paper's p = 50%).
    loss_weight : "auto" or float >= 0, default="auto"
        Weight ``w`` in the score ``log p_clean(y|x)/σ_C + w·log p_all(y|x)/σ_A``:
        ``p_clean`` is the kept model, trained on clean rows only, ``p_all`` a
        model fit on every row of ``X`` with its labels (the oracle's answers
        applied), both spreads taken over the rows of ``X``.  ``0`` is the
        paper's score (and fits no second model), ``inf`` the second model's
        log-probability alone.  ``"auto"`` chooses as
        :class:`ClassBasedIFDetector` does, from the validation rows before
        their corruption: neither model trained on them.  With few classes
        and labels flipped at random, the model fit on all rows ranks better;
        where the noise follows the classes or the model's confusions, the
        clean model does (:ref:`bench-detection-hard`).
    contamination : float in (0, 0.5], default=0.1
        Share of training rows flagged by :meth:`predict`.
    {journal}
    verbose : int, default=0
        Show a progress bar over rounds.
    device, dtype, random_state
        As in :class:`ClassBasedIFDetector`.

    Attributes
    ----------
    estimator_, adapter_, classes_, n_features_in_, offset_
    best_round_ : int
        The round whose model is kept.
    history_ : list of dict
        Per round: clean-set size, validation detection accuracy, rows queried
        before the round trained.
    cleaned_mask_ : ndarray of bool
        Rows of ``X`` the oracle cleaned (fixed or confirmed).
    n_cleaned_, n_changed_ : int
        Rows the oracle cleaned; labels its answers changed.
    skipped_mask_ : ndarray of bool
        Rows the oracle skipped (no judgement; not added to the clean set).
    y_cleaned_ : ndarray
        ``y`` with the oracle's answers applied.
    full_estimator_ : object or None
        The model fit on every row of ``X`` (``None`` when ``loss_weight_`` is 0).
    loss_weight_ : float
        The weight in use (``loss_weight``, or the one ``"auto"`` chose).
    loss_weight_rates_ : ndarray of shape (9,) or None
        With ``"auto"``: for each weight tried, how often the validation rows
        are flagged relative to the training rows (lower is better).
    score_scale_ : ndarray of shape (2,) or None
        ``(σ_C, σ_A)``; ``None`` when ``loss_weight_`` is 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skclean import ModelBasedDetector, SimulatedOracle
    >>> from skclean.datasets import load_dataset, flip_labels
    >>> X, _, y, _ = load_dataset("breast", random_state=0)
    >>> y_noisy, flipped = flip_labels(y, 0.2, random_state=0)
    >>> trusted = np.zeros(len(X), dtype=bool)
    >>> trusted[:40] = True                      # rows whose labels were verified
    >>> y_noisy[trusted] = y[trusted]
    >>> det = ModelBasedDetector(LogisticRegression(max_iter=1000), n_rounds=3,
    ...                          query_size=20, oracle=SimulatedOracle(X, y), random_state=0)
    >>> flags = det.fit_predict(X, y_noisy, trusted_mask=trusted)   # -1 = suspicious
    >>> bool(flipped[flags == -1].mean() > 0.5)
    True
    """

    _parameter_constraints = {
        **MODEL_CONSTRAINTS,
        **ASKING_CONSTRAINTS,
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "epochs_per_round": [Interval(Integral, 1, None, closed="left")],
        "query_size": [Interval(Integral, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_noise": [Interval(Real, 0, 1, closed="neither")],
        "loss_weight": [StrOptions({"auto"}), Interval(Real, 0, None, closed="both")],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(self, estimator=None, *, oracle=None, n_rounds=5, epochs_per_round=7,
                 query_size=100, validation_fraction=0.3, validation_noise=0.5,
                 loss_weight="auto", contamination=0.1, journal=None, verbose=0, device=None,
                 dtype=None, random_state=None):
        store_parameters(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None, X_val=None,
            y_val=None, X_ref=None, y_ref=None, reference_mask=None, row_ids=None):
        """Run the rounds and keep the best detector.

        Parameters
        ----------
        X, y : noisy data to score.
        {trusted}
        X_val, y_val : array-like, default=None
            Verified rows held out from the clean model and corrupted
            internally to choose the round; by default a
            ``validation_fraction`` of the trusted rows.
        {deprecated}
        {row_ids}

        Returns
        -------
        self
        """
        # all or nothing: a failure leaves the previous fitted state whole (the answers
        # stay journaled, so fitting again asks nothing twice)
        with transaction(self):
            return self._validate_and_fit(X, y, X_val, y_val, renamed_trusted(
                self, X_trusted, y_trusted, trusted_mask, X_ref=X_ref, y_ref=y_ref,
                reference_mask=reference_mask), row_ids)

    fit.__doc__ = fit.__doc__.format(
        trusted=trusted_doc("; the clean model trains on them"),
        deprecated=deprecated_doc("X_ref, y_ref, reference_mask"), row_ids=ROW_IDS_DOC)

    def _validate_and_fit(self, X, y, X_val, y_val, trusted, row_ids):
        ids, raw = row_ids_of(X, row_ids=row_ids), X
        X, y = validate_rows(self, X, y)
        self._note_raw_rows(raw, ids, reset=True)
        X_ref, y_ref = check_reference(X, y, *trusted, estimator=self)
        rng = check_random_state(self.random_state)
        if X_val is None and y_val is None:
            n_val = max(2, int(round(self.validation_fraction * X_ref.shape[0])))
            kept, held = hold_out(y_ref, n_val, rng)
            if len(kept) < 2 or len(held) < n_val:
                raise ValueError(f"There are {X_ref.shape[0]} trusted rows: too few to hold "
                                 f"out a validation share of {self.validation_fraction} and "
                                 "train on the rest with a row of every class; pass "
                                 "X_val/y_val or more trusted rows.")
            X_val, y_val = X_ref[held], y_ref[held]
            X_ref, y_ref = X_ref[kept], y_ref[kept]
        else:
            X_val, y_val = check_labelled_rows(X_val, y_val, X.shape[1:], ("X_val", "y_val"),
                                               estimator=self)
        classes = np.unique(np.concatenate([np.unique(y), np.unique(y_ref), np.unique(y_val)]))
        missing = np.setdiff1d(classes, y_ref)
        if missing.size:
            raise ValueError(f"The trusted rows the clean model trains on have no row of "
                             f"class(es) {missing.tolist()}; the model could never predict "
                             "them. Add trusted rows of every class.")
        self.classes_ = classes
        y_val_noisy, corrupted = flip_labels(y_val, self.validation_noise,
                                             classes=self.classes_, random_state=rng)
        self._data = (X, as_labels(y, classes), ids, X_ref, as_labels(y_ref, classes))
        self._validation = (X_val, y_val_noisy, corrupted)
        self._fit(rng)
        y_val = as_labels(y_val, classes)
        self._set_offset(self._fit_loss_weight(X, self._data[1], X_val, y_val, rng))
        del self._data, self._validation
        return self

    # replaced, never modified in place: a round's rollback need not copy them
    _shared_state = ("_data", "_validation")
    _needs_gradients = False  # its scores are log-probabilities: any predict_proba model
    _record_every_step = True  # a round that asked nothing still trained and was scored

    def _fit(self, rng):
        X, y = self._data[0], self._data[1]
        adapter = self.initialize_adapter(X.shape[1], self.classes_, X=X)
        self._init_label_state(X.shape[0])
        self.y_cleaned_ = y.copy()
        self._open_questioner()
        self._best = (-np.inf, None, 0)
        adapter.fit(*self._clean_set())
        self._update(1, None, None)  # round 1: the model of the trusted rows alone
        self.history_.append(self._record(1, None, None))
        self._run(range(2, self.n_rounds + 1), total=self.n_rounds - 1, desc="rounds")
        accuracy, state, self.best_round_ = self._best
        adapter.set_state(state)
        del self._best
        self._run_completed()

    def _clean_set(self):
        X, _, _, X_ref, y_ref = self._data
        return (stack_rows([X_ref, X[self.cleaned_mask_]]),
                np.concatenate([y_ref, self.y_cleaned_[self.cleaned_mask_]]))

    def _select(self, step):
        """The ``query_size`` rows of highest predictive entropy not asked about yet."""
        X, _, ids = self._data[:3]
        pool = np.flatnonzero(~(self.cleaned_mask_ | self.skipped_mask_))
        if self.oracle is None or self.query_size == 0 or len(pool) == 0:
            return None
        P = self.adapter_.predict_proba(X[pool]).astype(np.float64)  # 1e-300 is 0 in float32
        entropy = -(P * np.log(np.clip(P, 1e-300, None))).sum(1)
        pick = pool[np.argsort(-entropy, kind="stable")[: self.query_size]]
        return Question(pick, X[pick], self.y_cleaned_[pick], ids[pick],
                        predicted=self.adapter_.predict(X[pick]), note={"round": step})

    def _apply(self, question, answer):
        done = ~answer.skipped
        self.y_cleaned_[question.positions[done]] = answer.labels[done]

    def _update(self, step, question, answer):
        """Train on the grown clean set; keep the model if it detects best so far."""
        if step > 1:
            self.adapter_.continue_fit(*self._clean_set(), epochs=self.epochs_per_round)
        X_val, y_val_noisy, corrupted = self._validation
        n_top = max(1, int(corrupted.sum()))
        val_scores = self._log_proba_of(self.adapter_, X_val, y_val_noisy)
        self._accuracy = float(corrupted[np.argsort(val_scores, kind="stable")[:n_top]].mean())
        if self._accuracy > self._best[0]:
            self._best = (self._accuracy, self.adapter_.get_state(), step)

    def _record(self, step, question, answer):
        return {"round": step, "n_clean": len(self._clean_set()[1]),
                "val_accuracy": self.__dict__.pop("_accuracy"),
                "n_queried": 0 if question is None else len(question.positions)}

    def _fit_loss_weight(self, X, y, X_val, y_val, rng):
        """Fit the all-rows model unless the weight is 0; return the training scores."""
        self.full_adapter_ = self.seen_ = None
        clean = self._log_proba_of(self.adapter_, X, y)
        if self.loss_weight != 0:
            # the same estimator, trained as a user would: on every row, as labelled now
            self.full_adapter_ = self._make_adapter(X.shape[1], self.classes_)
            self.full_adapter_.fit(X, self.y_cleaned_)
            self.seen_ = SeenRows(X, self.y_cleaned_, capacity=SEEN_ROWS,
                                  random_state=sample_seed(self, rng))
        train = (clean, None if self.full_adapter_ is None
                 else self._log_proba_of(self.full_adapter_, X, y))
        # the validation rows are clean and held out from the clean model
        self.loss_weight_, self.loss_weight_rates_, self.score_scale_, scores, _ = fit_loss_weight(
            self.loss_weight, train,
            lambda: tuple(self._log_proba_of(a, X_val, y_val)
                          for a in (self.adapter_, self.full_adapter_)),
            self.contamination, rng)
        if self.loss_weight_ == 0:
            self.full_adapter_ = self.seen_ = None  # "auto" chose the clean model alone
        return scores

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Continue with new rows ``(X, y)``.

        The first call (an unfitted detector) is :meth:`fit`.  After that the
        clean model stays as it is (it learns from verified rows only, and new
        rows are not verified); the model of every row, when ``loss_weight_``
        blends it in, continues from its current state on the new rows (see
        :ref:`partial-fit`).  The calibration of :meth:`fit` is kept.  Score the
        new rows with :meth:`score_samples` to audit them; to ask the oracle
        about them, fit again.

        ``classes`` (scikit-learn's ``partial_fit`` argument) is checked against
        the label set the first call learns.

        Returns
        -------
        self
        """
        return self._continue_or_fit("loss_weight_", X, y, fit_params,
                                     lambda: self.fit(X, y, **fit_params), classes=classes)

    def _partial_fit(self, X, y):
        X, y = check_judged(self, X, y)
        if self.full_adapter_ is not None:
            with transaction(self):
                self.full_adapter_.partial_fit(X, y, seen=self.seen_)
                self.seen_.add(X, y)

    @property
    def full_estimator_(self):
        """The model fit on every row of ``X`` (``None`` when ``loss_weight_`` is 0)."""
        return None if self.full_adapter_ is None else self.full_adapter_.model

    def _log_proba_of(self, adapter, X, y):
        P = adapter.predict_proba(X)
        idx = np.searchsorted(self.classes_, y)
        return np.log(np.clip(P[np.arange(len(y)), idx], 1e-300, None))

    def fit_resample(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None, X_val=None,
                     y_val=None, X_ref=None, y_ref=None, reference_mask=None, row_ids=None):
        return self._resample(X, y, X_trusted=X_trusted, y_trusted=y_trusted,
                              trusted_mask=trusted_mask, X_val=X_val, y_val=y_val, X_ref=X_ref,
                              y_ref=y_ref, reference_mask=reference_mask, row_ids=row_ids)

    fit_resample.__doc__ = RESAMPLE_DOC.format(
        mask="trusted_mask", params="X_trusted, y_trusted, trusted_mask, X_val, y_val")

    def _cleaned_rows(self, n):
        done = np.flatnonzero(self.cleaned_mask_)
        return None, dict(zip(done.tolist(), self.y_cleaned_[done], strict=True))

    @dask_rows(np.float64)
    def score_samples(self, X, y):
        """Log-probability of each given label (blended as ``loss_weight_`` says).

        Lower means more suspicious.

        Dask arrays give a lazy dask array (:ref:`dask-scoring`).
        """
        X, y = check_judged(self, X, y)
        clean = self._log_proba_of(self.adapter_, X, y)
        if self.loss_weight_ == 0:
            return clean
        return combine_scores(clean, self._log_proba_of(self.full_adapter_, X, y),
                              self.loss_weight_, self.score_scale_)
