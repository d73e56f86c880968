"""Softmax regression trained by mini-batch SGD, with DeltaGrad-L updates.

CHEF (Wu et al., PVLDB 2021) updates its model after a round of label
cleaning with DeltaGrad-L: it replays the cached SGD trajectory with the
changed rows' gradients corrected, computing the full mini-batch gradient
exactly only during a burn-in of ``j0`` iterations and every ``T0``
iterations, and approximating it in between with an L-BFGS model of the
mini-batch Hessian built from the last ``m0`` exact steps.
"""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._sparse import SparseRows, is_sparse
from ..utils import store_parameters


def soft_targets(y, classes):
    """Hard labels (n,) -> one-hot (n, C); probabilistic (n, C) pass through."""
    y = np.asarray(y)
    if y.ndim == 2:
        return y.astype(np.float64)
    return (y[:, None] == np.asarray(classes)[None, :]).astype(np.float64)


def _lbfgs_max_eigenvalue(S, Y):
    """Largest eigenvalue of the compact L-BFGS matrix ``B`` (see :func:`_lbfgs_operator`).

    ``B = σI − Q M⁻¹ Qᵀ`` differs from ``σI`` only on ``span(Q)``; with
    ``Q = U R`` its spectrum there is that of ``σI − R M⁻¹ Rᵀ`` (2m × 2m).
    """
    sy = S.T @ Y
    sigma = (Y[:, -1] @ Y[:, -1]) / sy[-1, -1]
    L = torch.tril(sy, diagonal=-1)
    D = torch.diag(torch.diagonal(sy))
    M = torch.cat([torch.cat([sigma * (S.T @ S), L], 1), torch.cat([L.T, -D], 1)], 0)
    _, R = torch.linalg.qr(torch.cat([sigma * S, Y], 1))
    inner = sigma * torch.eye(len(R), dtype=S.dtype) - R @ torch.linalg.solve(M, R.T)
    return float(max(sigma, torch.linalg.eigvalsh((inner + inner.T) / 2).max()))


def _lbfgs_operator(S, Y):
    """``(g, v) -> g + B v`` with ``B`` the compact L-BFGS Hessian model of pairs ``(S, Y)``.

    Byrd, Nocedal & Schnabel (1994): ``B = σI − [σS Y] M⁻¹ [σSᵀ; Yᵀ]`` with
    ``M = [[σSᵀS, L], [Lᵀ, −D]]``, ``L`` the strictly lower part of ``SᵀY``,
    ``D`` its diagonal and ``σ = yᵀy / sᵀy`` of the newest pair.  ``M⁻¹[σSᵀ; Yᵀ]``
    is formed once, so each product is two thin matrix-vector products: the
    model changes only at DeltaGrad-L's exact iterations and is applied at
    every other one.
    """
    sy = S.T @ Y  # (m, m)
    sigma = (Y[:, -1] @ Y[:, -1]) / sy[-1, -1]
    L = torch.tril(sy, diagonal=-1)
    D = torch.diag(torch.diagonal(sy))
    M = torch.cat([torch.cat([sigma * (S.T @ S), L], 1), torch.cat([L.T, -D], 1)], 0)
    Q = torch.cat([sigma * S, Y], 1)  # (P, 2m)
    MQt = torch.linalg.solve(M, Q.T)  # (2m, P)
    sigma = float(sigma)

    def plus_product(g, v):
        """``g + B v`` in three kernel calls: the replay applies it at most iterations,
        where the cost of a call, not of its arithmetic, is what counts."""
        return torch.addmv(torch.add(g, v, alpha=sigma), Q, MQt @ v, alpha=-1.0)

    return plus_product


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression trained by mini-batch SGD, on hard or soft labels.

    Minimises ``1/n Σ_i s_i CE(t_i, softmax(W x_i + b)) + alpha/2 ‖W‖²``
    (bias unpenalised) with plain mini-batch SGD.  The batches are drawn
    from ``random_state``, and the trajectory (parameters and mini-batch
    gradients at every iteration) is kept when ``keep_trajectory=True``, so
    :meth:`deltagrad_update` can replay it after labels change.

    Parameters
    ----------
    alpha : float, default=1e-3
        L2 strength (strong convexity, as CHEF assumes).
    learning_rate : float, default=0.1
    n_epochs : int, default=100
    batch_size : int, default=256
    keep_trajectory : bool, default=True
        Keep ``2 · iterations · P`` floats for DeltaGrad-L.
    classes : array-like or None, default=None
        Label set; needed for probabilistic targets (column order).
    random_state : int, RandomState or None, default=0

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    classes_ : ndarray
    n_iter_ : int
        SGD iterations run.
    trajectory_memory_ : int
        Floats kept for DeltaGrad-L.
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "keep_trajectory": ["boolean"],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
    }

    def __init__(self, alpha=1e-3, learning_rate=0.1, n_epochs=100, batch_size=256,
                 keep_trajectory=True, classes=None, random_state=0):
        store_parameters(self, locals())

    #: Fitted attributes that are replaced, never changed in place: copies share them.
    _IMMUTABLE = ("_trajectory", "_batches_")

    def __deepcopy__(self, memo):
        # CHEF's per-round rollback copy would otherwise duplicate the hundreds of tensors of
        # the trajectory every round, at about half the cost of the DeltaGrad-L update itself
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = value if key in self._IMMUTABLE else copy.deepcopy(value, memo)
        return new

    # -------------------------------------------------------------- pieces shared by fit and update
    def _batches(self, n):
        rng = check_random_state(self.random_state)
        out = []
        for _ in range(self.n_epochs):
            perm = rng.permutation(n)
            out.extend(perm[s : s + self.batch_size] for s in range(0, n, self.batch_size))
        return out

    def _batch_grad(self, theta, X, T, w, idx):
        """Mean weighted CE gradient over rows ``idx`` (data term only), flat ``[W | b]``.

        The bias is handled apart rather than through a column of ones, so the
        features are used as given, never copied whole.
        """
        C = T.shape[1]
        Wb = theta.reshape(C, -1)
        Xb = X[idx]
        P = torch.softmax(Xb @ Wb[:, :-1].T + Wb[:, -1], dim=1)
        R = (P - T[idx]) * w[idx, None]
        return torch.cat([R.T @ Xb, R.sum(0)[:, None]], 1).reshape(-1) / len(idx)

    def _swap(self, theta, Xt, T_new, w_new, T_old, w_old, hit, batch_len):
        """Exact gradient change from the changed rows of a batch: Σ (w'∇ℓ(t') − w∇ℓ(t)) / |B|.

        Both gradients share the rows' probabilities ``p``, so the change is
        ``Σ [p (w' − w) − (w' t' − w t)] ⊗ [x, 1] / |B|``: one forward pass.
        """
        if len(hit) == 0:
            return torch.zeros_like(theta)
        h = torch.as_tensor(hit)
        C = T_new.shape[1]
        Wb = theta.reshape(C, -1)
        Xh = Xt[h]
        P = torch.softmax(Xh @ Wb[:, :-1].T + Wb[:, -1], dim=1)
        wn, wo = w_new[h, None], w_old[h, None]
        R = P * (wn - wo) - (T_new[h] * wn - T_old[h] * wo)
        return torch.cat([R.T @ Xh, R.sum(0)[:, None]], 1).reshape(-1) / batch_len

    def _sgd_step(self, C, P):
        """``(theta, g) -> theta − lr (g + alpha · theta)``, the bias unpenalised.

        Built once per run and used by both ``fit`` and the replay, so that
        exact replayed iterations repeat fit's arithmetic.
        """
        m = torch.ones(C, P // C, dtype=torch.float64)
        m[:, -1] = 0
        am = self.alpha * m.reshape(-1)
        lr = self.learning_rate
        return lambda theta, g: theta.add(torch.addcmul(g, am, theta), alpha=-lr)

    def _targets(self, y, sample_weight, n):
        T = torch.as_tensor(soft_targets(y, self.classes_))
        w = torch.ones(n, dtype=torch.float64) if sample_weight is None else \
            torch.as_tensor(np.asarray(sample_weight, dtype=np.float64))
        return T, w

    def _prepare(self, X, y, sample_weight):
        if is_sparse(X):  # mini-batches are sparse GEMMs: the rows are never densified
            Xt = SparseRows(X, torch.float64, "cpu")
        else:
            Xt = torch.as_tensor(np.require(X, requirements="W"))  # torch cannot wrap read-only
        return (Xt, *self._targets(y, sample_weight, X.shape[0]))

    def _set_params(self, theta):
        Wb = theta.reshape(len(self.classes_), -1).numpy()
        self.coef_ = Wb[:, :-1].copy()
        self.intercept_ = Wb[:, -1].copy()

    # -------------------------------------------------------------- public API
    def fit(self, X, y, sample_weight=None):
        """Train by mini-batch SGD; ``y`` is hard labels or ``(n, C)`` probabilities."""
        self._validate_params()
        y = np.asarray(y)
        X = validate_data(self, X, dtype=np.float64, accept_sparse="csr")
        if y.ndim == 2:
            if self.classes is None:
                raise ValueError("Probabilistic targets need `classes` (their column order).")
            self.classes_ = np.asarray(self.classes)
            if y.shape != (X.shape[0], len(self.classes_)):
                raise ValueError(f"y must have shape ({X.shape[0]}, {len(self.classes_)}).")
        else:
            self.classes_ = np.unique(y) if self.classes is None else np.asarray(self.classes)
        Xt, T, w = self._prepare(X, y, sample_weight)
        C = T.shape[1]
        theta = torch.zeros(C * (Xt.shape[1] + 1), dtype=torch.float64)
        step = self._sgd_step(C, theta.numel())
        self._batches_ = self._batches(X.shape[0])
        params, grads = [], []
        for idx in self._batches_:
            g = self._batch_grad(theta, Xt, T, w, torch.as_tensor(idx))
            if self.keep_trajectory:
                params.append(theta)
                grads.append(g)
            theta = step(theta, g)
        self.n_iter_ = len(self._batches_)
        self._trajectory = (params, grads) if self.keep_trajectory else None
        self.trajectory_memory_ = 2 * len(params) * theta.numel()
        self._set_params(theta)
        return self

    def deltagrad_update(self, X, y_new, sample_weight_new, changed, *, y_old=None,
                         sample_weight_old=None, j0=10, T0=20, m0=2, guard=True):
        """Update after the rows ``changed`` got new targets and weights (DeltaGrad-L).

        Replays the cached trajectory with the same mini-batches.  At every
        iteration the batch gradient at the new parameters is
        ``g_old(w_t) + B_t (w'_t − w_t)`` plus the exact correction for the
        changed rows in the batch (old target and weight out, new in); the
        first ``j0`` iterations and every ``T0``-th are computed exactly and
        feed the L-BFGS model ``B_t`` (last ``m0`` pairs).  Approximate steps
        are only taken while ``learning_rate · λ_max(B_t) < 1``; otherwise the
        step is computed exactly (``deltagrad_exact_steps_`` counts them), so
        an over-curved model cannot make the replay diverge.  ``guard=False``
        is the paper's algorithm, which takes every other step approximately.

        Parameters
        ----------
        X : array-like of shape (n, d)
            The training rows (unchanged).
        y_new, sample_weight_new : new targets and weights of every row.
        changed : array-like of int
            Rows whose target or weight changed.
        y_old, sample_weight_old : targets and weights the trajectory was trained with.
        j0, T0, m0 : int
            Burn-in iterations, period of exact iterations, L-BFGS pairs kept.
        guard : bool, default=True
            Compute a step exactly when the L-BFGS model is not contracting.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        if self._trajectory is None:
            raise ValueError("deltagrad_update needs keep_trajectory=True at fit.")
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse="csr")
        Xt, T_new, w_new = self._prepare(X, y_new, sample_weight_new)
        T_old, w_old = self._targets(y_old, sample_weight_old, X.shape[0])
        C = T_new.shape[1]
        changed_mask = np.zeros(X.shape[0], dtype=bool)
        changed_mask[np.asarray(changed, dtype=int)] = True
        params, grads = self._trajectory
        theta = params[0].clone()
        S, Yd = [], []
        new_params, new_grads = [], []
        stable = False  # whether lr · λ_max(B) keeps the replayed error dynamics contracting
        B = None  # the L-BFGS model, rebuilt when a new pair arrives
        step = self._sgd_step(C, theta.numel())
        self.deltagrad_exact_steps_ = 0
        for t, idx in enumerate(self._batches_):
            hit = idx[changed_mask[idx]]
            exact = t < j0 or (t - j0) % T0 == 0 or not S or (guard and not stable)
            if exact:
                self.deltagrad_exact_steps_ += 1
                # the pair compares the *old* batch objective at both points; the new batch
                # gradient differs from it only on the changed rows
                g_old_at_new = self._batch_grad(theta, Xt, T_old, w_old, torch.as_tensor(idx))
                g = g_old_at_new + self._swap(theta, Xt, T_new, w_new, T_old, w_old, hit,
                                              len(idx))
                s, yv = theta - params[t], g_old_at_new - grads[t]
                if float(s @ yv) > 1e-12:
                    S.append(s)
                    Yd.append(yv)
                    S, Yd = S[-m0:], Yd[-m0:]
                    # Secant pairs from different mini-batches can overstate curvature; an
                    # approximate step with lr·λ_max(B) ≥ 2 would amplify the error at every
                    # iteration, so such a model is not used until newer pairs replace it.
                    Sm, Ym = torch.stack(S, 1), torch.stack(Yd, 1)
                    lam = _lbfgs_max_eigenvalue(Sm, Ym)
                    stable = self.learning_rate * (lam + self.alpha) < 1.0
                    B = _lbfgs_operator(Sm, Ym)
            else:
                g = B(grads[t], theta - params[t])
                if len(hit):
                    g = g + self._swap(theta, Xt, T_new, w_new, T_old, w_old, hit, len(idx))
            new_params.append(theta)
            new_grads.append(g)
            theta = step(theta, g)
        self._trajectory = (new_params, new_grads)
        self._set_params(theta)
        return self

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False, accept_sparse="csr")
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def predict_proba(self, X):
        Z = self.decision_function(X)
        Z = Z - Z.max(1, keepdims=True)
        E = np.exp(Z)
        return E / E.sum(1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
