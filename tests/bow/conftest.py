"""Fitted models shared by the bag-of-words tests (built once per session)."""

import pytest
from bow_helpers import blob_images, fit_model
from sklearn.svm import SVC

from lrpref import bow


@pytest.fixture(scope="session")
def training_data():
    return blob_images()


@pytest.fixture(scope="session")
def test_images():
    return blob_images(n_per_class=3, seed=1)[0]


@pytest.fixture(scope="session")
def hik_model():
    return fit_model()


@pytest.fixture(scope="session")
def hard_model():
    return fit_model(coder=bow.HardCoding(n_words=24, random_state=0))


@pytest.fixture(scope="session")
def expchi2_model():
    return fit_model(classifier=SVC(kernel=bow.kernels.ExpChi2(gamma=2.0), C=10.0))
