"""Localisation benchmark of lrpref.bow: does relevance for a texture land on a pasted patch of it?

Data (offline, scikit-image's own textures): for each ordered pair (patch texture, background
texture) of brick / grass / gravel, a binary classifier "patch texture vs background texture" is
trained on 64 x 64 crops of the left halves (40 per class). Test images are 128 x 128 crops of
the background's right half with one square patch of the other texture (right half) pasted at
a random place, side 32-64 pixels (random). The explained class is the patch texture.

Model: dense HOG (16 px patches every 4 px, scales 1 and 2), a k-means codebook of 64 words,
hard or soft (5 nearest) coding, mean pooling (= L1 for these codes); one SVC (C=10) per kernel,
with scikit-learn's default kernel parameters where it has them. Every explanation goes through
:func:`lrpref.bow.explain_histogram` on the same codes and supports.

Reported per kernel x coding x layer-3 option (decomposable kernels: the exact rule; the others:
Taylor or integrated gradients, each from the line-search root of Bach et al. 2015, the
nearest root along the gradient, or the empty histogram), over all test images of all pairs:

* ``inside``: share of the positive pixel relevance inside the patch (mean; the patch covers
  ``area`` of the image on average);
* ``AUC``: area under the ROC curve of pixel relevance separating patch pixels from the rest
  (mean and minimum over the images);
* ``|residual|``: the largest ledger residual (round-off if the books close);
* ``|remainder|/|f|``: the largest unexplained part of layer 3 (Taylor remainder, quadrature
  error, root value, or the bias no dimension received), relative to :math:`|f|`;
* ``acc``: test accuracy of the classifier on 64 x 64 crops of the right halves.

Run:  python benchmarks/bow_localisation.py [--images 6] [--seed 0]   (a few minutes on 2 cores)
"""

import argparse
import functools
import itertools

import numpy as np
from skimage import data
from skimage.util import img_as_float
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel
from sklearn.svm import SVC

from lrpref import bow

TEXTURES = ("brick", "grass", "gravel")
KERNELS = {
    "linear": (lambda: SVC(kernel="linear", C=10.0), True),
    "histogram intersection": (lambda: SVC(kernel=bow.kernels.histogram_intersection, C=10.0), True),
    "chi2 2ab/(a+b)": (lambda: SVC(kernel=bow.kernels.chi2, C=10.0), True),
    "hellinger": (lambda: SVC(kernel=bow.kernels.hellinger, C=10.0), True),
    "additive_chi2_kernel": (lambda: SVC(kernel=additive_chi2_kernel, C=10.0), True),
    "rbf (gamma=scale)": (lambda: SVC(kernel="rbf", C=10.0), False),
    "chi2_kernel (exp, gamma=1)": (lambda: SVC(kernel=chi2_kernel, C=10.0), False),
    "poly (degree 3, gamma=scale)": (lambda: SVC(kernel="poly", C=10.0), False),
    "sigmoid (gamma=scale)": (lambda: SVC(kernel="sigmoid", C=10.0), False),
}
OPTIONS_DECOMPOSABLE = [("decompose", "-")]
OPTIONS_OTHER = [(layer3, root) for layer3 in ("taylor", "integrated") for root in ("line", "gradient", "empty")]


@functools.cache
def texture(name):
    return img_as_float(getattr(data, name)())


def crops(name, half, n, size, rng):
    image = texture(name)
    c_low, c_high = (0, 256 - size) if half == "left" else (256, 512 - size)
    return [image[r:r + size, c:c + size] for r, c in zip(rng.integers(0, 512 - size, n),
                                                            rng.integers(c_low, c_high + 1, n))]


def composite(patch_name, background_name, rng, size=128):
    image = crops(background_name, "right", 1, size, rng)[0].copy()
    side = int(rng.integers(32, 65))
    patch = crops(patch_name, "right", 1, side, rng)[0]
    r0, c0 = rng.integers(0, size - side + 1, size=2)
    image[r0:r0 + side, c0:c0 + side] = patch
    mask = np.zeros(image.shape, bool)
    mask[r0:r0 + side, c0:c0 + side] = True
    return image, mask


def coders():
    return {"hard": bow.HardCoding(64, random_state=0), "soft": bow.SoftCoding(64, k_nearest=5, random_state=0)}


def run(n_images, seed):
    rng = np.random.default_rng(seed)
    results = {}
    accuracy = {}
    for patch_name, background_name in itertools.permutations(TEXTURES, 2):
        train = crops(patch_name, "left", 40, 64, rng) + crops(background_name, "left", 40, 64, rng)
        labels = np.r_[np.ones(40, int), np.zeros(40, int)]
        held_out = crops(patch_name, "right", 20, 64, rng) + crops(background_name, "right", 20, 64, rng)
        held_labels = np.r_[np.ones(20, int), np.zeros(20, int)]
        tests = [composite(patch_name, background_name, rng) for _ in range(n_images)]
        for coding, coder in coders().items():
            bag = bow.BagOfWords(bow.DenseFeatures("hog", patch=16, step=4, scales=(1, 2)), coder, pooling=1.0,
                                 normalize="none", random_state=0).fit(train, labels)
            train_bow, held_bow = bag.training_bow_, bag.transform(held_out)
            locals_ = [bag.local_features(image) for image, _ in tests]
            codes = [bag.encode(local) for local in locals_]
            for kernel_name, (make, decomposable) in KERNELS.items():
                svc = make().fit(train_bow, labels)
                accuracy.setdefault((kernel_name, coding), []).append(np.mean(svc.predict(held_bow) == held_labels))
                for layer3, root in OPTIONS_DECOMPOSABLE if decomposable else OPTIONS_OTHER:
                    row = results.setdefault((kernel_name, coding, layer3, root), [])
                    for (image, mask), local, code in zip(tests, locals_, codes):
                        ex = bow.explain_histogram(svc, code, local.supports, target=1, pooling=1.0,
                                                   training_bow=train_bow, layer3=layer3,
                                                   root=root if root != "-" else "line")
                        positive = np.maximum(ex.pixels, 0)
                        top = ex.ledger[0]
                        unexplained = sum(abs(v[0]) for v in top.absorbed.values())
                        row.append((positive[mask].sum() / max(positive.sum(), 1e-300),
                                    roc_auc_score(mask.ravel(), ex.pixels.ravel()), ex.ledger.max_residual(),
                                    unexplained / max(abs(ex.f), 1e-300), mask.mean(),
                                    f"{patch_name} in {background_name}"))
    return results, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6, help="test images per texture pair (6 pairs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results, accuracy = run(args.images, args.seed)
    print("| kernel | coding | layer 3 | root | images | inside (mean) | AUC mean | AUC min | max \\|residual\\| "
          "| max \\|remainder\\|/\\|f\\| | acc |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (kernel_name, coding, layer3, root), rows in results.items():
        rows = np.array([r[:5] for r in rows], dtype=float)
        print(f"| {kernel_name} | {coding} | {layer3} | {root} | {len(rows)} | {rows[:, 0].mean():.3f} | "
              f"{rows[:, 1].mean():.3f} | {rows[:, 1].min():.3f} | {rows[:, 2].max():.1e} | {rows[:, 3].max():.1e} | "
              f"{np.mean(accuracy[(kernel_name, coding)]):.3f} |")
    area = np.mean([r[4] for rows in results.values() for r in rows])
    print(f"\nmean patch area: {area:.3f} of the image")
    pairs = list(dict.fromkeys(r[5] for rows in results.values() for r in rows))
    print("\nmean AUC per texture pair, default options (exact rule; integrated gradients from the empty histogram)\n")
    print("| kernel | coding | " + " | ".join(pairs) + " |")
    print("|---|---|" + "---:|" * len(pairs))
    for (kernel_name, coding, layer3, root), rows in results.items():
        if root in ("-", "empty") and layer3 in ("decompose", "integrated"):
            cells = [np.mean([r[1] for r in rows if r[5] == pair]) for pair in pairs]
            print(f"| {kernel_name} | {coding} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
