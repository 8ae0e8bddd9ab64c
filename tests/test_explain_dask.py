"""``explain_dask`` over dask arrays, on a local two-worker cluster, gives the in-memory numbers.

Each chunk is one in-memory ``lr.explain`` call: bit for bit the calls on the same chunks, and with
one chunk the call on the whole batch; other chunkings agree with the whole-batch call to
round-off (OpenBLAS picks kernels by matrix size). SmoothGrad does not depend on the chunking.
Skipped where dask is not installed, except under CI=true, where a missing dask is an error.
"""

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optional import require

da = require("dask.array")
distributed = require("distributed")

import lrpref as lr
from lrpref.datasets import digits_split, load_network
from lrpref.evaluate._inputs import NOISE, sample_rng
from lrpref.chunked import explain_dask

X = digits_split()[1][:12]
LABELS = digits_split()[3][:12]


def residual_graph():
    """A small residual CNN (docs/graphs.md): stem, a block whose sum skips two convolutions, a dense head."""
    rng = np.random.default_rng(0)
    conv = lambda i, o: lr.Conv2d(rng.normal(size=(o, i, 3, 3)) * 0.4, rng.normal(size=o) * 0.1, padding=1)  # noqa: E731
    x = lr.Input()
    h = lr.ReLU()(conv(1, 4)(x, name="stem"))
    r = lr.ReLU()(conv(4, 4)(h, name="conv1"))
    h = lr.ReLU()(lr.Add()(conv(4, 4)(r, name="conv2"), h, name="sum"), name="block")
    y = lr.Dense(rng.normal(size=(10, 4 * 8 * 8)) * 0.1, np.zeros(10))(lr.Flatten()(h), name="fc")
    return lr.Graph(x, y)


NETWORKS = {  # network, its input batch
    "mlp": (load_network("digits_mlp")[0], X),
    "cnn": (load_network("digits_cnn")[0], X.reshape(-1, 1, 8, 8)),
    "graph": (residual_graph(), X.reshape(-1, 1, 8, 8)),
}
METHODS = {
    "lrp-composite": dict(rule=lr.Composite(default=lr.Epsilon(0.25), first=lr.ZBox(0.0, 1.0), last=lr.LRP0())),
    "deeplift": dict(method="deeplift", reference=0.0),
    "ig": dict(method="ig", steps=6, riemann="gauss-legendre"),
}
CHUNKINGS = [(12,), (5, 5, 2), (1,) * 12, (3, 9)]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as local, distributed.Client(local) as client:
        yield client


def chunked(x, sizes):
    return da.from_array(x, chunks=(sizes, *x.shape[1:]))


def in_memory_per_chunk(net, x, sizes, per_sample=(), **options):
    """The in-memory calls on the same chunks (the options named in ``per_sample`` sliced with x), joined: relevance,
    output, target, top and ledger columns."""
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts = [lr.explain(net, x[a:b], **{**options, **{name: options[name][a:b] for name in per_sample}})
             for a, b in zip(starts[:-1], starts[1:])]
    ledgers = [part.conservation.as_dict() for part in parts]
    return (np.concatenate([p.relevance for p in parts]), np.concatenate([p.output for p in parts]),
            np.concatenate([p.target for p in parts]), np.concatenate([p.top for p in parts]),
            {name: np.concatenate([ledger[name] for ledger in ledgers], axis=-1) for name in ledgers[0] if name != "name"},
            ledgers[0]["name"])


def assert_bit_identical(computed, expected):
    relevance, output, target, top, ledger, names = expected
    for got, want in ((computed.relevance, relevance), (computed.output, output), (computed.target, target),
                      (computed.top, top)):
        assert type(got) is np.ndarray and got.dtype == want.dtype and np.array_equal(got, want)
    assert list(computed.ledger["name"]) == list(names)
    assert list(computed.ledger) == ["name", *ledger]
    for name, column in ledger.items():
        assert computed.ledger[name].dtype == column.dtype and np.array_equal(computed.ledger[name], column), name


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("network", NETWORKS)
def test_bit_identical_to_the_in_memory_calls(cluster, network, method, dtype):
    net, x = NETWORKS[network]
    net, x, options = net.astype(dtype), x.astype(dtype), METHODS[method]
    whole = lr.explain(net, x, **options)
    for sizes in CHUNKINGS:
        ex = explain_dask(net, chunked(x, sizes), **options)
        assert ex.relevance.chunks == ((*sizes,), *((size,) for size in x.shape[1:]))
        assert ex.ledger["residual"].chunks[1] == sizes and ex.output.chunks[0] == sizes
        computed = ex.compute()
        assert_bit_identical(computed, in_memory_per_chunk(net, x, sizes, **options))
        scale = np.abs(whole.relevance).max()
        if sizes == (12,):
            assert np.array_equal(computed.relevance, whole.relevance)
        np.testing.assert_allclose(computed.relevance, whole.relevance, rtol=0,
                                   atol=scale * (1e-14 if dtype == np.float64 else 1e-5))  # measured: 2.9e-16, 1.8e-7
        assert computed.method == whole.method and computed.description == whole.description


def test_per_sample_targets_and_references_follow_the_chunks(cluster):
    net, x = NETWORKS["mlp"]
    reference = np.random.default_rng(1).random(x.shape) * 0.1
    options = dict(method="deeplift", target=LABELS, reference=reference)
    for target, ref in ((LABELS, reference), (da.from_array(LABELS, chunks=7), da.from_array(reference, chunks=(4, 64)))):
        computed = explain_dask(net, chunked(x, (5, 7)), target=target, method="deeplift", reference=ref).compute()
        assert_bit_identical(computed, in_memory_per_chunk(net, x, (5, 7), ("target", "reference"), **options))
        assert np.array_equal(computed.target, LABELS)
    top = np.random.default_rng(2).random((12, 10))  # an explicit top relevance per sample
    computed = explain_dask(net, chunked(x, (6, 6)), target=da.from_array(top, chunks=(4, 10)), rule=lr.Epsilon(0.1)).compute()
    expected = [lr.explain(net, x[a:a + 6], target=top[a:a + 6], rule=lr.Epsilon(0.1)) for a in (0, 6)]
    assert computed.target is None and np.array_equal(computed.top, top)
    assert np.array_equal(computed.relevance, np.concatenate([e.relevance for e in expected]))


def test_smoothgrad_draws_each_samples_noise_from_its_own_stream(cluster):
    net, x = NETWORKS["cnn"]
    options = dict(method="smoothgrad", steps=3, noise=0.2)
    alone = [lr.explain(net, x[n:n + 1], random_state=sample_rng(7, n, NOISE), **options) for n in range(len(x))]
    for sizes in CHUNKINGS:
        ex = explain_dask(net, chunked(x, sizes), random_state=7, **options)
        computed = ex.compute()
        assert ex.seed == 7
        assert np.array_equal(computed.relevance, np.concatenate([e.relevance for e in alone]))
        assert np.array_equal(computed.ledger["received"], np.concatenate([e.conservation.as_dict()["received"]
                                                                           for e in alone], axis=1))
    fresh = explain_dask(net, chunked(x, (5, 7)), **options)  # random_state=None: one fresh seed shared by the chunks
    again = explain_dask(net, chunked(x, (12,)), random_state=fresh.seed, **options)
    assert np.array_equal(fresh.relevance.compute(), again.relevance.compute())


def test_computing_the_fields_together_explains_each_chunk_once(monkeypatch):
    explain_module = sys.modules["lrpref.explain"]
    calls = []

    def counting(net, x, *args, **kwargs):
        calls.append(len(x))
        return original(net, x, *args, **kwargs)

    original = explain_module.explain
    monkeypatch.setattr(explain_module, "explain", counting)
    net, x = NETWORKS["mlp"]
    ex = explain_dask(net, chunked(x, (5, 5, 2)), rule=lr.Epsilon(0.1))
    assert calls == [1]  # the first sample, to learn the shapes and the ledger's rows
    ex.compute(scheduler="sync")
    assert calls[0] == 1 and sorted(calls[1:]) == [2, 5, 5]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.sets(st.integers(1, 11), max_size=6), dtype=st.sampled_from([np.float32, np.float64]))
def test_any_chunking_is_the_in_memory_calls_on_its_chunks(cuts, dtype):
    net, x = NETWORKS["graph"]
    net, x = net.astype(dtype), x.astype(dtype)
    sizes = tuple(np.diff([0, *sorted(cuts), len(x)]).tolist())
    options = dict(rule=lr.presets.EpsilonPlusFlat(), target=LABELS)
    computed = explain_dask(net, chunked(x, sizes), **options).compute(scheduler="threads")
    assert_bit_identical(computed, in_memory_per_chunk(net, x, sizes, ("target",), **options))
    absorbed = computed.ledger["received"] - computed.ledger["passed"] - computed.ledger["residual"]
    assert np.allclose(absorbed, sum(computed.ledger[kind] for kind in computed.kinds), rtol=0, atol=1e-5)


def test_bad_inputs_are_refused_with_the_chunks_named():
    net, x = NETWORKS["cnn"]
    with pytest.raises(ValueError, match=r"chunked along axis 2 into \(4, 4\).*x.rechunk\(\{1: -1, 2: -1, 3: -1\}\)"):
        explain_dask(net, da.from_array(x, chunks=(6, 1, 4, 8)))
    unknown = da.from_array(x, chunks=(6, 1, 8, 8))
    unknown = unknown[unknown.sum(axis=(1, 2, 3)) > 0]
    with pytest.raises(ValueError, match=r"unknown size.*compute_chunk_sizes"):
        explain_dask(net, unknown)
    with pytest.raises(ValueError, match="target has 11 samples but x has 12"):
        explain_dask(net, chunked(x, (6, 6)), target=LABELS[:11])
    with pytest.raises(ValueError, match="target has 13 samples but x has 12"):
        explain_dask(net, chunked(x, (6, 6)), target=da.from_array(np.arange(13) % 10, chunks=5))
    with pytest.raises(ValueError, match="reference has 11 samples but x has 12"):
        explain_dask(net, chunked(x, (6, 6)), method="deeplift", reference=da.zeros((11, 1, 8, 8), chunks=6))
    with pytest.raises(TypeError, match="shared reference"):
        explain_dask(net, chunked(x, (6, 6)), method="deeplift", reference=da.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="keep_messages"):
        explain_dask(net, chunked(x, (6, 6)), keep_messages=True)
    with pytest.raises(TypeError, match="explains a dask array"):
        explain_dask(net, x)
    with pytest.raises(ValueError, match="target 10 is out of range|out of range"):
        explain_dask(net, chunked(x, (6, 6)), target=np.full(12, 10))


def test_explain_takes_a_dask_array_as_explain_dask_does():
    net, x = NETWORKS["graph"]
    x_dask = chunked(x, CHUNKINGS[1])
    via_explain = lr.explain(net, x_dask, rule=lr.Epsilon(0.1))
    assert isinstance(via_explain, lr.DaskExplanation)
    assert np.array_equal(via_explain.compute().relevance, explain_dask(net, x_dask, rule=lr.Epsilon(0.1)).compute().relevance)
