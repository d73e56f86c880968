"""How well scores find the wrong labels, when the truth is known."""

import numpy as np

from ..utils import store_parameters
from ._utils import make_axes

KINDS = ("hist", "precision", "roc")


def precision_at(scores, is_mislabeled, percents):
    """Share of mislabeled rows among the lowest-scored ``k`` % of rows, for each ``k``.

    The ``max(1, round(k · n / 100))`` rows with the lowest scores are
    inspected (ties in the order of the rows).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Lower = more likely mislabeled.
    is_mislabeled : array-like of bool of shape (n,)
    percents : array-like of float
        Shares of rows inspected, in percent.

    Returns
    -------
    ndarray of shape (len(percents),)
    """
    scores = np.asarray(scores, dtype=float)
    truth = np.asarray(is_mislabeled, dtype=bool)
    order = np.argsort(scores, kind="stable")
    found = np.cumsum(truth[order])
    n = len(scores)
    k = np.clip(np.round(np.asarray(percents, dtype=float) * n / 100).astype(int), 1, n)
    return found[k - 1] / k


_DRAWING_DOC = """kind : sequence of {"hist", "precision", "roc"}, default=all three
        ax : matplotlib Axes or sequence of Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : DetectionDisplay"""


class DetectionDisplay:
    """Detection quality of suspicion scores, against the known wrong labels.

    Up to three panels, for scores where *lower = more likely mislabeled*
    (the convention of every skclean ``score_samples``):

    - ``"hist"``: histograms of the detector's scores on the mislabeled and
      on the correctly labelled rows (bins span the 0.5–99.5 percentiles;
      rows beyond them are counted in the end bins);
    - ``"precision"``: precision among the lowest ``k`` % of rows — the share
      of wrong labels a person would find by inspecting them — for ``k``
      from 1 % to ``max_inspected`` %, with the base rate dashed and a
      perfect ranking dotted;
    - ``"roc"``: ROC curves of ``-scores`` with their AUC in the legend.

    Other scores (e.g. cleanlab's label quality) are drawn beside the
    detector's in the last two panels.

    It is recommended to use :meth:`from_estimator` or
    :meth:`from_predictions` to create a display; all parameters are stored
    as attributes.

    Parameters
    ----------
    scores : array-like of shape (n,)
        The detector's scores, lower = more suspicious.
    is_mislabeled : array-like of bool of shape (n,)
        True where the given label is wrong.
    name : str, default="detector"
        The detector's name in the legends.
    other_scores : dict of str to array-like, default=None
        More scores of the same rows, same convention.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        One Axes per panel, in the order of ``kind``.
    figure_ : matplotlib Figure
    base_rate_ : float
        Share of mislabeled rows.
    inspected_ : ndarray
        The shares of rows inspected, in percent (``1, 2, ...``).
    precision_at_ : dict of str to ndarray
        Precision at each share of ``inspected_``, per score name.
    fpr_, tpr_ : dict of str to ndarray
        ROC curves per score name.
    roc_auc_ : dict of str to float
        ROC AUC per score name (``roc_auc_score(is_mislabeled, -scores)``).
    hist_ : dict of str to list of matplotlib Patch
        The ``"mislabeled"`` and ``"correct"`` histograms (if drawn).
    lines_ : dict of str to dict of str to matplotlib Line2D
        Per panel (``"precision"``, ``"roc"``), the line of each score name.

    See Also
    --------
    skclean.ClassBasedIFDetector.score_samples : Scores of the class-based detector.
    sklearn.metrics.RocCurveDisplay : ROC curves of classifiers.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean.display import DetectionDisplay
    >>> rng = np.random.RandomState(0)
    >>> flipped = rng.rand(300) < 0.2
    >>> scores = rng.randn(300) - 2 * flipped
    >>> disp = DetectionDisplay.from_predictions(scores, flipped, name="toy")
    >>> bool(disp.roc_auc_["toy"] > 0.8)
    True
    """

    def __init__(self, scores, is_mislabeled, *, name="detector", other_scores=None):
        store_parameters(self, locals())

    def _all_scores(self):
        from sklearn.metrics import roc_auc_score, roc_curve

        truth = np.asarray(self.is_mislabeled)
        if truth.dtype != bool:
            if not np.isin(truth, [0, 1]).all():
                raise ValueError("is_mislabeled must be booleans (True = wrong label).")
            truth = truth.astype(bool)
        if truth.ndim != 1 or truth.all() or not truth.any():
            raise ValueError("is_mislabeled must be a 1-D mask with both mislabeled and "
                             "correctly labelled rows.")
        others = dict(self.other_scores or {})
        if self.name in others:
            raise ValueError(f"other_scores has an entry named {self.name!r}, the name of "
                             "the detector; rename one of them.")
        named = {self.name: self.scores, **others}
        out = {}
        for name, s in named.items():
            s = np.asarray(s, dtype=float)
            if s.shape != truth.shape:
                raise ValueError(f"Scores {name!r} have shape {s.shape}; is_mislabeled has "
                                 f"{truth.shape}.")
            if not np.all(np.isfinite(s)):
                raise ValueError(f"Scores {name!r} are not all finite.")
            out[name] = s
        self.base_rate_ = float(truth.mean())
        self.fpr_, self.tpr_, self.roc_auc_ = {}, {}, {}
        for name, s in out.items():
            self.fpr_[name], self.tpr_[name], _ = roc_curve(truth, -s)
            self.roc_auc_[name] = float(roc_auc_score(truth, -s))
        return truth, out

    def plot(self, ax=None, *, kind=KINDS, max_inspected=50, bins=30, plot_perfect=True):
        """Draw the panels.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per panel of ``kind``; ``None`` creates a figure with
            the panels side by side.
        kind : sequence of {"hist", "precision", "roc"}, default=all three
            The panels, in order.
        max_inspected : int, default=50
            The largest share of rows inspected in the precision panel, in
            percent.
        bins : int, default=30
            Histogram bins.
        plot_perfect : bool, default=True
            In the precision panel, draw (dotted) the precision of a ranking
            that puts every mislabeled row first.

        Returns
        -------
        display : DetectionDisplay
        """
        kind = (kind,) if isinstance(kind, str) else tuple(kind)
        unknown = [k for k in kind if k not in KINDS]
        if unknown or not kind:
            raise ValueError(f"kind must list panels among {KINDS}, got {kind!r}.")
        truth, scores = self._all_scores()
        n = len(truth)
        self.inspected_ = np.arange(1, int(max_inspected) + 1, dtype=float)
        self.precision_at_ = {name: precision_at(s, truth, self.inspected_)
                              for name, s in scores.items()}
        self.figure_, self.ax_ = make_axes(ax, len(kind), caller="DetectionDisplay",
                                           panel_size=(4.3, 3.8))
        self.hist_, self.lines_ = {}, {}
        for a, k in zip(self.ax_, kind, strict=True):
            if k == "hist":
                s = scores[self.name]
                lo, hi = np.percentile(s, [0.5, 99.5])
                if hi <= lo:
                    lo, hi = lo - 0.5, hi + 0.5
                clipped = np.clip(s, lo, hi)
                edges = np.linspace(lo, hi, int(bins) + 1)
                for label, rows, color in (("correct", ~truth, "tab:blue"),
                                           ("mislabeled", truth, "tab:red")):
                    _, _, patches = a.hist(clipped[rows], bins=edges, alpha=0.6, color=color,
                                           label=f"{label} label ({rows.sum()})")
                    self.hist_[label] = list(patches)
                a.set_xlabel(f"{self.name} score (lower = more suspicious)")
                a.set_ylabel("rows")
                a.set_title("score distribution")
            elif k == "precision":
                lines = {}
                for name, p in self.precision_at_.items():
                    (lines[name],) = a.plot(self.inspected_, p, label=name)
                a.axhline(self.base_rate_, color="k", ls="--", lw=1,
                          label=f"base rate ({self.base_rate_:.0%})")
                if plot_perfect:
                    n_k = np.clip(np.round(self.inspected_ * n / 100), 1, n)
                    a.plot(self.inspected_, np.minimum(1.0, truth.sum() / n_k), color="gray",
                           ls=":", lw=1, label="perfect ranking")
                self.lines_["precision"] = lines
                a.set_xlim(0, max_inspected)
                a.set_ylim(0, 1.02)
                a.set_xlabel(f"lowest-scored rows inspected (% of {n})")
                a.set_ylabel("share of them mislabeled")
                a.set_title("precision among the lowest k %")
            else:
                lines = {}
                for name in scores:
                    (lines[name],) = a.plot(self.fpr_[name], self.tpr_[name],
                                            label=f"{name} (AUC = {self.roc_auc_[name]:.3f})")
                a.plot([0, 1], [0, 1], color="gray", ls=":", lw=1)
                self.lines_["roc"] = lines
                a.set_xlim(-0.01, 1.01)
                a.set_ylim(-0.01, 1.01)
                a.set_xlabel("correct labels flagged (FPR)")
                a.set_ylabel("wrong labels flagged (TPR)")
                a.set_title("ROC")
            a.grid(alpha=0.3)
            a.legend(fontsize=8, loc="lower right" if k == "roc" else "best")
        if ax is None:
            self.figure_.tight_layout()
        return self

    @classmethod
    def from_estimator(cls, detector, X, y, is_mislabeled, *, name=None, other_scores=None,
                       kind=KINDS, ax=None, **kwargs):
        """Score rows with a fitted detector and draw how well it finds the wrong labels.

        Parameters
        ----------
        detector : fitted estimator
            With ``score_samples(X, y)``, lower = more likely mislabeled
            (:class:`~skclean.ClassBasedIFDetector`, the cleaners...).
        X : array-like of shape (n, n_features)
        y : array-like of shape (n,)
            The given (noisy) labels.
        is_mislabeled : array-like of bool of shape (n,)
            True where ``y`` is wrong.
        name : str, default=None
            Defaults to the detector's class name.
        other_scores : dict of str to array-like, default=None
            Scores of other methods, lower = more suspicious.
        {drawing}
        """
        scores = detector.score_samples(X, y)
        name = type(detector).__name__ if name is None else name
        return cls.from_predictions(scores, is_mislabeled, name=name, other_scores=other_scores,
                                    kind=kind, ax=ax, **kwargs)

    @classmethod
    def from_predictions(cls, scores, is_mislabeled, *, name="detector", other_scores=None,
                         kind=KINDS, ax=None, **kwargs):
        """Draw how well precomputed scores find the wrong labels.

        Parameters
        ----------
        scores : array-like of shape (n,)
            Lower = more likely mislabeled.
        is_mislabeled : array-like of bool of shape (n,)
        name : str, default="detector"
        other_scores : dict of str to array-like, default=None
        {drawing}
        """
        disp = cls(scores, is_mislabeled, name=name, other_scores=other_scores)
        return disp.plot(ax=ax, kind=kind, **kwargs)

    # the drawing arguments and the return value, documented once for both constructors
    from_estimator.__func__.__doc__ = from_estimator.__func__.__doc__.replace(
        "{drawing}", _DRAWING_DOC)
    from_predictions.__func__.__doc__ = from_predictions.__func__.__doc__.replace(
        "{drawing}", _DRAWING_DOC)
