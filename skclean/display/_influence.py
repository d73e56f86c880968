"""Predicted influence against the actual leave-one-out change of the test loss."""

import numpy as np

from ..utils import store_parameters
from ._utils import make_axes


class InfluenceDisplay:
    """Influence-function predictions against leave-one-out retraining.

    A scatter of the predicted change of the test loss when a training row
    is removed (y) against the change actually measured by retraining
    without it (x), with the line ``y = x`` (dashed) and the Spearman rank
    correlation in the title.  Several predictions of the same removals
    (e.g. exact Hessian and LiSSA) can share the axes.

    It is recommended to use :meth:`from_estimator` or
    :meth:`from_predictions` to create a display; all parameters are stored
    as attributes.

    Parameters
    ----------
    predicted : array-like of shape (n,) or dict of str to array-like
        Predicted test-loss changes, or several predictions by name.
    actual : array-like of shape (n,)
        Actual test-loss changes of the same removals.
    name : str, default=None
        Legend label of a single prediction (no legend if None).
    indices : array-like of int of shape (n,), default=None
        The training rows removed, for reference.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scatter_ : matplotlib PathCollection or dict of str to PathCollection
        The points (a dict when ``predicted`` is).
    line_ : matplotlib Line2D
        The line ``y = x``.
    spearman_ : float or dict of str to float
        Spearman correlation of predicted and actual changes (a dict when
        ``predicted`` is).

    See Also
    --------
    skclean.influence.removal_influence : The predicted changes.
    skclean.influence.retrain_loss_change : The actual changes.

    Examples
    --------
    >>> from skclean.display import InfluenceDisplay
    >>> disp = InfluenceDisplay.from_predictions([0.1, 0.25, -0.2, 0.4], [0.12, 0.2, -0.1, 0.5])
    >>> round(disp.spearman_, 3)
    1.0
    """

    def __init__(self, predicted, actual, *, name=None, indices=None):
        store_parameters(self, locals())

    def plot(self, ax=None, *, title=None, scatter_kwargs=None):
        """Draw the scatter.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            ``None`` creates a figure.
        title : str, default=None
            Shown above the Spearman correlation.
        scatter_kwargs : dict, default=None
            Passed to ``scatter`` (for every prediction).

        Returns
        -------
        display : InfluenceDisplay
        """
        from scipy.stats import spearmanr

        actual = np.asarray(self.actual, dtype=float)
        several = isinstance(self.predicted, dict)
        preds = dict(self.predicted) if several else {self.name: self.predicted}
        if not preds:
            raise ValueError("predicted holds no prediction.")
        for key in preds:
            preds[key] = np.asarray(preds[key], dtype=float)
            if preds[key].shape != actual.shape or actual.ndim != 1:
                raise ValueError(f"predicted ({preds[key].shape}) and actual ({actual.shape}) "
                                 "must be 1-D arrays of the same length.")
        if len(actual) < 2:
            raise ValueError("Need at least two removals to compare.")
        self.figure_, axes = make_axes(ax, 1, caller="InfluenceDisplay", panel_size=(4.8, 4.4))
        self.ax_ = a = axes[0]
        markers = ["o", "x", "^", "s", "+", "D"]
        rho, points = {}, {}
        for i, (key, p) in enumerate(preds.items()):
            rho[key] = float(spearmanr(p, actual).statistic)
            kw = {"marker": markers[i % len(markers)], "s": 22,
                  "label": None if key is None else key, **(scatter_kwargs or {})}
            if kw["marker"] in ("o", "^", "s", "D"):
                kw.setdefault("alpha", 0.8)
            points[key] = a.scatter(actual, p, **kw)
        values = np.concatenate([actual, *preds.values()])
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        (self.line_,) = a.plot([lo, hi], [lo, hi], "k--", lw=1, zorder=0)
        a.set_xlim(lo, hi)
        a.set_ylim(lo, hi)
        a.set_aspect("equal", adjustable="box")
        a.axhline(0, color="gray", lw=0.5, zorder=0)
        a.axvline(0, color="gray", lw=0.5, zorder=0)
        a.set_xlabel("actual change of test loss (retrained)")
        a.set_ylabel("predicted by the influence function")
        if several:
            text = "Spearman ρ: " + ", ".join(f"{k} {v:.3f}" for k, v in rho.items())
        else:
            text = f"Spearman ρ = {rho[self.name]:.3f}"
        a.set_title(text if title is None else f"{title}\n{text}", fontsize=10)
        if several or self.name is not None:
            a.legend(fontsize=9, loc="upper left")
        if ax is None:
            self.figure_.tight_layout()
        self.scatter_ = points if several else points[self.name]
        self.spearman_ = rho if several else rho[self.name]
        return self

    @classmethod
    def from_predictions(cls, predicted, actual, *, name=None, indices=None, ax=None, **kwargs):
        """Draw predicted against actual test-loss changes computed elsewhere.

        Parameters
        ----------
        predicted : array-like of shape (n,) or dict of str to array-like
        actual : array-like of shape (n,)
        name : str, default=None
        indices : array-like of int, default=None
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : InfluenceDisplay
        """
        return cls(predicted, actual, name=name, indices=indices).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, adapter_factory, X, y, X_test, y_test, indices, *, method="exact",
                       influence_kwargs=None, name=None, ax=None, **kwargs):
        """Predict removal influence, retrain without some rows, and draw both.

        Parameters
        ----------
        adapter_factory : callable
            Returns a fresh unfitted adapter, e.g.
            ``lambda: make_adapter(LogisticRegression(C=0.1))``; it is fitted
            on ``(X, y)`` for the predictions and once more per removal.
        X, y : ndarray
            The training rows.
        X_test, y_test : ndarray
            The rows whose mean loss is tracked.
        indices : int or array-like of int
            The training rows to retrain without, or how many: that many rows
            with the largest predicted change in absolute value (by the first
            method).
        method : str or list of str, default="exact"
            ``method`` of :func:`~skclean.influence.removal_influence`; a list
            draws one prediction per method.
        influence_kwargs : dict, default=None
            More arguments of :func:`~skclean.influence.removal_influence`.
        name : str, default=None
            Legend label of a single method (defaults to the method).
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : InfluenceDisplay
        """
        from ..influence import removal_influence, retrain_loss_change

        X, y, X_test, y_test = (np.asarray(a) for a in (X, y, X_test, y_test))
        adapter = adapter_factory().fit(X, y)
        methods = [method] if isinstance(method, str) else list(method)
        preds = {m: removal_influence(adapter, X, y, X_test, y_test, method=m,
                                      **(influence_kwargs or {})) for m in methods}
        if np.ndim(indices) == 0:
            idx = np.argsort(-np.abs(preds[methods[0]]), kind="stable")[: int(indices)]
        else:
            idx = np.asarray(indices, dtype=int)
        actual = retrain_loss_change(adapter_factory, X, y, X_test, y_test, idx)
        if isinstance(method, str):
            predicted = preds[method][idx]
            name = method if name is None else name
        else:
            predicted = {m: p[idx] for m, p in preds.items()}
        return cls(predicted, actual, name=name, indices=idx).plot(ax=ax, **kwargs)
