"""The derivation's last simplification (explain.collect, explain.ratfun): equal values, fewer nodes, no SymPy."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from symderiv.backends.numeric import evaluate
from symderiv.explain import ratfun as rf
from symderiv.explain.collect import collect
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import infer_shapes

CASES = [
    # (expression, shapes, collected spelling or None when nothing is shorter)
    ("X @ (Y.T * (1 - sigmoid(w.T @ X).T) + (Y.T - 1) * sigmoid(w.T @ X).T)",
     {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}, "X @ (Y - sigmoid(w.T @ X)).T"),
    ("(-Y / S + (1 - Y) / (1 - S)) * (S * (1 - S))", {"Y": ("n", "k"), "S": ("n", "k")}, "S - Y"),
    ("A * (1 - A) + A * A", {"A": ("n", "k")}, "A"),
    ("2 * (A - B) - A + 2 * B", {"A": ("n", "k"), "B": ("n", "k")}, "A"),
    ("(A + B) * (A - B) + B ** 2", {"A": ("n", "k"), "B": ("n", "k")}, "A ** 2"),
    ("2 * U * (X - 0.25 * S)", {"U": ("n", "k"), "X": ("n", "k"), "S": (1, "k")}, None),
    ("A * (1 - A)", {"A": ("n", "k")}, None),
    # cancelling B would change the shape from n×k to 1×k: refused
    ("a + B - B", {"a": (1, "k"), "B": ("n", "k")}, None),
]


@pytest.mark.parametrize("expression, shapes, expected", CASES)
def test_collect_is_equal_and_shorter(expression, shapes, expected):
    node = parse(expression)
    typing = infer_shapes(node, shapes)
    out = collect(node, typing.shape_of)
    if expected is None:
        assert out.formula == node and out.regions == ()
        return
    assert to_text(out.formula) == expected
    assert len(to_text(out.formula)) < len(expression)
    rng = np.random.default_rng(7)
    sizes = {"m": 3, "n": 4, "k": 5}
    env = {name: rng.uniform(0.1, 0.9, size=tuple(sizes.get(d, d) if isinstance(d, str) else d for d in shape))
           for name, shape in typing.symbols.items()}
    assert np.allclose(evaluate(out.formula, env, sizes=sizes), evaluate(node, env, sizes=sizes))


def test_a_wrong_collection_is_not_equal():
    """The numeric comparison above can fail: a wrong spelling differs."""
    node, wrong = parse("A * (1 - A) + A * A"), parse("A * A")
    env = {"A": np.full((2, 2), 0.5)}
    assert not np.allclose(evaluate(node, env), evaluate(wrong, env))


def test_exact_division_and_cancellation():
    x, y = rf.atom(0, 2), rf.atom(1, 2)
    one = rf.constant(1, 2)
    assert rf.p_divide(rf.mul(rf.sub(x, y), rf.add(x, y)).num, rf.add(x, y).num) == rf.sub(x, y).num
    assert rf.p_divide(rf.add(x, one).num, y.num) is None
    r = rf.div(rf.mul(x, rf.sub(one, x)), rf.sub(one, x))
    assert r.den == [] and r.num == x.num
    assert rf.power(x, -2).den == [x.num, x.num] or rf.power(x, -2).den == [rf.mul(x, x).num]
    assert rf.div(x, rf.constant(Fraction(1, 2), 2)).num == {(1, 0): Fraction(2)}
    with pytest.raises(ZeroDivisionError):
        rf.div(x, rf.constant(0, 2))
