"""Named tests for mutants of the parser's limits and the exact literals (issue 11).

Each limit is reached exactly: the largest input inside it parses, one more is refused with the figures
and the column in the message. Each docstring names the mutant(s) it kills as ``module:line#index``.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import symderiv
from symderiv.core import expr as ex
from symderiv.core.errors import ParseError
from symderiv.core.literals import number_text
from symderiv.ops.linalg import MAX_MATPOW
from symderiv.syntax.constants import constant_value
from symderiv.syntax.language import parse
from symderiv.syntax.lexical import MAX_DIM_VALUE, MAX_LENGTH, MAX_PAREN_DEPTH, MAX_UNARY_RUN


def test_length_limit_is_exact():
    """4000 characters parse; 4001 are refused at column 4001 with both figures (language.py:308)."""
    assert MAX_LENGTH == 4000
    assert parse("A" + " " * (MAX_LENGTH - 1)) == ex.Symbol("A")
    with pytest.raises(ParseError, match="4001 characters long; the limit is 4000") as info:
        parse("A" + " " * MAX_LENGTH)
    assert info.value.column == 4001


def test_bracket_depth_limit_is_exact():
    """64 nested brackets parse; the 65th is refused at its column (language.py:312, 317)."""
    assert MAX_PAREN_DEPTH == 64
    assert parse("(" * 64 + "A" + ")" * 64) == ex.Symbol("A")
    with pytest.raises(ParseError, match="brackets nested more than 64 deep") as info:
        parse("(" * 65 + "A" + ")" * 65)
    assert info.value.column == 65


def test_sign_run_limit_is_exact():
    """32 signs in a row parse; the 33rd is refused at its column (language.py:318, 325)."""
    assert MAX_UNARY_RUN == 32
    node = parse("-" * 32 + "A")
    for _ in range(32):
        assert isinstance(node, ex.Neg)
        node = node.operand
    assert node == ex.Symbol("A")
    with pytest.raises(ParseError, match="more than 32 signs in a row") as info:
        parse("- " * 33 + "A")
    assert info.value.column == 65


def test_matpow_limit_is_exact():
    """matpow(A, 64) parses; matpow(A, 65) is refused naming the range (language.py:26)."""
    assert MAX_MATPOW == 64
    assert parse("matpow(A, 64)") == ex.Call("matpow", (ex.Symbol("A"),), (("k", 64),))
    with pytest.raises(ParseError, match="between 0 and 64"):
        parse("matpow(A, 65)")


def test_size_limit_is_exact():
    """Sizes are at most 10**12 (docs/security.md, and the hint says so): 10**12 rows parse, 10**12 + 1 and
    5 * 10**12 are refused. They were accepted up to 10**13 (a bug: only intermediate values were capped)."""
    assert MAX_DIM_VALUE == 10**12
    assert parse("ones(10**12, 1)") == ex.ConstMatrix("ones", 10**12, 1)
    for text in ("ones(10**12 + 1, 1)", "ones(5 * 10**12, 1)", "eye(10**13)"):
        with pytest.raises(ParseError, match="too large") as info:
            parse(text)
        assert "sizes are at most 1000000000000" in str(info.value)


def test_size_arithmetic_may_pass_through_ten_times_the_limit():
    """Intermediate values of size arithmetic may reach 10 × the limit: ``10**13 - 9 * 10**12`` is 10**12;
    past that they are refused before anything larger is computed (language.py:214#189, and 214 `10 → 11`)."""
    assert parse("ones(10**13 - 9 * 10**12, 1)") == ex.ConstMatrix("ones", 10**12, 1)
    with pytest.raises(ParseError, match="the row count is too large"):  # 10**12 in the end, 10**13 + 1 on the way
        parse("ones(10**13 + 1 - 9 * 10**12 - 1, 1)")


# -- literals.py: number text the parser reads back ------------------------------------------------------


@pytest.mark.parametrize("value, text", [(Fraction(10**2000), "(1e1000 * 1e1000)"),
                                         (Fraction(1, 10**2000), "(1e-1000 * 1e-1000)"),
                                         (Fraction(10**1600), "(1e600 * 1e1000)")])
def test_a_power_of_ten_past_the_exponent_limit_is_a_product_of_as_few_literals_as_needed(value, text):
    """10**2000 is ``1e1000 * 1e1000``: no ``1e0`` factor when the exponent is an exact multiple of the
    limit (literals.py:145#66 looped once more), and the text reads back as the exact value."""
    assert number_text(value) == text
    assert constant_value(parse(text)) == value


@pytest.mark.parametrize("text, value", [
    ("sin(0)", 0), ("tan(0)", 0), ("tanh(0)", 0), ("sqrt(0)", 0), ("exp(0)", 1), ("cos(0)", 1),
    ("sigmoid(0)", Fraction(1, 2)), ("log(1)", 0), ("step(0)", Fraction(1, 2)),
    ("sign(0)", 0), ("sign(-2)", -1), ("sign(0.5)", 1), ("relu(-2)", 0), ("abs(-1.5)", Fraction(3, 2)),
])
def test_functions_fold_exactly_at_rational_points(text, value):
    """The exact values of elementwise functions where they are rational (literals.py:213#203 made
    sin(0) = 1, :211#240 made sign(0) = -1)."""
    assert constant_value(parse(text)) == value


@pytest.mark.parametrize("text, expected", [("sum(X * (1 + sin(0)))", "ones(2, 2)"),
                                            ("sum(X * sign(0))", "zeros(2, 2)")])
def test_gradients_through_folded_constants_are_exact(text, expected):
    """A folded constant enters the gradient with its exact value (literals.py:211, 213)."""
    assert symderiv.gradient(text, wrt="X", shapes={"X": (2, 2)}).formula == expected


def test_a_prefixed_literal_has_at_most_60_digits_after_its_prefix():
    """``0x`` followed by 60 hex digits parses; 61 digits are refused with the count (literals.py:65#267
    counted one digit too few, so 61 passed)."""
    assert constant_value(parse("0x" + "f" * 60)) == 16**60 - 1
    assert constant_value(parse("0b" + "1" * 60)) == 2**60 - 1
    with pytest.raises(ParseError, match="has 61 digits"):
        parse("0x" + "f" * 61)
