"""Properties of the peers' variants: captum's DeepLIFT cross-maximum keeps summation-to-delta and its messages
balance; a given quadrature reproduces a named one."""

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from random_networks import networks

import lrpref as lr


@settings(max_examples=30)
@given(data=st.data())
def test_captum_deeplift_sums_to_delta(data):
    """Σ R = f_c(x) − f_c(x̂) with any reference (unequal windows too), and identity 1 at every layer."""
    net, x = data.draw(networks(activations=("relu", "tanh"), pooling=("max",)))
    reference = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).normal(size=x.shape)
    ex = lr.explain(net, x, method="deeplift", convention="captum", reference=reference)
    delta = (net(x) - net(reference))[np.arange(len(x)), ex.target]
    scale = 1 + np.abs(ex.relevance).reshape(len(x), -1).sum(1)
    assert np.all(np.abs(ex.relevance.reshape(len(x), -1).sum(1) - delta) <= 1e-9 * scale)
    for record in ex.layers:
        M = record.messages(0)
        M = M.toarray() if sp.issparse(M) else np.asarray(M)
        np.testing.assert_allclose(M.sum(axis=0), record.relevance_in[0].ravel(), rtol=0, atol=1e-10 * (1 + np.abs(M).max()))


@settings(max_examples=20)
@given(data=st.data(), steps=st.integers(1, 12), rule=st.sampled_from(["right", "left", "midpoint", "gauss-legendre"]))
def test_given_quadrature_equals_named(data, steps, rule):
    net, x = data.draw(networks(pooling=()))
    points, weights = lr.paths.quadrature(steps, rule)
    named = lr.explain(net, x, method="ig", steps=steps, riemann=rule).relevance
    given_ = lr.explain(net, x, method="ig", steps=steps, riemann=(points, weights)).relevance
    np.testing.assert_array_equal(named, given_)
