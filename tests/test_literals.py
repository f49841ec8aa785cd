"""Numbers are exact (SPEC section 6; issue 10, items 1 and 10).

A literal is read from its source text, never through a float; constants fold
to exact values or stay exact atoms; printers write every value so that it
parses back to the same exact value; integer-only slots refuse ``1.0``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import symderiv
from symderiv.core import expr as ex
from symderiv.core.errors import ParseError
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_latex, to_text

ROOT = Path(__file__).resolve().parents[1]
W22 = {"W": (2, 2)}
WNM = {"W": ("n", "m")}


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "symderiv.cli", *argv], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


# -- the false proofs of issue 10, item 1 -----------------------------------------------

FALSE_CLAIMS = [
    ("1e-400 * W", "0 * G"),
    ("0.30000000000000001 * W", "0.3 * G"),
    ("1.00000000000000001 * W", "G"),
    ("W * 1e-400 + W", "G"),
    ("W * 0.1000000000000000055511151231257827", "0.1 * G"),
    ("W * 18446744073709551617", "18446744073709551616 * G"),
]


@pytest.mark.parametrize("expression, claim", FALSE_CLAIMS)
@pytest.mark.parametrize("shapes", [W22, WNM], ids=["concrete", "symbolic"])
def test_inexact_literal_claims_are_not_proved(expression, claim, shapes):
    verdict = symderiv.verify(expression, wrt="W", claim=claim, shapes=shapes)
    assert verdict.holds is False, verdict
    assert not verdict


@pytest.mark.parametrize("expression, claim", FALSE_CLAIMS[:3])
def test_inexact_literal_claims_are_not_proved_strict(expression, claim):
    verdict = symderiv.verify(expression, wrt="W", claim=claim, shapes=W22, strict=True)
    assert verdict.holds is False, verdict


@pytest.mark.parametrize("expression, claim", FALSE_CLAIMS[:3])
def test_inexact_literal_claims_fail_on_the_command_line(expression, claim):
    proc = cli("verify", expression, "--wrt", "W", "--claim", claim, "--shape", "W=2,2")
    assert proc.returncode not in (0, 2, 3), proc.stdout + proc.stderr
    assert not proc.stdout.startswith("PROVED"), proc.stdout


def test_float_sum_is_exact_and_proved():
    verdict = symderiv.verify("0.1 * W + 0.2 * W", wrt="W", claim="0.3 * G", shapes=W22)
    assert verdict.holds is True
    assert symderiv.verify("0.1 * W + 0.2 * W", wrt="W", claim="0.3 * G", shapes=WNM).holds is True
    proc = cli("verify", "0.1 * W + 0.2 * W", "--wrt", "W", "--claim", "0.3 * G", "--shape", "W=2,2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("PROVED")


def test_tiny_literal_gradient_is_not_zero():
    grad = symderiv.gradient("W * 1e-400 + X", wrt="W", shapes={"W": (2, 2), "X": (2, 2)})
    assert grad.formula == "1e-400 * G"
    assert "zeros" not in grad.formula
    assert grad.to_latex(None) == "10^{-400} G"


def test_huge_literal_gradient_is_exact():
    grad = symderiv.gradient("1e300 * W", wrt="W", shapes=W22)
    assert grad.formula == "1e300 * G"
    assert symderiv.verify("1e300 * W", wrt="W", claim="(1e300 + 1) * G", shapes=W22).holds is False


def test_a_sum_too_long_for_one_literal_is_printed_exactly():
    # 1 + 1e-400 has 401 digits: more than a literal may have, so it is written as a sum of literals.
    grad = symderiv.gradient("W * 1e-400 + W", wrt="W", shapes=W22)
    assert grad.formula == "(1 + 1e-400) * G"
    assert grad.to_latex(None) == r"\left(1 + 10^{-400}\right) G"
    grad = symderiv.gradient("W / 3e-400 + W / 7", wrt="W", shapes=W22)
    assert grad.formula == "((7e400 + 3)/21) * G"


def test_a_number_past_the_literal_exponent_is_printed_exactly():
    # 1e-1800 is past the exponent a literal may have, so it is written as a product of literals.
    grad = symderiv.gradient("W * 1e-900 * 1e-900", wrt="W", shapes=W22)
    assert grad.formula == "(1e-800 * 1e-1000) * G"
    assert grad.to_latex(None) == "10^{-1800} G"
    assert symderiv.verify("W * 1e-900 * 1e-900", wrt="W", claim="1e-900 * G", shapes=W22).holds is False


# -- hostile literals are refused before they are built ---------------------------------

@pytest.mark.parametrize("text, shown", [
    ("W * 1e999999999", "1e999999999"),
    ("W * 1e-999999999", "1e-999999999"),
    ("W * 1e1001", "1e1001"),
    ("W * 1e" + "9" * 3000, "1e999"),
    ("W * 0." + "0" * 70 + "1", "0.000"),
])
def test_hostile_literals_are_refused_fast(text, shown):
    start = time.perf_counter()
    with pytest.raises(ParseError) as info:
        parse(text)
    assert time.perf_counter() - start < 0.5
    err = info.value
    assert err.column == 5 and err.hint and shown in str(err)


def test_hostile_literal_on_the_command_line_exits_2():
    start = time.perf_counter()
    proc = cli("verify", "1e999999999 * W", "--wrt", "W", "--claim", "G", "--shape", "W=2,2")
    assert proc.returncode == 2 and "column 1" in proc.stderr and "hint:" in proc.stderr, proc.stderr
    assert time.perf_counter() - start < 10


def test_literal_limits_are_at_the_documented_edges():
    from symderiv.core.literals import MAX_LITERAL_DIGITS, MAX_LITERAL_EXPONENT

    assert parse(f"1e{MAX_LITERAL_EXPONENT}") == ex.Number(Fraction(10**MAX_LITERAL_EXPONENT))
    assert parse(f"1e-{MAX_LITERAL_EXPONENT}") == ex.Number(Fraction(1, 10**MAX_LITERAL_EXPONENT))
    assert parse("7" * MAX_LITERAL_DIGITS) == ex.Number(Fraction(int("7" * MAX_LITERAL_DIGITS)))
    with pytest.raises(ParseError, match="digits"):
        parse("7" * (MAX_LITERAL_DIGITS + 1))


@pytest.mark.parametrize("text", ["W * 1e-300 ** 16", "W * (((10 ** 29) ** 64) ** 64)", "(1e-900 * W) ** 8"])
def test_constants_too_large_to_build_are_refused(text):
    start = time.perf_counter()
    with pytest.raises(ParseError, match="digits") as info:
        parse(text)
    assert time.perf_counter() - start < 0.5
    assert info.value.column is not None and info.value.hint


def test_underscores_and_prefixes_are_read_exactly():
    assert parse("1_000.000_1") == ex.Number(Fraction("1000.0001"))
    assert parse("0x_ff") == ex.Number(Fraction(255))
    assert parse("1_0e-1_0") == ex.Number(Fraction(10, 10**10))


# -- integer-only slots (issue 10, item 10) ----------------------------------------------

@pytest.mark.parametrize("text, column, hint", [
    ("W ** 1.0", 6, "write 1"),
    ("W ** -2.0", 6, "write -2"),
    ("sum(W, axis=1.0)", 13, "write 1"),
    ("matpow(W, 2.0)", 11, "write 2"),
    ("ones(2.0, 3)", 6, "write 2"),
    ("ones(2, 3e0)", 9, "write 3"),
    ("matpow(W, 0.5)", 11, "integer literal"),
    ("W ** 1e0", 6, "write 1"),
])
def test_integer_slots_take_integer_literals(text, column, hint):
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)
    assert hint in (info.value.hint or ""), str(info.value)


def test_integer_slot_on_the_command_line_exits_2():
    proc = cli("verify", "W ** 1.0", "--wrt", "W", "--claim", "G", "--shape", "W=2,2")
    assert proc.returncode == 2 and "write 1" in proc.stderr, proc.stdout + proc.stderr


# -- constants fold exactly, never through a float or modulo anything --------------------

@pytest.mark.parametrize("expression, claim, holds", [
    ("W * relu(8388592)", "8388592 * G", True),
    ("W * relu(8388592)", "0 * G", False),
    ("W * exp(8388593)", "G", False),
    ("W * cos(8388593)", "G", False),
    ("W * exp(5)", "exp(5) * G", True),
    ("W * exp(5)", "148.4131591025766 * G", False),
    ("W * (1/3)", "G / 3", True),
    ("W * (1/3)", "0.333333333333333333 * G", False),
    ("W * 2 ** -1", "0.5 * G", True),
    ("W / 2", "0.5 * G", True),
    ("W * relu(-2) + W * cos(0)", "G", True),
])
@pytest.mark.parametrize("symbolic", [False, True], ids=["concrete", "symbolic"])
def test_constant_folding_is_exact(expression, claim, holds, symbolic):
    verdict = symderiv.verify(expression, wrt="W", claim=claim, shapes=WNM if symbolic else W22)
    assert verdict.holds is holds, verdict
    if holds and symbolic:
        # Exact coefficients are proved for all shapes, not only checked at sample sizes.
        assert verdict.status == "proved", verdict


@pytest.mark.parametrize("claim", ["8388594 * G @ X.T", "G @ X.T + 8388593 * W"])
def test_constants_are_not_reduced_modulo_anything(claim):
    shapes = {"W": (2, 2), "X": (2, 3)}
    assert symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes=shapes).holds is True
    assert symderiv.verify("W @ X", wrt="W", claim=claim, shapes=shapes).holds is False


def test_constant_subexpressions_simplify_to_exact_numbers():
    grad = symderiv.gradient("W * relu(-2) + W / 4 + W * 2 ** -1 + W * exp(5)", wrt="W", shapes=W22)
    assert grad.formula == "0.75 * G + exp(5) * G"


def test_numeric_evaluation_converts_only_at_the_end():
    import numpy as np

    from symderiv.backends.numeric import evaluate

    one = {"W": np.ones((1, 1))}
    assert evaluate(parse("W * 1e-400"), one)[0, 0] == 0.0
    assert evaluate(parse("W * 1e400"), one)[0, 0] == np.inf
    assert evaluate(parse("W * 0.1"), one)[0, 0] == 0.1


def test_sympy_conversion_is_rational():
    import sympy

    from symderiv.backends.to_sympy import ratio_to_sympy
    from symderiv.proofs.exact.algebra import Ratio, Variables

    value = ratio_to_sympy(Variables(), Ratio.const(Fraction(3, 10**400)))
    assert isinstance(value, sympy.Rational) and value == sympy.Rational(3, 10**400)


# -- printing: every exact value parses back to itself -----------------------------------

@pytest.mark.parametrize("text, latex", [
    ("1e-400 * W", "10^{-400} W"),
    ("1.5e-7 * W", r"1.5 \times 10^{-7} W"),
    ("-1e300 * W", "-10^{300} W"),
    ("0.30000000000000001 * W", "0.30000000000000001 W"),
    ("W / 3e400", r"\frac{W}{3 \times 10^{400}}"),
    ("0.5 * W", r"\frac{1}{2} W"),
])
def test_text_and_latex_are_faithful(text, latex):
    node = parse(text)
    assert to_text(node) == text
    assert parse(to_text(node)) == node
    assert to_latex(node) == latex


def _with_underscores(digits: str, data: st.DataObject) -> str:
    if len(digits) < 2 or not data.draw(st.booleans()):
        return digits
    cut = data.draw(st.integers(1, len(digits) - 1))
    return digits[:cut] + "_" + digits[cut:]


@st.composite
def hostile_literals(draw: st.DrawFn) -> str:
    """Literal texts of the kinds that broke version 0.1: near float precision, huge, tiny, near word sizes."""
    kind = draw(st.sampled_from(["float-repr", "float-exact", "near-float", "huge-tiny", "word", "scientific"]))
    if kind == "float-repr":
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False, min_value=0)))
    if kind == "float-exact":
        value = Decimal(draw(st.floats(min_value=1e-30, max_value=1e30)))
        text = format(value, "f") if value.adjusted() > -5 else format(value, "e")
        assume(len(text.split("e")[0].replace(".", "")) <= 60)
        return text
    if kind == "near-float":
        base = draw(st.sampled_from(["0.1", "0.3", "1.0", "0.2"]))
        return base + "0" * draw(st.integers(14, 30)) + str(draw(st.integers(1, 9)))
    if kind == "huge-tiny":
        mantissa = draw(st.sampled_from(["1", "9.99", "2.5", "1.000000000000000000001"]))
        return f"{mantissa}e{draw(st.integers(-1000, 1000))}"
    if kind == "word":
        base = draw(st.sampled_from([2**53, 2**63, 2**64, 8388593, 2**61 - 1]))
        return str(base + draw(st.integers(-3, 3)))
    digits = str(draw(st.integers(1, 10**40)))
    return f"{digits[0]}.{digits[1:] or '0'}E{draw(st.integers(-400, 400)):+d}"


def _exact(text: str) -> Fraction:
    return Fraction(text.replace("_", ""))


@settings(max_examples=150, deadline=None)
@given(hostile_literals(), st.data())
def test_literal_is_read_exactly(text, data):
    text = _with_underscores(text, data) if "e" not in text.lower() and "." not in text else text
    assert parse(text) == ex.Number(_exact(text))
    assert parse("-" + text) == ex.Number(-_exact(text))
    node = parse(f"{text} * W + X")
    assert parse(to_text(node)) == node, to_text(node)


@settings(max_examples=40, deadline=None)
@given(hostile_literals())
def test_scaling_gradient_is_exact_and_a_nudge_is_refuted(text):
    c = _exact(text)
    shapes = {"W": (1, 2)}
    grad = symderiv.gradient(f"{text} * W", wrt="W", shapes=shapes)
    printed = parse(grad.formula, allow_upstream=True)
    expected = {0: ex.ConstMatrix("zeros", 1, 2), 1: ex.Symbol("G")}.get(c, ex.Mul(ex.Number(c), ex.Symbol("G")))
    assert printed == expected, grad.formula
    assert symderiv.verify(f"{text} * W", wrt="W", claim=f"{text} * G", shapes=shapes).holds is True
    nudged = symderiv.verify(f"{text} * W", wrt="W", claim=f"({text} + 1e-900) * G", shapes=shapes)
    assert nudged.holds is False, nudged


@settings(max_examples=200, deadline=None)
@given(st.fractions(), st.integers(-2500, 2500), st.integers(-900, 900))
def test_every_exact_value_prints_to_text_that_parses_back(base, up, down):
    from symderiv.core.literals import number_text
    from symderiv.syntax.constants import constant_value

    value = Fraction(base) * Fraction(10) ** up / Fraction(3) ** (abs(down) % 50)
    text = number_text(value)
    node = parse(text)
    assert constant_value(node) == value, text
    if "(" not in text:  # one literal
        assert node == ex.Number(value), text


@st.composite
def exact_numbers(draw: st.DrawFn) -> ex.Number:
    """Numbers the parser can produce: decimals of at most 60 digits and exponents within ±1000, of either sign."""
    digits = draw(st.integers(0, 10**draw(st.integers(1, 60)) - 1))
    value = Fraction(digits) * Fraction(10) ** draw(st.integers(-1000 + 60, 1000 - 60))
    return ex.Number(-value if draw(st.booleans()) else value)


def _grow(children: st.SearchStrategy[ex.Expr]) -> st.SearchStrategy[ex.Expr]:
    binary = st.sampled_from([ex.MatMul, ex.Add, ex.Sub, ex.Mul, ex.Div])
    return st.one_of(
        st.builds(lambda cls, a, b: cls(a, b), binary, children, children),
        children.filter(lambda n: not isinstance(n, ex.Number)).map(ex.Neg),  # the parser folds -2 into a number
        children.map(ex.Transpose),
        st.builds(lambda a, k: ex.Power(a, exponent=k), children, st.sampled_from([2, -1])),
        st.builds(lambda a: ex.Apply(a, fn="exp"), children),
    )


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.one_of(st.sampled_from(["W", "X"]).map(ex.Symbol), exact_numbers()), _grow, max_leaves=6))
def test_trees_with_hostile_numbers_round_trip(tree):
    text = to_text(tree)
    assert parse(text) == tree, text


@settings(max_examples=150, deadline=None)
@given(exact_numbers())
def test_latex_of_a_number_is_its_exact_value(number):
    latex = to_latex(number)
    if r"\frac" in latex:
        num, den = latex.removeprefix("-").removeprefix(r"\frac{").removesuffix("}").split("}{")
        shown = Fraction(num) / Fraction(den.replace(r" \times 10^{", "e").replace("10^{", "1e").rstrip("}"))
    else:
        shown = Fraction(latex.removeprefix("-").replace(r" \times 10^{", "e").replace("10^{", "1e").rstrip("}"))
    assert (-shown if latex.startswith("-") else shown) == number.value, latex
