"""Command line: ``lrpref demo``, ``lrpref explain [--steps]``, ``lrpref verify`` (docs/verify.md) and ``lrpref conformance`` (docs/conformance.md).

Every user error — a missing or malformed file, an unknown model or rule, an index out of
range, an unwritable output path — ends the command with exit code 2 and **one line** on
stderr, ``lrpref COMMAND: what is wrong``; never a traceback (set ``LRPREF_TRACEBACK=1`` to see
one when debugging lrpref itself). Outputs are checked before the
work starts. ``verify`` and ``conformance check`` exit 1 when the result disagrees.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from . import presets
from .explain import explain

BUNDLED = ("digits_mlp", "digits_cnn", "texture_cnn")
DIGITS = ("digits_mlp", "digits_cnn")


class UserError(ValueError):
    """A mistake in the command line or its files, reported as one line."""


# Errors a user can cause with a command line or a file (FileFormatError is a ValueError, BadZipFile and
# EOFError come from truncated archives, KeyError from archives without an expected entry).
_USER_ERRORS = (OSError, ValueError, TypeError, IndexError, KeyError, EOFError, zipfile.BadZipFile)


def _one_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and error.args:
        text = f"missing entry {error.args[0]!r}"
    return " ".join(text.split())


# --------------------------------------------------------------------------- files


def _format(value: float, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals, never ``-0.0000``."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.lstrip("-").strip("0.") == "" and text.startswith("-") else text


def _load_array(path: str, what: str) -> np.ndarray:
    """An array from ``.npy``, or from an ``.npz`` holding one array (or one named ``x``); never pickles."""
    if not Path(path).is_file():
        raise UserError(f"{what} {path}: no such file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise UserError(f"{what} {path}: not a numeric NumPy .npy / .npz file ({_one_line(error)})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = loaded.files
        if len(names) != 1 and "x" not in names:
            raise UserError(f"{what} {path}: an .npz must hold one array (or one named 'x'); it holds {', '.join(names)}")
        return loaded["x" if "x" in names else names[0]]


def _load_model(name: str):
    """``(network, class names or None)``: a bundled model by name, a saved ``.npz`` (:mod:`lrpref.serialize`)
    or, when ``lrpref.io`` is there, an ``.onnx`` file."""
    if name in BUNDLED:
        from .datasets import load_network

        net, meta = load_network(name)
        return net, [str(c) for c in meta["classes"]]
    if not name.lower().endswith((".npz", ".onnx")):
        raise UserError(f"unknown model {name!r}: give a bundled model ({', '.join(BUNDLED)}) or a saved .npz / .onnx file")
    if not Path(name).is_file():
        raise UserError(f"model {name}: no such file")
    if name.lower().endswith(".onnx"):
        try:
            from .io import from_onnx
        except ImportError as error:
            raise UserError(f"{name}: reading ONNX models needs lrpref.io.from_onnx, which this installation lacks "
                            f"({error})") from None
        return from_onnx(name), None
    from .serialize import load

    try:
        return load(name)[0], None
    except _USER_ERRORS as error:
        text = _one_line(error)
        raise UserError(text if name in text else f"model {name}: not a readable lrpref network file ({text})") from None


def _writable(path: str, option: str) -> Path:
    """``path`` as the ``.npy`` file ``np.save`` will write, checked writable before any work."""
    target = Path(path if path.endswith(".npy") else path + ".npy")
    folder = target.parent
    if target.is_dir():
        raise UserError(f"{option} {path}: is a folder, not a file name")
    if not folder.is_dir():
        raise UserError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UserError(f"{option} {path}: not writable")
    return target


def _writable_folder(path: str, option: str) -> Path:
    """``path`` as a folder that exists or can be made, checked before any work."""
    out = Path(path)
    existing = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise UserError(f"{option} {path}: cannot write there ({existing} is not a writable folder)")
    return out


# --------------------------------------------------------------------------- commands


def demo(args) -> int:
    """Explain, score and report on the bundled models (lrpref.demo); prints where the report is."""
    from .demo import MAX_COUNT, MIN_COUNT, run

    if not MIN_COUNT <= args.count <= MAX_COUNT:
        raise UserError(f"--count must be between {MIN_COUNT} and {MAX_COUNT} (a confidence interval needs two images; "
                        f"there are {MAX_COUNT} test digits), got {args.count}")
    run(_writable_folder(args.out, "--out"), count=args.count)
    return 0


def _input_batch(args, classes):
    """The batch to explain: ``--input x.npy|x.npz``, ``--digit D`` (the first test digit showing D) or
    ``--index K`` (position K of the bundled model's test split)."""
    given = [option for option in ("input", "digit", "index") if getattr(args, option) is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --input x.npy, --digit D (the first test image of digit D) and --index K "
                        "(test image K), the last two for a bundled model")
    if args.input is not None:
        return _load_array(args.input, "--input")
    if args.model not in BUNDLED:
        raise UserError(f"--{given[0]} needs a bundled model ({', '.join(BUNDLED)}); give --input for {args.model}")
    if args.model in DIGITS:
        from .datasets import digits_split

        _, x_test, _, labels = digits_split()
        x_test = x_test.reshape(-1, 1, 8, 8) if args.model == "digits_cnn" else x_test
    else:
        from .datasets import TEXTURES, texture_split

        _, x_test, _, names = texture_split()
        x_test, labels = x_test[:, None], np.array([TEXTURES.index(name) for name in names])
    if args.digit is not None:
        if args.model not in DIGITS:
            raise UserError(f"--digit is for the digits models; {args.model} classifies {', '.join(classes)}: use --index")
        if not 0 <= args.digit <= 9:
            raise UserError(f"--digit must be a digit 0..9, got {args.digit} (--index K picks test image K)")
        position = int(np.flatnonzero(labels == args.digit)[0])
    else:
        if not 0 <= args.index < len(x_test):
            raise UserError(f"--index must be between 0 and {len(x_test) - 1} (the test images of {args.model}), "
                            f"got {args.index}")
        position = args.index
    return x_test[position:position + 1]


def _class(k: int, classes) -> str:
    return f"{k} ({classes[k]})" if classes is not None and str(classes[k]) != str(k) else str(k)


def _scores_line(n, output, target, classes) -> str:
    names = classes if classes is not None and len(classes) == len(output) else [str(k) for k in range(len(output))]
    predicted = int(np.argmax(output))
    logits = ", ".join(f"{name}: {_format(float(v))}" for name, v in zip(names, output))
    return (f"sample {n}: target {_class(int(target), classes)}, predicted {_class(predicted, classes)}; "
            f"scores {logits}")


def explain_command(args) -> int:
    """Explain a batch: per sample the target and the scores, then the conservation ledger of ``--sample``
    (with ``--steps`` the teaching trace of that sample instead)."""
    if args.max_size < 0:
        raise UserError(f"--max-size must be 0 (no limit) or positive, got {args.max_size}")
    save = _writable(args.save, "--save") if args.save else None
    if args.html and not args.steps:
        raise UserError("--html writes the step-through lesson of --steps: give both")
    html = _writable_folder(args.html, "--html") if args.html else None
    net, classes = _load_model(args.model)
    x = _input_batch(args, classes)
    x = x.astype(net.dtype) if net.dtype is not None and x.dtype.kind in "iub" else x
    if x.ndim < 2:
        raise UserError(f"the input must be a batch (N, ...), got shape {x.shape}")
    if not -len(x) <= args.sample < len(x):
        raise UserError(f"--sample {args.sample} is out of range: the batch holds {len(x)} sample(s)")
    if args.method == "lrp":
        ex = explain(net, x, args.target, presets.composite(args.rule, args.convention), keep_messages=args.steps)
    else:
        ex = explain(net, x, args.target, method=args.method, keep_messages=args.steps)
    targets = np.broadcast_to(np.asarray(ex.target if ex.target is not None else np.argmax(ex.output, 1)), (len(x),))
    from .trace import trace

    print(f"{ex.description} on {args.model}, {len(x)} sample{'s' if len(x) > 1 else ''}")
    for n in range(len(x)):
        print(_scores_line(n, ex.output[n], targets[n], classes))
    sample = args.sample % len(x)
    if args.steps:
        print()
        print(trace(ex, sample, args.max_size or sys.maxsize))
        if html is not None:
            print(f"\nlesson written to {ex.steps(sample, args.max_size or sys.maxsize, html=html)}")
    else:
        print(f"\nconservation ledger of sample {sample}" + (" (another: --sample K)" if len(x) > 1 else ""))
        print(ex.conservation.sample(sample))
    if save is not None:
        np.save(save, ex.relevance, allow_pickle=False)
        print(f"input relevance saved to {save}")
    return 0


def conformance(args) -> int:
    """``export``: write the kit; ``check``: print the report, exit 1 when a case fails (2 for malformed input)."""
    from . import conformance as kit

    if args.action == "export":
        manifest = kit.export(args.directory, cases=args.cases, peers=() if args.no_peers else "auto")
        count = len(kit.read_manifest(args.directory)["cases"])
        print(f"wrote {count} conformance case{'s' if count != 1 else ''} to {args.directory} ({manifest.name}, manifest.schema.json, "
              f"networks/, cases/)")
        return 0
    report = kit.check(args.directory, args.results, rtol=args.rtol, atol=args.atol, allow_missing=args.allow_missing)
    print(report)
    return 0 if report.ok else 1


def _load_candidate(path: str):
    """An ``.npy`` array (the input relevance) or an ``.npz`` of per-layer arrays named ``k`` or ``layer<k>``."""
    if not path.lower().endswith(".npz"):
        return _load_array(path, "--candidate")
    if not Path(path).is_file():
        raise UserError(f"--candidate {path}: no such file")
    with np.load(path, allow_pickle=False) as archive:
        layers = {}
        for name in archive.files:
            index = name.removeprefix("layer")
            if not index.isdigit():
                raise UserError(f"--candidate {path}: array {name!r} is not named k or layer<k> (k a layer index)")
            layers[int(index)] = archive[name]
        return layers


def verify_command(args) -> int:
    from .verify import verify

    net, _ = _load_model(args.model)
    x = _load_array(args.input, "--input")
    candidate = _load_candidate(args.candidate)
    try:
        target = None if args.target is None else [int(t) for t in args.target.split(",")]
    except ValueError:
        raise UserError(f"--target must be a class index or indices separated by commas, got {args.target!r}") from None
    if target is not None and len(target) == 1:
        target = target[0]
    report = verify(candidate, net, x, target, args.rule, args.convention, quirks=args.quirks,
                    reference=args.reference, tolerance=args.tolerance)
    print(report)
    return 0 if report.agrees else 1


# --------------------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line on stderr (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lrpref", description="Layer-wise Relevance Propagation, reference implementation.")
    commands = parser.add_subparsers(dest="command", required=True)
    models = ", ".join(BUNDLED)
    demo_parser = commands.add_parser("demo", help="explain, score and report on the bundled models (HTML report)")
    demo_parser.add_argument("--out", default="lrpref-demo", help="folder of the report (default ./lrpref-demo)")
    demo_parser.add_argument("--count", type=int, default=120,
                             help="test digits scored by region perturbation and texture composites localised (120)")
    explain_parser = commands.add_parser("explain", help="explain an input; --steps prints every number, layer by layer")
    explain_parser.add_argument("--model", required=True, help=f"a bundled model ({models}), a saved lrpref .npz or an .onnx")
    explain_parser.add_argument("--input", help="the input batch (N, ...): .npy, or .npz holding one array")
    explain_parser.add_argument("--digit", type=int, help="instead of --input: the first test image of digit D (0..9), "
                                                          "for the bundled digits models")
    explain_parser.add_argument("--index", type=int, help="instead of --input: test image K of the bundled model's split")
    explain_parser.add_argument("--rule", default="epsilon:0.25", help="for --method lrp: e.g. lrp0, epsilon:0.25, "
                                "gamma:0.25, alpha2beta1, zplus, zbox:0,1/epsilon:0.25 (first layer/others)")
    explain_parser.add_argument("--convention", default=None, help="whose convention the rule follows (presets.CONVENTIONS)")
    explain_parser.add_argument("--method", default="lrp", help="lrp (default), deeplift, lid-taylor, lid-ig, ig, ...")
    explain_parser.add_argument("--target", type=int, default=None, help="class to explain (default: the arg-max)")
    explain_parser.add_argument("--steps", action="store_true",
                                help="print the teaching trace of --sample: every number (z, stabiliser, s, c, R, ...)")
    explain_parser.add_argument("--max-size", type=int, default=256, metavar="N",
                                help="with --steps: print arrays of up to N numbers in full (larger ones as size, sum, "
                                     "min, max) and message matrices of up to N rows and columns; 0 prints everything "
                                     "(default 256: every number of the digits MLP)")
    explain_parser.add_argument("--html", metavar="DIR", help="with --steps: also write the trace as a step-through page "
                                "DIR/index.html (next / previous, the formulas beside the numbers)")
    explain_parser.add_argument("--sample", type=int, default=0, help="which sample's ledger (or trace) to print (0)")
    explain_parser.add_argument("--save", help="save the input relevance to this .npy file")
    kit_parser = commands.add_parser("conformance", help="write the conformance kit, or score another implementation")
    actions = kit_parser.add_subparsers(dest="action", required=True)
    export_parser = actions.add_parser("export", help="write the kit (manifest.json, networks/, cases/) to DIR")
    export_parser.add_argument("directory", metavar="DIR")
    export_parser.add_argument("--no-peers", action="store_true",
                               help="do not run zennit/captum to label the cases (faster; their labels then say they were not run)")
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
    verify_parser.add_argument("--model", required=True,
                               help=f"the network: a bundled model ({models}), an lrpref .npz (lrpref.serialize) or .onnx")
    verify_parser.add_argument("--input", required=True, help="the input batch x (N, ...): .npy, or .npz holding one array")
    verify_parser.add_argument("--candidate", required=True,
                               help="the relevance to check: .npy shaped like x, or .npz of arrays named k or layer<k> "
                                    "(the relevance at the input of layer k; a chain only)")
    verify_parser.add_argument("--rule", required=True,
                               help="e.g. epsilon:0.25, gamma:0.25, alpha2beta1, zplus, zbox:-1,1, w2, flat, lrp0, "
                                    "zbox:-1,1/epsilon:0.25 (first layer/others), deeplift, ig:50, or a zennit composite by name: "
                                    "EpsilonPlusFlat, EpsilonGammaBox:-1,1, ...")
    verify_parser.add_argument("--convention", default=None,
                               choices=["textbook", "zennit", "captum", "innvestigate", "toolbox"],
                               help="whose convention the rule follows (default: lrpref's textbook formulas)")
    verify_parser.add_argument("--quirks", action="store_true", help="reproduce the convention's known bugs")
    verify_parser.add_argument("--target", default=None, help="class index, or one per sample separated by commas "
                                                               "(default: each sample's arg-max)")
    verify_parser.add_argument("--reference", type=float, default=None, help="reference value for deeplift/ig (default 0)")
    verify_parser.add_argument("--tolerance", type=float, default=1e-10, help="relative error that still agrees (1e-10)")
    return parser


COMMANDS = {"demo": demo, "explain": explain_command, "conformance": conformance, "verify": verify_command}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    name = args.command + (f" {args.action}" if args.command == "conformance" else "")
    from .conformance import ConformanceError

    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # the reader went away (`lrpref explain ... --steps | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 1
    except (*_USER_ERRORS, ConformanceError) as error:
        if os.environ.get("LRPREF_TRACEBACK"):  # for debugging lrpref itself
            raise
        print(f"lrpref {name}: {_one_line(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
