"""Train the bundled digits CNN and write data/digits_cnn.npz (run from anywhere; needs PyTorch).

Data: scikit-learn's digits at their **native 8×8** resolution, pixel values / 16 in [0, 1],
shape (1, 8, 8), split by ``lrpref.datasets.digits_split()`` (the MLP's split). Why not
up-sampled to 28×28: the digits were recorded as 8×8 block counts, so an up-sampled image
only adds interpolated pixels that carry no information while multiplying the input size by
12; at 8×8 every input relevance is a real measured pixel, the model stays a few kB, and
explaining it (explicit message matrices included) is fast enough for tests and docs.

Network (NCHW, PyTorch layouts, converted 1:1 to lrpref layers)::

    Conv2d(1→16, 3×3, padding 1) · ReLU · MaxPool2d(2)      8×8 → 4×4
    Conv2d(16→32, 3×3, padding 1) · ReLU · MaxPool2d(2)     4×4 → 2×2
    Flatten · Dense(128→64) · ReLU · Dense(64→10)

Training: PyTorch (a dev-only dependency, the ``bench`` extra) in **float64**, one thread,
``torch.use_deterministic_algorithms(True)``, seed 0 for the initial weights and for the
mini-batch order; Adam (lr 3e-3, weight decay 1e-4), batch 32, 60 epochs, cross-entropy.

Reproduction: the same torch version on the same kind of CPU gives the same weights bit for
bit; elsewhere every weight is expected within ``TOLERANCE`` (absolute) of the bundled file
and the test predictions identical. ``--check`` retrains and compares with data/digits_cnn.npz
instead of writing it. The file is written in lrpref's checksummed network format
(:mod:`lrpref.serialize`). The bundled weights were trained with torch 2.13.0; when the format
gained its checksums they were converted (loaded and re-saved, weights unchanged bit for bit)
rather than retrained: torch 2.14.1 reproduces them only to 1.04e-8 (``--check`` passes).

    python data/scripts/make_digits_cnn.py [--check]
"""

import sys
from pathlib import Path

import numpy as np

import torch_trained

import lrpref as lr
from lrpref._progress import progress
from lrpref.datasets import digits_split

OUT = Path(__file__).resolve().parents[1] / "digits_cnn.npz"  # data/digits_cnn.npz
TOLERANCE = 1e-6  # largest |weight difference| accepted by --check
SEED, EPOCHS, BATCH, LEARNING_RATE, WEIGHT_DECAY = 0, 60, 32, 3e-3, 1e-4


def images(x):
    """Flat digits (N, 64) as images (N, 1, 8, 8)."""
    return np.ascontiguousarray(x.reshape(-1, 1, 8, 8))


def train():
    """``(net, meta)``: the trained network as lrpref layers and its description."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    x_train, x_test, y_train, y_test = digits_split()
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    ).double()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    inputs, labels = torch.from_numpy(images(x_train)), torch.from_numpy(y_train)
    order = torch.Generator().manual_seed(SEED)
    for _ in progress(range(EPOCHS), "epochs"):
        for batch in torch.randperm(len(inputs), generator=order).split(BATCH):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimiser.step()

    params = [p.detach().numpy().copy() for p in model.parameters()]
    net = lr.Sequential([
        lr.Conv2d(params[0], params[1], padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.Conv2d(params[2], params[3], padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.Flatten(), lr.Dense(params[4], params[5]), lr.ReLU(), lr.Dense(params[6], params[7]),
    ])
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(images(x_test))).numpy()
    logits = net(images(x_test))
    assert np.allclose(logits, torch_logits, rtol=1e-10, atol=1e-10), "lrpref and torch disagree on the test set"
    meta = {
        "name": "digits-cnn",
        "input": "8x8 digit, pixel values / 16 in [0, 1], shape (1, 8, 8): digits_split() rows reshaped (-1, 1, 8, 8)",
        "classes": list(range(10)),
        "test_accuracy": float(np.mean(logits.argmax(1) == y_test)),
        "split": "train_test_split(test_size=0.25, random_state=0, stratify=y)",
        "training": f"PyTorch float64, Adam lr {LEARNING_RATE} weight decay {WEIGHT_DECAY}, batch {BATCH}, "
                    f"{EPOCHS} epochs, seed {SEED}, 1 thread, deterministic algorithms",
        "made_by": "data/scripts/make_digits_cnn.py",
        "torch": torch.__version__,
        "tolerance": TOLERANCE,
    }
    return net, meta


def check() -> tuple[float, float, float]:
    """Retrain; ``(largest weight difference, recorded accuracy, retrained accuracy)``."""
    return torch_trained.check(train, OUT)


if __name__ == "__main__":
    sys.exit(torch_trained.main(train, OUT, TOLERANCE, __doc__.splitlines()[0]))
