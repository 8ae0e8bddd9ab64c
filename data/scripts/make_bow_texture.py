"""Train the bundled texture model and write data/bow_texture.npz + .json (run from anywhere).

Data: ``lrpref.datasets.texture_split()`` — 64×64 tiles of scikit-image's brick, grass and
gravel (grey, [0, 1]); 32 training tiles per texture from the left halves, 32 test tiles from
the right halves.

Model (defined in ``bow_models.texture``): dense HOG features (16-pixel patches every 4
pixels at scales 1 and 2), soft coding on 128 k-means words (5 nearest), mean pooling, L1
normalisation, then one histogram-intersection SVM per texture
(``OneVsRestClassifier(SVC(kernel=bow.kernels.histogram_intersection, C=10))``); every
``random_state`` is 0. It is the model of ``tests/bow/test_bow_end_to_end.py`` with 128
words instead of 64 and C=10 instead of 1, which raise the test accuracy from 0.875 (grass
and gravel confused) to 0.99.

Same scikit-learn and NumPy: the same model bit for bit; ``--check`` retrains and compares
(tolerances in ``bow_models.py``).

    python data/scripts/make_bow_texture.py [--check]
"""

import sys

import bow_models

if __name__ == "__main__":
    sys.exit(bow_models.main("texture", __doc__))
