"""ClassBasedIFDetector on dask arrays: lazy, chunk by chunk, and equal to the in-memory scores."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skclean import ClassBasedIFDetector, ModelBasedDetector
from skclean._dask import is_dask

from .conftest import model_of_kind

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

METHODS = ["score_samples", "decision_function", "predict"]
N_CLASSES = 3
# float64 logistic regression and a float32 skorch network (a plain torch module goes
# through the same adapter and trains 100 epochs by default: too slow here)
KINDS = ["lr", "skorch"]


@pytest.fixture(scope="module")
def data(iris):
    X, y = iris
    rng = np.random.RandomState(0)
    y_noisy = y.copy()
    flip = rng.rand(len(y)) < 0.15
    y_noisy[flip] = (y[flip] + 1) % N_CLASSES
    ref = np.arange(0, len(X), 6)
    return X, y_noisy, X[ref], y[ref]


@pytest.fixture(scope="module")
def detectors(data):
    X, y, X_ref, y_ref = data
    return {kind: ClassBasedIFDetector(model_of_kind(kind, X.shape[1], N_CLASSES),
                                       random_state=0).fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
            for kind in KINDS}


def _check_equal(det, method, out, expected):
    if method == "predict":
        np.testing.assert_array_equal(out, expected)
    elif det.adapter_.dtype == torch.float64:
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    else:  # float32: the blocks are scored in other GEMM shapes
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


# (40, 2): uneven last chunk (40, 40, 40, 30) and columns split, which must be joined
@pytest.mark.parametrize("chunks", [(150, -1), (40, 2), (17, -1)])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", KINDS)
def test_dask_equals_in_memory(detectors, data, kind, method, chunks):
    X, y = data[:2]
    det = detectors[kind]
    Xd = da.from_array(X, chunks=chunks)
    out = getattr(det, method)(Xd, y)  # y in memory: cut into X's row chunks
    assert isinstance(out, da.Array)
    assert out.chunks == (Xd.chunks[0],)
    expected = getattr(det, method)(X, y)
    assert out.dtype == expected.dtype
    with dask.config.set(scheduler="synchronous"):
        _check_equal(det, method, out.compute(), expected)


def test_y_as_dask_array_is_rechunked_to_x_rows(detectors, data):
    X, y = data[:2]
    det = detectors["lr"]
    out = det.decision_function(da.from_array(X, chunks=(40, -1)), da.from_array(y, chunks=25))
    assert out.chunks == ((40, 40, 40, 30),)
    _check_equal(det, "decision_function", out.compute(scheduler="sync"),
                 det.decision_function(X, y))


@pytest.mark.parametrize("similarity", ["gd", "tracin"])
def test_threads_share_no_model(data, similarity):
    # a network scores through a forward hook on its last layer, TracIn loads checkpoints
    # into the model: threads scoring one shared model at once would mix their rows
    X, y, X_ref, y_ref = data
    det = ClassBasedIFDetector(model_of_kind("skorch", X.shape[1], N_CLASSES),
                               similarity=similarity, n_checkpoints=3, random_state=0)
    det.fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
    out = det.score_samples(da.from_array(X, chunks=(5, -1)), y)
    expected = det.score_samples(X, y)
    for _ in range(3):
        np.testing.assert_allclose(out.compute(scheduler="threads", num_workers=4), expected,
                                   rtol=1e-5, atol=1e-6)


@pytest.fixture
def client():
    distributed = pytest.importorskip("distributed")
    # in-process workers: a cluster of processes takes seconds to start and import torch
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.mark.parametrize("kind", KINDS)
def test_distributed_equals_in_memory(client, detectors, data, kind):
    X, y = data[:2]
    det = detectors[kind]
    Xd, yd = da.from_array(X, chunks=(40, -1)), da.from_array(y, chunks=(40,))
    outs = [getattr(det, m)(Xd, yd) for m in METHODS]
    for method, out in zip(METHODS, client.compute(outs, sync=True), strict=True):
        _check_equal(det, method, out, getattr(det, method)(X, y))


def test_distributed_reports_unknown_label(client, detectors, data):
    X, y = data[:2]
    y_bad = y.copy()
    y_bad[130] = 7
    out = detectors["lr"].predict(da.from_array(X, chunks=(40, -1)), y_bad)
    with pytest.raises(ValueError, match=r"Unknown labels \[7\].*rows 120:150"):
        client.compute(out, sync=True)


def test_lazy_until_computed(detectors, data):
    X, y = data[:2]
    seen = []

    def load(block):  # stands for reading a chunk from disk
        seen.append(len(block))
        return block

    Xd = da.from_array(X, chunks=(50, -1)).map_blocks(load, meta=np.empty((0, 0)))
    out = detectors["lr"].predict(Xd, y)
    assert seen == []
    out.compute(scheduler="sync")
    assert sorted(seen) == [50, 50, 50]


def test_fitted_state_enters_the_graph_once(detectors, data):
    X, y = data[:2]
    det = detectors["skorch"]
    out = det.score_samples(da.from_array(X, chunks=(10, -1)), y)
    graph = dict(out.__dask_graph__())
    fitted = [k for k in graph if isinstance(k, str) and "fitted" in k]
    assert len(fitted) == 1
    blocks = [k for k in graph if isinstance(k, tuple) and k[0] == out.name]
    assert len(blocks) == 15
    assert all(fitted[0] in dask.core.get_dependencies(graph, k) for k in blocks)
    # the whole graph is about one pickled detector plus the data, not 15 detectors
    size = sum(len(pickle.dumps(v)) for v in graph.values())
    assert size < len(pickle.dumps(det)) + 3 * (X.nbytes + y.nbytes) + 20_000


def test_graph_keeps_the_state_it_was_built_with(detectors, data):
    X, y = data[:2]
    det = pickle.loads(pickle.dumps(detectors["lr"]))
    expected = det.decision_function(X, y)
    out = det.decision_function(da.from_array(X, chunks=(40, -1)), y)
    det.offset_ += 100.0  # changed (as a refit would) after the graph was built
    _check_equal(det, "decision_function", out.compute(scheduler="sync"), expected)


def test_unknown_chunk_sizes(detectors, data):
    X, y = data[:2]
    det = detectors["lr"]
    Xd, yd = da.from_array(X, chunks=(40, -1)), da.from_array(y, chunks=(40,))
    keep = Xd[:, 0] > -1.0
    X_kept, y_kept = Xd[keep], yd[keep]  # row counts unknown until computed
    assert np.isnan(X_kept.shape[0])
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        det.score_samples(X_kept, y)
    # both filtered alike: blocks pair up in order and their lengths are checked per block
    mask = X[:, 0] > -1.0
    _check_equal(det, "score_samples", det.score_samples(X_kept, y_kept).compute(
        scheduler="sync"), det.score_samples(X[mask], y[mask]))


@pytest.mark.parametrize("method", METHODS)
def test_errors_at_graph_build(detectors, data, method):
    X, y = data[:2]
    det = detectors["lr"]
    Xd = da.from_array(X, chunks=(40, -1))
    with pytest.raises(ValueError, match="X has 3 features, but ClassBasedIFDetector is "
                                         "expecting 4 features"):
        getattr(det, method)(Xd[:, :3], y)
    with pytest.raises(ValueError, match=r"y must have shape \(150,\), got \(149,\)"):
        getattr(det, method)(Xd, y[:-1])
    with pytest.raises(ValueError, match=r"y must have shape \(150,\), got \(149,\)"):
        getattr(det, method)(Xd, da.from_array(y[:-1], chunks=40))
    with pytest.raises(ValueError, match=r"y must have shape \(150,\), got \(150, 1\)"):
        getattr(det, method)(Xd, da.from_array(y[:, None], chunks=40))
    with pytest.raises(ValueError, match="Expected a 2-D dask array for X"):
        getattr(det, method)(Xd[:, 0], y)
    with pytest.raises(TypeError, match="y is a dask array but X is not"):
        getattr(det, method)(X, da.from_array(y, chunks=40))
    unfitted = clone(det)
    with pytest.raises(ValueError, match="not fitted"):
        getattr(unfitted, method)(Xd, y)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_label_at_compute_names_the_rows(detectors, data, method):
    X, y = data[:2]
    y_bad = y.copy()
    y_bad[130] = 7
    out = getattr(detectors["lr"], method)(da.from_array(X, chunks=(40, -1)), y_bad)
    with pytest.raises(ValueError, match=r"Unknown labels \[7\]; classes are \[0, 1, 2\] "
                                          r"\(in rows 120:150 of the dask arrays X, y\)"):
        out.compute(scheduler="sync")


def test_dask_dataframe_is_refused_with_a_hint(detectors, data):
    dd = pytest.importorskip("dask.dataframe")
    import pandas as pd

    X, y = data[:2]
    ddf = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    with pytest.raises(TypeError, match=r"to_dask_array\(lengths=True\)"):
        detectors["lr"].score_samples(ddf, y)


def test_dask_collection_that_is_not_an_array_is_refused(detectors, data):
    X, y = data[:2]
    frame = type("DataFrame", (), {"__module__": "dask.dataframe.dask_expr._collection"})()
    with pytest.raises(TypeError, match=r"X is a dask\.dataframe.*DataFrame; skclean scores "
                                        r"dask arrays.*X\.to_dask_array\(lengths=True\)"):
        detectors["lr"].predict(frame, y)
    series = type("Series", (), {"__module__": "dask.dataframe.dask_expr._collection"})()
    with pytest.raises(TypeError, match=r"y\.to_dask_array\(lengths=True\)"):
        detectors["lr"].predict(da.from_array(X, chunks=(40, -1)), series)


def test_model_based_detector_flags_dask_rows_too(data):
    # decision_function and predict come from the detectors' shared mixin
    X, y, X_ref, y_ref = data
    det = ModelBasedDetector(model_of_kind("lr", X.shape[1], N_CLASSES), n_rounds=1,
                             random_state=0).fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
    Xd = da.from_array(X, chunks=(40, -1))
    for method in ["decision_function", "predict"]:
        out = getattr(det, method)(Xd, y)
        assert isinstance(out, da.Array)
        np.testing.assert_allclose(out.compute(scheduler="sync"), getattr(det, method)(X, y),
                                   rtol=1e-12, atol=1e-12)


def test_is_dask():
    assert is_dask(da.zeros(3))
    assert not is_dask(np.zeros(3))
    assert not is_dask([0, 1])


def test_numpy_path_never_imports_dask():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        from skclean import ClassBasedIFDetector, ModelBasedDetector
        rng = np.random.RandomState(0)
        X, y = rng.randn(60, 3), np.arange(60) % 2
        det = ClassBasedIFDetector(LogisticRegression()).fit(X, y, X_trusted=X[:10],
                                                              y_trusted=y[:10])
        det.score_samples(X, y), det.decision_function(X, y), det.predict(X, list(y))
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))
        assert not loaded, loaded
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("which", ["chef", "model_based"])
def test_chef_infl_ranking_and_model_based_scores_on_dask_rows(data, which):
    from skclean import ChefCleaner, SimulatedOracle

    X, y, X_ref, y_ref = data
    oracle = SimulatedOracle(X, data[1])
    if which == "chef":
        est = ChefCleaner(model_of_kind("lr", X.shape[1], N_CLASSES), oracle=oracle, budget=10,
                          batch_size=5, random_state=0).fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
    else:
        est = ModelBasedDetector(model_of_kind("lr", X.shape[1], N_CLASSES), oracle=oracle,
                                 n_rounds=2, query_size=5, random_state=0)
        est = est.fit(X, y, X_trusted=X_ref, y_trusted=y_ref)
    out = est.score_samples(da.from_array(X, chunks=(40, -1)), da.from_array(y, chunks=40))
    assert is_dask(out) and out.chunks == ((40, 40, 40, 30),)
    np.testing.assert_allclose(out.compute(scheduler="synchronous"), est.score_samples(X, y),
                               rtol=1e-12, atol=1e-12)
