"""The fast path's machinery, apart from the layer definitions: numba kernels (im2col, col2im, pooling scatters,
the stabilised division), BLAS GEMMs through NumPy's own OpenBLAS (:mod:`.blas`), reusable scratch memory and the
convolution's GEMM plans (:mod:`.conv`)."""
