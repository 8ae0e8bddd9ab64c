"""What every reference client shares: reading a case from the kit's files, the run record, the results file."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._integrity import read_archive
from ..._progress import progress
from ..graph import is_chain, torch_module
from ..kit import case_arrays, read_manifest, verify_file

__all__ = ["PeerRun", "Unsupported", "CaseView", "network_parameters", "run_client", "write_results", "main"]


class Unsupported(Exception):
    """The peer cannot express this case; the message says why."""


@dataclass
class PeerRun:
    """One case run by a peer: ``call`` (the peer API used), ``kwargs`` (its arguments, JSON), ``levels``
    (``{k: R(Y^k)}`` for the levels the peer exposes), or ``unsupported`` (why the peer cannot express it)."""

    case: str
    peer: str
    call: str | None = None
    kwargs: dict = field(default_factory=dict)
    levels: dict | None = None
    unsupported: str | None = None


class CaseView:
    """A case as a client sees it: the manifest ``entry``, its ``arrays``, the network ``description`` and
    ``parameters`` (the state_dict arrays); :meth:`module` builds a fresh float64 PyTorch model."""

    def __init__(self, directory: Path, manifest: dict, entry: dict, parameters: dict):
        self.entry, self.manifest = entry, manifest
        self.network = manifest["networks"][entry["network"]]
        self.description = self.network["graph"]
        self.parameters = parameters
        self.arrays = case_arrays(directory, entry)

    @property
    def method(self) -> str:
        return self.entry["method"]["name"]

    def module(self):
        if not is_chain(self.description):
            raise Unsupported("a graph network (residual sums, concatenations): the reference clients build chains; "
                              "a peer's own residual handling (zennit's Sum and canonizers) is not wired in yet")
        return torch_module(self.description, self.parameters)

    def tensor(self, key: str):
        import torch

        return torch.from_numpy(np.array(self.arrays[key], dtype=self.arrays[key].dtype))

    def class_target(self) -> list:
        if self.entry["target"] != "class":
            raise Unsupported("the case starts from an explicit top relevance array, not a class index")
        return [int(c) for c in self.arrays["target"]]

    def top(self, output):
        """The top relevance ``R(Y^L)`` of the case's method in torch: ``e_c ⊙ Z``, the explicit array, or for the
        tops of ``sg-lrp-0`` / ``sg-lrp-zp`` / ``st-lrp-0`` the softmax derivative ``P_c (e_c − P)`` (times ``Z``)."""
        import torch

        if self.entry["target"] == "relevance":
            return self.tensor("target")
        onehot = torch.nn.functional.one_hot(self.tensor("target"), output.shape[1]).to(output.dtype)
        method = self.method
        if method == "lrp":
            return output.detach() * onehot
        if method in ("sg-lrp-0", "sg-lrp-zp", "st-lrp-0"):
            P = torch.softmax(output.detach(), dim=1)
            derivative = (P * onehot).sum(dim=1, keepdim=True) * (onehot - P)
            return derivative * output.detach() if method == "st-lrp-0" else derivative
        raise Unsupported(f"method {method!r} is not an LRP pass from a top relevance this client can form")


def network_parameters(directory: Path, manifest: dict, name: str) -> dict:
    """The state_dict arrays of network ``name``, the file's SHA-256 checked against the manifest."""
    path = directory / manifest["networks"][name]["state_dict"]
    verify_file(path, manifest["networks"][name]["sha256"]["state_dict"], f"the state_dict of network {name!r}")
    arrays, _ = read_archive(path, "conformance kit state_dict")
    return arrays


def run_client(client, directory, manifest: dict | None = None, cases=None) -> list[PeerRun]:
    """Run ``client`` (a module with ``PEER`` and ``run(view) -> PeerRun``) on the kit's cases (default all)."""
    directory = Path(directory)
    manifest = read_manifest(directory) if manifest is None else manifest
    parameters, runs = {}, []
    for entry in progress(manifest["cases"], f"{client.PEER} on the kit"):
        if cases is not None and entry["id"] not in cases:
            continue
        name = entry["network"]
        if name not in parameters:
            parameters[name] = network_parameters(directory, manifest, name)
        view = CaseView(directory, manifest, entry, parameters[name])
        try:
            runs.append(client.run(view))
        except Unsupported as why:
            runs.append(PeerRun(entry["id"], client.PEER, unsupported=str(why)))
    return runs


def write_results(runs, path) -> Path:
    """One ``.npz`` of ``"<case id>/relevance.<k>"`` for every case the peer ran (``lrpref conformance check``'s format)."""
    path = Path(path)
    np.savez(path, **{f"{run.case}/relevance.{k}": value for run in runs if run.levels is not None
                      for k, value in run.levels.items()})
    return path


def main(client, argv=None) -> int:
    """``python -m lrpref.conformance.clients.<peer> KIT RESULTS``: run the peer on the kit and write its results."""
    parser = argparse.ArgumentParser(prog=f"python -m lrpref.conformance.clients.{client.PEER}",
                                     description=f"run {client.PEER} on a conformance kit and write the results")
    parser.add_argument("kit")
    parser.add_argument("results", help="the .npz to write (<case id>/relevance.<k>)")
    parser.add_argument("--calls", help="also write every case's peer call as JSON here")
    args = parser.parse_args(argv)
    runs = run_client(client, args.kit)
    write_results(runs, args.results)
    ran = [run for run in runs if run.levels is not None]
    print(f"{client.PEER}: ran {len(ran)} of {len(runs)} cases; wrote {args.results}")
    if args.calls:
        Path(args.calls).write_text(json.dumps({run.case: {"call": run.call, "kwargs": run.kwargs,
                                                           "unsupported": run.unsupported} for run in runs}, indent=1))
    return 0

