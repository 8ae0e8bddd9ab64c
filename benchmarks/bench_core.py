"""Speed of ``lrpref.explain`` (LRP-ε, fast path) against PyTorch forward+backward on the same weights.

The baseline is gradient × input in PyTorch: ``x.requires_grad_()``, ``model(x)``,
``logit[c].sum().backward()``, ``x.grad * x``, with parameters that do not require gradients
(the fastest honest baseline; ``--param-grads`` also times the default ``nn.Module`` whose
parameters require gradients). Each side is timed **as a user would see it, in a process of its
own** (``--side``, started fresh for every measurement), so the other library's worker threads
cannot still be spinning on the cores it needs: a process builds the network from the seed, warms
up, and reports the median of ``--runs`` calls. The sides alternate ``--repeats`` times; reported
are the medians of the process medians and their ratio lrpref / PyTorch.

    python benchmarks/bench_core.py                # all four networks, float32 and float64
    python benchmarks/bench_core.py --only vgg16 --dtype float32
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
import torch
from timing import median_seconds

import lrpref as lr

SIDES = ("lrpref", "torch", "torch-param-grads")


# --------------------------------------------------------------------------- architectures


def mlp_spec():
    return [("dense", 784, 1024), ("relu",), ("dense", 1024, 1024), ("relu",), ("dense", 1024, 10)]


def vgg_like_spec():
    """A VGG-style CNN for 3×64×64: three blocks of two 3×3 convolutions, 2×2 max-pooling, two dense layers."""
    spec, channels = [], 3
    for width in (64, 128, 256):
        spec += [("conv", channels, width), ("relu",), ("conv", width, width), ("relu",), ("pool",)]
        channels = width
    return spec + [("flatten",), ("dense", 256 * 8 * 8, 512), ("relu",), ("dense", 512, 10)]


def vgg16_spec():
    """torchvision's VGG-16 (configuration D) for 3×224×224."""
    spec, channels = [], 3
    for width, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            spec += [("conv", channels, width), ("relu",)]
            channels = width
        spec.append(("pool",))
    return spec + [("flatten",), ("dense", 512 * 7 * 7, 4096), ("relu",), ("dense", 4096, 4096), ("relu",),
                   ("dense", 4096, 1000)]


def build(spec, dtype, seed=0):
    """The same random (He-initialised) weights as an lrpref and a PyTorch network."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for item in spec:
        kind = item[0]
        if kind in ("dense", "conv"):
            fan_in = item[1] * (9 if kind == "conv" else 1)
            shape = (item[2], item[1], 3, 3) if kind == "conv" else (item[2], item[1])
            W = (rng.normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(dtype)
            b = (rng.normal(size=item[2]) * 0.01).astype(dtype)
            if kind == "conv":
                ours.append(lr.Conv2d(W, b, padding=1))
                module = torch.nn.Conv2d(item[1], item[2], 3, padding=1)
            else:
                ours.append(lr.Dense(W, b))
                module = torch.nn.Linear(item[1], item[2])
            module = module.to(getattr(torch, np.dtype(dtype).name))
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(W))
                module.bias.copy_(torch.from_numpy(b))
            theirs.append(module)
        elif kind == "relu":
            ours.append(lr.ReLU())
            theirs.append(torch.nn.ReLU())
        elif kind == "pool":
            ours.append(lr.MaxPool2d(2))
            theirs.append(torch.nn.MaxPool2d(2))
        elif kind == "flatten":
            ours.append(lr.Flatten())
            theirs.append(torch.nn.Flatten())
    return lr.Sequential(ours), torch.nn.Sequential(*theirs).eval()


CASES = {
    "mlp-b1": (mlp_spec, (1, 784)),
    "mlp-b64": (mlp_spec, (64, 784)),
    "vgg-like": (vgg_like_spec, (8, 3, 64, 64)),
    "vgg16": (vgg16_spec, (1, 3, 224, 224)),
}


def side_call(name, dtype, side):
    """The call one side times: lrpref's LRP-ε or PyTorch's gradient × input (parameters with or without grads)."""
    spec, shape = CASES[name]
    net, model = build(spec(), dtype)
    x = np.random.default_rng(1).normal(size=shape).astype(dtype)
    target = np.zeros(shape[0], dtype=np.int64)
    if side == "lrpref":
        rule = lr.Epsilon(1e-6)
        return lambda: lr.explain(net, x, target=target, rule=rule).relevance
    xt, rows, tt = torch.from_numpy(x), torch.arange(shape[0]), torch.from_numpy(target)
    for p in model.parameters():
        p.requires_grad_(side == "torch-param-grads")

    def baseline():
        inputs = xt.clone().requires_grad_(True)
        model(inputs)[rows, tt].sum().backward()
        return inputs.grad * inputs

    return baseline


def agreement(name, dtype) -> float:
    """LRP-0 against gradient × input: the same quantity on ReLU networks (math.md §3.12)."""
    spec, shape = CASES[name]
    net, _ = build(spec(), dtype)
    x = np.random.default_rng(1).normal(size=shape).astype(dtype)
    target = np.zeros(shape[0], dtype=np.int64)
    lrp0 = lr.explain(net, x, target=target, rule=lr.LRP0()).relevance
    return float(np.abs(lrp0 - side_call(name, dtype, "torch")().detach().numpy()).max() / np.abs(lrp0).max())


def run_case(name, dtype, args):
    """Every side in fresh processes, alternating ``args.repeats`` times; the medians and the ratio."""
    sides = SIDES if args.param_grads else SIDES[:2]
    found = {side: [] for side in sides}
    for _ in range(args.repeats):
        for side in sides:
            command = [sys.executable, __file__, "--side", side, "--only", name, "--dtype", np.dtype(dtype).name,
                       "--runs", str(args.runs), "--warmup", str(args.warmup)]
            out = subprocess.run(command, capture_output=True, text=True, check=True)
            found[side].append(json.loads(out.stdout)["seconds"])
    times = {side: statistics.median(values) for side, values in found.items()}
    return dict(case=name, dtype=np.dtype(dtype).name, lrpref=times["lrpref"], torch=times["torch"],
                ratio=times["lrpref"] / times["torch"], agreement=agreement(name, dtype),
                torch_param_grads=times.get("torch-param-grads"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=list(CASES), action="append")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per side, alternating")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--param-grads", action="store_true")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        call = side_call(args.only[0], np.dtype(args.dtype[0]), args.side)
        print(json.dumps({"seconds": median_seconds(call, args.runs, args.warmup)}))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); each side in its own process")
    header = f"{'case':10} {'dtype':8} {'lrpref [ms]':>12} {'torch [ms]':>11} {'ratio':>6} {'max rel diff':>13}"
    print(header + ("  torch w/ param grads [ms]" if args.param_grads else ""))
    for name in args.only or CASES:
        for dtype in args.dtype or ["float32", "float64"]:
            r = run_case(name, np.dtype(dtype), args)
            line = (f"{r['case']:10} {r['dtype']:8} {r['lrpref'] * 1e3:12.2f} {r['torch'] * 1e3:11.2f} "
                    f"{r['ratio']:6.2f} {r['agreement']:13.1e}")
            if args.param_grads:
                line += f"  {r['torch_param_grads'] * 1e3:24.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
