"""Sparse rows as torch operands: the one place that knows a matrix may be sparse.

TF-IDF and one-hot features arrive as scipy CSR matrices with 10⁴–10⁶
columns, of which a row uses a few dozen.  Densifying them would cost
``n × d`` floats (gigabytes for a modest corpus); everything influence needs
from features is a product with a small dense matrix, which a sparse GEMM
computes without that copy.  :class:`SparseRows` wraps the scipy matrix and
offers exactly those products, with the last layer's bias column (a column
of ones) appended *virtually*, so the adapters and the influence core use
one code path for dense tensors and sparse rows alike: ``U1 @ B``,
``A @ U1`` (the transposed product ``(Aᵀ)ᵀ U1``), ``U1[rows]``, ``len``,
``shape``, and the helpers :func:`row_sq_norms`, :func:`rows_gram` and
:func:`dense_rows` for the rest.
"""

import warnings

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["SparseRows", "append_sparse_row", "as_dtype", "dense_rows", "is_sparse", "one_row",
           "row_sq_norms", "rows_gram", "rows_per_chunk", "same_kind",
           "square_entries", "stack_rows"]


def is_sparse(X):
    """Whether ``X`` is a scipy sparse matrix/array or wraps sparse rows."""
    return sp.issparse(X) or isinstance(X, SparseRows)


def _numpy_dtype(dtype):
    return torch.empty((), dtype=dtype).numpy().dtype


class SparseRows:
    """A scipy CSR matrix seen from torch, optionally with a trailing column of ones.

    Parameters
    ----------
    X : scipy sparse matrix or array
        Converted to CSR in the tensor dtype (no copy when it already is).
    dtype, device : torch dtype and device
        Of the dense operands and results.
    bias : bool, default=False
        Append a virtual column of ones (the bias input of a last layer).
    """

    ndim = 2

    def __init__(self, X, dtype, device, bias=False):
        X = X.tocsr() if X.format != "csr" else X
        self.X = X.astype(_numpy_dtype(dtype), copy=False)
        self.dtype, self.device, self.bias = dtype, torch.device(device), bool(bias)
        self._tensor = None

    # ------------------------------------------------------------------ shape
    @property
    def shape(self):
        return (self.X.shape[0], self.X.shape[1] + self.bias)

    def __len__(self):
        return self.X.shape[0]

    def with_bias(self, bias=True):
        """The same rows with (or without) the virtual column of ones; shares the data."""
        out = SparseRows.__new__(SparseRows)
        out.__dict__.update(self.__dict__, bias=bool(bias))
        return out

    def __getitem__(self, rows):
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        if isinstance(rows, tuple):
            raise IndexError("SparseRows are indexed by rows only.")
        return SparseRows(self.X[rows], self.dtype, self.device, self.bias)

    # ------------------------------------------------------------------ products
    def tensor(self):
        """The torch CSR tensor over the same buffers (built once; shares memory on CPU)."""
        if self._tensor is None:
            X = self.X
            with warnings.catch_warnings():  # "sparse CSR support is in beta"
                warnings.simplefilter("ignore", UserWarning)
                self._tensor = torch.sparse_csr_tensor(
                    torch.from_numpy(X.indptr), torch.from_numpy(X.indices),
                    torch.from_numpy(X.data), size=X.shape).to(self.device)
        return self._tensor

    def __matmul__(self, B):
        """``U1 @ B`` for a dense ``(d', m)`` tensor (or ``(d',)`` vector)."""
        d = self.X.shape[1]
        vec = B.ndim == 1
        B2 = B[:, None] if vec else B
        out = self.tensor() @ B2[:d]
        if self.bias:
            out = out + B2[d]
        return out[:, 0] if vec else out

    def __rmatmul__(self, A):
        """``A @ U1`` for a dense ``(m, n)`` tensor: ``(m, d')``, the bias column ``A·1``."""
        if not isinstance(A, torch.Tensor):
            return NotImplemented
        if A.device.type == "cpu" and not A.requires_grad:
            # scipy's transposed CSR product, (Xᵀ Aᵀ)ᵀ: torch's dense @ sparse CSR runs
            # 30x slower on CPU (25 ms against 0.8 ms for 50,000 x 2,000 at 0.5%)
            out = (self.X.T @ A.detach().numpy().T).T
            out = torch.from_numpy(np.ascontiguousarray(out)).to(A.dtype)
        else:
            out = A @ self.tensor()
            if out.layout != torch.strided:
                out = out.to_dense()
        if self.bias:
            out = torch.cat([out, A.sum(1, keepdim=True)], 1)
        return out

    def to_dense(self):
        """The rows as a dense tensor (with the column of ones): for small row subsets."""
        D = torch.as_tensor(self.X.toarray(), device=self.device)
        if self.bias:
            D = torch.cat([D, torch.ones(len(D), 1, dtype=D.dtype, device=D.device)], 1)
        return D

    def __repr__(self):
        return (f"SparseRows({self.shape[0]} x {self.shape[1]}, nnz={self.X.nnz}, "
                f"bias={self.bias})")


# ---------------------------------------------------------------------- helpers: dense or sparse
def row_sq_norms(U):
    """``‖u_i‖²`` per row of a tensor or :class:`SparseRows`."""
    if isinstance(U, SparseRows):
        X = U.X
        sq = np.asarray(X.multiply(X).sum(1), dtype=X.dtype).ravel() + U.bias
        return torch.as_tensor(sq, device=U.device)
    return (U * U).sum(1)


def rows_gram(A, B):
    """All inner products ``A @ Bᵀ`` between two sets of rows (dense result ``(n, m)``)."""
    if isinstance(A, SparseRows) and isinstance(B, SparseRows):
        G = torch.as_tensor((A.X @ B.X.T).toarray(), device=A.device)
        return G + 1 if A.bias and B.bias else G
    if isinstance(B, SparseRows):
        return rows_gram(B, A).T
    if isinstance(A, SparseRows):
        return A @ B.T
    return A @ B.T


def square_entries(U):
    """``U ⊙ U`` (the column of ones stays ones)."""
    if isinstance(U, SparseRows):
        return SparseRows(U.X.multiply(U.X).tocsr(), U.dtype, U.device, U.bias)
    return U * U


def one_row(x):
    """A single row as a ``(1, d)`` matrix: sparse rows stay sparse, anything else an array."""
    if sp.issparse(x):
        return x.reshape(1, -1).tocsr()
    return np.asarray(x)[None]


def flat_rows(X):
    """Rows as vectors: n-D rows (images ``(n, C, H, W)``) flattened, for distances."""
    if sp.issparse(X) or np.ndim(X) <= 2:
        return X
    X = np.asarray(X)
    return X.reshape(X.shape[0], -1)


def dense_rows(U):
    """``U`` as a dense tensor: for the autograd paths (vmap, ``torch.func``) on few rows."""
    return U.to_dense() if isinstance(U, SparseRows) else U


def rows_per_chunk(U, rows, max_values=1 << 25):
    """Rows per forward chunk: ``rows``, fewer for wide sparse rows densified a chunk at a
    time (at most ``max_values`` dense entries, 128 MiB in float32)."""
    if isinstance(U, SparseRows):
        return max(1, min(rows, max_values // max(U.shape[1], 1)))
    return rows


# ---------------------------------------------------------------------- helpers on user arrays
class _CSRBuffer:
    """Growable CSR storage: ``data``/``indices`` and ``indptr`` with room to spare."""

    def __init__(self, view, nnz_cap, rows_cap):
        n, nnz = view.shape[0], int(view.indptr[-1])
        self.data = np.empty(nnz_cap, dtype=view.data.dtype)
        self.indices = np.empty(nnz_cap, dtype=np.int32 if nnz_cap < 2**31 else np.int64)
        self.indptr = np.empty(rows_cap + 1, dtype=self.indices.dtype)
        self.data[:nnz], self.indices[:nnz] = view.data[:nnz], view.indices[:nnz]
        self.indptr[: n + 1] = view.indptr

    def holds(self, view):
        """Whether ``view`` is a prefix view of this buffer (so appending after it is safe)."""
        return (np.shares_memory(view.data, self.data)
                and np.shares_memory(view.indptr, self.indptr)
                and view.shape[0] + 1 < len(self.indptr))


def append_sparse_row(view, buf, row):
    """:func:`skclean.utils.append_row` for CSR rows: amortised O(nnz of the row).

    ``view`` is a CSR matrix over the first rows of ``buf``'s arrays (no copy),
    so a stream of appends copies each stored value O(1) times in all.
    """
    row = one_row(row).astype(view.dtype, copy=False)
    row.sum_duplicates()
    n, nnz, k = view.shape[0], int(view.indptr[-1]), row.nnz
    if buf is None or not buf.holds(view) or nnz + k > len(buf.data):
        buf = _CSRBuffer(view, max(2 * (nnz + k), 1024), max(2 * (n + 1), 64))
    buf.data[nnz : nnz + k], buf.indices[nnz : nnz + k] = row.data, row.indices
    buf.indptr[n + 1] = nnz + k
    new = sp.csr_matrix((buf.data[: nnz + k], buf.indices[: nnz + k], buf.indptr[: n + 2]),
                        shape=(n + 1, view.shape[1]), copy=False)
    return (new if isinstance(view, sp.spmatrix) else sp.csr_array(new, copy=False)), buf


def same_kind(X, ref):
    """New rows ``X`` stored like the rows ``ref`` already held: CSR if ``ref`` is sparse,
    dense if not (a stream's rows all live in one matrix)."""
    if sp.issparse(ref) and not sp.issparse(X):
        return type(ref)(np.asarray(X, dtype=ref.dtype))
    if sp.issparse(X) and not sp.issparse(ref):
        return X.toarray()
    return X


def as_dtype(X, dtype):
    """``X`` in a numpy ``dtype`` (no copy when it already is); sparse stays sparse."""
    if sp.issparse(X):
        return X.tocsr().astype(dtype, copy=False)
    return np.asarray(X, dtype=dtype)


def stack_rows(parts):
    """Rows stacked in order; sparse when any part is sparse (in CSR)."""
    parts = [p for p in parts if p is not None]
    if any(sp.issparse(p) for p in parts):
        return sp.vstack([p if sp.issparse(p) else sp.csr_matrix(np.atleast_2d(p))
                          for p in parts], format="csr")
    return np.concatenate(parts)
