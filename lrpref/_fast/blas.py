"""Matrix products for the fast path, through one BLAS.

Two reasons not to use NumPy's ``matmul`` on the fast path:

* ``matmul`` cannot accumulate into a view whose rows lie far apart. The stride-1
  convolution of :class:`lrpref.layers.Conv2d` needs exactly that: with the zero-padded input
  laid out as ``(C, N·Hp·Wp)``, the input seen by kernel tap ``(u, v)`` is the column-shifted
  view ``x[:, off : off + L]``, so the convolution is one GEMM per tap accumulated into the
  same output (and its transpose one GEMM per tap into shifted views of the input
  gradient) — no im2col copy.
* Each BLAS library keeps its own thread pool; alternating between two of them makes the
  pools spin against each other. All of lrpref's products go through this module.

The library is NumPy's own BLAS when it can be located (the OpenBLAS that NumPy's wheels
bundle, found through ``threadpoolctl`` and called through its Fortran interface), else
SciPy's (``scipy.linalg.cython_blas``, the interface SciPy exports for compiled code). Both
are called through ``ctypes``.

After a product OpenBLAS's worker threads spin for about 0.1 s before they sleep, taking cores
from whatever runs next. :func:`releasing_threads` wraps a top-level call: when the last running
one ends, in a process with one Python thread, it stops them (OpenBLAS's own
``blas_thread_shutdown_``, the function its ``fork`` handler calls; the next product restarts
them).

``gemm(A, B, C, accumulate)`` computes ``C = A @ B`` (or ``C += A @ B``) for 2-D views whose
rows or columns are contiguous (a transposed view is passed to BLAS as transposed); a single
row uses ``gemv``.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import config

__all__ = ["gemm", "matmul", "library", "releasing_threads"]


@dataclass(frozen=True)
class Library:
    """BLAS entry points: ``gemm[dtype]`` and ``gemv[dtype]`` (ctypes functions), and the Fortran integer type."""

    name: str
    integer: type
    gemm: dict
    gemv: dict
    stop_threads: object = None   # a ctypes function stopping the worker threads, where the library has one


def _prototypes(integer, scalar):
    I, S, P = ctypes.POINTER(integer), ctypes.POINTER(scalar), ctypes.c_void_p
    # ?gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); ?gemv(trans, m, n, alpha, a, lda, x, incx, beta, y, incy)
    gemm = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, I, I, I, S, P, I, P, I, S, P, I)
    gemv = ctypes.CFUNCTYPE(None, ctypes.c_char_p, I, I, S, P, I, P, I, S, P, I)
    return gemm, gemv


_SCALARS = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}

# How NumPy's PyPI wheels name the Fortran BLAS functions: (prefix, suffix, integer type).
_NUMPY_SYMBOLS = [("scipy_", "_64_", ctypes.c_int64), ("", "_64_", ctypes.c_int64)]


def _numpy_library() -> Library | None:
    """NumPy's bundled OpenBLAS, if it is loaded and exports a known symbol layout."""
    try:
        import threadpoolctl

        paths = [info["filepath"] for info in threadpoolctl.threadpool_info() if info.get("internal_api") == "openblas"]
    except Exception:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    for path in paths:
        if not any(part in ("numpy.libs", "numpy") for part in Path(path).parts):  # the copy inside NumPy's own wheel
            continue
        handle = ctypes.CDLL(path)
        for prefix, suffix, integer in _NUMPY_SYMBOLS:
            names = {dtype: (f"{prefix}{letter}gemm{suffix}", f"{prefix}{letter}gemv{suffix}")
                     for dtype, (letter, _) in _SCALARS.items()}
            if all(hasattr(handle, name) for pair in names.values() for name in pair):
                gemm, gemv = {}, {}
                for dtype, (gemm_name, gemv_name) in names.items():
                    gemm_type, gemv_type = _prototypes(integer, _SCALARS[dtype][1])
                    gemm[dtype] = gemm_type(ctypes.cast(getattr(handle, gemm_name), ctypes.c_void_p).value)
                    gemv[dtype] = gemv_type(ctypes.cast(getattr(handle, gemv_name), ctypes.c_void_p).value)
                stop = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.cast(handle.blas_thread_shutdown_, ctypes.c_void_p).value) \
                    if hasattr(handle, "blas_thread_shutdown_") else None
                return Library(f"numpy's {Path(path).name}", integer, gemm, gemv, stop)
    return None


def _scipy_library() -> Library:
    """SciPy's BLAS through the function pointers of ``scipy.linalg.cython_blas``."""
    import scipy.linalg.cython_blas as cython_blas

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]

    def pointer(name):
        capsule = cython_blas.__pyx_capi__[name]
        return get_pointer(capsule, get_name(capsule))

    gemm, gemv = {}, {}
    for dtype, (letter, scalar) in _SCALARS.items():
        gemm_type, gemv_type = _prototypes(ctypes.c_int, scalar)
        gemm[dtype] = gemm_type(pointer(f"{letter}gemm"))
        gemv[dtype] = gemv_type(pointer(f"{letter}gemv"))
    return Library("scipy.linalg.cython_blas", ctypes.c_int, gemm, gemv)


_library: Library | None = None


def library() -> Library:
    """The BLAS in use (chosen on first use: NumPy's if it can be located, else SciPy's)."""
    global _library
    if _library is None:
        _library = _numpy_library() or _scipy_library()
    return _library


_running = 0
_running_lock = threading.Lock()


@contextlib.contextmanager
def releasing_threads():
    """Run a top-level call; when the last running one ends and this is the process's only Python thread (no other
    thread can be inside a BLAS product), stop the BLAS worker threads (``config.release_blas_threads``)."""
    global _running
    with _running_lock:
        _running += 1
    try:
        yield
    finally:
        with _running_lock:
            _running -= 1
            if _running == 0 and config.release_blas_threads and threading.active_count() == 1 \
                    and _library is not None and _library.stop_threads is not None:
                _library.stop_threads()


def _column_major(matrix: np.ndarray, name: str) -> tuple[bytes, int]:
    """How BLAS (column-major) sees the row-major matrix ``matrix``: ``(op, ld)`` such that ``op(X) = matrix^T``.

    A view with contiguous rows is ``matrix^T`` in column-major as it is (``"N"``); a view with
    contiguous columns (a transposed array) is ``matrix`` itself, so BLAS transposes it (``"T"``).
    The stride of a length-1 axis is irrelevant and ignored.
    """
    rows, cols = matrix.shape
    size = matrix.itemsize
    row_stride, col_stride = matrix.strides
    if (cols <= 1 or col_stride == size) and (rows <= 1 or (row_stride % size == 0 and row_stride >= cols * size)):
        return b"N", max(row_stride // size if rows > 1 else cols, cols, 1)
    if (rows <= 1 or row_stride == size) and (cols <= 1 or (col_stride % size == 0 and col_stride >= rows * size)):
        return b"T", max(col_stride // size if cols > 1 else rows, rows, 1)
    raise ValueError(f"gemm: {name} must be a 2-D view with contiguous rows or columns, got strides {matrix.strides}")


def _operand(matrix, name):
    """``(matrix, op, ld)`` for an input operand, copied first when neither its rows nor its columns are contiguous."""
    try:
        return (matrix, *_column_major(matrix, name))
    except ValueError:
        matrix = np.ascontiguousarray(matrix)
        return (matrix, *_column_major(matrix, name))


def gemm(A: np.ndarray, B: np.ndarray, C: np.ndarray, accumulate: bool = False) -> np.ndarray:
    """``C = A @ B`` (``accumulate=False``) or ``C += A @ B``, in place; ``C`` must have contiguous rows."""
    if A.ndim != 2 or B.ndim != 2 or C.ndim != 2:
        raise ValueError("gemm: A, B and C must be 2-D")
    if not (A.dtype == B.dtype == C.dtype) or A.dtype not in _SCALARS:
        raise TypeError(f"gemm: dtypes {A.dtype}, {B.dtype}, {C.dtype}; all float32 or all float64")
    (M, K), (K2, N) = A.shape, B.shape
    if K != K2 or C.shape != (M, N):
        raise ValueError(f"gemm: shapes {A.shape} @ {B.shape} -> {C.shape} do not fit")
    if not C.flags.writeable:
        raise ValueError("gemm: C is read-only")
    op_c, ldc = _column_major(C, "C")
    if op_c != b"N":
        raise ValueError(f"gemm: C must have contiguous rows, got strides {C.strides}")
    if M == 0 or N == 0:
        return C
    if K == 0:
        if not accumulate:
            C[...] = 0
        return C
    A, op_a, lda = _operand(A, "A")
    B, op_b, ldb = _operand(B, "B")
    blas = library()
    scalar = _SCALARS[A.dtype][1]
    ref, integer = ctypes.byref, blas.integer
    one, beta = scalar(1.0), scalar(1.0 if accumulate else 0.0)
    if M == 1:  # C^T (N) = op_b(B) (N, K) · the row A: a matrix-vector product
        rows, cols = (N, K) if op_b == b"N" else (K, N)
        step = A.strides[1] // A.itemsize if K > 1 else 1  # the row's elements, whatever op describes A
        blas.gemv[A.dtype](op_b, ref(integer(rows)), ref(integer(cols)), ref(one), B.ctypes.data, ref(integer(ldb)),
                           A.ctypes.data, ref(integer(step)), ref(beta), C.ctypes.data, ref(integer(1)))
        return C
    # Column-major BLAS sees the row-major C (M, N) as C^T (N, M) = B^T A^T.
    blas.gemm[A.dtype](op_b, op_a, ref(integer(N)), ref(integer(M)), ref(integer(K)), ref(one),
                       B.ctypes.data, ref(integer(ldb)), A.ctypes.data, ref(integer(lda)), ref(beta),
                       C.ctypes.data, ref(integer(ldc)))
    return C


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for 2-D operands (see :func:`gemm`), in a new C-ordered array."""
    return gemm(A, B, np.empty((A.shape[0], B.shape[1]), dtype=np.result_type(A, B)))
