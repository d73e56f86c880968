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
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from ..influence import (
    SymmetricInverse,
    full_fisher,
    lissa,
    minibatch_hvp,
    top_fisher_from_outputs,
)
from ..models import LastLayerGrads
from ..oracles import query_oracle
from ._base import (
    MODEL_CONSTRAINTS,
    AdapterMixin,
    ModelDelegateMixin,
    check_judged,
    records_table,
)

COUNTEREXAMPLES = ("top_fisher", "practical_fisher", "full_fisher", "influence", "nearest",
                   "random", "drop")


class CincerCleaner(ModelDelegateMixin, AdapterMixin, ClassifierMixin, BaseEstimator):
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
    threshold : float, default=0.2
        Margin threshold ``τ``: rows with ``μ ≥ τ`` are suspicious.
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
    lissa_depth, lissa_scale, lissa_damping, lissa_samples : LiSSA settings
        For ``counterexample="influence"`` (defaults from CINCER's reference
        code: depth 1000, one sample, no damping).
    lissa_batch_size : int, default=32
        Rows per stochastic Hessian-vector product in LiSSA.
    influence_params : {"all", "last"}, default="all"
        Parameters the ``"influence"`` strategy differentiates.
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
    classes_ : ndarray
    estimator_, adapter_ : the fitted model and its adapter.
    n_queries_ : int
        Oracle queries made (one per suspicious row).
    n_seen_ : int
        Stream rows processed.
    history_ : list of dict
        One record per query: stream position, index of the counter-example
        in ``X_``, labels before and after, margin, selection score, timing.
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
        "threshold": [Interval(Real, None, None, closed="neither")],
        "counterexample": [StrOptions(set(COUNTEREXAMPLES)), None],
        "pertinent": ["boolean"],
        "radius": [Interval(Real, 0, None, closed="left"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "metric": [str, callable],
        "refit": [StrOptions({"warm_start", "scratch"})],
        "refit_epochs": [Interval(Integral, 1, None, closed="left")],
        "fisher_damping": [Interval(Real, 0, None, closed="left")],
        "lissa_depth": [Interval(Integral, 1, None, closed="left")],
        "lissa_scale": [Interval(Real, 0, None, closed="neither")],
        "lissa_damping": [Interval(Real, 0, 1, closed="left")],
        "lissa_samples": [Interval(Integral, 1, None, closed="left")],
        "lissa_batch_size": [Interval(Integral, 1, None, closed="left")],
        "influence_params": [StrOptions({"all", "last"})],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator=None, *, oracle=None, threshold=0.2,
                 counterexample="top_fisher", pertinent=True, radius=None, n_neighbors=None,
                 metric="euclidean", refit="warm_start", refit_epochs=10, fisher_damping=0.0,
                 lissa_depth=1000, lissa_scale=10.0, lissa_damping=0.0, lissa_samples=1,
                 lissa_batch_size=32, influence_params="all", verbose=0, device=None,
                 dtype=None, random_state=None):
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
        self.lissa_depth = lissa_depth
        self.lissa_scale = lissa_scale
        self.lissa_damping = lissa_damping
        self.lissa_samples = lissa_samples
        self.lissa_batch_size = lissa_batch_size
        self.influence_params = influence_params
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
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
        if not np.all(np.isin(y, labels)):
            raise ValueError("y has labels outside `classes`.")
        self.classes_ = labels
        return self._fit(X, y)

    def _fit(self, X, y):
        self._rng = check_random_state(self.random_state)
        self.initialize_adapter(X.shape[1], self.classes_)
        self.X_ = X.copy()
        self.y_ = y.copy()
        self.history_ = []
        self.iteration_times_ = []
        self.n_queries_ = 0
        self.n_seen_ = 0
        self.adapter_.fit(self.X_, self.y_)
        self._cache = {}
        return self

    def partial_fit(self, X, y, classes=None):
        """Process rows ``(X, y)`` as a stream, one at a time and in order.

        On an unfitted cleaner the rows are the bootstrap set (as :meth:`fit`).
        Every row is validated before the first one is processed.  If the
        oracle fails, the error is raised and the cleaner keeps the rows
        processed before the failing one, exactly as they were; a
        ``KeyboardInterrupt`` likewise keeps every query already answered.

        Returns
        -------
        self
        """
        if not hasattr(self, "adapter_"):
            return self.fit(X, y, classes=classes)
        self._validate_params()
        X, y = validate_data(self, X, y, reset=False)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"Unknown labels {np.unique(y[unknown]).tolist()}; "
                             f"classes are {self.classes_.tolist()} (pass classes= to fit).")
        if self.oracle is None:
            raise ValueError("partial_fit needs an oracle to ask about suspicious rows.")
        rows = tqdm(range(len(X)), disable=not self.verbose, desc="stream")
        for i in rows:
            self._process(X[i], y[i])
        return self

    # ------------------------------------------------------------------ one stream row
    def _margin(self, X, y):
        P = self.adapter_.predict_proba(X)
        idx = np.searchsorted(self.classes_, y)
        return P.max(1) - P[np.arange(len(y)), idx], self.classes_[P.argmax(1)]

    def _process(self, x, y):
        t0 = time.perf_counter()
        margin, pred = self._margin(x[None], np.asarray([y]))
        margin, pred = float(margin[0]), pred[0]
        t1 = time.perf_counter()
        record = None
        if margin >= self.threshold:
            record = self._query(x, y, pred, margin)
        else:
            self._append(x, y)
        t2 = time.perf_counter()
        self._refit()
        t3 = time.perf_counter()
        self.n_seen_ += 1
        times = {"suspicion": t1 - t0, "selection_and_query": t2 - t1, "refit": t3 - t2}
        if record is not None:
            record["time_refit"] = t3 - t2
            self.history_.append(record)
        self.iteration_times_.append(times)

    def _append(self, x, y):
        self.X_ = np.vstack([self.X_, x[None]])
        self.y_ = np.append(self.y_, y)

    def _query(self, x, y, pred, margin):
        strategy = self.counterexample
        t0 = time.perf_counter()
        k, score = None, np.nan
        if strategy is not None:
            cand, scores = self._candidate_scores(x, y, pred)
            if len(cand):
                best = int(np.argmax(scores))
                k, score = int(cand[best]), float(scores[best])
        t_select = time.perf_counter() - t0
        with_ce = k is not None and strategy != "drop"
        Xq = np.vstack([x[None], self.X_[k][None]]) if with_ce else x[None]
        yq = np.asarray([y, self.y_[k]]) if with_ce else np.asarray([y])
        roles = ["suspicious", "counterexample"][: len(yq)]
        answers = query_oracle(self.oracle, Xq, yq, self.classes_, role=roles,
                               predicted=np.asarray([pred] * len(yq)),
                               scores=np.asarray([margin, score][: len(yq)]))
        # the answer is valid: only now is any state changed
        self.n_queries_ += 1
        record = {
            "position": self.n_seen_, "margin": margin, "predicted": pred,
            "label": y, "answer": answers[0], "counterexample": k,
            "counterexample_label": self.y_[k] if k is not None else None,
            "counterexample_answer": answers[1] if with_ce else None,
            "score": score, "dropped": False, "time_selection": t_select,
        }
        if with_ce:
            self.y_[k] = answers[1]
        if strategy == "drop" and k is not None and answers[0] == y:
            self.X_ = np.delete(self.X_, k, axis=0)
            self.y_ = np.delete(self.y_, k)
            record["dropped"] = True
        self._append(x, answers[0])
        return record

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
        xq, yq = x[None], np.asarray([y])
        if strategy in ("top_fisher", "drop", "practical_fisher"):
            g_t = a.last_layer_grads(xq, yq).materialize()[0]
            if strategy != "practical_fisher":
                g_t = self._inverse("top")(g_t)
            U1, Z = self._train_outputs()
            grads = LastLayerGrads(U1[cand], a.head.residual(Z[cand], a.encode(self.y_[cand])))
            s = grads.dot(g_t)
        elif strategy == "full_fisher":
            g_t = self._inverse("full")(a.per_example_grads(xq, yq, which="all")[0])
            s = a.per_example_grads(self.X_[cand], self.y_[cand], which="all") @ g_t
        else:  # influence, Eq. 10 with LiSSA
            which = self.influence_params
            g = a.per_example_grads(xq, yq, which=which)[0]
            hvp = minibatch_hvp(a, self.X_, self.y_, batch_size=self.lissa_batch_size,
                                which=which, random_state=self._rng)
            v = lissa(hvp, g, depth=self.lissa_depth, scale=self.lissa_scale,
                      damping=self.lissa_damping, samples=self.lissa_samples)
            if which == "last":
                s = a.last_layer_grads(self.X_[cand], self.y_[cand]).dot(v)
            else:
                s = a.per_example_grads(self.X_[cand], self.y_[cand], which="all") @ v
        return cand, (-s).detach().cpu().numpy().astype(np.float64)

    def _train_outputs(self):
        """Features (with bias column) and logits of ``X_``: one forward pass per model."""
        if "outputs" not in self._cache:
            U, Z = self.adapter_.last_layer_outputs(self.X_)
            self._cache["outputs"] = (self.adapter_._augment(U), Z)
        return self._cache["outputs"]

    def _inverse(self, which):
        """The (pseudo-)inverse Fisher over the current training set, cached per model."""
        if which not in self._cache:
            if which == "top":
                U1, Z = self._train_outputs()
                F = top_fisher_from_outputs(U1, Z, self.adapter_.head)
            else:
                F = full_fisher(self.adapter_, self.X_)
            if self.fisher_damping > 0:
                inv = SymmetricInverse(F, method="damped", damping=self.fisher_damping)
            else:
                inv = SymmetricInverse(F)
            self._cache[which] = inv
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
    def cleaning_report(self):
        """One row per query, with what was cleaned.

        Columns: ``position``, ``margin``, ``label``, ``answer``,
        ``cleaned_suspicious``, ``counterexample``, ``counterexample_label``,
        ``counterexample_answer``, ``cleaned_counterexample``, ``dropped``,
        ``score``, ``time_selection``, ``time_refit``.  A pandas DataFrame when
        pandas is installed, else a list of dicts.
        """
        check_is_fitted(self)
        rows = []
        for h in self.history_:
            r = dict(h)
            r["cleaned_suspicious"] = bool(h["answer"] != h["label"])
            r["cleaned_counterexample"] = bool(h["counterexample_answer"] is not None
                                               and h["counterexample_answer"]
                                               != h["counterexample_label"])
            rows.append(r)
        return records_table(rows)

    @property
    def n_cleaned_(self):
        """Labels changed by the oracle: suspicious rows plus counter-examples."""
        return sum(int(h["answer"] != h["label"]) + int(
            h["counterexample_answer"] is not None
            and h["counterexample_answer"] != h["counterexample_label"]) for h in self.history_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.estimator is None
        return tags
