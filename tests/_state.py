"""Exact comparison of two estimators' whole fitted state (for the shared suites).

"Byte-identical" means: every array and tensor equal bit for bit, every RNG in
the same state, the model's parameters and optimiser state equal, the records
equal.  Wall-clock timings and the journal (which by design outlives a
rollback) are left out.
"""

import numpy as np
import scipy.sparse as sp
import torch

from skclean.models import ModelAdapter
from skclean.questions import Journal, Questioner

SKIP_ATTRS = {"_resumable_journal", "_scorer", "iteration_times_",  # timings
              "_X_buf", "_y_buf", "_ids_buf", "_cleaned_buf", "_skipped_buf"}  # behind views
RECORD_KEYS = ("row_id", "question", "role", "given", "suggested", "answer", "applied", "skipped")


def digest(value):
    """A comparable, hashable-free summary of ``value`` (nested lists of plain values)."""
    if isinstance(value, dict):
        return {k: digest(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if not str(k).startswith("time") and k not in SKIP_ATTRS}
    if isinstance(value, list | tuple):
        return [digest(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return ["ndarray-object", list(value.shape), [digest(v) for v in value.ravel()]]
        return ["ndarray", value.dtype.str, list(value.shape),
                np.ascontiguousarray(value).tobytes()]
    if sp.issparse(value):  # by content: the same rows however the buffers were grown
        value = value.tocsr(copy=True)
        value.sum_duplicates()
        return ["sparse", list(value.shape), digest(value.data),
                digest(value.indices.astype(np.int64)),
                digest(value.indptr.astype(np.int64))]
    if isinstance(value, torch.Tensor):
        return digest(value.detach().cpu().numpy())
    if isinstance(value, np.random.RandomState):
        return digest(list(value.get_state()))
    if isinstance(value, np.random.Generator):
        return digest(value.bit_generator.state)
    if isinstance(value, np.generic):
        return digest(value.item())
    if isinstance(value, float):
        return repr(value)  # NaN equals NaN here
    if isinstance(value, ModelAdapter):
        out = {"params": digest(value.get_state()), "classes": digest(value.classes_)}
        rng = getattr(value, "_rng", None)
        if rng is not None:
            out["rng"] = digest(rng)
        net = getattr(value, "net", None)
        if net is not None and hasattr(net, "optimizer_"):
            out["optimizer"] = digest(net.optimizer_.state_dict()["state"])
        return out
    if isinstance(value, Questioner):
        return [[digest(r[k]) for k in RECORD_KEYS] for r in value.records]
    if isinstance(value, Journal):
        return "journal"
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if type(value).__module__.startswith("skclean.") and hasattr(value, "__dict__"):
        return [type(value).__name__, digest(vars(value))]  # skclean's own helpers, in full
    return type(value).__name__  # callables and other helpers: compared by kind only


def state_of(estimator):
    """Digest of everything but the constructor parameters (the user's settings)."""
    params = set(estimator.get_params(deep=False))
    return digest({k: v for k, v in estimator.__dict__.items() if k not in params})


def assert_same_state(a, b):
    da, db = state_of(a), state_of(b)
    assert da.keys() == db.keys(), set(da) ^ set(db)
    for key in da:
        assert da[key] == db[key], f"attribute {key!r} differs"
