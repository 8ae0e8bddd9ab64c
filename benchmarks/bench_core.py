"""Speed of ``lrpref.explain`` (LRP-ε, fast path) against PyTorch forward+backward on the same weights.

The baseline is gradient × input in PyTorch, in the same process: ``x.requires_grad_()``,
``model(x)``, ``logit[c].sum().backward()``, ``x.grad * x``, with parameters that do not
require gradients (the fastest honest baseline; ``--param-grads`` also times the default
``nn.Module`` whose parameters require gradients). The two run in alternating blocks
(2 warm-up and 5 timed runs each, ``--blocks`` pairs); reported are the median times and the
median of the block ratios lrpref / PyTorch.

    python benchmarks/bench_core.py                # all four networks, float32 and float64
    python benchmarks/bench_core.py --only vgg16 --dtype float32
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import numpy as np
import torch
from timing import median_seconds

import lrpref as lr


def paired_times(first, second, blocks, runs=5, warmup=2):
    """Median times of ``first`` and ``second`` timed in alternating blocks, and the median of the block ratios.

    Each block runs one function ``warmup`` times untimed (after switching libraries, the other
    one's worker threads are still spinning) and then ``runs`` times timed; blocks of the two
    alternate ``blocks`` times. Alternating cancels slow drifts of the machine's speed, which on
    a shared 2-core machine are larger than the differences measured.
    """
    pairs = [(median_seconds(first, runs, warmup), median_seconds(second, runs, warmup)) for _ in range(blocks)]
    return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
            statistics.median(a / b for a, b in pairs))


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


def run_case(name, dtype, blocks, param_grads):
    spec, shape = CASES[name]
    net, model = build(spec(), dtype)
    x = np.random.default_rng(1).normal(size=shape).astype(dtype)
    target = np.zeros(shape[0], dtype=np.int64)
    rule = lr.Epsilon(1e-6)

    def ours():
        return lr.explain(net, x, target=target, rule=rule).relevance

    xt = torch.from_numpy(x)
    rows = torch.arange(shape[0])
    tt = torch.from_numpy(target)

    def baseline():
        inputs = xt.clone().requires_grad_(True)
        model(inputs)[rows, tt].sum().backward()
        return inputs.grad * inputs

    for p in model.parameters():
        p.requires_grad_(False)
    # the same computation: LRP-0 on a ReLU network is gradient × input (math.md §3.12)
    lrp0 = lr.explain(net, x, target=target, rule=lr.LRP0()).relevance
    check = np.abs(lrp0 - baseline().detach().numpy()).max() / np.abs(lrp0).max()
    t_ours, t_torch, ratio = paired_times(ours, baseline, blocks)
    result = dict(case=name, dtype=np.dtype(dtype).name, lrpref=t_ours, torch=t_torch, ratio=ratio, agreement=check)
    if param_grads:
        for p in model.parameters():
            p.requires_grad_(True)
        result["torch_param_grads"] = paired_times(baseline, baseline, blocks)[0]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=list(CASES), action="append")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks of 5 timed runs each")
    parser.add_argument("--param-grads", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    header = f"{'case':10} {'dtype':8} {'lrpref [ms]':>12} {'torch [ms]':>11} {'ratio':>6} {'max rel diff':>13}"
    print(header + ("  torch w/ param grads [ms]" if args.param_grads else ""))
    for name in args.only or CASES:
        for dtype in args.dtype or ["float32", "float64"]:
            r = run_case(name, np.dtype(dtype), args.blocks, args.param_grads)
            line = (f"{r['case']:10} {r['dtype']:8} {r['lrpref'] * 1e3:12.2f} {r['torch'] * 1e3:11.2f} "
                    f"{r['ratio']:6.2f} {r['agreement']:13.1e}")
            if args.param_grads:
                line += f"  {r['torch_param_grads'] * 1e3:24.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
