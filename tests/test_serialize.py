"""Network files: round trip, bundled model, and refusal of anything that is not an lrpref network (no pickles)."""

import json

import numpy as np
import pytest

import lrpref as lr
from lrpref import serialize
from lrpref.datasets import digits_split, load_network

rng = np.random.default_rng(9)


def every_layer_type():
    body = lr.Sequential([
        lr.Conv2d(rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4), stride=(1, 2), padding=1, dilation=(2, 1), groups=2),
        lr.BatchNorm(rng.normal(size=4), rng.uniform(1, 2, 4), rng.normal(size=4), rng.normal(size=4), eps=1e-3),
        lr.LeakyReLU(0.2), lr.MaxPool2d(2, 1, 1), lr.AvgPool2d(2, padding=1, count_include_pad=False), lr.Tanh(), lr.Sigmoid(),
        lr.AdaptiveAvgPool2d((2, 3)), lr.Identity(), lr.Dropout(0.1), lr.Flatten(),
    ])
    width = body.shapes(INPUT)[-1][0]
    return lr.Sequential([body, lr.Dense(rng.normal(size=(3, width))), lr.ReLU()])


INPUT = (4, 9, 8)


def test_round_trip(tmp_path):
    net = every_layer_type()
    path = serialize.save(net, tmp_path / "net.npz", meta={"note": "test"})
    loaded, meta = serialize.load(path)
    assert meta == {"note": "test"}
    assert [layer.describe() for layer in loaded] == [layer.describe() for layer in net]
    x = rng.normal(size=(2, *INPUT))
    np.testing.assert_array_equal(loaded(x), net(x))


def test_float32_round_trip(tmp_path):
    net = every_layer_type().astype(np.float32)
    loaded, _ = serialize.load(serialize.save(net, tmp_path / "net32.npz"))
    assert loaded.dtype == np.float32


def test_bundled_digits_mlp():
    net, meta = load_network("digits_mlp")
    _, x_test, _, y_test = digits_split()
    accuracy = np.mean(net(x_test).argmax(1) == y_test)
    assert accuracy == pytest.approx(meta["test_accuracy"]) and accuracy > 0.95


def test_refuses_other_files(tmp_path):
    np.savez(tmp_path / "plain.npz", W=np.ones(3))
    with pytest.raises(ValueError, match="not an lrpref network file"):
        serialize.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="(pickle|not an lrpref network)"):
        serialize.load(tmp_path / "pickled.npz")
    document = {"format": "lrpref-network", "version": 1, "layers": [{"type": "Softmax", "arrays": {}, "settings": {}}]}
    np.savez(tmp_path / "unknown.npz", **{"network.json": np.array(json.dumps(document))})
    with pytest.raises(ValueError, match="unknown type 'Softmax'"):
        serialize.load(tmp_path / "unknown.npz")


def test_object_array_in_a_network_file_is_never_unpickled(tmp_path):
    document = {"format": "lrpref-network", "version": 1,
                "layers": [{"type": "Dense", "arrays": {"W": "layer0.W"}, "settings": {}}]}
    np.savez(tmp_path / "evil.npz", **{"network.json": np.array(json.dumps(document)),
                                       "layer0.W": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        serialize.load(tmp_path / "evil.npz")


def test_saving_twice_gives_identical_bytes(tmp_path, monkeypatch):
    """No timestamps in the file: a save an hour later gives the same bytes."""
    import time

    net = every_layer_type()
    first = serialize.save(net, tmp_path / "a.npz", meta={"note": "same"})
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    second = serialize.save(net, tmp_path / "b", meta={"note": "same"})
    assert second.name == "b.npz"
    assert first.read_bytes() == second.read_bytes()
