"""Speed of the LID family against LRP-ε on the same network, in the same process (issue 4).

LID-Taylor (a forward record of the input and of the reference, one backward chain) and
SIG-LID-IG with n = 10 path points (the same, with path-averaged derivatives at the ReLU and
max-pooling layers and the SIG top) are timed against ``explain(rule=Epsilon(1e-6))`` in
alternating blocks (:func:`bench_core.paired_times`); reported are the median times and the
median of the block ratios method / LRP-ε.

The network remembers the forward record of the last shared reference
(``Sequential.record_reference``), so repeated calls — explaining a data set against one
reference — push the reference through once. ``cold`` rows forget it before every call: the
cost of a single explanation with a new reference.

    python benchmarks/bench_methods.py                      # VGG-like and VGG-16, float32 and float64
    python benchmarks/bench_methods.py --only vgg-like --dtype float64
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
from bench_core import CASES, build, paired_times

import lrpref as lr

METHODS = {"lid-taylor": {}, "sig-lid-ig": {"steps": 10}}


def run_case(name, dtype, blocks):
    spec, shape = CASES[name]
    net, _ = build(spec(), dtype)
    x = np.random.default_rng(1).normal(size=shape).astype(dtype)
    target = np.zeros(shape[0], dtype=np.int64)

    def lrp_epsilon():
        return lr.explain(net, x, target=target, rule=lr.Epsilon(1e-6)).relevance

    results = []
    for (method, options), cold in [(m, cold) for m in METHODS.items() for cold in (False, True)]:
        def ours(method=method, options=options, cold=cold):
            if cold:
                net._last_reference = (None, None)
            return lr.explain(net, x, target=target, method=method, **options).relevance

        t_method, t_lrp, ratio = paired_times(ours, lrp_epsilon, blocks, runs=3, warmup=1)
        results.append(dict(case=name, dtype=np.dtype(dtype).name, method=method + (" (cold)" if cold else ""),
                            time=t_method, lrp=t_lrp, ratio=ratio))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["vgg-like", "vgg16"], action="append")
    parser.add_argument("--dtype", choices=["float32", "float64"], action="append")
    parser.add_argument("--blocks", type=int, default=3, help="alternating blocks of 3 timed runs each")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; numpy {np.__version__}")
    print(f"{'case':9} {'dtype':8} {'method':18} {'method [ms]':>12} {'LRP-ε [ms]':>11} {'ratio':>6}")
    for name in args.only or ["vgg-like", "vgg16"]:
        for dtype in args.dtype or ["float32", "float64"]:
            for r in run_case(name, np.dtype(dtype), args.blocks):
                print(f"{r['case']:9} {r['dtype']:8} {r['method']:18} {r['time'] * 1e3:12.1f} {r['lrp'] * 1e3:11.1f} "
                      f"{r['ratio']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
