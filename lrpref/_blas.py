"""Matrix products for the fast path, through one BLAS: SciPy's (``scipy.linalg.cython_blas``).

Two reasons not to use NumPy's ``matmul`` on the fast path:

* ``matmul`` cannot accumulate into a view whose rows lie far apart. The stride-1
  convolution of :class:`lrpref.layers.Conv2d` needs exactly that: with the zero-padded input
  laid out as ``(C, N·Hp·Wp)``, the input seen by kernel tap ``(u, v)`` is the column-shifted
  view ``x[:, off : off + L]``, so the convolution is one GEMM per tap accumulated into the
  same output (and its transpose one GEMM per tap into shifted views of the input
  gradient) — no im2col copy.
* NumPy and SciPy usually ship separate OpenBLAS builds, each with its own thread pool;
  alternating between them makes the pools spin against each other. All of lrpref's
  products go through this module, so only one pool works.

``gemm(A, B, C, accumulate)`` computes ``C = A @ B`` (or ``C += A @ B``) for 2-D views whose
rows or columns are contiguous (a transposed view is passed to BLAS as transposed).
SciPy exports these functions for compiled code; they are called through ``ctypes``.
"""

from __future__ import annotations

import ctypes

import numpy as np
import scipy.linalg.cython_blas as cython_blas

__all__ = ["gemm", "matmul"]

_INT = ctypes.POINTER(ctypes.c_int)


def _capsule_pointer(capsule) -> int:
    """The address of the function a SciPy capsule exports."""
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule))


def _function(name: str, scalar):
    S, P = ctypes.POINTER(scalar), ctypes.c_void_p
    # Fortran ?gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, _INT, _INT, _INT, S, P, _INT, P, _INT, S, P, _INT)
    return prototype(_capsule_pointer(cython_blas.__pyx_capi__[name])), scalar


_GEMM = {np.dtype(np.float32): _function("sgemm", ctypes.c_float), np.dtype(np.float64): _function("dgemm", ctypes.c_double)}
# Fortran ?gemv(trans, m, n, alpha, a, lda, x, incx, beta, y, incy): a single-row product (a batch of one)
_GEMV = {}
for _dtype, _name, _scalar in ((np.float32, "sgemv", ctypes.c_float), (np.float64, "dgemv", ctypes.c_double)):
    _capsule = cython_blas.__pyx_capi__[_name]
    _pointer_type = ctypes.POINTER(_scalar)
    _prototype = ctypes.CFUNCTYPE(None, ctypes.c_char_p, _INT, _INT, _pointer_type, ctypes.c_void_p, _INT, ctypes.c_void_p, _INT,
                                  _pointer_type, ctypes.c_void_p, _INT)
    _GEMV[np.dtype(_dtype)] = (_prototype(_capsule_pointer(_capsule)), _scalar)


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
    if not (A.dtype == B.dtype == C.dtype) or A.dtype not in _GEMM:
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
    ref, integer = ctypes.byref, ctypes.c_int
    if M == 1:  # C^T (N) = op_b(B) (N, K) · the row A: a matrix-vector product
        function, scalar = _GEMV[A.dtype]
        rows, cols = (N, K) if op_b == b"N" else (K, N)
        step = A.strides[1] // A.itemsize if K > 1 else 1  # the row's elements, whatever op describes A
        function(op_b, ref(integer(rows)), ref(integer(cols)), ref(scalar(1.0)), B.ctypes.data, ref(integer(ldb)),
                 A.ctypes.data, ref(integer(step)), ref(scalar(1.0 if accumulate else 0.0)), C.ctypes.data, ref(integer(1)))
        return C
    function, scalar = _GEMM[A.dtype]
    # Column-major BLAS sees the row-major C (M, N) as C^T (N, M) = B^T A^T.
    function(op_b, op_a, ref(integer(N)), ref(integer(M)), ref(integer(K)), ref(scalar(1.0)),
             B.ctypes.data, ref(integer(ldb)), A.ctypes.data, ref(integer(lda)), ref(scalar(1.0 if accumulate else 0.0)),
             C.ctypes.data, ref(integer(ldc)))
    return C


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` for 2-D operands (see :func:`gemm`), in a new C-ordered array."""
    return gemm(A, B, np.empty((A.shape[0], B.shape[1]), dtype=np.result_type(A, B)))
