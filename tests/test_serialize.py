"""Network files: round trip, bundled model, and refusal of anything that is not an lrpref network (no pickles)."""

import hashlib
import json

import numpy as np
import pytest
from damage import damage, forge_member
from hypothesis import given, settings, strategies as st

import lrpref as lr
from lrpref import serialize
from lrpref._integrity import write_archive
from lrpref.serialize import FileFormatError
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
    with pytest.raises(FileFormatError, match="plain.npz: not a lrpref network file: the entry 'document.json' is missing"):
        serialize.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(FileFormatError, match="not a lrpref network file"):
        serialize.load(tmp_path / "pickled.npz")
    (tmp_path / "random.npz").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FileFormatError, match="random.npz: not a readable lrpref network file") as error:
        serialize.load(tmp_path / "random.npz")
    assert "allow_pickle" not in str(error.value)


def test_a_file_of_the_old_format_says_to_re_save(tmp_path):
    document = {"format": "lrpref-network", "version": 1, "layers": [{"type": "ReLU", "arrays": {}, "settings": {}}]}
    np.savez(tmp_path / "old.npz", **{"network.json": np.array(json.dumps(document))})
    with pytest.raises(FileFormatError, match="old.npz: an old lrpref network file .* re-save with this version"):
        serialize.load(tmp_path / "old.npz")


def test_object_array_in_a_network_file_is_never_unpickled(tmp_path):
    text = json.dumps({"sha256": {"layer0.W": "0"}})   # a consistent document, so that the array itself is reached
    np.savez(tmp_path / "evil.npz", **{"document.json": np.array(text),
                                       "document.sha256": np.array(hashlib.sha256(text.encode()).hexdigest()),
                                       "layer0.W": np.array([object()], dtype=object)})
    with pytest.raises(FileFormatError, match="'layer0.W' holds Python objects") as error:
        serialize.load(tmp_path / "evil.npz")
    assert "allow_pickle" not in str(error.value)


def test_a_tampered_weight_names_file_and_entry(tmp_path):
    path = serialize.save(lr.Sequential([lr.Dense(np.eye(3), np.zeros(3))]), tmp_path / "net.npz")
    with np.load(path, allow_pickle=False) as source:
        entries = {key: source[key] for key in source.files}
    entries["layer0.W"] = entries["layer0.W"].copy()
    entries["layer0.W"][0, 1] = 1e-300
    np.savez(tmp_path / "tampered.npz", **entries)
    with pytest.raises(FileFormatError, match=r"tampered\.npz: the entry 'layer0\.W' does not match its SHA-256"):
        serialize.load(tmp_path / "tampered.npz")


def test_truncated_files_are_file_format_errors(tmp_path):
    raw = serialize.save(every_layer_type(), tmp_path / "net.npz").read_bytes()
    for size in (0, 10, len(raw) // 3, len(raw) - 30):
        (tmp_path / "cut.npz").write_bytes(raw[:size])
        with pytest.raises(FileFormatError, match="cut.npz"):
            serialize.load(tmp_path / "cut.npz")


def test_an_absurd_header_size_is_refused_before_allocating(tmp_path):
    path = serialize.save(lr.Sequential([lr.Dense(np.eye(2))]), tmp_path / "net.npz")
    forge_member(path, "layer0.W.npy", b"(2, 2)", b"(99999999999, 99999999)", tmp_path / "huge.npz")
    with pytest.raises(FileFormatError, match=r"huge.npz: the entry 'layer0.W' declares shape \(99999999999, 99999999\)"):
        serialize.load(tmp_path / "huge.npz")


def _checksummed(tmp_path, layers, arrays=None, **document):
    """A file whose checksums are right but whose content is malformed: only the validation can catch it."""
    body = {"format": "lrpref-network", "version": 2, "dtype": "float64", "layers": layers, "meta": {}}
    body.update(document)
    return write_archive(tmp_path / "bad.npz", arrays or {}, body)


DENSE = {"type": "Dense", "arrays": {"W": "layer0.W"}, "settings": {}}
W = {"layer0.W": np.eye(2)}

MALFORMED = [
    # (layers, arrays, document overrides, message)
    ({"type": "Dense"}, W, {}, "'layers' must be a non-empty JSON list"),
    ([], {}, {}, "'layers' must be a non-empty JSON list"),
    ([["Dense"]], W, {}, "layer 0 must be an object with exactly the keys"),
    ([{"type": "Dense", "arrays": {"W": "layer0.W"}}], W, {}, "layer 0 must be an object with exactly the keys"),
    ([{"type": "Softmax", "arrays": {}, "settings": {}}], {}, {}, "layer 0 has unknown type 'Softmax'"),
    ([{"type": 3, "arrays": {}, "settings": {}}], {}, {}, "layer 0 has unknown type 3"),
    ([{"type": "Dense", "arrays": {}, "settings": {}}], {}, {}, r"layer 0 \(Dense\): arguments \[\]; the required \['W'\] are missing"),
    ([{"type": "Dense", "arrays": ["layer0.W"], "settings": {}}], W, {}, "'arrays' and 'settings' must be JSON objects"),
    ([{"type": "Dense", "arrays": {"W": "layer9.W"}, "settings": {}}], W, {}, "refers to 'layer9.W', which is not in the file"),
    ([DENSE], {"layer0.W": np.eye(2, dtype=np.float32)}, {}, "the entry 'layer0.W' is float32; the network is float64"),
    ([DENSE], {"layer0.W": np.eye(2, dtype=np.int64)}, {}, "the entry 'layer0.W' is int64"),
    ([DENSE], {"layer0.W": np.full((2, 2), np.nan)}, {}, "the entry 'layer0.W' holds non-finite values"),
    ([DENSE], {"layer0.W": np.ones((2, 2, 2))}, {}, r"layer 0 \(Dense\): Dense W must have 2 dimensions"),
    ([{"type": "Dense", "arrays": {"W": "layer0.W", "b": "layer0.b"}, "settings": {}}],
     {"layer0.W": np.eye(2), "layer0.b": np.ones(3)}, {}, "b has 3 entries"),
    ([DENSE], {"layer0.W": np.eye(2), "stray": np.ones(1)}, {}, r"the entries \['stray'\] belong to no layer"),
    ([{"type": "LeakyReLU", "arrays": {}, "settings": {}}], {}, {}, r"arguments \[\]; expected exactly \['negative_slope'\]"),
    ([{"type": "LeakyReLU", "arrays": {}, "settings": {"negative_slope": "0.1"}}], {}, {},
     "setting 'negative_slope' = '0.1' is not what the layer takes \\(it would read it as 0.1\\)"),
    ([{"type": "MaxPool2d", "arrays": {}, "settings": {"kernel_size": 1.5, "stride": 2, "padding": 0, "dilation": 1}}], {}, {},
     r"layer 0 \(MaxPool2d\): kernel_size must be an int or a pair of ints, got 1.5"),
    ([{"type": "MaxPool2d", "arrays": {}, "settings": {"kernel_size": 0, "stride": 2, "padding": 0, "dilation": 1}}], {}, {},
     r"layer 0 \(MaxPool2d\): MaxPool2d: kernel, stride and dilation must be >= 1"),
    ([{"type": "AvgPool2d", "arrays": {}, "settings": {"kernel_size": 2, "stride": 2, "padding": 0,
                                                        "count_include_pad": 1}}], {}, {},
     "setting 'count_include_pad' = 1 is not what the layer takes \\(it would read it as True\\)"),
    ([DENSE], W, {"dtype": "int8"}, "'dtype' must be 'float32', 'float64' or null"),
    ([DENSE], W, {"meta": [1, 2]}, "'meta' must be a JSON object"),
    ([DENSE], W, {"version": 1}, "version 1; this lrpref reads version 2"),
    ([DENSE], W, {"format": "lrpref-bow"}, "not an lrpref network file \\(format 'lrpref-bow'"),
]


@pytest.mark.parametrize("layers, arrays, document, message", MALFORMED)
def test_malformed_content_is_a_file_format_error_naming_the_entry(tmp_path, layers, arrays, document, message):
    path = _checksummed(tmp_path, layers, arrays, **document)
    with pytest.raises(FileFormatError, match=message) as error:
        serialize.load(path)
    assert str(error.value).startswith(str(path))


def test_missing_document_keys(tmp_path):
    path = write_archive(tmp_path / "bad.npz", W, {"format": "lrpref-network", "version": 2, "layers": [DENSE]})
    with pytest.raises(FileFormatError, match=r"lacks the key\(s\) \['dtype', 'meta'\]"):
        serialize.load(path)


def test_saving_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(TypeError, match="net must be an lrpref.Sequential"):
        serialize.save([lr.ReLU()], tmp_path / "x.npz")
    with pytest.raises(TypeError, match="meta must be a dict"):
        serialize.save(lr.Sequential([lr.ReLU()]), tmp_path / "x.npz", meta=[1])


def test_a_network_without_parameters_round_trips(tmp_path):
    net = lr.Sequential([lr.ReLU(), lr.Flatten()])
    loaded, _ = serialize.load(serialize.save(net, tmp_path / "plain.npz"))
    assert loaded.dtype is None and [layer.describe() for layer in loaded] == [layer.describe() for layer in net]


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_network_files_load_intact_or_raise_file_format_error(tmp_path_factory, data):
    """Truncations, bit flips and overwritten bytes of a real network file: the same network, or FileFormatError."""
    directory = tmp_path_factory.mktemp("fuzz")
    net = lr.Sequential([lr.Conv2d(np.arange(18.0).reshape(2, 1, 3, 3) / 10, [0.5, -0.5], padding=1), lr.ReLU(),
                         lr.MaxPool2d(2), lr.Flatten(), lr.Dense(np.linspace(-1, 1, 24).reshape(3, 8))])
    raw = serialize.save(net, directory / "net.npz").read_bytes()
    damaged = directory / "damaged.npz"
    damaged.write_bytes(damage(raw, data))
    try:
        loaded, _ = serialize.load(damaged)
    except FileFormatError as error:
        assert "allow_pickle" not in str(error) and str(error).startswith(str(damaged))
        return
    x = np.linspace(0, 1, 16).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(loaded(x), net(x))


@settings(max_examples=100, deadline=None)
@given(document=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                             max_leaves=12),
       layers=st.lists(st.dictionaries(st.sampled_from(["type", "arrays", "settings"]),
                                       st.sampled_from(["Dense", "ReLU", {}, {"W": "layer0.W"}, [], 1, None]), max_size=3),
                       max_size=2))
def test_fuzzed_documents_raise_file_format_error(tmp_path_factory, document, layers):
    """Any JSON document (with correct checksums) either loads or is a FileFormatError, never another exception."""
    directory = tmp_path_factory.mktemp("doc")
    body = {"format": "lrpref-network", "version": 2, "dtype": "float64", "meta": {}, "layers": layers}
    if isinstance(document, dict):
        body.update({key: value for key, value in document.items() if key != "sha256"})
    path = write_archive(directory / "doc.npz", {"layer0.W": np.eye(2)}, body)
    try:
        serialize.load(path)
    except FileFormatError:
        pass


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


def test_a_graph_round_trips_with_its_names_and_edges(tmp_path):
    from test_graph import conv_dense_block, conv_residual

    for build in (conv_residual, conv_dense_block):
        net, x = build()
        path = lr.serialize.save(net, tmp_path / f"{build.__name__}.npz", meta={"kind": "graph"})
        loaded, meta = lr.serialize.load(path)
        assert meta == {"kind": "graph"} and type(loaded) is lr.Graph
        assert [(n.name, n.inputs, n.layer.describe()) for n in loaded.nodes] == \
            [(n.name, n.inputs, n.layer.describe()) for n in net.nodes]
        np.testing.assert_array_equal(loaded.forward(x), net.forward(x))
        np.testing.assert_array_equal(lr.explain(loaded, x, rule=lr.Epsilon(0.1)).relevance,
                                      lr.explain(net, x, rule=lr.Epsilon(0.1)).relevance)


def test_a_graph_file_with_broken_edges_is_refused(tmp_path):
    x = lr.Input()
    net = lr.Graph(x, lr.Add()(lr.ReLU()(x, name="r"), x, name="s"))
    path = lr.serialize.save(net, tmp_path / "g.npz")
    arrays, document = lr._integrity.read_archive(path)
    document["layers"][1]["inputs"] = ["r", "nowhere"]
    lr._integrity.write_archive(tmp_path / "broken", {k: np.array(v) for k, v in arrays.items()}, document)
    with pytest.raises(lr.serialize.FileFormatError, match="the layers do not form a network: node 1 's' reads 'nowhere'"):
        lr.serialize.load(tmp_path / "broken.npz")
    del document["layers"][0]["name"]
    lr._integrity.write_archive(tmp_path / "half", {k: np.array(v) for k, v in arrays.items()}, document)
    with pytest.raises(lr.serialize.FileFormatError, match="either every layer has 'name' and 'inputs'"):
        lr.serialize.load(tmp_path / "half.npz")
