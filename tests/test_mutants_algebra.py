"""Named tests for mutants of the exact algebra, the backward rules and the simplifier (issue 11).

Each test asserts a behaviour a user of the module relies on (exact values, statuses, error messages);
its docstring names the mutant(s) it kills as ``module:line#index`` from ``tools/mutation.py``.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from symderiv.algebra import Variables, gradient_of
from symderiv.polynomial import Ratio

# -- polynomial.py: Ratio with an explicit denominator ---------------------------------------------------


def test_ratio_over_a_denominator_is_the_quotient():
    """A Ratio built as ``num / den`` equals the quotient of the two; a constant denominator divides the
    numerator. Kills polynomial.py:179#140 and :179#189 (every non-zero denominator refused)."""
    x, y = Ratio.var(0), Ratio.var(1)
    num, den = (x * y + Ratio.const(1)).num, (x.scale(2) + y.scale(4)).num
    r = Ratio(num, den)
    assert r.equals(Ratio(num) / Ratio(den))
    assert (r * Ratio(den)).equals(Ratio(num))
    assert Ratio({(0,): 3}, {(): 6}).equals(x.scale(Fraction(1, 2)))
    assert Ratio({(0,): 3}, {(): 6}).fac is None


def test_ratio_over_an_identically_zero_denominator_is_refused():
    """Dividing by the zero polynomial raises ZeroDivisionError saying so (polynomial.py:179)."""
    with pytest.raises(ZeroDivisionError, match="identically zero"):
        Ratio({(0,): 1}, {})
    with pytest.raises(ZeroDivisionError, match="identically zero"):
        Ratio.var(0) / Ratio({})


# -- algebra.py: the chain rule through atoms ------------------------------------------------------------


def _x_exp_x():
    vs = Variables()
    x = vs.entry("X", 0, 0)
    e = vs.atom("exp", Ratio.var(x))
    return vs, x, e, Ratio.var(x) * Ratio.var(e)


def test_chain_rule_through_an_atom_without_a_deadline():
    """d(x·exp(x))/dx = exp(x) + x·exp(x), computed with no deadline (algebra.py:353#60 called the
    missing deadline)."""
    vs, x, e, value = _x_exp_x()
    grads = gradient_of(vs, value, {x})
    assert grads[x].equals(Ratio.var(e) + Ratio.var(x) * Ratio.var(e))


def test_chain_rule_through_an_atom_consults_the_deadline():
    """A deadline that expires stops the sweep through the atoms (algebra.py:353#60 skipped it)."""
    vs, x, _, value = _x_exp_x()

    class Expired(Exception):
        pass

    def deadline():
        raise Expired

    with pytest.raises(Expired):
        gradient_of(vs, value, {x}, deadline)


def test_gradient_of_a_large_polynomial_without_a_deadline():
    """A polynomial of more than 2**14 terms (where the deadline is checked) is differentiated when no
    deadline is given: ∂(x·Σ y_i)/∂x = Σ y_i (algebra.py:250#101 called the missing deadline)."""
    vs = Variables()
    x = vs.entry("X", 0, 0)
    ys = [vs.entry("Y", 0, i) for i in range(20_000)]
    value = Ratio({(x, y): 1 for y in ys})
    assert gradient_of(vs, value, {x})[x].num == {(y,): 1 for y in ys}
