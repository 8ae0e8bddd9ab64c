"""Bundled models (data/): recorded accuracies, reproduction by their scripts, loading from an installed package.

Measured on 2026-11-23 (torch 2.13.0, numpy 2.4.6, scikit-learn 1.9.1, scikit-image 0.26.0):
digits CNN test accuracy 0.9844 (450 test digits), texture model 0.9896 (96 test tiles),
faces model 0.9333 (60 test images); every script's ``--check`` reproduced its file exactly
(largest difference 0).
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import lrpref as lr
from lrpref import bow
from lrpref.datasets import TEXTURES, digits_split, faces_split, load_bow, load_network, texture_split

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "data" / "scripts"


def script(name):
    """Import ``data/scripts/<name>.py``."""
    if not (SCRIPTS / f"{name}.py").is_file():
        pytest.skip("the data scripts are in the source checkout only")
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec = importlib.util.spec_from_file_location(f"data_script_{name}", SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def digit_images(x):
    return x.reshape(-1, 1, 8, 8)


def test_digits_cnn_reaches_its_recorded_accuracy():
    net, meta = load_network("digits_cnn")
    _, x_test, _, y_test = digits_split()
    assert [type(layer).__name__ for layer in net] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                                       "Flatten", "Dense", "ReLU", "Dense"]
    assert net.dtype == np.float64 and net.shapes((1, 8, 8))[-1] == (10,)
    accuracy = np.mean(net(digit_images(x_test)).argmax(1) == y_test)
    assert accuracy == meta["test_accuracy"] and accuracy >= 0.97  # measured 0.9844


def test_digits_cnn_explanations_balance():
    net, _ = load_network("digits_cnn")
    x = digit_images(digits_split()[1][:5])
    ex = lr.explain(net, x, rule=lr.presets.EpsilonGammaBox(low=0.0, high=1.0))
    assert ex.relevance.shape == x.shape
    assert ex.conservation.max_residual() < 1e-12


@pytest.mark.parametrize("name, split, minimum", [("texture", texture_split, 0.95), ("faces", faces_split, 0.9)])
def test_bow_models_reach_their_recorded_accuracy(name, split, minimum):
    model, meta = load_bow(name)
    _, x_test, _, y_test = split()
    assert list(model.classes_) == meta["classes"] and len(x_test) == meta["n_test"]
    accuracy = np.mean(model.predict(list(x_test)) == y_test)
    assert accuracy == meta["test_accuracy"] and accuracy >= minimum  # measured 0.9896 and 0.9333


def test_bundled_bow_models_explain_exactly():
    texture, _ = load_bow("texture")
    faces, _ = load_bow("faces")
    tile = texture_split()[1][0]
    face = faces_split()[1][0]
    for model, image, target in ((texture, tile, "brick"), (faces, face, 1)):
        ex = bow.explain(model, image, target=target)
        assert ex.pixels.sum() == pytest.approx(ex.f, rel=1e-10)
    assert set(texture.classes_) == set(TEXTURES)


def test_missing_bundled_file_is_named():
    with pytest.raises(FileNotFoundError, match="no bundled file 'bow_nothing.npz'"):
        load_bow("nothing")


def test_bundled_files_are_small_and_never_pickled():
    files = [p for p in (ROOT / "data").iterdir() if p.suffix in (".npz", ".json")]
    assert sum(p.stat().st_size for p in files) < 3_000_000
    for file in files:
        if file.suffix == ".npz":
            with np.load(file, allow_pickle=False) as archive:
                assert all(archive[key].dtype != object for key in archive.files)


# --------------------------------------------------------------------------- reproduction by the scripts


# retraining the CNN (about 15 s, needs torch) and the texture model (about 10 s) is left out of CI
long_retraining = pytest.mark.skipif(os.environ.get("CI") == "true", reason="long retraining, skipped in CI")


@long_retraining
@pytest.mark.parametrize("name", ["make_digits_cnn", "make_texture_cnn"])
def test_cnn_scripts_reproduce_the_weights(name):
    pytest.importorskip("torch")
    make = script(name)
    difference, recorded, accuracy = make.check()
    assert difference <= make.TOLERANCE and accuracy == recorded  # measured: 1.04e-8 with torch 2.14.1 (trained with 2.13.0)


def test_digits_mlp_script_reproduces_the_weights_bit_for_bit(capsys):
    import sklearn

    recorded = load_network("digits_mlp")[1]["scikit-learn"]
    if sklearn.__version__ != recorded:
        pytest.skip(f"bit-for-bit only with the recorded scikit-learn {recorded} (installed: {sklearn.__version__})")
    assert script("make_digits_mlp").main(["--check"]) == 0, capsys.readouterr().out   # scikit-learn 1.9.1: identical


@pytest.mark.parametrize("name", [pytest.param("texture", marks=long_retraining), "faces"])
def test_bow_scripts_reproduce_the_models(name, capsys):
    models = script("bow_models")
    model, meta, (_, x_test, _, _) = models.TRAIN[name]()
    assert models.check(model, meta, name, x_test) <= models.TOLERANCE  # measured 0
    assert meta["test_accuracy"] == load_bow(name)[1]["test_accuracy"]


# --------------------------------------------------------------------------- an installed package

PROBE = """
import json, numpy as np
from lrpref import datasets
out = {"files": [str(datasets.path(n)) for n in ("digits_mlp.npz", "digits_cnn.npz", "texture_cnn.npz",
                                                  "bow_texture.npz", "bow_texture.json", "bow_faces.npz",
                                                  "bow_faces.json")]}
_, x, _, y = datasets.digits_split()
out["mlp"] = float(np.mean(datasets.load_network("digits_mlp")[0](x).argmax(1) == y))
out["cnn"] = float(np.mean(datasets.load_network("digits_cnn")[0](x.reshape(-1, 1, 8, 8)).argmax(1) == y))
out["texture_cnn"] = datasets.load_network("texture_cnn")[0](datasets.texture_split()[1][::16, None]).tolist()
out["texture"] = datasets.load_bow("texture")[0].decision_function(list(datasets.texture_split()[1][::16])).tolist()
out["faces"] = datasets.load_bow("faces")[0].decision_function(list(datasets.faces_split()[1][::10])).tolist()
print(json.dumps(out))
"""


def installed_package(tmp_path) -> dict:
    """Environment in which ``import lrpref`` finds an installed (not in-place) copy of the package.

    The copy pip installed when it is a regular install (CI: ``pip install .``); otherwise a
    wheel built from this checkout with pip (no build isolation, no network) and unpacked.
    """
    where = subprocess.run([sys.executable, "-c", "import lrpref; print(lrpref.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    if where.returncode == 0 and ROOT not in Path(where.stdout.strip()).resolve().parents:
        return {**os.environ, "PYTHONPATH": ""}
    source = tmp_path / "source"
    for part in ("lrpref", "data"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here (pip wheel --no-build-isolation): {built.stderr.strip()[-300:]}")
    wheel, = (tmp_path / "wheel").glob("lrpref-*.whl")
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    return {**os.environ, "PYTHONPATH": str(tmp_path / "site")}


def test_bundled_models_load_from_an_installed_package(tmp_path):
    env = installed_package(tmp_path)
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    for file in out["files"]:
        assert ROOT not in Path(file).resolve().parents, f"{file} was read from the checkout"
    _, x_test, _, y_test = digits_split()
    assert out["mlp"] == load_network("digits_mlp")[1]["test_accuracy"]
    assert out["cnn"] == load_network("digits_cnn")[1]["test_accuracy"]
    assert np.array_equal(out["texture_cnn"], load_network("texture_cnn")[0](texture_split()[1][::16, None]))
    assert np.array_equal(out["texture"], load_bow("texture")[0].decision_function(list(texture_split()[1][::16])))
    assert np.array_equal(out["faces"], load_bow("faces")[0].decision_function(list(faces_split()[1][::10])))


def test_texture_cnn_accuracy_and_composites():
    from skimage import data
    from skimage.util import img_as_float

    from lrpref.datasets import texture_composites

    net, meta = load_network("texture_cnn")
    _, x_test, _, y_test = texture_split()
    labels = np.array([TEXTURES.index(name) for name in y_test])
    assert np.mean(net(x_test[:, None]).argmax(1) == labels) == meta["test_accuracy"] >= 0.9
    composites = texture_composites(6, seed=1)
    assert composites.images.shape == (6, 1, 64, 64) and composites.masks.sum(axis=(1, 2)).tolist() == [32 * 32] * 6
    assert np.all(composites.patch != composites.background)

    for image, mask, patch in zip(composites.images[:2], composites.masks, composites.patch):  # a test crop of its texture
        test_half = img_as_float(getattr(data, TEXTURES[patch])())[:, 256:]
        windows = np.lib.stride_tricks.sliding_window_view(test_half, (32, 32))
        assert np.any(np.all(windows == image[0][mask].reshape(32, 32), axis=(2, 3)))
    assert np.array_equal(texture_composites(6, seed=1).images, composites.images)  # seeded
