"""Cleaning curves: wrong labels fixed against rows asked, over seeds and methods."""

import numpy as np

from ._utils import lookup, make_axes


def cleaning_curve(report, y_true):
    """Rows asked and wrong labels fixed so far, after each row of a cleaning report.

    A report row fixes a wrong label when its ``applied`` label equals the
    true label while its ``given`` label did not.  Every report row counts as
    one row asked (journal replays and labels a cleaner applied on its own
    included); rows made wrong are not subtracted.

    Parameters
    ----------
    report : pandas.DataFrame
        ``cleaner.cleaning_report()``, in its row (question) order.
    y_true : array-like or pandas Series
        The true labels, indexed like ``X``: a Series is read by ``row_id``
        when the id is in its index, anything else by position.

    Returns
    -------
    questions : ndarray of shape (n_report_rows + 1,)
        ``0, 1, 2, ...``: rows asked.
    fixed : ndarray of shape (n_report_rows + 1,)
        Wrong labels fixed after that many rows (starts at 0).
    """
    truth = np.empty(len(report), dtype=object)
    truth[:] = [lookup(y_true, rid) for rid in report["row_id"]]
    applied = np.asarray(report["applied"], dtype=object)
    given = np.asarray(report["given"], dtype=object)
    hit = (applied == truth) & (given != truth)
    questions = np.arange(len(report) + 1)
    fixed = np.concatenate([[0], np.cumsum(hit.astype(int))])
    return questions, fixed


class CleaningCurveDisplay:
    """Wrong labels fixed against rows asked, for several methods over seeds.

    Each method is one line: the mean over its runs (seeds), with a shaded
    band from the lowest to the highest run (or ± one standard deviation).
    Runs are read as step functions on the union of their x values; at an x
    past a run's last point that run no longer counts, so the band and mean
    there are over the runs that got that far.

    It is recommended to use :meth:`from_estimators` or :meth:`from_curves`
    to create a display; all parameters are stored as attributes.

    Parameters
    ----------
    curves : dict of str to list of (x, y) pairs
        For each method, one ``(questions, fixed)`` pair of equally long
        arrays per run, ``questions`` increasing.
    xlabel : str, default="rows asked"
    ylabel : str, default="wrong labels fixed"

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        The mean line of each method.
    bands_ : dict of str to matplotlib PolyCollection or None
        The band of each method (None for a single run).
    x_, mean_, lower_, upper_ : dict of str to ndarray
        The grid of each method and the mean, lower and upper edge over its
        runs there (NaN before the first run starts).

    See Also
    --------
    cleaning_curve : The curve of one cleaning report.
    QuestionDisplay : The rows of one question.

    Examples
    --------
    >>> from skclean.display import CleaningCurveDisplay
    >>> curves = {"method": [([0, 1, 2, 3], [0, 1, 1, 2]), ([0, 1, 2, 3], [0, 0, 1, 2])]}
    >>> disp = CleaningCurveDisplay.from_curves(curves)
    >>> disp.mean_["method"].tolist()
    [0.0, 0.5, 1.0, 2.0]
    """

    def __init__(self, curves, *, xlabel="rows asked", ylabel="wrong labels fixed"):
        self.curves = curves
        self.xlabel = xlabel
        self.ylabel = ylabel

    def plot(self, ax=None, *, band="minmax", plot_ideal=False, line_kwargs=None,
             band_kwargs=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            ``None`` creates a figure.
        band : {"minmax", "std"} or None, default="minmax"
            The shaded spread over runs: lowest to highest run, mean ± one
            standard deviation, or none.
        plot_ideal : bool, default=False
            Draw the dashed line ``y = x``: every row asked was wrong, and
            fixed.
        line_kwargs : dict or dict of str to dict, default=None
            Passed to ``plot`` for every line, or per method name.
        band_kwargs : dict, default=None
            Passed to ``fill_between`` (default ``alpha=0.2``).

        Returns
        -------
        display : CleaningCurveDisplay
        """
        if band not in ("minmax", "std", None):
            raise ValueError(f"band must be 'minmax', 'std' or None, got {band!r}.")
        curves = _check_curves(self.curves)
        self.figure_, axes = make_axes(ax, 1, caller="CleaningCurveDisplay",
                                       panel_size=(6.0, 4.0))
        self.ax_ = a = axes[0]
        self.lines_, self.bands_ = {}, {}
        self.x_, self.mean_, self.lower_, self.upper_ = {}, {}, {}, {}
        per_name = (line_kwargs is not None and len(line_kwargs) > 0
                    and all(k in curves for k in line_kwargs))
        for name, runs in curves.items():
            x, values = _on_grid(runs)
            count = np.sum(~np.isnan(values), axis=0)
            filled = np.where(np.isnan(values), 0.0, values)
            mean = np.where(count > 0, filled.sum(0) / np.maximum(count, 1), np.nan)
            if band == "std":
                dev = np.where(np.isnan(values), 0.0, values - mean) ** 2
                std = np.sqrt(dev.sum(0) / np.maximum(count, 1))
                lower, upper = mean - std, mean + std
            else:
                lower = np.where(count > 0, np.where(np.isnan(values), np.inf, values).min(0),
                                 np.nan)
                upper = np.where(count > 0, np.where(np.isnan(values), -np.inf, values).max(0),
                                 np.nan)
            self.x_[name], self.mean_[name] = x, mean
            self.lower_[name], self.upper_[name] = lower, upper
            kw = (line_kwargs or {}).get(name, {}) if per_name else (line_kwargs or {})
            label = name if len(runs) == 1 else f"{name} ({len(runs)} runs)"
            (line,) = a.plot(x, mean, **{"label": label, **kw})
            self.lines_[name] = line
            self.bands_[name] = None
            if band is not None and len(runs) > 1:
                self.bands_[name] = a.fill_between(
                    x, lower, upper, **{"color": line.get_color(), "alpha": 0.2, "lw": 0,
                                        **(band_kwargs or {})})
        if plot_ideal:
            top = max(np.nanmax(x) for x in self.x_.values())
            a.plot([0, top], [0, top], "k--", lw=1, label="ideal: every row was wrong")
        a.set_xlabel(self.xlabel)
        a.set_ylabel(self.ylabel)
        a.set_ylim(bottom=0)
        a.grid(alpha=0.3)
        a.legend(loc="upper left", fontsize=9)
        if ax is None:
            self.figure_.tight_layout()
        return self

    @classmethod
    def from_estimators(cls, cleaners_by_name, y_true, *, xlabel="rows asked",
                        ylabel="wrong labels fixed", ax=None, **kwargs):
        """Cleaning curves of fitted cleaners, whose true labels are known.

        Parameters
        ----------
        cleaners_by_name : dict of str to cleaner or list of cleaners
            For each method, its fitted cleaners (one per seed).  A
            ``cleaning_report()`` DataFrame may stand for a cleaner.
        y_true : array-like or pandas Series
            The true labels, indexed like the ``X`` the cleaners were given
            (see :func:`cleaning_curve`).
        xlabel, ylabel, ax, **kwargs
            As in :meth:`from_curves`.

        Returns
        -------
        display : CleaningCurveDisplay
        """
        curves = {}
        for name, cleaners in cleaners_by_name.items():
            if not isinstance(cleaners, list | tuple):
                cleaners = [cleaners]
            curves[name] = [cleaning_curve(_report_of(c), y_true) for c in cleaners]
        return cls.from_curves(curves, xlabel=xlabel, ylabel=ylabel, ax=ax, **kwargs)

    @classmethod
    def from_curves(cls, curves_by_name, *, xlabel="rows asked", ylabel="wrong labels fixed",
                    ax=None, **kwargs):
        """Cleaning curves computed elsewhere (e.g. by a benchmark).

        Parameters
        ----------
        curves_by_name : dict of str to (x, y) pair or list of pairs
            For each method, one ``(questions, fixed)`` pair per run.
        xlabel, ylabel : str
            Axis labels.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : CleaningCurveDisplay
        """
        return cls(curves_by_name, xlabel=xlabel, ylabel=ylabel).plot(ax=ax, **kwargs)


def _report_of(cleaner):
    if hasattr(cleaner, "cleaning_report"):
        return cleaner.cleaning_report()
    if hasattr(cleaner, "columns") and "row_id" in cleaner.columns:
        return cleaner
    raise TypeError(f"Expected a fitted cleaner (with cleaning_report()) or its report, "
                    f"got {type(cleaner).__name__}.")


def _check_curves(curves):
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict: method name -> runs.")
    out = {}
    for name, runs in curves.items():
        if isinstance(runs, tuple) and len(runs) == 2 and np.ndim(runs[0]) == 1:
            runs = [runs]  # a single (x, y) pair
        checked = []
        for run in runs:
            x, y = (np.asarray(v, dtype=float) for v in run)
            if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
                raise ValueError(f"Each run of {name!r} must be a pair of equally long, "
                                 f"non-empty 1-D arrays.")
            if np.any(np.diff(x) < 0):
                raise ValueError(f"The x values of a run of {name!r} must increase.")
            checked.append((x, y))
        if not checked:
            raise ValueError(f"Method {name!r} has no run.")
        out[name] = checked
    return out


def _on_grid(runs):
    """The union of the runs' x values, and each run as a step function on it."""
    x = np.unique(np.concatenate([r[0] for r in runs]))
    values = np.full((len(runs), len(x)), np.nan)
    for i, (rx, ry) in enumerate(runs):
        pos = np.searchsorted(rx, x, side="right") - 1
        inside = (pos >= 0) & (x <= rx[-1])
        values[i, inside] = ry[pos[inside]]
    return x, values
