"""Peak memory of explaining one chunk, against the activations of the chunk (docs/scale.md, "Memory per worker").

Each measurement runs in a fresh process (as a dask worker would hold one chunk): it imports
lrpref, builds the network, makes the chunk, warms up on one sample, then reads its peak RSS
(``ru_maxrss``) before and after explaining the chunk. The working memory is the difference; the
activations are the bytes of every tensor of the forward pass of the chunk (input, every
node's output). Memory is measured, not time: the figures do not depend on other work on the
machine.

    python benchmarks/explain_memory.py                     # the table of docs/scale.md
    python benchmarks/explain_memory.py --only resnet50     # its ResNet-50 rows (needs torch, torchvision)

``resnet50`` is torchvision's (``weights=None``, seeded), imported with ``lrpref.io.from_torch`` and its
BatchNorm folded; its process also holds torch, which the peak RSS includes and the working memory does not.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

CASES = [  # network, sample shape, method options, dtype, chunk size
    ("texture_cnn", (1, 64, 64), "EpsilonPlusFlat", "float64", 16),
    ("texture_cnn", (1, 64, 64), "EpsilonPlusFlat", "float64", 64),
    ("texture_cnn", (1, 64, 64), "EpsilonPlusFlat", "float32", 64),
    ("texture_cnn", (1, 64, 64), "deeplift", "float64", 64),
    ("large_cnn", (3, 128, 128), "EpsilonPlusFlat", "float32", 4),
    ("large_cnn", (3, 128, 128), "EpsilonPlusFlat", "float32", 16),
    ("large_cnn", (3, 128, 128), "EpsilonPlusFlat", "float64", 16),
    ("large_cnn", (3, 128, 128), "deeplift", "float32", 16),
    ("resnet50", (3, 224, 224), "EpsilonPlusFlat", "float32", 1),
    ("resnet50", (3, 224, 224), "EpsilonPlusFlat", "float32", 8),
    ("resnet50", (3, 224, 224), "EpsilonPlusFlat", "float64", 8),
]


def resnet50():
    """torchvision's ResNet-50 (``weights=None``, ``torch.manual_seed(0)``), imported and BatchNorm folded."""
    import torch
    import torchvision

    import lrpref as lr
    from lrpref.io import from_torch

    torch.manual_seed(0)
    return lr.fold_batchnorm(from_torch(torchvision.models.resnet50(weights=None).eval(), (3, 224, 224)))


def large_cnn():
    """A VGG-like CNN of 3×128×128 inputs: four stages of two 3×3 convolutions (64, 128, 256, 256 channels), max-pooling
    after each, global average pooling and a dense layer of 1000 classes (random weights, He initialisation)."""
    import lrpref as lr

    rng = np.random.default_rng(0)
    layers, channels = [], 3
    for width in (64, 128, 256, 256):
        for _ in range(2):
            W = rng.normal(size=(width, channels, 3, 3)) * np.sqrt(2 / (9 * channels))
            layers += [lr.Conv2d(W, np.zeros(width), padding=1), lr.ReLU()]
            channels = width
        layers.append(lr.MaxPool2d(2))
    layers += [lr.AdaptiveAvgPool2d(1), lr.Flatten(), lr.Dense(rng.normal(size=(1000, channels)) * 0.05, np.zeros(1000))]
    return lr.Sequential(layers)


def measure(name, shape, method, dtype, chunk) -> dict:
    """Run in a child process: the peak RSS added by explaining one chunk, and the chunk's activation bytes."""
    import resource

    import lrpref as lr
    from lrpref.datasets import load_network

    builders = {"large_cnn": large_cnn, "resnet50": resnet50}
    net = (builders[name]() if name in builders else load_network(name)[0]).astype(dtype)
    options = dict(method="deeplift") if method == "deeplift" else dict(rule=getattr(lr.presets, method)())
    x = np.random.default_rng(1).random((chunk, *shape)).astype(dtype)
    lr.explain(net, x[:1], **options)  # warm-up: numba compilation, caches, BLAS threads
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lr.explain(net, x, **options)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    activations = sum(int(np.prod(s)) for s in net.shapes(shape)) * chunk * np.dtype(dtype).itemsize
    return {"working": peak - before, "peak": peak, "activations": activations}


def main():
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv[1:-1] else None
    rows = []
    for case in (c for c in CASES if only in (None, c[0])):
        code = f"import json, explain_memory as m; print(json.dumps(m.measure(*{case!r})))"
        out = subprocess.run([sys.executable, "-c", code], cwd=__file__.rsplit("/", 1)[0], capture_output=True,
                             text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        rows.append((*case, result))
    print("| network | method | dtype | chunk | activations | working memory | factor | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for name, shape, method, dtype, chunk, r in rows:
        print(f"| {name} {'×'.join(map(str, shape))} | {method} | {dtype} | {chunk} | {r['activations'] / 2**20:.0f} MiB | "
              f"{r['working'] / 2**20:.0f} MiB | {r['working'] / r['activations']:.1f} | {r['peak'] / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
