"""Explaining from several threads that share one network is bit-identical to explaining serially (issue 12).

The fast path keeps scratch memory and cached layer operators, the network caches references
and linearisations: four threads interleave every path and method family — LRP on the fast and on
the explicit path, the multiplier methods (DeepLIFT, LID-IG), IG, Grad-CAM and Score-CAM — on one shared network,
and every result must equal, bit for bit, the one computed alone.
"""

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import lrpref as lr

THREADS = 4
SETTINGS = {
    "lrp-fast": dict(rule=lr.Epsilon(0.1)),
    "lrp-fast-alphabeta": dict(rule=lr.AlphaBeta(2, 1)),
    "lrp-explicit": dict(rule=lr.Epsilon(0.1), path="explicit"),
    "deeplift": dict(method="deeplift"),
    "lid-ig": dict(method="lid-ig", steps=6),
    "ig": dict(method="ig", steps=6),
    "grad-cam": dict(method="grad-cam", layer=3),
    "score-cam": dict(method="score-cam", layer=3, batch_size=2),
}


def network(dtype):
    rng = np.random.default_rng(3)
    return lr.Sequential([
        lr.Conv2d(rng.normal(size=(6, 2, 3, 3)), rng.normal(size=6) * 0.1, padding=1), lr.ReLU(),
        lr.Conv2d(rng.normal(size=(5, 6, 3, 3)), rng.normal(size=5) * 0.1, padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.Flatten(), lr.Dense(rng.normal(size=(8, 5 * 4 * 4)), rng.normal(size=8) * 0.1), lr.ReLU(),
        lr.Dense(rng.normal(size=(3, 8)), rng.normal(size=3) * 0.1),
    ]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_four_threads_sharing_a_network_are_bit_identical(dtype):
    net = network(dtype)
    inputs = [np.random.default_rng(seed).uniform(-1, 1, size=(seed + 1, 2, 8, 8)).astype(dtype) for seed in range(THREADS)]

    def run(name, k):
        ex = lr.explain(net, inputs[k], target=k % 3, **SETTINGS[name])
        return ex.relevance

    alone = {(name, k): run(name, k) for name in SETTINGS for k in range(THREADS)}
    tasks = list(alone) * 3
    random.Random(0).shuffle(tasks)
    with ThreadPoolExecutor(THREADS) as pool:
        together = list(pool.map(lambda task: run(*task), tasks))
    for task, result in zip(tasks, together):
        assert result.dtype == alone[task].dtype and np.array_equal(result, alone[task]), task
    assert {name for name, _ in tasks} == set(SETTINGS)
