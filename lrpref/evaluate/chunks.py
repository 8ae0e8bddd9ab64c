"""Metrics over data larger than memory: a dask array of images (and maps), computed chunk by chunk.

Every metric of :mod:`lrpref.evaluate` accepts ``dask.array`` arrays for its per-sample
arguments (images, relevance maps, masks). The samples are split where the first dask argument's
chunks split the batch axis; the metric runs on each chunk as one ``dask.delayed`` task — on a
``distributed`` cluster when a ``Client`` is connected, else on dask's default scheduler — and
the chunks' results are joined with :meth:`~lrpref.evaluate.result.Result.concatenate`.

The numbers are those of the in-memory call: ``random_state`` is resolved to one seed before
the split, each chunk gets ``first_index`` advanced by its offset, sample ``n``'s random numbers
come from its own stream keyed by its index in the whole data set, and the model never sees two
samples in one call.

Per-sample arguments: images ``x``, ``relevance`` and ``mask`` always; ``target`` when it holds N
class indices; ``replacement`` when it holds one image per sample (``x``'s number of dimensions
and N rows). A shared reference or an int target goes to every chunk unchanged. dask is an
optional dependency (``pip install "lrpref[dask]"``), imported only when a dask array is given.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from ._inputs import seed_of

__all__ = ["over_chunks", "is_dask", "import_dask", "split_samples"]

_SOMETIMES_PER_SAMPLE = {
    "target": lambda value, x: np.ndim(value) == 1,
    "replacement": lambda value, x: np.ndim(value) == np.ndim(x) and np.shape(value)[0] == np.shape(x)[0],
}


def is_dask(value) -> bool:
    """Whether ``value`` is a dask collection (tested without importing dask)."""
    return type(value).__module__.partition(".")[0] == "dask" and hasattr(value, "to_delayed")


def over_chunks(*names):
    """Decorate a metric whose arguments ``names`` (the first one: the images) may be dask arrays."""
    def decorate(metric):
        signature = inspect.signature(metric)

        @functools.wraps(metric)
        def run(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            if not any(is_dask(bound.arguments.get(name)) for name in names):
                return metric(*args, **kwargs)
            bound.apply_defaults()
            return _run_chunks(run, bound.arguments, names)
        return run
    return decorate


def import_dask():
    """The ``dask`` module, or an ImportError saying how to install the optional dependency."""
    try:
        import dask
        import dask.array  # noqa: F401 - the chunked collections
    except ImportError:
        raise ImportError('a dask array needs the optional dependency dask: pip install "lrpref[dask]"') from None
    return dask


def _run_chunks(metric, arguments, names):
    dask = import_dask()
    x = arguments[names[0]]
    per_sample = [name for name in names if arguments[name] is not None and
                  (name not in _SOMETIMES_PER_SAMPLE or _SOMETIMES_PER_SAMPLE[name](arguments[name], x))]
    n = np.shape(x)[0]
    for name in per_sample:
        if np.shape(arguments[name])[0] != n:
            raise ValueError(f"{name} has {np.shape(arguments[name])[0]} samples but {names[0]} has {n}")
    first_dask = next(arguments[name] for name in per_sample if is_dask(arguments[name]))
    sizes = first_dask.chunks[0]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pieces = {name: split_samples(arguments[name], sizes, offsets) for name in per_sample}
    if "random_state" in arguments:
        arguments = {**arguments, "random_state": seed_of(arguments["random_state"])}
    tasks = []
    for k, offset in enumerate(offsets[:-1]):
        chunk = {**arguments, **{name: pieces[name][k] for name in per_sample}}
        if "first_index" in chunk:
            chunk["first_index"] = arguments["first_index"] + int(offset)
        tasks.append(dask.delayed(metric, pure=True)(**chunk))
    parts = dask.compute(*tasks)
    return type(parts[0]).concatenate(parts)


def split_samples(value, sizes, offsets):
    """The per-chunk pieces of a per-sample argument: dask blocks rechunked to ``sizes``, or numpy slices."""
    if is_dask(value):
        whole = {axis: -1 for axis in range(1, value.ndim)}
        return list(value.rechunk({0: sizes, **whole}).to_delayed().reshape(-1))
    value = np.asarray(value)
    return [value[start:stop] for start, stop in zip(offsets[:-1], offsets[1:])]
