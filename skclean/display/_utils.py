"""Helpers shared by the displays: matplotlib import, axes, row and label look-up."""

import numpy as np


def check_matplotlib(caller):
    """``matplotlib.pyplot``, or an ImportError naming ``caller``."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(f"{caller} requires matplotlib; install it with "
                          "`pip install matplotlib`.") from exc
    return plt


def make_axes(ax, n, *, caller, ncols=None, panel_size=(4.0, 3.5), **subplots_kw):
    """``(figure, axes)`` with ``axes`` an object array of ``n`` Axes.

    ``ax=None`` creates a figure with ``n`` panels (``ncols`` per row);
    otherwise ``ax`` must be one Axes (``n == 1``) or a sequence of ``n``.
    """
    plt = check_matplotlib(caller)
    if ax is None:
        ncols = n if ncols is None else max(1, min(ncols, n))
        nrows = int(np.ceil(n / ncols))
        fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                                 figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                                 **subplots_kw)
        axes = axes.ravel()
        for extra in axes[n:]:
            extra.set_visible(False)
        return fig, axes[:n]
    if hasattr(ax, "plot"):  # a single Axes
        axes = [ax]
    else:
        axes = list(np.asarray(ax, dtype=object).ravel())
    if len(axes) != n:
        raise ValueError(f"{caller} draws {n} panel(s): ax must be "
                         f"{'an Axes or ' if n == 1 else ''}a sequence of {n} Axes, "
                         f"got {len(axes)}.")
    out = np.empty(n, dtype=object)
    out[:] = axes
    return out[0].figure, out


def is_first_col(ax):
    """Whether ``ax`` sits in the first column of its grid (True if it has none)."""
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    return spec is None or spec.is_first_col()


def lookup(container, row_id):
    """The entry of ``container`` for ``row_id``: by index label, else by position.

    A pandas object with ``row_id`` in its index is read with ``.loc``;
    anything else is read positionally (``np.asarray(container)[int(row_id)]``).
    """
    index = getattr(container, "index", None)
    if hasattr(container, "loc") and index is not None:
        try:
            if row_id in index:
                return container.loc[row_id]
        except TypeError:  # an unhashable id: fall through to positions
            pass
        return container.iloc[_position(row_id, len(container))]
    arr = np.asarray(container)
    return arr[_position(row_id, len(arr))]


def _position(row_id, n):
    try:
        pos = int(row_id)
    except (TypeError, ValueError):
        raise KeyError(f"Row id {row_id!r} is neither in the index nor a position.") from None
    if pos != row_id or not 0 <= pos < n:
        raise KeyError(f"Row id {row_id!r} is neither in the index nor a position in "
                       f"0..{n - 1}.")
    return pos
