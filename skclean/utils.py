"""Small mechanisms the estimators share, public so that they can be tested and
benchmarked on their own."""

import threading
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["ReservoirSample", "append_row", "store_parameters", "torch_threads"]

def store_parameters(obj, init_locals):
    """Store every argument of ``__init__`` as an attribute of the same name, and nothing else.

    scikit-learn's contract for ``__init__`` (no logic, no validation: one
    attribute per parameter, read back by ``get_params`` and ``clone``),
    written once.  Call it first thing, as ``store_parameters(self, locals())``.
    """
    for name, value in init_locals.items():
        if name not in ("self", "__class__"):
            setattr(obj, name, value)


# scoring blocks (one per dask thread) that changed torch's thread count, and the count
# to restore when the last one ends
_TORCH_THREADS = {"lock": threading.Lock(), "active": 0, "saved": None}


@contextmanager
def torch_threads(n_jobs):
    """Let torch use ``n_jobs`` threads inside the block, then restore its setting.

    torch's thread count is process-wide, and dask scores blocks in several
    threads at once: the setting in force before the first block started is
    restored when the last one ends, not whatever another block set.
    ``None`` leaves the setting alone.
    """
    if n_jobs is None:
        yield
        return
    with _TORCH_THREADS["lock"]:
        if _TORCH_THREADS["active"] == 0:
            _TORCH_THREADS["saved"] = torch.get_num_threads()
        _TORCH_THREADS["active"] += 1
        torch.set_num_threads(n_jobs)
    try:
        yield
    finally:
        with _TORCH_THREADS["lock"]:
            _TORCH_THREADS["active"] -= 1
            if _TORCH_THREADS["active"] == 0:
                torch.set_num_threads(_TORCH_THREADS["saved"])


def append_row(view, buf, value):
    """Append ``value`` to ``view`` in amortised O(1); returns ``(view, buf)``.

    ``view`` is the first ``len(view)`` rows of ``buf``, a buffer that doubles
    when full, so a stream of ``n`` appends copies O(n) rows in all instead of
    O(n²).  Rows past a view's end are never read: a rollback that restores a
    shorter view of the same buffer needs no copy of it.  A ``view`` that is
    not a view of ``buf`` (e.g. a copy restored by a rollback) gets a new buffer.
    """
    if hasattr(view, "tocsr"):  # sparse rows: a growable CSR buffer
        from ._sparse import append_sparse_row

        return append_sparse_row(view, buf, value)
    n = len(view)
    if buf is None or view.base is not buf or n == len(buf):
        buf = np.empty((max(2 * n, 64),) + view.shape[1:], dtype=view.dtype)
        buf[:n] = view
    buf[n] = value
    return buf[: n + 1], buf


class ReservoirSample:
    """A uniform sample of at most ``capacity`` of a growing set of rows (Vitter's algorithm R).

    Keeps the positions of the sampled rows at O(1) per offered row, so that a
    statistic estimated from them (CINCER's Fisher) costs the same on a long
    stream as on a short one.

    Parameters
    ----------
    capacity : int or None
        Rows kept; ``None`` keeps every row (``indices`` is then ``None``).
    n : int
        Rows present at the start (positions ``0..n-1``).
    random_state : numpy Generator
        Draws the sample.

    Attributes
    ----------
    indices : ndarray of int or None
        Sorted at the start; positions of the sampled rows.
    n_offered : int
        Size of the population the sample stands for.
    """

    def __init__(self, capacity, n, random_state):
        self.capacity = capacity
        self.rng = random_state
        self.n_offered = n
        self.indices = None if capacity is None else (
            np.arange(n) if n <= capacity
            else np.sort(self.rng.choice(n, capacity, replace=False)))

    def offer(self, i):
        """Row ``i`` was just added: it enters the sample with probability capacity/n."""
        self.n_offered += 1
        if self.indices is None:
            return
        if len(self.indices) < self.capacity:  # at most capacity rows: O(capacity), not O(n)
            self.indices = np.append(self.indices, i)
            return
        j = int(self.rng.integers(self.n_offered))
        if j < len(self.indices):
            self.indices[j] = i

    def drop(self, k):
        """Row ``k`` was removed and the rows after it moved up by one."""
        self.n_offered -= 1  # the population the sample stands for shrank
        if self.indices is not None:
            idx = self.indices[self.indices != k]
            self.indices = idx - (idx > k)

    def rows(self):
        """The sampled positions, or a slice of every row."""
        return slice(None) if self.indices is None else self.indices
