"""Time bow.explain against the pipeline's own decision_function on one 256 x 256 image.

Model: dense HOG (16 px patches every 4 px, scales 1 and 2: 4 562 local features on a
256 x 256 image), soft coding on 256 words, L1, SVC with the histogram-intersection kernel
trained on 64 x 64 crops of scikit-image's grass and gravel (a few hundred support vectors).
Both timings run in this process on the same image, after one warm-up call each (the
warm-up compiles/loads the numba kernel of layer 1); the figure is the median of the
repeats. A second line does the same for the exponential chi2 kernel (Taylor rule).

Run:  python benchmarks/bench_bow.py [--repeats 20]
"""

import argparse
import platform
import time

import numpy as np
from skimage import data
from skimage.util import img_as_float
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

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


def median_time(function, repeats):
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(kernel, images, labels, image, repeats):
    bag = bow.BagOfWords(bow.DenseFeatures("hog", patch=16, step=4, scales=(1, 2)),
                         bow.SoftCoding(n_words=256, codebook="minibatch", random_state=0), random_state=0)
    model = make_pipeline(bag, SVC(kernel=kernel, C=1.0)).fit(images, labels)
    n_features = len(bag.local_features(image))
    n_support = len(model[-1].support_)
    predict = median_time(lambda: model.decision_function([image]), repeats)
    explain = median_time(lambda: bow.explain(model, image, target=1), repeats)
    ex = bow.explain(model, image, target=1)
    print(f"{kernel!r:28s} features {n_features}  words {bag.n_features_out_}  support vectors {n_support}  "
          f"decision_function {predict * 1e3:7.1f} ms  explain {explain * 1e3:7.1f} ms  "
          f"ratio {explain / predict:4.2f}  |f - sum R1| {abs(ex.f - ex.pixels.sum()):.1e}")
    return explain / predict


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    images, labels = training_set()
    grass, gravel = img_as_float(data.grass()), img_as_float(data.gravel())
    image = grass[128:384, 128:384].copy()
    image[64:192, 64:192] = gravel[200:328, 200:328]
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    ratio = run(bow.kernels.histogram_intersection, images, labels, image, args.repeats)
    run(bow.kernels.ExpChi2(gamma=1.0), images, labels, image, args.repeats)
    print(f"target: explanation <= 1.5 x prediction (histogram intersection): {'met' if ratio <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
