"""Command line: ``lrpref demo``, ``lrpref verify`` (docs/verify.md) and ``lrpref conformance`` (docs/conformance.md)."""

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


def _load_model(path: str):
    """An lrpref network from its saved ``.npz`` (:mod:`lrpref.serialize`) or, when ``lrpref.io`` is there, ``.onnx``."""
    if path.lower().endswith(".onnx"):
        try:
            from .io import from_onnx
        except ImportError as error:
            raise ValueError(f"{path}: reading ONNX models needs lrpref.io.from_onnx, which this installation lacks ({error})") from None
        return from_onnx(path)
    from .serialize import load

    return load(path)[0]


def _load_candidate(path: str):
    """An ``.npy`` array (the input relevance) or an ``.npz`` of per-layer arrays named ``k`` or ``layer<k>``."""
    with open(path, "rb"):
        pass  # a missing file raises here with its name
    if path.lower().endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            return {int(name.removeprefix("layer")): archive[name] for name in archive.files}
    return np.load(path, allow_pickle=False)


def verify_command(args) -> int:
    from .verify import verify

    try:
        net = _load_model(args.model)
        x = np.load(args.input, allow_pickle=False)
        candidate = _load_candidate(args.candidate)
        target = None if args.target is None else [int(t) for t in args.target.split(",")]
        if target is not None and len(target) == 1:
            target = target[0]
        report = verify(candidate, net, x, target, args.rule, args.convention, quirks=args.quirks,
                        reference=args.reference, tolerance=args.tolerance)
    except (OSError, ValueError, TypeError, IndexError) as error:
        print(f"lrpref verify: {error}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.agrees else 1


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
    verify_parser = commands.add_parser(
        "verify", help="compare a relevance array from another implementation with lrpref's; exit 0 if it agrees, 1 if not")
    verify_parser.add_argument("--model", required=True, help="the network: lrpref .npz (lrpref.serialize) or .onnx")
    verify_parser.add_argument("--input", required=True, help="the input batch x, .npy (N, ...)")
    verify_parser.add_argument("--candidate", required=True,
                               help="the relevance to check: .npy shaped like x, or .npz of arrays named k or layer<k> "
                                    "(the relevance at the input of layer k)")
    verify_parser.add_argument("--rule", required=True,
                               help="e.g. epsilon:0.25, gamma:0.25, alpha2beta1, zplus, zbox:-1,1, w2, flat, lrp0, "
                                    "zbox:-1,1/epsilon:0.25 (first layer/others), deeplift, ig:50")
    verify_parser.add_argument("--convention", default=None,
                               choices=["textbook", "zennit", "captum", "innvestigate", "toolbox"],
                               help="whose convention the rule follows (default: lrpref's textbook formulas)")
    verify_parser.add_argument("--quirks", action="store_true", help="reproduce the convention's known bugs")
    verify_parser.add_argument("--target", default=None, help="class index, or one per sample separated by commas "
                                                               "(default: each sample's arg-max)")
    verify_parser.add_argument("--reference", type=float, default=None, help="reference value for deeplift/ig (default 0)")
    verify_parser.add_argument("--tolerance", type=float, default=1e-10, help="relative error that still agrees (1e-10)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.sample)
    if args.command == "conformance":
        return conformance(args)
    if args.command == "verify":
        return verify_command(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
