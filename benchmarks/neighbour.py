"""Is lrpref a good neighbour? PyTorch's forward + backward timed alone and right after an lrpref call, in one process.

The verify use case runs lrpref beside torch, zennit and captum in one process. If the BLAS worker threads of
lrpref's call kept spinning after it returned, they would take cores from whatever torch runs next. This
script times torch's gradient × input on one network (the MLP 784-1024-1024-10 of bench_core.py at batch 64,
or ``--model resnet18`` at 3×64×64) in three ways, each ``--runs`` times (median):

* ``alone``: torch calls back to back, lrpref imported but idle;
* ``after lrpref``: each torch call immediately after an ``lr.explain`` call on the same weights;
* ``after a pause``: the same with a ``--pause`` second sleep between the two, time for any spinning
  thread to go to sleep.

If "after lrpref" is no slower than "after a pause", lrpref leaves nothing running behind it.
``--keep-threads`` sets ``lr.config.release_blas_threads = False``: lrpref as it was before it stopped OpenBLAS's
worker threads after a call.
Run: python benchmarks/neighbour.py [--model mlp|resnet18] [--dtype float32] [--keep-threads]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def networks(model, dtype):
    import torch

    import lrpref as lr
    from lrpref.io import from_torch

    torch.manual_seed(0)
    if model == "mlp":
        module = torch.nn.Sequential(torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                     torch.nn.ReLU(), torch.nn.Linear(1024, 10))
        shape, batch = (784,), 64
    else:
        import torchvision

        module = torchvision.models.resnet18(weights=None)
        shape, batch = (3, 64, 64), 8
    module = module.eval().to(getattr(torch, dtype))
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    net = lr.fold_batchnorm(from_torch(module, shape), keep_unfoldable=True)
    x = np.random.default_rng(1).uniform(-1, 1, size=(batch, *shape)).astype(dtype)
    return torch, module, net, x


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["mlp", "resnet18"], default="mlp")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--keep-threads", action="store_true")
    args = parser.parse_args(argv)
    import lrpref as lr

    lr.config.release_blas_threads = not args.keep_threads
    torch, module, net, x = networks(args.model, args.dtype)
    inputs = torch.from_numpy(x)

    def torch_call():
        start = time.perf_counter()
        tracked = inputs.clone().requires_grad_()
        module(tracked)[:, 0].sum().backward()
        _ = tracked.grad * tracked
        return time.perf_counter() - start

    def lrpref_call():
        lr.explain(net, x, target=0, rule=lr.Epsilon(1e-6))

    for _ in range(3):
        torch_call(), lrpref_call()
    alone = statistics.median(torch_call() for _ in range(args.runs))
    after = []
    for _ in range(args.runs):
        lrpref_call()
        after.append(torch_call())
    paused = []
    for _ in range(args.runs):
        lrpref_call()
        time.sleep(args.pause)
        paused.append(torch_call())
    print(f"{args.model}, {args.dtype}, {'threads kept' if args.keep_threads else 'threads released'}, torch forward + backward, median of {args.runs} [ms]: alone "
          f"{1e3 * alone:.2f}, right after lrpref {1e3 * statistics.median(after):.2f}, after lrpref and a "
          f"{args.pause:g} s pause {1e3 * statistics.median(paused):.2f}")


if __name__ == "__main__":
    main()
