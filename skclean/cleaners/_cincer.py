"""CINCER: interactive label cleaning with example-based explanations.

Teso, Bontempelli, Giunchiglia & Passerini (2021).  Rows arrive one at a
time.  If the model finds a row suspicious (margin test, Eq. 1) CINCER picks
a counter-example from the training set — the row that most supports the
model's suspicion (Eq. 10, with the Hessian replaced by the Fisher
information, Eq. 12) — and asks the oracle to relabel either or both
(Algorithm 1).
"""

import os
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..influence import counterexample_scores, fisher_inverse, lissa_inverse_hvp
from ..models import LastLayerGrads
from ..utils import ReservoirSample, append_row
from ._base import (
    MODEL_CONSTRAINTS,
    RESAMPLE_DOC,
    AdapterMixin,
    ModelDelegateMixin,
    row_ids_of,
)
from ._labels import as_labels, check_hard_labels, check_judged
from ._loop import CleaningLoop, Question

COUNTEREXAMPLES = ("top_fisher", "practical_fisher", "full_fisher", "influence", "nearest",
                   "random", "drop")


class CincerCleaner(CleaningLoop, ModelDelegateMixin, AdapterMixin, ClassifierMixin,
                    BaseEstimator):
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
        How ``z_k`` is chosen, always maximising ``−g_tᵀ M⁻¹ g_k`` over the
        candidates (``g`` = loss gradient):

        - ``"top_fisher"``: ``M`` = expected Fisher of the last layer incl.
          bias (Eq. 12), pseudo-inverted (or damped, ``fisher_damping``);
        - ``"practical_fisher"``: ``M = I`` on the last layer;
        - ``"full_fisher"``: expected Fisher of all parameters (small models);
        - ``"influence"``: ``M`` = Hessian of the training loss, ``M⁻¹ g_t`` by
          LiSSA (Eq. 10; ``lissa_*`` parameters);
        - ``"nearest"``: the nearest candidate in input space (``metric``);
        - ``"random"``: a random candidate;
        - ``"drop"``: the paper's Drop CE baseline — select by Top Fisher, ask
          only about the suspicious row, drop ``z_k`` from the data if the
          oracle keeps the suspicious label;
        - ``None``: no counter-example (skeptical learning: ask only about the
          suspicious row).
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
        After each stream row: continue training ``refit_epochs`` epochs from
        the current weights, or retrain from the initial weights for the full
        schedule (the paper's protocol).  Convex models are solved to
        convergence either way (warm start only saves solver iterations).
        The default is chosen by ``benchmarks/cincer_refit.py`` (see the
        benchmarks page).
    refit_epochs : int, default=10
        Epochs per warm-start refit (networks).
    fisher_damping : float, default=0.0
        ``0`` pseudo-inverts the Fisher; ``> 0`` solves ``F + damping·I``.
    fisher_rows : int or None, default=2000
        Estimate the Fisher (Top or Full) from a uniform random sample of at
        most this many training rows, kept up to date as the stream grows
        (reservoir sampling, O(1) per row), so that refreshing it after each
        model update costs the same on a long stream as on a short one.
        ``None`` uses every training row (exact; the cost of each refresh
        grows with the training set).  CINCER's reference code uses 30
        random rows; the default is chosen by
        ``benchmarks/cincer_fisher_rows.py`` (see the benchmarks page).
    lissa_depth, lissa_scale, lissa_damping, lissa_samples : LiSSA settings
        For ``counterexample="influence"`` (defaults from CINCER's reference
        code: depth 1000, one sample, no damping).
    lissa_batch_size : int, default=32
        Rows per stochastic Hessian-vector product in LiSSA.
    influence_params : {"all", "last"}, default="all"
        Parameters the ``"influence"`` strategy differentiates.
    bootstrap_size : float in (0, 1) or int, default=0.2
        For :meth:`fit_resample` only: the share (or number) of the first
        rows trained on as the bootstrap set; the rest are streamed.
    journal : str, path-like or None, default=None
        SQLite file where every answer is committed as it is given, reused
        instead of asking again (see :class:`~skclean.questions.Journal`).
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
        "oracle": [callable, None],
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
        "journal": [str, os.PathLike, None],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator=None, *, oracle=None, threshold=0.2,
                 counterexample="top_fisher", pertinent=True, radius=None, n_neighbors=None,
                 metric="euclidean", refit="warm_start", refit_epochs=10, fisher_damping=0.0,
                 fisher_rows=2000, lissa_depth=1000, lissa_scale=10.0, lissa_damping=0.0,
                 lissa_samples=1, lissa_batch_size=32, influence_params="all", bootstrap_size=0.2,
                 journal=None, verbose=0, device=None, dtype=None, random_state=None):
        self.estimator = estimator
        self.oracle = oracle
        self.threshold = threshold
        self.counterexample = counterexample
        self.pertinent = pertinent
        self.radius = radius
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.refit = refit
        self.refit_epochs = refit_epochs
        self.fisher_damping = fisher_damping
        self.fisher_rows = fisher_rows
        self.lissa_depth = lissa_depth
        self.lissa_scale = lissa_scale
        self.lissa_damping = lissa_damping
        self.lissa_samples = lissa_samples
        self.lissa_batch_size = lissa_batch_size
        self.influence_params = influence_params
        self.bootstrap_size = bootstrap_size
        self.journal = journal
        self.verbose = verbose
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, classes=None):
        """Fit the model on the bootstrap set ``(X, y)`` and reset all records.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Possibly noisy bootstrap labels.
        classes : array-like, default=None
            The full label set, if the stream may bring classes the bootstrap
            set lacks.

        Returns
        -------
        self
        """
        ids = row_ids_of(X)
        X, y, labels = check_hard_labels(self, X, y, classes)
        self._check_metric(X)
        self.classes_ = labels
        return self._fit(X, y, ids)

    def _check_metric(self, X):
        if callable(self.metric):
            return
        try:
            pairwise_distances(X[:1], X[:1], metric=self.metric)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"metric={self.metric!r} is not a distance "
                             f"sklearn.metrics.pairwise_distances knows ({exc}).") from None

    def _fit(self, X, y, row_ids):
        self._rng = check_random_state(self.random_state)
        self.initialize_adapter(X.shape[1], self.classes_)
        self.X_ = X.copy()
        self.y_ = y.copy()
        self.row_ids_ = row_ids
        self._next_position = len(X)
        # seeded apart from ``_rng``: an int random_state draws the same counter-examples
        # and LiSSA batches as before the sample existed
        self.fisher_sample_ = ReservoirSample(self.fisher_rows, len(X), np.random.default_rng(
            check_random_state(self.random_state).randint(2**31)))
        self._init_label_state(len(X))
        self.iteration_times_ = []
        self.n_queries_ = 0
        self.n_seen_ = 0
        self.adapter_.fit(self.X_, self.y_)
        self._cache = {}
        self._open_questioner()
        self._run_completed()
        return self

    def partial_fit(self, X, y, classes=None):
        """Process rows ``(X, y)`` as a stream, one at a time and in order.

        On an unfitted cleaner the rows are the bootstrap set (as :meth:`fit`).
        Every row is validated before the first one is processed.  Each row
        is processed all or nothing: if the oracle fails, or anything raises
        (a Ctrl-C included), the cleaner is exactly as it was after the
        previous row, the error says how many rows of this call were
        processed, and every answer given stays journaled, so
        ``partial_fit(X[k:], y[k:])`` resumes as if nothing had happened.
        If the oracle stops the cleaning (end of input), the remaining rows
        are left unprocessed and ``n_seen_`` says where it stopped.

        Returns
        -------
        self
        """
        if not hasattr(self, "adapter_"):
            return self.fit(X, y, classes=classes)
        self._validate_params()
        ids = row_ids_of(X)
        X, y = validate_data(self, X, y, reset=False)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"Unknown labels {np.unique(y[unknown]).tolist()}; "
                             f"classes are {self.classes_.tolist()} (pass classes= to fit).")
        if self.oracle is None:
            raise ValueError("partial_fit needs an oracle to ask about suspicious rows.")
        self._check_metric(X)
        if isinstance(ids, np.ndarray) and ids.dtype != object:
            ids = self._next_position + np.arange(len(X))  # positions in all rows passed
        y = as_labels(y, self.classes_)
        self.questioner_.stopped = False

        def note(i, exc):
            if hasattr(exc, "add_note"):
                exc.add_note(f"CincerCleaner: {i} row(s) of this partial_fit call were "
                             f"processed and kept; resume with partial_fit(X[{i}:], y[{i}:]).")

        self._run(zip(X, y, ids, strict=True), total=len(X), desc="stream", on_error=note)
        return self

    # ------------------------------------------------------------------ one stream row
    #: Replaced, never modified in place (or buffers past their views' end): not copied
    #: by the rollback of a failed row.
    _shared_state = ("X_", "row_ids_", "_X_buf", "_y_buf", "_ids_buf", "_cleaned_buf",
                     "_skipped_buf")
    _append_only = ("history_", "iteration_times_")
    #: Growable storage behind the per-row arrays (which are views of it).
    _BUFFERS = {"X_": "_X_buf", "y_": "_y_buf", "row_ids_": "_ids_buf",
                "cleaned_mask_": "_cleaned_buf", "skipped_mask_": "_skipped_buf"}

    def _margin(self, X, y):
        P = self.adapter_.predict_proba(X)
        idx = np.searchsorted(self.classes_, y)
        return P.max(1) - P[np.arange(len(y)), idx], self.classes_[P.argmax(1)]

    def _select(self, row):
        """The margin test (Eq. 1); for a suspicious row, its counter-example and the question."""
        x, y, row_id = row
        t0 = time.perf_counter()
        margin, pred = self._margin(x[None], np.asarray([y]))
        margin, pred = float(margin[0]), pred[0]
        self._times = {"suspicion": time.perf_counter() - t0, "_t1": time.perf_counter()}
        if margin < self.threshold:
            return None
        strategy = self.counterexample
        k, score = None, np.nan
        if strategy is not None:
            cand, scores = self._candidate_scores(x, y, pred)
            if len(cand):
                if not np.all(np.isfinite(scores)):
                    raise FloatingPointError(
                        f"counterexample={strategy!r} gave non-finite scores for "
                        f"{int((~np.isfinite(scores)).sum())} of {len(scores)} candidates; "
                        "no counter-example is chosen from them. Scale the features, or "
                        "raise the damping.")
                best = int(np.argmax(scores))
                k, score = int(cand[best]), float(scores[best])
        with_ce = k is not None and strategy != "drop"
        pos = np.asarray([-1, k] if with_ce else [-1])
        Xq = np.vstack([x[None], self.X_[k][None]]) if with_ce else x[None]
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
            self.y_[k] = answer.labels[1]
        if self.counterexample == "drop" and k is not None and ok[0] and answer.labels[0] == y:
            keep = np.arange(len(self.X_)) != k
            for name in self._BUFFERS:
                setattr(self, name, getattr(self, name)[keep])
            self.fisher_sample_.drop(k)
            record["dropped"] = True
        self._append(x, answer.labels[0], question.row_ids[0])
        question.positions[0] = len(self.X_) - 1  # the stream row is a training row now
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
        record = self.__dict__.pop("_query_record")
        record["time_refit"] = self.iteration_times_[-1]["refit"]
        return record

    def _append(self, x, y, row_id):
        """Append one row to every per-row array, in amortised O(1) (:func:`append_row`)."""
        for name, value in (("X_", x), ("y_", y), ("row_ids_", row_id),
                            ("cleaned_mask_", False), ("skipped_mask_", False)):
            buf_name = self._BUFFERS[name]
            view, buf = append_row(getattr(self, name), getattr(self, buf_name, None), value)
            setattr(self, name, view)
            setattr(self, buf_name, buf)
        self.fisher_sample_.offer(len(self.X_) - 1)

    def __getstate__(self):
        state = super().__getstate__()
        for buf_name in self._BUFFERS.values():  # the views pickle as plain arrays
            state.pop(buf_name, None)
        return state

    def _refit(self):
        self._cache = {}  # every cached quantity belongs to the model being replaced
        if self.refit == "scratch":
            self.adapter_.fit(self.X_, self.y_)
        else:
            self.adapter_.continue_fit(self.X_, self.y_, epochs=self.refit_epochs)

    # ------------------------------------------------------------------ counter-examples
    def _candidates(self, x, pred):
        idx = np.arange(len(self.X_))
        if self.pertinent:
            idx = idx[self.y_ == pred]
        if len(idx) and (self.radius is not None or self.n_neighbors is not None
                         or self.counterexample == "nearest"):
            d = pairwise_distances(x[None], self.X_[idx], metric=self.metric)[0]
            keep = np.ones(len(idx), dtype=bool)
            if self.radius is not None:
                keep &= d <= self.radius
            if self.n_neighbors is not None:
                keep &= np.isin(np.arange(len(idx)), np.argsort(d, kind="stable")[
                    : self.n_neighbors])
            return idx[keep], d[keep]
        return idx, None

    def _candidate_scores(self, x, y, pred):
        """Candidate indices into ``X_`` and their scores (higher = better counter-example)."""
        cand, dist = self._candidates(x, pred)
        if len(cand) == 0:
            return cand, np.empty(0)
        strategy = self.counterexample
        if strategy == "nearest":
            return cand, -dist
        if strategy == "random":
            return cand, self._rng.rand(len(cand))
        a = self.adapter_
        if strategy in ("top_fisher", "drop", "practical_fisher"):
            U1, Z = self._train_outputs()
            grads = LastLayerGrads(U1[cand], a.head.residual(Z[cand], a.encode(self.y_[cand])))
            inverse = None if strategy == "practical_fisher" else self._inverse("top")
            return cand, counterexample_scores(a, x, y, inverse=inverse, candidate_grads=grads)
        if strategy == "full_fisher":
            inverse, params = self._inverse("full"), "all"
        else:  # influence, Eq. 10 with LiSSA
            params = self.influence_params

            def inverse(g):
                return lissa_inverse_hvp(
                    a, self.X_, self.y_, g, which=params, batch_size=self.lissa_batch_size,
                    depth=self.lissa_depth, scale=self.lissa_scale, damping=self.lissa_damping,
                    samples=self.lissa_samples, random_state=self._rng)
        return cand, counterexample_scores(a, x, y, self.X_[cand], self.y_[cand], params=params,
                                           inverse=inverse)

    def _train_outputs(self):
        """Features (with bias column) and logits of ``X_``: one forward pass per model."""
        if "outputs" not in self._cache:
            self._cache["outputs"] = self.adapter_.augmented_outputs(self.X_)
        return self._cache["outputs"]

    def _inverse(self, which):
        """The (pseudo-)inverse Fisher over the Fisher sample of ``X_``, cached per model."""
        if which not in self._cache:
            rows = self.fisher_sample_.rows()
            outputs = None
            if which == "top":
                U1, Z = self._train_outputs()
                if not isinstance(rows, slice):
                    rows = torch.as_tensor(rows, device=U1.device)
                outputs = U1[rows], Z[rows]
            self._cache[which] = fisher_inverse(
                self.adapter_, None if outputs else self.X_[self.fisher_sample_.rows()],
                kind=which, outputs=outputs, damping=self.fisher_damping)
        return self._cache[which]

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
        check_is_fitted(self)
        x = validate_data(self, np.asarray(x).reshape(1, -1), reset=False)[0]
        if y not in self.classes_:
            raise ValueError(f"Unknown label {y!r}.")
        if self.counterexample is None:
            raise ValueError("counterexample=None ranks no counter-examples.")
        pred = self._margin(x[None], np.asarray([y]))[1][0]
        cand, scores = self._candidate_scores(x, y, pred)
        order = cand[np.argsort(-scores, kind="stable")]
        return order if k is None else order[:k]

    # ------------------------------------------------------------------ scores
    def score_samples(self, X, y):
        """Negative margin ``−μ = P(y|x) − P(ŷ|x)``: lower = more suspicious.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X, y = check_judged(self, X, y)
        return -self._margin(X, y)[0]

    # ------------------------------------------------------------------ records
    def fit_resample(self, X, y, classes=None):
        return self._resample(X, y, classes=classes)

    fit_resample.__doc__ = RESAMPLE_DOC.format(mask="classes", params="classes").replace(
        "Fit, then", "Bootstrap on the first ``bootstrap_size`` rows, stream the rest, then")

    def _fit_for_resample(self, X, y, **fit_params):
        """Bootstrap on the first ``bootstrap_size`` rows, stream the rest."""
        n = len(y)
        k = self.bootstrap_size if isinstance(self.bootstrap_size, Integral) else int(
            np.ceil(self.bootstrap_size * n))
        if not 2 <= k < n:
            raise ValueError(f"bootstrap_size={self.bootstrap_size} leaves {k} of {n} rows to "
                             "bootstrap on: it must leave at least 2, and some rows to stream.")
        self._resample_ids = list(row_ids_of(X))
        head, tail = (X.iloc[:k], X.iloc[k:]) if hasattr(X, "iloc") else (X[:k], X[k:])
        y_head, y_tail = (y.iloc[:k], y.iloc[k:]) if hasattr(y, "iloc") else (
            np.asarray(y)[:k], np.asarray(y)[k:])
        self.fit(head, y_head, **fit_params)
        return self.partial_fit(tail, y_tail)

    def _cleaned_rows(self, n):
        pos = self.row_ids_  # positions in X, when X was an array
        if pos.dtype == object:  # DataFrame index: back to positions through the records
            lookup = {rid: i for i, rid in enumerate(self._resample_ids)}
            pos = np.asarray([lookup[r] for r in pos])
        keep = np.sort(pos) if len(pos) < n else None  # rows dropped by counterexample="drop"
        return keep, dict(zip(pos.tolist(), self.y_, strict=True))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.estimator is None
        return tags
