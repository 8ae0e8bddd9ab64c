"""Small synthetic image sets and model builders shared by the bag-of-words tests."""

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from lrpref import bow


def blob_images(n_per_class=16, seed=0, sizes=(20, 24, 28)):
    """Class 1: a bright square on noise; class 0: noise with vertical stripes. Sizes vary."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for k in range(2 * n_per_class):
        size = sizes[k % len(sizes)]
        image = 0.3 + 0.05 * rng.standard_normal((size, size))
        if k % 2:
            r, c = rng.integers(0, size - 8, size=2)
            image[r:r + 8, c:c + 8] += 0.5
        else:
            image[:, ::4] += 0.2
        images.append(np.clip(image, 0, 1))
        labels.append(k % 2)
    return images, np.array(labels)


FEATURES = dict(descriptor="hog", patch=8, step=2, scales=(1, 2))


def fit_model(coder=None, classifier=None, pooling=1.0, normalize="l1", features=None, seed=0):
    """A pipeline BagOfWords(HOG 8/2, scales 1,2) + classifier fitted on :func:`blob_images`."""
    images, labels = blob_images(seed=seed)
    bag = bow.BagOfWords(features or bow.DenseFeatures(**FEATURES),
                         coder=coder or bow.SoftCoding(n_words=16, random_state=0),
                         pooling=pooling, normalize=normalize, random_state=0)
    model = make_pipeline(bag, classifier or SVC(kernel=bow.kernels.histogram_intersection, C=10.0))
    return model.fit(images, labels)
