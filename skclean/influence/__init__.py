"""Influence core: public functions over a model adapter's last-layer state and rows.

Every estimator computes its scores here, and the tests and benchmarks call
the same functions: Fisher and Hessian solves (:mod:`.fisher`,
:mod:`.hessian`), CHEF's INFL with its pieces and Increm-INFL bounds
(:mod:`.infl`), CINCER's counter-example scores (:mod:`.counterexamples`),
and the class-based similarities of the detectors (:mod:`.similarity`).
"""

from .counterexamples import (
    COUNTEREXAMPLES,
    CounterexampleSearch,
    counterexample_scores,
    fisher_inverse,
)
from .fisher import (
    SymmetricInverse,
    full_fisher,
    full_fisher_diagonal,
    top_fisher,
    top_fisher_diagonal,
    top_fisher_diagonal_from_outputs,
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
    lissa_inverse_hvp,
    minibatch_hvp,
    sampled_hessian_inverse,
    self_influence,
)
from .infl import (
    SUGGESTIONS,
    IncrementalINFL,
    increm_infl_candidates,
    infl,
    infl_from_outputs,
    last_layer_inverse_hvp,
    removal_infl,
    suggest_labels,
    validation_gradient,
)
from .scores import removal_influence, retrain_loss_change
from .selection import STRATEGIES, INFLSelector, Selection
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
    "COUNTEREXAMPLES",
    "CounterexampleSearch",
    "counterexample_scores",
    "fisher_inverse",
    "lissa_inverse_hvp",
    "IncrementalINFL",
    "INFLSelector",
    "Selection",
    "STRATEGIES",
    "SUGGESTIONS",
    "increm_infl_candidates",
    "infl",
    "infl_from_outputs",
    "last_layer_inverse_hvp",
    "removal_infl",
    "suggest_labels",
    "validation_gradient",
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
    "self_influence",
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
    "top_fisher_diagonal_from_outputs",
    "top_fisher_from_outputs",
    "top_fisher_vp",
    "tracin_mean_similarity",
    "unit_features",
]
