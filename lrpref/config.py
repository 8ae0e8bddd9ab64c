"""Global settings.

``max_matrix_bytes``: the memory budget of one explicit matrix (a message matrix of one
sample, or a layer's unrolled matrix). Requests above it raise ``lrpref.MatrixTooLarge``
naming the size. Default 1 GiB.
"""

max_matrix_bytes: int = 2**30
