"""Simplification through assumptions (issue 17): every rewrite of symderiv.autodiff.assumed and its table of
rules by kind (symderiv.autodiff.assumed_kinds) is proved an identity exactly on random instances under the
assumption, refuted without it, and the rewritten gradients are re-proved."""

from __future__ import annotations

import random

import pytest

import symderiv
from symderiv.autodiff.assumed import rewrite_assumed
from symderiv.autodiff.assumed_kinds import RULES_BY_KIND
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import infer_shapes

SHAPES = {"Y": (2, 2), "A": (2, 2), "B": (2, 2), "U": (2, 2)}
PIECES = ["A", "A @ B", "sin(A) + B", "exp(B) * A"]

#: (template over P and the structured Y, its kind, text the rewritten form must not contain)
REWRITES = [
    ("sum(Y, axis=1) * P", "stochastic_rows", "sum("),
    ("(Y @ ones(2, 1)) * P", "onehot_rows", "Y"),
    ("sum(Y, axis=0) * P", "stochastic_cols", "sum("),
    ("(ones(1, 2) @ Y) * P", "onehot_cols", "Y"),
    ("Y * Y * P", "onehot_rows", "Y * Y"),
    ("Y ** 3 * P", "onehot_cols", "**"),
    ("Y.T @ P", "symmetric", "Y.T"),
    ("Y.T @ P", "diagonal", "Y.T"),
    ("Y * eye(2) * P", "diagonal", "eye"),
    ("P * (eye(2) * Y)", "diagonal", "eye"),
    ("abs(Y) * P", "positive", "abs"),
    ("relu(2 * Y) * P", "positive", "relu"),
    ("P * abs(2 * Y ** 3)", "positive", "abs"),
    ("sign(Y ** 3) * P", "positive", "sign"),
    ("step(3 * Y) + P", "positive", "step"),
    ("sqrt(Y ** 2) * P", "positive", "sqrt"),
    ("P + sqrt((3 * Y) * (3 * Y))", "positive", "sqrt"),
]


def _rewritten(text: str, kind: str) -> str:
    node = parse(text)
    typing = infer_shapes(node, {k: v for k, v in SHAPES.items() if k in node.symbols()})
    out, rules = rewrite_assumed(node, {"Y": kind}, lambda n: typing.shape_of(n), frozenset(typing.symmetric))
    assert rules, text
    return to_text(out)


@pytest.mark.parametrize("template, kind, gone", REWRITES)
@pytest.mark.parametrize("seed", range(2))
def test_each_rewrite_is_proved_exactly_under_the_assumption_and_refuted_without(template, kind, gone, seed):
    text = template.replace("P", "(" + random.Random(f"{template}{seed}").choice(PIECES) + ")")
    rewritten = _rewritten(text, kind)
    assert gone not in rewritten, (text, rewritten)
    shapes = {k: v for k, v in SHAPES.items() if k in text or k == "U"}
    under = symderiv.verify(f"sum(({text}) * U)", wrt="U", claim=rewritten, shapes=shapes, method="exact",
                            assume={"Y": kind})
    assert under.status == "proved", (text, rewritten, under.report())
    without = symderiv.verify(f"sum(({text}) * U)", wrt="U", claim=rewritten, shapes=shapes, method="exact",
                              symmetric=["Y"] if kind == "symmetric" else [])
    if kind != "symmetric":  # a declared symmetric Y is symmetric in the plain problem too
        assert without.status == "refuted", (text, rewritten, without.report())


def test_every_kind_of_the_table_has_a_tested_rewrite():
    assert set(RULES_BY_KIND) <= {kind for _, kind, _ in REWRITES}


@pytest.mark.parametrize("text, kind", [
    ("abs(Y - 1) * A", "positive"),  # Y - 1 may be negative
    ("abs(-Y) * A", "positive"),
    ("sign(Y - A) * A", "positive"),
    ("Y * eye(2) * A", "positive"),
    ("abs(Y) * A", "diagonal"),
    ("A * eye(2) * Y", "diagonal"),  # eye meets A, not Y
])
def test_rules_keep_off_what_the_assumption_does_not_say(text, kind):
    node = parse(text)
    typing = infer_shapes(node, {k: v for k, v in SHAPES.items() if k in node.symbols()})
    out, rules = rewrite_assumed(node, {"Y": kind}, lambda n: typing.shape_of(n), frozenset())
    assert not any("positive" in r or "diagonal" in r for r in rules), (text, rules, to_text(out))


def test_the_positive_root_is_exact_and_only_for_exact_squares():
    shapes = {"P": (2, 2), "W": (2, 2)}
    assert symderiv.verify("sum(sqrt(P * P) * W)", "W", "P", shapes).status == "refuted"  # |P| without the assumption
    assert symderiv.verify("sum(sqrt(P * P) * W)", "W", "-P", shapes, assume={"P": "positive"}).status == "refuted"
    assert symderiv.verify("sum(sqrt(P ** 3) * W)", "W", "P", shapes, assume={"P": "positive"}).status == "refuted"
    assert symderiv.verify("sum(sqrt(2 * P * P) * W)", "W", "P", shapes, assume={"P": "positive"}).status == "refuted"
    assert symderiv.verify("sum(sqrt(P * P / 4) * W)", "W", "P / 2", shapes, assume={"P": "positive"}).status == "proved"


@pytest.mark.parametrize("expression, shapes, assume, formula", [
    ("sum(abs(P) * X)", {"X": ("n", "m"), "P": ("n", "m")}, {"P": "positive"}, "P"),
    ("sum(relu(2 * P) * X)", {"X": (2, 3), "P": (2, 3)}, {"P": "positive"}, "2 * P"),
    ("sum(D * eye(n) * X)", {"X": ("n", "n"), "D": ("n", "n")}, {"D": "diagonal"}, "D"),
    ("sum(sum(Y, axis=0) * X)", {"X": (1, "m"), "Y": ("n", "m")}, {"Y": "stochastic_cols"}, "ones(1, m)"),
    ("sum(Y * Y * X)", {"X": ("n", "m"), "Y": ("n", "m")}, {"Y": "onehot_cols"}, "Y"),
    # the exact prover takes the positive root of an exact square of positive entries (sqrt(P²) = P for P > 0)
    ("sum(sqrt(P ** 2) * X)", {"X": (2, 3), "P": (2, 3)}, {"P": "positive"}, "P"),
])
def test_gradients_are_rewritten_and_re_proved(expression, shapes, assume, formula):
    g = symderiv.gradient(expression, "X", shapes, assume=assume)
    assert g.formula == formula
    assert g.proof_status == "proved", g.proof_reason
    plain = symderiv.gradient(expression, "X", shapes)
    assert plain.formula != formula
