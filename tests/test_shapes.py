"""Shape inference: declared, omitted and broadcast shapes; errors with positions."""

import pytest

from symderiv.core.errors import OptionError, ShapeError
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes, parse_shape_option


def infer(text, shapes=None, **kw):
    return infer_shapes(parse(text), shapes, text=text, **kw).symbols


def test_unification_fills_omitted_shapes():
    assert infer("W @ X", {"W": ("H", "m")}) == {"W": ("H", "m"), "X": ("m", "n")}
    assert infer("W @ X + b", {"W": (3, 2), "X": (2, 4), "b": (3, 1)})["b"] == (3, 1)
    assert infer("x.T @ A @ x", {"x": ("n", 1)}) == {"x": ("n", 1), "A": ("n", "n")}


def test_fresh_names_avoid_declared_ones():
    shapes = infer("W @ X", {"W": ("n", "m")})
    assert shapes["X"][0] == "m" and shapes["X"][1] not in ("n", "m")


def test_square_functions_unify_rows_and_cols():
    assert infer("trace(A)") == {"A": ("n", "n")}
    assert infer("inv(A) @ B", {"B": (3, 2)}) == {"A": (3, 3), "B": (3, 2)}


@pytest.mark.parametrize(
    "text, shapes, fragment",
    [
        ("W @ X", {"W": (3, 2), "X": (3, 4)}, "inner dimensions 2 and 3"),
        ("W @ X + b", {"W": (3, 2), "X": (2, 4), "b": (2, 1)}, "cannot add"),
        ("trace(A)", {"A": (2, 3)}, "square"),
        ("det(A)", {"A": ("n", "m")}, "square"),
        ("W @ X", {"W": ("H", "m"), "X": ("k", "n")}, "differ"),
        ("2 @ W", None, "`@` needs matrices"),
    ],
)
def test_shape_errors(text, shapes, fragment):
    with pytest.raises(ShapeError, match=fragment) as info:
        infer(text, shapes)
    assert info.value.column is not None or "square" in fragment


@pytest.mark.parametrize("shapes", [{"W": (0, 2)}, {"W": (2,)}, {"W": "3,2"}, {"W": (True, 2)}, {"Q": (2, 2)},
                                    {"W": ("n", "__x")}])
def test_bad_shape_options(shapes):
    with pytest.raises((OptionError, Exception)) as info:
        infer("W @ X", shapes)
    assert "SymderivError" in [c.__name__ for c in type(info.value).__mro__]


def test_symmetric_must_be_square():
    with pytest.raises(ShapeError):
        infer("S @ x", {"S": (2, 3)}, symmetric=["S"])
    assert infer("S @ x", {"x": ("n", 1)}, symmetric=["S"])["S"] == ("n", "n")


def test_shape_option_syntax():
    assert parse_shape_option("W=H,m") == ("W", ("H", "m"))
    assert parse_shape_option("x=3,1") == ("x", (3, 1))
    for bad in ["W", "W=3", "W=3,", "W=a,b,c", "W=0,1"]:
        with pytest.raises(OptionError):
            parse_shape_option(bad)
