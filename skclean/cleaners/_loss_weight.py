"""How much of a row's own loss to add to a detector's score.

The class-based score compares a row's gradient with clean references; the
model's log-probability of the row's label is the other half of the evidence.
Under noise that picks wrong labels at random, that log-probability alone is
the best ranking a fitted model offers (the noisy posterior of the given label
is monotone in the clean one); where the noise follows the classes or the
model's own confusions, the model has learnt the wrong labels and the
references are what shows them.  No single weight suits both, so the weight is
chosen per data set from the trusted rows: they are clean, so a ranking that
flags fewer of them, at the training scores' low quantiles, flags fewer clean
training rows too, which is precision.

The model-based detector has the same two halves: the log-probability under a
model trained on clean rows only (which never saw the wrong labels) and under
one trained on all rows (which has more data); :func:`fit_loss_weight` serves
both detectors.
"""

import numpy as np

# the weights tried, smallest first; inf ranks by the loss alone
LOSS_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, np.inf)
# a larger weight is kept unless it flags more trusted rows than the best in this share
# of bootstrap resamples of them: with few references the choice leans to the loss,
# which is never far from the best (benchmarks/detection_hard.py)
CONFIDENCE = 0.95
N_BOOTSTRAP = 200


def combine_scores(influence, log_proba, weight, scale):
    """``influence/σ_I + weight·log p/σ_L`` (lower = more likely mislabeled)."""
    s_inf, s_loss = scale
    if weight == 0:
        return influence
    if np.isinf(weight):
        return log_proba / s_loss
    return influence / s_inf + weight * log_proba / s_loss


def choose_loss_weight(train, ref, scale, quantiles, rng, weights=LOSS_WEIGHTS,
                       confidence=CONFIDENCE, n_bootstrap=N_BOOTSTRAP):
    """The loss weight whose ranking flags the fewest trusted rows, and each weight's rate.

    Parameters
    ----------
    train, ref : tuple of ndarray ``(influence, log_proba)``
        Scores of the training rows and of the trusted rows (the latter scored
        leave-one-out against the references, so that none is compared with itself).
    scale : tuple of float
        ``(σ_I, σ_L)`` over the training rows.
    quantiles : ndarray
        Shares of the training rows flagged; the rate at each is the share of
        trusted rows at or below that quantile of the training scores, divided by
        the share, averaged over ``quantiles``.
    rng : numpy.random.RandomState
        Draws the bootstrap resamples of the trusted rows.

    Returns
    -------
    weight : float
    rates : ndarray of shape (len(weights),)
        Each weight's rate (lower is better); 1 means the trusted rows are
        flagged as often as the training rows.
    """
    rates = np.asarray([flag_rates(combine_scores(*train, w, scale),
                                   combine_scores(*ref, w, scale), quantiles)
                        for w in weights])  # (n_weights, n_ref)
    pick = np.flatnonzero(near_best(rates, rng, confidence, n_bootstrap)).max()
    return float(weights[pick]), rates.mean(1)


def flag_quantiles(contamination):
    """The shares of training rows flagged at which trusted rows are counted: from a fifth
    to twice ``contamination``."""
    return np.minimum(contamination * np.linspace(0.2, 2.0, 10), 1.0)


def flag_rates(train, ref, quantiles):
    """Per trusted row, how often it is flagged at the ``quantiles`` of the training scores,
    relative to the share flagged (its mean over the rows is 1 for a ranking blind to the
    labels, 0 for one that never flags a clean row)."""
    quantiles = np.asarray(quantiles, dtype=np.float64)
    taus = np.quantile(train, quantiles)
    return ((ref[:, None] <= taus[None, :]) / quantiles).mean(1)


def near_best(rates, rng, confidence=CONFIDENCE, n_bootstrap=N_BOOTSTRAP):
    """Which candidate rankings the trusted rows cannot tell from the best one.

    ``rates`` has a row of :func:`flag_rates` per candidate.  A candidate is kept
    unless, in ``confidence`` of bootstrap resamples of the trusted rows, it flags
    more of them than the candidate best on average.
    """
    m = rates.shape[1]
    counts = rng.multinomial(m, np.full(m, 1.0 / m), size=n_bootstrap)  # (B, n_ref)
    boot = rates @ counts.T / m  # (n_candidates, B)
    best = int(np.argmin(boot.mean(1)))
    keep = (boot > boot[best] + 1e-12).mean(1) < confidence
    keep[best] = True
    return keep


def fit_loss_weight(loss_weight, train, ref, contamination, rng, want_ref=False):
    """Resolve a detector's ``loss_weight`` parameter on its training scores.

    Parameters
    ----------
    loss_weight : "auto" or float
    train : tuple of ndarray ``(base, log_proba)``
        The training rows' two halves; ``base`` is the score at weight 0.
    ref : callable
        Returns the trusted rows' ``(base, log_proba)``, scored as they would be
        if they were not trusted; called only for ``"auto"`` or ``want_ref``.
    contamination : float
        The share of rows the detector flags; the quantiles examined run from a
        fifth to twice it.
    rng : numpy.random.RandomState

    Returns
    -------
    weight : float
    rates : ndarray or None
        Each weight's rate from :func:`choose_loss_weight` (``"auto"`` only).
    scale : ndarray of shape (2,) or None
        ``(σ_base, σ_L)`` over the training rows (``None`` for weight 0).
    scores : ndarray
        The combined training scores.
    ref_scores : ndarray or None
        The trusted rows' combined scores (``want_ref`` only).
    """
    base, log_proba = train
    refs = ref() if want_ref or loss_weight == "auto" else None
    if loss_weight == 0:
        return 0.0, None, None, base, None if refs is None else refs[0]
    # a constant half (one class, a model sure of everything) is left unscaled
    scale = tuple(float(v.std()) if v.std() > 0 else 1.0 for v in train)
    rates = None
    if loss_weight == "auto":
        weight, rates = choose_loss_weight(train, refs, scale, flag_quantiles(contamination),
                                           rng)
    else:
        weight = float(loss_weight)
    return (weight, rates, np.array(scale), combine_scores(base, log_proba, weight, scale),
            None if refs is None else combine_scores(*refs, weight, scale))
