"""Dask arrays in, dask arrays out: a fitted estimator's row-wise method mapped over row chunks.

A fitted detector scores each row on its own (``score_samples(X, y)``,
``decision_function``, ``predict``), so a dask array of rows is scored block
by block with the in-memory method, and the answer is a lazy dask array
chunked like ``X``'s rows.  Three pieces live here:

* :func:`is_dask` tells a dask collection without importing dask (dask is an
  optional dependency, imported only once a dask input is seen);
* :func:`align_rows` checks ``X`` and ``y`` when the graph is built, as far as
  the shapes allow, and chunks them alike: ``X`` in one column chunk, ``y``
  (a dask array, or array-like turned into one) in ``X``'s row chunks;
* :func:`map_rows` maps the method over the row blocks.

The fitted estimator enters the graph once, pickled when the graph is built:
a single task every block depends on, not a copy inside every task (a fitted
default network pickles to about 1.6 MB; a thousand tasks each carrying it
would make a graph of 1.6 GB).  A distributed cluster sends it to each worker
once.  Being bytes, the snapshot cannot change: refitting the estimator after
building the graph does not change what the graph computes.  Scoring is not
thread-safe on a shared model (a network's forward hook collects
activations, TracIn loads checkpoints into the model), so every thread
unpickles its own copy, once per graph.
"""

import pickle
import threading
import uuid
import weakref

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["align_rows", "is_dask", "map_rows"]


def is_dask(obj):
    """Whether ``obj`` is a dask collection (array, dataframe, series), without importing dask."""
    return type(obj).__module__.partition(".")[0] in ("dask", "dask_expr")


def _check_dask_array(obj, name):
    import dask.array as da

    if not isinstance(obj, da.Array):
        raise TypeError(
            f"{name} is a {type(obj).__module__}.{type(obj).__name__}; skclean scores dask "
            f"arrays. Convert it with {name}.to_dask_array(lengths=True), which also "
            "records the row count of every chunk.")


def _unknown_rows(chunks):
    return any(np.isnan(c) for c in chunks)


def align_rows(estimator, X, y):
    """``(X, y)`` as dask arrays with the same row chunks, ``X`` in one column chunk.

    Checks what the shapes tell before anything is computed: that ``estimator``
    is fitted, ``X`` is 2-D with ``n_features_in_`` columns, ``y`` is 1-D with
    one label per row.  Labels are checked when each block is computed.

    Parameters
    ----------
    estimator : fitted estimator with ``n_features_in_``
    X : dask array of shape (n_samples, n_features)
    y : dask array or array-like of shape (n_samples,)
        An array-like is cut into ``X``'s row chunks.

    Returns
    -------
    X, y : dask arrays
    """
    import dask.array as da

    check_is_fitted(estimator)
    if not is_dask(X):
        raise TypeError("y is a dask array but X is not: pass X as a dask array too, "
                        "e.g. dask.array.from_array(X, chunks=(n_rows_per_chunk, -1)).")
    _check_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array for X, got {X.ndim}-D with shape "
                         f"{X.shape}.")
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {n_features} features as input.")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})  # a row's features in one block: rows are scored whole
    rows = X.chunks[0]
    if is_dask(y):
        _check_dask_array(y, "y")
        if y.ndim != 1:
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}.")
        if y.chunks[0] == rows:
            return X, y
        if _unknown_rows(rows) or _unknown_rows(y.chunks[0]):
            if y.numblocks[0] == X.numblocks[0]:
                return X, y  # blocks matched in order; their lengths are checked when computed
            raise ValueError(
                f"X and y have unknown chunk sizes and different numbers of row chunks "
                f"({X.numblocks[0]} and {y.numblocks[0]}): they cannot be aligned. Call "
                "compute_chunk_sizes() on them, or make them with to_dask_array(lengths=True).")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}.")
        return X, y.rechunk((rows,))
    y = np.asarray(y)
    if _unknown_rows(rows):
        raise ValueError(
            "X has unknown chunk sizes, so y cannot be cut into its row chunks. Call "
            "X.compute_chunk_sizes(), or make X with to_dask_array(lengths=True).")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}.")
    return X, da.from_array(y, chunks=(rows,))


def map_rows(estimator, method, X, y, dtype):
    """``estimator.method(X, y)`` block by block over dask rows: a lazy 1-D dask array.

    Parameters
    ----------
    estimator : fitted estimator
        Its in-memory ``method`` is applied to each block of rows.
    method : str
        ``"score_samples"``, ``"decision_function"`` or ``"predict"``.
    X : dask array of shape (n_samples, n_features)
    y : dask array or array-like of shape (n_samples,)
    dtype : dtype
        Of the result.

    Returns
    -------
    dask array of shape (n_samples,), chunked like ``X``'s rows
    """
    import dask
    import dask.array as da

    X, y = align_rows(estimator, X, y)
    dtype = np.dtype(dtype)
    # One task holds the fitted state, pickled; every block names it as a dependency.  The
    # key is unique rather than a hash of the estimator: hashing a fitted network pickles
    # it again, and two snapshots of one estimator need not pickle to the same bytes.
    name = f"{type(estimator).__name__}-fitted-{uuid.uuid4().hex}"
    fitted = dask.delayed(_Frozen(estimator), name=name, traverse=False)
    return da.map_blocks(_apply_block, X, y[:, None], fitted, method, dtype,
                         drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype=dtype),
                         token=method.replace("_", "-"))


def _apply_block(X, y, frozen, method, dtype, block_info=None):
    own = _thread_copy(frozen)
    try:
        out = getattr(own, method)(X, y[:, 0])
    except ValueError as exc:  # say where: a wrong label may sit anywhere in 10^7 rows
        if exc.args and isinstance(exc.args[0], str):
            msg = exc.args[0].rstrip(".")
            exc.args = (f"{msg} (in {_where(block_info)}).", *exc.args[1:])
        raise
    return np.asarray(out, dtype=dtype)


def _where(block_info):
    out = (block_info or {}).get(None, {})
    start, stop = out.get("array-location", [(np.nan, np.nan)])[0]
    if np.isnan(start) or np.isnan(stop):
        return f"row chunk {out.get('chunk-location', ('?',))[0]} of the dask arrays X, y"
    return f"rows {int(start)}:{int(stop)} of the dask arrays X, y"


class _Frozen:
    """A fitted estimator as pickled bytes: what the graph holds, the same for every thread.

    cloudpickle, as dask's distributed scheduler uses, so that a module defined in the
    user's script unpickles on a worker process too.
    """

    def __init__(self, estimator):
        import cloudpickle

        self.payload = cloudpickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
        self.type_name = type(estimator).__name__

    def __repr__(self):
        return f"<fitted {self.type_name}, {len(self.payload):,} bytes pickled>"


_local = threading.local()


def _thread_copy(frozen):
    """This thread's own estimator unpickled from ``frozen``, made once per thread."""
    copies = getattr(_local, "copies", None)
    if copies is None:
        copies = _local.copies = weakref.WeakKeyDictionary()  # dropped with the graph
    own = copies.get(frozen)
    if own is None:
        own = copies[frozen] = pickle.loads(frozen.payload)
    return own
