"""Bad input gets a clear error that names the problem (one test per case)."""

import numpy as np
import pytest

import lrpref as lr

rng = np.random.default_rng(6)


def mlp(dtype=np.float64):
    return lr.Sequential([lr.Dense(rng.normal(size=(4, 3)), rng.normal(size=4), dtype=dtype), lr.ReLU(),
                          lr.Dense(rng.normal(size=(2, 4)), rng.normal(size=2), dtype=dtype)])


def cnn():
    return lr.Sequential([lr.Conv2d(rng.normal(size=(2, 1, 3, 3)), None), lr.ReLU(), lr.Flatten(),
                          lr.Dense(rng.normal(size=(2, 2 * 3 * 3)))])


# ---------------------------------------------------------------- shapes


def test_wrong_input_shape_names_the_layer():
    with pytest.raises(lr.ShapeError, match=r"^layer 0: Dense\(3→4\) expects input \(N, 3\); got a sample shape \(5,\)$"):
        lr.explain(mlp(), np.zeros((1, 5)))


def test_image_into_dense_suggests_flatten():
    net = lr.Sequential([lr.Dense(rng.normal(size=(2, 12)))])
    with pytest.raises(lr.ShapeError, match="add Flatten"):
        lr.explain(net, np.zeros((1, 3, 2, 2)))


def test_wrong_channel_count():
    with pytest.raises(lr.ShapeError, match=r"expects 1 input channels; got a sample shape \(3, 5, 5\)"):
        lr.explain(cnn(), np.zeros((1, 3, 5, 5)))


def test_image_too_small_for_the_kernel():
    with pytest.raises(lr.ShapeError, match="too small"):
        lr.explain(cnn(), np.zeros((1, 1, 2, 2)))


def test_missing_batch_axis():
    with pytest.raises(ValueError, match="leading batch axis"):
        lr.explain(mlp(), np.zeros(3))


def test_empty_batch():
    with pytest.raises(ValueError, match="empty batch"):
        lr.explain(mlp(), np.zeros((0, 3)))


def test_parameter_shapes():
    with pytest.raises(lr.ShapeError, match=r"W is \(2, 3\) \(out, in\) but b has 3 entries"):
        lr.Dense(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(lr.ShapeError, match="must have 4 dimensions"):
        lr.Conv2d(np.zeros((2, 3, 3)))
    with pytest.raises(lr.ShapeError, match="not divisible into 2 groups"):
        lr.Conv2d(np.zeros((3, 1, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="padding"):
        lr.MaxPool2d(2, padding=2)


# ---------------------------------------------------------------- dtypes


def test_dtype_mismatch_is_never_mixed_silently():
    with pytest.raises(TypeError, match="input x is float64 but the network is float32"):
        lr.explain(mlp(np.float32), np.zeros((1, 3)))


def test_integer_input_is_refused():
    with pytest.raises(TypeError, match="input x must be float32 or float64, got int64"):
        lr.explain(mlp(), np.zeros((1, 3), dtype=np.int64))


def test_mixed_dtype_network():
    with pytest.raises(TypeError, match="mixed dtypes"):
        lr.Sequential([lr.Dense(np.zeros((2, 2)), dtype=np.float32), lr.Dense(np.zeros((2, 2)))])


# ---------------------------------------------------------------- non-finite values


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad):
    x = np.zeros((2, 3))
    x[1, 2] = bad
    with pytest.raises(ValueError, match=r"input x contains 1 non-finite value\(s\) .* at index \(1, 2\)"):
        lr.explain(mlp(), x)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights(bad):
    W = np.ones((2, 3))
    W[0, 1] = bad
    with pytest.raises(ValueError, match="Dense W contains 1 non-finite"):
        lr.Dense(W)
    with pytest.raises(ValueError, match="BatchNorm var contains"):
        lr.BatchNorm(np.zeros(2), [1.0, bad])


def test_non_finite_explicit_top_relevance():
    with pytest.raises(ValueError, match="explicit top relevance contains"):
        lr.explain(mlp(), np.zeros((1, 3)), target=np.array([[np.nan, 1.0]]))


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize("target", [2, -1, [0, 5]])
def test_target_out_of_range(target):
    with pytest.raises(ValueError, match=r"out of range: the output has 2 classes \(0\.\.1\)"):
        lr.explain(mlp(), np.zeros((2, 3)), target=target)


def test_target_wrong_length():
    with pytest.raises(ValueError, match="target has 3 entries for a batch of 2"):
        lr.explain(mlp(), np.zeros((2, 3)), target=[0, 1, 1])


def test_explicit_top_relevance_wrong_shape():
    with pytest.raises(ValueError, match=r"output's shape \(2, 2\)"):
        lr.explain(mlp(), np.zeros((2, 3)), target=np.ones((2, 3)))


def test_target_of_wrong_type():
    with pytest.raises(TypeError, match="target must be"):
        lr.explain(mlp(), np.zeros((2, 3)), target=True)


# ---------------------------------------------------------------- rules


def test_gamma_on_signed_inputs():
    x = np.array([[1.0, -2.0, 0.5]])
    with pytest.raises(ValueError, match=r"LRP-γ \(classic\) is defined for non-negative inputs, but the input of layer 0 "
                                         r"\(Dense\(3→4\)\) has 1 negative values \(min -2\).*mode='generalised'"):
        lr.explain(mlp(), x, rule=lr.Gamma(0.25))
    lr.explain(mlp(), x, rule=lr.Gamma(0.25, mode="generalised"))  # the generalised form is defined


def test_zplus_on_signed_inputs():
    with pytest.raises(ValueError, match=r"z⁺ rule \(DTD\) is defined for non-negative inputs.*mode='products'"):
        lr.explain(mlp(), np.array([[1.0, -2.0, 0.5]]), rule=lr.ZPlus())


def test_zbox_with_low_above_high():
    with pytest.raises(ValueError, match="low > high at 1 position"):
        lr.ZBox(np.array([0.0, 2.0]), np.array([1.0, 1.0]))


def test_zbox_with_input_outside_the_box():
    with pytest.raises(ValueError, match=r"lies outside \[low, high\] at 1 position"):
        lr.explain(mlp(), np.array([[0.5, 3.0, 0.0]]), rule=lr.Composite(default=lr.LRP0(), first=lr.ZBox(-1, 1)))


def test_zbox_bounds_that_do_not_broadcast():
    with pytest.raises(ValueError, match="do not broadcast"):
        lr.explain(mlp(), np.zeros((1, 3)), rule=lr.Composite(default=lr.LRP0(), first=lr.ZBox(np.zeros(2), np.ones(2))))


@pytest.mark.parametrize("alpha, beta", [(2, 2), (1, 1), (3, 1)])
def test_alpha_minus_beta_not_one(alpha, beta):
    with pytest.raises(ValueError, match="modern convention needs alpha - beta = 1"):
        lr.AlphaBeta(alpha, beta)


def test_toolbox_alpha_plus_beta_not_one():
    with pytest.raises(ValueError, match="alpha \\+ beta = 1"):
        lr.AlphaBeta(2, 1, convention="toolbox")


def test_bad_rule_parameters():
    with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
        lr.Epsilon(-0.1)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        lr.Gamma(-1)
    with pytest.raises(ValueError, match="ties must be 'first' or 'split'"):
        lr.WinnerTakesAll("random")


def test_rule_on_the_wrong_layer_type():
    net = lr.Sequential([lr.MaxPool2d(2)])
    with pytest.raises(TypeError, match=r"layer 0 \(MaxPool2d\(2×2\)\): the rule Epsilon\(0.1\) applies to affine layers"):
        lr.explain(net, np.zeros((1, 1, 4, 4)), target=np.ones((1, 1, 2, 2)), rule=[lr.Epsilon(0.1)])
    with pytest.raises(TypeError, match="applies to MaxPool2d"):
        lr.explain(mlp(), np.zeros((1, 3)), rule=lr.Composite(default=lr.LRP0(), layers={1: lr.WinnerTakesAll()}))


def test_rule_list_of_the_wrong_length():
    with pytest.raises(ValueError, match="one rule per layer: got 2 for 3 layers"):
        lr.explain(mlp(), np.zeros((1, 3)), rule=[lr.LRP0(), lr.Pass()])


def test_not_a_rule():
    with pytest.raises(TypeError, match="rule must be an lrpref rule"):
        lr.explain(mlp(), np.zeros((1, 3)), rule="epsilon")


def test_composite_without_a_rule_for_a_weight_layer():
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\(4→2\)\): the composite assigns no rule"):
        lr.explain(mlp(), np.zeros((1, 3)), rule=lr.Composite(first=lr.LRP0()))


# ---------------------------------------------------------------- explain options and messages


def test_unknown_method_and_path():
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        lr.explain(mlp(), np.zeros((1, 3)), method="magic")
    with pytest.raises(ValueError, match="path must be 'fast' or 'explicit'"):
        lr.explain(mlp(), np.zeros((1, 3)), path="slow")


def test_messages_need_keep_messages():
    ex = lr.explain(mlp(), np.ones((1, 3)))
    with pytest.raises(RuntimeError, match=r"keep_messages=True"):
        ex.layers[0].messages(0)


def test_messages_sample_out_of_range():
    ex = lr.explain(mlp(), np.ones((2, 3)), keep_messages=True)
    with pytest.raises(IndexError, match="sample 2 out of range for a batch of 2"):
        ex.layers[0].messages(2)


def test_message_matrix_over_the_memory_budget_names_its_size():
    net = lr.Sequential([lr.Conv2d(rng.normal(size=(8, 3, 3, 3)), None, padding=1)])
    x = rng.normal(size=(1, 3, 32, 32))
    ex = lr.explain(net, x, target=net(x), keep_messages=True)
    # taps inside the image per (out, in) channel pair: 32*32*9 - 4 borders * 32*3 + 4 corners = 8836; times 8*3 pairs
    with pytest.raises(lr.MatrixTooLarge, match=r"layer 0 \(Conv2d\(3→8, 3×3, pad 1, no bias\)\): the explicit message matrix "
                                                r"\(sparse 8192×3072 with 212064 non-zeros\) needs about .* MiB, over the budget of 0.1 MiB"):
        ex.layers[0].messages(0, max_bytes=100_000)
    with pytest.raises(lr.MatrixTooLarge):
        lr.explain(net, x, target=net(x), path="explicit", max_matrix_bytes=100_000)
    assert ex.layers[0].messages(0).shape == (8192, 3072)  # within the default budget


def test_explain_needs_a_network():
    with pytest.raises(TypeError, match="net must be an lrpref.Sequential"):
        lr.explain([lr.ReLU()], np.zeros((1, 3)))
    with pytest.raises(TypeError, match="item 1 is str"):
        lr.Sequential([lr.ReLU(), "relu"])
