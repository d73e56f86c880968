"""Newton's method for a linear softmax / sigmoid model on soft labels.

The objective is the one :class:`~skclean.models.LogisticRegressionAdapter`
takes influence of: ``J(W, b) = 1/n Σ_i w_i ℓ(x_i W^T + b, t_i) + l2/2 ‖W‖²``
(``+ l2/2 ‖b‖²`` when the bias is penalised), with targets ``t_i`` class
indices or probability rows.  Two reasons to solve it here rather than with
scikit-learn's L-BFGS:

* probabilistic labels are fitted directly (scikit-learn needs every row
  copied once per class with weight ``w_i t_ic``: C times the data);
* after a CHEF round only a few labels changed, so the optimum moved a little:
  from the current parameters one or two Newton steps reach it, and each
  step is a conjugate-gradient solve that a Hessian factorised in an earlier
  round preconditions down to a few Hessian-vector products.

Every pass is a GEMM over ``X`` itself (the bias column is handled apart, so
the ``n × (d+1)`` augmented matrix is never built).
"""

import torch

from .._linalg import cg_solve


class LinearObjective:
    """Value, gradient and Hessian-vector products of ``J`` at given parameters."""

    def __init__(self, X, T, weights, head, l2, *, has_bias=True, penalise_bias=False):
        self.X, self.T, self.w, self.head = X, T, weights, head
        self.l2, self.has_bias, self.penalise_bias = float(l2), has_bias, penalise_bias
        self.n = X.shape[0]

    def _logits(self, W, b):
        Z = self.X @ W.T
        return Z + b if self.has_bias else Z

    logits = _logits

    def value(self, W, b, Z=None):
        """``J(W, b)``; ``Z``: the logits at ``(W, b)`` if already computed (no pass)."""
        loss = self.head.loss(self._logits(W, b) if Z is None else Z, self.T)
        J = (loss * self.w).sum() / self.n + 0.5 * self.l2 * (W * W).sum()
        if self.has_bias and self.penalise_bias:
            J = J + 0.5 * self.l2 * (b * b).sum()
        return float(J)

    def gradient(self, W, b, Z=None):
        """``(∇_W J, ∇_b J)`` and the logits (reused by :meth:`hvp`); ``Z`` as in
        :meth:`value`."""
        Z = self._logits(W, b) if Z is None else Z
        R = self.head.residual(Z, self.T) * self.w[:, None]
        gW = R.T @ self.X / self.n + self.l2 * W
        gb = R.sum(0) / self.n
        if self.penalise_bias:
            gb = gb + self.l2 * b
        return gW, gb, Z

    def hvp(self, Z):
        """``v -> H v`` on flat ``[W | b]`` vectors, with the curvature at logits ``Z``."""
        D, Q = self.head.curvature_terms(Z, self.T)
        D, Q = D * self.w[:, None], Q * self.w.sqrt()[:, None]  # A_i scales with w_i
        K, d = D.shape[1], self.X.shape[1]
        reg_b = self.l2 if self.penalise_bias else 0.0
        step = _block_rows(self.X)

        def matvec(v):
            V = v.reshape(K, d + self.has_bias)
            VW = V[:, :d]
            out = torch.zeros(K, d, dtype=v.dtype, device=v.device)
            out_b = torch.zeros(K, dtype=v.dtype, device=v.device)
            # X (A (X v)) block by block: each block is read from memory once and found in
            # the cache by the second product (a quarter less time than two whole passes)
            for s in range(0, self.n, step):
                Xb, Db, Qb = self.X[s : s + step], D[s : s + step], Q[s : s + step]
                S = Xb @ VW.T
                if self.has_bias:
                    S = S + V[:, d]
                AS = Db * S - Qb * (Qb * S).sum(1, keepdim=True)
                out = out + AS.T @ Xb
                out_b = out_b + AS.sum(0)
            out = out / self.n + self.l2 * VW
            if self.has_bias:
                out = torch.cat([out, (out_b / self.n + reg_b * V[:, d])[:, None]], 1)
            return out.reshape(-1)

        return matvec


def _block_rows(X, nbytes=2 << 20):
    """Rows per block of :meth:`LinearObjective.hvp`: 2 MiB of a dense CPU matrix (cache
    sized); everything else (sparse rows, GPU tensors) in one block."""
    if not isinstance(X, torch.Tensor) or X.device.type != "cpu" or X.layout != torch.strided:
        return max(X.shape[0], 1)
    return max(64, nbytes // max(X.shape[1] * X.element_size(), 1))


def newton_solve(objective, W, b, *, preconditioner=None, tol=1e-8, max_iter=50, cg_tol=0.1,
                 logits=None):
    """Minimise ``objective`` from ``(W, b)`` by Newton-CG with a backtracking line search.

    Stops when the largest gradient entry is at most ``tol``, or when the
    Newton decrement says the objective cannot decrease beyond its rounding.
    Each step solves the Newton system to the relative residual
    ``min(cg_tol, √‖g‖)`` (inexact Newton: superlinear convergence, and no CG
    iteration spent on accuracy the next step discards).  ``logits``: the
    objective's logits at ``(W, b)`` if known.  Returns the new ``(W, b)``, the
    Newton iterations taken, the CG iterations in total and the logits at the
    returned ``(W, b)`` (``None`` when a failed line search left them elsewhere).
    """
    K, d = W.shape
    has_bias = objective.has_bias
    n_cg = 0
    Z = logits  # the logits at (W, b), carried from the line search: one pass fewer a step
    for it in range(max_iter + 1):
        gW, gb, Z = objective.gradient(W, b, Z)
        g = torch.cat([gW, gb[:, None]], 1).reshape(-1) if has_bias else gW.reshape(-1)
        if float(g.abs().max()) <= tol or it == max_iter:
            return W, b, it, n_cg, Z
        # inexact Newton: a relative CG tolerance that tightens as the gradient shrinks
        rel = min(cg_tol, float(g.norm()) ** 0.5)
        step, k = cg_solve(objective.hvp(Z), g, tol=rel, maxiter=200,
                           preconditioner=preconditioner)
        n_cg += k
        step = step.reshape(K, d + has_bias)
        sW = step[:, :d]
        sb = step[:, d] if has_bias else b
        J0, slope, t = objective.value(W, b, Z), float(g @ step.reshape(-1)), 1.0
        # Newton decrement: the step would lower J by about slope / 2; once that is below
        # J's rounding the optimum is reached in this precision (in float32, long before
        # the gradient gets under tol)
        if slope / 2 <= torch.finfo(g.dtype).eps * abs(J0):
            return W, b, it, n_cg, Z
        while t > 1e-10:
            W1, b1 = W - t * sW, b - t * sb if has_bias else b
            Z = objective.logits(W1, b1)
            if objective.value(W1, b1, Z) <= J0 - 1e-4 * t * slope:
                break
            t *= 0.5
        else:  # no decrease along the Newton direction: at the optimum up to rounding
            return W, b, it, n_cg, None
        W, b = W1, b1
    return W, b, max_iter, n_cg, None


class AddedRowsObjective:
    """The objective after new rows arrive, without the rows seen before.

    At the previous optimum ``θ0`` the old rows' loss gradient cancels the
    penalty's, so to second order their part of the (summed) objective is
    ``½ δᵀ (H_old + λM) δ`` with ``δ = θ − θ0``: ``H_old`` the old rows'
    loss curvature at ``θ0`` (``old_matvec``, estimated from a sample of them),
    ``λM`` the penalty.  The new rows enter exactly.  Divided by the rows seen
    in all (``n_total``), as :class:`LinearObjective`, so :func:`newton_solve`'s
    tolerance means the same.  Each pass costs the new rows and ``old_matvec``,
    not the rows seen before.

    A softmax with unpenalised biases is unchanged by adding one constant to
    every bias, so the Hessian is singular along ``gauge`` (that direction);
    rounding then lets the biases drift along it from call to call.  A term
    ``½ c (gᵀδ)²`` holds them where they were, changing no prediction.
    """

    def __init__(self, new, old_matvec, W0, b0, lam, mask, n_total, gauge=None):
        self.new, self.lam, self.mask = new, float(lam), mask
        self.has_bias, self.n = new.has_bias, float(n_total)
        self.theta0 = self._flat(W0, b0)
        if gauge is None:
            self.old = old_matvec
        else:  # c = n/4: the largest curvature a row can add along it, so CG stays conditioned
            g, c = gauge / gauge.norm(), self.n / 4

            def held(v):
                return old_matvec(v) + c * (g @ v) * g

            self.old = held

    def _flat(self, W, b):
        return torch.cat([W, b[:, None]], 1).reshape(-1) if self.has_bias else W.reshape(-1)

    def _quadratic(self, W, b):
        d = self._flat(W, b) - self.theta0
        return d, self.old(d) + self.lam * self.mask * d

    def logits(self, W, b):
        return self.new.logits(W, b)

    def value(self, W, b, Z=None):
        d, Hd = self._quadratic(W, b)
        return (0.5 * float(d @ Hd) + self.new.value(W, b, Z) * self.new.n) / self.n

    def gradient(self, W, b, Z=None):
        gW, gb, Z = self.new.gradient(W, b, Z)
        _, Hd = self._quadratic(W, b)
        Hd = Hd.reshape(W.shape[0], -1)
        m = self.new.n
        gW = (gW * m + Hd[:, : W.shape[1]]) / self.n
        gb = (gb * m + Hd[:, -1]) / self.n if self.has_bias else gb
        return gW, gb, Z

    def hvp(self, Z):
        new = self.new.hvp(Z)
        m = self.new.n
        return lambda v: (new(v) * m + self.old(v) + self.lam * self.mask * v) / self.n
