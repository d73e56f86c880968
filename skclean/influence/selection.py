"""Which rows CHEF cleans next, and the solve behind INFL, kept from one round to the next.

A round changes ``batch_size`` labels, so the model, the Hessian and
``v = H⁻¹∇L_val`` move only a little: :class:`INFLSelector` warm-starts CG
from the last round's ``v``, preconditions it with a Hessian factorised once
on a row sample (rebuilt when CG needs more than ``refresh_after``
iterations: the Hessian has drifted), and keeps Increm-INFL's cache of the
initialisation round.  Its :meth:`~INFLSelector.select` ranks the candidate
rows by INFL (full or Increm-INFL), by INFL-D, or by an active-learning rule.
"""

import copy
import functools
import time
from dataclasses import dataclass

import numpy as np

from .._linalg import PRECONDITION_MAX_PARAMS, sampled_hessian_inverse
from .infl import (
    IncrementalINFL,
    increm_infl_candidates,
    infl,
    last_layer_inverse_hvp,
    removal_infl,
    suggest_labels,
    validation_gradient,
)

#: The ranking rules :class:`INFLSelector` knows.
STRATEGIES = ("infl", "infl_d", "least_confidence", "entropy")


@dataclass
class Selection:
    """The ``b`` rows to clean and what ranking them found.

    ``suggested`` holds class indices (``None``: no rule suggests, keep the
    current labels); ``evaluated`` and ``evaluated_suggested`` are every row
    whose INFL was computed exactly this round and its suggestion.
    """

    rows: np.ndarray
    suggested: np.ndarray | None
    keys: np.ndarray
    n_exact: int
    evaluated: np.ndarray | None = None
    evaluated_suggested: np.ndarray | None = None


class INFLSelector:
    """Ranks candidate rows for cleaning (CHEF), reusing each round's work in the next.

    Parameters
    ----------
    strategy : {"infl", "infl_d", "least_confidence", "entropy"}, default="infl"
        INFL (Eq. 6), plain removal influence (Eq. 2, "INFL-D"), or active
        learning by least confidence / entropy.  Only INFL suggests labels.
    suggestion : {"alternative", "predicted", "infl"}, default="alternative"
        The rule of :func:`suggest_labels`: the model's most probable class
        other than the current label (for a probabilistic label, the most
        probable class, its own included), the model's prediction, or the
        class minimising INFL (the paper's Eq. 6, ``argmin_c I(i, c)``).  The
        argmin favours the classes the *validation* loss needs most rather
        than the row's own class: on a 20-class problem its suggestions for
        wrong labels were right 19% of the time against 67% for
        ``"alternative"``, whose ranking also had the best ROC AUC of the
        three on every data set measured
        (``benchmarks/results/chef_suggestion.txt``; the in-sample
        probability of the given label ranks better than all three).  On
        CHEF's probabilistic labels (Exp1) ``"alternative"`` suggests the
        true label for 91–98% of the rows it picks, the argmin for 64–95%
        (``benchmarks/results/chef_exp1.txt``).
    selection : {"full", "incremental"}, default="full"
        ``"incremental"`` is Increm-INFL: bounds every row's INFL from
        quantities cached in an initialisation round and evaluates exactly
        only the rows whose bound can reach the top ``b``.  The bound uses
        the global curvature limit ``λ_max(diag p − ppᵀ) ≤ 1/2`` (1/4 for a
        sigmoid), so it always returns the same rows as ``"full"``.
    gamma : float, default=0.8
        Weight of uncleaned rows.
    solver : {"auto", "pcg", "exact", "cg"}, default="auto"
        How ``H⁻¹ ∇L_val`` is obtained.  ``"exact"``: eigendecomposition of
        the explicit last-layer Hessian, built every round.  ``"cg"``:
        conjugate gradient over Hessian-vector products, warm-started from
        the previous round's solution.  ``"pcg"``: the same, preconditioned
        by a Hessian factorised once (on at most ``max_rows`` rows) and
        reused while it keeps the solve to a few iterations — labels change
        a little per round, so the Hessian does too.  ``"auto"``: ``"cg"``
        until a solve needs more than ``refresh_after`` iterations, then (for
        last layers of at most 4,096 parameters) the Hessian is factorised and
        CG goes on preconditioned.  Factorising costs ``O(rows · P²)``, tens
        of CG iterations on a well-conditioned problem, where warm-started CG
        needs three or four.
    damping : float, default=0.0
    max_rows : int, default=20_000
        Rows the preconditioning Hessian is estimated from.
    refresh_after : int, default=25
        CG iterations beyond which the preconditioner is built (``"auto"``)
        or rebuilt (a fresh one takes about 10 at tol 1e-8; plain CG about
        50 on an ill-conditioned problem).
    tol : float, default=1e-4
        CG's relative residual: ``‖v − H⁻¹g‖ ≤ tol ‖g‖ / λ_min``.
    random_state : numpy.random.RandomState
        Draws the preconditioner's row sample.

    Attributes
    ----------
    n_iter_ : int or None
        CG iterations of the last solve (``None`` for ``"exact"``).
    time_solve_ : float
        Seconds the last solve took.

    Notes
    -----
    A copy (``copy.deepcopy``, as a cleaner's rollback makes) shares the
    preconditioner and the Increm-INFL cache: they are replaced, never
    modified in place, and copying them would cost a ``P × P`` matrix.
    """

    def __init__(self, strategy="infl", suggestion="alternative", selection="full", gamma=0.8,
                 solver="auto", damping=0.0, max_rows=20_000, refresh_after=25, tol=1e-4,
                 random_state=None):
        self.strategy, self.suggestion, self.selection = strategy, suggestion, selection
        self.gamma, self.solver, self.damping = gamma, solver, damping
        self.max_rows, self.refresh_after, self.random_state = max_rows, refresh_after, random_state
        self.tol = tol
        self.n_iter_, self.time_solve_ = None, 0.0
        self._x0 = self._precond = self._incremental = None

    def __deepcopy__(self, memo):
        new = copy.copy(self)
        new._x0 = copy.deepcopy(self._x0, memo)
        new.random_state = copy.deepcopy(self.random_state, memo)
        return new

    def reset_rows(self):
        """Rows were added: Increm-INFL's per-row cache no longer covers them."""
        self._incremental = None

    # ------------------------------------------------------------------ the solve
    def _factorises(self, adapter):
        return self.solver == "pcg" or (
            self.solver == "auto" and adapter.n_params("last") <= PRECONDITION_MAX_PARAMS)

    def _build(self, adapter, X, sample_weight, y):
        self._precond = sampled_hessian_inverse(
            adapter, X, sample_weight, y=y, max_rows=self.max_rows, damping=self.damping,
            random_state=self.random_state)
        return self._precond

    def preconditioner(self, adapter, X, sample_weight, y=None):
        """The cached ``(H + damping I)⁻¹`` of an earlier round (``None`` if not used).

        ``"pcg"`` factorises it at the first call; ``"auto"`` only once a plain CG
        solve has needed more than ``refresh_after`` iterations (until then the
        factorisation would cost more than the iterations it saves).
        """
        if self.solver == "pcg" and self._precond is None:
            return self._build(adapter, X, sample_weight, y)
        return self._precond if self._factorises(adapter) else None

    def direction(self, adapter, X, sample_weight, X_trusted, y_trusted, y=None):
        """``V = H⁻¹ ∇L_trusted`` at the current model, shaped ``(n_outputs, d + 1)``
        (``y``: the training labels, which a class-weighted Hessian depends on)."""
        t0 = time.perf_counter()
        g = validation_gradient(adapter, X_trusted, y_trusted)
        exact = self.solver == "exact"
        if exact:
            v, n_iter = last_layer_inverse_hvp(adapter, X, g, sample_weight=sample_weight, y=y,
                                               method="exact", damping=self.damping)
        else:
            precond = self.preconditioner(adapter, X, sample_weight, y)
            # "auto" without a factorisation yet: plain CG, stopped at refresh_after
            # iterations; if that was not enough the factorisation pays for itself, and
            # preconditioned CG goes on from where plain CG stopped
            capped = precond is None and self.solver == "auto" and self._factorises(adapter)
            solve = functools.partial(last_layer_inverse_hvp, adapter, X, g,
                                      sample_weight=sample_weight, y=y, damping=self.damping,
                                      tol=self.tol)
            v, n_iter = solve(x0=self._x0, preconditioner=precond,
                              maxiter=self.refresh_after if capped else None)
            if capped and n_iter >= self.refresh_after:
                v, more = solve(x0=v, preconditioner=self._build(adapter, X, sample_weight, y))
                n_iter += more
            elif n_iter > self.refresh_after and precond is not None:
                self._precond = None  # the Hessian has drifted: factorise it again next time
            self.n_iter_, self._x0 = n_iter, v
        self.time_solve_ = time.perf_counter() - t0
        return v.reshape(adapter.head.n_outputs, -1)

    # ------------------------------------------------------------------ the ranking
    def scores(self, adapter, X, Y, V):
        """Each row's INFL at its suggestion (lower = more harmful label) and the suggestion."""
        I, P = infl(adapter, X, Y, V, gamma=self.gamma)
        sugg, key = suggest_labels(I.cpu().numpy(), P, Y, self.suggestion)
        return key, sugg

    def select(self, adapter, X, Y, rows, b, *, sample_weight=None, trusted=None):
        """The ``b`` best of ``rows`` (positions in ``X``) to clean next, as a :class:`Selection`.

        ``trusted = (X_trusted, y_trusted)`` is needed by the influence rules.
        """
        self.time_solve_ = 0.0
        if self.strategy in ("least_confidence", "entropy"):
            P = adapter.predict_proba(X[rows])
            if self.strategy == "least_confidence":
                key = P.max(1)
            else:
                key = (P * np.log(np.clip(P, 1e-300, None))).sum(1)  # −entropy
            return self._lowest(rows, key, b)
        V = self.direction(adapter, X, sample_weight, *trusted, y=Y)
        if self.strategy == "infl_d":
            return self._lowest(rows, removal_infl(adapter, X[rows], Y[rows], V), b)
        if self.selection == "incremental":
            return self._incremental_select(adapter, X, Y, rows, V, b)
        if len(rows) > 0.5 * X.shape[0]:  # score every row: cheaper than copying most of X
            key, sugg = self.scores(adapter, X, Y, V)
            key, sugg = key[rows], sugg[rows]
        else:
            key, sugg = self.scores(adapter, X[rows], Y[rows], V)
        return self._top(rows, key, sugg, b, len(rows))

    @staticmethod
    def _lowest(rows, key, b):
        order = np.argsort(key, kind="stable")[:b]
        return Selection(rows[order], None, key[order], len(rows))

    @staticmethod
    def _top(rows, key, sugg, b, n_exact):
        order = np.argsort(key, kind="stable")[:b]
        return Selection(rows[order], sugg[order], key[order], n_exact, rows, sugg)

    def _incremental_select(self, adapter, X, Y, rows, V, b):
        """Increm-INFL (Algorithm 1): rows whose bound cannot reach the top ``b`` are pruned,
        the others evaluated exactly, so the result equals full selection."""
        fresh = self._incremental is None
        if fresh:  # the initialisation round caches features and residuals at w(0)
            self._incremental = IncrementalINFL(adapter, X, Y, gamma=self.gamma)
        inc = self._incremental
        W = adapter.last_layer_params()
        centre, A, P = inc.centres(rows, V, W)
        sugg, key = suggest_labels(centre, P, Y[rows], self.suggestion)
        if fresh:
            return self._top(rows, key, sugg, b, len(rows))
        # the bound holds for every class, so for the one each row's key is taken at
        cand = rows[increm_infl_candidates(key, inc.radius(rows, A, W), b)]
        if len(cand) > 0.5 * len(rows):  # w has drifted far from w(0): refresh the cache
            self._incremental = None
        key, sugg = self.scores(adapter, X[cand], Y[cand], V)
        return self._top(cand, key, sugg, b, len(cand))
