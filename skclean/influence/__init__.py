"""Influence core: pure functions over a model adapter, vectorised over examples."""

from .fisher import (
    SymmetricInverse,
    full_fisher,
    full_fisher_diagonal,
    top_fisher,
    top_fisher_diagonal,
    top_fisher_from_outputs,
    top_fisher_vp,
)
from .hessian import (
    LissaDivergenceError,
    cg_solve,
    exact_inverse_hvp,
    largest_eigenvalue,
    last_layer_hessian,
    lissa,
    minibatch_hvp,
    sampled_hessian_inverse,
)
from .scores import removal_influence, retrain_loss_change
from .similarity import (
    SIMILARITIES,
    group_mean_gradients,
    mean_similarity,
    pairwise_similarity,
    reference_means,
    score_against_means,
    self_similarity,
    tracin_mean_similarity,
    unit_features,
)

__all__ = [
    "LissaDivergenceError",
    "largest_eigenvalue",
    "SIMILARITIES",
    "SymmetricInverse",
    "cg_solve",
    "exact_inverse_hvp",
    "full_fisher",
    "full_fisher_diagonal",
    "group_mean_gradients",
    "last_layer_hessian",
    "lissa",
    "mean_similarity",
    "minibatch_hvp",
    "pairwise_similarity",
    "reference_means",
    "removal_influence",
    "retrain_loss_change",
    "sampled_hessian_inverse",
    "score_against_means",
    "self_similarity",
    "top_fisher",
    "top_fisher_diagonal",
    "top_fisher_from_outputs",
    "top_fisher_vp",
    "tracin_mean_similarity",
    "unit_features",
]
