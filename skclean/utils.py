"""Small mechanisms the estimators share, public so that they can be tested and
benchmarked on their own."""

import threading
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["ReservoirSample", "SeenRows", "append_row", "store_parameters", "torch_threads"]

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


class SeenRows:
    """A uniform sample of at most ``capacity`` of every labelled row seen, with the count.

    What ``partial_fit`` needs of the rows it no longer holds: for the logistic
    family the curvature of their loss (estimated from the sample), for the
    influence similarity the Hessian.  While every row seen fits
    (``complete``), the sample *is* the rows and updates are exact.  New rows
    enter by Vitter's algorithm R, batch at a time, so an update costs
    O(``capacity`` + batch) however many rows came before.

    Parameters
    ----------
    X, y : the first rows and their labels (hard or probabilistic).
    sample_weight : array of shape (n,) or None
    capacity : int
    random_state : numpy Generator
    """

    def __init__(self, X, y, sample_weight=None, *, capacity=5000, random_state=None):
        self.capacity = int(capacity)
        self.rng = np.random.default_rng(random_state)
        n = X.shape[0]
        keep = np.arange(n) if n <= self.capacity else np.sort(
            self.rng.choice(n, self.capacity, replace=False))
        self.X, self.y = X[keep], np.asarray(y)[keep]
        self.w = None if sample_weight is None else np.asarray(sample_weight, float)[keep]
        self.n_seen = n

    @property
    def complete(self):
        """Whether the sample holds every row seen."""
        return self.X.shape[0] == self.n_seen

    def add(self, X, y, sample_weight=None):
        """Offer a batch of new rows (each enters with probability capacity / rows seen)."""
        from ._sparse import stack_rows

        m, kept = X.shape[0], self.X.shape[0]
        slots = np.arange(kept, kept + m)  # the i-th new row's slot; -1: not kept
        free = max(0, self.capacity - kept)
        if m > free:  # algorithm R for the rows beyond the free slots
            seen = self.n_seen + np.arange(free, m) + 1
            j = np.floor(self.rng.random(m - free) * seen).astype(np.int64)
            slots[free:] = np.where(j < self.capacity, j, -1)
        # the last row written to a slot wins, as when the rows are offered one by one
        last = {}
        for i, s in enumerate(slots.tolist()):
            if s >= 0:
                last[s] = i
        old = np.array([s for s in range(kept) if s not in last], dtype=np.int64)
        new = np.array(sorted(last.values()), dtype=np.int64)
        w_new = np.ones(m) if sample_weight is None else np.asarray(sample_weight, float)
        if self.w is not None or sample_weight is not None:
            w_old = np.ones(kept) if self.w is None else self.w
            self.w = np.concatenate([w_old[old], w_new[new]])
        self.X = stack_rows([self.X[old], X[new]])
        self.y = np.concatenate([self.y[old], np.asarray(y)[new]])
        self.n_seen += m
        return self


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
        """Row ``i`` was just added: it enters the sample with probability capacity/n.
        Returns whether the sample changed (always, when it is every row)."""
        self.n_offered += 1
        if self.indices is None:
            return True
        if len(self.indices) < self.capacity:  # at most capacity rows: O(capacity), not O(n)
            self.indices = np.append(self.indices, i)
            return True
        j = int(self.rng.integers(self.n_offered))
        if j < len(self.indices):
            self.indices[j] = i
            return True
        return False

    def drop(self, k):
        """Row ``k`` was removed and the rows after it moved up by one."""
        self.n_offered -= 1  # the population the sample stands for shrank
        if self.indices is not None:
            idx = self.indices[self.indices != k]
            self.indices = idx - (idx > k)

    def rows(self):
        """The sampled positions, or a slice of every row."""
        return slice(None) if self.indices is None else self.indices
