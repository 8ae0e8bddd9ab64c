"""Hypothesis strategy: random small graph networks (DAGs of Dense/Conv2d/pooling/activation/BatchNorm/Add/Concat).

``graphs()`` grows a graph from its input: every step applies a random layer to a random earlier
tensor (recent ones more often), adds two tensors of the same shape (a residual sum) or
concatenates two tensors of the same spatial size along the channels, so tensors feed several
nodes and nodes take several inputs. The last tensor is flattened into a Dense layer of 2-4
classes; nodes that do not reach it are dropped by ``Graph``. Weights come from a drawn seed.
Alongside the graph it returns the recipe (``steps``) so tests can rebuild the same graph in
another topological order.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import lrpref as lr


def _activation(kind):
    return {"relu": lr.ReLU, "tanh": lr.Tanh, "leaky": lambda: lr.LeakyReLU(0.1)}[kind]()


@st.composite
def graphs(draw, activations=("relu",), merges=("add", "concat"), pooling=("max", "avg"), batchnorm=True):
    """``(net, x, recipe)``: a random float64 graph, a batch of 1-2 inputs, and the recipe that built it.

    The recipe is a list of ``(layer, input indices)`` over the tensor list ``[input, out 0, out 1, ...]``.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = draw(st.sampled_from([True, True, False]))
    in_shape = (draw(st.sampled_from([1, 2, 3])), draw(st.integers(3, 6)), draw(st.integers(3, 6))) if image \
        else (draw(st.integers(2, 6)),)
    shapes, recipe = [in_shape], []

    def pick():
        recent = draw(st.booleans())
        return len(shapes) - 1 if recent else draw(st.integers(0, len(shapes) - 1))

    kinds = ["layer", "layer", "activation"] + list(merges) * 2 + (["pool"] if image and pooling else []) \
        + (["batchnorm"] if batchnorm else [])
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(kinds))
        t = pick()
        shape = shapes[t]
        if kind == "layer":
            if len(shape) == 3:
                out = draw(st.sampled_from([1, 2, 3]))
                kernel = draw(st.sampled_from([1, 3]))
                layer = lr.Conv2d(rng.normal(size=(out, shape[0], kernel, kernel)), rng.normal(size=out) * 0.3,
                                  padding=kernel // 2)
            else:
                out = draw(st.integers(2, 5))
                layer = lr.Dense(rng.normal(size=(out, shape[0])), rng.normal(size=out) * 0.3)
            inputs = (t,)
        elif kind == "activation":
            layer, inputs = _activation(draw(st.sampled_from(activations))), (t,)
        elif kind == "batchnorm":
            channels = shape[0]
            layer = lr.BatchNorm(rng.normal(size=channels) * 0.2, rng.uniform(0.5, 2, size=channels),
                                 rng.uniform(0.5, 1.5, size=channels), rng.normal(size=channels) * 0.2)
            inputs = (t,)
        elif kind == "pool":
            if min(shape[1:]) < 2:
                continue
            layer = lr.MaxPool2d(2, 1) if draw(st.sampled_from(pooling)) == "max" else lr.AvgPool2d(2, 1)
            inputs = (t,)
        elif kind == "add":
            partners = [u for u, other in enumerate(shapes) if other == shape]
            u = draw(st.sampled_from(partners))
            layer, inputs = lr.Add(), (t, u)  # u == t adds a tensor to itself: two edges from one tensor
        else:  # concat along the channels / features
            partners = [u for u, other in enumerate(shapes) if len(other) == len(shape) and other[1:] == shape[1:]]
            layer, inputs = lr.Concat(1), (t, draw(st.sampled_from(partners)))
        recipe.append((layer, inputs))
        shapes.append(layer.output_shape(*(shapes[i] for i in inputs)))
    last = len(shapes) - 1
    if len(shapes[last]) > 1:
        recipe.append((lr.Flatten(), (last,)))
        shapes.append((int(np.prod(shapes[last])),))
        last += 1
    classes = draw(st.integers(2, 4))
    recipe.append((lr.Dense(rng.normal(size=(classes, shapes[last][0])), rng.normal(size=classes) * 0.3), (last,)))
    net = build(recipe)
    x = rng.normal(size=(draw(st.integers(1, 2)), *in_shape))
    return net, x, recipe


def build(recipe, order=None):
    """The graph of a recipe, its nodes created in ``order`` (a topological order of the recipe; default as given)."""
    order = list(range(len(recipe))) if order is None else order
    tensors = {0: lr.Input()}
    for step in order:
        layer, inputs = recipe[step]
        tensors[step + 1] = layer(*(tensors[i] for i in inputs), name=f"n{step}")
    return lr.Graph(tensors[0], tensors[len(recipe)])


def topological_orders(recipe, rng):
    """A random topological order of a recipe's steps (step ``s`` after every step it reads)."""
    done, order = {0}, []
    waiting = list(range(len(recipe)))
    while waiting:
        ready = [s for s in waiting if all(i in done for i in recipe[s][1])]
        s = ready[rng.integers(len(ready))]
        order.append(s)
        done.add(s + 1)
        waiting.remove(s)
    return order
