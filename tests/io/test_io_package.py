"""lrpref.io imports neither torch nor onnx until an importer needs it; a missing one names its extra."""

import subprocess
import sys

import pytest

from lrpref.io import from_onnx, from_torch


def test_importing_lrpref_io_loads_neither_torch_nor_onnx():
    code = ("import sys, lrpref, lrpref.io; "
            "assert lrpref.io.from_torch and lrpref.io.from_onnx and lrpref.io.from_sklearn; "
            "loaded = sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules); "
            "assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lrpref_io_imports_when_torch_and_onnx_are_absent():
    code = "import sys; sys.modules['torch'] = None; sys.modules['onnx'] = None; import lrpref.io"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("package, importer, extra", [("torch", lambda: from_torch(None, (3,)), "torch"),
                                                      ("onnx", lambda: from_onnx(b""), "onnx")])
def test_a_missing_package_names_the_extra(monkeypatch, package, importer, extra):
    monkeypatch.setitem(sys.modules, package, None)  # makes `import package` raise ImportError
    with pytest.raises(ImportError, match=rf"needs the optional package '{package}': pip install 'lrpref\[{extra}\]'"):
        importer()
