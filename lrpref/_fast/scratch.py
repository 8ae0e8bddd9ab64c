"""Scratch memory for the temporaries of the fast path, reused from call to call (one set per thread).

A fresh NumPy array of tens of megabytes is mapped from the operating system page by page as
it is first written; for the im2col, padding and Winograd buffers of a convolution that costs
as much as the arithmetic. Temporaries that never leave a call are carved out of buffers kept
here instead. Buffers larger than ``lrpref.config.max_scratch_bytes`` are not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .. import config

_local = threading.local()


def scratch(name: str, shape, dtype) -> np.ndarray:
    """An uninitialised C-ordered array of ``shape``, valid until the next request of the same ``name`` in this thread."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    buffers = _local.__dict__.setdefault("buffers", {})
    buffer = buffers.get(name)
    if buffer is None or buffer.size < size:
        buffer = np.empty(max(size, 1), dtype=np.uint8)
        if size <= config.max_scratch_bytes:
            buffers[name] = buffer
    return buffer[:size].view(dtype).reshape(shape)


def release() -> None:
    """Free this thread's scratch buffers (``lrpref.release_scratch``); they are made again when needed."""
    _local.__dict__.pop("buffers", None)


class BoundedCache(OrderedDict):
    """A cache keeping the ``size`` most recently used entries (so a sweep over many rule parameters stays bounded)."""

    def __init__(self, size: int = 8):
        super().__init__()
        self.size = size

    def get_or_make(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value
