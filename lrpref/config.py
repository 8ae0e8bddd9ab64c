"""Global settings.

``max_matrix_bytes``: the memory budget of one explicit matrix (a message matrix of one
sample, or a layer's unrolled matrix). Requests above it raise ``lrpref.MatrixTooLarge``
naming the size. Default 1 GiB.

``max_scratch_bytes``: the largest temporary buffer of the fast path (im2col columns, padded
inputs, Winograd tiles) kept for reuse between calls, per thread; larger ones are freed after
use. ``lrpref.release_scratch()`` frees them all. Default 512 MiB.

``max_steps`` and ``max_path_work``: the most path points (IG, LID-IG, the SIG tops) or noise
samples (SmoothGrad) a call of :func:`lrpref.explain` takes, and the most activations such a call
computes (steps × batch × activations of one sample, each step a forward and a backward pass).
Larger requests are refused with the estimate; raise them to override. Defaults 100 000 and
10¹¹ (about an hour of work on a laptop core).

``release_blas_threads``: after a call of :func:`lrpref.explain` returns, stop the BLAS worker
threads (NumPy's OpenBLAS keeps them spinning on the cores for about 0.1 s after its last
product, which slows whatever runs next in the process — torch, zennit, captum — by up to 2×,
benchmarks/neighbour.py). They are stopped only when this is the process's only Python thread and
no other lrpref call is running, and restart on the next product (tens of microseconds). Default
True.
"""

max_matrix_bytes: int = 2**30
max_scratch_bytes: int = 512 * 2**20
max_steps: int = 100_000
max_path_work: int = 10**11
release_blas_threads: bool = True
