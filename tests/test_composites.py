"""Composites assign rules by index, position and type; the presets map layers as documented."""

import numpy as np
import pytest

import lrpref as lr

rng = np.random.default_rng(7)


def small_cnn():
    return lr.Sequential([
        lr.Conv2d(rng.normal(size=(2, 1, 3, 3))), lr.ReLU(), lr.MaxPool2d(2),                   # 0 1 2
        lr.Conv2d(rng.normal(size=(2, 2, 3, 3)), padding=1), lr.BatchNorm(np.zeros(2), np.ones(2)), lr.ReLU(),  # 3 4 5
        lr.AvgPool2d(2), lr.Flatten(),                                                             # 6 7
        lr.Dense(rng.normal(size=(4, 2))), lr.Tanh(), lr.Dense(rng.normal(size=(3, 4))),           # 8 9 10
    ])


def names(rules):
    return [rule.describe() for rule in rules]


def test_single_rule_applies_to_every_affine_layer():
    rules = lr.Composite(default=lr.Epsilon(0.1)).rules_for(small_cnn())
    assert names(rules) == ["Epsilon(0.1)", "Pass()", "WinnerTakesAll()", "Epsilon(0.1)", "Epsilon(0.1)", "Pass()",
                            "Epsilon(0.1)", "Pass()", "Epsilon(0.1)", "Pass()", "Epsilon(0.1)"]


def test_resolution_order():
    composite = lr.Composite(default=lr.LRP0(), first=lr.Flat(), middle=lr.Gamma(0.1), last=lr.Epsilon(1),
                             types={lr.Conv2d: lr.WSquare(), lr.MaxPool2d: lr.WinnerTakesAll("split")},
                             layers={3: lr.AlphaBeta(2, 1), -2: lr.Pass()})
    rules = composite.rules_for(small_cnn())
    assert names(rules) == ["Flat()",                       # first weight layer beats its type
                            "Pass()", "WinnerTakesAll(ties='split')",
                            "AlphaBeta(2, 1)",              # an explicit index beats everything
                            "LRP0()", "Pass()", "LRP0()", "Pass()",
                            "Gamma(0.1)",                   # middle weight layer
                            "Pass()",                       # layers[-2]
                            "Epsilon(1)"]                   # last weight layer


def test_first_types_restricts_the_first_layer():
    net = lr.Sequential([lr.Dense(rng.normal(size=(4, 3))), lr.ReLU(), lr.Dense(rng.normal(size=(2, 4)))])
    rules = lr.Composite(default=lr.LRP0(), first=lr.Flat(), first_types=(lr.Conv2d,)).rules_for(net)
    assert names(rules) == ["LRP0()", "Pass()", "LRP0()"]


def test_composite_rejects_non_rules_and_bad_indices():
    with pytest.raises(TypeError, match="first= must be an lrpref rule"):
        lr.Composite(first="flat")
    with pytest.raises(IndexError, match="layer 20, but the network has 11 layers"):
        lr.Composite(default=lr.LRP0(), layers={20: lr.Flat()}).rules_for(small_cnn())


def test_epsilon_gamma_box_layer_map():
    rules = lr.presets.EpsilonGammaBox(-1, 1).rules_for(small_cnn())
    assert names(rules) == ["ZBox(-1, 1)", "Pass()", "WinnerTakesAll()", "Gamma(0.25, mode='generalised')", "Pass()", "Pass()",
                            "Epsilon(1e-06)", "Pass()", "Epsilon(1e-06)", "Pass()", "Epsilon(1e-06)"]
    assert rules[0].stabiliser.epsilon == 1e-6 and rules[3].stabiliser.epsilon == 1e-6


def test_epsilon_gamma_box_gives_an_mlp_no_zbox_like_zennit():
    net = lr.Sequential([lr.Dense(rng.normal(size=(4, 3))), lr.ReLU(), lr.Dense(rng.normal(size=(2, 4)))])
    assert names(lr.presets.EpsilonGammaBox(-1, 1).rules_for(net)) == ["Epsilon(1e-06)", "Pass()", "Epsilon(1e-06)"]


@pytest.mark.parametrize("preset, conv, first", [
    (lr.presets.EpsilonPlus(), "ZPlus(mode='products', bias=True)", "ZPlus(mode='products', bias=True)"),
    (lr.presets.EpsilonPlusFlat(), "ZPlus(mode='products', bias=True)", "Flat()"),
    (lr.presets.EpsilonAlpha2Beta1(), "AlphaBeta(2, 1)", "AlphaBeta(2, 1)"),
    (lr.presets.EpsilonAlpha2Beta1Flat(), "AlphaBeta(2, 1)", "Flat()"),
], ids=lambda p: getattr(p, "name", p))
def test_zennit_style_presets(preset, conv, first):
    rules = names(preset.rules_for(small_cnn()))
    assert rules[0] == first and rules[3] == conv and rules[8] == rules[10] == "Epsilon(1e-06)"
    assert rules[4] == "Pass()"  # BatchNorm passes, as in zennit's composites


def test_flat_presets_put_flat_on_a_first_dense_layer():
    net = lr.Sequential([lr.Dense(rng.normal(size=(4, 3))), lr.ReLU(), lr.Dense(rng.normal(size=(2, 4)))])
    assert names(lr.presets.EpsilonPlusFlat().rules_for(net)) == ["Flat()", "Pass()", "Epsilon(1e-06)"]


def vgg16_shaped():
    """torchvision VGG-16's layer sequence (features 0..30, avgpool, flatten, classifier), one channel per conv."""
    features = []
    for block, convs in enumerate([2, 2, 3, 3, 3]):
        for _ in range(convs):
            features += [lr.Conv2d(np.ones((1, 1, 3, 3)), padding=1), lr.ReLU()]
        features.append(lr.MaxPool2d(2))
    classifier = [lr.Dense(np.ones((4, 49))), lr.ReLU(), lr.Dropout(), lr.Dense(np.ones((4, 4))), lr.ReLU(), lr.Dropout(),
                  lr.Dense(np.ones((3, 4)))]
    return lr.Sequential(features + [lr.AdaptiveAvgPool2d(7), lr.Flatten()] + classifier)


def test_montavon2019_on_vgg16_matches_the_tutorial():
    net = vgg16_shaped()
    assert len(net) == 31 + 2 + 7
    rules = lr.presets.Montavon2019(-2.1, 2.6).rules_for(net)
    for k, layer in enumerate(net):
        if isinstance(layer, lr.Conv2d):
            expected = "ZBox" if k == 0 else "Gamma" if k <= 16 else "Epsilon"  # tutorial: γ layers ≤ 16, ε 17–30
            assert type(rules[k]).__name__ == expected, k
        elif isinstance(layer, lr.Dense):
            assert isinstance(rules[k], lr.LRP0), k  # tutorial: LRP-0 from layer 31 on
    assert rules[17].stabiliser.scale == "rms" and rules[17].epsilon == 0.25
    assert isinstance(rules[31], lr.LRP0)  # adaptive average pooling


def test_montavon2019_on_a_four_layer_mlp():
    net = lr.Sequential([lr.Dense(np.ones((5, 4))), lr.ReLU(), lr.Dense(np.ones((5, 5))), lr.ReLU(),
                         lr.Dense(np.ones((5, 5))), lr.ReLU(), lr.Dense(np.ones((2, 5)))])
    rules = lr.presets.Montavon2019(-1, 1).rules_for(net)
    assert [type(rules[k]).__name__ for k in (0, 2, 4, 6)] == ["ZBox", "Gamma", "Epsilon", "LRP0"]


def test_composite_runs_end_to_end():
    net = small_cnn()
    x = np.clip(rng.normal(size=(2, 1, 8, 8)), -1, 1)
    ex = lr.explain(net, x, target=[0, 2], rule=lr.presets.EpsilonGammaBox(-1, 1))
    assert ex.relevance.shape == x.shape
    assert "EpsilonGammaBox" in ex.description and ex.rules[0].describe() == "ZBox(-1, 1)"
