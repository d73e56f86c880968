"""Adapter for the logistic family: scikit-learn's ``LogisticRegression`` (binary and
multinomial), ``LogisticRegressionCV`` (its search run once), ``SGDClassifier`` with
the log loss (one-vs-rest), and skclean's SGD-trained ``SoftmaxRegression``."""

import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV, SGDClassifier
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from .._linalg import PRECONDITION_MAX_PARAMS, curvature_matvec, sampled_hessian_inverse
from .._sparse import as_dtype, is_sparse
from ._base import ModelAdapter
from ._heads import model_curvature_head
from ._newton import AddedRowsObjective, LinearObjective, newton_solve
from ._softmax import SoftmaxRegression


def _expand_soft(X, Y, sample_weight, classes):
    """Rows with probabilistic labels as C weighted hard-label copies.

    ``Σ_c p_c ℓ(x, c)`` is the soft-label cross-entropy, so a solver for
    weighted hard labels minimises exactly the soft-label objective.
    """
    n, C = Y.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    W = (w[:, None] * Y).ravel()
    keep = W > 0
    rows = np.repeat(np.arange(n), C)[keep]  # by row index: works for sparse X too
    return X[rows], np.tile(classes, n)[keep], W[keep]


#: The models this adapter wraps.
LOGISTIC_FAMILY = (LogisticRegression, SGDClassifier, SoftmaxRegression)


def _chosen_model(cv):
    """A fitted ``LogisticRegressionCV`` as the ``LogisticRegression`` it chose: the same
    settings at the selected ``C``, its coefficients (refit on every row) kept."""
    lr = LogisticRegression(C=float(np.ravel(cv.C_)[0]), fit_intercept=cv.fit_intercept,
                            intercept_scaling=cv.intercept_scaling, tol=cv.tol,
                            max_iter=cv.max_iter, solver=cv.solver,
                            class_weight=cv.class_weight, random_state=cv.random_state)
    for name in ("classes_", "coef_", "intercept_", "n_iter_", "n_features_in_"):
        setattr(lr, name, getattr(cv, name))
    if hasattr(cv, "feature_names_in_"):
        lr.feature_names_in_ = cv.feature_names_in_
    return lr


class LogisticRegressionAdapter(ModelAdapter):
    """Wrap a (cloned) model of the logistic family.

    * :class:`~sklearn.linear_model.LogisticRegression`: see below.
    * :class:`~sklearn.linear_model.LogisticRegressionCV`: its cross-validated
      search for ``C`` runs once, in the first :meth:`fit` (on the most probable
      label of probabilistic rows); from then on the adapter holds the
      ``LogisticRegression`` at the chosen ``C`` (``cv_estimator_`` keeps the
      search), so refits never search again.
    * :class:`~sklearn.linear_model.SGDClassifier` with ``loss="log_loss"``:
      the objective ``1/n Σ s_i ℓ_i + alpha/2 ‖w‖²`` (``penalty="l2"``; ``None``:
      no term), so ``l2 = alpha`` (the ``LogisticRegression`` equivalent is
      ``C = 1 / (alpha · n)``); binary problems have one sigmoid logit, more
      classes one per class, one-vs-rest (:class:`~skclean.models.OneVsRestHead`);
      warm starts continue with its own ``partial_fit``.  Influence is taken at
      the coefficients SGD stopped at.

    The model is its own last layer: features are the inputs, the logits are
    ``X @ coef_.T + intercept_``.  Binary problems keep scikit-learn's single
    sigmoid logit.  scikit-learn minimises ``C Σ s_i ℓ_i + ½‖w‖²`` (the
    intercept is not penalised); divided by ``n`` that is the adapter's
    objective with ``l2 = 1 / (C n)``, so influence computed here matches what
    leave-one-out retraining of the scikit-learn model does.

    ``class_weight`` (a dict, or ``"balanced"``, fixed from the labels of the
    first fit) weighs each row's loss by its label's weight, as scikit-learn
    does; the influence is taken of that weighted objective
    (:class:`~skclean.models.ClassWeightedHead`).
    """

    penalise_bias = False
    _whole_model_is_last_layer = True

    def __init__(self, estimator, *, device="cpu", dtype=torch.float64):
        if not isinstance(estimator, LOGISTIC_FAMILY):
            raise TypeError("Expected a LogisticRegression, LogisticRegressionCV, "
                            f"SGDClassifier or SoftmaxRegression, got {type(estimator).__name__}.")
        self.cv_estimator_ = None
        if isinstance(estimator, LogisticRegressionCV):
            self.cv_estimator_, estimator = estimator, None
        self.estimator = estimator
        self.device = torch.device(device)
        self.dtype = dtype
        self._check_supported()
        try:
            check_is_fitted(self.cv_estimator_ if estimator is None else estimator)
        except Exception:
            return
        if estimator is None:  # a LogisticRegressionCV fitted already (prefit)
            self.estimator = _chosen_model(self.cv_estimator_)
        self._sync(n_rows=None)

    def _check_supported(self):
        est = self.cv_estimator_ if self.estimator is None else self.estimator
        if isinstance(est, SoftmaxRegression):
            return
        params = est.get_params()
        name = type(est).__name__
        if isinstance(est, SGDClassifier):
            if params["loss"] != "log_loss":
                raise ValueError(f"SGDClassifier(loss={params['loss']!r}) is not a logistic "
                                 "model: influence needs the log loss, "
                                 "SGDClassifier(loss='log_loss').")
            if params["early_stopping"]:
                raise ValueError("SGDClassifier(early_stopping=True) trains on a part of the "
                                 "rows only; influence is taken over every row it is given: "
                                 "use early_stopping=False.")
        ratios = np.ravel([r for r in (params.get("l1_ratio"), params.get("l1_ratios"))
                           if r is not None and not isinstance(r, str)] or [0.0])
        penalty = params.get("penalty", "deprecated")
        if isinstance(est, SGDClassifier):  # its l1_ratio applies to "elasticnet" only
            l1 = penalty == "l1" or (penalty == "elasticnet" and params["l1_ratio"] > 0)
        else:
            l1 = penalty not in ("deprecated", "l2", "elasticnet", None) or ratios.any()
        if l1:
            raise ValueError(
                "Influence needs a twice-differentiable objective: use an L2 (l1_ratio=0) "
                f"or no penalty with {name}."
            )

    def _resolve_class_weight(self, y):
        """Fix ``class_weight="balanced"`` to the weights of the labels of this first fit
        (``n / (C · count_c)``, on the most probable label of probabilistic rows); they
        then stay fixed through later refits, so relabelling moves no other row's weight."""
        est = self.estimator
        if not isinstance(est.get_params().get("class_weight"), str):
            return
        given = getattr(self, "_given_classes", None)
        if y.ndim == 2:
            y = (given if given is not None else np.arange(y.shape[1]))[y.argmax(1)]
        classes = np.unique(y)
        weights = compute_class_weight("balanced", classes=classes, y=y)
        est.set_params(class_weight=dict(zip(classes.tolist(), weights.tolist(), strict=True)))

    def _sync_class_weight(self):
        """``class_weight_`` over ``classes_`` from the model's (resolved) ``class_weight``."""
        cw = self.estimator.get_params().get("class_weight") \
            if not isinstance(self.estimator, SoftmaxRegression) else None
        if isinstance(cw, str):
            raise ValueError(
                f"class_weight={cw!r} on an already fitted model: its weights come from the "
                "labels it was trained on, which skclean does not see. Pass class_weight as "
                "a dict (sklearn.utils.class_weight.compute_class_weight gives the balanced "
                "one), or let skclean fit the model.")
        w = None if cw is None else np.array([float(cw.get(c, 1.0)) for c in self.classes_])
        self.class_weight_ = None if w is None or np.all(w == 1.0) else w

    def _sync(self, n_rows):
        self._logits_memo = None
        est = self.estimator
        self.classes_ = est.classes_
        self._sync_class_weight()
        self.n_features = est.coef_.shape[1]
        self.has_bias = bool(getattr(est, "fit_intercept", True))
        if n_rows is not None:
            self.n_fit_ = n_rows
        if isinstance(est, SoftmaxRegression):
            self.l2 = float(est.alpha)  # its objective is the mean loss + alpha/2 ‖W‖²
        elif isinstance(est, SGDClassifier):  # the same objective, penalty permitting
            self.l2 = float(est.alpha) if est.penalty in ("l2", "elasticnet") else 0.0
        else:
            no_penalty = est.get_params().get("penalty") is None or not np.isfinite(est.C)
            n = getattr(self, "n_fit_", None)
            self.l2 = 0.0 if (no_penalty or n is None) else 1.0 / (est.C * n)
        self._W = torch.as_tensor(est.coef_, dtype=self.dtype, device=self.device)
        b = est.intercept_ if self.has_bias else np.zeros(est.coef_.shape[0])
        self._b = torch.as_tensor(np.asarray(b, dtype=float), dtype=self.dtype, device=self.device)
        self._init_head(est.coef_.shape[0], one_vs_rest=isinstance(est, SGDClassifier))

    def fit(self, X, y, sample_weight=None):
        """Fit on hard labels, or on probabilistic labels ``(n, C)`` (columns: ``classes_``)."""
        self._check_supported()
        y = np.asarray(y)
        X = X if is_sparse(X) else np.asarray(X)
        if isinstance(self.estimator, SGDClassifier):
            # SGD follows its path in the data's precision: the adapter's dtype decides it
            X = as_dtype(X, torch.empty((), dtype=self.dtype).numpy().dtype)
        self._check_all_classes_present(y)
        if self.estimator is None:  # LogisticRegressionCV: its search, once
            hard = y if y.ndim == 1 else (self._given_classes if getattr(
                self, "_given_classes", None) is not None else np.arange(y.shape[1]))[y.argmax(1)]
            self.cv_estimator_.fit(X, hard, sample_weight=sample_weight)
            self.estimator = _chosen_model(self.cv_estimator_)
            self._resolve_class_weight(hard)
            if y.ndim == 1:
                self._sync(n_rows=X.shape[0])
                return self
        if not isinstance(self.estimator, SoftmaxRegression):
            self._resolve_class_weight(y)
        if y.ndim == 2 and isinstance(self.estimator, LogisticRegression | SGDClassifier):
            classes = self._given_classes if getattr(self, "_given_classes", None) is not None \
                else np.arange(y.shape[1])
            hard = y.argmax(1)
            if np.unique(hard).size == y.shape[1] and np.all(y.max(1) == 1.0):
                # one-hot rows: the hard labels are the same objective, fitted as the user's
                # estimator fits it (to its own tolerance), no copies and no Newton polish
                self.estimator.fit(X, classes[hard], sample_weight=sample_weight)
                self._sync(n_rows=X.shape[0])
                return self
            if np.unique(hard).size == y.shape[1] and self._newton_applies():
                # start from the fit to the most probable labels (weighted by their
                # probability), then Newton steps to the soft-label optimum: no row copies
                w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
                self.estimator.fit(X, classes[hard], sample_weight=w * y.max(1))
                self._sync(n_rows=X.shape[0])
                precond = None
                if self.n_params("last") <= PRECONDITION_MAX_PARAMS:
                    precond = sampled_hessian_inverse(self, X, sample_weight, y=y,
                                                      random_state=0)
                return self.newton_refit(X, y, sample_weight, preconditioner=precond)
            Xe, ye, we = _expand_soft(X, y, sample_weight, classes)
            self.estimator.fit(Xe, ye, sample_weight=we)  # by name: SGD's third is coef_init
        else:
            if y.ndim == 2 and getattr(self, "_given_classes", None) is not None:
                self.estimator.set_params(classes=self._given_classes)
            self.estimator.fit(X, y, sample_weight=sample_weight)
        self._sync(n_rows=X.shape[0])
        return self

    def _check_all_classes_present(self, y):
        """scikit-learn learns only the classes it sees: refuse to fit fewer than declared."""
        given = getattr(self, "_given_classes", None)
        if given is None or not isinstance(self.estimator or self.cv_estimator_,
                                           LogisticRegression | SGDClassifier):
            return
        present = given[y.sum(0) > 0] if y.ndim == 2 else np.unique(y)
        missing = np.setdiff1d(given, present)
        if missing.size:
            raise ValueError(
                f"LogisticRegression learns only the classes present in the rows it is fitted "
                f"on, and these rows have no label {missing.tolist()} of the declared "
                f"classes={given.tolist()}. Include at least one row of every class, or use a "
                "skorch/torch model, whose output layer has a unit for every declared class."
            )

    def hvp_fn(self, X, y, sample_weight=None, which="last"):
        """``v -> H v`` of the whole model (it is its own last layer), two GEMMs over ``X``
        itself: the features are never copied to append the bias column."""
        if which not in ("last", "all"):
            return super().hvp_fn(X, y, sample_weight=sample_weight, which=which)
        Xt = self.to_tensor(X)
        w = (torch.ones(Xt.shape[0], dtype=self.dtype, device=self.device) if sample_weight is None
             else self.to_tensor(np.asarray(sample_weight, dtype=float)))
        objective = LinearObjective(Xt, None if y is None else self.encode(y), w, self.head,
                                    self.l2, has_bias=self.has_bias,
                                    penalise_bias=self.penalise_bias)
        with torch.no_grad():
            Z = self._remembered_logits(X)
            if Z is None:  # the training rows: the ranking and the update read them next
                Z = objective.logits(self._W, self._b)
                self._remember_logits(X, Z)
            matvec = objective.hvp(Z)
        return lambda v: matvec(v.to(self.dtype))

    def count_rows(self, n):
        """The objective now sums ``n`` rows (the coefficients stay): the L2 weight
        ``1 / (C n)`` of an L2 LogisticRegression follows, so gradients and curvature are
        those of the rows held."""
        self.n_fit_ = n
        self.l2 = 1.0 / (self.estimator.C * n)

    def _newton_applies(self):
        est = self.estimator
        return (isinstance(est, LogisticRegression) and est.get_params().get("penalty") in
                ("deprecated", "l2") and np.isfinite(est.C))

    def newton_refit(self, X, y, sample_weight=None, *, preconditioner=None, tol=None):
        """Move the fitted coefficients to the optimum for new labels or weights.

        Newton-CG on the same objective scikit-learn minimises (see
        :mod:`skclean.models._newton`), from the current coefficients, on hard
        or probabilistic labels.  ``preconditioner`` (``r -> M⁻¹ r``, ``M`` ≈
        the Hessian) makes each step a few Hessian-vector products.  Falls
        back to scikit-learn's solver if the model is not an L2-penalised
        ``LogisticRegression``.  ``tol`` bounds the largest gradient entry at the
        end (``None``: the estimator's own ``tol``, the bound its L-BFGS stops at).
        """
        if not self._newton_applies() or self.classes_ is None:
            return self.continue_fit(X, y, sample_weight)
        tol = float(self.estimator.tol) if tol is None else tol
        Xt = self.to_tensor(X)
        T = self.encode(y)
        w = (torch.ones(Xt.shape[0], dtype=self.dtype, device=self.device) if sample_weight is None
             else self.to_tensor(np.asarray(sample_weight, dtype=float)))
        self.n_fit_ = Xt.shape[0]
        self.l2 = 1.0 / (self.estimator.C * Xt.shape[0])
        objective = LinearObjective(Xt, T, w, self.head, self.l2, has_bias=self.has_bias,
                                    penalise_bias=self.penalise_bias)
        W, b, n_iter, n_cg, Z = newton_solve(objective, self._W, self._b, tol=tol,
                                             preconditioner=preconditioner,
                                             logits=self._remembered_logits(X))
        self._store(W, b, n_iter, n_cg, Xt.shape[0])
        self._remember_logits(X, Z)
        return self

    def _store(self, W, b, n_iter, n_cg, n_rows):
        """Write Newton's solution into the scikit-learn model."""
        self.newton_iterations_, self.cg_iterations_ = n_iter, n_cg
        est = self.estimator
        est.coef_ = W.cpu().numpy().astype(np.float64)
        est.intercept_ = (b.cpu().numpy().astype(np.float64) if self.has_bias
                          else np.zeros(W.shape[0]))
        est.n_iter_ = np.array([n_iter], dtype=np.int32)
        self._sync(n_rows=n_rows)
        return self

    def partial_fit(self, X, y, sample_weight=None, *, seen=None, tol=1e-8):
        """Continue from the current model with new rows ``(X, y)``.

        ``SGDClassifier``: one pass of its own ``partial_fit``.  An L2
        ``LogisticRegression``: Newton to the optimum of the objective over the
        rows seen before (``seen``, a :class:`~skclean.utils.SeenRows`) and these.
        While ``seen`` holds every earlier row that is a warm-started refit on
        all of them, equal to a fit from scratch; beyond its capacity the earlier
        rows enter through their curvature at the current optimum, estimated
        from the sample (:class:`~skclean.models._newton.AddedRowsObjective`), so
        the cost does not grow with the rows seen.
        """
        est, n_new = self.estimator, X.shape[0]
        if isinstance(est, SGDClassifier):
            X = as_dtype(X, torch.empty((), dtype=self.dtype).numpy().dtype)
            est.partial_fit(X, y, sample_weight=sample_weight)
            self._sync(n_rows=getattr(self, "n_fit_", 0) + n_new)
            return self
        if not self._newton_applies():
            raise TypeError(
                f"partial_fit cannot continue {type(est).__name__} on new rows (it retrains "
                "from scratch): use an L2 LogisticRegression or SGDClassifier(loss='log_loss').")
        if seen is None:
            raise ValueError("partial_fit of a LogisticRegression needs the rows seen so far "
                             "(seen=SeenRows(...)).")
        if seen.complete:
            return self.newton_refit(*self.rows_with_seen(seen, X, y, sample_weight), tol=tol)
        Xt = self.to_tensor(X)
        w = (torch.ones(n_new, dtype=self.dtype, device=self.device) if sample_weight is None
             else self.to_tensor(np.asarray(sample_weight, dtype=float)))
        new = LinearObjective(Xt, self.encode(y), w, self.head, 0.0, has_bias=self.has_bias,
                              penalise_bias=self.penalise_bias)
        U1, D, Q = self.curvature_pieces(seen.X, seen.y)  # the earlier rows, at θ0
        ws = None if seen.w is None else self.to_tensor(seen.w)
        scale = seen.n_seen / seen.X.shape[0]

        def old(v):
            return scale * curvature_matvec(U1, D, Q, v, ws)

        n_total = seen.n_seen + n_new
        gauge = None
        if self.has_bias and model_curvature_head(self.head).name == "softmax":
            gauge = torch.zeros_like(self.last_layer_params())
            gauge[:, -1] = 1.0  # the same shift of every class's bias
        objective = AddedRowsObjective(new, old, self._W, self._b, 1.0 / est.C,
                                       self.last_layer_l2_mask(), n_total,
                                       gauge=None if gauge is None else gauge.reshape(-1))
        W, b, n_iter, n_cg, _ = newton_solve(objective, self._W, self._b, tol=tol)
        return self._store(W, b, n_iter, n_cg, n_total)

    def deltagrad_update(self, X, y_new, w_new, changed, y_old, w_old, **kwargs):
        """DeltaGrad-L update of a :class:`SoftmaxRegression` (see its method)."""
        if not isinstance(self.estimator, SoftmaxRegression):
            raise TypeError("DeltaGrad-L needs the SGD-trained SoftmaxRegression model.")
        self.estimator.deltagrad_update(X, y_new, w_new, changed, y_old=y_old,
                                        sample_weight_old=w_old, **kwargs)
        self._sync(n_rows=None)
        return self

    def continue_fit(self, X, y, sample_weight=None, epochs=None):
        """Warm-start the solver from the current coefficients.

        ``LogisticRegression`` solves the convex problem to convergence
        (``epochs`` is unused); ``SGDClassifier`` continues with ``epochs`` (5 by
        default) passes of its own ``partial_fit``.
        """
        hard = np.asarray(y).ndim == 1
        if (self.classes_ is None or isinstance(self.estimator, SoftmaxRegression)
                or (hard and not np.array_equal(np.unique(y), self.classes_))):
            return self.fit(X, y, sample_weight)
        if isinstance(self.estimator, SGDClassifier) and hard:
            X = as_dtype(X, torch.empty((), dtype=self.dtype).numpy().dtype)
            for _ in range(5 if epochs is None else max(1, int(epochs))):
                self.estimator.partial_fit(X, y, sample_weight=sample_weight)
            self._sync(n_rows=X.shape[0])
            return self
        warm = self.estimator.warm_start
        self.estimator.set_params(warm_start=True)
        try:
            return self.fit(X, y, sample_weight)
        finally:
            self.estimator.set_params(warm_start=warm)

    def last_layer_outputs(self, X):
        U = self.to_tensor(X)
        Z = self._remembered_logits(X)
        return U, U @ self._W.T + self._b if Z is None else Z

    # The logits of the training rows (those Newton last fitted, or hvp_fn was given) at
    # the current parameters.  A CHEF round reads them in the INFL solve, the ranking and
    # the next update; remembering them saves three passes over the rows.  Kept by the
    # identity of the row array (CHEF replaces its rows, never changes them in place),
    # dropped whenever the parameters change (_sync), and never pickled or copied.
    def _remember_logits(self, X, Z):
        self._logits_memo = None if Z is None else (X, Z)

    def _remembered_logits(self, X):
        memo = self.__dict__.get("_logits_memo")
        return memo[1] if memo is not None and memo[0] is X else None

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_logits_memo", None)
        return state

    def _last_layer(self):
        return self._W, (self._b if self.has_bias else None)

    def _param_items(self):
        items = [("coef", self._W, True)]
        if self.has_bias:
            items.append(("intercept", self._b, False))
        return items

    def _functional_logits(self, params, X):
        Z = X @ params["coef"].T
        return Z + params["intercept"] if "intercept" in params else Z

    def _functional(self, which, X):
        # The whole model is the last layer: "all" and "last" are the same parameters.
        return super()._functional("last", X)

    @property
    def model(self):
        return self.estimator

    def get_state(self):
        return (self.estimator.coef_.copy(), np.array(self.estimator.intercept_, copy=True))

    def set_state(self, state):
        coef, intercept = state
        self.estimator.coef_ = coef.copy()
        self.estimator.intercept_ = np.array(intercept, copy=True)
        self._sync(n_rows=None)

    def fit_with_checkpoints(self, X, y, n_checkpoints):
        """Fit, and return the solver's iterates after 1, 2, 4, … iterations.

        A fresh fit stopped after ``k`` iterations is iterate ``k`` of the same
        deterministic path; iterates are spaced geometrically because L-BFGS
        moves most in its first steps.  Each gets weight ``eta_t = 1`` (the
        solver has no fixed learning rate).
        """
        self.fit(X, y)
        n_iter = int(np.max(self.estimator.n_iter_))
        steps = np.unique(np.geomspace(1, max(n_iter, 1), n_checkpoints).round().astype(int))
        states = []
        for k in steps:
            est = clone(self.estimator).set_params(max_iter=int(k), warm_start=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(X, y)
            states.append((1.0, (est.coef_.copy(), est.intercept_.copy())))
        return states
