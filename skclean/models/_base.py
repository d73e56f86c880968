"""The adapter interface: the one place that knows what kind of model it holds.

Influence code asks an adapter for features, logits, last-layer gradient
pieces, per-example gradients and Hessian-vector products, and never branches
on the model type.  Subclasses provide training and a forward pass; everything
autograd-based (per-example gradients, HVPs, exact Hessians) is shared here
through a flat-parameter functional view of the model.
"""

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, hessian, vmap

from .._linalg import MATRIX_FREE, append_ones, check_dense_size, curvature_gram, curvature_matvec
from .._sparse import SparseRows, dense_rows, is_sparse, row_sq_norms, rows_gram, stack_rows
from ._heads import make_head

_CHUNK = 4096  # rows per vmap/forward chunk: bounds memory, keeps GEMMs large


@dataclass
class LastLayerGrads:
    """Per-example last-layer gradients kept as their two factors.

    The gradient of row ``i`` with respect to the last layer ``[W | b]`` is the
    outer product ``R[i] ⊗ U1[i]`` (residual of the loss in logit space times the
    penultimate features with a trailing 1 for the bias).  Keeping the factors
    lets every inner product be a GEMM over features and residuals, so the
    ``n × K·d`` gradient matrix is never built unless asked for.
    """

    U1: torch.Tensor  # (n, d') features (or SparseRows), plus a column of ones for the bias
    R: torch.Tensor  # (n, K) residuals dl/dlogits

    def __len__(self):
        return self.U1.shape[0]

    def __getitem__(self, idx):
        return LastLayerGrads(self.U1[idx], self.R[idx])

    @property
    def shape(self):
        """``(K, d')``: the shape of one gradient as a matrix."""
        return (self.R.shape[1], self.U1.shape[1])

    def materialize(self):
        """The explicit ``(n, K·d')`` gradient matrix (for tests and small data)."""
        return (self.R[:, :, None] * dense_rows(self.U1)[:, None, :]).reshape(len(self), -1)

    def sq_norms(self):
        """Squared gradient norms: ``|r|^2 |u1|^2`` per row."""
        return row_sq_norms(self.U1) * (self.R**2).sum(1)

    def dot(self, V):
        """Inner products ``<g_i, V>`` with one ``(K, d')`` matrix (or flat vector)."""
        V = V.reshape(self.shape)
        return ((self.U1 @ V.T) * self.R).sum(1)

    def dot_many(self, Vs):
        """Inner products with ``m`` matrices stacked as ``(m, K, d')`` -> ``(n, m)``."""
        m = Vs.shape[0]
        Vs = Vs.reshape(m, *self.shape)
        # (n, d') @ (d', m·K) then contract the K residual axis: one GEMM, no n×K·d' tensor.
        K, d = self.shape
        UV = (self.U1 @ Vs.permute(2, 0, 1).reshape(d, -1)).reshape(-1, m, K)
        return torch.einsum("nmk,nk->nm", UV, self.R)

    def gram(self, other):
        """All pairwise inner products ``(n, m)`` with another set of gradients."""
        return rows_gram(self.U1, other.U1) * (self.R @ other.R.T)

    def weighted_sum(self, weights=None):
        """``sum_i w_i g_i`` as a ``(K, d')`` matrix."""
        R = self.R if weights is None else self.R * weights[:, None]
        return R.T @ self.U1


def _hvp_autograd(J, theta, v):
    """``∇²J(θ) v`` by double backward (reverse-over-reverse).

    In eager mode this is about three times faster than ``torch.func``'s
    forward-over-reverse ``jvp(grad(J))`` for the small networks skclean
    wraps, with the same result.
    """
    th = theta.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(J(th), th, create_graph=True)
    return torch.autograd.grad(g @ v, th)[0]


class ModelAdapter(ABC):
    """Common interface over the differentiable classifiers skclean wraps.

    Subclasses implement the abstract methods; they set ``classes_``, ``head``,
    ``has_bias``, ``penalise_bias``, ``l2``, ``n_features``, ``device`` and
    ``dtype`` when fitted.

    The training objective the influence code differentiates is
    ``J(θ) = 1/n Σ_i s_i ℓ(z_i; θ) + l2/2 ‖m ⊙ θ‖²`` with ``m`` masking the
    parameters the model actually penalises.
    """

    classes_ = None
    head = None
    has_bias = True
    penalise_bias = True
    l2 = 0.0
    n_features = None
    #: Per-class weights of the objective, over ``classes_`` (``None``: all 1).
    class_weight_ = None
    #: Trained a pass over the rows at a time (networks): its early states have seen
    #: every row but not yet learnt each one's label, what ``trajectory="auto"`` uses.
    trains_in_epochs = False

    # ---------------------------------------------------------------- subclass hooks
    @abstractmethod
    def fit(self, X, y, sample_weight=None):
        """Train from scratch on ``(X, y)``."""

    @abstractmethod
    def continue_fit(self, X, y, sample_weight=None, epochs=None):
        """Continue training from the current parameters (warm start), for ``epochs``
        where the model trains in epochs (``None``: its own count)."""

    def refit(self, X, y, sample_weight=None, *, how="warm_start", preconditioner=None,
              changed=None, previous=None, epochs=None, **deltagrad):
        """Follow changed labels or weights, the way ``how`` says.

        ``"retrain"``: from scratch.  ``"warm_start"``: Newton from the current
        optimum where the adapter has it (``newton_refit``; ``preconditioner``
        is a callable returning its ``r -> M⁻¹ r``, called only then), else
        ``epochs`` more of training (``None``: the model's own count).
        ``"deltagrad"``: DeltaGrad-L over the cached trajectory, for the
        ``changed`` rows whose labels and weights were ``previous = (y_old, w_old)``.
        """
        if how == "retrain":
            return self.fit(X, y, sample_weight)
        if how == "deltagrad":
            return self.deltagrad_update(X, y, sample_weight, changed, *previous, **deltagrad)
        if hasattr(self, "newton_refit"):
            return self.newton_refit(X, y, sample_weight, preconditioner=None
                                     if preconditioner is None else preconditioner())
        return self.continue_fit(X, y, sample_weight, epochs=epochs)

    def partial_fit(self, X, y, sample_weight=None, *, seen=None):
        """Continue training with new rows ``(X, y)`` only, from the current parameters.

        ``seen`` (a :class:`~skclean.utils.SeenRows`) samples the rows trained on
        before, for adapters whose update needs them.  The cost must not grow
        with the number of rows seen before.
        """
        raise TypeError(f"{type(self).__name__} cannot continue training on new rows.")

    @abstractmethod
    def last_layer_outputs(self, X):
        """Penultimate features ``U`` and logits ``Z`` as tensors, model in eval mode."""

    @abstractmethod
    def _param_items(self):
        """``[(name, tensor, penalised)]`` of all trainable parameters, in a fixed order."""

    @abstractmethod
    def _functional_logits(self, params, X):
        """Logits for input tensor ``X`` with parameters given as a name -> tensor dict."""

    @abstractmethod
    def _last_layer(self):
        """``(W, b)`` of the last linear layer; ``b`` is ``None`` without a bias."""

    @abstractmethod
    def get_state(self):
        """A copy of the trained parameters, to restore with :meth:`set_state`."""

    @abstractmethod
    def set_state(self, state):
        """Load parameters saved by :meth:`get_state` (or a training checkpoint)."""

    @abstractmethod
    def fit_with_checkpoints(self, X, y, n_checkpoints):
        """Fit from scratch and return ``[(eta_t, state_t)]`` saved along training (TracIn)."""

    @property
    @abstractmethod
    def model(self):
        """The wrapped, trained scikit-learn or skorch object."""

    @contextmanager
    def at_checkpoint(self, state):
        """Temporarily evaluate the model with the parameters in ``state``."""
        current = self.get_state()
        self.set_state(state)
        try:
            yield self
        finally:
            self.set_state(current)

    # ---------------------------------------------------------------- conversions
    @property
    def n_classes(self):
        return len(self.classes_)

    def check_range(self, X):
        """Refuse finite input that overflows the model's precision (1e300 in float32)."""
        X = X.data if is_sparse(X) else np.asarray(X)  # a sparse matrix: its stored values
        if not self.dtype.is_floating_point or X.dtype.kind not in "fiu":
            return
        # the largest magnitude without an |X| copy of the data
        big = max(float(X.max()), -float(X.min())) if X.size else 0.0
        if big > torch.finfo(self.dtype).max:
            raise ValueError(f"X has values beyond the range of {self.dtype} (largest "
                             f"magnitude {big:.3g}): scale the features, or use "
                             "dtype='float64'.")

    def to_tensor(self, X):
        """``X`` on the adapter's device and dtype; sparse rows stay sparse (``SparseRows``)."""
        if is_sparse(X):
            return X if isinstance(X, SparseRows) else SparseRows(X, self.dtype, self.device)
        # np.require copies read-only inputs (e.g. memmaps), which torch cannot wrap
        X = np.require(np.asarray(X), requirements="W")
        return torch.as_tensor(X, dtype=self.dtype, device=self.device)

    def encode(self, y):
        """Map labels (or probabilistic targets) to a tensor of class indices / probabilities."""
        y = np.asarray(y)
        if y.ndim == 2:
            return torch.as_tensor(y, dtype=self.dtype, device=self.device)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        bad = self.classes_[idx] != y
        if np.any(bad):
            raise ValueError(
                f"Unknown labels {np.unique(y[bad])[:5].tolist()}; "
                f"the model knows {self.classes_.tolist()}."
            )
        return torch.as_tensor(idx, dtype=torch.long, device=self.device)

    def _set_classes(self, y):
        """Fix the label set from ``y`` unless :meth:`set_classes` fixed it already."""
        if getattr(self, "_given_classes", None) is not None:
            self.classes_ = self._given_classes
        else:
            self.classes_ = np.unique(np.asarray(y))
        return self.classes_

    def rows_with_seen(self, seen, X, y, sample_weight=None):
        """``(X, y, w)``: every row ``seen`` holds followed by the new ones (labels
        probabilistic over ``classes_`` when either set is; ``w`` ``None`` if all are 1)."""
        a, b = np.asarray(seen.y), np.asarray(y)
        if a.ndim != b.ndim:
            eye = np.eye(len(self.classes_))
            a, b = (eye[np.searchsorted(self.classes_, v)] if v.ndim == 1 else v for v in (a, b))
        w = None if seen.w is None and sample_weight is None else np.concatenate([
            np.ones(seen.X.shape[0]) if seen.w is None else seen.w,
            np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)])
        return stack_rows([seen.X, X]), np.concatenate([a, b]), w

    def set_classes(self, classes):
        """Declare the full label set before fitting on rows that may miss some classes."""
        self._given_classes = np.unique(np.asarray(classes))
        return self

    # ---------------------------------------------------------------- predictions
    def logits(self, X):
        return self.last_layer_outputs(X)[1]

    def features(self, X):
        return self.last_layer_outputs(X)[0]

    def predict_proba(self, X):
        with torch.no_grad():
            return self.head.proba(self.logits(X)).cpu().numpy()

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ---------------------------------------------------------------- last layer, closed form
    def augment(self, U):
        """``[U | 1]`` when the last layer has a bias: what its ``[W | b]`` multiplies."""
        return append_ones(U, self.has_bias)

    def augmented_outputs(self, X):
        """``(U1, Z)``: the penultimate features with the bias column, and the logits."""
        with torch.no_grad():
            U, Z = self.last_layer_outputs(X)
        return self.augment(U), Z

    def last_layer_hessian(self, X, sample_weight=None, y=None):
        """Explicit Hessian of the training objective w.r.t. the last layer ``[W | b]``.

        The logits are linear in these parameters, so for a cross-entropy head
        the Hessian is the (weighted) expected Fisher plus the L2 term: built
        from features and probabilities with GEMMs, no autograd.  ``y`` is
        needed only when the model weighs classes (``class_weight``).
        """
        U1, D, Q = self.curvature_pieces(X, y)
        if sample_weight is not None:
            # A_i scales with w_i: w_i D_i on the diagonal, sqrt(w_i) Q_i in the rank-one term
            w = self.to_tensor(np.asarray(sample_weight, dtype=float))
            D, Q = D * w[:, None], Q * w.sqrt()[:, None]
        H = curvature_gram(U1, D, Q) / U1.shape[0]
        return H + torch.diag(self.l2 * self.last_layer_l2_mask())

    def last_layer_grads(self, X, y):
        """Per-example last-layer gradient factors ``(U1, R)`` for labels ``y``."""
        with torch.no_grad():
            U, Z = self.last_layer_outputs(X)
            return LastLayerGrads(self.augment(U), self.head.residual(Z, self.encode(y)))

    def curvature_pieces(self, X, y=None):
        """``(U1, D, Q)``: features and the logit-space curvature ``diag(D) − Q Q^T``
        (each row's class weight folded in when the model has them: then ``y`` is needed)."""
        with torch.no_grad():
            U, Z = self.last_layer_outputs(X)
            D, Q = self.head.curvature_terms(Z, None if y is None else self.encode(y))
            return self.augment(U), D, Q

    def last_layer_l2_mask(self):
        """Which entries of ``[W | b]`` the L2 term penalises (flat, 0/1)."""
        K = self.head.n_outputs
        mask = torch.ones(K, self.last_layer_params().shape[1], dtype=self.dtype,
                          device=self.device)
        if self.has_bias and not self.penalise_bias:
            mask[:, -1] = 0
        return mask.reshape(-1)

    def last_layer_params(self):
        """The last layer as one ``(K, d')`` matrix ``[W | b]``."""
        W, b = self._last_layer()
        W = W.detach().to(self.dtype)
        return W if b is None else torch.cat([W, b.detach().to(self.dtype)[:, None]], 1)

    # ---------------------------------------------------------------- functional view
    def _functional(self, which, X):
        """``(theta0, f, mask)``: flat parameters, ``f(theta, rows) -> logits``, L2 mask.

        ``which="last"`` differentiates only ``[W | b]`` (row-major, matching
        :class:`LastLayerGrads`) on top of fixed features; ``which="all"`` every
        trainable parameter in :meth:`_param_items` order.
        """
        if which == "last":
            with torch.no_grad():
                U1 = self.augment(self.features(X))
            V = self.last_layer_params()
            K, d = V.shape

            def f(theta, rows):
                return rows @ theta.reshape(K, d).T

            return V.reshape(-1), f, self.last_layer_l2_mask(), U1
        if which != "all":
            raise ValueError(f"which must be 'last' or 'all', got {which!r}")
        items = self._param_items()
        names = [n for n, _, _ in items]
        shapes = [t.shape for _, t, _ in items]
        sizes = [t.numel() for _, t, _ in items]
        theta0 = torch.cat([t.detach().reshape(-1).to(self.dtype) for _, t, _ in items])
        mask = torch.cat(
            [torch.full((t.numel(),), float(p), dtype=self.dtype, device=self.device)
             for _, t, p in items]
        )

        def f(theta, rows):
            parts = torch.split(theta, sizes)
            params = {n: p.reshape(s) for n, p, s in zip(names, parts, shapes, strict=True)}
            return self._functional_logits(params, rows)

        return theta0, f, mask, dense_rows(self.to_tensor(X))

    def n_params(self, which="last"):
        """Parameters differentiated with ``which`` (no forward pass: rows of any shape)."""
        if which not in ("last", "all"):
            raise ValueError(f"which must be 'last' or 'all', got {which!r}")
        if self._only_last(which):
            return int(self.last_layer_params().numel())
        return int(sum(t.numel() for _, t, _ in self._param_items()))

    def per_example_grads(self, X, y, which="last"):
        """Explicit ``(n, P)`` gradients of the per-example loss, by autograd.

        Meant for brute-force checks and small models: the influence code uses
        :meth:`last_layer_grads` or Hessian-vector products instead.
        """
        theta, f, _, rows = self._functional(which, X)
        rows = dense_rows(rows)  # vmap needs dense rows: the caller asked for (n, P) anyway
        t = self.encode(y)
        head = self.head

        def loss_one(th, r, ti):
            return head.loss(f(th, r[None]), ti[None])[0]

        g = vmap(grad(loss_one), in_dims=(None, 0, 0))
        return torch.cat(
            [g(theta, rows[i : i + _CHUNK], t[i : i + _CHUNK]) for i in range(0, len(rows), _CHUNK)]
        )

    def objective(self, X, y, sample_weight=None, which="last"):
        """``(theta0, J)``: the training objective as a function of flat parameters."""
        theta, f, mask, rows = self._functional(which, X)
        t = self.encode(y)
        n = rows.shape[0]
        w = None if sample_weight is None else self.to_tensor(sample_weight)
        head, l2 = self.head, self.l2

        def J(th):
            losses = head.loss(f(th, rows), t)
            data = (losses if w is None else losses * w).sum() / n
            return data + 0.5 * l2 * ((mask * th) ** 2).sum()

        return theta, J

    def hvp(self, v, X, y, sample_weight=None, which="last"):
        """Hessian-vector product ``H v`` of the training objective on ``(X, y)``."""
        return self.hvp_fn(X, y, sample_weight, which)(v)

    def hvp_fn(self, X, y, sample_weight=None, which="last"):
        """A reusable ``v -> H v`` closure (the forward pass is done once).

        For the last layer of a cross-entropy model the Hessian does not depend
        on the labels and has the closed form ``1/n Σ_i w_i A_i ⊗ u1_i u1_i^T``
        plus the L2 term, applied with two GEMMs; other parameters go through
        ``torch.func`` (forward-over-reverse).
        """
        if self._only_last(which):
            U1, D, Q = self.curvature_pieces(X, y)
            w = None if sample_weight is None else self.to_tensor(sample_weight)
            reg = self.l2 * self.last_layer_l2_mask()
            n = U1.shape[0]
            return lambda v: curvature_matvec(U1, D, Q, v.to(self.dtype), w) / n + reg * v
        theta, J = self.objective(X, y, sample_weight, which)
        return lambda v: _hvp_autograd(J, theta, v.to(self.dtype))

    def batch_hvp_fn(self, X, y, which="last"):
        """``(v, idx) -> H_idx v``: Hessian-vector products over row subsets.

        The forward setup (features for ``"last"``, the functional view for
        ``"all"``) is done once, so stochastic solvers such as LiSSA only pay
        for the product itself at every step.  ``H_idx`` includes the full L2
        term, so its expectation over random subsets is the Hessian.
        """
        if self._only_last(which):
            U1, D, Q = self.curvature_pieces(X, y)
            reg = self.l2 * self.last_layer_l2_mask()
            return lambda v, idx: curvature_matvec(U1[idx], D[idx], Q[idx], v) / len(idx) + reg * v
        theta, f, mask, rows = self._functional(which, X)
        t = self.encode(y)
        head, l2 = self.head, self.l2

        def hvp(v, idx):
            r, ti = rows[idx], t[idx]

            def J(th):
                return head.loss(f(th, r), ti).mean() + 0.5 * l2 * ((mask * th) ** 2).sum()

            return _hvp_autograd(J, theta, v.to(self.dtype))

        return hvp

    def hessian(self, X, y, sample_weight=None, which="last"):
        """The explicit ``(P, P)`` Hessian of the training objective (small models)."""
        P = self.n_params(which)
        check_dense_size(P, P, self.dtype, f"The Hessian ({P:,} parameters)", MATRIX_FREE)
        if self._only_last(which):  # closed form: GEMMs, sparse rows too
            return self.last_layer_hessian(X, sample_weight, y)
        theta, J = self.objective(X, y, sample_weight, which)
        return hessian(J)(theta)

    def loss_grad(self, X, y, sample_weight=None, which="last"):
        """Gradient of the training objective."""
        if self._only_last(which):  # closed form: the mean of r_i ⊗ u1_i, plus the L2 term
            w = None if sample_weight is None else self.to_tensor(
                np.asarray(sample_weight, dtype=float))
            grads = self.last_layer_grads(X, y)
            g = grads.weighted_sum(w).reshape(-1) / len(grads)
            return g + self.l2 * self.last_layer_l2_mask() * self.last_layer_params().reshape(-1)
        theta, J = self.objective(X, y, sample_weight, which)
        return grad(J)(theta)

    def _only_last(self, which):
        """Whether ``which`` names only the last layer (every parameter of a linear model)."""
        return which == "last" or self._whole_model_is_last_layer

    #: A linear model is its own last layer: "all" parameters are ``[W | b]``.
    _whole_model_is_last_layer = False

    def logit_jacobian(self, X, which="all"):
        """Per-example Jacobians of the logits, ``(n, K, P)`` (small models)."""
        theta, f, _, rows = self._functional(which, X)
        rows = dense_rows(rows)
        jac = vmap(torch.func.jacrev(lambda th, r: f(th, r[None])[0]), in_dims=(None, 0))
        return torch.cat([jac(theta, rows[i : i + _CHUNK]) for i in range(0, len(rows), _CHUNK)])

    def _init_head(self, n_outputs, one_vs_rest=False):
        cw = self.class_weight_
        self.head = make_head(n_outputs, len(self.classes_), one_vs_rest=one_vs_rest,
                              class_weight=None if cw is None else torch.as_tensor(
                                  cw, dtype=self.dtype, device=self.device))
