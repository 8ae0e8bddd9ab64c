"""LRP rules as small values (math.md §3).

A rule for an affine layer (``y = W a + b``) is written once, in the generic form of
math.md §3.0, as one or more **groups**. Each group ``g`` has a coefficient ``c_g``, a list
of **terms** ``t`` = (input part ``x_t = in_t(a)``, weight modifier ``rho_t``), a bias
modifier ``beta_g`` (or none) and optionally a selector on the sign of the unmodified
output ``z``. The four steps (math.md §3.0, Montavon et al. 2019) are, per group,

1. ``D_g = sum_t rho_t(W) x_t + beta_g(b)``  and  ``S_g = stabilise(D_g)``
2. ``s_g = c_g * R / S_g``  (0 where ``S_g = 0`` or the selector excludes the neuron)
3. ``c_t = rho_t(W)^T s_g``
4. ``R_in = sum_g sum_t x_t * c_t``

and the message matrix is ``M = sum_g sum_t diag(s_g) rho_t(W) diag(x_t)``. The engine
(:mod:`lrpref.propagate`) runs this definition on the fast path (layer operators) and on
the explicit path (the layer as a matrix). Rules for other layers: :class:`Pass`
(element-wise layers, Flatten), :class:`WinnerTakesAll` and :class:`Proportional`
(max-pooling).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import numpy as np

from ._fast import kernels as _kernels
from .modifiers import IDENTITY, NEGATED, NEGATIVE, ONES, POSITIVE, SQUARE, Modifier

__all__ = [
    "Rule", "LinearRule", "Stabiliser", "Modifier", "InputPart", "Term", "Group",
    "LRP0", "Epsilon", "Gamma", "AlphaBeta", "ZPlus", "ZBox", "WSquare", "Flat", "SumSplit",
    "Pass", "WinnerTakesAll", "Surrogate", "Proportional",
]


# --------------------------------------------------------------------------- input parts


@dataclass(frozen=True, eq=False)
class InputPart:
    """Which part of the layer input ``a`` a term multiplies: ``a``, ``a⁺``, ``a⁻``, ones, or ``-bound``."""

    kind: str  # "identity", "positive", "negative", "ones", "bound"
    bound: object = None  # for "bound": the array or scalar whose negative is used (zB's -l and -h)
    label: str = ""

    def __call__(self, a):
        """The part for a batch ``a``; None when it is identically zero (the term is skipped)."""
        if self.kind == "identity":
            return a
        if self.kind == "positive":
            return a if a.min() >= 0 else np.maximum(a, 0)
        if self.kind == "negative":
            return None if a.min() >= 0 else np.minimum(a, 0)
        if self.kind == "ones":
            return np.ones_like(a)
        return np.broadcast_to(-np.asarray(self.bound, dtype=a.dtype), a.shape[1:])[None].repeat(a.shape[0], 0)

    def __str__(self):
        return {"identity": "a", "positive": "a⁺", "negative": "a⁻", "ones": "1"}.get(self.kind, self.label)


A, A_POS, A_NEG, A_ONES = InputPart("identity"), InputPart("positive"), InputPart("negative"), InputPart("ones")


@dataclass(frozen=True)
class Term:
    """One product ``rho(W) x`` inside a group."""

    input: InputPart
    weight: Modifier

    def __str__(self):
        return f"({self.weight})·{self.input}"


@dataclass(frozen=True)
class Group:
    """Terms sharing one denominator ``D = sum_t rho_t(W) x_t + beta(b)``, scaled by ``coefficient``.

    ``where`` selects the neurons the group applies to by the sign of the unmodified output
    ``z`` (``"positive"``: z > 0, ``"negative"``: z < 0, None: all).
    """

    coefficient: float
    terms: tuple
    bias: Modifier | None
    where: str | None = None

    @property
    def is_plain(self) -> bool:
        """The group is the layer's own forward map (``D = W a + b``)."""
        return (len(self.terms) == 1 and self.terms[0].input.kind == "identity"
                and self.terms[0].weight.is_identity and self.bias is not None
                and self.bias.is_identity and self.where is None)

    def __str__(self):
        bias = "" if self.bias is None else f" + {str(self.bias).replace('w', 'b')}"
        where = "" if self.where is None else f" where z {'>' if self.where == 'positive' else '<'} 0"
        return f"{self.coefficient:g} × [{' + '.join(map(str, self.terms))}{bias}]{where}"


# --------------------------------------------------------------------------- stabiliser


_FORMS = {"signed": _kernels.SIGNED, "unsigned": _kernels.UNSIGNED, "zeros": _kernels.ZEROS}


@dataclass(frozen=True)
class Stabiliser:
    """``S = D + eps * sgn0(D)`` (signed, sgn0(0) = +1) or ``S = D + eps`` (unsigned), math.md §3.2, §10.

    ``sign="zeros"`` replaces only exact zeros, ``S = D + eps·[D = 0]`` (iNNvestigate's
    ``safe_divide``, math.md §P1.3). ``scale="rms"`` multiplies eps by ``sqrt(mean(D**2))`` over
    each sample's outputs (the tutorial's "0.1 std", math.md §15.3). ``eps = 0`` is safe division:
    a zero denominator drops its relevance, which the ledger reports as ``dropped``. The
    unsigned form falls back to the signed one where ``D = -eps`` exactly (math.md §3.2 (d)).
    """

    epsilon: float = 0.0
    sign: str = "signed"
    scale: str = "fixed"

    def __post_init__(self):
        if not np.isfinite(self.epsilon) or self.epsilon < 0:
            raise ValueError(f"the stabiliser epsilon must be a finite number >= 0, got {self.epsilon}")
        if self.sign not in _FORMS:
            raise ValueError(f"sign must be one of {sorted(_FORMS)}, got {self.sign!r}")
        if self.scale not in ("fixed", "rms"):
            raise ValueError(f"scale must be 'fixed' or 'rms', got {self.scale!r}")

    @property
    def form(self) -> int:
        """The form as the kernels take it."""
        return _FORMS[self.sign]

    def epsilon_per_sample(self, D: np.ndarray) -> np.ndarray:
        """The ε of every sample of a batch of denominators ``D`` (batch axis first)."""
        eps = np.full(D.shape[0], self.epsilon, dtype=D.dtype)
        if self.scale == "rms" and self.epsilon:
            flat = D.reshape(D.shape[0], -1)
            eps *= np.sqrt(np.einsum("ij,ij->i", flat, flat) / max(flat.shape[1], 1)).astype(D.dtype)
        return eps

    def __call__(self, D: np.ndarray) -> np.ndarray:
        """Stabilise a batch of denominators ``D`` (batch axis first)."""
        if self.epsilon == 0:
            return D
        flat = np.ascontiguousarray(D.reshape(D.shape[0], -1))
        return _kernels.stabilise(flat, self.epsilon_per_sample(D), self.form).reshape(D.shape)

    def __str__(self):
        if self.epsilon == 0:
            return "none (safe division)"
        eps = f"{self.epsilon:g}" + ("·RMS(z)" if self.scale == "rms" else "")
        return {"signed": f"z + {eps}·sgn0(z)", "unsigned": f"z + {eps}", "zeros": f"z + {eps}·[z = 0]"}[self.sign]


def _stabiliser(epsilon) -> Stabiliser:
    """A rule's stabiliser from ``epsilon``: a number (the signed form) or a :class:`Stabiliser`."""
    return epsilon if isinstance(epsilon, Stabiliser) else Stabiliser(float(epsilon))


# --------------------------------------------------------------------------- rules


class Rule:
    """Base class of all rules: immutable values whose parameters are their constructor's arguments.

    ``requires`` names the layer capability the rule needs (:class:`lrpref.layers.Layer`).
    ``params()`` reads the parameters from the constructor's signature; after construction a
    rule cannot be changed (``rule.epsilon = 0.5`` raises), so what ``describe()`` prints is what runs.
    """

    requires = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            constructor = cls.__dict__["__init__"]

            @functools.wraps(constructor)
            def init(self, *args, **kwargs):
                constructor(self, *args, **kwargs)
                if type(self) is cls:
                    object.__setattr__(self, "_frozen", True)

            cls.__init__ = init

    def __setattr__(self, name, value):
        if self.__dict__.get("_frozen"):
            raise AttributeError(f"{self.describe()} is immutable: make a new rule instead of setting {name!r}")
        object.__setattr__(self, name, value)

    def params(self) -> dict:
        """The constructor's arguments as this rule holds them (read from the signature)."""
        return {name: getattr(self, name) for name in _parameter_names(type(self))}

    def check_dtype(self, dtype, where: str) -> None:
        """Raise when a numeric parameter is not finite in the network's ``dtype`` (e.g. ε = 1e300 in float32)."""
        for name, value in self.params().items():
            if isinstance(value, Rule):
                value.check_dtype(dtype, where)
                continue
            if isinstance(value, (bool, str)) or value is None or callable(value) or isinstance(value, tuple):
                continue
            if isinstance(value, Stabiliser):
                value = value.epsilon
            with np.errstate(over="ignore"):
                cast = np.asarray(value).astype(dtype)
            if not np.all(np.isfinite(cast)):
                raise ValueError(f"{where}: the rule {self.describe()} has {name} = {value!r}, which is not finite in "
                                 f"{np.dtype(dtype)} (the network's dtype); use a value within its range")

    def __repr__(self):
        return self.describe()

    def describe(self) -> str:
        return type(self).__name__ + "()"


@functools.cache
def _parameter_names(cls) -> tuple:
    """The names of a rule class's constructor arguments (its signature, read once per class)."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return tuple(p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def _finite(value, name: str, owner: str, minimum: float | None = None) -> float:
    """``value`` as a float, refusing NaN, ±inf (and values below ``minimum``) with a message that names the parameter."""
    what = "a finite number" + ("" if minimum is None else f" >= {minimum:g}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}") from None
    if not np.isfinite(number) or minimum is not None and number < minimum:
        raise ValueError(f"{owner}: {name} must be {what}, got {number}")
    return number


class LinearRule(Rule):
    """A rule for affine layers: ``groups`` (math.md §3.0) and a :class:`Stabiliser`."""

    requires = "linear"

    groups: tuple = ()
    stabiliser: Stabiliser = Stabiliser()

    def check_input(self, a: np.ndarray, where: str) -> None:
        """Raise when the rule is undefined for the layer input ``a`` (overridden by γ, z⁺, zᴮ)."""

    def formula(self) -> str:
        """The rule as text: its groups and its stabiliser."""
        return " + ".join(map(str, self.groups)) + f"; stabiliser {self.stabiliser}"


def _require_non_negative(a, rule_text, where, alternatives):
    low = a.min()
    if low < 0:
        raise ValueError(f"{rule_text} is defined for non-negative inputs, but the input of {where} has "
                         f"{int(np.count_nonzero(a < 0))} negative values (min {low:.6g}). {alternatives}")


class LRP0(LinearRule):
    """LRP-0 (Bach 2015 eq. 56; math.md §3.1): ``R_i = sum_j a_i w_ji / z_j * R_j``, ``z_j = sum_i a_i w_ji + b_j``.

    The bias enters the denominator only (it absorbs ``R_j b_j / z_j``); a zero denominator
    drops ``R_j`` (safe division, reported). ``M = diag(R/z) W diag(a)``.
    """

    def __init__(self):
        self.groups = (Group(1.0, (Term(A, IDENTITY),), IDENTITY),)
        self.stabiliser = Stabiliser(0.0)


class Epsilon(LinearRule):
    """LRP-ε (Bach 2015 eq. 58; math.md §3.2): ``R_i = sum_j a_i w_ji / (z_j + eps sgn0(z_j)) * R_j``.

    ``sign="unsigned"`` uses ``z_j + eps`` (Montavon 2019), ``sign="zeros"`` ``z_j + eps [z_j = 0]``
    (iNNvestigate's safe division); ``scale="rms"`` uses ``eps * sqrt(mean_j z_j²)`` (the
    tutorial's "0.1 std"). Absorbed per neuron: ``R_j (b_j + eps sgn0 z_j) / (z_j + eps sgn0 z_j)``.
    ``bias=False`` leaves the bias out of ``z_j`` (zennit's ``zero_params='bias'``,
    iNNvestigate's ``bias=False``).
    """

    def __init__(self, epsilon: float = 1e-6, sign: str = "signed", scale: str = "fixed", bias: bool = True):
        self.epsilon, self.bias = _finite(epsilon, "epsilon", "Epsilon", 0), bool(bias)
        self.sign, self.scale = sign, scale
        self.groups = (Group(1.0, (Term(A, IDENTITY),), IDENTITY if self.bias else None),)
        self.stabiliser = Stabiliser(self.epsilon, sign, scale)

    def describe(self):
        extra = "".join([f", sign={self.stabiliser.sign!r}" if self.stabiliser.sign != "signed" else "",
                         ", scale='rms'" if self.stabiliser.scale == "rms" else "",
                         "" if self.bias else ", bias=False"])
        return f"Epsilon({self.epsilon:g}{extra})"


def _bias_modifier(bias, boosted: Modifier, rule: str) -> Modifier | None:
    """The bias modifier of γ and z⁺: ``True`` the rule's own (``boosted``), ``False`` none, ``"plain"`` the bias as it is."""
    if not isinstance(bias, str):
        return boosted if bias else None
    if bias == "plain":
        return IDENTITY
    raise ValueError(f"{rule}: bias must be True, False or 'plain', got {bias!r}")


def _bias_option(bias):
    return bias if isinstance(bias, str) else bool(bias)


def _bias_text(bias, default) -> str:
    return "" if bias == default else f", bias={bias!r}"


class Gamma(LinearRule):
    """LRP-γ (Montavon 2019; math.md §3.3).

    ``mode="classic"``: ``R_i = sum_j a_i (w_ji + γ w_ji⁺) / (sum_i' a_i' (w_ji' + γ w_ji'⁺) + b_j + γ b_j⁺) R_j``,
    defined for ``a >= 0`` (an error otherwise); ``bias=False`` drops the bias term and
    ``bias="plain"`` adds ``b_j`` unmodified (captum's ``GammaRule``, γ on the weights only).

    ``mode="generalised"`` (zennit's ``Gamma``, Andéol et al. 2021; math.md §P1.1): with
    ``w↑ = w + γw⁺`` and ``w↓ = w + γw⁻``, neurons with ``z_j > 0`` use contributions
    ``a⁺ w↑ + a⁻ w↓`` and bias ``b + γb⁺``; neurons with ``z_j < 0`` use ``a⁺ w↓ + a⁻ w↑`` and
    ``b + γb⁻``; neurons with ``z_j = 0`` are dropped. For ``a >= 0`` and ``z_j > 0`` both modes agree.

    ``check_inputs=False`` applies the classic formula to signed inputs too, as captum does
    (it is then no longer the γ rule of the paper: negative inputs get boosted positive weights).
    """

    def __init__(self, gamma: float = 0.25, bias=True, mode: str = "classic", epsilon=0.0, check_inputs: bool = True):
        gamma = _finite(gamma, "gamma", "Gamma", 0)
        if mode not in ("classic", "generalised"):
            raise ValueError(f"Gamma: mode must be 'classic' or 'generalised', got {mode!r}")
        self.gamma, self.bias, self.mode, self.check_inputs = float(gamma), _bias_option(bias), mode, bool(check_inputs)
        up, down = Modifier("gamma_up", self.gamma), Modifier("gamma_down", self.gamma)
        if mode == "classic":
            self.groups = (Group(1.0, (Term(A, up),), _bias_modifier(bias, up, "Gamma")),)
        else:
            self.groups = (
                Group(1.0, (Term(A_POS, up), Term(A_NEG, down)), _bias_modifier(bias, up, "Gamma"), "positive"),
                Group(1.0, (Term(A_POS, down), Term(A_NEG, up)), _bias_modifier(bias, down, "Gamma"), "negative"),
            )
        self.epsilon = epsilon
        self.stabiliser = _stabiliser(epsilon)

    def check_input(self, a, where):
        if self.mode == "classic" and self.check_inputs:
            _require_non_negative(a, "LRP-γ (classic)", where,
                                  "Use Gamma(mode='generalised') (zennit's form for signed inputs), or ZBox/WSquare for an input layer.")

    def describe(self):
        extra = (_bias_text(self.bias, True) + ("" if self.mode == "classic" else ", mode='generalised'")
                 + ("" if self.check_inputs else ", check_inputs=False"))
        return f"Gamma({self.gamma:g}{extra})"


class AlphaBeta(LinearRule):
    """LRP-αβ (Bach 2015 eq. 60; math.md §3.4) on the products ``z_ji = a_i w_ji``.

    ``R_i = sum_j (α z_ji⁺ / z_j⁺ - β z_ji⁻ / z_j⁻) R_j`` with ``z_j^± = sum_i z_ji^± + b_j^±``
    (``bias="ignore"`` drops ``b^±``). ``z_ji⁺ = a⁺w⁺ + a⁻w⁻`` and ``z_ji⁻ = a⁺w⁻ + a⁻w⁺``.
    ``bias="full"`` puts the whole bias ``b_j`` into both denominators — iNNvestigate 2.1's
    behaviour (its issue #273, a bug: with ``b_j < 0`` the positive denominator can vanish).

    ``convention="modern"`` (default, zennit): α − β = 1, β ≥ 0. ``convention="toolbox"``
    (Bach 2015 / LRP toolbox): α + β = 1 and the β-term is added, ``+ β z_ji⁻ / z_j⁻``; the two
    agree with ``β_toolbox = −β_modern`` (α2β1 ≡ toolbox α=2, β=−1). A zero ``z_j^±`` drops its
    term (math.md §3.4 (d)), which the ledger reports.
    """

    def __init__(self, alpha: float = 2.0, beta: float = 1.0, bias: str = "include",
                 convention: str = "modern", epsilon=0.0):
        alpha, beta = _finite(alpha, "alpha", "AlphaBeta"), _finite(beta, "beta", "AlphaBeta")
        biases = {"include": (POSITIVE, NEGATIVE), "ignore": (None, None), "full": (IDENTITY, IDENTITY)}
        if bias not in biases:
            raise ValueError(f"AlphaBeta: bias must be one of {sorted(biases)}, got {bias!r}")
        if convention == "modern":
            if abs(alpha - beta - 1) > 1e-12 or beta < 0:
                raise ValueError(f"AlphaBeta(alpha={alpha:g}, beta={beta:g}): the modern convention needs alpha - beta = 1 "
                                 f"and beta >= 0 (got alpha - beta = {alpha - beta:g}); for the LRP toolbox's alpha + beta = 1 "
                                 f"pass convention='toolbox'")
            beta_coefficient = -beta
        elif convention == "toolbox":
            if abs(alpha + beta - 1) > 1e-12:
                raise ValueError(f"AlphaBeta(alpha={alpha:g}, beta={beta:g}, convention='toolbox') needs alpha + beta = 1 "
                                 f"(got {alpha + beta:g})")
            beta_coefficient = beta
        else:
            raise ValueError(f"AlphaBeta: convention must be 'modern' or 'toolbox', got {convention!r}")
        self.alpha, self.beta, self.bias, self.convention = alpha, beta, bias, convention
        positive_bias, negative_bias = biases[bias]
        self.groups = (
            Group(alpha, (Term(A_POS, POSITIVE), Term(A_NEG, NEGATIVE)), positive_bias),
            Group(beta_coefficient, (Term(A_POS, NEGATIVE), Term(A_NEG, POSITIVE)), negative_bias),
        )
        self.epsilon = epsilon
        self.stabiliser = _stabiliser(epsilon)

    def describe(self):
        extra = ("" if self.bias == "include" else f", bias={self.bias!r}") + ("" if self.convention == "modern" else ", convention='toolbox'")
        return f"AlphaBeta({self.alpha:g}, {self.beta:g}{extra})"


class ZPlus(LinearRule):
    """The z⁺ rule (DTD, Montavon 2017; math.md §3.5).

    ``mode="dtd"``: ``R_i = sum_j a_i w_ji⁺ / sum_i' a_i' w_ji'⁺ R_j`` (bias ignored), defined for
    ``a >= 0``. ``mode="products"`` (zennit's ``ZPlus``): contributions ``a⁺w⁺ + a⁻w⁻``, valid for
    signed inputs. ``bias=True`` adds ``b⁺`` to the denominator (zennit); ``bias="plain"`` adds the
    whole ``b`` — captum's ``Alpha1_Beta0_Rule`` (its issue #1234, a bug: with ``b < 0`` the
    denominator can vanish or turn negative). ``check_inputs=False`` applies the DTD form to
    signed inputs too, as captum and iNNvestigate's ``ZPlusFast`` do.
    """

    def __init__(self, mode: str = "dtd", bias=False, epsilon=0.0, check_inputs: bool = True):
        if mode not in ("dtd", "products"):
            raise ValueError(f"ZPlus: mode must be 'dtd' or 'products', got {mode!r}")
        self.mode, self.bias, self.check_inputs = mode, _bias_option(bias), bool(check_inputs)
        terms = (Term(A, POSITIVE),) if mode == "dtd" else (Term(A_POS, POSITIVE), Term(A_NEG, NEGATIVE))
        self.groups = (Group(1.0, terms, _bias_modifier(bias, POSITIVE, "ZPlus")),)
        self.epsilon = epsilon
        self.stabiliser = _stabiliser(epsilon)

    def check_input(self, a, where):
        if self.mode == "dtd" and self.check_inputs:
            _require_non_negative(a, "The z⁺ rule (DTD)", where,
                                  "Use ZPlus(mode='products') (zennit's form), or ZBox/WSquare for an input layer.")

    def describe(self):
        extra = (("" if self.mode == "dtd" else ", mode='products'") + _bias_text(self.bias, False)
                 + ("" if self.check_inputs else ", check_inputs=False"))
        return f"ZPlus({extra.lstrip(', ')})"


class ZBox(LinearRule):
    """The zᴮ rule (DTD; math.md §3.6) for inputs bounded by ``low <= x <= high``.

    ``R_i = sum_j (x_i w_ji - l_i w_ji⁺ - h_i w_ji⁻) / sum_i' (x_i' w_ji' - l_i' w_ji'⁺ - h_i' w_ji'⁻) R_j``,
    bias ignored. ``low`` and ``high`` are scalars or arrays broadcastable to one input sample
    (per element or per channel, e.g. shape (C, 1, 1)). Inputs outside the box are an error.
    """

    def __init__(self, low, high, epsilon=0.0):
        low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("ZBox: low and high must be finite")
        try:
            violations = np.broadcast_to(low > high, np.broadcast_shapes(low.shape, high.shape))
        except ValueError as error:
            raise ValueError(f"ZBox: low {low.shape} and high {high.shape} do not broadcast together") from error
        if violations.any():
            raise ValueError(f"ZBox: low > high at {int(violations.sum())} position(s); the box must have low <= high")
        self.low, self.high = low, high
        self.groups = (Group(1.0, (Term(A, IDENTITY),
                                   Term(InputPart("bound", low, "(-l)"), POSITIVE),
                                   Term(InputPart("bound", high, "(-h)"), NEGATIVE)), None),)
        self.epsilon = epsilon
        self.stabiliser = _stabiliser(epsilon)

    def check_input(self, a, where):
        try:
            low = np.broadcast_to(self.low, a.shape[1:])
            high = np.broadcast_to(self.high, a.shape[1:])
        except ValueError as error:
            raise ValueError(f"ZBox: bounds of shape {self.low.shape}/{self.high.shape} do not broadcast to the "
                             f"input of {where}, a sample of shape {a.shape[1:]}") from error
        outside = (a < low) | (a > high)
        if outside.any():
            raise ValueError(f"ZBox: the input of {where} lies outside [low, high] at {int(outside.sum())} position(s) "
                             f"(min x - low = {float(np.min(a - low)):.6g}, max x - high = {float(np.max(a - high)):.6g}); "
                             f"widen the bounds to the real input range")

    def describe(self):
        show = lambda v: f"{float(v):g}" if v.ndim == 0 else f"array{v.shape}"  # noqa: E731
        return f"ZBox({show(self.low)}, {show(self.high)})"


class WSquare(LinearRule):
    """The w² rule (DTD; math.md §3.7): ``R_i = sum_j w_ji² / sum_i' w_ji'² R_j`` (input-independent).

    ``bias=True`` adds ``b_j²`` to the denominator (zennit's default, math.md §P1.1).
    """

    def __init__(self, bias: bool = False, epsilon=0.0):
        self.bias = bool(bias)
        self.groups = (Group(1.0, (Term(A_ONES, SQUARE),), SQUARE if bias else None),)
        self.epsilon = epsilon
        self.stabiliser = _stabiliser(epsilon)

    def describe(self):
        return "WSquare(bias=True)" if self.bias else "WSquare()"


class Flat(LinearRule):
    """The flat rule (math.md §3.7): ``R_i = sum_j 1[i in RF(j)] / |RF(j)| R_j``, uniform over the receptive field.

    The receptive field counts the real (non-padding) taps, as zennit does.
    """

    def __init__(self, epsilon=0.0):
        self.groups = (Group(1.0, (Term(A_ONES, ONES),), None),)
        self.epsilon = epsilon
        self.stabiliser = _stabiliser(epsilon)


class SumSplit(LinearRule):
    """How a sum ``y = sum_e x_e`` (:class:`~lrpref.Add`) splits its relevance among the summands.

    * ``"proportional"`` (default; zennit's ``Sum`` with ``Norm``): ``R_e = x_e / (sum_k x_k + ε sgn0(·)) · R``,
      LRP-ε on the sum;
    * ``"equal"``: ``R_e = R / n`` for ``n`` summands (the flat rule on the sum; its denominator ``n`` needs no ε);
    * ``"absolute"``: ``R_e = |x_e| / (sum_k |x_k| + ε) · R``, so no summand gets relevance of the opposite sign.

    On any other affine layer the same groups apply to its weights (``w·x``, ``1``, ``w·|x|``).
    """

    MODES = ("proportional", "equal", "absolute")

    def __init__(self, mode: str = "proportional", epsilon: float = 1e-6):
        if mode not in self.MODES:
            raise ValueError(f"SumSplit: mode must be one of {self.MODES}, got {mode!r}")
        self.mode, self.epsilon = mode, float(epsilon)
        terms = {"proportional": (Term(A, IDENTITY),), "equal": (Term(A_ONES, ONES),),
                 "absolute": (Term(A_POS, IDENTITY), Term(A_NEG, NEGATED))}[mode]
        self.groups = (Group(1.0, terms, IDENTITY if mode == "proportional" else None),)
        self.stabiliser = Stabiliser(0.0 if mode == "equal" else self.epsilon)

    def describe(self):
        shown = self.mode != "equal" and self.epsilon != 1e-6
        return f"SumSplit({self.mode!r}{f', epsilon={self.epsilon:g}' if shown else ''})"


class Pass(Rule):
    """Pass-through (math.md §3.8): relevance routed unchanged, ``R(Y^{l-1}) = R(Y^l)``, ``M = diag(R)`` for element-wise
    layers and Flatten; ``Concat`` gives each input its slice, ``M_e = diag(R) S_e``."""

    requires = "pass"


class WinnerTakesAll(Rule):
    """Max-pooling, winner takes all (math.md §3.9): ``M_ji = R_j 1[i = argmax_{win(j)} a]``.

    ``ties="first"``: the first maximum in row-major window order (PyTorch's gradient);
    ``ties="split"``: shared equally among tied maxima (LRP toolbox, CLRP code).

    ``epsilon > 0`` is LRP-ε on the selection map (captum's default ``EpsilonRule`` on
    max-pooling, math.md §P1.2): the winner gets ``R_j y_j / (y_j + ε sgn0(y_j))`` and the
    stabiliser absorbs the rest (all of ``R_j`` where the window maximum is 0).
    """

    requires = "winners"

    def __init__(self, ties: str = "first", epsilon: float = 0.0):
        if ties not in ("first", "split"):
            raise ValueError(f"WinnerTakesAll: ties must be 'first' or 'split', got {ties!r}")
        self.ties = ties
        self.epsilon = _finite(epsilon, "epsilon", "WinnerTakesAll", 0)
        self.selection_rule = Epsilon(self.epsilon) if self.epsilon else None

    def describe(self):
        extra = ("" if self.ties == "first" else "ties='split'") + (f", epsilon={self.epsilon:g}" if self.epsilon else "")
        return f"WinnerTakesAll({extra.lstrip(', ')})"


class Surrogate(Rule):
    """A linear ``rule`` applied to a stand-in affine map of the layer, ``surrogate(layer)``.

    The layer's own forward pass fixes the relevance ``R`` of its output; the rule's
    denominators and messages come from the surrogate at the layer's input. ``layer_types``
    are the layers it applies to, ``label`` says what the surrogate is.
    """

    def __init__(self, rule: LinearRule, surrogate, layer_types: tuple, label: str):
        if not isinstance(rule, LinearRule):
            raise TypeError(f"{type(self).__name__} needs a rule for affine layers, got {rule!r}")
        self.rule, self.surrogate, self.layer_types, self.label = rule, surrogate, tuple(layer_types), label

    def describe(self):
        return f"{self.label}({self.rule.describe()})"


class Proportional(Surrogate):
    """Max-pooling treated as a window sum in the backward pass (math.md §3.9, ``maxpool_lrp="avg"``).

    The linear ``rule`` (default LRP-0) is applied to ``y_j = sum_{i in win(j)} a_i``, so
    ``M_ji = R_j a_i / sum_{i' in win(j)} a_i'`` under LRP-0.
    """

    def __init__(self, rule: LinearRule | None = None):
        from .layers import MaxPool2d  # here: the layers module imports the rules (their defaults)

        super().__init__(LRP0() if rule is None else rule, lambda pool: pool.window_sum, (MaxPool2d,), "Proportional")
