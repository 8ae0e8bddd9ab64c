"""What the BLAS fallback costs: lrpref's fast path with NumPy's OpenBLAS against SciPy's BLAS (``cython_blas``).

When NumPy's own BLAS cannot be located (NumPy built against MKL or Accelerate),
:mod:`lrpref._fast.blas` calls SciPy's BLAS instead. Here both are timed on the same weights, each
in a fresh process of its own (``--library numpy|scipy`` picks the library before the first
call): LRP-ε on an MLP 784-1024-1024-10 at batch 64 and on a VGG-style CNN (3×64×64, three
blocks of two 3×3 convolutions) at batch 8, float32 and float64. Reported: the median of
``--runs`` calls after warm-up, per library, and the ratio scipy / numpy.

    python benchmarks/bench_blas_fallback.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
from timing import median_seconds


def network(kind, dtype):
    import lrpref as lr

    rng = np.random.default_rng(0)
    he = lambda fan_in, shape: (rng.normal(size=shape) * np.sqrt(2 / fan_in)).astype(dtype)  # noqa: E731
    if kind == "mlp":
        net = lr.Sequential([lr.Dense(he(784, (1024, 784))), lr.ReLU(), lr.Dense(he(1024, (1024, 1024))), lr.ReLU(),
                             lr.Dense(he(1024, (10, 1024)))])
        return net, rng.normal(size=(64, 784)).astype(dtype)
    layers, channels = [], 3
    for width in (32, 64, 128):
        layers += [lr.Conv2d(he(channels * 9, (width, channels, 3, 3)), padding=1), lr.ReLU(),
                   lr.Conv2d(he(width * 9, (width, width, 3, 3)), padding=1), lr.ReLU(), lr.MaxPool2d(2)]
        channels = width
    layers += [lr.Flatten(), lr.Dense(he(128 * 64, (10, 128 * 64)))]
    return lr.Sequential(layers), rng.normal(size=(8, 3, 64, 64)).astype(dtype)


def measure(args) -> float:
    import lrpref as lr
    from lrpref._fast import blas

    blas._library = blas._scipy_library() if args.library == "scipy" else blas.library()
    net, x = network(args.network, np.dtype(args.dtype))
    seconds = median_seconds(lambda: lr.explain(net, x, target=0, rule=lr.Epsilon(1e-6)), args.runs, warmup=3)
    assert blas.library().name.startswith("scipy") == (args.library == "scipy")
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--library", choices=["numpy", "scipy"], help=argparse.SUPPRESS)
    parser.add_argument("--network", choices=["mlp", "cnn"], help=argparse.SUPPRESS)
    parser.add_argument("--dtype", choices=["float32", "float64"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.library:
        print(json.dumps({"seconds": measure(args)}))
        return
    print("| network | dtype | NumPy's OpenBLAS (ms) | SciPy's BLAS (ms) | ratio |\n|---|---|---:|---:|---:|")
    for net in ("mlp", "cnn"):
        for dtype in ("float32", "float64"):
            found = {}
            for library in ("numpy", "scipy"):
                out = subprocess.run([sys.executable, __file__, "--library", library, "--network", net, "--dtype", dtype,
                                      "--runs", str(args.runs)], capture_output=True, text=True, check=True)
                found[library] = json.loads(out.stdout)["seconds"] * 1e3
            print(f"| {net} | {dtype} | {found['numpy']:.1f} | {found['scipy']:.1f} | {found['scipy'] / found['numpy']:.2f} |")


if __name__ == "__main__":
    main()
