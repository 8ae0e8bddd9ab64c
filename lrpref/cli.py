"""Command line: ``lrpref demo``, ``lrpref conformance export DIR``, ``lrpref conformance check DIR --results RESULTS``."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import presets
from .explain import explain
from .rules import Epsilon


def _text_image(values: np.ndarray, signed: bool) -> list[str]:
    """An 8×8 map as text: ``#``/``+`` strong/weak positive, ``=``/``-`` strong/weak negative (5 % / 35 % of the max)."""
    scale = np.abs(values).max() or 1.0
    rows = []
    for row in values / scale:
        cells = []
        for v in row:
            if abs(v) < 0.05:
                cells.append(" .")
            elif v > 0:
                cells.append(" #" if v > 0.35 else " +")
            else:
                cells.append(" =" if v < -0.35 else " -")
        rows.append("".join(cells) if signed else "".join(" #" if v > 0.35 else " +" if v > 0.05 else " ." for v in row))
    return rows


def demo(sample: int = 0) -> int:
    from .datasets import digits_split, load_network

    net, meta = load_network("digits_mlp")
    _, x_test, _, y_test = digits_split()
    if not 0 <= sample < len(x_test):
        print(f"--sample must be between 0 and {len(x_test) - 1}", file=sys.stderr)
        return 2
    x = x_test[sample:sample + 1]
    print(f"lrpref demo: the bundled {meta['name']} (test accuracy {meta['test_accuracy']:.1%}), made by {meta['made_by']}")
    print(net.summary(x.shape[1:]))
    logits = net(x)[0]
    print(f"\ntest sample {sample}: label {y_test[sample]}, predicted {logits.argmax()} (logit {logits.max():.4f})")
    for rule in (Epsilon(0.25), presets.Montavon2019(low=0.0, high=1.0)):
        ex = explain(net, x, rule=rule)
        relevance = ex.relevance[0].reshape(8, 8)
        print(f"\n== {ex.description}: sum of input relevance {relevance.sum():.6f} of logit {logits.max():.6f}")
        print(ex.conservation.sample(0))
        print("\n   digit              relevance (# + positive, = - negative)")
        for left, right in zip(_text_image(x[0].reshape(8, 8), False), _text_image(relevance, True)):
            print(f"  {left}   {right}")
    return 0


def conformance(args) -> int:
    """``export``: write the kit; ``check``: print the report, exit 1 when a case fails (2 for malformed input)."""
    from . import conformance as kit

    try:
        if args.action == "export":
            manifest = kit.export(args.directory, cases=args.cases)
            count = len(kit.read_manifest(args.directory)["cases"])
            print(f"wrote {count} conformance cases to {args.directory} ({manifest.name}, manifest.schema.json, "
                  f"networks/, cases/)")
            return 0
        report = kit.check(args.directory, args.results, rtol=args.rtol, atol=args.atol, allow_missing=args.allow_missing)
    except (kit.ConformanceError, ValueError) as error:
        print(f"lrpref conformance {args.action}: {error}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lrpref", description="Layer-wise Relevance Propagation, reference implementation.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="explain a bundled digits model and print the conservation ledger")
    demo_parser.add_argument("--sample", type=int, default=0, help="index in the test split (default 0)")
    kit_parser = commands.add_parser("conformance", help="write the conformance kit, or score another implementation")
    actions = kit_parser.add_subparsers(dest="action", required=True)
    export_parser = actions.add_parser("export", help="write the kit (manifest.json, networks/, cases/) to DIR")
    export_parser.add_argument("directory", metavar="DIR")
    export_parser.add_argument("--case", dest="cases", action="append", metavar="ID",
                               help="export only this case (repeatable; default: all)")
    check_parser = actions.add_parser("check", help="score RESULTS against the kit in DIR; exit 1 if a case fails")
    check_parser.add_argument("directory", metavar="DIR")
    check_parser.add_argument("--results", required=True, metavar="RESULTS",
                              help="a folder of <case id>.npz files, or one .npz of <case id>/relevance.<k> arrays")
    check_parser.add_argument("--rtol", type=float, help="relative tolerance for every case (default: the manifest's)")
    check_parser.add_argument("--atol", type=float, help="absolute tolerance for every case (default: the manifest's)")
    check_parser.add_argument("--allow-missing", action="store_true", help="cases without results do not fail the check")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.sample)
    if args.command == "conformance":
        return conformance(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
