"""The ledger's summaries: a NaN anywhere is reported, whatever the row order (issue 12)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lrpref as lr
from lrpref import Ledger, LedgerRow


def row(name, received, passed, **absorbed):
    return LedgerRow(name, np.asarray(received, float), np.asarray(passed, float),
                     {kind: np.asarray(value, float) for kind, value in absorbed.items()})


ROWS = [row("top", [1.0, 2.0], [1.0, 2.0]), row("middle", [1.0, 2.0], [0.5, 2.0], bias=[0.25, 0.0]),
        row("input", [0.5, 2.0], [0.5, 2.0])]


def test_max_residual_of_finite_rows():
    assert Ledger(ROWS).max_residual() == 0.25
    assert Ledger([]).max_residual() == 0.0


@pytest.mark.parametrize("where", ["received", "passed", "absorbed"])
def test_a_nan_in_any_row_and_any_order_gives_nan(where):
    """Python's max() keeps the first value when a later one is NaN; the ledger must not."""
    values = {"received": [1.0, 2.0], "passed": [1.0, 2.0], "bias": [0.0, 0.0]}
    values["bias" if where == "absorbed" else where] = [1.0, np.nan]
    broken = row("broken", values["received"], values["passed"], bias=values["bias"])
    for order in itertools.permutations(ROWS + [broken]):
        ledger = Ledger(order)
        assert np.isnan(ledger.max_residual()), [r.name for r in order]
        assert np.isnan(ledger.as_dict()["residual"]).sum() == 1
        assert "nan" in ledger.sample(1)


def test_an_infinite_residual_is_reported():
    assert Ledger(ROWS + [row("inf", [np.inf, 0.0], [0.0, 0.0])]).max_residual() == np.inf


@settings(max_examples=60, deadline=None)
@given(residuals=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=8),
       data=st.data())
def test_max_residual_is_the_nan_propagating_maximum(residuals, data):
    order = data.draw(st.permutations(range(len(residuals))))
    ledger = Ledger([row(f"r{k}", [residuals[k]], [0.0]) for k in order])
    expected = np.max(np.abs(residuals))
    assert (np.isnan(expected) and np.isnan(ledger.max_residual())) or ledger.max_residual() == expected


def test_an_explanation_ledger_is_unchanged_for_finite_rows():
    net = lr.Sequential([lr.Dense([[1.0, -2.0], [0.5, 1.0]], [0.1, -0.2]), lr.ReLU(), lr.Dense([[1.0, 1.0]])])
    ledger = lr.explain(net, np.array([[1.0, 0.5]]), target=0, rule=lr.Epsilon(0.01)).conservation
    assert 0 <= ledger.max_residual() < 1e-12
