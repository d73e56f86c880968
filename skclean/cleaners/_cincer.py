"""CINCER: interactive label cleaning with example-based explanations.

Teso, Bontempelli, Giunchiglia & Passerini (2021).  Rows arrive one at a
time.  If the model finds a row suspicious (margin test, Eq. 1) CINCER picks
a counter-example from the training set — the row that most supports the
model's suspicion (Eq. 10, with the Hessian replaced by the Fisher
information, Eq. 12) — and asks the oracle to relabel either or both
(Algorithm 1).
"""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._sparse import one_row, same_kind, stack_rows
from ..influence.counterexamples import COUNTEREXAMPLES, CounterexampleSearch, check_metric
from ..questions import row_ids_of, transaction
from ..utils import ReservoirSample, store_parameters
from ._base import (
    MODEL_CONSTRAINTS,
    RESAMPLE_DOC,
    AdapterMixin,
    ModelDelegateMixin,
)
from ._labels import as_labels, check_hard_labels, check_judged
from ._loop import ASKING_CONSTRAINTS, ROW_IDS_DOC, CleaningLoop, Question, with_journal_doc
from ._stream import StreamRowsMixin, ToleranceRefit

#: The parameters CincerCleaner hands its CounterexampleSearch under the same names.
_SEARCH_PARAMS = ("pertinent", "radius", "n_neighbors", "metric", "fisher_damping",
                  "influence_params")


@with_journal_doc
class CincerCleaner(StreamRowsMixin, CleaningLoop, ModelDelegateMixin, AdapterMixin,
                    ClassifierMixin, BaseEstimator):
    """Sequential label cleaning with influence-based counter-examples (CINCER).

    :meth:`fit` trains the model on a bootstrap set; :meth:`partial_fit`
    then processes rows as a stream, one at a time in order (Algorithm 1):

    1. compute the margin ``μ = P(ŷ|x) − P(y|x)`` of the row under the current
       model (Eq. 1); if ``μ < threshold`` add the row as it is;
    2. otherwise select the counter-example ``z_k`` from the training set,
       show both rows to the ``oracle`` and apply its answers: ``z_k`` gets
       its returned label, ``z_t`` is added with its returned label;
    3. refit the model.

    Read more in the :ref:`User Guide <cincer>`.

    Parameters
    ----------
    estimator : LogisticRegression, NeuralNetClassifier, torch.nn.Module or None
        The classifier; ``None`` uses :func:`~skclean.models.default_classifier`
        (CINCER's FC network: 64-32 ReLU, dropout 0.2, Adam).
    oracle : callable or None
        ``oracle(X_query, y_query, **context) -> labels``; needed by
        :meth:`partial_fit`.  The context carries ``role`` (``"suspicious"`` /
        ``"counterexample"``), ``predicted``, ``scores`` and ``classes``.
    threshold : float in [0, 1], default=0.2
        Margin threshold ``τ``: rows with ``μ ≥ τ`` are suspicious (the
        margin of a probability model lies in [0, 1]).
    counterexample : str or None, default="top_fisher"
        How ``z_k`` is chosen, maximising ``−g_tᵀ M⁻¹ g_k`` over the
        candidates: ``"top_fisher"`` (``M`` = the last layer's expected
        Fisher, Eq. 12), ``"practical_fisher"`` (``M = I``), ``"full_fisher"``
        (every parameter's Fisher: small models), ``"influence"`` (the
        Hessian, by LiSSA: Eq. 10), ``"nearest"`` (in input space),
        ``"random"``, ``"drop"`` (the paper's Drop CE: ask only about the
        suspicious row, drop ``z_k`` if the oracle keeps its label), or
        ``None`` (no counter-example).  See
        :class:`~skclean.influence.CounterexampleSearch`.
    pertinent : bool, default=True
        Restrict candidates to training rows whose current label equals the
        prediction for the suspicious row (Section 3.4).
    radius : float or None, default=None
        Also restrict candidates to within this distance of the suspicious row.
    n_neighbors : int or None, default=None
        Also restrict candidates to the ``n_neighbors`` closest rows.
    metric : str, default="euclidean"
        Distance for ``radius``, ``n_neighbors`` and ``"nearest"``
        (any :func:`~sklearn.metrics.pairwise_distances` metric).
    refit : {"warm_start", "scratch"}, default="warm_start"
        After each stream row: ``refit_epochs`` more epochs from the current
        weights, or the full schedule from the initial weights (the paper's
        protocol).  Convex models are solved to the estimator's ``tol``
        either way (warm-started, only when the row moved them past it: see
        ``n_refits_``).
        Chosen by ``benchmarks/cincer_refit.py`` (see the benchmarks page).
    refit_epochs : int, default=10
        Epochs per warm-start refit (networks).
    fisher_damping : float, default=0.0
        ``0`` pseudo-inverts the Fisher; ``> 0`` solves ``F + damping·I``.
    fisher_rows : int or None, default=2000
        Estimate the Fisher (Top or Full) from a uniform sample of at most
        this many training rows, kept up to date as the stream grows
        (reservoir sampling): a refresh costs the same on a long stream as on
        a short one.  ``None``: every row (exact; the cost grows).  CINCER's
        code uses 30 rows; chosen by ``benchmarks/cincer_fisher_rows.py``.
    lissa_depth, lissa_scale, lissa_damping, lissa_samples, lissa_batch_size : LiSSA
        For ``counterexample="influence"``; CINCER's code's defaults: depth
        1000, one sample, no damping (32 rows per Hessian-vector product).
    influence_params : {"all", "last"}, default="all"
        Parameters the ``"influence"`` strategy differentiates.
    bootstrap_size : float in (0, 1) or int, default=0.2
        For :meth:`fit_resample` only: the share (or number) of the first
        rows trained on as the bootstrap set; the rest are streamed.
    {journal}
    verbose : int, default=0
        Show a tqdm progress bar over the stream.
    device, dtype, random_state
        Where tensors live, their precision, and the seed for network
        training and the ``"random"`` strategy.

    Attributes
    ----------
    X_, y_ : ndarray
        The current training set (bootstrap plus accepted stream rows), with
        every correction applied.
    row_ids_ : ndarray
        The user's id of each row of ``X_``: the DataFrame index, or the
        position in the concatenation of every ``X`` passed to ``fit`` and
        ``partial_fit`` (bootstrap rows first).  Stable across drops.
    classes_ : ndarray
    estimator_, adapter_ : the fitted model and its adapter.
    n_queries_ : int
        Oracle queries made (one per suspicious row).
    n_seen_ : int
        Stream rows processed.
    n_refits_ : int
        Refits after stream rows.  An L2 ``LogisticRegression`` with
        ``refit="warm_start"`` is refitted (Newton, over every row) only once
        the rows since the last refit moved its gradient past the estimator's
        ``tol``: before that, its own warm start would stop at once.  Refits
        then come about every ``n · tol / ‖∇ℓ‖`` rows, so the cost per row
        does not grow with the stream (``benchmarks/bench_cincer_stream.py``).
        Other models refit after every row.
    history_ : list of dict
        One record per query: stream position, row ids of the suspicious row
        (``row_id``) and of the counter-example (``counterexample``), labels
        before and after (``None`` when skipped), margin, selection score,
        timing.
    iteration_times_ : list of dict
        Per stream row: seconds spent on suspicion, selection and refit.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skclean import CincerCleaner, SimulatedOracle
    >>> from skclean.datasets import load_dataset, flip_labels
    >>> X, _, y, _ = load_dataset("breast", random_state=0)
    >>> y_noisy, _ = flip_labels(y, 0.2, random_state=0)
    >>> cleaner = CincerCleaner(LogisticRegression(), oracle=SimulatedOracle(X, y))
    >>> cleaner = cleaner.fit(X[:100], y_noisy[:100]).partial_fit(X[100:200], y_noisy[100:200])
    >>> cleaner.n_queries_ > 0
    True
    """

    _parameter_constraints = {
        **MODEL_CONSTRAINTS,
        **ASKING_CONSTRAINTS,
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "counterexample": [StrOptions(set(COUNTEREXAMPLES)), None],
        "pertinent": ["boolean"],
        "radius": [Interval(Real, 0, None, closed="left"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "metric": [str, callable],
        "refit": [StrOptions({"warm_start", "scratch"})],
        "refit_epochs": [Interval(Integral, 1, None, closed="left")],
        "fisher_damping": [Interval(Real, 0, None, closed="left")],
        "fisher_rows": [Interval(Integral, 1, None, closed="left"), None],
        "lissa_depth": [Interval(Integral, 1, None, closed="left")],
        "lissa_scale": [Interval(Real, 0, None, closed="neither")],
        "lissa_damping": [Interval(Real, 0, 1, closed="left")],
        "lissa_samples": [Interval(Integral, 1, None, closed="left")],
        "lissa_batch_size": [Interval(Integral, 1, None, closed="left")],
        "influence_params": [StrOptions({"all", "last"})],
        "bootstrap_size": [Interval(Real, 0, 1, closed="neither"),
                           Interval(Integral, 2, None, closed="left")],
    }

    def __init__(self, estimator=None, *, oracle=None, threshold=0.2,
                 counterexample="top_fisher", pertinent=True, radius=None, n_neighbors=None,
                 metric="euclidean", refit="warm_start", refit_epochs=10, fisher_damping=0.0,
                 fisher_rows=2000, lissa_depth=1000, lissa_scale=10.0, lissa_damping=0.0,
                 lissa_samples=1, lissa_batch_size=32, influence_params="all", bootstrap_size=0.2,
                 journal=None, verbose=0, device=None, dtype=None, random_state=None):
        store_parameters(self, locals())

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, classes=None, row_ids=None):
        """Fit the model on the bootstrap set ``(X, y)`` and reset all records.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Possibly noisy bootstrap labels.
        classes : array-like, default=None
            The full label set, if the stream may bring classes the bootstrap
            set lacks.
        {row_ids}

        Returns
        -------
        self
        """
        with transaction(self, shared=self._shared_state):  # a failed fit leaves the last one
            ids, raw = row_ids_of(X, row_ids=row_ids), X
            X, y, self.classes_ = check_hard_labels(self, X, y, classes)
            check_metric(self.metric, X)
            self._note_raw_rows(raw, ids, reset=True)
            return self._fit(X, y, ids)

    fit.__doc__ = fit.__doc__.format(row_ids=ROW_IDS_DOC)

    def _fit(self, X, y, row_ids):
        self.search_ = CounterexampleSearch(random_state=check_random_state(self.random_state))
        self.initialize_adapter(X.shape[1], self.classes_, X=X)
        self.X_, self.y_, self.row_ids_ = X.copy(), y.copy(), row_ids
        # seeded apart from the search's: an int random_state draws the same choices as before
        self.fisher_sample_ = ReservoirSample(self.fisher_rows, X.shape[0], np.random.default_rng(
            check_random_state(self.random_state).randint(2**31)))
        self._init_label_state(X.shape[0])
        self.iteration_times_, self.n_queries_, self.n_seen_, self.n_refits_ = [], 0, 0, 0
        self._next_position = X.shape[0]  # the position the next streamed row will have
        self.adapter_.fit(self.X_, self.y_)
        self._lazy_refit = (ToleranceRefit(self.adapter_, self.X_, self.y_)
                            if self.refit == "warm_start" and ToleranceRefit.applies(self.adapter_)
                            else None)
        self._open_questioner()
        self._run_completed()
        return self

    def partial_fit(self, X, y, classes=None, row_ids=None):
        """Process rows ``(X, y)`` as a stream, one at a time and in order.

        On an unfitted cleaner the rows are the bootstrap set (as :meth:`fit`).
        Every row is validated before the first one is processed.  Each row
        is processed all or nothing: if the oracle fails, or anything raises
        (a Ctrl-C included), the cleaner is exactly as it was after the
        previous row, the error says how many rows of this call were
        processed, and every answer given stays journaled, so
        ``partial_fit(X[k:], y[k:])`` resumes as if nothing had happened.  If
        the oracle stops (end of input), ``n_seen_`` says where.

        Returns
        -------
        self
        """
        if not hasattr(self, "adapter_"):
            return self.fit(X, y, classes=classes, row_ids=row_ids)
        self._validate_params()
        ids, raw = row_ids_of(X, row_ids=row_ids), X
        X, y = check_judged(self, X, y, hint=" (pass classes= to fit)")
        X = same_kind(X, self.X_)
        if self.oracle is None:
            raise ValueError("partial_fit needs an oracle to ask about suspicious rows.")
        check_metric(self.metric, X)
        if isinstance(ids, np.ndarray) and ids.dtype != object:
            ids = self._next_position + np.arange(X.shape[0])  # positions in all rows passed
        self._note_raw_rows(raw, ids, reset=False)
        y = as_labels(y, self.classes_)
        self.questioner_.stopped = False

        def note(i, exc):
            if hasattr(exc, "add_note"):
                exc.add_note(f"CincerCleaner: {i} row(s) of this partial_fit call were "
                             f"processed and kept; resume with partial_fit(X[{i}:], y[{i}:]).")

        self._run(zip(X, y, ids, strict=True), total=X.shape[0], desc="stream", on_error=note)
        return self

    # ------------------------------------------------------------------ one stream row
    _append_only = ("history_", "iteration_times_")

    def _margin(self, X, y):
        P = self.adapter_.predict_proba(X)
        idx = np.searchsorted(self.classes_, y)
        return P.max(1) - P[np.arange(len(y)), idx], self.classes_[P.argmax(1)]

    def _select(self, row):
        """The margin test (Eq. 1); for a suspicious row, its counter-example and the question."""
        x, y, row_id = row
        t0 = time.perf_counter()
        margin, pred = self._margin(one_row(x), np.asarray([y]))
        margin, pred = float(margin[0]), pred[0]
        self._times = {"suspicion": time.perf_counter() - t0, "_t1": time.perf_counter()}
        if margin < self.threshold:
            return None
        k, score = None, np.nan
        if self.counterexample is not None:
            k, score = self._search().best(self.adapter_, self.X_, self.y_, x, y, pred,
                                           self.fisher_sample_.rows())
        with_ce = k is not None and self.counterexample != "drop"
        pos = np.asarray([-1, k] if with_ce else [-1])
        Xq = stack_rows([one_row(x), one_row(self.X_[k])]) if with_ce else one_row(x)
        given = np.asarray([y, self.y_[k]] if with_ce else [y], dtype=self.y_.dtype)
        record = {"position": self.n_seen_, "row_id": row_id, "margin": margin,
                  "predicted": pred, "label": y, "counterexample": None if k is None
                  else self.row_ids_[k], "counterexample_label": None if k is None
                  else self.y_[k], "score": score, "dropped": False,
                  "time_selection": time.perf_counter() - self._times["_t1"]}
        self._query = record, k
        return Question(pos, Xq, given, np.asarray([row_id, *self.row_ids_[pos[1:]]],
                                                   dtype=object),
                        role=np.asarray(["suspicious", "counterexample"][: len(pos)]),
                        predicted=np.asarray([pred] * len(pos)),
                        scores=np.asarray([margin, score][: len(pos)]),
                        note={"position": self.n_seen_})

    def _apply(self, question, answer):
        """Relabel the counter-example, drop it (Drop CE), append the stream row."""
        self.n_queries_ += 1
        record, k = self.__dict__.pop("_query")
        x, y = question.X[0], question.given[0]
        ok = ~answer.skipped
        record["answer"] = answer.labels[0] if ok[0] else None
        record["counterexample_answer"] = answer.labels[1] if len(ok) > 1 and ok[1] else None
        if len(ok) > 1 and ok[1]:
            self._track(k, -1)
            self.y_[k] = answer.labels[1]
            self._track(k, +1)
        if self.counterexample == "drop" and k is not None and ok[0] and answer.labels[0] == y:
            self._track(k, -1)
            self._keep_rows(np.arange(self.X_.shape[0]) != k)
            self.fisher_sample_.drop(k)
            self.search_.reset()  # positions moved
            record["dropped"] = True
        self._append(x, answer.labels[0], question.row_ids[0])
        question.positions[0] = self.X_.shape[0] - 1  # the stream row is a training row now
        self._query_record = record

    def _update(self, row, question, answer):
        """Append an unsuspicious row as it is, then refit."""
        if question is None:
            self._append(*row)
        t2 = time.perf_counter()
        self._times["selection_and_query"] = t2 - self._times.pop("_t1")
        self._refit()
        self._times["refit"] = time.perf_counter() - t2
        self.n_seen_ += 1
        self._next_position += 1
        self.iteration_times_.append(self.__dict__.pop("_times"))

    def _record(self, step, question, answer):
        refit = self.iteration_times_[-1]["refit"]
        return {**self.__dict__.pop("_query_record"), "time_refit": refit}

    def _append(self, x, y, row_id):
        self._append_row(x, y, row_id)
        if self.fisher_sample_.offer(self.X_.shape[0] - 1):
            # the Fisher's rows changed: on a long stream, for a few rows in n/fisher_rows
            self.search_.forget_curvature()
        self._track(self.X_.shape[0] - 1, +1)

    def _track(self, k, sign):
        """Row ``k`` (with its current label) joins or leaves the objective of the lazy refit."""
        lazy = getattr(self, "_lazy_refit", None)
        if lazy is not None:
            lazy.change(self.adapter_, self.X_[k], self.y_[k], sign)

    def _refit(self):
        lazy = getattr(self, "_lazy_refit", None)
        if lazy is not None and self.refit == "warm_start":  # (set_params may change it)
            # the logistic family: Newton over every row only once the rows have moved the
            # gradient past the estimator's tol (before, a warm start would stop at once)
            if lazy.due():
                # for a logistic model the Top Fisher is the loss's Hessian: the last one a
                # selection factorised preconditions Newton's CG steps
                precond = self.search_.cached_fisher_inverse()
                self.search_.reset()
                lazy.refit(self.adapter_, self.X_, self.y_, preconditioner=precond)
                self.n_refits_ += 1
            return
        self.n_refits_ += 1
        self.search_.reset()  # every cached quantity belongs to the model being replaced
        if self.refit == "scratch":
            self.adapter_.fit(self.X_, self.y_)
        else:
            self.adapter_.continue_fit(self.X_, self.y_, epochs=self.refit_epochs)
        if lazy is not None:  # refit="scratch" set after fit: the tracked sum follows
            lazy.reset(self.adapter_, self.X_, self.y_)

    # ------------------------------------------------------------------ counter-examples
    def _search(self):
        """``search_`` with the current parameters: ``set_params`` applies from the next row."""
        p = self.get_params(deep=False)
        return self.search_.set_params(
            strategy=self.counterexample, **{k: p[k] for k in _SEARCH_PARAMS},
            lissa={k.removeprefix("lissa_"): v for k, v in p.items() if k.startswith("lissa_")})

    def rank_counterexamples(self, x, y, k=None):
        """Counter-example candidates for the row ``(x, y)``, best first.

        Parameters
        ----------
        x : array-like of shape (n_features,)
        y : label
        k : int or None
            Return only the ``k`` best.

        Returns
        -------
        ndarray of int
            Indices into ``X_`` (after the pertinence and distance restrictions).
        """
        X, _ = check_judged(self, one_row(x), np.asarray([y]))
        x = X[0]
        if self.counterexample is None:
            raise ValueError("counterexample=None ranks no counter-examples.")
        pred = self._margin(one_row(x), np.asarray([y]))[1][0]
        cand, scores = self._search().scores(self.adapter_, self.X_, self.y_, x, y, pred,
                                               self.fisher_sample_.rows())
        order = cand[np.argsort(-scores, kind="stable")]
        return order if k is None else order[:k]

    # ------------------------------------------------------------------ scores
    def score_samples(self, X, y):
        """Negative margin ``−μ = P(y|x) − P(ŷ|x)`` per row: lower = more suspicious."""
        X, y = check_judged(self, X, y)
        return -self._margin(X, y)[0]

    # ------------------------------------------------------------------ records
    def fit_resample(self, X, y, classes=None, row_ids=None):
        return self._resample(X, y, classes=classes, row_ids=row_ids)

    fit_resample.__doc__ = RESAMPLE_DOC.format(mask="classes", params="classes").replace(
        "Fit, then", "Bootstrap on the first ``bootstrap_size`` rows, stream the rest, then")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.estimator is None
        return tags
