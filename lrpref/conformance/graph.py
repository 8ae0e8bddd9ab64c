"""A kit network as a graph of nodes, and the same network for PyTorch (state_dict + builder) and ONNX.

The manifest describes every network as ``{"input": "input", "output": NAME, "nodes": [...]}``;
a node is ``{"name": str, "op": T, "inputs": [names], "params": {param: [shape]}, "settings": {...}}``
and its parameters are the state_dict entries ``"{name}.{param}"`` (PyTorch's names:
``weight``, ``bias``, ``running_mean``, ``running_var``). A chain is the special case where node
``k`` reads node ``k - 1`` (node 0 reads ``"input"``). Nodes are named by their position
(``"0"``, ``"1"``, …) and listed in a topological order; level ``k`` of a case is the relevance of
tensor ``k`` — the network input (``k = 0``) or the output of node ``k - 1`` — which in a chain is
node ``k``'s input. A graph network's residual ``Add`` and ``Concat`` nodes read two or more
tensors; a tensor read by several nodes has the sum of what they sent as its relevance.

:func:`torch_module` builds the network in PyTorch from the description and a state_dict (float64,
eval mode; ``Flatten`` is ``torch.flatten(x, 1)`` in ``forward``, not a module, because captum's
LRP has no rule for ``nn.Flatten``). :func:`onnx_model` writes the same network as ONNX (opset
17, float64; ``AdaptiveAvgPool2d`` becomes the averaging matrix it is, and since ONNX float
attributes are float32, BatchNorm becomes a float64 ``Mul`` and ``Add`` with its fused scale and
shift, LeakyReLU a ``PRelu`` with a float64 slope).
"""

from __future__ import annotations

import numpy as np

from .. import layers as L

__all__ = ["graph", "is_chain", "state_dict", "torch_module", "onnx_model", "OPS"]

# lrpref layer -> (op, [(state_dict param, lrpref attribute)], [(setting, lrpref attribute)])
OPS = {
    L.Dense: ("Dense", [("weight", "W"), ("bias", "bias")], []),
    L.Conv2d: ("Conv2d", [("weight", "W"), ("bias", "bias")], [("stride", "stride"), ("padding", "padding"),
                                                              ("dilation", "dilation"), ("groups", "groups")]),
    L.BatchNorm: ("BatchNorm", [("running_mean", "mean"), ("running_var", "var"), ("weight", "gamma"), ("bias", "beta")],
                  [("eps", "eps")]),
    L.MaxPool2d: ("MaxPool2d", [], [("kernel_size", "kernel"), ("stride", "stride"), ("padding", "padding"),
                                    ("dilation", "dilation")]),
    L.AvgPool2d: ("AvgPool2d", [], [("kernel_size", "kernel"), ("stride", "stride"), ("padding", "padding"),
                                    ("count_include_pad", "count_include_pad")]),
    L.AdaptiveAvgPool2d: ("AdaptiveAvgPool2d", [], [("output_size", "output_size")]),
    L.LeakyReLU: ("LeakyReLU", [], [("negative_slope", "negative_slope")]),
    L.Dropout: ("Dropout", [], [("p", "p")]),
    L.ReLU: ("ReLU", [], []), L.Tanh: ("Tanh", [], []), L.Sigmoid: ("Sigmoid", [], []),
    L.Identity: ("Identity", [], []), L.Flatten: ("Flatten", [], []),
    L.Add: ("Add", [], []), L.Concat: ("Concat", [], [("axis", "axis")]),
}


def _op(layer):
    spec = OPS.get(type(layer))
    if spec is None:
        raise TypeError(f"{layer.describe()} has no conformance-kit node type (one of {sorted(s[0] for s in OPS.values())})")
    return spec


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def _tensor(t) -> str:
    """The description's name of tensor ``t``: ``"input"`` or the node that makes it."""
    return "input" if t == 0 else str(t - 1)


def graph(net, input_shape) -> dict:
    """The node description of an lrpref network (see the module docstring), with every node's input shape (one per
    input for a node with several) and output shape."""
    shapes = net.shapes(tuple(input_shape))
    nodes = []
    for k, (node, layer) in enumerate(zip(net.nodes, net)):
        op, params, settings = _op(layer)
        in_shapes = [list(shapes[t]) for t in node.inputs]
        nodes.append({"name": str(k), "op": op, "inputs": [_tensor(t) for t in node.inputs],
                      "params": {param: list(np.shape(getattr(layer, attr))) for param, attr in params
                                 if getattr(layer, attr) is not None},
                      "settings": {key: _plain(getattr(layer, attr)) for key, attr in settings},
                      "input_shape": in_shapes[0] if len(in_shapes) == 1 else in_shapes,
                      "output_shape": list(shapes[k + 1])})
    return {"input": "input", "output": str(len(net) - 1), "nodes": nodes}


def is_chain(description) -> bool:
    """Every node reads the one before (node 0 the input)."""
    return all(node["inputs"] == [_tensor(k)] for k, node in enumerate(description["nodes"]))


def state_dict(net) -> dict[str, np.ndarray]:
    """The parameters under PyTorch's names ``"{node}.{param}"`` (float64)."""
    found = {}
    for k, layer in enumerate(net):
        for param, attr in _op(layer)[1]:
            value = getattr(layer, attr)
            if value is not None:
                found[f"{k}.{param}"] = np.asarray(value, dtype=np.float64)
    return found


def _torch_layer(nn, node):
    op, s, shape = node["op"], node["settings"], node["params"]
    if op == "Dense":
        return nn.Linear(shape["weight"][1], shape["weight"][0], bias="bias" in shape)
    if op == "Conv2d":
        out, per_group, kh, kw = shape["weight"]
        return nn.Conv2d(per_group * s["groups"], out, (kh, kw), s["stride"], s["padding"], s["dilation"], s["groups"],
                         bias="bias" in shape)
    if op == "BatchNorm":
        kind = nn.BatchNorm1d if len(node["input_shape"]) == 1 else nn.BatchNorm2d
        return kind(shape["running_mean"][0], eps=s["eps"])
    if op == "MaxPool2d":
        return nn.MaxPool2d(s["kernel_size"], s["stride"], s["padding"], s["dilation"])
    if op == "AvgPool2d":
        return nn.AvgPool2d(s["kernel_size"], s["stride"], s["padding"], count_include_pad=s["count_include_pad"])
    if op == "AdaptiveAvgPool2d":
        return nn.AdaptiveAvgPool2d(tuple(s["output_size"]))
    if op == "LeakyReLU":
        return nn.LeakyReLU(s["negative_slope"])
    if op == "Dropout":
        return nn.Dropout(s["p"])
    if op in ("Flatten", "Add", "Concat"):
        return None  # functions of the inputs in forward (torch.flatten, +, torch.cat)
    return getattr(nn, op)()


def torch_module(description: dict, parameters: dict):
    """The network as a float64 ``torch.nn.Module`` in eval mode, loaded from ``parameters`` (a state_dict of arrays).

    ``module(x)`` is the output; ``module.levels`` after a forward pass lists every tensor (level ``k`` =
    the input for ``k = 0``, else the output of node ``k - 1``; in a chain, the input of node ``k``) and
    finally the output, so that hooks can read the relevance (the gradient) there.
    """
    import torch

    nodes = description["nodes"]
    index = {description["input"]: 0, **{node["name"]: k + 1 for k, node in enumerate(nodes)}}

    def apply(node, layer, inputs):
        if node["op"] == "Flatten":
            return torch.flatten(inputs[0], 1)
        if node["op"] == "Add":
            total = inputs[0]
            for other in inputs[1:]:
                total = total + other
            return total
        if node["op"] == "Concat":
            return torch.cat(inputs, dim=node["settings"]["axis"])
        return layer(inputs[0])

    class Network(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ops = []
            for node in nodes:
                layer = _torch_layer(torch.nn, node)
                if layer is not None:
                    self.add_module(node["name"], layer)
                self.ops.append(layer)
            self.levels = []

        def forward(self, x):
            self.levels = [x]
            for node, layer in zip(nodes, self.ops):
                x = apply(node, layer, [self.levels[index[name]] for name in node["inputs"]])
                self.levels.append(x)
            return x

    module = Network().double()
    module.load_state_dict({key: torch.from_numpy(np.array(value, dtype=np.float64)) for key, value in parameters.items()})
    return module.eval()


# --------------------------------------------------------------------------- ONNX


def _adaptive_matrix(in_hw, out_hw) -> np.ndarray:
    """The (H·W, h·w) matrix of adaptive average pooling (PyTorch's windows)."""
    (H, W), (h, w) = in_hw, out_hw
    rows = [(i * H // h, -(-(i + 1) * H // h)) for i in range(h)]
    cols = [(j * W // w, -(-(j + 1) * W // w)) for j in range(w)]
    A = np.zeros((H, W, h, w))
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            A[r0:r1, c0:c1, i, j] = 1.0 / ((r1 - r0) * (c1 - c0))
    return A.reshape(H * W, h * w)


def onnx_model(description: dict, parameters: dict, name: str = "network"):
    """The network as an ONNX ``ModelProto`` (opset 17, float64, batch dimension ``N``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers = [], []

    def constant(key, value):
        initializers.append(numpy_helper.from_array(np.asarray(value), key))
        return key

    names = {description["input"]: description["input"], **{node["name"]: f"y{node['name']}" for node in description["nodes"]}}
    for node in description["nodes"]:
        op, s, out, key = node["op"], node["settings"], f"y{node['name']}", node["name"]
        reads = [names[name] for name in node["inputs"]]
        previous = reads[0]

        def param(p, key=key):
            return constant(f"{key}.{p}", np.asarray(parameters[f"{key}.{p}"], dtype=np.float64))

        if op == "Dense":
            inputs = [previous, param("weight")] + ([param("bias")] if "bias" in node["params"] else [])
            nodes.append(helper.make_node("Gemm", inputs, [out], transB=1))
        elif op == "Conv2d":
            inputs = [previous, param("weight")] + ([param("bias")] if "bias" in node["params"] else [])
            kh, kw = node["params"]["weight"][2:]
            nodes.append(helper.make_node("Conv", inputs, [out], kernel_shape=[kh, kw], strides=s["stride"],
                                          pads=s["padding"] * 2, dilations=s["dilation"], group=s["groups"]))
        elif op == "BatchNorm":  # ONNX float attributes are float32: eps enters through a float64 scale and shift
            p = {name: np.asarray(parameters[f"{key}.{name}"], dtype=np.float64)
                 for name in ("weight", "bias", "running_mean", "running_var")}
            scale = p["weight"] / np.sqrt(p["running_var"] + s["eps"])
            axes = (-1,) + (1,) * (len(node["input_shape"]) - 1)
            scaled = f"{out}.scaled"
            nodes += [helper.make_node("Mul", [previous, constant(f"{key}.scale", scale.reshape(axes))], [scaled]),
                      helper.make_node("Add", [scaled, constant(f"{key}.shift", (p["bias"] - p["running_mean"] * scale)
                                                                .reshape(axes))], [out])]
        elif op == "MaxPool2d":
            nodes.append(helper.make_node("MaxPool", [previous], [out], kernel_shape=s["kernel_size"], strides=s["stride"],
                                          pads=s["padding"] * 2, dilations=s["dilation"]))
        elif op == "AvgPool2d":
            nodes.append(helper.make_node("AveragePool", [previous], [out], kernel_shape=s["kernel_size"],
                                          strides=s["stride"], pads=s["padding"] * 2,
                                          count_include_pad=int(s["count_include_pad"])))
        elif op == "AdaptiveAvgPool2d":
            (c, H, W), (_, h, w) = node["input_shape"], node["output_shape"]
            flat, pooled = f"{out}.flat", f"{out}.pooled"
            nodes += [helper.make_node("Reshape", [previous, constant(f"{key}.in_shape", np.array([-1, c, H * W]))], [flat]),
                      helper.make_node("MatMul", [flat, constant(f"{key}.average", _adaptive_matrix((H, W), (h, w)))],
                                       [pooled]),
                      helper.make_node("Reshape", [pooled, constant(f"{key}.out_shape", np.array([-1, c, h, w]))], [out])]
        elif op == "LeakyReLU":  # PRelu with a float64 slope (LeakyRelu's alpha attribute is float32)
            nodes.append(helper.make_node("PRelu", [previous, constant(f"{key}.slope", np.array(s["negative_slope"]))], [out]))
        elif op == "Flatten":
            nodes.append(helper.make_node("Flatten", [previous], [out], axis=1))
        elif op == "Add":
            nodes.append(helper.make_node("Sum", reads, [out]))
        elif op == "Concat":
            nodes.append(helper.make_node("Concat", reads, [out], axis=s["axis"]))
        else:
            nodes.append(helper.make_node({"ReLU": "Relu", "Tanh": "Tanh", "Sigmoid": "Sigmoid", "Identity": "Identity",
                                           "Dropout": "Identity"}[op], [previous], [out]))
    first, last = description["nodes"][0], description["nodes"][-1]
    in_shape = first["input_shape"][first["inputs"].index(description["input"])] if len(first["inputs"]) > 1 \
        else first["input_shape"]
    inputs = [helper.make_tensor_value_info(description["input"], TensorProto.DOUBLE, ["N", *in_shape])]
    outputs = [helper.make_tensor_value_info(names[last["name"]], TensorProto.DOUBLE, ["N", *last["output_shape"]])]
    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", 17)], producer_name="lrpref conformance kit")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
