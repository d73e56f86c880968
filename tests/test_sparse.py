"""Sparse rows end to end: the products against their dense values, no n × d copy anywhere.

The estimator-level agreement of sparse and dense input lives in the shared
invariance and fault suites; this module checks the bottom layer
(:mod:`skclean._sparse`) against brute force, and that every estimator runs
on a matrix far too wide to densify without ever densifying it.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression

from skclean import (
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    ModelBasedDetector,
    ReviewCleaner,
    SimulatedOracle,
)
from skclean._sparse import SparseRows, row_sq_norms, rows_gram, stack_rows
from skclean.influence import top_fisher_diagonal
from skclean.models import SoftmaxRegression, make_adapter
from skclean.utils import append_row

from .conftest import CORE_KINDS, model_of_kind


def random_csr(n, d, density, seed):
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data -= 0.5  # signed values, as after centring
    return X


@pytest.mark.parametrize("bias", [False, True])
def test_sparse_rows_products_equal_their_dense_values(bias):
    X = random_csr(40, 15, 0.3, 0)
    U = SparseRows(X, torch.float64, "cpu", bias=bias)
    D = torch.as_tensor(X.toarray())
    if bias:
        D = torch.cat([D, torch.ones(40, 1, dtype=D.dtype)], 1)
    rng = np.random.default_rng(0)
    B = torch.as_tensor(rng.normal(size=(D.shape[1], 3)))
    A = torch.as_tensor(rng.normal(size=(4, 40)))
    torch.testing.assert_close(U @ B, D @ B)
    torch.testing.assert_close(U @ B[:, 0], D @ B[:, 0])
    torch.testing.assert_close(A @ U, A @ D)
    torch.testing.assert_close(row_sq_norms(U), (D * D).sum(1))
    rows = np.array([3, 1, 1, 30])
    torch.testing.assert_close(U[rows].to_dense(), D[rows])
    torch.testing.assert_close(U[torch.as_tensor(rows)].to_dense(), D[rows])
    V = SparseRows(random_csr(7, 15, 0.5, 1), torch.float64, "cpu", bias=bias)
    torch.testing.assert_close(rows_gram(U, V), D @ V.to_dense().T)
    torch.testing.assert_close(rows_gram(D, V), D @ V.to_dense().T)
    assert U.shape == tuple(D.shape) and len(U) == 40


def test_appending_sparse_rows_is_a_view_of_one_growing_buffer():
    X = random_csr(300, 20, 0.2, 2)
    view, buf = X[:0], None
    for i in range(300):
        view, buf = append_row(view, buf, X[i])
    assert (view != X).nnz == 0 and view.shape == X.shape
    assert np.shares_memory(view.data, buf.data)  # no copy per append
    # a rollback restores a shorter view of the same buffer: appending after it is exact
    end = view.indptr[10]
    short = sp.csr_matrix((buf.data[:end], buf.indices[:end], buf.indptr[:11]), shape=(10, 20),
                          copy=False)
    again, _ = append_row(short, buf, X[200])
    assert (again != stack_rows([X[:10], X[200]])).nnz == 0


@pytest.mark.parametrize("model", ["lr", "softmax", "net"])
def test_adapter_influence_pieces_equal_the_dense_ones(model):
    X = random_csr(120, 12, 0.4, 3)
    y = np.random.default_rng(3).integers(0, 3, 120)
    w = np.linspace(0.5, 1.5, 120)
    out = {}
    for layout, Xin in (("dense", X.toarray()), ("sparse", X)):
        if model == "lr":
            est = LogisticRegression(C=0.5)
        elif model == "softmax":
            est = SoftmaxRegression(n_epochs=3, random_state=0)
        else:
            est = model_of_kind("torch", 12, 3)
        a = make_adapter(est, random_state=0, dtype="float64").fit(Xin, y)
        v = torch.linspace(-1, 1, a.n_params("last"), dtype=torch.float64)
        out[layout] = [a.predict_proba(Xin), a.last_layer_hessian(Xin, sample_weight=w),
                       a.hvp(v, Xin, y, sample_weight=w), a.loss_grad(Xin, y, sample_weight=w),
                       a.per_example_grads(Xin[:5], y[:5]), top_fisher_diagonal(a, Xin),
                       a.last_layer_grads(Xin, y).gram(a.last_layer_grads(Xin[:4], y[:4]))]
    for dense, sparse in zip(out["dense"], out["sparse"], strict=True):
        torch.testing.assert_close(torch.as_tensor(sparse), torch.as_tensor(dense),
                                   rtol=1e-9, atol=1e-12)


def test_pandas_sparse_frame_is_taken_as_sparse_rows():
    X = random_csr(150, 10, 0.5, 4)
    y = np.random.default_rng(4).integers(0, 3, 150)
    frame = pd.DataFrame.sparse.from_spmatrix(X, columns=[f"w{j}" for j in range(10)])
    mask = np.arange(150) < 30
    a = ClassBasedIFDetector(LogisticRegression()).fit(frame, y, trusted_mask=mask)
    b = ClassBasedIFDetector(LogisticRegression()).fit(X.toarray(), y, trusted_mask=mask)
    np.testing.assert_allclose(a.score_samples(frame, y), b.score_samples(X.toarray(), y),
                               rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------- never densified
@pytest.fixture
def no_densify(monkeypatch):
    """Fail on any dense copy of more than 200 sparse rows (a question's few rows may be)."""
    for cls in {type(sp.csr_matrix((1, 1))), type(sp.csr_array((1, 1))),
                type(sp.coo_matrix((1, 1))), type(sp.coo_array((1, 1)))}:
        original = cls.toarray

        def guarded(self, *args, _original=original, **kwargs):
            if self.shape[0] > 200 and self.shape[1] > 1:
                raise AssertionError(f"a {self.shape} sparse matrix was densified")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "toarray", guarded)


@pytest.fixture(scope="module")
def wide():
    """600 rows x 100,000 columns (480 MB dense), 3 classes, 20% wrong labels."""
    rng = np.random.default_rng(5)
    n, d, K = 600, 100_000, 3
    y_true = rng.integers(0, K, n)
    # each class uses its own block of "words", plus shared ones
    cols = np.where(rng.random((n, 25)) < 0.6, y_true[:, None] * 1000
                    + rng.integers(0, 1000, (n, 25)), rng.integers(3000, d, (n, 25)))
    X = sp.csr_matrix((np.ones(n * 25), (np.repeat(np.arange(n), 25), cols.ravel())),
                      shape=(n, d))
    X.sum_duplicates()
    y = y_true.copy()
    flip = rng.random(n) < 0.2
    y[flip] = (y[flip] + 1) % K
    trusted = np.zeros(n, dtype=bool)
    trusted[:60] = True
    y[trusted] = y_true[trusted]
    return X, y, y_true, trusted


@pytest.mark.parametrize("name", ["class_based", "model_based", "chef", "cincer", "review"])
def test_every_estimator_runs_on_rows_too_wide_to_densify(wide, no_densify, name):
    X, y, y_true, trusted = wide
    oracle = SimulatedOracle(X, y_true)
    lr = LogisticRegression(C=10.0)
    if name == "class_based":
        est = ClassBasedIFDetector(lr).fit(X, y, trusted_mask=trusted)
    elif name == "model_based":
        est = ModelBasedDetector(lr, n_rounds=2, random_state=0).fit(X, y, trusted_mask=trusted)
    elif name == "chef":
        est = ChefCleaner(lr, oracle=oracle, budget=20, batch_size=10,
                          random_state=0).fit(X, y, trusted_mask=trusted)
        assert est.n_cleaned_ == 20
    elif name == "review":
        est = ReviewCleaner(ClassBasedIFDetector(lr), oracle=oracle, budget=20, batch_size=10,
                            rerank=True).fit(X, y, trusted_mask=trusted)
    else:
        # the default Top Fisher: 300,003 parameters, far past the explicit limit, so its
        # diagonal stands in
        est = CincerCleaner(lr, oracle=oracle, random_state=0).fit(X[:500], y[:500])
        est.partial_fit(X[500:], y[500:])
        assert sp.issparse(est.X_) and est.X_.shape == (600, 100_000)
        assert est.n_queries_ > 0 and any(h["counterexample"] is not None
                                          for h in est.history_)
    scores = est.score_samples(X, y) if name != "review" else est.scores_
    wrong = y != y_true
    # the wrong labels score lower: a real ranking, not an accident of the layout
    assert scores[wrong].mean() < scores[~wrong].mean()


@pytest.mark.parametrize("kind", CORE_KINDS)
def test_a_stream_of_dense_rows_after_a_sparse_fit_is_stored_sparse(kind):
    X = random_csr(80, 6, 0.6, 6)
    y = np.random.default_rng(6).integers(0, 3, 80)
    est = CincerCleaner(model_of_kind(kind, 6, 3), oracle=SimulatedOracle(X, y),
                        refit_epochs=1, random_state=0).fit(X[:50], y[:50])
    est.partial_fit(X[50:].toarray(), y[50:])
    assert sp.issparse(est.X_) and (est.X_ != X).nnz == 0


def test_a_pipeline_with_sparse_one_hot_output_shows_the_person_raw_rows():
    """ColumnTransformer's one-hot output is sparse by default; the person still reads the
    row as it is in the DataFrame, string columns included."""
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from skclean import ConsoleOracle

    rng = np.random.default_rng(7)
    n = 240
    town = rng.choice([f"town{i:02d}" for i in range(25)], n)
    y_true = np.isin(town, [f"town{i:02d}" for i in range(0, 25, 2)]).astype(int)
    frame = pd.DataFrame({"town": town, "size": rng.normal(size=n)},
                         index=[f"h{i}" for i in range(n)])
    y = y_true.copy()
    y[:20] = 1 - y[:20]
    trusted = np.arange(n) >= 200
    encode = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["town"]),
                                     remainder=StandardScaler())
    assert sp.issparse(encode.fit_transform(frame))
    shown, answers = [], iter(["keep"] * 10)
    person = ConsoleOracle(data=frame, input_fn=lambda prompt: next(answers),
                           print_fn=shown.append)
    pipe = make_pipeline(encode, ChefCleaner(LogisticRegression(C=10.0), oracle=person,
                                             budget=4, batch_size=2, random_state=0))
    pipe.fit(frame, y, chefcleaner__trusted_mask=trusted,
             chefcleaner__row_ids=frame.index)
    text = "\n".join(shown)
    assert "town=town" in text and "size=" in text  # the raw row, its string column
    report = pipe[-1].cleaning_report()
    assert len(report) == 4 and report["row_id"].str.startswith("h").all()


@pytest.mark.parametrize("setting", [
    {"selection": "incremental"},
    {"update": "deltagrad", "estimator": "softmax"},
    {"strategy": "infl_d"},
])
def test_chef_settings_ask_the_same_rows_on_sparse_rows(setting):
    X = random_csr(160, 12, 0.4, 8)
    rng = np.random.default_rng(8)
    y_true = np.asarray(X[:, :3].sum(1)).ravel().argsort().argsort() * 3 // 160
    y = np.where(rng.random(160) < 0.2, (y_true + 1) % 3, y_true)
    trusted = np.arange(160) >= 130
    setting = dict(setting)
    model = (SoftmaxRegression(n_epochs=5, random_state=0)
             if setting.pop("estimator", None) else LogisticRegression())
    runs = []
    for Xin in (X.toarray(), X):
        est = ChefCleaner(model, oracle=SimulatedOracle(X, y_true), budget=12, batch_size=4,
                          random_state=0, **setting).fit(Xin, y, trusted_mask=trusted)
        runs.append(est)
    dense, sparse = runs
    for a, b in zip(dense.history_, sparse.history_, strict=True):
        np.testing.assert_array_equal(a["rows"], b["rows"])
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X.toarray()),
                               rtol=1e-6, atol=1e-8)
