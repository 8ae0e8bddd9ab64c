"""Importers: models of other frameworks as lrpref networks (a ``Sequential`` for a chain, a ``Graph`` otherwise).

* :func:`from_torch` — a PyTorch module, traced with ``torch.fx`` (ResNets, DenseNets, VGGs);
  needs ``pip install 'lrpref[torch]'``.
* :func:`from_onnx` — an ONNX file or ``ModelProto`` (residual sums and concatenations included); needs
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
