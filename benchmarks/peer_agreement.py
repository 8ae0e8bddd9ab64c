"""Print the maximum relative error of lrpref (with the matching preset) against zennit and captum, per case.

The cases, networks and seeds are those of tests/peers (peer_nets.py): random float64 MLPs and CNNs, 4 seeds each.
The error is, per sample, max |lrpref - peer| / max |peer|, the largest over samples, seeds and both networks.
Run: python benchmarks/peer_agreement.py (needs lrpref[peers]).
"""

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "peers"))

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


if __name__ == "__main__":
    main()
