"""Matrix-free iterative solvers shared by the influence code and the models."""

import torch

# A factorised Hessian preconditions CG up to this many parameters: factorising costs
# O(rows · P²) once, and it is reused while the parameters move little (CHEF rounds,
# Newton steps from a nearby optimum).
PRECONDITION_MAX_PARAMS = 4096


def cg_solve(matvec, b, *, damping=0.0, tol=1e-10, maxiter=None, x0=None, preconditioner=None):
    """Solve ``(A + damping I) x = b`` by (preconditioned) conjugate gradient, matrix-free.

    Runs on ``b``'s device in its dtype (scipy's CG would copy to the host at
    every iteration).  ``A`` must be symmetric positive (semi-)definite on the
    span of ``b``; stops when ``‖r‖ ≤ tol · ‖b‖``.  ``preconditioner``, a
    symmetric positive (semi-)definite ``r -> M⁻¹ r`` with ``M ≈ A``, cuts the
    iterations to a handful when ``M`` is ``A`` at nearby parameters.

    Returns
    -------
    x : tensor
    n_iter : int
    """
    maxiter = maxiter or 10 * b.numel()
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - (matvec(x) + damping * x)
    z = r if preconditioner is None else preconditioner(r)
    p = z.clone()
    rz = r @ z
    stop = (tol * torch.linalg.vector_norm(b)) ** 2
    for it in range(1, maxiter + 1):
        if r @ r <= stop or rz <= 0:
            return x, it - 1
        Ap = matvec(p) + damping * p
        alpha = rz / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        z = r if preconditioner is None else preconditioner(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, maxiter
