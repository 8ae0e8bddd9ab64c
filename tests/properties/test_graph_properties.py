"""Properties of explanations on random graphs (residual sums, concatenations, fan-out): conservation per node and
through every branch, explicit = fast, LRP-0 = gradient × input on ReLU graphs, invariance to the node order, and a
chain built as a Graph equal to the same Sequential."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from random_graphs import build, graphs, topological_orders
from random_networks import networks

import lrpref as lr

RULES = [lr.LRP0(), lr.Epsilon(0.1), lr.Epsilon(0.05, sign="unsigned"), lr.AlphaBeta(2, 1), lr.ZPlus(mode="products"),
         lr.Gamma(0.25, mode="generalised"), lr.Flat()]
ADD_RULES = [None, lr.SumSplit("proportional"), lr.SumSplit("equal"), lr.SumSplit("absolute", 0.0), lr.LRP0()]


def sums(a):
    return a.reshape(len(a), -1).sum(1)


def scale_of(ex):
    """The size of the numbers in an explanation: round-off is relative to it."""
    largest = max(np.abs(r).max() for record in ex.layers for r in record.relevance_edges)
    return max(np.abs(ex.top).sum(), largest, 1.0)


def composite(rule, add_rule):
    return lr.Composite(default=rule, types={} if add_rule is None else {lr.Add: add_rule})


@given(data=st.data(), rule=st.sampled_from(RULES), add_rule=st.sampled_from(ADD_RULES))
def test_conservation_per_node_and_through_every_branch(data, rule, add_rule):
    """Every ledger row balances, every tensor's relevance is what its consumers sent, and top = input + absorbed."""
    net, x, _ = data.draw(graphs())
    ex = lr.explain(net, x, rule=composite(rule, add_rule))
    scale = scale_of(ex)
    assert ex.conservation.max_residual() <= 1e-12 * scale
    for t in range(len(net) + 1):
        if t == len(net):
            continue
        sent = sum(ex.layers[k].relevance_edges[e] for k, e in net.consumers[t])
        np.testing.assert_allclose(sent, ex.tensor_relevance(t), rtol=0, atol=1e-12 * scale)
    absorbed = sum(sums(record.absorbed.total) for record in ex.layers)
    np.testing.assert_allclose(sums(ex.top), sums(ex.relevance) + absorbed, rtol=0, atol=1e-11 * scale)


@given(data=st.data(), rule=st.sampled_from(RULES), add_rule=st.sampled_from(ADD_RULES))
def test_explicit_equals_fast_on_graphs(data, rule, add_rule):
    net, x, _ = data.draw(graphs())
    fast = lr.explain(net, x, rule=composite(rule, add_rule), keep_messages=True)
    explicit = lr.explain(net, x, rule=composite(rule, add_rule), path="explicit")
    scale = scale_of(fast)
    for a, b in zip(fast.layers, explicit.layers):
        for r_fast, r_explicit in zip(a.relevance_edges, b.relevance_edges):
            np.testing.assert_allclose(r_fast, r_explicit, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(fast.relevance, explicit.relevance, rtol=0, atol=1e-12 * scale)
    record = fast.layers[data.draw(st.integers(0, len(net) - 1))]
    matrices = record.messages(0)
    matrices = matrices if isinstance(matrices, tuple) else (matrices,)
    for M, r in zip(matrices, record.relevance_edges):  # column sums are each edge's relevance
        np.testing.assert_allclose(np.asarray(M.sum(axis=0)).ravel(), r[0].ravel(), rtol=0, atol=1e-12 * scale)
    rows = sum(np.asarray(M.sum(axis=1)).ravel() for M in matrices)  # rows of all edges + absorbed = R_out
    np.testing.assert_allclose(rows + record.absorbed.total[0].ravel(), record.relevance_out[0].ravel(), rtol=0,
                               atol=1e-12 * scale)


@given(data=st.data())
def test_lrp0_is_gradient_times_input_on_relu_graphs(data):
    """LRP-0 (also on the sums) equals gradient × input at every tensor of a ReLU graph."""
    net, x, _ = data.draw(graphs(activations=("relu",), batchnorm=True))
    lrp0 = lr.explain(net, x, rule=lr.Composite(default=lr.LRP0(), types={lr.Add: lr.LRP0()}))
    gxi = lr.explain(net, x, method="gradient-x-input")
    scale = scale_of(lrp0)
    for t in range(len(net)):
        np.testing.assert_allclose(lrp0.tensor_relevance(t), gxi.tensor_relevance(t), rtol=0, atol=1e-11 * scale)


@given(data=st.data(), method=st.sampled_from(["lrp", "deeplift", "lid-ig", "ig", "gradient-x-input"]))
def test_invariant_to_the_order_of_the_nodes(data, method):
    """The same graph built in another topological order explains identically, node by node (matched by name)."""
    net, x, recipe = data.draw(graphs(activations=("relu", "tanh")))
    order = topological_orders(recipe, np.random.default_rng(data.draw(st.integers(0, 1000))))
    other = build(recipe, order)
    options = {"rule": lr.Epsilon(0.1)} if method == "lrp" else {"reference": 0.0} if method != "gradient-x-input" else {}
    a, b = lr.explain(net, x, method=method, **options), lr.explain(other, x, method=method, **options)
    np.testing.assert_allclose(a.relevance, b.relevance, rtol=0, atol=1e-12 * scale_of(a))
    by_name = {node.name: record for node, record in zip(other.nodes, b.layers)}
    for node, record in zip(net.nodes, a.layers):
        twin = by_name[node.name]
        np.testing.assert_allclose(record.relevance_out, twin.relevance_out, rtol=0, atol=1e-12 * scale_of(a))


@given(data=st.data(), method=st.sampled_from(["lrp", "deeplift", "lid-ig", "ig", "smoothgrad", "gradient"]))
def test_a_chain_built_as_a_graph_equals_the_sequential(data, method):
    net, x = data.draw(networks(activations=("relu", "tanh")))
    x_in = lr.Input()
    h = x_in
    for layer in net:
        h = layer(h)
    graph = lr.Graph(x_in, h)
    assert graph.is_chain and len(graph) == len(net)
    options = {"rule": lr.Epsilon(0.1)} if method == "lrp" else {"random_state": 0} if method == "smoothgrad" else {}
    a, b = lr.explain(net, x, method=method, **options), lr.explain(graph, x, method=method, **options)
    np.testing.assert_array_equal(a.relevance, b.relevance)
    for ra, rb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(ra.relevance_in, rb.relevance_in)
    assert [row.name for row in a.conservation] == [row.name for row in b.conservation]
