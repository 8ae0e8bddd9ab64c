"""Reference clients: zennit and captum run on every case of a kit, from the kit's files alone.

Each client builds the case's network in PyTorch (:func:`lrpref.conformance.graph.torch_module`
from the manifest's node description and the ``networks/<name>.state_dict.npz`` file), expresses
the case's rules or method with the peer's own API, runs it and returns a :class:`PeerRun`: the
peer call, its arguments, and the relevance at the levels the peer exposes — or, when the peer
cannot express the case, why not. ``python -m lrpref.conformance.clients.zennit KIT RESULTS``
(or ``.captum``) writes a results file for ``lrpref conformance check``.

The kit's export runs both clients to generate the ``peers`` labels of every case; the tests run
them again on a fresh kit and check that every label holds.
"""

from ._base import CaseView, PeerRun, Unsupported, network_parameters, run_client, write_results

CLIENTS = ("zennit", "captum")


def client(name: str):
    """The client module ``name`` (``"zennit"`` or ``"captum"``); needs torch and the peer installed."""
    if name not in CLIENTS:
        raise ValueError(f"unknown peer client {name!r}; one of {CLIENTS}")
    import importlib

    return importlib.import_module(f"{__name__}.{name}")


__all__ = ["PeerRun", "Unsupported", "CaseView", "network_parameters", "run_client", "write_results", "client", "CLIENTS"]
