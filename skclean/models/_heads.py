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

Class weights (scikit-learn's ``class_weight``) are part of the loss: a row of
class ``c`` counts ``cw_c`` times in the objective, so :class:`ClassWeightedHead`
scales the loss, residual and curvature of each row by its label's weight.
The curvature then depends on the labels, and asking for it without them is
an error rather than a silently unweighted Hessian.
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

    def curvature_terms(self, Z, y=None):
        """``(D, Q)`` with ``A_i = diag(D_i) - Q_i Q_i^T``; here both are ``p`` (the
        labels ``y`` do not enter: the curvature of a canonical link is label-free)."""
        P = self.proba(Z)
        return P, P

    def curvature(self, Z, y=None):
        D, Q = self.curvature_terms(Z, y)
        return torch.diag_embed(D) - Q[:, :, None] * Q[:, None, :]

    def residual_shift(self, gamma):
        """Lipschitz constant of INFL's class residuals in the logits: ``(1 − γ) L``
        (Increm-INFL, Theorem 1)."""
        return (1 - gamma) * self.max_curvature

    def curvature_sqrt(self, Z, y=None):
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

    def curvature_terms(self, Z, y=None):
        p = torch.sigmoid(Z)
        return p * (1 - p), torch.zeros_like(p)

    def curvature(self, Z, y=None):
        D, _ = self.curvature_terms(Z, y)
        return D[:, :, None]

    def curvature_sqrt(self, Z, y=None):
        D, _ = self.curvature_terms(Z, y)
        return D.sqrt()[:, :, None]

    residual_shift = SoftmaxHead.residual_shift


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

    def curvature_terms(self, Z, y=None):
        p = torch.sigmoid(Z)
        return p * (1 - p), torch.zeros_like(p)

    def curvature(self, Z, y=None):
        return torch.diag_embed(self.curvature_terms(Z, y)[0])

    def curvature_sqrt(self, Z, y=None):
        return torch.diag_embed(self.curvature_terms(Z, y)[0].sqrt())


class ClassWeightedHead:
    """``head`` with each row's loss weighted by its label's class weight.

    A row with label ``c`` contributes ``cw_c ℓ(z, c)``; a probabilistic label
    ``t`` contributes ``Σ_c cw_c t_c ℓ(z, c)``, which (the loss being linear in
    the target) is ``m ℓ(z, t')`` with ``m = Σ_c cw_c t_c`` and
    ``t' = cw ⊙ t / m``.  Residuals scale by ``m`` and so does the curvature:
    ``diag(mD) − (√m Q)(√m Q)ᵀ``.  This is the objective scikit-learn fits with
    ``class_weight`` (it multiplies each row's sample weight by ``cw_y``).

    Parameters
    ----------
    head : SoftmaxHead, SigmoidHead or OneVsRestHead
    class_weight : tensor of shape (n_classes,)
        One weight per class, in the order of the adapter's ``classes_``.
    """

    name = "class-weighted"

    def __init__(self, head, class_weight):
        self.base = head
        self.class_weight = class_weight
        self.n_classes, self.n_outputs = head.n_classes, head.n_outputs
        self.max_curvature = head.max_curvature * float(class_weight.max())

    def fold(self, y, dtype):
        """``(m, t')``: each row's weight and its reweighted target."""
        cw = self.class_weight.to(dtype=dtype, device=y.device)
        if y.ndim == 1:
            return cw[y.long()], y
        T = y.to(dtype)
        m = T @ cw
        safe = torch.where(m > 0, m, torch.ones_like(m))  # a weightless row keeps its target
        return m, T * cw / safe[:, None]

    def proba(self, Z):
        return self.base.proba(Z)

    def loss(self, Z, y):
        m, t = self.fold(y, Z.dtype)
        return m * self.base.loss(Z, t)

    def residual(self, Z, y):
        m, t = self.fold(y, Z.dtype)
        return m[:, None] * self.base.residual(Z, t)

    def _labels(self, y):
        if y is None:
            raise ValueError(
                "The model weighs classes (class_weight), so the curvature of its objective "
                "depends on the labels: pass y.")
        return y

    def curvature_terms(self, Z, y=None):
        m, _ = self.fold(self._labels(y), Z.dtype)
        D, Q = self.base.curvature_terms(Z)
        return D * m[:, None], Q * m.sqrt()[:, None]

    def curvature(self, Z, y=None):
        m, _ = self.fold(self._labels(y), Z.dtype)
        return self.base.curvature(Z) * m[:, None, None]

    def curvature_sqrt(self, Z, y=None):
        m, _ = self.fold(self._labels(y), Z.dtype)
        return self.base.curvature_sqrt(Z) * m.sqrt()[:, None, None]

    def residual_shift(self, gamma):
        # the class-c residual moves by (cw_c − γ m)(p(W) − p(W0)), |cw_c − γ m| ≤ max − γ min
        cw = self.class_weight
        return (float(cw.max()) - gamma * float(cw.min())) * self.base.max_curvature


def make_head(n_outputs, n_classes, *, one_vs_rest=False, class_weight=None):
    """The head for a last layer of ``n_outputs`` logits over ``n_classes`` classes,
    weighted by ``class_weight`` (a tensor over the classes) when given."""
    head = _plain_head(n_outputs, n_classes, one_vs_rest)
    return head if class_weight is None else ClassWeightedHead(head, class_weight)


def model_curvature_head(head):
    """The unweighted head under ``head``: the model's predictive curvature (the
    expected Fisher), which class weights of the training objective do not change."""
    return getattr(head, "base", head)


def _plain_head(n_outputs, n_classes, one_vs_rest):
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
