"""What the scripts that train a network with PyTorch share: ``--check`` (retrain and compare) and writing the file.

``main(train, out, tolerance)``: ``train()`` returns ``(net, meta)`` with ``meta["test_accuracy"]``;
without ``--check`` the network is written to ``out`` (:func:`lrpref.serialize.save`); with it,
the network is retrained and compared with ``out``: exit code 0 when every weight is within
``tolerance`` and the test accuracy is the recorded one.
"""

import argparse

import numpy as np

from lrpref import serialize


def compare(net, bundled) -> float:
    """Largest absolute difference between the parameters of two networks of the same architecture."""
    largest = 0.0
    for mine, theirs in zip(net, bundled):
        for name in ("W", "bias"):
            if getattr(mine, name, None) is not None:
                largest = max(largest, float(np.max(np.abs(getattr(mine, name) - getattr(theirs, name)))))
    return largest


def check(train, out) -> tuple[float, float, float]:
    """Retrain; ``(largest weight difference, recorded accuracy, retrained accuracy)``."""
    net, meta = train()
    bundled, recorded = serialize.load(out)
    return compare(net, bundled), recorded["test_accuracy"], meta["test_accuracy"]


def main(train, out, tolerance, description, argv=None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="retrain and compare with the bundled file")
    args = parser.parse_args(argv)
    if args.check:
        difference, recorded, accuracy = check(train, out)
        print(f"largest |weight difference| {difference:.3e} (tolerance {tolerance:g}); "
              f"test accuracy {accuracy:.4f} (recorded {recorded:.4f})")
        return 0 if difference <= tolerance and accuracy == recorded else 1
    net, meta = train()
    path = serialize.save(net, out, meta=meta)
    print(f"wrote {path} (test accuracy {meta['test_accuracy']:.4f})")
    return 0
