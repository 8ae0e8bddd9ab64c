"""Explaining a ``dask.array`` batch larger than memory, chunk by chunk: :func:`explain_dask`.

The batch axis of ``x`` is split where its chunks split it (every other axis must be one chunk).
Each chunk is one ``dask.delayed`` task that runs :func:`lrpref.explain` on the chunk's samples
and returns a small tuple — relevance, output, target classes, top relevance and the columns of
the conservation ledger — from which the fields of a :class:`DaskExplanation` are dask arrays
with ``x``'s chunks along the batch. The tasks run on a ``distributed`` cluster when a
``Client`` is connected, else on dask's default scheduler; computing several fields together
(:meth:`DaskExplanation.compute`, or ``dask.compute(ex.relevance, ex.ledger["residual"])``)
explains every chunk once.

What is guaranteed, bit for bit:

* every sample's numbers are those of the in-memory call on its chunk,
  ``lr.explain(net, x[a:b], ...)``, on any scheduler, in threads or in processes; with one chunk
  that is the in-memory call on the whole batch;
* another chunking of the same data changes the sizes of the matrix products the chunk's call
  makes, and OpenBLAS picks its kernels (and so rounds in the last bit) by matrix size: the
  numbers of two chunkings agree to round-off (a few units in the last place of each layer's
  arithmetic), not bit for bit — the same holds for two in-memory calls on differently sized
  batches;
* ``method="smoothgrad"`` draws sample ``n``'s noise from its own stream
  ``SeedSequence(seed, spawn_key=(n, 0))`` (:func:`lrpref.evaluate._inputs.sample_rng`, the
  streams of :mod:`lrpref.evaluate`; ``n`` is the sample's index in the whole batch) and explains
  each sample alone, so its numbers do not depend on the chunking at all. They equal the
  in-memory calls ``lr.explain(net, x[n:n+1], method="smoothgrad",
  random_state=sample_rng(seed, n, NOISE))``, not one in-memory call on the batch, whose noise
  comes from one stream for the whole batch. ``random_state`` is an int, a Generator (one draw
  makes the seed) or None (fresh entropy, resolved once: every chunk shares it); the seed is
  :attr:`DaskExplanation.seed`.

Per-sample arguments, split with ``x``: ``target`` when it holds N class indices or an explicit
(N, K) top relevance, ``reference`` when it is an array of ``x``'s number of dimensions whose
first axis is not 1 (one reference per sample); numpy or dask. dask is an optional dependency
(``pip install "lrpref[dask]"``), imported only here.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import methods
from .evaluate._inputs import NOISE, sample_rng, seed_of
from .evaluate.chunks import import_dask, is_dask, split_samples

__all__ = ["explain_dask", "DaskExplanation"]

# the ledger's per-sample columns besides the absorption kinds, in Ledger.as_dict()'s order
_FIRST_COLUMNS, _LAST_COLUMNS = ("received", "passed"), ("residual",)


@dataclasses.dataclass(frozen=True)
class DaskExplanation:
    """What :func:`explain_dask` returns: per-sample results as dask arrays (numpy arrays after :meth:`compute`).

    ``relevance`` (the shape of ``x``, its chunks along the batch), ``output`` and ``top`` (N, K),
    ``target`` (N class indices; None when an explicit top relevance was given), ``ledger``: the
    columns of :meth:`lrpref.Ledger.as_dict` — ``"name"`` (one per step, top first, a numpy array)
    and ``"received"``, ``"passed"``, one per absorption kind and ``"residual"``, each (steps, N)
    chunked along the samples. ``seed`` is smoothgrad's seed (else None).
    """

    relevance: object
    output: object
    target: object
    top: object
    ledger: dict
    method: str
    description: str
    seed: int | None = None

    @property
    def kinds(self) -> tuple:
        """The absorption kinds among the ledger's columns."""
        return tuple(name for name in self.ledger if name not in ("name", *_FIRST_COLUMNS, *_LAST_COLUMNS))

    def compute(self, **compute_kwargs) -> "DaskExplanation":
        """The same explanation with numpy arrays, every chunk explained once (``dask.compute`` of all fields together)."""
        dask = import_dask()
        lazy = {"relevance": self.relevance, "output": self.output, "target": self.target, "top": self.top,
                "ledger": {name: column for name, column in self.ledger.items() if name != "name"}}
        (values,) = dask.compute(lazy, **compute_kwargs)
        return dataclasses.replace(self, **{**values, "ledger": {"name": self.ledger["name"], **values["ledger"]}})


def explain_dask(net, x, target=None, **explain_kwargs) -> DaskExplanation:
    """:func:`lrpref.explain` over a dask array ``x`` (N, ...) chunked along the batch axis only (module docstring).

    ``explain_kwargs`` are those of :func:`lrpref.explain` (``rule``, ``method``, ``reference``, ``steps``, ...),
    except ``keep_messages`` (message matrices are per-sample objects: explain the samples you want to
    inspect in memory). The first sample is explained at once, to learn the shapes, dtypes and ledger
    rows of the result and to report a bad argument here rather than in a worker.
    """
    dask = import_dask()
    import dask.array as da

    if not is_dask(x) or not hasattr(x, "chunks"):
        raise TypeError(f"explain_dask explains a dask array x; got {type(x).__name__} (use lrpref.explain for numpy arrays)")
    if explain_kwargs.get("keep_messages"):
        raise ValueError("keep_messages=True keeps per-sample message matrices, which a dask array cannot hold; "
                         "explain the samples you want to inspect in memory with lrpref.explain")
    sizes = _batch_chunks(x)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    n = int(offsets[-1])
    per_sample = {"target": target} if _is_per_sample(target, x, "target") else {}
    shared = {"target": target} if not per_sample else {}
    reference = explain_kwargs.pop("reference", None)
    if _is_per_sample(reference, x, "reference"):
        per_sample["reference"] = reference
    else:
        if is_dask(reference):
            raise TypeError(f"a shared reference (shape {reference.shape}) must be a numpy array or a number; a dask "
                            f"reference must hold one reference per sample ({n} rows)")
        shared["reference"] = reference
    for name, value in per_sample.items():
        if np.shape(value)[0] != n:
            raise ValueError(f"{name} has {np.shape(value)[0]} samples but x has {n}")

    method = methods.ALIASES.get(explain_kwargs.get("method", "lrp"), explain_kwargs.get("method", "lrp"))
    seed = None
    if method == "smoothgrad":
        seed = seed_of(explain_kwargs.get("random_state"))
        explain_kwargs.update(method=method, random_state=seed)
    options = {**explain_kwargs, **shared}

    (probe,) = _explain_samples(net, _first(x), 0, options, {name: _first(value) for name, value in per_sample.items()})
    layout = _Layout.of(probe)

    net_key = dask.delayed(net, pure=True)
    pieces = {name: split_samples(value, sizes, offsets) for name, value in {"x": x, **per_sample}.items()}
    blocks = []
    for k, (start, size) in enumerate(zip(offsets[:-1], sizes)):
        block = dask.delayed(_explain_block, pure=True)(
            net_key, pieces["x"][k], int(start), options, layout, **{name: pieces[name][k] for name in per_sample})
        blocks.append((size, block))

    def field(index, shape, dtype, column=None):
        parts = [da.from_delayed(block[index] if column is None else block[index][column], shape(size), dtype)
                 for size, block in blocks]
        return da.concatenate(parts, axis=-1 if column else 0)

    relevance = field(0, lambda s: (s, *layout.relevance[0]), layout.relevance[1])
    output = field(1, lambda s: (s, *layout.output[0]), layout.output[1])
    classes = None if layout.target is None else field(2, lambda s: (s,), layout.target)
    top = field(3, lambda s: (s, *layout.top[0]), layout.top[1])
    ledger = {"name": layout.names}
    for column, dtype in layout.columns:
        ledger[column] = field(4, lambda s: (len(layout.names), s), dtype, column)
    return DaskExplanation(relevance, output, classes, top, ledger, probe.method, probe.description, seed)


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Shapes (per sample) and dtypes of a block's results, and the ledger's rows and columns (from the first sample)."""

    relevance: tuple
    output: tuple
    target: object
    top: tuple
    names: np.ndarray
    columns: tuple

    @classmethod
    def of(cls, ex):
        ledger = ex.conservation.as_dict()
        shape = lambda a: (a.shape[1:], a.dtype)  # noqa: E731
        return cls(shape(ex.relevance), shape(ex.output), None if ex.target is None else np.asarray(ex.target).dtype,
                   shape(ex.top), ledger["name"], tuple((name, column.dtype) for name, column in ledger.items() if name != "name"))


def _explain_block(net, x, first_index, options, layout, **per_sample):
    """One block of samples explained: (relevance, output, target classes, top, ledger columns) with the rows and columns
    of ``layout``. ``per_sample`` holds the block's rows of a per-sample ``target`` / ``reference``."""
    results = _explain_samples(net, x, first_index, options, per_sample)
    ledgers = [_ledger_columns(ex, layout) for ex in results]
    join = lambda values: None if values[0] is None else np.concatenate(values)  # noqa: E731
    ledger = {name: np.concatenate([columns[name] for columns in ledgers], axis=-1) for name, _ in layout.columns}
    return (join([ex.relevance for ex in results]), join([ex.output for ex in results]),
            join([None if ex.target is None else np.asarray(ex.target) for ex in results]), join([ex.top for ex in results]),
            ledger)


def _explain_samples(net, x, first_index, options, per_sample) -> list:
    """``lr.explain`` on the samples ``x`` (the first has index ``first_index`` in the whole batch): one call, or for
    smoothgrad one call per sample with its own noise stream (module docstring)."""
    from .explain import explain

    x = np.asarray(x)
    per_sample = {name: np.asarray(value) for name, value in per_sample.items()}
    smoothgrad = options.get("method") == "smoothgrad"
    groups = [slice(i, i + 1) for i in range(len(x))] if smoothgrad else [slice(0, len(x))]
    results = []
    for rows in groups:
        arguments = {**options, **{name: value[rows] for name, value in per_sample.items()}}
        if smoothgrad:
            arguments["random_state"] = sample_rng(options["random_state"], first_index + rows.start, NOISE)
        results.append(explain(net, x[rows], **arguments))
    return results


def _ledger_columns(ex, layout) -> dict:
    """The ledger of ``ex`` as columns (:meth:`Ledger.as_dict`), checked against the rows and kinds of ``layout``."""
    ledger = ex.conservation
    kinds = [name for name, _ in layout.columns if name not in (*_FIRST_COLUMNS, *_LAST_COLUMNS)]
    columns = type(ledger)(ledger.rows, kinds).as_dict()
    expected = [name for name, _ in layout.columns]
    if list(columns["name"]) != list(layout.names) or list(columns)[1:] != expected:
        raise RuntimeError(f"a chunk's ledger has the rows {list(columns['name'])} and columns {list(columns)[1:]}, "
                           f"the first sample's {list(layout.names)} and {expected}")
    return columns


def _batch_chunks(x) -> tuple:
    """The sizes of ``x``'s chunks along the batch axis, after checking that they are known and the only split."""
    if x.ndim < 2:
        raise ValueError(f"x must be a batch (N, ...) of samples; got a dask array of shape {x.shape}")
    if any(math.isnan(size) for sizes in x.chunks for size in sizes):
        raise ValueError(f"x has chunks of unknown size {x.chunks} (e.g. after boolean indexing): call "
                         f"x.compute_chunk_sizes() first")
    split = {axis: sizes for axis, sizes in enumerate(x.chunks) if axis > 0 and len(sizes) > 1}
    if split:
        axes = ", ".join(f"axis {axis} into {sizes}" for axis, sizes in split.items())
        raise ValueError(f"x is chunked along {axes}; its chunks are {x.chunks}: explain_dask splits only the batch "
                         f"axis 0, since a sample's relevance needs the whole sample: x.rechunk({{"
                         + ", ".join(f"{axis}: -1" for axis in range(1, x.ndim)) + "})")
    return tuple(int(size) for size in x.chunks[0])


def _is_per_sample(value, x, name) -> bool:
    """Whether ``target`` / ``reference`` holds one entry per sample (split with ``x``) rather than one shared value."""
    if value is None or isinstance(value, (str, tuple, int, float, np.integer, np.floating)):
        return False
    if name == "target":
        return np.ndim(value) >= 1
    return np.ndim(value) == x.ndim and np.shape(value)[0] != 1  # else broadcast to every sample


def _first(value):
    """The first sample of a per-sample argument, as numpy."""
    first = value[:1]
    return np.asarray(first.compute() if is_dask(first) else first)
