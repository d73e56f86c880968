"""Adapter for scikit-learn's ``MLPClassifier``: influence through its own weights.

scikit-learn trains the network in numpy; the adapter reads ``coefs_`` and
``intercepts_`` and runs the same forward pass in torch, so the last layer's
closed forms (features = the last hidden layer's activations) and autograd over
every weight ("all") see exactly the model scikit-learn fitted.
"""

import copy
import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_is_fitted

from .._sparse import dense_rows, is_sparse
from ._base import ModelAdapter
from ._sklearn import _expand_soft

_ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "logistic": torch.sigmoid,
    "identity": lambda t: t,
}


class MLPClassifierAdapter(ModelAdapter):
    """Wrap a (cloned) :class:`~sklearn.neural_network.MLPClassifier`.

    scikit-learn minimises ``Σ s_i ℓ_i / Σ s_i + alpha/2 ‖W‖² / Σ s_i`` over
    every weight matrix (biases unpenalised): multiplied by ``Σ s_i / n`` that
    is the adapter's objective with ``l2 = alpha / n``, the same optimum and
    the influence of leave-one-out retraining.  Binary problems have one
    logistic output (the sigmoid head), more classes a softmax.  Influence is
    taken at the weights the solver stopped at; ``"lbfgs"`` stops at the
    optimum, ``"adam"`` near it.  ``continue_fit`` goes on from the current
    weights (``warm_start``); ``partial_fit`` makes one pass of the model's own.
    """

    penalise_bias = False

    @property
    def trains_in_epochs(self):
        return self.estimator.solver != "lbfgs"

    def __init__(self, estimator, *, device="cpu", dtype=torch.float64):
        if not isinstance(estimator, MLPClassifier):
            raise TypeError(f"Expected an MLPClassifier, got {type(estimator).__name__}.")
        if estimator.get_params()["early_stopping"]:
            raise ValueError("MLPClassifier(early_stopping=True) trains on a part of the rows "
                             "only; influence is taken over every row it is given: use "
                             "early_stopping=False.")
        self.estimator = estimator
        self.device = torch.device(device)
        self.dtype = dtype
        try:
            check_is_fitted(estimator)
        except Exception:
            return
        self._sync(n_rows=None)

    def _sync(self, n_rows):
        est = self.estimator
        if est.out_activation_ not in ("softmax", "logistic") or getattr(
                est, "_label_binarizer", None) is not None and est._label_binarizer.y_type_ \
                == "multilabel-indicator":
            raise ValueError("Only single-label classification MLPs are supported.")
        self.classes_ = est.classes_
        self.n_features = est.coefs_[0].shape[0]
        if n_rows is not None:
            self.n_fit_ = n_rows
        n = getattr(self, "n_fit_", None)
        self.l2 = 0.0 if n is None else float(est.alpha) / n
        as_t = lambda a: torch.as_tensor(a, dtype=self.dtype, device=self.device)  # noqa: E731
        self._Ws = [as_t(W.T) for W in est.coefs_]  # (out, in), as nn.Linear keeps them
        self._bs = [as_t(b) for b in est.intercepts_]
        self._act = _ACTIVATIONS[est.activation]
        self._init_head(est.coefs_[-1].shape[1])

    # ------------------------------------------------------------------ training
    def fit(self, X, y, sample_weight=None):
        """Fit on hard labels, or on probabilistic labels ``(n, C)`` as ``C`` weighted copies
        of each row (the same objective: scikit-learn divides by the summed weights)."""
        y, n_rows = np.asarray(y), X.shape[0]  # l2 = alpha / n over the rows given
        given = getattr(self, "_given_classes", None)
        if y.ndim == 2:
            classes = given if given is not None else np.arange(y.shape[1])
            X, y, sample_weight = _expand_soft(X, y, sample_weight, classes)
        if given is not None and not np.array_equal(np.unique(y), given):
            raise ValueError(f"MLPClassifier learns only the classes present in the rows it is "
                             f"fitted on; declared classes={given.tolist()}, rows have "
                             f"{np.unique(y).tolist()}.")
        self.estimator.fit(X, y, sample_weight=sample_weight)
        self._sync(n_rows=n_rows)
        return self

    def continue_fit(self, X, y, sample_weight=None, epochs=None):
        """Go on from the current weights: its own ``warm_start``, for ``epochs`` iterations
        (lbfgs) or passes (adam, sgd) when given, else for ``max_iter``."""
        if self.classes_ is None:
            return self.fit(X, y, sample_weight)
        est = self.estimator
        saved = est.get_params()
        est.set_params(warm_start=True, **({} if epochs is None else {"max_iter": int(epochs)}))
        try:
            with warnings.catch_warnings():  # a few epochs on purpose: not a failure
                if epochs is not None:
                    warnings.simplefilter("ignore", ConvergenceWarning)
                return self.fit(X, y, sample_weight)
        finally:
            est.set_params(warm_start=saved["warm_start"], max_iter=saved["max_iter"])

    def partial_fit(self, X, y, sample_weight=None, *, seen=None):
        """One pass of the model's own ``partial_fit`` over the new rows (``"adam"``,
        ``"sgd"``); ``"lbfgs"`` has none, and goes on from the current weights over the
        rows seen and the new ones while ``seen`` holds them all."""
        if self.estimator.solver == "lbfgs":
            if seen is None or not seen.complete:
                raise TypeError("MLPClassifier(solver='lbfgs') has no partial_fit, and the "
                                "rows seen before are no longer all kept: use solver='adam' "
                                "or 'sgd', whose partial_fit continues on new rows.")
            return self.continue_fit(*self.rows_with_seen(seen, X, y, sample_weight))
        self.estimator.partial_fit(X, y, sample_weight=sample_weight, classes=self.classes_)
        self._sync(n_rows=getattr(self, "n_fit_", 0) + X.shape[0])
        return self

    def fit_with_checkpoints(self, X, y, n_checkpoints):
        """Train from scratch one ``partial_fit`` epoch at a time (``max_iter`` of them),
        keeping ``n_checkpoints`` evenly spaced weights, each with weight ``eta_t`` the
        initial learning rate (TracIn-CP); ``solver="lbfgs"`` has no epochs."""
        est = self.estimator
        if est.solver == "lbfgs":
            raise ValueError("TracIn needs training epochs: MLPClassifier(solver='lbfgs') has "
                             "none; use solver='adam' or 'sgd'.")
        self.estimator = clone(est)
        every = max(1, est.max_iter // n_checkpoints)
        states, classes = [], np.unique(y)
        for epoch in range(1, est.max_iter + 1):
            self.estimator.partial_fit(X, y, classes=classes)
            if epoch % every == 0:
                states.append((float(est.learning_rate_init), self._copy_weights()))
        self._sync(n_rows=X.shape[0])
        return states[-n_checkpoints:]

    # ------------------------------------------------------------------ forward
    def _hidden(self, X, Ws, bs):
        h = X
        for W, b in zip(Ws[:-1], bs[:-1], strict=True):
            h = self._act(h @ W.T + b)
        return h

    def last_layer_outputs(self, X):
        Xt = self.to_tensor(X)
        if is_sparse(X):  # the first layer is a sparse GEMM; hidden layers are dense
            h = self._act(Xt @ self._Ws[0].T + self._bs[0]) if len(self._Ws) > 1 else Xt
            U = self._hidden(h, self._Ws[1:], self._bs[1:]) if len(self._Ws) > 1 else h
        else:
            U = self._hidden(Xt, self._Ws, self._bs)
        return U, U @ self._Ws[-1].T + self._bs[-1]

    def _last_layer(self):
        return self._Ws[-1], self._bs[-1]

    def _param_items(self):
        items = []
        for i, (W, b) in enumerate(zip(self._Ws, self._bs, strict=True)):
            items += [(f"W{i}", W, True), (f"b{i}", b, False)]
        return items

    def _functional_logits(self, params, X):
        k = len(self._Ws)
        Ws = [params[f"W{i}"] for i in range(k)]
        bs = [params[f"b{i}"] for i in range(k)]
        return self._hidden(dense_rows(X), Ws, bs) @ Ws[-1].T + bs[-1]

    # ------------------------------------------------------------------ state
    @property
    def model(self):
        return self.estimator

    def _copy_weights(self):
        return ([W.copy() for W in self.estimator.coefs_],
                [b.copy() for b in self.estimator.intercepts_])

    def get_state(self):
        return self._copy_weights()

    def set_state(self, state):
        coefs, intercepts = copy.deepcopy(state)
        self.estimator.coefs_, self.estimator.intercepts_ = coefs, intercepts
        self._sync(n_rows=None)
