"""Output heads: how logits become probabilities, losses and curvatures.

Every model skclean wraps ends in a linear layer whose outputs (logits) feed
either a softmax over ``C`` classes or, for scikit-learn's binary logistic
regression, a single sigmoid logit.  The influence code only ever needs four
things from that head, all closed-form in the logits ``Z``:

* the per-example loss,
* the residual ``dl/dZ`` (``p - e_y`` for softmax, ``sigma(z) - y`` for sigmoid),
* the curvature ``A = d2l/dZ2``, which for these canonical links does not
  depend on the label, so it is also the expected Fisher in logit space,
* a square root ``S`` of that curvature (``A = S S^T``) for Gram-style builds.
"""

import torch
import torch.nn.functional as F


def _as_targets(y, n_classes, dtype):
    """One-hot encode index labels; pass probabilistic (n, C) targets through."""
    if y.ndim == 1:
        # a comparison rather than F.one_hot: it works under torch.func.vmap
        classes = torch.arange(n_classes, device=y.device)
        return (y.long()[:, None] == classes).to(dtype)
    return y.to(dtype)


class SoftmaxHead:
    """Multinomial head: ``K = C`` logits and a softmax."""

    name = "softmax"
    #: A bound on the norm of the softmax Jacobian ``diag p − ppᵀ`` (Increm-INFL's ``L``).
    max_curvature = 0.5

    def __init__(self, n_classes):
        self.n_classes = n_classes
        self.n_outputs = n_classes

    def proba(self, Z):
        return torch.softmax(Z, dim=1)

    def loss(self, Z, y):
        """Cross-entropy per row; ``y`` holds indices (n,) or probabilities (n, C)."""
        T = _as_targets(y, self.n_classes, Z.dtype)
        return -(T * torch.log_softmax(Z, dim=1)).sum(1)

    def residual(self, Z, y):
        return self.proba(Z) - _as_targets(y, self.n_classes, Z.dtype)

    def curvature_terms(self, Z):
        """``(D, Q)`` with ``A_i = diag(D_i) - Q_i Q_i^T``; here both are ``p``."""
        P = self.proba(Z)
        return P, P

    def curvature(self, Z):
        D, Q = self.curvature_terms(Z)
        return torch.diag_embed(D) - Q[:, :, None] * Q[:, None, :]

    def curvature_sqrt(self, Z):
        # diag(sqrt p) - p sqrt(p)^T squares to diag(p) - p p^T because sum(p) = 1.
        P = self.proba(Z)
        s = P.sqrt()
        return torch.diag_embed(s) - P[:, :, None] * s[:, None, :]


class SigmoidHead:
    """Binary head with one logit (scikit-learn's binary ``LogisticRegression``)."""

    name = "sigmoid"
    #: A bound on ``p(1 − p)``, the sigmoid's derivative.
    max_curvature = 0.25
    n_classes = 2
    n_outputs = 1

    def proba(self, Z):
        p1 = torch.sigmoid(Z[:, 0])
        return torch.stack([1 - p1, p1], dim=1)

    @staticmethod
    def _positive(y, dtype):
        return y.to(dtype) if y.ndim == 1 else y[:, 1].to(dtype)

    def loss(self, Z, y):
        z = Z[:, 0]
        return F.softplus(z) - self._positive(y, Z.dtype) * z

    def residual(self, Z, y):
        return (torch.sigmoid(Z[:, 0]) - self._positive(y, Z.dtype))[:, None]

    def curvature_terms(self, Z):
        p = torch.sigmoid(Z)
        return p * (1 - p), torch.zeros_like(p)

    def curvature(self, Z):
        D, _ = self.curvature_terms(Z)
        return D[:, :, None]

    def curvature_sqrt(self, Z):
        D, _ = self.curvature_terms(Z)
        return D.sqrt()[:, :, None]


class OneVsRestHead(SoftmaxHead):
    """``C`` independent sigmoid logits, one binary model per class (one-vs-rest), as
    scikit-learn's ``SGDClassifier(loss="log_loss")`` fits a multiclass problem.

    The loss is the sum of the ``C`` binary cross-entropies against the one-hot
    (or probabilistic) target, so the curvature is diagonal in logit space:
    ``A = diag(σ(z)(1 − σ(z)))``, ``Q = 0``.  Probabilities are the sigmoids
    normalised to sum to one, as scikit-learn's ``predict_proba`` does.
    """

    # a logit per class, as the softmax head (whose constructor it shares); the rest differs
    name = "one-vs-rest"
    max_curvature = 0.25

    def proba(self, Z):
        S = torch.sigmoid(Z)
        return S / S.sum(1, keepdim=True)

    def loss(self, Z, y):
        T = _as_targets(y, self.n_classes, Z.dtype)
        return (F.softplus(Z) - T * Z).sum(1)

    def residual(self, Z, y):
        return torch.sigmoid(Z) - _as_targets(y, self.n_classes, Z.dtype)

    def curvature_terms(self, Z):
        p = torch.sigmoid(Z)
        return p * (1 - p), torch.zeros_like(p)

    def curvature(self, Z):
        return torch.diag_embed(self.curvature_terms(Z)[0])

    def curvature_sqrt(self, Z):
        return torch.diag_embed(self.curvature_terms(Z)[0].sqrt())


def make_head(n_outputs, n_classes, *, one_vs_rest=False):
    if one_vs_rest and n_outputs == n_classes > 2:
        return OneVsRestHead(n_classes)
    if n_outputs == 1 and n_classes == 2:
        return SigmoidHead()
    if n_outputs == n_classes:
        return SoftmaxHead(n_classes)
    raise ValueError(
        f"The model's last linear layer has {n_outputs} outputs for {n_classes} classes; "
        "expected one output per class (or a single logit for a binary problem)."
    )
