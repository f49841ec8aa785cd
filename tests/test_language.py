"""The expression language: what parses, what is refused, and where the error points."""

import pytest

from symderiv.core import expr as ex
from symderiv.core.errors import NameKindError, ParseError, SymderivError
from symderiv.syntax.language import parse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("W @ X", ex.MatMul(ex.Symbol("W"), ex.Symbol("X"))),
        ("W @ X + b", ex.Add(ex.MatMul(ex.Symbol("W"), ex.Symbol("X")), ex.Symbol("b"))),
        ("A * B - C / 2", ex.Sub(ex.Mul(ex.Symbol("A"), ex.Symbol("B")), ex.Div(ex.Symbol("C"), ex.Number(2)))),
        ("-A", ex.Neg(ex.Symbol("A"))),
        ("-2", ex.Number(-2)),
        ("0.5 * A", ex.Mul(ex.Number(ex.Fraction(1, 2)), ex.Symbol("A"))),
        ("A ** 3", ex.Power(ex.Symbol("A"), exponent=3)),
        ("A ** -1", ex.Power(ex.Symbol("A"), exponent=-1)),
        ("X.T.T", ex.Transpose(ex.Transpose(ex.Symbol("X")))),
        ("trace(A)", ex.Trace(ex.Symbol("A"))),
        ("logdet(A)", ex.Call("logdet", (ex.Symbol("A"),))),
        ("sum(A, axis=0)", ex.Sum(ex.Symbol("A"), axis=0)),
        ("sum(A, axis=-1)", ex.Sum(ex.Symbol("A"), axis=1)),
        ("matpow(A, 3)", ex.Call("matpow", (ex.Symbol("A"),), (("k", 3),))),
        ("ones(n, 1)", ex.ConstMatrix("ones", "n", 1)),
        ("eye(3)", ex.ConstMatrix("eye", 3, 3)),
        ("relu(W @ X)", ex.Apply(ex.MatMul(ex.Symbol("W"), ex.Symbol("X")), fn="relu")),
        ("  W\n @ X ", ex.MatMul(ex.Symbol("W"), ex.Symbol("X"))),
    ],
)
def test_parses(text, expected):
    assert parse(text) == expected


def test_generic_function_and_its_prime():
    assert parse("phi(A) * phi_prime(A)", functions=["phi"]) == ex.Mul(
        ex.Apply(ex.Symbol("A"), fn="phi"), ex.Apply(ex.Symbol("A"), fn="phi_prime"))
    with pytest.raises(NameKindError, match="unknown function `phi`"):
        parse("phi(A)")


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ("W @ X +", 8, "syntax error"),
        ("W.shape", 1, "attribute `.shape`"),
        ("A[0]", 1, "subscripting"),
        ("__import__('os').system('x')", 1, "only the functions of the language"),
        ("foo(W)", 1, "unknown function `foo`"),
        ("exp", 1, "is a function, not a matrix"),
        ("W @ G", 5, "upstream gradient"),
        ("A ^ 2", 1, "`^` is not a power"),
        ("A ** exp(1)", 6, "constant number"),
        ("A ** B", 6, "integer literal"),
        ("sum(A, axis=2)", 13, "axis"),
        ("sum(A, keepdims=1)", 17, "keyword argument"),
        ("trace(A, B)", 1, "takes 1 argument"),
        ("lambda: A", 1, "lambda"),
        ("[A for A in B]", 1, "comprehension"),
        ("f'{A}'", 1, "f-string"),
        ("(x := A)", 2, ":="),
        ("exp(*A)", 5, "starred"),
        ("A.__class__", 1, "attribute"),
        ("__class__", 1, "not allowed"),
        ("'text'", 1, "str"),
        ("W) + (X", 2, "unbalanced"),
        ("exp(W", 6, "never closed"),
        ("A if B else C", 1, "conditional"),
        ("ones(0, 1)", 6, "positive"),
    ],
)
def test_refusals_name_the_column(text, column, fragment):
    with pytest.raises(SymderivError) as info:
        parse(text)
    err = info.value
    assert fragment in err.message + (err.hint or "")
    assert err.column == column, str(err)
    # The message shows the text with carets starting under that column.
    lines = str(err).splitlines()
    shown = next(k for k, line in enumerate(lines) if line.strip() == text.strip() and k > 0)
    marker = lines[shown + 1]
    assert marker.startswith(" " * (4 + column - 1) + "^") and set(marker.strip()) == {"^"}, str(err)


@pytest.mark.parametrize("text", ["(" * 100000, "-" * 3000 + "A", "A+" * 3000 + "A", "(" * 70 + "A" + ")" * 70,
                                  "1" * 100, "\x00A", ""])
def test_hostile_input_is_refused_fast(text):
    with pytest.raises(ParseError):
        parse(text)


def test_deep_but_legal_nesting_parses():
    text = "(" * 40 + "A" + ")" * 40
    assert parse(text) == ex.Symbol("A")


def test_sizes_may_be_integer_arithmetic_but_are_capped():
    assert parse("ones(10**3, 1)") == ex.ConstMatrix("ones", 1000, 1)
    with pytest.raises(ParseError, match="too large"):
        parse("ones(10**100, 1)")
    with pytest.raises(ParseError, match="too large"):
        parse("ones(9**9**9, 1)")
