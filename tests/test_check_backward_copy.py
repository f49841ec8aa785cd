"""check_backward: the user's function gets copies, the reference comes from pristine arrays."""

import pytest

from symderiv.core.errors import OptionError
from symderiv.testing import check_backward

LINEAR = {"X": ("N", "K"), "W": ("K", "M")}


def _linear(dY, X, W):
    return {"X": dY @ W.T, "W": X.T @ dY}


@pytest.mark.parametrize("mutation", ["zero", "triple", "divide"])
def test_a_backward_pass_that_scales_its_upstream_in_place_is_rejected(mutation):
    def backward(dY, X, W):
        if mutation == "zero":
            dY *= 0
        elif mutation == "triple":
            dY *= 3
        else:
            dY /= dY.shape[0]
        return _linear(dY, X, W)

    with pytest.raises(AssertionError, match="disagrees with the derived gradient"):
        check_backward(backward, "X @ W", ["X", "W"], LINEAR)


def test_a_backward_pass_that_mutates_its_inputs_is_judged_on_the_pristine_ones():
    def backward(dY, X, W):
        grads = _linear(dY, X, W)
        X *= 0
        W *= 0
        return grads

    assert check_backward(backward, "X @ W", ["X", "W"], LINEAR).max_error < 1e-12


def test_complex_results_are_an_error_not_cast_to_float():
    def backward(dY, X, W):
        grads = _linear(dY, X, W)
        return {"X": grads["X"] + 1e-3j, "W": grads["W"].astype(complex)}

    with pytest.raises(AssertionError, match="complex"):
        check_backward(backward, "X @ W", ["X", "W"], LINEAR)


@pytest.mark.parametrize("options", [{"trials": 1.5}, {"trials": "3"}, {"trials": True}, {"seed": 0.5}])
def test_non_integer_trials_and_seed_are_option_errors(options):
    with pytest.raises(OptionError):
        check_backward(_linear, "X @ W", ["X", "W"], LINEAR, **options)
