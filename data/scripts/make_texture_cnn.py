"""Train the bundled texture CNN and write data/texture_cnn.npz (run from anywhere; needs PyTorch).

Data: scikit-image's three 512×512 grey textures brick, grass and gravel
(``lrpref.datasets.TEXTURES``), values in [0, 1], as 64×64 crops of shape (1, 64, 64).
Training crops come from the **left** half of each texture (columns 0–255), test tiles
(``lrpref.datasets.texture_split()``, 32 per texture) and the composites of
``lrpref.datasets.texture_composites`` from the **right** half, so no test pixel was seen in
training. Each epoch draws ``CROPS`` random crops per texture (uniform corners, random
horizontal / vertical flips) from a NumPy generator seeded with ``SEED``.

Network (NCHW, PyTorch layouts, converted 1:1 to lrpref layers)::

    Conv2d(1→8, 5×5, padding 2) · ReLU · MaxPool2d(2)       64×64 → 32×32
    Conv2d(8→16, 3×3, padding 1) · ReLU · MaxPool2d(2)      32×32 → 16×16
    Conv2d(16→16, 3×3, padding 1) · ReLU · MaxPool2d(2)     16×16 → 8×8
    AdaptiveAvgPool2d(1) · Flatten · Dense(16→3)

Global average pooling makes each class score a mean of local evidence, so a patch of a
texture raises that texture's score wherever it is pasted: the localisation test of the
demo (``benchmarks/localisation.py``) asks whether an explanation finds the patch.

Training: PyTorch (a dev-only dependency) in **float64**, one thread,
``torch.use_deterministic_algorithms(True)``, seed ``SEED`` for the initial weights; Adam
(lr 3e-3, weight decay 1e-4), batch 32, ``EPOCHS`` epochs, cross-entropy.

Reproduction: the same torch version on the same kind of CPU gives the same weights bit for
bit; elsewhere every weight is expected within ``TOLERANCE`` (absolute) of the bundled file
and the test predictions identical. ``--check`` retrains and compares with
data/texture_cnn.npz instead of writing it.

    python data/scripts/make_texture_cnn.py [--check]
"""

import sys
from pathlib import Path

import numpy as np

import torch_trained

import lrpref as lr
from lrpref._progress import progress
from lrpref.datasets import TEXTURES, texture_split

OUT = Path(__file__).resolve().parents[1] / "texture_cnn.npz"  # data/texture_cnn.npz
TOLERANCE = 1e-6  # largest |weight difference| accepted by --check
SEED, EPOCHS, CROPS, SIZE, BATCH, LEARNING_RATE, WEIGHT_DECAY = 0, 12, 256, 64, 32, 3e-3, 1e-4


def training_crops(rng) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's ``(images (3 CROPS, 1, SIZE, SIZE), labels)``: random flipped crops of the left halves."""
    from skimage import data
    from skimage.util import img_as_float

    images, labels = [], []
    for label, name in enumerate(TEXTURES):
        texture = img_as_float(getattr(data, name)())[:, :256]
        for _ in range(CROPS):
            r, c = rng.integers(0, 512 - SIZE + 1), rng.integers(0, 256 - SIZE + 1)
            crop = texture[r:r + SIZE, c:c + SIZE]
            crop = crop[::-1] if rng.random() < 0.5 else crop
            crop = crop[:, ::-1] if rng.random() < 0.5 else crop
            images.append(crop)
            labels.append(label)
    return np.ascontiguousarray(np.array(images)[:, None]), np.array(labels)


def test_set() -> tuple[np.ndarray, np.ndarray]:
    """``texture_split()``'s test tiles as ``(images (96, 1, 64, 64), class indices)``."""
    _, x_test, _, y_test = texture_split(SIZE)
    return np.ascontiguousarray(x_test[:, None]), np.array([TEXTURES.index(name) for name in y_test])


def train():
    """``(net, meta)``: the trained network as lrpref layers and its description."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, len(TEXTURES)),
    ).double()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    rng = np.random.default_rng(SEED)
    for _ in progress(range(EPOCHS), "epochs"):
        inputs, labels = training_crops(rng)
        inputs, labels = torch.from_numpy(inputs), torch.from_numpy(labels)
        for batch in torch.from_numpy(rng.permutation(len(inputs))).split(BATCH):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimiser.step()

    params = [p.detach().numpy().copy() for p in model.parameters()]
    net = lr.Sequential([
        lr.Conv2d(params[0], params[1], padding=2), lr.ReLU(), lr.MaxPool2d(2),
        lr.Conv2d(params[2], params[3], padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.Conv2d(params[4], params[5], padding=1), lr.ReLU(), lr.MaxPool2d(2),
        lr.AdaptiveAvgPool2d(1), lr.Flatten(), lr.Dense(params[6], params[7]),
    ])
    x_test, y_test = test_set()
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(x_test)).numpy()
    logits = net(x_test)
    assert np.allclose(logits, torch_logits, rtol=1e-10, atol=1e-10), "lrpref and torch disagree on the test set"
    meta = {
        "name": "texture-cnn",
        "input": "64x64 grey crop of brick, grass or gravel, values in [0, 1], shape (1, 64, 64)",
        "classes": list(TEXTURES),
        "test_accuracy": float(np.mean(logits.argmax(1) == y_test)),
        "split": "training crops from the left halves (columns 0-255), test tiles texture_split() from the right halves",
        "training": f"PyTorch float64, Adam lr {LEARNING_RATE} weight decay {WEIGHT_DECAY}, batch {BATCH}, "
                    f"{EPOCHS} epochs of {CROPS} random flipped crops per texture, seed {SEED}, 1 thread, "
                    f"deterministic algorithms",
        "made_by": "data/scripts/make_texture_cnn.py",
        "torch": torch.__version__,
        "tolerance": TOLERANCE,
    }
    return net, meta


def check() -> tuple[float, float, float]:
    """Retrain; ``(largest weight difference, recorded accuracy, retrained accuracy)``."""
    return torch_trained.check(train, OUT)


if __name__ == "__main__":
    sys.exit(torch_trained.main(train, OUT, TOLERANCE, __doc__.splitlines()[0]))
