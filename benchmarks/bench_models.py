"""lrpref on torchvision's ResNet-18, ResNet-50, DenseNet-121 and VGG-16 beside PyTorch, zennit and captum.

Every library explains the same model (``weights=None``, ``torch.manual_seed(0)``, evaluation mode, one
random batch of 3×224×224 images) for class 0. Each side is timed **as a user would see it, in a process of
its own** started fresh for every measurement (``--side``), so no library's worker threads still spin on the
cores another needs; a process builds the model, warms up, and reports the median of ``--runs`` timed calls.

* ``torch``: forward + backward, gradient × input, parameters not requiring gradients (the baseline);
* ``lrpref-epsilon``: ``lr.explain`` with LRP-ε (``lr.Epsilon(1e-6)``) on ``from_torch(model)`` with the
  BatchNorm folded (``lr.fold_batchnorm``), sums split in proportion;
* ``lrpref-epf``: ``lr.explain`` with ``presets.zennit.EpsilonPlusFlat()`` on the same network;
* ``zennit``: zennit's ``EpsilonPlusFlat`` (``ResNetCanonizer`` on ResNets, ``SequentialMergeBatchNorm`` on
  VGGs, none on DenseNet: BatchNorm passed, as tests/peers/test_zennit_torchvision.py runs them), the
  composite's context entered and left inside the timed call, as a user runs it;
* ``captum``: captum's ``LRP`` with its default rules (on a torchvision ResNet it runs but is not LRP:
  docs/peers.md, "captum on torchvision ResNets"; on DenseNet it refuses the functional ReLU's model).

Ratios are against ``torch``. Run: ``python benchmarks/bench_models.py [--models resnet50] [--dtypes float32]
[--batches 1 8]`` (needs lrpref[peers]); the import into lrpref is not timed (it happens once per model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

import numpy as np
from timing import median_seconds

SIDES = ("torch", "lrpref-epsilon", "lrpref-epf", "zennit", "captum")


def build(args):
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, args.model)(weights=None).eval()
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    model = model.to(dtype)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, size=(args.batch, 3, 224, 224))).to(dtype)
    return torch, model, x


def side_call(args):
    """The call one side times."""
    torch, model, x = build(args)
    if args.side == "torch":
        def run():
            inputs = x.clone().requires_grad_()
            model(inputs)[:, 0].sum().backward()
            return inputs.grad * inputs
        return run
    if args.side.startswith("lrpref"):
        import lrpref as lr
        from lrpref.io import from_torch

        net = lr.fold_batchnorm(from_torch(model, (3, 224, 224)), keep_unfoldable=True)
        rule = lr.Epsilon(1e-6) if args.side == "lrpref-epsilon" else lr.presets.zennit.EpsilonPlusFlat()
        batch = x.numpy()
        return lambda: lr.explain(net, batch, target=0, rule=rule).relevance
    one_hot = torch.zeros(args.batch, 1000, dtype=x.dtype)
    one_hot[:, 0] = 1
    if args.side == "zennit":
        from zennit.attribution import Gradient
        from zennit.canonizers import SequentialMergeBatchNorm
        from zennit.composites import EpsilonPlusFlat
        from zennit.torchvision import ResNetCanonizer

        canonizers = [ResNetCanonizer()] if args.model.startswith("resnet") else \
            [] if args.model.startswith("densenet") else [SequentialMergeBatchNorm()]

        def run():
            with Gradient(model=model, composite=EpsilonPlusFlat(canonizers=canonizers)) as attributor:
                return attributor(x, one_hot)[1]
        return run
    from captum.attr import LRP

    lrp = LRP(model)
    return lambda: lrp.attribute(x, target=0)


def measure(args) -> float | None:
    try:
        call = side_call(args)
        call()
    except Exception as error:   # a peer that cannot run this model: reported, not timed
        print(f"{args.side} on {args.model}: {type(error).__name__}: {str(error)[:120]}", file=sys.stderr)
        return None
    return median_seconds(call, args.runs, args.warmup)


def run_side(args, side, model, dtype, batch):
    command = [sys.executable, __file__, "--side", side, "--model", model, "--dtype", dtype, "--batch", str(batch),
               "--runs", str(args.runs), "--warmup", str(args.warmup)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "densenet121", "vgg16"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1])
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps({"seconds": measure(args)}))
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; 3×224×224, each side in its own "
          f"process, median of {args.runs} calls; ms (ratio to torch forward + backward)")
    print("| model | dtype | batch | " + " | ".join(args.sides) + " |\n|---|---|---:|" + "---:|" * len(args.sides))
    for model in args.models:
        for dtype in args.dtypes:
            for batch in args.batches:
                found = {side: run_side(args, side, model, dtype, batch) for side in args.sides}
                base = found.get("torch")
                cells = []
                for side in args.sides:
                    seconds = found[side]
                    if seconds is None:
                        cells.append("fails")
                    elif side == "torch" or base is None:
                        cells.append(f"{1e3 * seconds:.0f}")
                    else:
                        cells.append(f"{1e3 * seconds:.0f} ({seconds / base:.2f}×)")
                print(f"| {model} | {dtype} | {batch} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
