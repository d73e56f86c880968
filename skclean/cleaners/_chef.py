"""CHEF: cheap and fast iterative cleaning of (probabilistic) labels.

Wu, Weimer & Davidson (PVLDB 2021).  Rounds of: rank every uncleaned row and
every class by INFL — the predicted change of the clean validation loss if
the row's label became that class and its weight went from γ to 1 (Eq. 6-8)
— ask the oracle about the ``batch_size`` most beneficial rows with INFL's
suggestions, apply the labels, and update the model (DeltaGrad-L, warm start
or retraining), until the budget is spent or a target validation score is
reached.
"""

import functools
import itertools
import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._sparse import as_dtype, stack_rows
from ..influence.selection import STRATEGIES, INFLSelector
from ..models import SoftmaxRegression, soft_targets
from ..questions import row_ids_of, transaction
from ..utils import store_parameters
from ._base import (
    MODEL_CONSTRAINTS,
    RESAMPLE_DOC,
    AdapterMixin,
    ModelDelegateMixin,
    dask_rows,
)
from ._labels import check_any_labels, check_judged
from ._loop import ASKING_CONSTRAINTS, ROW_IDS_DOC, CleaningLoop, Question, with_journal_doc
from ._trusted import renamed_trusted, split_trusted, trusted_doc


@with_journal_doc
class ChefCleaner(CleaningLoop, ModelDelegateMixin, AdapterMixin, ClassifierMixin,
                  BaseEstimator):
    """Budgeted, influence-guided label cleaning with suggested labels (CHEF).

    Read more in the :ref:`User Guide <chef>`.

    Parameters
    ----------
    estimator : LogisticRegression, SoftmaxRegression, NeuralNetClassifier, nn.Module or None
        CHEF assumes a strongly convex linear softmax model.  ``None``:
        ``LogisticRegression(C=1.0)`` (``update`` "warm_start"/"retrain") or
        :class:`~skclean.models.SoftmaxRegression` (``update="deltagrad"``).
        Networks are accepted too: INFL then works on the last layer (its
        Hessian given the penultimate features), and ``update`` is
        ``"warm_start"`` (``refit_epochs`` more epochs) or ``"retrain"``.
    oracle : callable or None
        Answers ``oracle(X_rows, y_current, suggested=..., role=...)``; a
        :class:`~skclean.MajorityVoteOracle` of annotators for INFL (one).
        Not needed with ``label_source="suggested"``.
    budget : int, default=100
        Rows to clean in total.
    batch_size : int, default=10
        Rows cleaned per round (CHEF's ``b``).
    gamma : float in (0, 1], default=0.8
        Weight of uncleaned rows in the training objective (Eq. 1).
    strategy : {"infl", "infl_d", "least_confidence", "entropy"}, default="infl"
        How rows are ranked: INFL (Eq. 6), plain removal influence (Eq. 2,
        "INFL-D"), or active learning.  Only INFL suggests labels.
    suggestion : {"alternative", "predicted", "infl"}, default="alternative"
        The label suggested for each row, at which its INFL ranks it: the
        model's most probable class other than the current label (for a
        probabilistic label, the most probable class, its own included: made
        certain, it changes too), its prediction, or the paper's
        ``argmin_c I(i, c)`` (right far less often on many classes, and on
        probabilistic labels: see :class:`~skclean.influence.INFLSelector`).
    label_source : {"oracle", "suggested", "vote"}, default="oracle"
        INFL (one): the oracle's answer; INFL (two): INFL's suggestion, no
        oracle; INFL (three): the majority of the suggestion and each of the
        oracle's annotators (the ``oracles`` of a MajorityVoteOracle, or the
        oracle's single answer).  Ties go to the first annotator.
    selection : {"full", "incremental"}, default="full"
        ``"incremental"`` is Increm-INFL: rows whose INFL bound cannot reach
        the top ``batch_size`` are not evaluated; the same rows as ``"full"``.
    update : {"warm_start", "deltagrad", "retrain"}, default="warm_start"
        How the model follows the new labels: continue from the current
        optimum (for ``LogisticRegression``, Newton-CG steps, preconditioned
        by the Hessian if one was factorised, until the largest gradient
        entry is at most the estimator's own ``tol``, where its solver would
        stop: probabilistic labels are fitted directly),
        DeltaGrad-L over the cached SGD trajectory (SoftmaxRegression only),
        or retrain from scratch.
    refit_epochs : int, default=1
        With ``update="warm_start"``, the epochs a network trains after each
        round, from its current weights (not its ``max_epochs``: the rows it
        has learnt are still there, only a few labels changed).  Every epoch
        is more training on the labels not yet cleaned, which a network goes
        on to memorise: on the digits CNN of ``benchmarks/image_cnn.py``, 3
        epochs a round left its held-out accuracy 5–13 points below 1 (one
        seed, 140 questions).
        Unused by the logistic family, which Newton solves to the optimum.
    solver : {"auto", "pcg", "exact", "cg"}, default="auto"
        How ``H⁻¹ ∇L_val`` is obtained: eigendecomposition (``"exact"``), or
        CG warm-started from the last round, preconditioned by a factorised
        Hessian (``"pcg"``) or not; ``"auto"``: plain CG until a solve needs
        more than 25 iterations, then preconditioned, for last layers of at
        most 4,096 parameters (see :class:`~skclean.influence.INFLSelector`).
    damping : float, default=0.0
        Added to the Hessian's diagonal.
    cg_tol : float, default=1e-4
        Relative residual ``‖H v − ∇L_val‖ ≤ cg_tol ‖∇L_val‖`` at which CG stops
        (every ``solver`` but ``"exact"``).  INFL is then off by at most about
        ``κ(H) · cg_tol`` of its scale: far below the gaps between the rows it
        ranks, and no finer than the model itself, which the estimator's own
        ``tol`` leaves that far from its optimum.
    deltagrad_j0, deltagrad_T0, deltagrad_m0 : int, default=10, 20, 2
        DeltaGrad-L burn-in, period and L-BFGS history (the paper's values).
    target_score : float or None, default=None
        Stop once the validation score reaches it (early termination).
    scoring : str, default="accuracy"
        scikit-learn scorer name for the validation score.
    validation_fraction : float or None, default=None
        Without ``X_trusted`` or ``trusted_mask``, ``fit`` raises: CHEF needs
        trusted labels to rank by.  Set a share here to opt in to trusting a
        random share of the *given* labels as the validation set instead
        (their noise then misleads the ranking).
    classes : array-like or None, default=None
        Label set, in the column order of probabilistic labels (any order;
        ``classes_`` is always sorted, as in scikit-learn).
    {journal}
    verbose : int, default=0
        Progress bar over rounds.
    device, dtype, random_state
        As in the other estimators, except that ``dtype=None`` keeps float32
        rows in float32, as scikit-learn's ``LogisticRegression`` does (the
        logistic family is otherwise computed in float64).  ``X_`` is kept in
        the model's precision: float32 halves the memory and about halves a
        round on large data, with the same rows selected in
        ``bench_chef_round.py``.

    Attributes
    ----------
    X_, y_, X_trusted_, y_trusted_ : training rows (in the model's precision) and their
        current labels, ``(n, C)`` probabilities; the trusted rows and their labels.
    sample_weight_ : ndarray of shape (n,)
        ``gamma`` for uncleaned rows, 1 for cleaned ones.
    cleaned_mask_, skipped_mask_ : ndarray of bool
        Rows whose label an answer fixed or confirmed; rows the oracle skipped
        (no judgement: not cleaned, not asked again).
    row_ids_ : ndarray
        The user's id of each row of ``X_`` (DataFrame index or position in ``X``).
    stop_reason_ : {"budget", "target_score", "oracle", "exhausted"}
        Why the rounds ended.
    suggested_labels_ : ndarray
        INFL's suggested label for every row at the last ranking.
    history_ : list of dict
        Per round: rows, suggestions, answers, applied labels, validation
        score, selection and update time, rows evaluated exactly.
    n_cleaned_, n_changed_ : int
        Rows an answer judged; labels the answers changed.
    stopped_early_ : bool
    cg_iterations_, deltagrad_memory_ : int
        The last solve's CG iterations; floats kept for DeltaGrad-L.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skclean import ChefCleaner, SimulatedOracle
    >>> from skclean.datasets import flip_labels, load_dataset
    >>> X, _, y, _ = load_dataset("wine", random_state=0)
    >>> trusted = np.arange(len(X)) % 5 == 0          # rows whose labels were verified
    >>> y_given = np.where(trusted, y, flip_labels(y, 0.2, random_state=0)[0])
    >>> chef = ChefCleaner(LogisticRegression(max_iter=1000), oracle=SimulatedOracle(X, y),
    ...                    budget=10, batch_size=5)
    >>> chef = chef.fit(X, y_given, trusted_mask=trusted)
    >>> report = chef.cleaning_report()
    >>> len(report), int(report["changed"].sum()) >= 5
    (10, True)
    """

    _parameter_constraints = {
        **MODEL_CONSTRAINTS,
        **ASKING_CONSTRAINTS,
        "budget": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, 1, closed="right")],
        "strategy": [StrOptions(set(STRATEGIES))],
        "suggestion": [StrOptions({"alternative", "predicted", "infl"})],
        "label_source": [StrOptions({"oracle", "suggested", "vote"})],
        "selection": [StrOptions({"full", "incremental"})],
        "update": [StrOptions({"warm_start", "deltagrad", "retrain"})],
        "refit_epochs": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"auto", "pcg", "exact", "cg"})],
        "damping": [Interval(Real, 0, None, closed="left")],
        "cg_tol": [Interval(Real, 0, 1, closed="neither")],
        "deltagrad_j0": [Interval(Integral, 0, None, closed="left")],
        "deltagrad_T0": [Interval(Integral, 1, None, closed="left")],
        "deltagrad_m0": [Interval(Integral, 1, None, closed="left")],
        "target_score": [Real, None],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "classes": ["array-like", None],
    }

    def __init__(self, estimator=None, *, oracle=None, budget=100, batch_size=10, gamma=0.8,
                 strategy="infl", suggestion="alternative", label_source="oracle",
                 selection="full", update="warm_start", refit_epochs=1,
                 solver="auto", damping=0.0, cg_tol=1e-4, deltagrad_j0=10, deltagrad_T0=20,
                 deltagrad_m0=2, target_score=None, scoring="accuracy", validation_fraction=None,
                 classes=None, journal=None, verbose=0, device=None, dtype=None, random_state=None):
        store_parameters(self, locals())

    @property
    def _needs_gradients(self):
        # active learning ranks by the model's probabilities: any predict_proba model will do
        return self.strategy not in ("least_confidence", "entropy")

    def _default_estimator(self, n_features, n_classes):
        if self.update == "deltagrad":
            return SoftmaxRegression(random_state=self._torch_seed() or 0)
        return LogisticRegression(C=1.0, max_iter=1000)

    def _check_setup(self):
        if self.label_source != "suggested" and self.oracle is None:
            raise ValueError(f"label_source={self.label_source!r} needs an oracle.")
        if self.strategy != "infl" and self.label_source != "oracle":
            raise ValueError("Only strategy='infl' suggests labels; use label_source='oracle'.")
        if self.selection == "incremental" and self.strategy != "infl":
            raise ValueError("selection='incremental' (Increm-INFL) applies to strategy='infl'.")
        if self.update == "deltagrad" and not isinstance(self.estimator,
                                                         SoftmaxRegression | None):
            raise ValueError("update='deltagrad' needs estimator=SoftmaxRegression (or None).")
        if self.target_score is not None and not math.isfinite(self.target_score):
            raise ValueError(f"target_score must be a finite number or None, got "
                             f"{self.target_score}.")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None, X_val=None,
            y_val=None, validation_mask=None, row_ids=None):
        """Train on the (probabilistic) labels and run the cleaning rounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Hard labels, or probabilistic labels whose rows sum to 1 (columns
            in the order of ``classes``, default ``0..C-1``).
        {trusted}

        Returns
        -------
        self
        """
        trusted = renamed_trusted(self, X_trusted, y_trusted, trusted_mask, X_val=X_val,
                                  y_val=y_val, validation_mask=validation_mask)
        self._check_setup()
        # all or nothing until the rounds start: a failed setup leaves the last fit whole
        with transaction(self, shared=self._shared_state):
            ids, raw = row_ids_of(X, row_ids=row_ids), X
            # the label set: the constructor's, or the one a first partial_fit call passed
            label_set = self.classes if self.classes is not None else getattr(
                self, "_partial_fit_classes", None)
            X, Y, classes, columns = check_any_labels(self, X, y, label_set)
            self._note_raw_rows(raw, ids, reset=True)
            train, X_val, y_val = split_trusted(
                X, classes[Y.argmax(1)], trusted, fraction=self.validation_fraction,
                random_state=self.random_state, estimator=self, missing_message=(
                    "ChefCleaner ranks rows by their influence on *trusted* rows: pass "
                    "X_trusted/y_trusted, or trusted_mask marking the rows of X whose labels "
                    "are verified. (validation_fraction=0.1 would instead trust a random "
                    "tenth of the given, possibly wrong, labels.)"))
            positions = np.arange(X.shape[0])
            self._next_position = X.shape[0]  # the position a partial_fit row will have
            if train is not None:
                X, Y, ids, positions = X[train], Y[train], ids[train], train
            outside = ~np.isin(y_val, classes)
            if outside.any():
                raise ValueError(f"y_trusted has labels {np.unique(y_val[outside]).tolist()} "
                                 f"outside the classes {classes.tolist()}.")
            self.classes_, self.soft_input_ = classes, columns is not None
            self.__dict__.pop("label_columns_", None)
            if columns is not None:
                self.label_columns_ = columns
            self.train_positions_ = positions
            self._asked_before = 0  # the budget is per call (fit, then each partial_fit)
            self._start(X, Y, X_val, y_val, ids)
        self._run(itertools.count(), total=self._total())  # rounds until _should_stop
        self._run_completed()
        return self

    fit.__doc__ = fit.__doc__.format(trusted=trusted_doc(
        " (hard labels): CHEF's clean validation set", "; they are not cleaned",
        old="X_val, y_val, validation_mask") + "\n        " + ROW_IDS_DOC)

    def partial_fit(self, X, y, classes=None, row_ids=None, **fit_params):
        """New rows join the pool; the model follows; up to ``budget`` more questions.

        The first call (an unfitted cleaner) is :meth:`fit` (``fit_params``
        carry the trusted rows).  After that the rows ``(X, y)`` (hard or
        probabilistic labels) join the uncleaned pool with weight ``gamma``,
        the model continues from its current state over the enlarged pool
        (``update="warm_start"``: Newton from the current optimum, or more
        epochs for a network; ``"deltagrad"`` and ``"retrain"`` retrain, as
        DeltaGrad-L follows changed rows, not added ones), and rounds run again
        until this call has asked ``budget`` rows, the pool runs out, the
        oracle stops or ``target_score`` is reached.  The budget is per call:
        a stream of batches gets ``budget`` questions each, spent on the most
        harmful rows of the whole pool, old or new.  Each round ranks the whole
        pool, so its cost grows with the pool (see :ref:`partial-fit`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
        classes : array-like, default=None
            The label set, on the first call (as the ``classes`` parameter).
        {row_ids}

        Returns
        -------
        self
        """
        return self._continue_or_fit(
            "adapter_", X, y, fit_params,
            lambda: self._first_partial_fit(X, y, classes, row_ids, fit_params), row_ids=row_ids)

    partial_fit.__doc__ = partial_fit.__doc__.format(row_ids=ROW_IDS_DOC)

    def _first_partial_fit(self, X, y, classes, row_ids, fit_params):
        """``fit``, with the label set a first ``partial_fit`` call may pass."""
        if classes is not None and self.classes is not None and not np.array_equal(
                np.unique(classes), np.unique(self.classes)):
            raise ValueError(f"classes={list(classes)} differs from the classes parameter "
                             f"{list(self.classes)}.")
        self._partial_fit_classes = classes
        try:
            return self.fit(X, y, row_ids=row_ids, **fit_params)
        finally:
            self.__dict__.pop("_partial_fit_classes", None)

    def _partial_fit(self, X, y, row_ids=None):
        self._validate_params()
        self._check_setup()
        with transaction(self, shared=self._shared_state):
            ids, raw = row_ids_of(X, row_ids=row_ids), X
            X, Y = check_judged(self, X, y, soft=True)
            m = X.shape[0]
            if row_ids is None and ids.dtype != object:  # positions: after every row given
                ids = self._next_position + np.arange(m)
            self._note_raw_rows(raw, ids, reset=False)
            storage = torch.empty((), dtype=self.adapter_.dtype).numpy().dtype
            self.X_ = stack_rows([self.X_, as_dtype(X, storage)])
            self.y_ = np.concatenate([self.y_, Y])
            self.row_ids_ = np.concatenate([self.row_ids_, np.asarray(ids, dtype=object)
                                            if self.row_ids_.dtype == object else ids])
            self.train_positions_ = np.concatenate([self.train_positions_,
                                                    self._next_position + np.arange(m)])
            self._next_position += m
            self.sample_weight_ = np.concatenate([self.sample_weight_,
                                                  np.full(m, float(self.gamma))])
            for name in ("cleaned_mask_", "skipped_mask_"):
                setattr(self, name, np.concatenate([getattr(self, name), np.zeros(m, bool)]))
            self.suggested_labels_ = np.concatenate([
                self.suggested_labels_, np.full(m, self.classes_[0], dtype=self.classes_.dtype)])
            self.selector_.reset_rows()
            self.adapter_.refit(self.X_, self.y_, self.sample_weight_,
                                how="warm_start" if self.update == "warm_start" else "retrain",
                                epochs=self.refit_epochs)
            self._asked_before = self._n_asked()
            self.stopped_early_, self.stop_reason_ = False, "budget"
            self.questioner_.stopped = False
            self._score = self._val_score()
        self._run(itertools.count(), total=self._total() - self._asked_before)

    def fit_resample(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None, X_val=None,
                     y_val=None, validation_mask=None, row_ids=None):
        return self._resample(X, y, X_trusted=X_trusted, y_trusted=y_trusted,
                              trusted_mask=trusted_mask, X_val=X_val, y_val=y_val,
                              validation_mask=validation_mask, row_ids=row_ids)

    fit_resample.__doc__ = RESAMPLE_DOC.format(mask="trusted_mask",
                                               params="X_trusted, y_trusted, trusted_mask")

    # ------------------------------------------------------------------ the rounds
    # replaced, never modified in place, so a round's rollback need not copy them
    _shared_state = ("X_", "X_trusted_", "y_trusted_", "row_ids_")
    _progress_unit = "row"

    def _start(self, X, Y, X_val, y_val, row_ids):
        self.selector_ = INFLSelector(
            self.strategy, self.suggestion, self.selection, gamma=self.gamma, solver=self.solver,
            damping=self.damping, tol=self.cg_tol,
            random_state=check_random_state(self.random_state))
        self._rows_dtype = X.dtype
        adapter = self.initialize_adapter(X.shape[1], self.classes_, X=X)
        # the features in the model's precision: a round reads them a dozen times, and a
        # cast at every read would cost more than float32 arithmetic saves
        storage = torch.empty((), dtype=adapter.dtype).numpy().dtype
        X, X_val = (as_dtype(a, storage) for a in (X, X_val))
        self.X_, self.y_, self.row_ids_ = X, Y.copy(), row_ids
        self.X_trusted_, self.y_trusted_ = X_val, y_val
        self._init_label_state(X.shape[0])
        self.sample_weight_ = np.full(X.shape[0], float(self.gamma))
        adapter.fit(X, self.y_, sample_weight=self.sample_weight_)
        self.stopped_early_, self.stop_reason_ = False, "budget"
        self.suggested_labels_ = np.full(X.shape[0], self.classes_[0], dtype=self.classes_.dtype)
        self._scorer = get_scorer(self.scoring)
        self._open_questioner()
        self._score = self._val_score()

    def _adapter_dtype(self):
        # float32 rows stay float32, as scikit-learn's LogisticRegression keeps them: a
        # round reads every row a dozen times, and the user's own fit is the yardstick
        if self.dtype is None and getattr(self, "_rows_dtype", None) == np.float32:
            return "float32"
        return self.dtype

    def _total(self):
        """The rows asked by the end of this call: ``budget`` more, as the pool allows."""
        return min(self._asked_before + self.budget, self.X_.shape[0])

    def _should_stop(self):
        if self._n_asked() >= self._total():
            if self._n_asked() < self._asked_before + self.budget:
                self.stop_reason_ = "exhausted"
            return True
        if self.target_score is not None and self._score >= self.target_score:
            self.stopped_early_, self.stop_reason_ = True, "target_score"
            return True
        if self.label_source != "suggested" and self.questioner_.stopped:
            self.stopped_early_, self.stop_reason_ = True, "oracle"
            return True
        return False

    def _val_score(self):
        # the trusted rows are stored as the model takes them (a Pipeline's transformers
        # applied): scored through the adapter, not through predict(), which takes raw rows
        if self.scoring == "accuracy":  # what the scorer computes, without its checks (a
            # few ms a round, a tenth of a round on data a LogisticRegression fits in 5 steps)
            return float(np.mean(self.adapter_.predict(self.X_trusted_) == self.y_trusted_))
        return self._scorer(_CurrentModel(self.adapter_), self.X_trusted_, self.y_trusted_)

    def _select(self, step):
        t0 = time.perf_counter()
        unc = np.flatnonzero(~(self.cleaned_mask_ | self.skipped_mask_))
        b = int(min(self.batch_size, self._total() - self._n_asked(), len(unc)))
        sel = self.selector_.select(self.adapter_, self.X_, self.y_, unc, b,
                                    sample_weight=self.sample_weight_,
                                    trusted=(self.X_trusted_, self.y_trusted_))
        rows = sel.rows
        current = self.classes_[self.y_[rows].argmax(1)]
        suggested = current if sel.suggested is None else self.classes_[sel.suggested]
        if sel.evaluated is not None:
            self.suggested_labels_[sel.evaluated] = self.classes_[sel.evaluated_suggested]
        note = {"round": len(self.history_) + 1}
        if self.soft_input_:
            note.update({f"given_P({c})": self.y_[rows, j] for j, c in enumerate(self.classes_)})
        self._timing = {"time_solve": self.selector_.time_solve_, "n_exact": sel.n_exact,
                        "time_selection": time.perf_counter() - t0}
        return Question(
            rows, self.X_[rows], current, self.row_ids_[rows], suggested=suggested,
            scores=sel.keys,
            note=note, extra={"n_asked": self._n_asked(), "budget": self._total()},
            decided_by="INFL suggestion" if self.label_source == "suggested" else None,
            vote=self.label_source == "vote")

    def _apply(self, question, answer):
        done = question.positions[~answer.skipped]
        self._old = self.y_.copy(), self.sample_weight_.copy()
        self.y_[done] = soft_targets(answer.labels[~answer.skipped], self.classes_)
        self.sample_weight_[done] = 1.0

    def _update(self, step, question, answer):
        t1 = time.perf_counter()
        done = question.positions[~answer.skipped]
        old_Y, old_w = self.__dict__.pop("_old")
        if len(done):  # (every row skipped: the labels, and so the model, stay)
            # warm start, for LogisticRegression: Newton from the current optimum, each step
            # a CG solve that the Hessian cached for INFL preconditions
            self.adapter_.refit(
                self.X_, self.y_, self.sample_weight_, how=self.update, changed=done,
                previous=(old_Y, old_w), preconditioner=functools.partial(
                    self.selector_.preconditioner, self.adapter_, self.X_, self.sample_weight_,
                    self.y_),
                epochs=self.refit_epochs, j0=self.deltagrad_j0, T0=self.deltagrad_T0,
                m0=self.deltagrad_m0)
        self._timing["time_update"] = time.perf_counter() - t1
        self._score = self._val_score()

    def _record(self, step, question, answer):
        return {"round": len(self.history_) + 1, "rows": question.positions,
                "row_ids": question.row_ids, "suggested": question.suggested,
                "answers": answer.answers, "labels": answer.labels, "skipped": answer.skipped,
                "val_score": self._score, **self.__dict__.pop("_timing")}

    # ------------------------------------------------------------------ estimator API
    @dask_rows(np.float64)
    def score_samples(self, X, y):
        """INFL of each row as an uncleaned row labelled ``y``, at its suggested label.

        The change of the validation loss that relabelling the row to its
        suggestion (see ``suggestion``) would bring: lower = more harmful label.
        Dask arrays (hard labels) give a lazy dask array, computed one row
        chunk at a time (:ref:`dask-scoring`).
        """
        X, Y = check_judged(self, X, y, soft=True)
        sel, a = self.selector_, self.adapter_
        V = sel.direction(a, self.X_, self.sample_weight_, self.X_trusted_, self.y_trusted_,
                          y=self.y_)
        return sel.scores(a, X, Y, V)[0].astype(np.float64)

    @property
    def cg_iterations_(self):
        """CG iterations of the last solve of ``H⁻¹ ∇L_val`` (``None`` for ``solver="exact"``)."""
        return self.selector_.n_iter_

    @property
    def deltagrad_memory_(self):
        return int(getattr(self.estimator_, "trajectory_memory_", 0))

    def _cleaned_rows(self, n):
        done = np.flatnonzero(self.cleaned_mask_)
        labels = self.classes_[self.y_[done].argmax(1)]
        return None, dict(zip(self.train_positions_[done].tolist(), labels, strict=True))


class _CurrentModel(ClassifierMixin, BaseEstimator):
    """The cleaner's model as it is now, a classifier of rows already as it takes them,
    for scikit-learn's scorers (which need ``predict``/``predict_proba`` and ``classes_``)."""

    def __init__(self, adapter):
        self.adapter = adapter

    @property
    def classes_(self):
        return self.adapter.classes_

    def __sklearn_is_fitted__(self):
        return True

    def predict_proba(self, X):
        return self.adapter.predict_proba(X)

    def predict(self, X):
        return self.adapter.predict(X)
