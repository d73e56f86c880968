"""What the page shows of one row: an image, a text, or a table of named values.

The person sees the row as they have it: ``data`` (their raw rows: a
DataFrame, a list of texts, image arrays) looked up by the row id the cleaner
passes, not the scaled or encoded features a Pipeline hands the cleaner.
"""

import base64
import io

import numpy as np
import scipy.sparse as sp

from ..oracles import _shown_features, image_of, raw_row

#: A string value at least this long, or holding a line break, is shown as a text.
TEXT_LENGTH = 40


def png_data_url(image):
    """An image ``(H, W)`` or ``(H, W, C)`` as a ``data:`` URL of a PNG, scaled to its own
    range (dark ink on white for one channel, as digits are drawn)."""
    import matplotlib.image

    lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
    scaled = np.zeros_like(image) if hi <= lo else (image - lo) / (hi - lo)
    buf = io.BytesIO()
    if scaled.ndim == 2:
        matplotlib.image.imsave(buf, scaled, cmap="gray_r", vmin=0, vmax=1, format="png")
    else:
        matplotlib.image.imsave(buf, np.clip(scaled, 0, 1), format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}") if np.isfinite(value) else str(value)
    return value if isinstance(value, int | str | bool) or value is None else str(value)


def row_view(x, row_id, *, data=None, feature_names=None, image_shape=None, max_features=50):
    """A JSON-ready description of one row.

    Returns
    -------
    dict
        ``{"image": data URL or None, "shape": [...], "texts": [[name, text]],
        "table": [[name, value]], "more": int}``: any of the three parts may be
        empty; ``more`` counts the values left out of the table.
    """
    names = feature_names
    if data is not None and row_id is not None:
        x, names = raw_row(data, row_id, names)
    view = {"image": None, "shape": None, "texts": [], "table": [], "more": 0}
    if isinstance(x, str):
        view["texts"].append(["text", x])
        return view
    if image_shape is not None and not sp.issparse(x):
        flat = np.asarray(x, dtype=float).ravel()
        if flat.size == int(np.prod(image_shape)):
            x = flat.reshape(image_shape)
    image = image_of(x)
    if image is not None:
        view["image"], view["shape"] = png_data_url(image), list(np.shape(x))
        return view
    pairs, _ = _shown_features(x, list(names) if names is not None else None)
    for name, value in pairs:
        if isinstance(value, str) and (len(value) >= TEXT_LENGTH or "\n" in value):
            view["texts"].append([str(name), value])
        elif len(view["table"]) < max_features:
            view["table"].append([str(name), _plain(value)])
        else:
            view["more"] += 1
    return view
