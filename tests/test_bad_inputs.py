"""Bad inputs to the public API and the loaders, one table (issue 12): each case is a call, the exception it must
raise, and a regex that the message must match — the regex names the offending argument (or file and entry), so
an error that does not say what is wrong fails the case.

To add cases, append ``case(...)`` entries to the list of their area, or write a new list and add it to
``AREAS``. A call receives ``tmp``, a fresh temporary folder (pathlib.Path), for cases that need files. A case
that is silently wrong (or unclear) today in a file this module's authors could not change is marked
``xfail=...`` with the reason: strict, so it fails loudly the day it is fixed, and the mark must then go.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import lrpref as lr
import lrpref.evaluate as ev
from lrpref import presets, serialize
from lrpref._integrity import write_archive
from lrpref.presets import innvestigate, toolbox
from lrpref.serialize import FileFormatError


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable
    error: type
    message: str
    xfail: str | None = None


def case(id, call, error, message, xfail=None) -> Case:
    return Case(id, call, error, message, xfail)


rng = np.random.default_rng(12)
MLP = lr.Sequential([lr.Dense(rng.normal(size=(4, 3)), rng.normal(size=4)), lr.ReLU(), lr.Dense(rng.normal(size=(2, 4)))])
MLP32 = MLP.astype(np.float32)
CNN = lr.Sequential([lr.Conv2d(rng.normal(size=(2, 1, 3, 3))), lr.ReLU(), lr.Flatten(), lr.Dense(rng.normal(size=(2, 18)))])
X = rng.normal(size=(2, 3))
XI = rng.normal(size=(2, 1, 5, 5))
IMAGES, MAPS = rng.uniform(size=(2, 12, 12)), rng.normal(size=(2, 12, 12))


def scores(x):
    return np.stack([x.reshape(len(x), -1).mean(1), -x.reshape(len(x), -1).mean(1)], axis=1)


# --------------------------------------------------------------------------- explain: targets

EXPLAIN_TARGETS = [
    case("target too large", lambda tmp: lr.explain(MLP, X, target=2), ValueError, r"target 2 is out of range: the output has 2 classes"),
    case("target negative", lambda tmp: lr.explain(MLP, X, target=-1), ValueError, r"target -1 is out of range"),
    case("target np.int64 too large", lambda tmp: lr.explain(MLP, X, target=np.int64(5)), ValueError, r"target 5 is out of range"),
    case("target count", lambda tmp: lr.explain(MLP, X, target=[0, 1, 1]), ValueError, r"target has 3 entries for a batch of 2"),
    case("target string", lambda tmp: lr.explain(MLP, X, target="a"), TypeError, r"target must be None, an int, N ints"),
    case("target bool", lambda tmp: lr.explain(MLP, X, target=True), TypeError, r"target must be None, an int"),
    case("target float scalar", lambda tmp: lr.explain(MLP, X, target=1.5), ValueError,
         r"explicit top relevance must have the output's shape \(2, 2\), got \(\)"),
    case("top relevance shape", lambda tmp: lr.explain(MLP, X, target=np.ones((2, 3))), ValueError,
         r"explicit top relevance must have the output's shape \(2, 2\), got \(2, 3\)"),
    case("top relevance NaN", lambda tmp: lr.explain(MLP, X, target=np.full((2, 2), np.nan)), ValueError,
         r"explicit top relevance contains 4 non-finite value\(s\) \(NaN\)"),
    case("top relevance inf", lambda tmp: lr.explain(MLP, X, target=np.full((2, 2), np.inf)), ValueError,
         r"explicit top relevance contains 4 non-finite value\(s\) \(inf\)"),
    case("top relevance of the other dtype", lambda tmp: lr.explain(MLP, X, target=np.ones((2, 2), np.float32)), TypeError,
         r"top relevance .*float32.*float64"),
    case("grad-cam target", lambda tmp: lr.explain(CNN, XI, method="grad-cam", layer=1, target=3), ValueError, r"target 3 is out of range"),
]

# --------------------------------------------------------------------------- explain: inputs and dtypes

EXPLAIN_INPUTS = [
    case("x NaN", lambda tmp: lr.explain(MLP, np.full((1, 3), np.nan)), ValueError, r"input x contains 3 non-finite value\(s\) \(NaN\)"),
    case("x inf", lambda tmp: lr.explain(MLP, np.full((1, 3), np.inf)), ValueError, r"input x contains 3 non-finite value\(s\) \(inf\)"),
    case("x object", lambda tmp: lr.explain(MLP, np.array([[1, "a", 2]], dtype=object)), TypeError, r"input x must be a numeric array"),
    case("x int list", lambda tmp: lr.explain(MLP, [[1, 2, 3]]), TypeError, r"input x must be float32 or float64, got int64"),
    case("x complex", lambda tmp: lr.explain(MLP, np.ones((1, 3), complex)), TypeError, r"input x must be float32 or float64, got complex128"),
    case("x float16", lambda tmp: lr.explain(MLP, np.ones((1, 3), np.float16)), TypeError, r"input x must be float32 or float64, got float16"),
    case("x float64 into float32 net", lambda tmp: lr.explain(MLP32, X), TypeError, r"input x is float64 but the network is float32"),
    case("x float32 into float64 net", lambda tmp: lr.explain(MLP, X.astype(np.float32)), TypeError, r"input x is float32 but the network is float64"),
    case("x no batch axis", lambda tmp: lr.explain(MLP, np.zeros(3)), ValueError, r"input x must have a leading batch axis"),
    case("x empty batch", lambda tmp: lr.explain(MLP, np.zeros((0, 3))), ValueError, r"input x is an empty batch"),
    case("x wrong features", lambda tmp: lr.explain(MLP, np.zeros((1, 5))), lr.ShapeError,
         r"layer 0: Dense\(3→4\) expects input \(N, 3\); got a sample shape \(5,\)"),
    case("x wrong channels", lambda tmp: lr.explain(CNN, np.zeros((1, 3, 5, 5))), lr.ShapeError, r"expects 1 input channels"),
    case("x too small for the kernel", lambda tmp: lr.explain(CNN, np.zeros((1, 1, 2, 2))), lr.ShapeError, r"layer 0: .*too small"),
    case("image into Dense", lambda tmp: lr.explain(lr.Sequential([lr.Dense(np.ones((2, 12)))]), np.zeros((1, 3, 2, 2))),
         lr.ShapeError, r"add Flatten"),
    case("net not a Sequential", lambda tmp: lr.explain([lr.ReLU()], X), TypeError, r"net must be an lrpref.Sequential or Graph, got list"),
    case("reference shape", lambda tmp: lr.explain(MLP, X, method="ig", reference=np.zeros((2, 4))), ValueError,
         r"a reference of shape \(2, 4\) does not broadcast to the input \(2, 3\)"),
    case("reference NaN", lambda tmp: lr.explain(MLP, X, method="deeplift", reference=np.nan), ValueError,
         r"the reference contains 3 non-finite value\(s\) \(NaN\)"),
    case("reference unknown name", lambda tmp: lr.explain(MLP, X, method="ig", reference="noise"), ValueError,
         r"unknown reference 'noise'"),
]

# --------------------------------------------------------------------------- explain: methods and options

EXPLAIN_OPTIONS = [
    case("method unknown", lambda tmp: lr.explain(MLP, X, method="magic"), ValueError, r"unknown method 'magic'"),
    case("path unknown", lambda tmp: lr.explain(MLP, X, path="slow"), ValueError, r"path must be 'fast' or 'explicit', got 'slow'"),
    case("rule as text", lambda tmp: lr.explain(MLP, X, rule="epsilon"), TypeError,
         r"rule must be an lrpref rule, a Composite or a list of rules .* got str"),
    case("rule list length", lambda tmp: lr.explain(MLP, X, rule=[lr.LRP0()]), ValueError,
         r"a list of rules needs one rule per layer: got 1 for 3 layers"),
    case("affine rule on ReLU", lambda tmp: lr.explain(MLP, X, rule=[lr.LRP0(), lr.LRP0(), lr.LRP0()]), TypeError,
         r"layer 1 \(ReLU\(\)\): the rule LRP0\(\) applies to affine layers"),
    case("composite without a rule for a layer", lambda tmp: lr.explain(MLP, X, rule=lr.Composite(types={lr.ReLU: lr.Pass()})),
         ValueError, r"layer 0 \(Dense\(3→4\)\): the composite assigns no rule to this layer"),
    case("classic gamma on signed input", lambda tmp: lr.explain(MLP, X, rule=lr.Gamma()), ValueError,
         r"LRP-γ \(classic\) is defined for non-negative inputs, but the input of layer 0"),
    case("zbox input outside the box", lambda tmp: lr.explain(MLP, X, rule=[lr.ZBox(0, 0.1), lr.Pass(), lr.LRP0()]), ValueError,
         r"ZBox: the input of layer 0 .* lies outside \[low, high\]"),
    case("zbox bounds shape", lambda tmp: lr.explain(MLP, X, rule=[lr.ZBox(np.zeros(4), np.ones(4)), lr.Pass(), lr.LRP0()]),
         ValueError, r"ZBox: bounds of shape \(4,\)/\(4,\) do not broadcast to the input of layer 0"),
    case("steps 0", lambda tmp: lr.explain(MLP, X, method="ig", steps=0), ValueError, r"steps must be an integer >= 1, got 0"),
    case("steps negative", lambda tmp: lr.explain(MLP, X, method="lid-ig", steps=-1), ValueError, r"steps must be an integer >= 1, got -1"),
    case("steps fractional", lambda tmp: lr.explain(MLP, X, method="ig", steps=2.5), ValueError, r"steps must be an integer >= 1, got 2.5"),
    case("riemann unknown", lambda tmp: lr.explain(MLP, X, method="ig", riemann="simpson"), ValueError, r"unknown quadrature rule 'simpson'"),
    case("riemann points outside [0, 1]", lambda tmp: lr.explain(MLP, X, method="ig", steps=2, riemann=([0.5, 1.5], [0.5, 0.5])),
         ValueError, r"quadrature needs finite weights and finite points in \[0, 1\]"),
    case("riemann weights not summing to 1", lambda tmp: lr.explain(MLP, X, method="ig", steps=2, riemann=([0.5, 1.0], [0.3, 0.3])),
         ValueError, r"weights .* sum"),
    case("option of another method", lambda tmp: lr.explain(MLP, X, method="ig", colour=3), TypeError,
         r"method 'ig' takes no option\(s\) \['colour'\]"),
    case("lrp given a smoothgrad option", lambda tmp: lr.explain(MLP, X, method="lrp", noise=0.1), TypeError,
         r"method 'lrp' takes no option\(s\) \['noise'\]"),
    case("smoothgrad noise negative", lambda tmp: lr.explain(MLP, X, method="smoothgrad", noise=-1), ValueError,
         r"smoothgrad: noise must be a number >= 0"),
    case("clrp variant", lambda tmp: lr.explain(MLP, X, method="clrp", clrp="clrp9"), ValueError, r"clrp must be 'clrp1' or 'clrp2', got 'clrp9'"),
    case("deeplift convention", lambda tmp: lr.explain(MLP, X, method="deeplift", convention="foo"), ValueError,
         r"deeplift: convention must be .* got 'foo'"),
    case("grad-cam without layer", lambda tmp: lr.explain(CNN, XI, method="grad-cam"), ValueError, r"grad-cam needs layer="),
    case("grad-cam layer out of range", lambda tmp: lr.explain(CNN, XI, method="grad-cam", layer=10), IndexError,
         r"layer 10 out of range: the network has 4 layers"),
    case("grad-cam on a Dense layer", lambda tmp: lr.explain(CNN, XI, method="grad-cam", layer=3), ValueError,
         r"a CAM needs a spatial layer: layer 3 \(Dense"),
    case("score-cam batch_size 0", lambda tmp: lr.explain(CNN, XI, method="score-cam", layer=1, batch_size=0), ValueError,
         r"batch_size"),
    case("score-cam batch_size -1", lambda tmp: lr.explain(CNN, XI, method="score-cam", layer=1, batch_size=-1), ValueError,
         r"batch_size"),
    case("max_matrix_bytes negative", lambda tmp: lr.explain(MLP, X, path="explicit", max_matrix_bytes=-1), ValueError,
         r"max_matrix_bytes"),
    case("messages of a sample out of range", lambda tmp: lr.explain(MLP, X[:1], keep_messages=True).layers[0].messages(5),
         IndexError, r"sample 5 out of range for a batch of 1"),
    case("messages without keep_messages", lambda tmp: lr.explain(MLP, X[:1]).layers[0].messages(0), RuntimeError,
         r"layer 0 \(Dense\(3→4\)\): .* keep_messages=True"),
    case("trace of a sample out of range", lambda tmp: lr.explain(MLP, X[:1], keep_messages=True).steps(4), IndexError,
         r"sample 4 out of range for a batch of 1"),
]

# --------------------------------------------------------------------------- rules

RULES = [
    case("Epsilon negative", lambda tmp: lr.Epsilon(-1), ValueError, r"epsilon must be a finite number >= 0, got -1"),
    case("Epsilon NaN", lambda tmp: lr.Epsilon(float("nan")), ValueError, r"epsilon must be a finite number >= 0, got nan"),
    case("Epsilon inf", lambda tmp: lr.Epsilon(float("inf")), ValueError, r"epsilon must be a finite number >= 0, got inf"),
    case("Epsilon text", lambda tmp: lr.Epsilon("a"), ValueError, r"epsilon"),
    case("Epsilon sign", lambda tmp: lr.Epsilon(0.1, sign="both"), ValueError, r"sign must be one of .* got 'both'"),
    case("Epsilon scale", lambda tmp: lr.Epsilon(0.1, scale="std"), ValueError, r"scale must be 'fixed' or 'rms', got 'std'"),
    case("Epsilon overflowing float32", lambda tmp: lr.explain(MLP32, X.astype(np.float32), rule=lr.Epsilon(1e300)), ValueError,
         r"epsilon"),
    case("Gamma negative", lambda tmp: lr.Gamma(-0.1), ValueError, r"Gamma: gamma must be a finite number >= 0, got -0.1"),
    case("Gamma NaN", lambda tmp: lr.Gamma(float("nan")), ValueError, r"Gamma: gamma must be a finite number >= 0, got nan"),
    case("Gamma inf", lambda tmp: lr.Gamma(float("inf")), ValueError, r"Gamma: gamma must be a finite number >= 0, got inf"),
    case("Gamma mode", lambda tmp: lr.Gamma(0.1, mode="fancy"), ValueError, r"Gamma: mode must be 'classic' or 'generalised'"),
    case("Gamma bias", lambda tmp: lr.Gamma(0.1, bias="half"), ValueError, r"Gamma: bias must be True, False or 'plain', got 'half'"),
    case("Gamma stabiliser negative", lambda tmp: lr.Gamma(0.25, epsilon=-1), ValueError, r"stabiliser epsilon must be a finite number >= 0"),
    case("AlphaBeta alpha - beta != 1", lambda tmp: lr.AlphaBeta(2, 2), ValueError,
         r"AlphaBeta\(alpha=2, beta=2\): the modern convention needs alpha - beta = 1"),
    case("AlphaBeta beta negative", lambda tmp: lr.AlphaBeta(0.5, -0.5), ValueError, r"AlphaBeta\(alpha=0.5, beta=-0.5\).* beta >= 0"),
    case("AlphaBeta toolbox alpha + beta != 1", lambda tmp: lr.AlphaBeta(2, 1, convention="toolbox"), ValueError,
         r"convention='toolbox'\) needs alpha \+ beta = 1"),
    case("AlphaBeta convention", lambda tmp: lr.AlphaBeta(2, 1, convention="old"), ValueError,
         r"AlphaBeta: convention must be 'modern' or 'toolbox', got 'old'"),
    case("AlphaBeta bias", lambda tmp: lr.AlphaBeta(2, 1, bias="some"), ValueError, r"AlphaBeta: bias must be one of .* got 'some'"),
    case("AlphaBeta NaN alpha", lambda tmp: lr.AlphaBeta(float("nan"), 1), ValueError, r"alpha"),
    case("AlphaBeta inf, inf", lambda tmp: lr.AlphaBeta(float("inf"), float("inf")), ValueError, r"alpha"),
    case("ZPlus mode", lambda tmp: lr.ZPlus(mode="x"), ValueError, r"ZPlus: mode must be 'dtd' or 'products', got 'x'"),
    case("ZPlus bias", lambda tmp: lr.ZPlus(bias="x"), ValueError, r"ZPlus: bias must be True, False or 'plain', got 'x'"),
    case("ZBox low > high", lambda tmp: lr.ZBox(1, 0), ValueError, r"ZBox: low > high at 1 position"),
    case("ZBox NaN", lambda tmp: lr.ZBox(np.nan, 1), ValueError, r"ZBox: low and high must be finite"),
    case("ZBox inf", lambda tmp: lr.ZBox(-np.inf, 1), ValueError, r"ZBox: low and high must be finite"),
    case("ZBox shapes", lambda tmp: lr.ZBox(np.zeros(3), np.ones(4)), ValueError, r"ZBox: low \(3,\) and high \(4,\) do not broadcast"),
    case("Stabiliser negative", lambda tmp: lr.Stabiliser(-1), ValueError, r"stabiliser epsilon must be a finite number >= 0, got -1"),
    case("Stabiliser sign", lambda tmp: lr.Stabiliser(1e-6, sign="x"), ValueError, r"sign must be one of .* got 'x'"),
    case("Stabiliser scale", lambda tmp: lr.Stabiliser(1e-6, scale="x"), ValueError, r"scale must be 'fixed' or 'rms', got 'x'"),
    case("WinnerTakesAll ties", lambda tmp: lr.WinnerTakesAll("random"), ValueError,
         r"WinnerTakesAll: ties must be 'first' or 'split', got 'random'"),
    case("WinnerTakesAll epsilon negative", lambda tmp: lr.WinnerTakesAll(epsilon=-1), ValueError, r"epsilon must be a finite number >= 0"),
    case("WinnerTakesAll epsilon NaN", lambda tmp: lr.WinnerTakesAll(epsilon=float("nan")), ValueError, r"epsilon must be a finite number >= 0"),
    case("Surrogate of a non-linear rule", lambda tmp: lr.Surrogate(lr.Pass(), lambda layer: layer, (lr.ReLU,), "x"), TypeError,
         r"Surrogate needs a rule for affine layers, got Pass\(\)"),
    case("Proportional of a non-linear rule", lambda tmp: lr.Proportional(lr.Pass()), TypeError,
         r"Proportional needs a rule for affine layers, got Pass\(\)"),
]

# --------------------------------------------------------------------------- layers

LAYERS = [
    case("Dense W 1-D", lambda tmp: lr.Dense(np.ones(3)), lr.ShapeError, r"Dense W must have 2 dimensions, got shape \(3,\)"),
    case("Dense W NaN", lambda tmp: lr.Dense(np.full((2, 2), np.nan)), ValueError, r"Dense W contains 4 non-finite value\(s\)"),
    case("Dense W text", lambda tmp: lr.Dense(np.array([["a"]])), TypeError, r"Dense W must be float32 or float64, got <U1"),
    case("Dense W complex", lambda tmp: lr.Dense(np.ones((2, 2), complex)), TypeError, r"Dense W must be float32 or float64, got complex128"),
    case("Dense b length", lambda tmp: lr.Dense(np.ones((2, 2)), np.ones(3)), lr.ShapeError, r"Dense: W is \(2, 2\) \(out, in\) but b has 3 entries"),
    case("Dense W and b of two dtypes", lambda tmp: lr.Dense(np.ones((2, 2), np.float32), np.ones(2)), TypeError, r"\bb\b.*float64"),
    case("Dense zero outputs", lambda tmp: lr.Dense(np.ones((0, 2))), ValueError, r"W"),
    case("Conv2d W 3-D", lambda tmp: lr.Conv2d(np.ones((2, 1, 3))), lr.ShapeError, r"Conv2d W must have 4 dimensions"),
    case("Conv2d groups", lambda tmp: lr.Conv2d(np.ones((3, 1, 3, 3)), groups=2), lr.ShapeError, r"3 output channels are not divisible into 2 groups"),
    case("Conv2d stride 0", lambda tmp: lr.Conv2d(np.ones((2, 1, 3, 3)), stride=0), ValueError, r"Conv2d: stride and dilation must be >= 1 .* stride \(0, 0\)"),
    case("Conv2d padding -1", lambda tmp: lr.Conv2d(np.ones((2, 1, 3, 3)), padding=-1), ValueError, r"padding >= 0, .* padding \(-1, -1\)"),
    case("Conv2d stride of three", lambda tmp: lr.Conv2d(np.ones((2, 1, 3, 3)), stride=(1, 1, 1)), ValueError,
         r"stride must be an int or a pair of ints, got \(1, 1, 1\)"),
    case("Conv2d b length", lambda tmp: lr.Conv2d(np.ones((2, 1, 3, 3)), np.ones(3)), lr.ShapeError, r"2 output channels but b has 3 entries"),
    case("Conv2d 0×0 kernel", lambda tmp: lr.Conv2d(np.ones((2, 1, 0, 0))), ValueError, r"kernel"),
    case("MaxPool2d kernel 0", lambda tmp: lr.MaxPool2d(0), ValueError, r"MaxPool2d: kernel, stride and dilation must be >= 1"),
    case("MaxPool2d padding", lambda tmp: lr.MaxPool2d(2, padding=2), ValueError, r"MaxPool2d: padding \(2, 2\) must be between 0 and half"),
    case("MaxPool2d stride 0", lambda tmp: lr.MaxPool2d(2, stride=0), ValueError, r"MaxPool2d: kernel, stride and dilation must be >= 1"),
    case("AvgPool2d kernel 0", lambda tmp: lr.AvgPool2d(0), ValueError, r"AvgPool2d: kernel, stride and dilation must be >= 1"),
    case("AvgPool2d padding", lambda tmp: lr.AvgPool2d(2, padding=3), ValueError, r"AvgPool2d: padding \(3, 3\) must be between 0 and half"),
    case("AdaptiveAvgPool2d size 0", lambda tmp: lr.AdaptiveAvgPool2d(0), ValueError, r"AdaptiveAvgPool2d: output size must be >= 1"),
    case("AdaptiveAvgPool2d size of three", lambda tmp: lr.AdaptiveAvgPool2d((1, 2, 3)), ValueError, r"output_size must be an int or a pair"),
    case("BatchNorm var negative", lambda tmp: lr.BatchNorm([0.0], [-1.0]), ValueError, r"BatchNorm: var \+ eps must be positive"),
    case("BatchNorm channels", lambda tmp: lr.BatchNorm([0.0, 1.0], [1.0]), lr.ShapeError, r"BatchNorm: mean has 2 channels but var has shape \(1,\)"),
    case("BatchNorm 2-D mean", lambda tmp: lr.BatchNorm(np.zeros((1, 1)), np.ones((1, 1))), lr.ShapeError, r"BatchNorm mean must have 1 dimensions"),
    case("BatchNorm eps NaN", lambda tmp: lr.BatchNorm([0.0], [1.0], eps=float("nan")), ValueError, r"\beps\b"),
    case("LeakyReLU NaN", lambda tmp: lr.LeakyReLU(float("nan")), ValueError, r"negative_slope"),
    case("Dropout p > 1", lambda tmp: lr.Dropout(2.0), ValueError, r"\bp\b"),
]

# --------------------------------------------------------------------------- networks

NETWORK = [
    case("Sequential of mixed dtypes", lambda tmp: lr.Sequential([lr.Dense(np.ones((2, 2), np.float32)), lr.Dense(np.ones((2, 2)))]),
         TypeError, r"Sequential: parameters of mixed dtypes \(layer 0 .*float32, layer 1 .*float64\)"),
    case("Sequential of a non-layer", lambda tmp: lr.Sequential([lr.ReLU(), 3]), TypeError, r"Sequential: item 1 is int, not an lrpref layer"),
    case("Sequential empty", lambda tmp: lr.Sequential([]), ValueError, r"Sequential needs at least one layer"),
    case("calling with the wrong shape", lambda tmp: MLP(np.ones((1, 5))), lr.ShapeError, r"layer 0: Dense\(3→4\) expects input \(N, 3\)"),
    case("calling with integers", lambda tmp: MLP(np.ones((1, 3), int)), TypeError, r"input x must be float32 or float64, got int64"),
    case("gradient of the wrong shape", lambda tmp: MLP.gradient(X, np.ones((2, 3))), lr.ShapeError,
         r"output gradient has shape \(2, 3\), the output \(2, 2\)"),
    case("gradient NaN", lambda tmp: MLP.gradient(X, np.full((2, 2), np.nan)), ValueError, r"output gradient"),
    case("astype int", lambda tmp: MLP.astype(np.int32), TypeError, r"Dense W must be float32 or float64, got int32"),
    case("shapes of a wrong input", lambda tmp: MLP.shapes((5,)), lr.ShapeError, r"layer 0: Dense\(3→4\) expects input \(N, 3\)"),
    case("fold_batchnorm of a list", lambda tmp: lr.fold_batchnorm([1]), TypeError, r"item 0 is int, not an lrpref layer"),
    case("fold_batchnorm between ReLUs", lambda tmp: lr.fold_batchnorm(lr.Sequential([lr.ReLU(), lr.BatchNorm([0.0], [1.0]), lr.ReLU()])),
         ValueError, r"layer 1 \(BatchNorm\(1\)\) cannot be folded exactly"),
    case("ledger sample out of range", lambda tmp: lr.Ledger([]).sample(0), IndexError, r"sample 0 out of range: the ledger holds 0 samples"),
]

# --------------------------------------------------------------------------- composites and presets

COMPOSITES = [
    case("Composite default not a rule", lambda tmp: lr.Composite(default="eps"), TypeError, r"Composite default= must be an lrpref rule, got 'eps'"),
    case("Composite first not a rule", lambda tmp: lr.Composite(first="x"), TypeError, r"Composite first= must be an lrpref rule, got 'x'"),
    case("Composite types value not a rule", lambda tmp: lr.Composite(types={lr.Dense: "eps"}), TypeError,
         r"Composite: the rule for .*Dense.* must be an lrpref rule, got 'eps'"),
    case("Composite types key not a layer type", lambda tmp: lr.Composite(types={"Dense": lr.LRP0()}), TypeError, r"types"),
    case("Composite types not a dict", lambda tmp: lr.Composite(types=[lr.LRP0()]), TypeError, r"types"),
    case("preset convention unknown", lambda tmp: presets.composite("epsilon", "keras"), ValueError, r"unknown convention 'keras'"),
    case("preset rule unknown", lambda tmp: presets.composite("sigma"), ValueError, r"unknown rule 'sigma'"),
    case("preset rule parameter not a number", lambda tmp: presets.composite("epsilon:a"), ValueError,
         r"rule 'epsilon:a': parameters must be numbers"),
    case("preset rule parameter count", lambda tmp: presets.composite("zbox:1"), ValueError, r"rule 'zbox:1': zbox takes 2 parameter\(s\), got 1"),
    case("captum has no w2", lambda tmp: presets.composite("w2", "captum"), presets.UnsupportedRule, r"captum has no w2 rule"),
    case("iNNvestigate has no gamma", lambda tmp: presets.composite("gamma", "innvestigate"), presets.UnsupportedRule, r"iNNvestigate has no gamma rule"),
    case("toolbox alphabeta with alpha - beta != 1", lambda tmp: presets.composite("alpha3beta1", "toolbox"), presets.UnsupportedRule,
         r"alpha3beta1: the toolbox's alphabeta is alpha - beta_modern = 1"),
    case("toolbox variant unknown", lambda tmp: toolbox.lrp("fancy"), presets.UnsupportedRule, r"the toolbox has no variant 'fancy'"),
    case("toolbox epsilon without its parameter", lambda tmp: toolbox.lrp("epsilon"), ValueError, r"'epsilon' variant needs its parameter"),
    case("toolbox sum-pooling R-twice quirk", lambda tmp: lr.explain(
        lr.Sequential([lr.AvgPool2d(2), lr.Flatten()]), np.ones((1, 1, 2, 2)), target=0, rule=toolbox.lrp("alphabeta", 2.0, quirks=True)),
        presets.UnsupportedRule, r"AvgPool2d\(2×2\): the toolbox's sum pooling under alphabeta 2 multiplies the beta term by R twice"),
    case("iNNvestigate AlphaBeta alpha < 1", lambda tmp: innvestigate.AlphaBeta(0.5, -0.5), presets.UnsupportedRule,
         r"AlphaBetaRule needs alpha >= 1 and beta >= 0, got 0.5, -0.5"),
    case("iNNvestigate Bounded with arrays", lambda tmp: innvestigate.Bounded(np.zeros(2), np.ones(2)), presets.UnsupportedRule,
         r"BoundedRule takes scalar bounds only"),
    case("iNNvestigate ReLU mask without channels", lambda tmp: innvestigate.LRP(innvestigate.Z(), quirks=True).rules_for(
        lr.Sequential([lr.Flatten(), lr.ReLU(), lr.Dense(np.ones((1, 4)))])), presets.UnsupportedRule,
        r"layer 1 \(ReLU\(\)\): iNNvestigate's ReLU-layer mask needs the channels"),
]

# --------------------------------------------------------------------------- verify

VERIFY = [
    case("verify net", lambda tmp: lr.verify(np.zeros((2, 3)), [1], X), TypeError, r"net must be an lrpref network \(lr.Sequential or lr.Graph\), got list"),
    case("verify candidate shape", lambda tmp: lr.verify(np.zeros((2, 4)), MLP, X), ValueError,
         r"candidate relevance at the input of layer 0 must have shape \(2, 3\), got \(2, 4\)"),
    case("verify candidate integers", lambda tmp: lr.verify(np.zeros((2, 3), int), MLP, X), TypeError,
         r"candidate relevance of layer 0 must be float32 or float64, got int64"),
    case("verify candidate NaN", lambda tmp: lr.verify(np.full((2, 3), np.nan), MLP, X), ValueError,
         r"candidate relevance of layer 0 contains 6 non-finite"),
    case("verify candidate key", lambda tmp: lr.verify({"a": np.zeros((2, 3))}, MLP, X), TypeError, r"candidate layer keys must be layer indices, got 'a'"),
    case("verify candidate layer range", lambda tmp: lr.verify({7: np.zeros((2, 3))}, MLP, X), IndexError, r"candidate layer 7: the network has layers 0..2"),
    case("verify candidate empty", lambda tmp: lr.verify({}, MLP, X), ValueError, r"the candidate is an empty dict"),
    case("verify rule", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, rule="sigma"), ValueError, r"unknown rule 'sigma'"),
    case("verify convention", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, convention="keras"), ValueError, r"unknown convention 'keras'"),
    case("verify target", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, target=9), ValueError, r"target 9 is out of range"),
    case("verify x integers", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, np.ones((2, 3), int)), TypeError, r"input x must be float32 or float64"),
    case("verify reference NaN", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, rule="ig", reference=np.nan), ValueError,
         r"the reference contains 3 non-finite"),
    case("verify tolerance negative", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, tolerance=-1), ValueError,
         r"tolerance must be a finite number >= 0, got -1"),
    case("verify tolerance NaN", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, tolerance=float("nan")), ValueError,
         r"tolerance must be a finite number >= 0, got nan"),
    case("verify tolerance inf", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, tolerance=float("inf")), ValueError,
         r"tolerance must be a finite number >= 0, got inf"),
    case("verify tolerance text", lambda tmp: lr.verify(np.zeros((2, 3)), MLP, X, tolerance="0.1"), TypeError, r"tolerance must be a number, got str"),
]

# --------------------------------------------------------------------------- evaluate


def curve(**options):
    return lambda tmp: ev.region_perturbation(scores, IMAGES, MAPS, **options)


EVALUATE = [
    case("images without batch axis", lambda tmp: ev.region_perturbation(scores, np.ones(3), np.ones(3)), ValueError,
         r"images x must have a leading batch axis"),
    case("relevance of another size", lambda tmp: ev.region_perturbation(scores, IMAGES, np.ones((2, 5, 5))), ValueError,
         r"relevance of shape \(2, 5, 5\) does not fit 2 images of 12×12 pixels"),
    case("images NaN", lambda tmp: ev.region_perturbation(scores, np.full((2, 12, 12), np.nan), MAPS), ValueError, r"images x contains 288 non-finite"),
    case("relevance NaN", lambda tmp: ev.region_perturbation(scores, IMAGES, np.full((2, 12, 12), np.nan)), ValueError, r"relevance contains 288 non-finite"),
    case("region_size 0", curve(region_size=0), ValueError, r"region_size must be an integer >= 1, got 0"),
    case("region_size too large", curve(region_size=13), ValueError, r"region_size 13 does not fit images of 12×12 pixels"),
    case("order", curve(order="up"), ValueError, r"unknown order 'up'"),
    case("regions", curve(regions="hex"), ValueError, r"unknown regions 'hex'"),
    case("replacement", curve(replacement="purple"), ValueError, r"unknown replacement 'purple'"),
    case("batch_size 0", curve(batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    case("batch_size -1", curve(batch_size=-1), ValueError, r"batch_size must be an integer >= 1, got -1"),
    case("steps 0", curve(steps=0), ValueError, r"steps must be an integer >= 1, got 0"),
    case("first_index -1", curve(first_index=-1), ValueError, r"first_index must be an integer >= 0, got -1"),
    case("target out of range", curve(target=5), ValueError, r"target 5 is out of range"),
    case("target fractional", curve(target=1.5), TypeError, r"target must be None, an int or N ints"),
    case("output", curve(output="probit"), ValueError, r"unknown output 'probit'"),
    case("random_state", curve(random_state="x"), TypeError, r"random_state must be None, an int >= 0 or a numpy Generator, got 'x'"),
    case("model output 1-D", lambda tmp: ev.region_perturbation(lambda x: np.ones(len(x)), IMAGES, MAPS), ValueError,
         r"the model must return scores \(N, K\)"),
    case("model output NaN", lambda tmp: ev.region_perturbation(lambda x: np.full((len(x), 2), np.nan), IMAGES, MAPS), ValueError,
         r"the model's output contains .* non-finite"),
    case("probability_change ratios", lambda tmp: ev.probability_change(scores, IMAGES, MAPS, ratios=[1.5]), ValueError,
         r"ratios must be numbers in \[0, 1\], got \[1.5\]"),
    case("probability_change fraction", lambda tmp: ev.probability_change(scores, IMAGES, MAPS, fraction="x"), ValueError, r"unknown fraction 'x'"),
    case("probability_change change", lambda tmp: ev.probability_change(scores, IMAGES, MAPS, change="x"), ValueError, r"unknown change 'x'"),
    case("minimal_patch radius", lambda tmp: ev.minimal_patch(scores, IMAGES, MAPS, radii=[-1]), ValueError, r"a radius must be an integer >= 0"),
    case("relevance_mass_accuracy mask shape", lambda tmp: ev.relevance_mass_accuracy(MAPS, np.ones((2, 3, 3), bool)), ValueError,
         r"mask has shape \(2, 3, 3\), the relevance maps \(2, 12, 12\)"),
    case("relevance_mass_accuracy mask values", lambda tmp: ev.relevance_mass_accuracy(MAPS, np.full((2, 12, 12), 2)), ValueError,
         r"mask must hold only 0 and 1"),
    case("relevance_rank_accuracy values", lambda tmp: ev.relevance_rank_accuracy(MAPS, np.ones((2, 12, 12), bool), values="x"), ValueError,
         r"unknown values 'x'"),
    case("similarity measure", lambda tmp: ev.similarity(np.ones((2, 3)), np.ones((2, 3)), "cosine2"), ValueError, r"unknown similarity 'cosine2'"),
    case("similarity shapes", lambda tmp: ev.similarity(np.ones((2, 3)), np.ones((2, 4)), "ssim"), ValueError,
         r"maps to compare must have one shape \(N, \.\.\.\), got \(2, 3\) and \(2, 4\)"),
    case("reinitialise a ReLU", lambda tmp: ev.reinitialise(MLP, [1]), ValueError, r"layer 1 \(ReLU\(\)\) has no weights to re-initialise"),
    case("reinitialise layer out of range", lambda tmp: ev.reinitialise(MLP, [7]), ValueError, r"layer 7 is not a layer index"),
    case("model_randomisation mode", lambda tmp: ev.model_randomisation(MLP, lambda net, x: x, X, mode="x"), ValueError, r"unknown mode 'x'"),
    case("model_randomisation explainer not callable", lambda tmp: ev.model_randomisation(MLP, "lrp", X), TypeError, r"explainer"),
]

# --------------------------------------------------------------------------- loaders: lrpref.serialize.load


def saved(tmp, net=None):
    return serialize.save(net or lr.Sequential([lr.Dense(np.eye(2), [0.5, -0.5]), lr.ReLU()]), tmp / "net.npz")


def with_bytes(tmp, data: bytes):
    (tmp / "bad.npz").write_bytes(data)
    return tmp / "bad.npz"


def with_document(tmp, text: str, arrays=None):
    """An archive whose document.json is ``text`` and whose document checksum is right."""
    np.savez(tmp / "bad.npz", **(arrays or {}), **{"document.json": np.array(text),
                                                   "document.sha256": np.array(hashlib.sha256(text.encode()).hexdigest())})
    return tmp / "bad.npz"


def network_file(tmp, layers, arrays=None, **document):
    body = {"format": "lrpref-network", "version": 2, "dtype": "float64", "layers": layers, "meta": {}, **document}
    return write_archive(tmp / "bad.npz", arrays or {}, body)


def tampered(tmp):
    with np.load(saved(tmp), allow_pickle=False) as archive:
        entries = {key: archive[key] for key in archive.files}
    entries["layer0.b"] = entries["layer0.b"] + 1
    np.savez(tmp / "bad.npz", **entries)
    return tmp / "bad.npz"


def forged_header(tmp):
    with zipfile.ZipFile(saved(tmp)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["layer0.W.npy"] = members["layer0.W.npy"].replace(b"(2, 2)", b"(4000000000, 4000000000)")
    with zipfile.ZipFile(tmp / "bad.npz", "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    return tmp / "bad.npz"


DENSE = {"type": "Dense", "arrays": {"W": "layer0.W"}, "settings": {}}
LOAD = serialize.load
LOADERS = [
    case("load a missing file", lambda tmp: LOAD(tmp / "missing.npz"), FileNotFoundError, r"missing\.npz"),
    case("load random bytes", lambda tmp: LOAD(with_bytes(tmp, np.random.default_rng(1).bytes(300))), FileFormatError,
         r"bad\.npz: not a readable lrpref network file \(\.npz\): it starts with neither"),
    case("load an empty file", lambda tmp: LOAD(with_bytes(tmp, b"")), FileFormatError, r"bad\.npz: not a readable lrpref network file"),
    case("load a truncated zip", lambda tmp: LOAD(with_bytes(tmp, saved(tmp).read_bytes()[:200])), FileFormatError, r"bad\.npz: "),
    case("load a .npy", lambda tmp: LOAD((np.save(tmp / "a.npy", np.ones(2)), tmp / "a.npy")[1]), FileFormatError, r"a\.npy: a single \.npy array"),
    case("load another .npz", lambda tmp: LOAD((np.savez(tmp / "o.npz", W=np.ones(2)), tmp / "o.npz")[1]), FileFormatError,
         r"o\.npz: not a lrpref network file: the entry 'document\.json' is missing"),
    case("load the old format", lambda tmp: LOAD((np.savez(tmp / "v1.npz", **{"network.json": np.array("{}")}), tmp / "v1.npz")[1]),
         FileFormatError, r"v1\.npz: an old lrpref network file .* re-save with this version"),
    case("load a tampered array", lambda tmp: LOAD(tampered(tmp)), FileFormatError, r"bad\.npz: the entry 'layer0\.b' does not match its SHA-256"),
    case("load a forged header size", lambda tmp: LOAD(forged_header(tmp)), FileFormatError,
         r"bad\.npz: the entry 'layer0\.W' declares shape \(4000000000, 4000000000\)"),
    case("load a JSON list document", lambda tmp: LOAD(with_document(tmp, "[1, 2]")), FileFormatError,
         r"bad\.npz: the entry 'document\.json' must be a JSON object"),
    case("load invalid JSON", lambda tmp: LOAD(with_document(tmp, "{not json")), FileFormatError,
         r"bad\.npz: the entry 'document\.json' is not valid JSON"),
    case("load deeply nested JSON", lambda tmp: LOAD(with_document(tmp, "[" * 100000)), FileFormatError,
         r"bad\.npz: the entry 'document\.json' is not valid JSON"),
    case("load without dtype and meta", lambda tmp: LOAD(write_archive(tmp / "bad.npz", {"layer0.W": np.eye(2)},
                                                                      {"format": "lrpref-network", "version": 2, "layers": [DENSE]})),
         FileFormatError, r"bad\.npz: the entry 'document\.json' lacks the key\(s\) \['dtype', 'meta'\]"),
    case("load layers as an object", lambda tmp: LOAD(network_file(tmp, {"0": DENSE}, {"layer0.W": np.eye(2)})), FileFormatError,
         r"'layers' must be a non-empty JSON list"),
    case("load a layer as a list", lambda tmp: LOAD(network_file(tmp, [["Dense"]])), FileFormatError,
         r"bad\.npz: layer 0 must be an object with exactly the keys"),
    case("load an unknown layer type", lambda tmp: LOAD(network_file(tmp, [{"type": "Softmax", "arrays": {}, "settings": {}}])),
         FileFormatError, r"bad\.npz: layer 0 has unknown type 'Softmax'"),
    case("load a missing array", lambda tmp: LOAD(network_file(tmp, [{"type": "Dense", "arrays": {}, "settings": {}}])), FileFormatError,
         r"bad\.npz: layer 0 \(Dense\): arguments \[\]; the required \['W'\] are missing"),
    case("load an int array", lambda tmp: LOAD(network_file(tmp, [DENSE], {"layer0.W": np.eye(2, dtype=np.int32)})), FileFormatError,
         r"bad\.npz: layer 0 \(Dense\): the entry 'layer0\.W' is int32; the network is float64"),
    case("load an array of the wrong rank", lambda tmp: LOAD(network_file(tmp, [DENSE], {"layer0.W": np.ones((2, 2, 2))})), FileFormatError,
         r"bad\.npz: layer 0 \(Dense\): Dense W must have 2 dimensions"),
    case("load a NaN weight", lambda tmp: LOAD(network_file(tmp, [DENSE], {"layer0.W": np.full((2, 2), np.nan)})), FileFormatError,
         r"bad\.npz: layer 0 \(Dense\): the entry 'layer0\.W' holds non-finite values"),
    case("load a setting of the wrong type", lambda tmp: LOAD(network_file(
        tmp, [{"type": "LeakyReLU", "arrays": {}, "settings": {"negative_slope": [0.1]}}])), FileFormatError,
        r"bad\.npz: layer 0 \(LeakyReLU\): LeakyReLU: negative_slope must be a finite number, got \[0.1\]"),
    case("save a non-network", lambda tmp: serialize.save([1], tmp / "x.npz"), TypeError,
         r"net must be an lrpref.Sequential or Graph, got list"),
    case("save an unsavable layer", lambda tmp: serialize.save(lr.Sequential([_Unsavable()]), tmp / "x.npz"),
         TypeError, r"layer 0: _Unsavable cannot be saved"),
]


class _Unsavable(lr.Identity):
    """A layer type the file format does not know."""


# --------------------------------------------------------------------------- graphs and overflow

HUGE = lr.Sequential([lr.Dense(np.full((2, 3), 1e30, np.float32)), lr.ReLU(), lr.Dense(np.full((2, 2), 1e30, np.float32))])
_x = lr.Input()
RESIDUAL = lr.Graph(_x, lr.Dense(np.ones((2, 3)))(lr.Add()(lr.ReLU()(lr.Dense(np.eye(3))(_x, name="inner")), _x, name="sum")))

GRAPHS = [
    case("forward overflow", lambda tmp: HUGE.forward(np.ones((1, 3), np.float32)), FloatingPointError,
         r"layer 2 \(Dense\(2→2, no bias\)\): the forward pass overflowed"),
    case("relevance overflow", lambda tmp: lr.explain(HUGE, np.full((1, 3), 1e-30, np.float32), method="ig", steps=3),
         FloatingPointError, r"layer 0 \(Dense\(3→2, no bias\)\): the relevance overflowed"),
    case("steps above the bound", lambda tmp: lr.explain(MLP, X, method="ig", steps=10**9), ValueError,
         r"steps=1000000000 is above lrpref.config.max_steps"),
    case("path work above the bound", lambda tmp: lr.explain(CNN, np.zeros((40000, 1, 5, 5)), method="lid-ig", steps=100_000),
         ValueError, r"steps=100000 on a batch of 40000 computes about .* above lrpref.config.max_path_work"),
    case("layer applied to an array", lambda tmp: lr.ReLU()(X), TypeError, r"input 0 is ndarray.*layer.forward\(x\)"),
    case("Add of one input", lambda tmp: lr.Add()(lr.Input()), TypeError, r"takes two or more inputs, got 1"),
    case("Add of two shapes", lambda tmp: lr.explain(lr.Graph(_x, lr.Add()(lr.Dense(np.ones((2, 3)))(_x), _x, name="s")), X[:, :3]),
         lr.ShapeError, r"node 1 's'.*input 1 has a sample shape \(3,\), input 0 \(2,\)"),
    case("Concat axis 0", lambda tmp: lr.Concat(0), ValueError, r"axis must be an int >= 1"),
    case("Concat shapes", lambda tmp: lr.Concat(1).output_shape((2, 3, 3), (2, 4, 3)), lr.ShapeError, r"may differ only along axis 1"),
    case("node name taken", lambda tmp: lr.Graph.from_nodes([("a", lr.ReLU(), ["input"]), ("a", lr.Tanh(), ["a"])]), ValueError,
         r"the name 'a' is taken"),
    case("node reading nothing known", lambda tmp: lr.Graph.from_nodes([("a", lr.ReLU(), ["z"])]), ValueError,
         r"node 0 'a' reads 'z'"),
    case("dead node", lambda tmp: lr.Graph.from_nodes([("a", lr.ReLU(), ["input"]), ("b", lr.Tanh(), ["input"])]), ValueError,
         r"\['a'\] do not reach the output"),
    case("second input", lambda tmp: lr.Graph(_x, lr.Add()(_x, lr.Input("other"))), ValueError, r"depends on another input"),
    case("composite unknown node name", lambda tmp: lr.explain(RESIDUAL, X, rule=lr.Composite(default=lr.LRP0(), layers={"x": lr.LRP0()})),
         KeyError, r"no node of that name"),
    case("pass rule on a sum", lambda tmp: lr.explain(RESIDUAL, X, rule=lr.Composite(default=lr.LRP0(), layers={"sum": lr.Pass()})),
         TypeError, r"node 2 'sum' \(Add\(\)\): the rule Pass\(\) applies to layers that pass relevance through"),
    case("cam at an unknown node", lambda tmp: lr.explain(RESIDUAL, X, method="grad-cam", layer="nope"), KeyError,
         r"no node named 'nope'"),
    case("SumSplit mode", lambda tmp: lr.SumSplit("half"), ValueError, r"SumSplit: mode must be one of"),
    case("rule made immutable", lambda tmp: setattr(lr.Epsilon(0.1), "epsilon", 0.5), AttributeError,
         r"Epsilon\(0.1\) is immutable"),
]

AREAS = {"graphs and overflow": GRAPHS, "explain targets": EXPLAIN_TARGETS, "explain inputs": EXPLAIN_INPUTS, "explain options": EXPLAIN_OPTIONS,
         "rules": RULES, "layers": LAYERS, "networks": NETWORK, "composites and presets": COMPOSITES, "verify": VERIFY,
         "evaluate": EVALUATE, "loaders": LOADERS}
CASES = [(area, c) for area, cases in AREAS.items() for c in cases]


def _param(area, c):
    marks = [pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=c.xfail)] if c.xfail else []
    return pytest.param(c, id=f"{area}: {c.id}", marks=marks)


@pytest.mark.parametrize("c", [_param(area, c) for area, c in CASES])
def test_bad_input_is_a_clear_error(c, tmp_path):
    try:
        c.call(tmp_path)
    except c.error as error:
        if not re.search(c.message, str(error)):
            pytest.fail(f"{type(error).__name__} does not say what is wrong (expected /{c.message}/): {error}")
        return
    except Exception as error:  # noqa: BLE001 - any other exception is the wrong one
        pytest.fail(f"expected {c.error.__name__} /{c.message}/, got {type(error).__name__}: {error}")
    pytest.fail(f"no error: expected {c.error.__name__} /{c.message}/")


def test_the_table():
    ids = [f"{area}: {c.id}" for area, c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) - sum(bool(c.xfail) for _, c in CASES) >= 150
    assert all(c.message and issubclass(c.error, BaseException) for _, c in CASES)
