"""Damage a file's bytes the way the loaders' fuzz tests do: truncate, flip one bit, or overwrite eight bytes; or
forge one member of a zip archive."""

import zipfile

from hypothesis import strategies as st


def damage(raw: bytes, data) -> bytes:
    """``raw`` truncated, with one bit flipped, or with eight bytes overwritten (drawn from hypothesis ``data``)."""
    raw = bytearray(raw)
    kind = data.draw(st.sampled_from(["truncate", "flip", "overwrite"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if kind == "truncate":
        return bytes(raw[:at])
    if kind == "flip":
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
    else:
        raw[at:at + 8] = data.draw(st.binary(min_size=8, max_size=8))
    return bytes(raw)


def forge_member(path, member: str, old: bytes, new: bytes, out):
    """A copy of the zip archive ``path`` at ``out`` whose ``member`` has ``old`` replaced by ``new`` (e.g. an .npy
    header declaring another shape)."""
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members[member] = members[member].replace(old, new)
    with zipfile.ZipFile(out, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    return out
