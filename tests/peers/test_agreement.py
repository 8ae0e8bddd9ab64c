"""lrpref with the matching presets against zennit and captum themselves, on random float64 MLPs and CNNs:
every case of peer_nets.ZENNIT_CASES and CAPTUM_CASES agrees to ≤ 1e-10 relative (per sample, scaled by the
largest reference value).

Locally these tests skip without torch, zennit or captum; under CI=true a missing peer fails them.
"""

import pytest
from optional import require
from peer_nets import CAPTUM_CASES, NETWORKS, SEEDS, ZENNIT_CASES, measure

require("torch")
require("zennit")
require("captum")

TOLERANCE = 1e-10
CASES = [("zennit", name) for name in ZENNIT_CASES] + [("captum", name) for name in CAPTUM_CASES]


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("peer, name", CASES, ids=[f"{peer}: {name}" for peer, name in CASES])
def test_matches_peer(peer, name, network):
    errors = [measure(peer, name, network, seed) for seed in SEEDS]
    assert max(errors) <= TOLERANCE, f"{peer} {name} on the {network}: relative errors {errors}"
