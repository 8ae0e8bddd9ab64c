"""Command line: ``lrpref demo``, ``lrpref explain [--steps]``, ``lrpref verify`` (docs/verify.md) and ``lrpref conformance`` (docs/conformance.md)."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import presets
from .explain import explain


def demo(out: str, count: int) -> int:
    """Explain, score and report on the bundled models (lrpref.demo); prints where the report is."""
    from .demo import run

    if count < 1:
        print("--count must be at least 1", file=sys.stderr)
        return 2
    run(out, count=count)
    return 0


def _input_batch(args):
    """The batch to explain: ``--input x.npy`` (allow_pickle=False), or ``--digit K`` of a bundled digits model."""
    if (args.input is None) == (args.digit is None):
        raise ValueError("give exactly one of --input x.npy and --digit K (a test digit, for the bundled digits models)")
    if args.input is not None:
        return np.load(args.input, allow_pickle=False)
    if args.model not in BUNDLED:
        raise ValueError("--digit needs a bundled digits model: --model digits_mlp or --model digits_cnn")
    from .datasets import digits_split

    x_test = digits_split()[1]
    if not 0 <= args.digit < len(x_test):
        raise ValueError(f"--digit must be between 0 and {len(x_test) - 1}")
    x = x_test[args.digit:args.digit + 1]
    return x.reshape(1, 1, 8, 8) if args.model == "digits_cnn" else x


def explain_command(args) -> int:
    """Explain one input and print the conservation ledger, and with ``--steps`` the teaching trace."""
    try:
        net = _load_model(args.model)
        x = _input_batch(args)
        x = x.astype(net.dtype) if net.dtype is not None and x.dtype.kind in "iu" else x
        if args.method == "lrp":
            ex = explain(net, x, args.target, presets.composite(args.rule, args.convention), keep_messages=args.steps)
        else:
            ex = explain(net, x, args.target, method=args.method, keep_messages=args.steps)
    except (OSError, ValueError, TypeError, IndexError) as error:
        print(f"lrpref explain: {error}", file=sys.stderr)
        return 2
    print(f"{ex.description}: output {np.array2string(ex.output[0], precision=4)}, target {ex.target}")
    if args.steps:
        ex.steps(args.sample)
    else:
        print(ex.conservation)
    if args.save:
        np.save(args.save, ex.relevance, allow_pickle=False)
        print(f"input relevance saved to {args.save}")
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


BUNDLED = ("digits_mlp", "digits_cnn")


def _load_model(path: str):
    """An lrpref network: a bundled one by name (``digits_mlp``, ``digits_cnn``), a saved ``.npz``
    (:mod:`lrpref.serialize`) or, when ``lrpref.io`` is there, ``.onnx``."""
    if path in BUNDLED:
        from .datasets import load_network

        return load_network(path)[0]
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
    demo_parser = commands.add_parser("demo", help="explain, score and report on the bundled models (HTML report)")
    demo_parser.add_argument("--out", default="lrpref-demo", help="folder of the report (default ./lrpref-demo)")
    demo_parser.add_argument("--count", type=int, default=120, help="test digits scored by region perturbation (120)")
    explain_parser = commands.add_parser("explain", help="explain an input; --steps prints every number, layer by layer")
    explain_parser.add_argument("--model", required=True, help="digits_mlp, digits_cnn, a saved lrpref .npz or an .onnx")
    explain_parser.add_argument("--input", help="the input batch, .npy (N, ...)")
    explain_parser.add_argument("--digit", type=int, help="instead of --input: test digit K of the bundled digits split")
    explain_parser.add_argument("--rule", default="epsilon:0.25", help="for --method lrp: e.g. lrp0, epsilon:0.25, "
                                "gamma:0.25, alpha2beta1, zplus, zbox:0,1/epsilon:0.25 (first layer/others)")
    explain_parser.add_argument("--convention", default=None, help="whose convention the rule follows (presets.CONVENTIONS)")
    explain_parser.add_argument("--method", default="lrp", help="lrp (default), deeplift, lid-taylor, lid-ig, ig, ...")
    explain_parser.add_argument("--target", type=int, default=None, help="class to explain (default: the arg-max)")
    explain_parser.add_argument("--steps", action="store_true", help="print the teaching trace (z, stabiliser, s, c, R, ...)")
    explain_parser.add_argument("--sample", type=int, default=0, help="which sample of the batch --steps traces")
    explain_parser.add_argument("--save", help="save the input relevance to this .npy file")
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
        return demo(args.out, args.count)
    if args.command == "explain":
        return explain_command(args)
    if args.command == "conformance":
        return conformance(args)
    if args.command == "verify":
        return verify_command(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
