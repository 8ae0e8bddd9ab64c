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
"""

max_matrix_bytes: int = 2**30
max_scratch_bytes: int = 512 * 2**20
max_steps: int = 100_000
max_path_work: int = 10**11
