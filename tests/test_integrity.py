"""lrpref._integrity: checksummed .npz archives; every damaged or tampered file is a FileFormatError."""

import json

import numpy as np
import pytest
from damage import damage, forge_member
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
    raw = path.read_bytes()
    damaged = directory / "damaged.npz"
    damaged.write_bytes(damage(raw, data))
    try:
        arrays, _ = read_archive(damaged)
    except FileFormatError:
        return
    np.testing.assert_array_equal(arrays["W"], original["W"])


def test_a_legacy_entry_gives_the_reason(tmp_path):
    np.savez(tmp_path / "old.npz", **{"old.json": np.array("{}")})
    with pytest.raises(FileFormatError, match="old.npz: an old test file \\(it has the entry 'old.json'\\): re-save it"):
        read_archive(tmp_path / "old.npz", "test file", legacy={"old.json": "re-save it"})


def test_a_header_declaring_more_than_the_entry_holds_is_refused_unread(archive, tmp_path):
    path, _ = archive
    forge_member(path, "W.npy", b"(20, 30)", b"(1000000000000,)", tmp_path / "forged.npz")
    with pytest.raises(FileFormatError, match=r"forged.npz: the entry 'W' declares shape \(1000000000000,\) of float64"):
        read_archive(tmp_path / "forged.npz")


def test_random_bytes_never_mention_allow_pickle(tmp_path):
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(FileFormatError, match="noise.npz: not a readable lrpref file") as error:
        read_archive(tmp_path / "noise.npz")
    assert "pickle" not in str(error.value)
