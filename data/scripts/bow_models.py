"""The bundled bag-of-words models: their definitions and what make_bow_texture.py / make_bow_faces.py do.

:func:`texture` and :func:`faces` build, train and describe each model (the scripts'
docstrings explain the choices). A model is stored by :func:`lrpref.bow.save` as
``data/bow_<name>.npz`` (arrays plus a JSON description of the estimators, no pickles) and
described in ``data/bow_<name>.json`` (classes, test accuracy, versions, how it was made), which
:func:`lrpref.datasets.load_bow` reads back.

Reproduction: training is deterministic (fixed ``random_state`` everywhere), so the same
scikit-learn / NumPy versions give the same arrays bit for bit; elsewhere the decision values
on the test split are expected within ``TOLERANCE`` (absolute) of the bundled model's and the
test predictions identical. ``--check`` retrains and compares instead of writing.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import skimage
import sklearn
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from lrpref import bow
from lrpref.datasets import faces_split, texture_split

DATA = Path(__file__).resolve().parents[1]  # data/
TOLERANCE = 1e-9  # largest |decision value difference| on the test split accepted by --check


def fit(model, split, name, description, split_description):
    """Fit ``model`` on ``split = (x_train, x_test, y_train, y_test)``; ``(model, meta, split)``."""
    x_train, x_test, y_train, y_test = split
    model.fit(list(x_train), y_train)
    meta = {
        "name": f"bow-{name}", "description": description,
        "classes": [c.item() if hasattr(c, "item") else c for c in model.classes_],
        "n_train": len(x_train), "n_test": len(x_test),
        "test_accuracy": float(np.mean(model.predict(list(x_test)) == y_test)),
        "made_by": f"data/scripts/make_bow_{name}.py", "scikit-learn": sklearn.__version__,
        "numpy": np.__version__, "scikit-image": skimage.__version__, "tolerance": TOLERANCE,
        "split": split_description,
    }
    return model, meta, split


def texture():
    """The texture model, trained: ``(model, meta, split)``."""
    bag = bow.BagOfWords(bow.DenseFeatures("hog", patch=16, step=4, scales=(1, 2)),
                         bow.SoftCoding(n_words=128, k_nearest=5, random_state=0), random_state=0)
    model = make_pipeline(bag, OneVsRestClassifier(SVC(kernel=bow.kernels.histogram_intersection, C=10.0)))
    return fit(model, texture_split(), "texture",
               "dense HOG 16/4 (scales 1, 2), soft coding on 128 words (5 nearest), mean pooling, L1; "
               "one-vs-rest SVC, histogram intersection, C=10",
               "lrpref.datasets.texture_split(): 64x64 tiles, train = left halves, test = right halves")


def faces():
    """The face / non-face model, trained: ``(model, meta, split)``."""
    bag = bow.BagOfWords(bow.DenseFeatures("hog", patch=8, step=4, scales=(1, 2)),
                         bow.SoftCoding(n_words=48, random_state=0), random_state=0)
    model = make_pipeline(bag, SVC(kernel=bow.kernels.histogram_intersection, C=10.0))
    return fit(model, faces_split(), "faces",
               "dense HOG 8/4 (scales 1, 2), soft coding on 48 words, mean pooling, L1; "
               "SVC, histogram intersection, C=10; label 1 = face",
               "lrpref.datasets.faces_split(): lfw_subset, permutation default_rng(0), 140 train / 60 test")


TRAIN = {"texture": texture, "faces": faces}


def write(model, meta, name):
    bow.save(model, DATA / f"bow_{name}.npz")
    (DATA / f"bow_{name}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote data/bow_{name}.npz and .json (test accuracy {meta['test_accuracy']:.4f})")


def check(model, meta, name, x_test) -> float:
    """Largest |decision value difference| between ``model`` and the bundled one on ``x_test``; prints a summary."""
    bundled = bow.load(DATA / f"bow_{name}.npz")
    recorded = json.loads((DATA / f"bow_{name}.json").read_text(encoding="utf-8"))
    mine, theirs = model.decision_function(list(x_test)), bundled.decision_function(list(x_test))
    difference = float(np.max(np.abs(mine - theirs)))
    same = np.array_equal(model.predict(list(x_test)), bundled.predict(list(x_test)))
    print(f"bow_{name}: largest |decision value difference| {difference:.3e} (tolerance {TOLERANCE:g}); "
          f"test predictions {'identical' if same else 'DIFFER'}; test accuracy {meta['test_accuracy']:.4f} "
          f"(recorded {recorded['test_accuracy']:.4f})")
    return difference if same else np.inf


def main(name, doc, argv=None) -> int:
    """Command line of the script of model ``name``: train and write it, or ``--check`` it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare with the bundled model")
    args = parser.parse_args(argv)
    model, meta, split = TRAIN[name]()
    if args.check:
        return 0 if check(model, meta, name, split[1]) <= TOLERANCE else 1
    write(model, meta, name)
    return 0
