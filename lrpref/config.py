"""Global settings.

``max_matrix_bytes``: the memory budget of one explicit matrix (a message matrix of one
sample, or a layer's unrolled matrix). Requests above it raise ``lrpref.MatrixTooLarge``
naming the size. Default 1 GiB.

``max_scratch_bytes``: the largest temporary buffer of the fast path (im2col columns, padded
inputs, Winograd tiles) kept for reuse between calls, per thread; larger ones are freed after
use. ``lrpref.release_scratch()`` frees them all. Default 512 MiB.
"""

max_matrix_bytes: int = 2**30
max_scratch_bytes: int = 512 * 2**20
