"""Small models for the evaluation tests: linear scores whose perturbation curves are known in closed form."""

import numpy as np


class Linear:
    """``f(x) = (w·x, −w·x)`` for images ``x`` of ``w``'s shape: two classes, class 0 scores ``w·x``.

    With the replacement 0 the exact explanation of class 0 is ``R = w ⊙ x`` and removing a set
    of pixels lowers ``f_0`` by exactly their summed relevance. ``calls`` records each batch size.
    """

    def __init__(self, w):
        self.w = np.asarray(w, dtype=np.float64)
        self.calls = []

    def __call__(self, x):
        self.calls.append(len(x))
        z = (x.reshape(len(x), -1) * self.w.reshape(1, -1)).sum(axis=1)
        return np.stack([z, -z], axis=1)

    def relevance(self, x):
        return self.w * x


def softmax0(z):
    """Probability of class 0 for the scores ``(z, −z)``: ``1 / (1 + exp(−2z))``."""
    return 1.0 / (1.0 + np.exp(-2.0 * np.asarray(z, dtype=np.float64)))
