"""Class-conditional label noise: which wrong labels this data set's annotators give.

Annotators rarely err at random: they mix up particular pairs of classes
(adjacent grades, look-alike species).  A model trained on such labels learns
the confusions too, so the log-probability ``log p(ỹ|x)`` it gives a row's
label ``ỹ`` is a weak witness against exactly the wrong labels that are
common.  Under a class-conditional noise model ``N[k, j] = P(label j | class
k)`` (Angluin & Laird 1988; estimated from the model's own probabilities as
the "confident joint" of cleanlab, Northcutt et al. 2021, but soft), Bayes'
rule gives the probability that the label is right:

    P(y = ỹ | x, ỹ) = p(ỹ|x) N[ỹ, ỹ] / Σ_k p(k|x) N[k, ỹ].

A row labelled ``j`` whose probability lies on classes that are rarely given
label ``j`` keeps a high posterior however unsure the model is; one whose
probability lies on a class often mislabelled ``j`` does not.

``p(k|x)`` above should be the *clean* class probability, and a model fitted
to the noisy labels gives the noisy one.  ``"refit"`` closes the gap by
expectation-maximisation (Dawid & Skene 1979): it starts from ``N`` as the
trusted rows show it (row ``k``: the noisy model's mean probabilities over
the trusted rows of class ``k``, the estimate of Hendrycks et al. 2018), each
row's posterior over its true class is the soft target of a refit of the same
estimator (weighted copies of the row, one per class it may belong to), and
``N`` is estimated again from the refit model; two rounds, each continuing
from the previous model where the estimator has ``warm_start``.  It refits
the model on up to ``n_classes`` weighted copies of each row (those whose
posterior is above ``MIN_TARGET``), so it costs a few fits.  Where annotators
confuse particular classes it finds far more of their wrong labels than the
noisy model does.

Rows an oracle has answered are known: their answer is their true class (a
one-hot posterior) and their label as first given is what the annotators
wrote, so each is an exact (true, given) pair of ``N``.  Since the oracle was
asked about rows for what the data showed of them, the likelihood stays
unbiased with the answers in, and with them ``N`` can be fitted to its
maximum likelihood (:func:`fit_noise_matrix`) where the answers show that
this predicts them better than the soft joint does
(:func:`estimate_noise_matrix`).  The verified rows, trusted and answered,
then enter each refit as rows of their own class (``anchors``): the answered
ones sit on the class boundaries, where the noisy labels cannot tell class
overlap from label noise.  Not before there are answers: the trusted rows
choose the noise model, and rows the refit was fitted to would look better
to it than to the plain model, which never saw them.

Where labels were flipped at random the estimate of ``N`` only adds noise to
the ranking ``log p(ỹ|x)`` already gives, so by default the trusted rows
choose among the plain log-probability, ``"class"`` and ``"refit"``
(:func:`choose_noise_model`): they are clean, so the score that flags fewer
of them flags fewer clean training rows (measured in
``benchmarks/detection_hard.py``).  On small data the weighted copies let the
refit overfit and EM run away (the refit model then predicts the clean,
trusted labels worse than the noisy model did): such a refit is not a
candidate.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import has_fit_parameter

from .._sparse import stack_rows
from ._loss_weight import flag_quantiles, flag_rates, near_best

#: The ``noise_model`` options of the detectors.
NOISE_MODELS = ("auto", "class", "refit", None)
#: What ``"auto"`` chooses from, plain first.
KINDS = (None, "class", "refit")
#: EM rounds of ``"refit"``, and the posterior below which a (row, class) copy is dropped
REFIT_ROUNDS = 2
MIN_TARGET = 1e-3
#: EM iterations of ``N`` with the class probabilities held, and the change that stops them
NOISE_ITER, NOISE_TOL = 50, 1e-6


def noise_matrix(proba, y, n_classes):
    """The row-normalised soft joint of the model's classes and the given labels.

    ``N[k, j] = Σ_{i: y_i = j} p_i(k) / Σ_i p_i(k)``: of the probability mass
    the model puts on class ``k``, the share that carries label ``j``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        The model's class probabilities of the training rows.
    y : ndarray of int of shape (n_samples,)
        The given labels, as indices into the classes.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Rows sum to 1; a class the model never predicts keeps the identity row.
    """
    proba = np.asarray(proba, dtype=np.float64)
    joint = np.zeros((n_classes, n_classes))
    np.add.at(joint.T, y, proba)  # joint[:, y_i] += p_i
    mass = joint.sum(1, keepdims=True)
    eye = np.eye(n_classes)
    return np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), eye)


def label_log_posterior(proba, y, matrix):
    """``log P(y = ỹ | x, ỹ)`` per row under the noise ``matrix`` (see the module doc).

    With ``matrix=None`` the model's own ``log p(ỹ|x)``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    rows = np.arange(len(y))
    tiny = np.finfo(np.float64).tiny  # a probability of 0 stays the lowest score, finite
    own = proba[rows, y]
    if matrix is None:
        return np.log(np.maximum(own, tiny))
    given = np.maximum(own * matrix[y, y], tiny)
    evidence = np.einsum("ik,ki->i", proba, matrix[:, y])  # Σ_k p_i(k) N[k, y_i]
    return np.log(given) - np.log(np.maximum(evidence, given))


def class_posterior(proba, y, matrix, known=None):
    """``P(y = k | x, ỹ)`` for every class ``k``: ``(n_samples, n_classes)``, rows sum to 1.

    ``known``: ``(rows, classes)``, rows whose true class is known (one-hot there).
    """
    R = np.asarray(proba, dtype=np.float64) * matrix[:, y].T
    total = R.sum(1, keepdims=True)
    # a row whose label no class explains (all zeros) keeps its label
    R[total[:, 0] == 0, y[total[:, 0] == 0]] = 1.0
    R /= np.maximum(R.sum(1, keepdims=True), np.finfo(np.float64).tiny)
    return R if known is None else _one_hot(R, *known)


def _one_hot(P, rows, classes):
    """``P`` with the rows ``rows`` set to one-hot at ``classes`` (known true classes)."""
    P[rows] = 0.0
    P[rows, classes] = 1.0
    return P


def fit_noise_matrix(proba, y, matrix, known=None, n_iter=NOISE_ITER, tol=NOISE_TOL):
    """The maximum-likelihood ``N`` with the class probabilities held: EM over true classes.

    The given labels' likelihood is ``Π_i Σ_k p_i(k) N[k, ỹ_i]``.  E-step:
    each row's posterior over its true class (:func:`class_posterior`);
    M-step: ``N[k, j] = Σ_{i: ỹ_i = j} R_ik / Σ_i R_ik``.  With ``proba`` the
    clean class probabilities this recovers the annotators' ``N``; the soft
    joint of :func:`noise_matrix` instead mixes the classes' overlap into it.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Class probabilities of the training rows (held).
    y : ndarray of int of shape (n_samples,)
        The labels as given, as indices into the classes.
    matrix : ndarray of shape (n_classes, n_classes)
        The starting ``N``.
    known : tuple ``(rows, classes)`` or None
        Rows whose true class is known (an oracle's answers), with those
        classes as indices; their posterior is one-hot there.
    n_iter : int
        At most this many EM iterations.
    tol : float
        Stop once no entry of ``N`` moves by more.

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Rows sum to 1; a class no row may belong to keeps its starting row.
    """
    n_classes = matrix.shape[0]
    for _ in range(n_iter):
        R = class_posterior(proba, y, matrix, known)
        joint = np.zeros((n_classes, n_classes))
        np.add.at(joint.T, y, R)  # joint[:, ỹ_i] += R_i
        mass = joint.sum(1, keepdims=True)
        new = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), matrix)
        done = np.abs(new - matrix).max() <= tol
        matrix = new
        if done:
            break
    return matrix


def can_refit(estimator):
    """Whether ``"refit"`` applies: a scikit-learn classifier with ``predict_proba`` that takes
    ``sample_weight`` (networks, and ``SGDClassifier`` with the hinge loss, do not)."""
    # a plain torch module has no scikit-learn tags to ask
    return (isinstance(estimator, BaseEstimator) and is_classifier(estimator)
            and has_fit_parameter(estimator, "sample_weight")
            and hasattr(estimator, "predict_proba"))


def aligned_proba(model, X, classes):
    """``model.predict_proba(X)`` with a column per class of ``classes`` (0 for a class the
    model never saw)."""
    P = np.asarray(model.predict_proba(X), dtype=np.float64)
    out = np.zeros((P.shape[0], len(classes)))
    out[:, np.searchsorted(classes, model.classes_)] = P
    return out


def trusted_noise_matrix(proba, y, n_classes):
    """``N`` as the trusted rows show it: row ``k`` is the noisy model's mean probabilities
    over the trusted rows of class ``k`` (the identity row for a class with none)."""
    proba = np.asarray(proba, dtype=np.float64)
    counts = np.bincount(y, minlength=n_classes)[:, None]
    total = np.zeros((n_classes, n_classes))
    np.add.at(total, y, proba)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.eye(n_classes))


def _start_from(estimator, init):
    """An unfitted copy of ``estimator``, or, where it has ``warm_start``, a copy of the fitted
    ``init`` set to continue from its optimum (the noisy model's is close to the refit's)."""
    if (init is not None and type(init) is type(estimator) and hasattr(init, "coef_")
            and "warm_start" in estimator.get_params()):
        return copy.deepcopy(init).set_params(warm_start=True)
    return clone(estimator)


def refit_on_posterior(estimator, X, y, proba, classes, matrix, n_rounds=REFIT_ROUNDS,
                       init=None, anchors=None, known=None):
    """Expectation-maximisation of the clean model and the noise matrix (see the module doc).

    Parameters
    ----------
    estimator : classifier
        Unfitted template (cloned each round); must pass :func:`can_refit`.
    X : array-like or sparse matrix of shape (n_samples, n_features)
    y : ndarray of int
        The labels as given, as indices into ``classes``.
    proba : ndarray of shape (n_samples, n_classes)
        The noisy model's probabilities: the first E-step's.
    classes : ndarray
    matrix : ndarray of shape (n_classes, n_classes)
        The starting ``N`` (:func:`trusted_noise_matrix`).
    n_rounds : int
    init : fitted classifier or None
        The noisy model, where the first refit may continue from it.
    anchors : tuple ``(X_trusted, y_trusted)`` or None
        Verified rows (labels as indices into ``classes``), in every refit as
        rows of their own class with weight 1.
    known : tuple ``(rows, classes)`` or None
        Rows of ``X`` whose true class is known (indices into ``classes``);
        ``y`` holds their label as first given.

    Returns
    -------
    model : the refit classifier
    matrix : ndarray of shape (n_classes, n_classes)
        ``N`` estimated from ``model``'s probabilities (:func:`estimate_noise_matrix`).
    proba : ndarray of shape (n_samples, n_classes)
        ``model``'s probabilities of ``X``.
    """
    model = init
    for _ in range(n_rounds):
        R = class_posterior(proba, y, matrix, known)
        rows, cols = np.nonzero(R > MIN_TARGET)
        X_fit, y_fit, w = _safe_indexing(X, rows), classes[cols], R[rows, cols]
        if anchors is not None:
            X_fit = stack_rows([X_fit, anchors[0]])
            y_fit = np.concatenate([y_fit, classes[anchors[1]]])
            w = np.concatenate([w, np.ones(len(anchors[1]))])
        model = _start_from(estimator, model).fit(X_fit, y_fit, sample_weight=w)
        proba = aligned_proba(model, X, classes)
        matrix = estimate_noise_matrix(proba, y, len(classes), known)
    if "warm_start" in model.get_params():  # the user's setting back on the model kept
        model.set_params(warm_start=estimator.get_params()["warm_start"])
    return model, matrix, proba


def estimate_noise_matrix(proba, y, n_classes, known=None):
    """``N`` from a refit model's probabilities, and the oracle's answers where there are any.

    Without answers: the soft joint (:func:`noise_matrix`).  With them, two
    estimates are weighed: the soft joint and its maximum likelihood
    (:func:`fit_noise_matrix`).  The second recovers the annotators' ``N``
    where the model's probabilities are right, and bends ``N`` to cover their
    errors where the model is misspecified.  The answers tell the two apart:
    each estimate is made without them, and the one under which the
    answered rows' posteriors give their answers the higher likelihood is made
    again with them in (an answered row's true class is its answer, and its
    label as given a column of ``N``).

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
    y : ndarray of int of shape (n_samples,)
        The labels as given, as indices into the classes.
    n_classes : int
    known : tuple ``(rows, classes)`` or None
        The answered rows and their answers, as indices into the classes.

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
    """
    if known is None or len(known[0]) == 0:
        return noise_matrix(proba, y, n_classes)
    rows, truth = known
    soft = noise_matrix(proba, y, n_classes)
    # (an answer the posterior rules out entirely scores the float's tiny, not -inf)
    tiny = np.finfo(np.float64).tiny
    likelihood = [np.log(np.maximum(class_posterior(proba[rows], y[rows], M)[
        np.arange(len(rows)), truth], tiny)).sum()
        for M in (soft, fit_noise_matrix(proba, y, soft))]
    soft = noise_matrix(_one_hot(proba.copy(), rows, truth), y, n_classes)
    return fit_noise_matrix(proba, y, soft, known) if likelihood[1] > likelihood[0] else soft


class NoiseModel:
    """A fitted noise model: its ``kind`` ("class" or "refit"), the matrix ``N`` and, for
    "refit", the ``estimator`` whose probabilities replace the noisy model's."""

    def __init__(self, kind, matrix, estimator=None):
        self.kind, self.matrix, self.estimator = kind, matrix, estimator


def choose_noise_model(option, train, ref, contamination, rng, refit=None):
    """Resolve a detector's ``noise_model`` option.

    Parameters
    ----------
    option : {"auto", "class", "refit"} or None
    train : tuple ``(proba, y)``
        The training rows' class probabilities under the noisy model and label indices.
    ref : callable
        ``ref(estimator)`` returns the trusted rows' ``(proba, y)`` under ``estimator``
        (``None``: the noisy model); not called for ``"class"``.
    contamination : float
        Sets the quantiles at which the trusted rows are counted
        (:func:`~._loss_weight.flag_quantiles`).
    rng : numpy.random.RandomState
        Draws the bootstrap resamples of the trusted rows (``"auto"``).
    refit : callable or None
        ``refit(proba, y, matrix)`` returns :func:`refit_on_posterior`'s
        ``(model, matrix, proba)``; ``None`` where the model cannot be refit.

    Returns
    -------
    model : NoiseModel or None
        ``None``: the plain log-probability.
    rates : ndarray of shape (3,) or None
        With ``"auto"``: how often each of :data:`KINDS` flags the trusted rows relative
        to the training rows (lower is better); NaN for ``"refit"`` where it was not a
        candidate (the model cannot be refit, or the refit predicts the trusted labels
        worse than the noisy model).
    """
    if option is None:
        return None, None
    proba, y = train
    models, train_proba = {None: None}, {None: proba, "class": proba}
    if option in ("auto", "class"):
        models["class"] = NoiseModel("class", noise_matrix(proba, y, proba.shape[1]))
    plain_ref = ref(None) if option in ("auto", "refit") else None
    if option in ("auto", "refit") and refit is not None:
        start = trusted_noise_matrix(*plain_ref, proba.shape[1])
        model, matrix, train_proba["refit"] = refit(proba, y, start)
        models["refit"] = NoiseModel("refit", matrix, model)
    if option == "refit" and "refit" not in models:
        raise ValueError("noise_model='refit' refits the estimator with sample weights: it "
                         "needs a scikit-learn classifier with predict_proba whose fit takes "
                         "sample_weight.")
    if option != "auto":
        return models[option], None
    ref_scores = {None: plain_ref}
    if "refit" in models:
        ref_scores["refit"] = ref(models["refit"].estimator)
        # EM is meant to recover the clean model: one that predicts the clean (trusted)
        # labels worse than the noisy model has run away (small data, where the weighted
        # copies overfit), and its N with it
        if _mean_label_log_proba(*ref_scores["refit"]) < _mean_label_log_proba(*plain_ref):
            del models["refit"]
    ref_scores["class"] = plain_ref
    levels = flag_quantiles(contamination)
    kinds = [kind for kind in KINDS if kind in models]
    per_row = []
    for kind in kinds:
        matrix = None if models[kind] is None else models[kind].matrix
        ref_proba, ref_y = ref_scores[kind]
        per_row.append(flag_rates(label_log_posterior(train_proba[kind], y, matrix),
                                  label_log_posterior(ref_proba, ref_y, matrix), levels))
    per_row = np.asarray(per_row)
    rates = np.full(len(KINDS), np.nan)
    rates[[KINDS.index(kind) for kind in kinds]] = per_row.mean(1)
    # the plain log-probability unless the trusted rows show it worse than the best in 95%
    # of bootstrap resamples: with uniform noise a noise model only adds estimation noise,
    # so it has to earn its place; then the kind that flags the fewest trusted rows
    if near_best(per_row, rng)[0]:
        return None, rates
    return models[kinds[int(np.argmin(per_row.mean(1)))]], rates


def _mean_label_log_proba(proba, y):
    return label_log_posterior(proba, y, None).mean()
