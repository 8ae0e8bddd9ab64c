"""Which torchvision classification models ``lrpref.io.from_torch`` imports: a Markdown table in docs/interop.md.

Every model of ``torchvision.models.list_models(module=torchvision.models)`` is built with
``weights=None`` (seeded init), cast to float64, imported with ``from_torch`` for 3×64×64 inputs
(or the model's minimum input size when it is larger) and run on a batch of 2 next to torch. The
table gives, per model: whether it imports, the first operation that does not (the fx node and
what the ``ModelImportError`` says), and the forward pass's relative error
``max |lrpref − torch| / max |torch|``. Each model runs in its own process with a time limit;
models above a parameter budget are not built (their size is given instead).

Run: python benchmarks/torchvision_import_table.py [--timeout 90] [--only resnet18,vgg16]
The table is written between the markers in docs/interop.md (and printed).
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "interop.md"
START, END = "<!-- torchvision-import-table:start -->", "<!-- torchvision-import-table:end -->"
MAX_PARAMETERS = 200_000_000  # larger models need several GB in float64 and minutes on a small machine


def input_size(torchvision, name) -> int:
    """64, or the model's minimum input size when that is larger."""
    weights = list(torchvision.models.get_model_weights(name))
    minimum = max(weights[0].meta.get("min_size", (1, 1))) if weights else 1
    return max(64, minimum)


def measure(name: str) -> dict:
    """Import one model and compare its forward pass with torch's (run in a child process)."""
    import numpy as np
    import torch
    import torchvision

    from lrpref.io import ModelImportError, from_torch

    size = input_size(torchvision, name)
    try:
        with torch.device("meta"):  # counts the parameters without allocating them
            parameters = sum(p.numel() for p in torchvision.models.get_model(name, weights=None).parameters())
    except NotImplementedError:  # an initialiser that reads values (RegNet's) cannot run on meta tensors
        parameters = sum(p.numel() for p in torchvision.models.get_model(name, weights=None).parameters())
    result = {"model": name, "size": size, "parameters": parameters}
    if parameters > MAX_PARAMETERS:
        return {**result, "status": "skipped"}
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).double().eval()
    start = time.perf_counter()
    try:
        net = from_torch(model, (3, size, size))
    except ModelImportError as error:
        return {**result, "status": "refused", "error": str(error)}
    x = np.random.default_rng(0).normal(size=(2, 3, size, size))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    ours = net(x)
    error = float(np.abs(ours - expected).max() / np.abs(expected).max())
    return {**result, "status": "imports", "kind": type(net).__name__, "nodes": len(net), "error": error,
            "seconds": time.perf_counter() - start}


def run(name: str, timeout: float) -> dict:
    try:
        done = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"model": name, "status": "timeout"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"model": name, "status": "crashed", "error": last}
    return json.loads(lines[-1])


def short(message: str) -> str:
    """``fx node 12 'mul' (function mul): unsupported function ...`` → ``function mul`` and the reason, for a table cell."""
    found = re.match(r"fx node \d+ '([^']*)' \((.*?)\): (.*)", message)
    if not found:
        return message.split(";")[0].replace("|", "\\|")[:120]
    node, what, reason = found.groups()
    reason = reason.split(";")[0]
    reason = re.sub(r"^unsupported (module|function|tensor method) ", "unsupported ", reason)
    return f"`{what}` at `{node}`: {reason}".replace("|", "\\|")[:160]


def row(result: dict, timeout: float) -> str:
    name, status = result["model"], result["status"]
    size = f"{result['size']}×{result['size']}" if "size" in result else ""
    if status == "imports":
        kind = "chain" if result["kind"] == "Sequential" else "graph"
        return f"| {name} | yes ({kind}, {result['nodes']} nodes) | {size} | | {result['error']:.1e} |"
    if status == "refused":
        return f"| {name} | no | {size} | {short(result['error'])} | |"
    if status == "skipped":
        budget = f"{result['parameters'] / 1e6:.0f} M parameters: above this table's budget of {MAX_PARAMETERS / 1e6:.0f} M"
        return f"| {name} | not tried | {size} | {budget} | |"
    if status == "timeout":
        return f"| {name} | not tried | | building, importing and running took more than {timeout:.0f} s | |"
    return f"| {name} | error | | {result['error']} | |"


def table(results, timeout) -> str:
    imported = sum(r["status"] == "imports" for r in results)
    head = (f"{imported} of {len(results)} classification models import (torchvision "
            f"{__import__('torchvision').__version__}, generated by `benchmarks/torchvision_import_table.py`; float64, "
            f"batch of 2, `weights=None`, seeded).")
    lines = [head, "",
             "| model | imports | input | first unsupported operation | forward error (relative) |",
             "|---|---|---|---|---|"]
    return "\n".join(lines + [row(r, timeout) for r in results])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per model (default 90)")
    parser.add_argument("--only", help="comma-separated model names (default: every classification model)")
    parser.add_argument("--no-write", action="store_true", help="print the table without writing docs/interop.md")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    import torchvision

    names = args.only.split(",") if args.only else torchvision.models.list_models(module=torchvision.models)
    results = []
    for name in names:
        results.append(run(name, args.timeout))
        print(row(results[-1], args.timeout), flush=True)
    text = table(results, args.timeout)
    if not args.no_write:
        page = DOC.read_text(encoding="utf-8")
        if START not in page or END not in page:
            raise SystemExit(f"{DOC}: the markers {START} and {END} are missing")
        before, rest = page.split(START, 1)
        DOC.write_text(before + START + "\n" + text + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
