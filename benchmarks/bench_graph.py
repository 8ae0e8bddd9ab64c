"""Speed of ``lrpref.explain`` on graphs: does the graph engine add per-node overhead beyond the layers' work?

A residual MLP of ``--blocks`` blocks (``h ← relu(h + W₂ relu(W₁ h + b₁) + b₂)``, width
``--width``), batch ``--batch``, explained with LRP-ε (``lr.Epsilon(1e-6)`` on the weights, the
proportional split on every sum) against PyTorch's forward + backward on the same weights
(gradient × input with parameters that do not require gradients: the fastest honest baseline).

Each side is timed **as a user would see it, in a process of its own** (``python bench_graph.py
--side lrpref|torch``, started fresh for every measurement): the other library's worker threads
cannot be spinning on the cores it needs. A process builds the network from the same seed,
warms up, and reports the median of ``--runs`` timed calls; the ratio is lrpref / PyTorch. The
two sides alternate ``--repeats`` times and the medians of the process medians are reported.

    python benchmarks/bench_graph.py                 # 20 blocks, width 256, batch 64, float32 and float64
    python benchmarks/bench_graph.py --dtype float64 --blocks 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

import numpy as np
from timing import median_seconds


def weights(blocks, width, features, classes, seed=0):
    """He-initialised weights of the residual MLP: input layer, ``blocks`` pairs, classifier (float64)."""
    rng = np.random.default_rng(seed)
    he = lambda fan_in, shape: rng.normal(size=shape) * np.sqrt(2 / fan_in)  # noqa: E731
    stem = (he(features, (width, features)), np.zeros(width))
    pairs = [((he(width, (width, width)) * 0.5, np.zeros(width)), (he(width, (width, width)) * 0.5, np.zeros(width)))
             for _ in range(blocks)]
    return stem, pairs, (he(width, (classes, width)), np.zeros(classes))


def lrpref_side(args, dtype):
    import lrpref as lr

    stem, pairs, top = weights(args.blocks, args.width, args.features, args.classes)
    x = lr.Input()
    h = lr.ReLU()(lr.Dense(*stem, dtype=dtype)(x))
    for (W1, b1), (W2, b2) in pairs:
        inner = lr.Dense(W2, b2, dtype=dtype)(lr.ReLU()(lr.Dense(W1, b1, dtype=dtype)(h)))
        h = lr.ReLU()(lr.Add()(h, inner))
    net = lr.Graph(x, lr.Dense(*top, dtype=dtype)(h))
    batch = np.random.default_rng(1).normal(size=(args.batch, args.features)).astype(dtype)
    rule = lr.Epsilon(1e-6)
    return lambda: lr.explain(net, batch, target=0, rule=rule).relevance


def torch_side(args, dtype):
    import torch

    stem, pairs, top = weights(args.blocks, args.width, args.features, args.classes)
    torch_dtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    tensor = lambda a: torch.tensor(a, dtype=torch_dtype)  # noqa: E731
    stem_t = [tensor(a) for a in stem]
    pairs_t = [[tensor(a) for pair in block for a in pair] for block in pairs]
    top_t = [tensor(a) for a in top]
    batch = tensor(np.random.default_rng(1).normal(size=(args.batch, args.features)))

    def forward(x):
        h = torch.relu(x @ stem_t[0].T + stem_t[1])
        for W1, b1, W2, b2 in pairs_t:
            h = torch.relu(h + torch.relu(h @ W1.T + b1) @ W2.T + b2)
        return h @ top_t[0].T + top_t[1]

    def run():
        x = batch.clone().requires_grad_()
        forward(x)[:, 0].sum().backward()
        return (x.grad * x).detach()

    return run


def measure(args) -> float:
    """Median seconds of one call on this side (this process only)."""
    dtype = {"float32": np.float32, "float64": np.float64}[args.dtype]
    call = (lrpref_side if args.side == "lrpref" else torch_side)(args, dtype)
    return median_seconds(call, args.runs, args.warmup)


def compare(args) -> dict:
    """Both sides, each in fresh processes, alternating; the medians and their ratio."""
    found = {"lrpref": [], "torch": []}
    base = [sys.executable, __file__, "--blocks", str(args.blocks), "--width", str(args.width), "--batch", str(args.batch),
            "--features", str(args.features), "--classes", str(args.classes), "--dtype", args.dtype, "--runs",
            str(args.runs), "--warmup", str(args.warmup)]
    for _ in range(args.repeats):
        for side in ("torch", "lrpref"):
            out = subprocess.run(base + ["--side", side], capture_output=True, text=True, check=True)
            found[side].append(json.loads(out.stdout)["seconds"])
    lrpref_time, torch_time = statistics.median(found["lrpref"]), statistics.median(found["torch"])
    return {"dtype": args.dtype, "lrpref_ms": 1e3 * lrpref_time, "torch_ms": 1e3 * torch_time,
            "ratio": lrpref_time / torch_time}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--side", choices=["lrpref", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps({"seconds": measure(args)}))
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; residual MLP of {args.blocks} blocks, "
          f"width {args.width}, batch {args.batch}, LRP-ε against torch forward + backward, each in its own process")
    print("| dtype | lrpref (ms) | torch (ms) | ratio |\n|---|---:|---:|---:|")
    for dtype in (["float32", "float64"] if args.dtype == "both" else [args.dtype]):
        row = compare(argparse.Namespace(**{**vars(args), "dtype": dtype}))
        print(f"| {dtype} | {row['lrpref_ms']:.2f} | {row['torch_ms']:.2f} | {row['ratio']:.2f} |")


if __name__ == "__main__":
    main()
