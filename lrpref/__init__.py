"""lrpref: reference implementation of Layer-wise Relevance Propagation in NumPy.

Public API: layers, ``Graph`` (with ``Input``) and ``Sequential``; the rules; ``Composite`` and ``presets`` (with the peers'
conventions); ``explain``; ``verify``; ``fold_batchnorm``; the ``Ledger``; ``config``; the ``conformance`` kit.
Importers from PyTorch, ONNX and scikit-learn are in ``lrpref.io`` (``lr.io.from_torch`` etc.).
"""

from . import config, conformance, io, presets
from ._fast.scratch import release as release_scratch
from .canonize import fold_batchnorm
from .composites import Composite
from .explain import explain
from .explanation import Explanation, LayerRelevance
from .layers import (Add, AdaptiveAvgPool2d, AvgPool2d, BatchNorm, Concat, Conv2d, Dense, Dropout, Flatten, Identity,
                     Layer, LeakyReLU, MaxPool2d, ReLU, ShapeError, Sigmoid, Tanh)
from .ledger import Ledger, LedgerRow
from .network import Graph, Input, Sequential
from .propagate import Absorbed, MatrixTooLarge
from .rules import (LRP0, AlphaBeta, Epsilon, Flat, Gamma, Pass, Proportional, Stabiliser, SumSplit, Surrogate,
                    WinnerTakesAll, WSquare, ZBox, ZPlus)
from .verify import VerifyReport, verify

__version__ = "0.1.0"

__all__ = [
    "Graph", "Input", "Sequential", "Layer", "Add", "Concat", "SumSplit", "Dense", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "ReLU",
    "LeakyReLU", "Tanh", "Sigmoid", "Identity", "Dropout", "BatchNorm", "ShapeError",
    "LRP0", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "WSquare", "Flat", "Pass", "WinnerTakesAll",
    "Proportional", "Surrogate", "Stabiliser", "Composite", "verify", "VerifyReport", "presets", "explain", "explain_dask", "DaskExplanation",
    "fold_batchnorm", "Explanation", "LayerRelevance", "Absorbed", "MatrixTooLarge", "Ledger", "LedgerRow", "config",
    "release_scratch", "conformance",
]


def __getattr__(name):
    """``explain_dask`` and ``DaskExplanation`` (:mod:`lrpref.chunked`) load on first use: they bring in dask's
    helpers and ``lrpref.evaluate``, which ``import lrpref`` does not need."""
    if name in ("explain_dask", "DaskExplanation"):
        from . import chunked

        return getattr(chunked, name)
    raise AttributeError(f"module 'lrpref' has no attribute {name!r}")
