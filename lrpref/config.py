"""Global settings.

``max_matrix_bytes``: the memory budget of one explicit matrix (a message matrix of one
sample, or a layer's unrolled matrix). Requests above it raise ``lrpref.MatrixTooLarge``
naming the size. Default 1 GiB.

``max_scratch_bytes``: the largest temporary buffer of the fast path (im2col columns, padded
inputs, Winograd tiles) kept for reuse between calls, per thread; larger ones are freed after
use. ``lrpref.release_scratch()`` frees them all. Default 512 MiB.

``max_steps``: the most path points (IG, LID-IG, the SIG tops) or noise samples (SmoothGrad) a
call of :func:`lrpref.explain` takes; each is a forward and a backward pass, so the run time
grows linearly with it. Larger requests are refused with an estimate; raise it to override.
Default 10 000.
"""

max_matrix_bytes: int = 2**30
max_scratch_bytes: int = 512 * 2**20
max_steps: int = 10_000
