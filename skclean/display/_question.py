"""The rows of one question, as the person answering it saw them."""

import numpy as np

from ..utils import store_parameters
from ._utils import is_first_col, lookup, make_axes

_ROLE_COLORS = {"suspicious": "tab:red", "counterexample": "tab:blue"}


class QuestionDisplay:
    """The rows a person was asked about together, labels given → applied.

    One panel per row: for CINCER the suspicious row beside its
    counter-example, for CHEF the rows of one round.  Each panel's title
    names the row's role and id and its label before and after the answer
    (in red when the answer changed it).  Rows are drawn as images when
    ``image_shape`` is given (e.g. ``(8, 8)`` for digits, grey scale on a
    scale shared by all panels); otherwise as a horizontal bar chart of the
    first ``max_features`` feature values, feature names on the left, bars on
    a shared scale so that the panels compare at a glance.  (A bar chart
    reads better than a table here: the eye finds where two rows differ.)
    To show other features, pass ``X[columns]``.

    It is recommended to use :meth:`from_estimator` or :meth:`from_report`
    to create a display; all parameters are stored as attributes.

    Parameters
    ----------
    rows : array-like of shape (n_rows, n_features)
        The feature values of the rows asked about.
    row_ids : array-like of shape (n_rows,)
        Their ids (the ``row_id`` column of the cleaning report).
    roles : array-like of shape (n_rows,)
        ``"suspicious"``, ``"counterexample"``, ``"candidate"``...
    given, applied : array-like of shape (n_rows,)
        Each row's label before the question and the label it has now.
    skipped : array-like of bool of shape (n_rows,), default=None
        Rows the annotator did not judge (shown as "skipped").
    image_shape : tuple of int, default=None
        Draw each row reshaped to this shape with ``imshow``.
    feature_names : array-like of str, default=None
        Names of the features (bar chart only); ``x0, x1, ...`` if None.
    question : int, default=None
        The question number, shown in the figure title when the display
        draws its own figure.

    Attributes
    ----------
    ax_ : ndarray of matplotlib Axes
        One Axes per row.
    figure_ : matplotlib Figure
    images_ : list of matplotlib AxesImage or None
        The images (with ``image_shape``).
    bars_ : list of matplotlib BarContainer or None
        The bar charts (without ``image_shape``).
    titles_ : list of str
        The panel titles.

    See Also
    --------
    skclean.CincerCleaner.cleaning_report : The questions CINCER asked.
    CleaningCurveDisplay : Wrong labels fixed against rows asked.

    Examples
    --------
    >>> import numpy as np
    >>> from skclean.display import QuestionDisplay
    >>> rows = np.arange(8.0).reshape(2, 4)
    >>> disp = QuestionDisplay(rows, row_ids=[7, 3], roles=["suspicious", "counterexample"],
    ...                        given=[0, 1], applied=[1, 1], image_shape=(2, 2)).plot()
    >>> disp.titles_[0]
    'suspicious #7\\n0 → 1'
    """

    def __init__(self, rows, *, row_ids, roles, given, applied, skipped=None, image_shape=None,
                 feature_names=None, question=None):
        store_parameters(self, locals())

    def plot(self, ax=None, *, max_features=12, n_cols=6, imshow_kwargs=None, bar_kwargs=None):
        """Draw the rows, one panel each.

        Parameters
        ----------
        ax : matplotlib Axes or sequence of Axes, default=None
            One Axes per row; ``None`` creates a figure with ``n_cols``
            panels per line.
        max_features : int, default=12
            Bar chart only: how many features (the first ones) are drawn.
        n_cols : int, default=6
            Panels per line of a figure the display creates.
        imshow_kwargs : dict, default=None
            Passed to ``imshow`` (default ``cmap="gray_r"``: dark ink on
            white, and ``vmin``/``vmax`` shared by the panels).
        bar_kwargs : dict, default=None
            Passed to ``barh``.

        Returns
        -------
        display : QuestionDisplay
        """
        rows = np.asarray(self.rows, dtype=float)
        if rows.ndim == 1:
            rows = rows[None]
        n = len(rows)
        if n == 0:
            raise ValueError("QuestionDisplay has no row to draw.")
        ids, roles = list(self.row_ids), list(self.roles)
        given, applied = list(self.given), list(self.applied)
        skipped = [False] * n if self.skipped is None else [bool(s) for s in self.skipped]
        if not len(ids) == len(roles) == len(given) == len(applied) == len(skipped) == n:
            raise ValueError("rows, row_ids, roles, given, applied (and skipped) must have "
                             "one entry per row.")
        image = self.image_shape is not None
        if image and int(np.prod(self.image_shape)) != rows.shape[1]:
            raise ValueError(f"image_shape={tuple(self.image_shape)} holds "
                             f"{int(np.prod(self.image_shape))} values, but the rows have "
                             f"{rows.shape[1]} features.")
        if image:
            size = (1.9, 2.3)
        else:
            size = (2.4, 0.75 + 0.28 * min(max_features, rows.shape[1]))
        created = ax is None
        self.figure_, self.ax_ = make_axes(ax, n, caller="QuestionDisplay", ncols=n_cols,
                                           panel_size=size, sharex=not image,
                                           sharey=not image)
        self.titles_ = []
        self.images_, self.bars_ = ([], None) if image else (None, [])
        if image:
            kw = {"cmap": "gray_r", "vmin": rows.min(), "vmax": rows.max(),
                  "interpolation": "nearest", **(imshow_kwargs or {})}
        else:
            m = min(int(max_features), rows.shape[1])
            names = (list(self.feature_names) if self.feature_names is not None
                     else [f"x{j}" for j in range(rows.shape[1])])[:m]
            names = [_short(str(s)) for s in names]
            lim = np.abs(rows[:, :m]).max() * 1.08 or 1.0
        for i, a in enumerate(self.ax_):
            changed = not skipped[i] and applied[i] != given[i]
            after = "skipped" if skipped[i] else _label(applied[i])
            title = f"{roles[i]} #{ids[i]}\n{_label(given[i])} → {after}"
            self.titles_.append(title)
            if image:
                self.images_.append(a.imshow(rows[i].reshape(self.image_shape), **kw))
                a.set_xticks([])
                a.set_yticks([])
            else:
                color = _ROLE_COLORS.get(str(roles[i]), "tab:gray")
                bkw = {"color": color, "height": 0.7, **(bar_kwargs or {})}
                self.bars_.append(a.barh(np.arange(m), rows[i, :m], **bkw))
                a.axvline(0, color="k", lw=0.6)
                a.set_xlim(-lim, lim)
                a.set_ylim(m - 0.5, -0.5)  # first feature on top
                a.set_yticks(np.arange(m))
                if is_first_col(a) or not created:
                    a.set_yticklabels(names, fontsize=8)
                else:
                    a.tick_params(labelleft=False)
                a.tick_params(axis="x", labelsize=8)
                a.grid(axis="x", alpha=0.3)
            a.set_title(title, fontsize=9, color="tab:red" if changed else "black")
        if created:
            if self.question is not None:
                self.figure_.suptitle(f"question {self.question}", fontsize=10)
            self.figure_.tight_layout()
        return self

    @classmethod
    def from_estimator(cls, cleaner, X, question=None, *, image_shape=None, feature_names=None,
                       max_features=12, ax=None, **kwargs):
        """Draw the rows of one question a fitted cleaner asked.

        Parameters
        ----------
        cleaner : fitted cleaner
            Anything with ``cleaning_report()`` (:class:`~skclean.CincerCleaner`,
            :class:`~skclean.ChefCleaner`, :class:`~skclean.ModelBasedDetector`).
        X : array-like or DataFrame
            The rows the cleaner was given (for CINCER: everything passed to
            ``fit`` and then ``partial_fit``, in that order).  A report's
            ``row_id`` is looked up with ``X.loc`` when it is in ``X.index``,
            else as a position.
        question : int, default=None
            The question number (``question`` column of the report).  By
            default the last question with a ``"suspicious"`` row, else the
            last question.
        image_shape : tuple of int, default=None
            Draw each row as an image of this shape.  Rows that are images
            already (``X`` of shape ``(n, H, W)``, or ``(n, C, H, W)`` with
            1, 3 or 4 channels) are drawn as images without it.
        feature_names : array-like of str, default=None
            Defaults to the columns of a DataFrame ``X``.
        max_features : int, default=12
            Bar chart only: the number of (first) features drawn.
        ax : matplotlib Axes or sequence of Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : QuestionDisplay
        """
        return cls.from_report(cleaner.cleaning_report(), X, question, image_shape=image_shape,
                               feature_names=feature_names, max_features=max_features, ax=ax,
                               **kwargs)

    @classmethod
    def from_report(cls, report, X, question=None, *, image_shape=None, feature_names=None,
                    max_features=12, ax=None, **kwargs):
        """Draw the rows of one question of a cleaning report (a DataFrame).

        Same as :meth:`from_estimator`, from ``cleaner.cleaning_report()``
        (or a saved copy of it).

        Returns
        -------
        display : QuestionDisplay
        """
        if len(report) == 0:
            raise ValueError("The cleaning report is empty: no question was asked.")
        if question is None:
            suspicious = report[report["role"] == "suspicious"]
            question = (suspicious if len(suspicious) else report)["question"].iloc[-1]
        part = report[report["question"] == question]
        if len(part) == 0:
            raise ValueError(f"No question {question!r} in the report; it has questions "
                             f"{sorted(set(report['question'].tolist()))}.")
        rows = []
        for rid in part["row_id"]:
            row = lookup(X, rid)
            try:
                row = np.asarray(row, dtype=float)
                if image_shape is None and row.ndim >= 2:  # an image row: drawn as one
                    row = _as_picture(row)
                    image_shape = row.shape
                rows.append(row.ravel())
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Row {rid!r} of X is not numeric; pass the numeric "
                                 f"columns (or the encoded rows) to draw it.") from exc
        if feature_names is None and hasattr(X, "columns"):
            feature_names = [str(c) for c in X.columns]
        disp = cls(np.vstack(rows), row_ids=part["row_id"].tolist(),
                   roles=part["role"].tolist(), given=part["given"].tolist(),
                   applied=part["applied"].tolist(),
                   skipped=part["skipped"].tolist() if "skipped" in part else None,
                   image_shape=image_shape, feature_names=feature_names,
                   question=question.item() if hasattr(question, "item") else question)
        return disp.plot(ax=ax, max_features=max_features, **kwargs)


def _as_picture(row):
    """An n-D row as ``imshow`` draws it: ``(H, W)``, or ``(H, W, C)`` for colour."""
    if row.ndim == 3 and row.shape[0] == 1:
        return row[0]
    if row.ndim == 3 and row.shape[0] in (3, 4):  # channels first, as torch has them
        return np.moveaxis(row, 0, -1)
    return row


def _label(v):
    return str(v.item() if hasattr(v, "item") else v)


def _short(name, width=20):
    return name if len(name) <= width else name[: width - 1] + "…"
