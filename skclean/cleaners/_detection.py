"""Offline error detection: class-based influence and the model-based detector.

Nguyen-Duc et al., "Improved Influence Function for Error Detection" (paper
004): a row's score is its mean gradient similarity to clean reference rows of
each class, minimised over classes (Algorithm 2); the model-based detector of
the companion paper (its Algorithm 2) trains on a growing clean set instead.
Scores follow scikit-learn's outlier convention: lower means more likely
mislabeled.
"""

from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..influence import (
    SymmetricInverse,
    last_layer_hessian,
    reference_means,
    score_against_means,
    self_influence,
    self_similarity,
    unit_features,
)
from ..questions import transaction
from ..utils import SeenRows, store_parameters, torch_threads
from ._base import MODEL_CONSTRAINTS, AdapterMixin, dask_rows
from ._detector_base import (
    SEEN_ROWS,
    DetectorMixin,
    check_reference,
    quantiles,
    sample_seed,
)
from ._labels import check_judged, validate_rows
from ._loss_weight import (
    combine_scores,
    fit_loss_weight,
    flag_quantiles,
    flag_rates,
    near_best,
)
from ._noise_model import (
    NOISE_MODELS,
    aligned_proba,
    can_refit,
    choose_noise_model,
    label_log_posterior,
    refit_on_posterior,
)
from ._pipeline_model import split_model
from ._trusted import renamed_trusted, trusted_doc


class Checkpoint:
    """One point of a detector's training trajectory: the parameters and what was fitted there.

    ``state`` (``None``: the trained model), the detector's ``reference_means_``,
    ``class_scale_``, ``loss_weight_``, ``score_scale_``, ``noise_matrix_`` and
    ``noise_estimator_`` as they were at it,
    and ``train_scores_``: the training rows' sorted scores there.
    """

    def __init__(self, detector, state, train_scores):
        self.state = state
        self.reference_means_ = detector.reference_means_
        self.class_scale_ = detector.class_scale_
        self.loss_weight_ = detector.loss_weight_
        self.score_scale_ = detector.score_scale_
        self.noise_matrix_ = detector.noise_matrix_
        self.noise_estimator_ = detector.noise_estimator_
        self.train_scores_ = train_scores


class ClassBasedIFDetector(DetectorMixin, AdapterMixin, BaseEstimator):
    """Error detection with class-based influence functions (GD, GC, IF, TracIn).

    Fits the model on the noisy data, then scores each row by how its
    last-layer loss gradient relates to those of a small clean reference set:
    for each class ``k`` the mean similarity ``s_k`` to the references of
    class ``k``, and the row's influence score ``min_k s_k``.  A mislabeled row
    pulls against the references of its true class, so its score is low.  By
    default the model's log-probability of the row's label is added, weighted
    by what the trusted rows show works on this data (``loss_weight``).

    Read more in the :ref:`User Guide <detection>`.

    Parameters
    ----------
    estimator : LogisticRegression, NeuralNetClassifier, torch.nn.Module or None
        The classifier; ``None`` uses :func:`~skclean.models.default_classifier`.
        Cloned unless ``prefit=True``.
    similarity : {"pgc", "gd", "gc", "if", "tracin"}, default="pgc"
        Partial cosine (``g_i^T g_j / ‖g_j‖``: only the reference gradients
        normalised, as the paper's Sec. 6 proposes), gradient dot product,
        cosine, influence ``g_i^T H^{-1} g_j`` with the last-layer Hessian of
        the training objective, or TracIn summed over ``n_checkpoints``
        checkpoints saved while training.
    class_based : bool, default=True
        ``False`` gives the paper's baseline: the mean similarity over all
        references.
    normalize_features : bool, default=True
        Scale each gradient's feature factor to unit length (``r ⊗ u/‖u‖``),
        so that a row's distance from the origin does not outweigh how wrong
        the model finds its label.
    class_scaling : {"std"} or None, default="std"
        ``"std"`` divides each class's similarities by their standard
        deviation over the training rows before the minimum over classes, so
        that classes with larger reference gradients do not decide it.

        The defaults were chosen on the hard benchmark of
        :ref:`bench-detection-hard`; the paper's exact method is
        ``similarity="gd", normalize_features=False, class_scaling=None,
        loss_weight=0``.
    loss_weight : "auto" or float >= 0, default="auto"
        Weight ``w`` of the model's log-probability of the row's label in the
        score ``influence/σ_I + w·log p(y|x)/σ_L`` (both spreads over the
        training rows); ``0`` is the influence score alone, ``inf`` the
        log-probability alone.  ``"auto"`` picks ``w`` from 0, 0.25, … 16, inf:
        the trusted rows are clean, so the weight that flags the fewest of
        them at the training scores' low quantiles (from a fifth to twice
        ``contamination``) flags the fewest clean training rows.  The
        references are scored as training rows would be: leaving each out of
        its class mean, and (not along a ``trajectory``) with its
        log-probability raised by its self-influence, as if trained on; the
        largest weight not worse than the best in 95% of bootstrap resamples
        is kept.  Where labels were flipped at random, the model's
        log-probability alone ranks best and ``"auto"`` keeps it; where the
        noise follows the classes or the model's own confusions, the model
        has learnt it and the influence is what finds it.
    noise_model : {"auto", "class", "refit"} or None, default="auto"
        What the log-probability half of the score is.  ``None``: the model's
        ``log p(ỹ|x)`` of the given label ``ỹ``.  ``"class"``: the log of the
        probability that the label is right under class-conditional noise,
        ``p(ỹ|x) N[ỹ,ỹ] / Σ_k p(k|x) N[k,ỹ]``, with ``N[k, j]`` (how often
        class ``k`` is labelled ``j``) estimated from the model's
        probabilities of the training rows and their labels; annotators who
        mix up particular classes give wrong labels the model learns, and
        this discounts them.  ``"refit"``: the same with ``p`` from a clean
        model estimated by expectation-maximisation: from ``N`` as the trusted
        rows show it, the estimator is refit (twice) on each row's posterior
        over its true class as soft targets (weighted copies of the row), and
        ``N`` re-estimated from it; for
        scikit-learn classifiers with ``predict_proba`` whose ``fit`` takes
        ``sample_weight``, scored at the trained model (not along a
        ``trajectory``); it costs a few fits of the model (each continues
        from the last where the estimator has ``warm_start``).  ``"auto"``:
        the trusted rows choose among the plain log-probability, ``"class"``
        and, where the model can be refit, ``"refit"``: the plain
        log-probability unless it flags more trusted rows at the training
        scores' low quantiles than the best in 95% of bootstrap resamples of
        them (uniform noise calls for it), else the one that flags the
        fewest; a refit that predicts the trusted labels worse than the
        fitted model has run away (small data) and is not a candidate.
        Unused when ``loss_weight=0``.  See :ref:`noise_model <noise-model>`.
    contamination : float in (0, 0.5], default=0.1
        Share of training rows flagged by :meth:`predict` (sets ``offset_``).
    n_reference_per_class : int or None, default=None
        Use at most this many reference rows per class (drawn with
        ``random_state``); ``None`` uses them all.
    damping : float, default=1e-3
        Added to the Hessian's diagonal for ``similarity="if"``.
    trajectory : "auto" or bool, default="auto"
        Score with the model at ``n_checkpoints`` evenly spaced points of its
        training, the last being the trained model, rather than with the
        trained model alone.  A network trained long enough learns the wrong
        labels too, and its final scores lose them; early in training it has
        seen every row but not yet learnt each one's label, and earlier still
        it has learnt nothing.  The trusted rows tell these apart: they are
        clean, so a checkpoint that ranks well seldom flags them, and one
        that has learnt nothing or learnt every label flags them as often as
        any row.  The checkpoints they cannot tell from the best (in 95% of
        bootstrap resamples, as for ``loss_weight``) are kept, and a row's
        score is the mean of its score's quantile among the training rows at
        each (a training-dynamics score, as the area under the margin of
        Pleiss et al. 2020).  ``"auto"`` uses it for
        models trained in epochs (skorch and torch networks,
        ``MLPClassifier`` with ``solver="adam"`` or ``"sgd"``) and not for the
        logistic family, whose optimum is what the papers' influence is
        taken at; never with ``prefit=True`` or TracIn (which sums over
        checkpoints itself).  An ``MLPClassifier`` is then trained
        ``max_iter`` epochs of its own ``partial_fit`` (no stop at ``tol``),
        as for TracIn.  See :ref:`memorising-networks`.
    n_checkpoints : int, default=5
        Checkpoints for ``similarity="tracin"`` and for ``trajectory``.
    prefit : bool, default=False
        Use ``estimator`` as already trained on ``(X, y)`` (no cloning, no fit).
        Not available with TracIn or ``trajectory=True``, which need the
        training trajectory.
    chunk_size : int, default=65536
        Rows scored per GEMM block; bounds memory.
    n_jobs : int or None, default=None
        Threads torch may use while scoring (``None`` leaves its setting).
    device : str or None, default=None
        ``"cpu"``, ``"cuda"``…; ``None`` keeps the estimator's own.
    dtype : {"float32", "float64"} or None, default=None
        Precision of the gradients and scores.  ``None``: float32, which
        halves the memory traffic and ranks rows as float64 does (Spearman
        above 0.9999 in ``benchmarks/bench_detection_scoring.py``); with
        ``similarity="if"`` the adapter's own default (float64 for logistic
        regression), because the damped Hessian inverse amplifies rounding.
    random_state : int, RandomState or None, default=None
        Seeds network training and reference sub-sampling.

    Attributes
    ----------
    estimator_ : object
        The fitted model.
    adapter_ : ModelAdapter
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    reference_counts_ : ndarray of shape (n_classes,)
        Reference rows used per class.
    class_scale_ : ndarray of shape (n_classes,) or None
        The per-class divisors of ``class_scaling="std"``.
    loss_weight_ : float
        The weight in use (``loss_weight``, or the one ``"auto"`` chose).
    loss_weight_rates_ : ndarray of shape (9,) or None
        With ``"auto"``: for each weight tried, how often the trusted rows
        are flagged relative to the training rows (lower is better).
    score_scale_ : ndarray of shape (2,) or None
        ``(σ_I, σ_L)``; ``None`` when ``loss_weight=0``.
    noise_model_ : {"class", "refit"} or None
        The noise model in use (``noise_model``, or the one ``"auto"`` chose).
    noise_matrix_ : ndarray of shape (n_classes, n_classes) or None
        The estimated ``N[k, j]`` in use (rows: the true classes, columns:
        the given labels), or ``None`` when the plain log-probability is.
    noise_estimator_ : classifier or None
        With ``noise_model_="refit"``: the model refit on the posteriors.
    noise_model_rates_ : ndarray of shape (3,) or None
        With ``noise_model="auto"``: how often the plain log-probability,
        ``"class"`` and ``"refit"`` flag the trusted rows relative to the
        training rows (lower is better); NaN for ``"refit"`` where it was not
        a candidate.
    reference_means_ : list of (float, object, tensor)
        Per checkpoint (one without TracIn): its weight, its parameters
        (``None`` for the final model) and the per-class mean reference
        gradients ``(n_classes, K, d')`` rows are scored against.
    trajectory_ : list of Checkpoint or None
        With ``trajectory``: per checkpoint kept, its parameters (``state``,
        ``None`` for the trained model) and the calibration above as fitted
        there (``reference_means_``, ``class_scale_``, ``loss_weight_``,
        ``score_scale_``), with the training rows' sorted scores
        (``train_scores_``) that turn a score into its quantile.  The
        attributes above are the trained model's.
    trajectory_rates_ : ndarray of shape (n_checkpoints,) or None
        With ``trajectory``: at every checkpoint, how often the trusted rows
        are flagged relative to the training rows (lower is better; 1 is a
        ranking blind to the labels).  Rising towards the end: the model
        learnt the wrong labels.
    offset_ : float
        Scores below it are flagged.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skclean import ClassBasedIFDetector
    >>> from skclean.datasets import load_dataset, flip_labels
    >>> X, X_trusted, y, y_trusted = load_dataset("breast", test_size=0.2, random_state=0)
    >>> y_noisy, flipped = flip_labels(y, 0.1, random_state=0)
    >>> det = ClassBasedIFDetector(LogisticRegression(), contamination=0.1)
    >>> flags = det.fit_predict(X, y_noisy, X_trusted=X_trusted, y_trusted=y_trusted)
    >>> bool((flipped[flags == -1]).mean() > 0.5)
    True
    """

    _parameter_constraints = {
        **MODEL_CONSTRAINTS,
        "similarity": [StrOptions({"gd", "gc", "pgc", "if", "tracin"})],
        "class_based": ["boolean"],
        "normalize_features": ["boolean"],
        "class_scaling": [StrOptions({"std"}), None],
        "loss_weight": [StrOptions({"auto"}), Interval(Real, 0, None, closed="both")],
        "noise_model": [StrOptions({m for m in NOISE_MODELS if m}), None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "n_reference_per_class": [Interval(Integral, 1, None, closed="left"), None],
        "damping": [Interval(Real, 0, None, closed="left")],
        "trajectory": [StrOptions({"auto"}), "boolean"],
        "n_checkpoints": [Interval(Integral, 1, None, closed="left")],
        "prefit": ["boolean"],
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, estimator=None, *, similarity="pgc", class_based=True,
                 normalize_features=True, class_scaling="std", loss_weight="auto",
                 noise_model="auto", contamination=0.1,
                 n_reference_per_class=None, damping=1e-3, trajectory="auto", n_checkpoints=5,
                 prefit=False,
                 chunk_size=65536, n_jobs=None, device=None, dtype=None, random_state=None):
        store_parameters(self, locals())

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_trusted=None, y_trusted=None, trusted_mask=None, X_ref=None,
            y_ref=None, reference_mask=None, y_given=None):
        """Fit the model on noisy ``(X, y)`` and summarise the trusted rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Possibly wrong labels.
        {trusted}
        y_given : array-like of shape (n_samples,), default=None
            The labels as first given, where ``y`` holds an oracle's answers
            for some rows (the rows where the two differ; a
            :class:`ReviewCleaner` passes them).  ``noise_model="refit"``
            keeps those rows' answers as their true class, counts their
            (answer, given) pairs in ``N`` (the most direct evidence of which
            labels the annotators confuse) and refits with the trusted rows
            in, as rows of their own class.  Unused otherwise.

        Returns
        -------
        self
        """
        trusted = renamed_trusted(self, X_trusted, y_trusted, trusted_mask, X_ref=X_ref,
                                  y_ref=y_ref, reference_mask=reference_mask)
        # all or nothing: a failure leaves the previous fitted state whole
        with transaction(self):
            X, y = validate_rows(self, X, y)
            if y_given is not None:
                y_given = np.asarray(y_given)
                if y_given.shape != y.shape:
                    raise ValueError(f"y_given must hold one label per row of X: expected "
                                     f"shape {y.shape}, got {y_given.shape}.")
            return self._fit(X, y, *check_reference(X, y, *trusted, estimator=self),
                             y_given=y_given)

    fit.__doc__ = fit.__doc__.format(trusted=trusted_doc(
        ": the paper's reference set", "; they are scored with the other rows",
        old="X_ref, y_ref, reference_mask"))

    def _fit(self, X, y, X_ref, y_ref, y_given=None):
        if self.prefit and self.similarity == "tracin":
            raise ValueError("similarity='tracin' needs the training trajectory: use prefit=False.")
        if self.trajectory is True and (self.prefit or self.similarity == "tracin"):
            raise ValueError("trajectory=True scores along the training the detector runs: not "
                             "with prefit=True, nor with similarity='tracin' (which sums over "
                             "checkpoints itself).")
        if (self.noise_model == "refit" and self.loss_weight != 0
                and not can_refit(split_model(self.estimator)[1])):
            raise ValueError("noise_model='refit' refits the estimator with sample weights: it "
                             "needs a scikit-learn classifier with predict_proba whose fit "
                             "takes sample_weight (use 'class' or 'auto' with a network).")
        rng = check_random_state(self.random_state)
        self.classes_ = np.unique(np.concatenate([np.unique(y), np.unique(y_ref)]))
        answered = self._answered_rows(y, y_given)
        X_ref, y_ref = self._subsample(X_ref, y_ref, rng)
        adapter = self.initialize_adapter(X.shape[1], self.classes_,
                                          clone_estimator=not self.prefit, X=X)
        counts = np.bincount(np.searchsorted(self.classes_, y_ref), minlength=len(self.classes_))
        if self.class_based and np.any(counts == 0):  # checked before any training
            missing = self.classes_[counts == 0].tolist()
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise ValueError(f"The trusted rows have no rows of class(es) {missing[:10]}{more}; "
                             "the class-based score needs references for every class.")
        if self.noise_model == "refit" and self._uses_trajectory(adapter):
            raise ValueError("noise_model='refit' refits the estimator once, at the trained "
                             "model: not with trajectory scoring (pass trajectory=False).")
        self.reference_counts_ = counts
        self.X_trusted_, self.y_trusted_ = X_ref, y_ref
        self.seen_ = SeenRows(X, y, capacity=SEEN_ROWS, random_state=sample_seed(self, rng))
        checkpoints, states = None, None
        if self.prefit:
            if adapter.classes_ is None:
                raise ValueError("prefit=True needs an estimator that is already fitted.")
            if adapter.n_features is not None and adapter.n_features != X.shape[1]:
                raise ValueError(f"X has {X.shape[1]} features, but the prefit estimator "
                                 f"was trained on {adapter.n_features}.")
        elif self.similarity == "tracin":
            checkpoints = adapter.fit_with_checkpoints(X, y, self.n_checkpoints)
        elif self._uses_trajectory(adapter):
            saved = adapter.fit_with_checkpoints(X, y, self.n_checkpoints)
            # the last point is the trained model itself, wherever the spacing ended
            states = [state for _, state in saved[:-1]] + [None]
        else:
            adapter.fit(X, y)
        groups = torch.as_tensor(np.searchsorted(self.classes_, y_ref), device=adapter.device)
        with torch_threads(self.n_jobs):
            self.trajectory_ = self.trajectory_rates_ = None
            if states is None:
                train, _ = self._calibrate(X, y, X_ref, y_ref, groups, checkpoints, rng,
                                           answered=answered)
            else:
                train = self._fit_trajectory(X, y, X_ref, y_ref, groups, states, rng)
            self._set_offset(train)
        return self

    def _fit_trajectory(self, X, y, X_ref, y_ref, groups, states, rng):
        """Calibrate at every checkpoint; keep those whose trusted rows say they rank as
        well as the best; return the training rows' mean quantile over them."""
        points, raws, rates = [], [], []
        quantile_levels = flag_quantiles(self.contamination)
        for state in states:  # self's calibration ends as the trained model's
            with self.adapter_.at_checkpoint(state) if state is not None else nullcontext():
                raw, ref = self._calibrate(X, y, X_ref, y_ref, groups, None, rng,
                                           want_ref=True)
            points.append(Checkpoint(self, state, np.sort(raw)))
            raws.append(raw)
            rates.append(flag_rates(raw, ref, quantile_levels))
        # an undertrained checkpoint ranks at random and so does one that has learnt the
        # wrong labels: either flags clean trusted rows as often as any other
        rates = np.asarray(rates)
        keep = near_best(rates, rng)
        self.trajectory_rates_ = rates.mean(1)
        self.trajectory_ = [p for p, k in zip(points, keep, strict=True) if k]
        return np.mean([quantiles(p.train_scores_, raw)
                        for p, raw, k in zip(points, raws, keep, strict=True) if k], axis=0)

    def _uses_trajectory(self, adapter):
        if self.trajectory == "auto":
            return (adapter.trains_in_epochs and not self.prefit
                    and self.similarity != "tracin")
        return self.trajectory

    def _calibrate(self, X, y, X_ref, y_ref, groups, checkpoints, rng, want_ref=False,
                   answered=None):
        """Reference means, class scales and loss weight at the model as it stands (or
        summed over TracIn's ``checkpoints``); return the training rows' scores and, with
        ``want_ref``, the trusted rows' (each left out of its class mean)."""
        adapter = self.adapter_
        self.reference_means_, own = [], None
        for eta, state in checkpoints or [(1.0, None)]:
            with adapter.at_checkpoint(state) if state is not None else nullcontext():
                M, o = self._reference_means(X, y, X_ref, y_ref, groups)
            self.reference_means_.append((eta, state, M))
            own = eta * o if own is None else own + eta * o
        per_class = self._per_class(X, y)
        self.class_scale_ = None
        if self.class_based and self.class_scaling == "std":
            std = per_class.std(0)
            # a class whose similarities do not vary keeps scale 1 (no division by 0)
            std = torch.where(std > 0, std, torch.ones_like(std))
            self.class_scale_ = std.cpu().numpy().astype(np.float64)
        influence = self._reduce(per_class)
        return self._fit_loss_weight(X, y, X_ref, y_ref, groups, influence, own, rng,
                                     want_ref, answered)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Continue with new rows ``(X, y)``: the model learns them, the references follow.

        The first call (an unfitted detector) is :meth:`fit` (``fit_params``
        carry the trusted rows).  After that the model continues from its
        current state on the new rows only (see :ref:`partial-fit`), the trusted
        rows' gradients are taken again at the new model, and the calibration
        of :meth:`fit` (``class_scale_``, ``loss_weight_``, ``offset_``) is
        kept.  Score the new rows with :meth:`score_samples` to audit them.
        The cost does not grow with the rows seen before.

        ``classes`` (scikit-learn's ``partial_fit`` argument) is checked against
        the label set the first call learns.

        Returns
        -------
        self
        """
        return self._continue_or_fit("reference_means_", X, y, fit_params,
                                     lambda: self.fit(X, y, **fit_params), classes=classes)

    def _partial_fit(self, X, y):
        if self.similarity == "tracin":
            raise ValueError("similarity='tracin' sums over the training trajectory, which new "
                             "rows would change: refit instead of partial_fit.")
        X, y = check_judged(self, X, y)
        with transaction(self), torch_threads(self.n_jobs):
            self.adapter_.partial_fit(X, y, seen=self.seen_)
            self.seen_.add(X, y)
            groups = torch.as_tensor(np.searchsorted(self.classes_, self.y_trusted_),
                                     device=self.adapter_.device)
            # the Hessian of similarity="if" from the sample of every row seen
            M, _ = self._reference_means(self.seen_.X, self.seen_.y, self.X_trusted_,
                                         self.y_trusted_, groups)
            self.reference_means_ = [(1.0, None, M)]
            if self.trajectory_ and self.trajectory_[-1].state is None:
                # the trained model's point moves with it; the earlier checkpoints stay (for
                # new rows they are models that never saw them)
                raw = self._score_at(self, self.seen_.X, self.seen_.y)
                self.trajectory_[-1] = Checkpoint(self, None, np.sort(raw))

    def _fit_loss_weight(self, X, y, X_ref, y_ref, groups, influence, own, rng, want_ref,
                         answered=None):
        """Fix ``loss_weight_`` and the two halves' scales; return the training scores (and
        the trusted rows' with ``want_ref``)."""
        fitted, self.noise_model_rates_ = None, None
        if self.loss_weight != 0:
            fitted, self.noise_model_rates_ = choose_noise_model(
                self.noise_model, self._proba(X, y), lambda est: self._proba(X_ref, y_ref, est),
                self.contamination, rng, refit=self._noise_refit(X, X_ref, y_ref, answered))
        self.noise_model_, self.noise_matrix_, self.noise_estimator_ = (
            (None, None, None) if fitted is None
            else (fitted.kind, fitted.matrix, fitted.estimator))
        half = self._log_proba if self.loss_weight != 0 else (lambda X, y, point: None)
        train = (influence, half(X, y, self))

        def ref():
            # the trusted rows as if they were training rows: out of their own class means
            # (the influence), and as if trained on (the log-probability: a model gives the
            # rows it fitted a higher one than rows it never saw, by their self-influence;
            # on 300 rows enough to make the log-probability look worse than it ranks).
            # Not along a trajectory: there, how much a checkpoint has memorised is the
            # signal that sets it apart.  With a noise model the shift of log p(ỹ|x), the
            # posterior's leading term, stands for the posterior's (first order, the
            # fitted model's Hessian also for a refit's).
            log_proba = half(X_ref, y_ref, self)
            if log_proba is not None and not self._uses_trajectory(self.adapter_):
                shift = self_influence(self.adapter_, X, y, X_ref, y_ref)
                log_proba = log_proba if shift is None else log_proba + shift
            return self._loo_reference_scores(X_ref, y_ref, groups, own), log_proba

        (self.loss_weight_, self.loss_weight_rates_, self.score_scale_, scores,
         ref) = fit_loss_weight(self.loss_weight, train, ref, self.contamination, rng,
                                want_ref=want_ref)
        return scores, ref

    def _answered_rows(self, y, y_given):
        """``(rows, given labels as indices)`` of the rows whose label ``y_given`` says was
        answered (changed), or ``None``."""
        if y_given is None:
            return None
        unknown = ~np.isin(y_given, self.classes_)
        if unknown.any():
            raise ValueError(f"y_given holds labels that are not classes of y or y_trusted: "
                             f"{np.unique(y_given[unknown])[:10].tolist()}.")
        rows = np.flatnonzero(y_given != y)
        return rows, np.searchsorted(self.classes_, y_given[rows])

    def _noise_refit(self, X, X_ref, y_ref, answered):
        """``refit(proba, y, matrix)`` for ``noise_model="refit"``, or ``None`` where the
        estimator cannot be refit with sample weights (networks)."""
        estimator = split_model(self.estimator)[1]  # X has been through a Pipeline's steps
        # scored along its training, a model would be refit at every checkpoint
        if (self.noise_model not in ("auto", "refit") or not can_refit(estimator)
                or self._uses_trajectory(self.adapter_)):
            return None
        # with answers, the verified rows (trusted and answered) anchor the clean model; not
        # without: the trusted rows would then be in-sample for the refit and out of sample
        # for the plain model, and the choice of noise model they make would lean to the refit
        anchors = None
        if answered is not None and len(answered[0]):
            anchors = (X_ref, np.searchsorted(self.classes_, y_ref))

        def refit(proba, y, matrix):
            known = None
            if anchors is not None:  # the rows' answers are their class; y, as given
                rows, given = answered
                known, y = (rows, y[rows]), y.copy()
                y[rows] = given
            return refit_on_posterior(estimator, X, y, proba, self.classes_, matrix,
                                      init=self.adapter_.model, anchors=anchors, known=known)

        return refit

    def _loo_reference_scores(self, X_ref, y_ref, groups, own):
        """Influence scores of the references, each left out of its own class mean."""
        per_class = self._per_class(X_ref, y_ref)
        counts = torch.as_tensor(self.reference_counts_, dtype=per_class.dtype,
                                 device=per_class.device)
        own = own.to(per_class.dtype)
        if not self.class_based:
            # the plain score is the mean over all references
            n = counts.sum()
            total = self._reduce(per_class)
            return (n.item() * total - own.cpu().numpy()) / max(n.item() - 1, 1)
        rows = torch.arange(len(groups), device=per_class.device)
        n = counts[groups]
        mine = per_class[rows, groups]
        # a class with a single reference has no mean without it: keep its own term
        per_class[rows, groups] = torch.where(n > 1, (n * mine - own) / (n - 1).clamp_min(1),
                                              mine)
        return self._reduce(per_class)

    def _log_proba(self, X, y, point):
        """The log-probability half of the score: minus each row's training loss, or with
        ``point``'s noise model the log-probability that its label is right."""
        if point.noise_matrix_ is not None:
            return label_log_posterior(*self._proba(X, y, point.noise_estimator_),
                                       point.noise_matrix_)
        return self._head_outputs(X, y, lambda head, Z, t: -head.loss(Z, t))

    def _proba(self, X, y, estimator=None):
        """``(class probabilities, label indices)`` of rows ``X, y``: the model's, or
        ``estimator``'s (the refit of ``noise_model="refit"``)."""
        if estimator is None:
            P = self._head_outputs(X, y, lambda head, Z, t: head.proba(Z))
        else:
            P = aligned_proba(estimator, X, self.classes_)
        return P, self.adapter_.encode(y).cpu().numpy()

    def _head_outputs(self, X, y, fn):
        adapter = self.adapter_
        parts = []
        with torch.no_grad():
            for s in range(0, X.shape[0], self.chunk_size):
                _, Z = adapter.last_layer_outputs(X[s : s + self.chunk_size])
                parts.append(fn(adapter.head, Z, adapter.encode(y[s : s + self.chunk_size])))
        return torch.cat(parts).cpu().numpy().astype(np.float64)

    def _combine(self, influence, X, y, point):
        if point.loss_weight_ == 0:
            return influence
        return combine_scores(influence, self._log_proba(X, y, point), point.loss_weight_,
                              point.score_scale_)

    def _adapter_dtype(self):
        if self.dtype is None and self.similarity != "if":
            return "float32"
        return self.dtype

    def _subsample(self, X_ref, y_ref, rng):
        m = self.n_reference_per_class
        if m is None:
            return X_ref, y_ref
        keep = np.concatenate([
            rng.permutation(np.flatnonzero(y_ref == c))[:m] for c in np.unique(y_ref)
        ])
        keep.sort()
        return X_ref[keep], y_ref[keep]

    def _reference_means(self, X, y, X_ref, y_ref, groups):
        adapter = self.adapter_
        ref = self._grads(X_ref, y_ref)
        kind = {"tracin": "gd"}.get(self.similarity, self.similarity)
        inverse = None
        if kind == "if":
            H = last_layer_hessian(adapter, X, y=y)
            inverse = SymmetricInverse(H, method="damped", damping=self.damping)
        M = reference_means(ref, groups, len(self.classes_), kind=kind, inverse=inverse)
        return M, self_similarity(ref, kind=kind, inverse=inverse)

    def _grads(self, X, y):
        grads = self.adapter_.last_layer_grads(X, y)
        return unit_features(grads) if self.normalize_features else grads

    def _score(self, X, y):
        if not self.trajectory_:
            return self._score_at(self, X, y)
        total = 0.0
        for point in self.trajectory_:
            state = point.state
            with self.adapter_.at_checkpoint(state) if state is not None else nullcontext():
                total = total + quantiles(point.train_scores_, self._score_at(point, X, y))
        return total / len(self.trajectory_)

    def _score_at(self, point, X, y):
        """The score with ``point``'s calibration (``self``, or a trajectory checkpoint's) at
        the model as it stands."""
        return self._combine(self._reduce(self._per_class(X, y, point), point), X, y, point)

    def _per_class(self, X, y, point=None):
        """Similarity of every row to each class's references, summed over checkpoints."""
        adapter = self.adapter_
        kind = {"tracin": "gd"}.get(self.similarity, self.similarity)
        total = None
        for eta, state, M in (point or self).reference_means_:
            if state is None:
                per_class = self._class_scores(X, y, M, kind)
            else:
                with adapter.at_checkpoint(state):
                    per_class = self._class_scores(X, y, M, kind)
            total = eta * per_class if total is None else total + eta * per_class
        return total

    def _reduce(self, total, point=None):
        """The row scores from the per-class similarities: min over classes, or the mean."""
        if self.class_based:
            scale = getattr(point or self, "class_scale_", None)
            if scale is not None:
                total = total / torch.as_tensor(scale, dtype=total.dtype, device=total.device)
            return total.min(1).values.cpu().numpy().astype(np.float64)
        # mean over all references = class means weighted by reference counts
        w = torch.as_tensor(self.reference_counts_ / self.reference_counts_.sum(),
                            dtype=total.dtype, device=total.device)
        return (total @ w).cpu().numpy().astype(np.float64)

    def _class_scores(self, X, y, M, kind):
        parts = []
        for s in range(0, X.shape[0], self.chunk_size):
            grads = self._grads(X[s : s + self.chunk_size], y[s : s + self.chunk_size])
            parts.append(score_against_means(grads, M, kind=kind, chunk_size=self.chunk_size))
        return torch.cat(parts)

    @dask_rows(np.float64)
    def score_samples(self, X, y):
        """Class-based influence score of each row; lower = more likely mislabeled.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,)
            The labels to judge.

        Returns
        -------
        ndarray of shape (n_samples,)
            A lazy dask array chunked like ``X``'s rows when ``X`` is a dask
            array (:ref:`dask-scoring`).
        """
        X, y = check_judged(self, X, y)
        with torch_threads(self.n_jobs):
            return self._score(X, y)
