"""Time bow.explain against the pipeline's own decision_function on 256 x 256 and 512 x 512 images.

Model: dense HOG (16 px patches every 4 px, scales 1 and 2: 4 562 local features on a
256 x 256 image), soft coding on 256 words, L1, SVC trained on 64 x 64 crops of
scikit-image's grass and gravel (a few hundred support vectors), with the histogram-intersection
kernel (exact rule; target: explanation <= 1.5 x decision_function), scikit-learn's
``chi2_kernel`` and ``SVC(kernel="rbf" | "poly" | "sigmoid")`` (the default expansion for non-decomposable kernels,
integrated gradients from the empty histogram; target <= 3 x). Both timings run in this process
on the same image, after one warm-up call each (the warm-up compiles/loads the numba kernel of
layer 1), alternating call by call; the figures are the medians of the repeats. Run it on an
otherwise idle machine: timings taken while other jobs run are not comparable.

``--conservation`` prints instead, for each kernel type, the largest ledger residual of
every step over 20 LFW test images (faces vs non-faces), the end-to-end error
:math:`|f - \\sum_q R_q|` and, for the Taylor rule, the remainder relative to :math:`|f|`.

Run:  python benchmarks/bench_bow.py [--repeats 20] [--sizes 256 512] [--conservation]
"""

import argparse
import platform
import time

import numpy as np
from skimage import data
from skimage.util import img_as_float
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import chi2_kernel
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVC, LinearSVC

from lrpref import bow


def training_set(n_per_class=200, size=64, seed=0):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(("grass", "gravel")):
        texture = img_as_float(getattr(data, name)())
        for _ in range(n_per_class):
            r, c = rng.integers(0, 512 - size, size=2)
            images.append(texture[r:r + size, c:c + size])
            labels.append(label)
    return images, np.array(labels)


def median_times(functions, repeats):
    """Median wall time of each function; the calls alternate so that load changes hit all alike."""
    for function in functions:
        function()  # warm-up
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, samples in zip(functions, times):
            start = time.perf_counter()
            function()
            samples.append(time.perf_counter() - start)
    return [float(np.median(samples)) for samples in times]


def fit(kernel, images, labels):
    bag = bow.BagOfWords(bow.DenseFeatures("hog", patch=16, step=4, scales=(1, 2)),
                         bow.SoftCoding(n_words=256, codebook="minibatch", random_state=0), random_state=0)
    return make_pipeline(bag, SVC(kernel=kernel, C=1.0)).fit(images, labels)


def run(name, model, image, repeats, target):
    n_features = len(model[0].local_features(image))
    n_support = len(model[-1].support_)
    predict, explain = median_times([lambda: model.decision_function([image]),
                                     lambda: bow.explain(model, image, target=1)], repeats)
    ex = bow.explain(model, image, target=1)
    ratio = explain / predict
    print(f"{name:24s} {image.shape[0]}x{image.shape[1]}  features {n_features}  support vectors {n_support}  "
          f"decision_function {predict * 1e3:7.1f} ms  explain {explain * 1e3:7.1f} ms  ratio {ratio:4.2f} "
          f"(target <= {target}: {'met' if ratio <= target else 'NOT met'})  ledger residual "
          f"{ex.ledger.max_residual():.1e}")


def conservation():
    faces = data.lfw_subset()
    labels = np.r_[np.ones(100, int), np.zeros(100, int)]
    order = np.random.default_rng(0).permutation(200)
    train, test = list(faces[order[:140]]), faces[order[140:160]]
    hog = bow.DenseFeatures("hog", patch=8, step=4, scales=(1, 2))

    def bag(coder=None, normalize="l1"):
        return bow.BagOfWords(hog, coder or bow.SoftCoding(n_words=48, random_state=0), normalize=normalize,
                              random_state=0)

    union = FeatureUnion([("soft", bag()), ("hard", bag(bow.HardCoding(n_words=32, random_state=0)))])
    models = {
        "linear (SVC kernel='linear')": make_pipeline(bag(), SVC(kernel="linear")),
        "histogram intersection": make_pipeline(bag(), SVC(kernel=bow.kernels.histogram_intersection)),
        "chi2 2ab/(a+b)": make_pipeline(bag(), SVC(kernel=bow.kernels.chi2)),
        "hellinger": make_pipeline(bag(), SVC(kernel=bow.kernels.hellinger)),
        "precomputed HIK": make_pipeline(bag(), bow.KernelMatrix(bow.kernels.histogram_intersection),
                                         SVC(kernel="precomputed")),
        "LinearSVC": make_pipeline(bag(), LinearSVC()),
        "LogisticRegression": make_pipeline(bag(), LogisticRegression()),
        "MKL HIK + chi2": make_pipeline(union, SVC(kernel=bow.kernels.Sum(
            [(bow.kernels.histogram_intersection, 1.0), (bow.kernels.chi2, 1.0)], [48, 32]))),
        "LLC (signed) + linear": make_pipeline(bag(bow.LLCCoding(n_words=48, random_state=0), "l2"), SVC(kernel="linear")),
        "RBF (Taylor, line)": make_pipeline(bag(), SVC(kernel="rbf", gamma=5.0)),
        "RBF (integrated, empty)": make_pipeline(bag(), SVC(kernel="rbf", gamma=5.0)),
        "exp-chi2 (Taylor, line)": make_pipeline(bag(), SVC(kernel=bow.kernels.ExpChi2(gamma=2.0))),
        "exp-chi2 (Taylor, refine=3)": make_pipeline(bag(), SVC(kernel=bow.kernels.ExpChi2(gamma=2.0))),
        "exp-chi2 (integrated, empty)": make_pipeline(bag(), SVC(kernel=bow.kernels.ExpChi2(gamma=2.0))),
        "Normalizer + chi2_kernel": make_pipeline(bag(normalize="none"), Normalizer("l1"), SVC(kernel=chi2_kernel)),
        "StandardScaler + linear": make_pipeline(bag(), StandardScaler(), SVC(kernel="linear")),
    }
    print("max |residual| per ledger step over 20 images; end to end |f - sum R1 - absorbed| (default bias='histogram');"
          " Taylor: |remainder| / |f|")
    for name, model in models.items():
        model.fit(train, labels[order[:140]])
        options = dict(refine=3 if "refine" in name else 0)
        if "Taylor" in name:
            options.update(layer3="taylor", root="line")
        explanations = [bow.explain(model, image, target=1, **options) for image in test]
        steps = {}
        for ex in explanations:
            for row in ex.ledger:
                key = row.name.split(":")[0].split(" [")[0]
                steps[key] = max(steps.get(key, 0.0), float(np.abs(row.residual).max()))
        end_to_end = max(abs(ex.f - ex.pixels.sum() - sum(v[0] for row in ex.ledger for v in row.absorbed.values()))
                         for ex in explanations)
        cells = "  ".join(f"{step} {value:.1e}" for step, value in steps.items())
        line = f"{name:30s} {cells}  |f - sum R1 - absorbed| {end_to_end:.1e}"
        if explanations[0].taylor is not None:
            relative = [abs(ex.taylor.residual) / abs(ex.f) for ex in explanations]
            line += f"  remainder/|f| median {np.median(relative):.2g} max {np.max(relative):.2g}"
        stabiliser = max(abs(row.absorbed.get("stabiliser", [0.0])[0]) for ex in explanations for row in ex.ledger)
        if stabiliser:
            line += f"  stabiliser {stabiliser:.1e}"
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--conservation", action="store_true", help="print the conservation table instead")
    args = parser.parse_args()
    if args.conservation:
        return conservation()
    images, labels = training_set()
    grass, gravel = img_as_float(data.grass()), img_as_float(data.gravel())
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    models = [("histogram intersection", fit(bow.kernels.histogram_intersection, images, labels), 1.5),
              ("chi2_kernel", fit(chi2_kernel, images, labels), 3.0), ("rbf", fit("rbf", images, labels), 3.0),
              ("poly", fit("poly", images, labels), 3.0), ("sigmoid", fit("sigmoid", images, labels), 3.0)]
    for size in args.sizes:
        image = grass[:size, :size].copy()
        image[size // 4:size // 2, size // 4:size // 2] = gravel[200:200 + size // 4, 200:200 + size // 4]
        for name, model, target in models:
            run(name, model, image, args.repeats, target)


if __name__ == "__main__":
    main()
