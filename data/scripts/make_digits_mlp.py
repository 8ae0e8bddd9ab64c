"""Train the bundled digits MLP and write data/digits_mlp.npz (run from the repository root).

scikit-learn's digits (8×8 grey images, 1797 samples, values 0..16 scaled to [0, 1]), split
with ``train_test_split(test_size=0.25, random_state=0, stratify=y)``; an ``MLPClassifier``
64-32-10 with ReLU (``random_state=0``), exported to lrpref's network format (a checksummed ``.npz``, :mod:`lrpref.serialize`).
Deterministic: the same scikit-learn version gives the same weights bit for bit. ``--check``
retrains and compares with data/digits_mlp.npz instead of writing it.

    python data/scripts/make_digits_mlp.py [--check]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import sklearn
from sklearn.neural_network import MLPClassifier

import lrpref as lr
from lrpref import serialize
from lrpref.datasets import digits_split

OUT = Path(__file__).resolve().parents[1] / "digits_mlp.npz"  # data/digits_mlp.npz


def train():
    """``(net, meta)``: the trained MLP as lrpref layers and its description."""
    x_train, x_test, y_train, y_test = digits_split()
    mlp = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600, random_state=0).fit(x_train, y_train)
    net = lr.Sequential([lr.Dense(mlp.coefs_[0].T, mlp.intercepts_[0]), lr.ReLU(),
                         lr.Dense(mlp.coefs_[1].T, mlp.intercepts_[1])])
    accuracy = float(np.mean(net(x_test).argmax(1) == y_test))
    assert np.array_equal(net(x_test).argmax(1), mlp.predict(x_test))
    return net, {
        "name": "digits-mlp", "input": "8x8 digit, pixel values / 16 in [0, 1], flattened row-major (64)",
        "classes": list(range(10)), "test_accuracy": accuracy, "split": "train_test_split(test_size=0.25, random_state=0, stratify=y)",
        "made_by": "data/scripts/make_digits_mlp.py", "scikit-learn": sklearn.__version__,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare with the bundled file")
    args = parser.parse_args(argv)
    net, meta = train()
    if args.check:
        bundled, recorded = serialize.load(OUT)
        same = all(np.array_equal(mine.W, theirs.W) and np.array_equal(mine.bias, theirs.bias)
                   for mine, theirs in zip(net, bundled) if isinstance(mine, lr.Dense))
        print(f"weights {'identical' if same else 'DIFFERENT'} (scikit-learn {meta['scikit-learn']}, recorded "
              f"{recorded['scikit-learn']}); test accuracy {meta['test_accuracy']:.4f} (recorded {recorded['test_accuracy']:.4f})")
        return 0 if same and meta["test_accuracy"] == recorded["test_accuracy"] else 1
    path = serialize.save(net, OUT, meta=meta)
    print(f"wrote {path} (test accuracy {meta['test_accuracy']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
