"""Files that prove their integrity: ``.npz`` archives of arrays plus a JSON document, with SHA-256 checksums.

Every file lrpref writes (networks, bag-of-words models, the conformance kit's cases) is one
``.npz`` archive holding

* the arrays, each under its own key;
* ``document.json``: a JSON object (the file's description) that also lists, under
  ``"sha256"``, the SHA-256 of every array (of its dtype, shape and bytes);
* ``document.sha256``: the SHA-256 of the ``document.json`` text itself.

:func:`read_archive` checks all of them and turns any problem — not a zip file, a truncated or
tampered entry, a missing or unexpected key, an object array, malformed JSON, a document that
is not a JSON object, an entry whose header declares more data than the entry holds — into one
:class:`FileFormatError` naming the file and the entry. It never unpickles (``allow_pickle=False``)
and never allocates what a forged header asks for: each entry's declared size is checked against
the zip directory before it is read.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["FileFormatError", "array_digest", "write_archive", "read_archive", "DOCUMENT", "DOCUMENT_DIGEST"]

DOCUMENT = "document.json"
DOCUMENT_DIGEST = "document.sha256"
_RESERVED = (DOCUMENT, DOCUMENT_DIGEST)


class FileFormatError(ValueError):
    """A file is not a valid lrpref file: malformed, truncated or tampered. The message names the file and the entry."""


def array_digest(array: np.ndarray) -> str:
    """SHA-256 (hex) of an array's dtype, shape and C-ordered bytes."""
    array = np.ascontiguousarray(array)
    h = hashlib.sha256()
    h.update(f"{array.dtype.str}|{array.shape}|".encode())
    h.update(array.tobytes())
    return h.hexdigest()


def write_archive(path, arrays: dict, document: dict) -> Path:
    """Write ``arrays`` and ``document`` (a JSON-serialisable dict) to ``path`` with checksums; returns the path written.

    ``np.savez_compressed`` appends ``.npz`` to a path without that suffix; the returned path says where it went.
    """
    for key in arrays:
        if key in _RESERVED or key.endswith(".npy"):
            raise ValueError(f"array key {key!r} is reserved")
    arrays = {key: np.asarray(value) for key, value in arrays.items()}
    for key, value in arrays.items():
        if value.dtype == object:
            raise TypeError(f"array {key!r} has dtype object; only numeric and string arrays are stored")
    document = dict(document, sha256={key: array_digest(value) for key, value in arrays.items()})
    text = json.dumps(document, sort_keys=True)
    path = Path(path)
    np.savez_compressed(path, **arrays, **{DOCUMENT: np.array(text),
                                           DOCUMENT_DIGEST: np.array(hashlib.sha256(text.encode()).hexdigest())})
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def read_archive(path, what: str = "lrpref file", legacy: dict | None = None) -> tuple[dict, dict]:
    """``(arrays, document)`` of a file written by :func:`write_archive`, every checksum verified.

    ``what`` names the kind of file in error messages (e.g. ``"lrpref network file"``); ``legacy``
    maps an entry that only an older format has to the reason the file is refused (e.g. "re-save
    it with this version"). The returned document no longer holds the ``"sha256"`` table. Raises
    :class:`FileFormatError`.
    """
    where = f"{path}"
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - not a zip file, a damaged directory, a bad .npy header, ...
        reason = "it starts with neither the zip nor the .npy signature" if "pickle" in str(error) else f"{error}"
        raise FileFormatError(f"{where}: not a readable {what} (.npz): {reason}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FileFormatError(f"{where}: a single .npy array, not a {what} (.npz archive)")
    with archive:
        keys = set(archive.files)
        for key, reason in (legacy or {}).items():
            if key in keys and not set(_RESERVED) <= keys:
                raise FileFormatError(f"{where}: an old {what} (it has the entry {key!r}): {reason}")
        for key in _RESERVED:
            if key not in keys:
                raise FileFormatError(f"{where}: not a {what}: the entry {key!r} is missing")
        text = _read(archive, DOCUMENT, where)
        digest = _read(archive, DOCUMENT_DIGEST, where)
        if text.dtype.kind != "U" or text.shape != () or digest.dtype.kind != "U" or digest.shape != ():
            raise FileFormatError(f"{where}: the entries {DOCUMENT!r}/{DOCUMENT_DIGEST!r} must be single strings")
        text, digest = str(text), str(digest)
        if hashlib.sha256(text.encode()).hexdigest() != digest:
            raise FileFormatError(f"{where}: the entry {DOCUMENT!r} does not match its SHA-256 (the file was changed or damaged)")
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise FileFormatError(f"{where}: the entry {DOCUMENT!r} is not valid JSON: {type(error).__name__}: {error}") from None
        if not isinstance(document, dict) or not isinstance(document.get("sha256"), dict):
            raise FileFormatError(f"{where}: the entry {DOCUMENT!r} must be a JSON object with a 'sha256' table")
        expected = document.pop("sha256")
        stored = keys - set(_RESERVED)
        if stored != set(expected):
            missing, extra = sorted(set(expected) - stored), sorted(stored - set(expected))
            raise FileFormatError(f"{where}: the arrays do not match the file's table (missing {missing}, unexpected {extra})")
        arrays = {}
        for key in sorted(stored):
            value = _read(archive, key, where)
            if array_digest(value) != expected[key]:
                raise FileFormatError(f"{where}: the entry {key!r} does not match its SHA-256 (the file was changed or damaged)")
            value.setflags(write=False)
            arrays[key] = value
    return arrays, document


def _check_declared_size(archive, key, where) -> None:
    """Refuse an entry whose ``.npy`` header declares more bytes than the entry holds (before allocating them)."""
    try:
        info = archive.zip.getinfo(f"{key}.npy")
        with archive.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f".npy format version {version} is not one lrpref writes")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
            header_bytes = member.tell()
    except Exception as error:  # noqa: BLE001 - a damaged header fails in zipfile, zlib or numpy's header parser
        raise FileFormatError(f"{where}: the entry {key!r} has a damaged or truncated header: {type(error).__name__}: {error}") from None
    if dtype.hasobject:
        raise FileFormatError(f"{where}: the entry {key!r} holds Python objects; lrpref files never contain pickles")
    declared = math.prod(shape) * dtype.itemsize
    if header_bytes + declared > info.file_size:
        raise FileFormatError(f"{where}: the entry {key!r} declares shape {shape} of {dtype} ({declared} bytes) but holds "
                              f"only {info.file_size - header_bytes} bytes (a damaged or forged header)")


def _read(archive, key, where) -> np.ndarray:
    _check_declared_size(archive, key, where)
    try:
        return archive[key]
    except ValueError as error:  # object arrays: numpy refuses them without allow_pickle
        if "pickle" in str(error):
            raise FileFormatError(f"{where}: the entry {key!r} holds Python objects; lrpref files never contain pickles") from None
        raise FileFormatError(f"{where}: the entry {key!r} cannot be read: {error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged entry fails in zlib, zipfile, numpy's header parser, ...
        raise FileFormatError(f"{where}: the entry {key!r} is damaged or truncated: {type(error).__name__}: {error}") from None
