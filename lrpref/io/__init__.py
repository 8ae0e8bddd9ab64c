"""Importers: models of other frameworks as lrpref networks (``Sequential`` chains).

* :func:`from_torch` — a PyTorch module whose forward pass is a chain (``torch.fx`` tracing);
  needs ``pip install 'lrpref[torch]'``.
* :func:`from_onnx` — an ONNX file or ``ModelProto`` whose graph is a chain; needs
  ``pip install 'lrpref[onnx]'``.
* :func:`from_sklearn` — a fitted ``MLPClassifier`` / ``MLPRegressor``.

torch and onnx are imported only when their importer is called. A model that cannot be
imported raises :class:`ModelImportError` (a ``ValueError``) naming the operation and its
position in the source model.
"""

from ._chain import ModelImportError
from .onnx import from_onnx
from .sklearn import from_sklearn
from .torch import from_torch

__all__ = ["from_torch", "from_onnx", "from_sklearn", "ModelImportError"]
