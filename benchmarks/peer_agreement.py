"""Print the maximum relative error of lrpref (with the matching preset) against zennit and captum, per case.

The cases, networks and seeds are those of tests/peers (peer_nets.py): random float64 MLPs and CNNs, 4 seeds each.
The error is, per sample, max |lrpref - peer| / max |peer|, the largest over samples, seeds and both networks.
``--torchvision`` prints the same for zennit's composites on torchvision's ResNet-18/50, VGG-16-BN and DenseNet-121
as tests/peers/test_zennit_torchvision.py runs them (3×64×64, batch 2), with the BatchNorm residue reproduced
(``merge_batchnorm(quirks=True)``) and without it.
Run: python benchmarks/peer_agreement.py [--torchvision] (needs lrpref[peers]).
"""

import sys
import time
import warnings
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "peers"), str(TESTS)]

import peer_nets  # noqa: E402

warnings.filterwarnings("ignore")


def main():
    print("| peer | case | max relative error (MLP) | max relative error (CNN) |")
    print("|---|---|---|---|")
    start = time.perf_counter()
    for peer, cases in (("zennit", peer_nets.ZENNIT_CASES), ("captum", peer_nets.CAPTUM_CASES)):
        for name in cases:
            errors = [max(peer_nets.measure(peer, name, network, seed) for seed in peer_nets.SEEDS) for network in ("mlp", "cnn")]
            print(f"| {peer} | {name} | {errors[0]:.1e} | {errors[1]:.1e} |")
    print(f"\n({time.perf_counter() - start:.0f} s)")


def torchvision_table():
    import numpy as np
    import test_zennit_torchvision as tv
    from torch_models import torchvision_model

    from lrpref.io import from_torch
    from lrpref.presets import zennit

    x = np.random.default_rng(0).uniform(-1, 1, size=(2, *tv.SHAPE))
    print("| model | zennit composite | lrpref, BatchNorm residue reproduced | lrpref, exact fold |")
    print("|---|---|---|---|")
    for name in ("resnet18", "resnet50", "vgg16_bn", "densenet121"):
        model = torchvision_model(name)
        net = from_torch(model, tv.SHAPE)
        for composite, (_, _, preset) in tv.COMPOSITES.items():
            if name == "densenet121" and composite != "EpsilonPlusFlat":
                continue
            _, theirs = tv.zennit_relevance(model, name, composite, x)
            if name == "densenet121":
                mine, _ = tv.lrpref_relevance(net, preset(unhooked=tv.DENSENET_UNHOOKED), x)
                print(f"| {name} | {composite} (BatchNorm passed) | {tv.relative(mine, theirs).max():.1e} | (no merge) |")
                continue
            errors = [tv.relative(tv.lrpref_relevance(zennit.merge_batchnorm(net, quirks=quirks), preset(), x)[0],
                                  theirs).max() for quirks in (True, False)]
            print(f"| {name} | {composite} | {errors[0]:.1e} | {errors[1]:.1e} |")


if __name__ == "__main__":
    torchvision_table() if "--torchvision" in sys.argv[1:] else main()
