"""lrpref._integrity: checksummed .npz archives; every damaged or tampered file is a FileFormatError."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lrpref._integrity import DOCUMENT, DOCUMENT_DIGEST, FileFormatError, read_archive, write_archive


@pytest.fixture
def archive(tmp_path):
    arrays = {"W": np.arange(600.0).reshape(20, 30), "names": np.array(["a", "b"])}
    return write_archive(tmp_path / "model", arrays, {"format": "test", "version": 1}), arrays


def test_round_trip(archive):
    path, arrays = archive
    assert path.suffix == ".npz"
    loaded, document = read_archive(path)
    assert document == {"format": "test", "version": 1}
    for key, value in arrays.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert not loaded[key].flags.writeable


def _rewrite(path, tmp_path, **replace):
    with np.load(path, allow_pickle=False) as source:
        entries = {key: source[key] for key in source.files}
    entries.update(replace)
    out = tmp_path / "changed.npz"
    np.savez(out, **entries)
    return out


def test_a_tampered_array_names_the_entry(archive, tmp_path):
    path, arrays = archive
    changed = _rewrite(path, tmp_path, W=arrays["W"] + 1e-12)
    with pytest.raises(FileFormatError, match=r"changed\.npz: the entry 'W' does not match its SHA-256"):
        read_archive(changed)


def test_a_tampered_document_is_refused(archive, tmp_path):
    path, _ = archive
    with np.load(path, allow_pickle=False) as source:
        document = json.loads(str(source[DOCUMENT]))
    document["version"] = 2
    changed = _rewrite(path, tmp_path, **{DOCUMENT: np.array(json.dumps(document, sort_keys=True))})
    with pytest.raises(FileFormatError, match="'document.json' does not match its SHA-256"):
        read_archive(changed)


def test_missing_and_extra_entries(archive, tmp_path):
    path, _ = archive
    with pytest.raises(FileFormatError, match=r"unexpected \['extra'\]"):
        read_archive(_rewrite(path, tmp_path, extra=np.zeros(2)))
    with np.load(path, allow_pickle=False) as source:
        entries = {key: source[key] for key in source.files if key != DOCUMENT_DIGEST}
    np.savez(tmp_path / "nodigest.npz", **entries)
    with pytest.raises(FileFormatError, match="'document.sha256' is missing"):
        read_archive(tmp_path / "nodigest.npz")


def test_pickled_objects_are_never_loaded(tmp_path):
    np.savez(tmp_path / "objects.npz", **{DOCUMENT: np.array("{}"), DOCUMENT_DIGEST: np.array("x"),
                                          "evil": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(FileFormatError):
        read_archive(tmp_path / "objects.npz")


def test_a_single_npy_file_is_not_an_archive(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(FileFormatError, match="single .npy array"):
        read_archive(tmp_path / "plain.npy")


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fuzzed_bytes_load_intact_or_raise_file_format_error(tmp_path_factory, data):
    """Truncations, bit flips and overwritten bytes: either the content is intact, or FileFormatError."""
    directory = tmp_path_factory.mktemp("fuzz")
    original = {"W": np.arange(300.0)}
    path = write_archive(directory / "model", original, {"format": "test"})
    raw = bytearray(path.read_bytes())
    kind = data.draw(st.sampled_from(["truncate", "flip", "overwrite"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if kind == "truncate":
        raw = raw[:at]
    elif kind == "flip":
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    else:
        raw[at:at + 8] = data.draw(st.binary(min_size=8, max_size=8))
    damaged = directory / "damaged.npz"
    damaged.write_bytes(bytes(raw))
    try:
        arrays, _ = read_archive(damaged)
    except FileFormatError:
        return
    np.testing.assert_array_equal(arrays["W"], original["W"])
