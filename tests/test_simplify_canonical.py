"""The stronger simplifier (issue 17): cancellation, matrix identities, like terms across transposes,
named functions recognised from the registry's expansions, and named subexpressions.

Every rewrite is checked to be an identity by the exact entrywise prover on random instances
(``sum(E * U)`` has gradient ``E`` with respect to ``U``, so the claim ``simplify(E)`` is proved exactly
when the two are equal), and checked to have fired (a rule that does nothing fails its test).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import symderiv
from symderiv.autodiff.simplify import Simplifier
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.ops import elementwise, language_functions
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import infer_shapes

SHAPES = {"A": (2, 2), "B": (2, 2), "C": (2, 2), "U": (2, 2)}
#: Subexpressions the templates are filled with: any 2×2 values (P, Q), and invertible-in-general ones (M).
ANY = ["A", "B", "A @ B", "A + B.T", "2 * A - B", "sin(A)", "A * B", "A.T @ A", "exp(B) - A"]
SQUARE = ["A", "A + B", "A @ B", "B.T", "A - 2 * B"]

#: (template, a piece of text the simplified form must contain / must not contain)
RULES = [
    ("P * Q / P", None, "/"),  # cancel a common factor
    ("1 / det(M) * det(M) * P", None, "det"),  # cancel a scalar factor
    ("ones(2, 2) / Q * P", None, "ones"),  # ones / v * u → u / v
    ("P @ inv(M) @ M @ Q", None, "inv"),  # inv(M) @ M = I
    ("P @ M @ inv(M)", None, "inv"),
    ("P @ M.T @ inv(M).T @ Q", None, "inv"),  # (inv M).T @ M.T = I
    ("inv(M.T) @ P", "inv(", "inv(("),  # inv(M.T) = inv(M).T
    ("sum(eye(2) * M) * P", "trace(", "eye"),  # sum(eye * A) = trace(A)
    ("2 * matpow(M, 2).T + M.T @ M.T", "3 * matpow(", None),  # like terms across transposes
    ("M.T @ M.T - matpow(M, 2).T", None, "matpow"),
    ("P * exp(Q) / (1 + exp(Q))", "sigmoid(", "/ (1 + exp"),  # named functions from their expansions
    ("P / (1 + exp(-Q))", "sigmoid(", "/ (1 + exp"),
    ("log(1 + exp(Q)) * P", "softplus(", "log(1 + exp"),
    ("P @ C @ inv(M @ C)", None, "C"),  # inv(A B) = inv(B) inv(A) for square factors, then cancelled
    ("det(M) * (C.T @ inv(C @ M).T)", None, "C"),
    ("C.T @ (det(M) * inv(C @ M).T)", None, "C"),  # a 1×1 factor pulled out of the @ chain
]


def _instance(template: str, rng: random.Random) -> str:
    text = template
    for name, pool in (("P", ANY), ("Q", ANY), ("M", SQUARE)):
        text = text.replace(name, "(" + rng.choice(pool) + ")")
    return text


def _simplified(text: str) -> str:
    node = parse(text)
    typing = infer_shapes(node, {k: v for k, v in SHAPES.items() if k in node.symbols()})
    return to_text(Simplifier(lambda n: typing.shape_of(n), typing.symmetric).simplify(node))


@pytest.mark.parametrize("template, must, must_not", RULES)
@pytest.mark.parametrize("seed", range(3))
def test_each_rewrite_is_an_identity_proved_exactly(template, must, must_not, seed):
    text = _instance(template, random.Random(f"{template}{seed}"))
    simplified = _simplified(text)
    if must is not None:
        assert must in simplified, (text, simplified)
    if must_not is not None:
        assert must_not not in simplified, (text, simplified)
    shapes = {k: v for k, v in SHAPES.items() if k in text or k == "U"}
    v = symderiv.verify(f"sum(({text}) * U)", wrt="U", claim=simplified, shapes=shapes, method="exact")
    assert v.status == "proved", (text, simplified, v.report())


@pytest.mark.parametrize("text, wrong", [
    ("P * exp(Q) / (1 + exp(Q))", "P * sigmoid(-Q)"),
    ("P @ M.T @ inv(M).T @ Q", "P @ inv(M) @ Q"),
    ("2 * matpow(M, 2).T + M.T @ M.T", "3 * matpow(M, 2)"),
    ("1 / det(M) * det(M) * P", "det(M) * P"),
    ("P @ C @ inv(M @ C)", "P @ C @ inv(M) @ inv(C)"),
    ("C.T @ (det(M) * inv(C @ M).T)", "det(M) * inv(M)"),
])
def test_wrong_variants_of_the_rewrites_are_refuted(text, wrong):
    rng = random.Random(text)
    pieces = {n: "(" + rng.choice(pool) + ")" for n, pool in (("P", ANY[:4]), ("Q", ANY[:4]), ("M", SQUARE[:3]))}
    for name, piece in pieces.items():
        text, wrong = text.replace(name, piece), wrong.replace(name, piece)
    shapes = {k: v for k, v in SHAPES.items() if k in text or k == "U"}
    v = symderiv.verify(f"sum(({text}) * U)", wrt="U", claim=wrong, shapes=shapes, method="exact")
    assert v.status == "refuted", v.report()


@pytest.mark.parametrize("name", [n for n in language_functions() if elementwise(n).expansions])
def test_registry_expansions_are_identities_numerically(name):
    row = elementwise(name)
    z = np.random.default_rng(7).normal(size=(3, 4)) * 3
    for text in row.expansions:
        want = row.numpy(np, z)
        got = evaluate(parse(text), {"z": z})
        assert np.allclose(want, got, rtol=1e-12, atol=1e-12), (name, text)


#: The rows of issue 17's table whose operations exist (the softmax rows wait for softmax).
ISSUE_ROWS = [
    ("log(det(X))", "X", None, "inv(X).T"),
    ("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": ("N", "D"), "w": ("D", 1), "y": ("N", 1)},
     "-X.T @ (y * sigmoid(-y * (X @ w)))"),
    ("sum(sqrt(X * X + 1))", "X", None, "X / sqrt(X * X + 1)"),
    ("trace(A) ** 2", "A", {"A": (3, 3)}, "2 * trace(A) * eye(3)"),
    ("sum(eye(3) * A) ** 2", "A", {"A": (3, 3)}, "2 * trace(A) * eye(3)"),
    ("trace(matpow(X, 3))", "X", None, "3 * matpow(X, 2).T"),
    ("trace(B @ inv(X) @ X)", "X", None, "zeros(n, n)"),
    ("trace(B @ X @ inv(X) @ C)", "X", None, "zeros(m, m)"),
    ("sum(sigmoid(X @ w))", "w", {"w": ("D", 1)}, "X.T @ (sigmoid(X @ w) * (1 - sigmoid(X @ w)))"),
    ("sum(log(X))", "X", None, "1 / X"),
    ("log(det(X.T @ X))", "X", {"X": (4, 2)}, "2 * X @ inv(X.T @ X)"),
]


@pytest.mark.parametrize("expression, wrt, shapes, expected", ISSUE_ROWS)
def test_the_issue_table_comes_out_as_a_person_writes_it(expression, wrt, shapes, expected):
    g = symderiv.gradient(expression, wrt, shapes)
    assert g.formula == expected
    assert g.proof_status in ("proved", "checked"), g.proof_reason


def test_a_recognised_function_is_proved_for_all_shapes():
    # The all-shapes engine writes sigmoid out when the claim names it and the expression spells it out.
    g = symderiv.gradient("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": ("N", "D"), "w": ("D", 1), "y": ("N", 1)})
    assert g.proof_status == "proved", g.proof_reason
    v = symderiv.verify("sum(log(1 + exp(-y * (X @ w))))", wrt="w", claim="X.T @ (y * sigmoid(-y * (X @ w)))",
                        shapes={"X": ("N", "D"), "w": ("D", 1), "y": ("N", 1)})
    assert v.status == "refuted", v.report()


def test_the_issue_table_rows_are_proved_on_concrete_shapes():
    g = symderiv.gradient("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": (3, 2), "w": (2, 1), "y": (3, 1)})
    assert g.formula == "-X.T @ (y * sigmoid(-y * (X @ w)))" and g.proof_status == "proved"
    g = symderiv.gradient("trace(B @ inv(X) @ X)", "X", {"X": (2, 2), "B": (2, 2)})
    assert g.formula == "zeros(2, 2)" and g.proof_status == "proved"


def test_a_function_argument_keeps_its_spelling():
    # The prover keys its atoms by the argument: B / a / b inside sigmoid stays as written.
    g = symderiv.gradient("sum(sigmoid(B / (2 + C) / (2 + B)))", "B", {"B": (2, 1), "C": (2, 1)})
    assert "sigmoid(B / (2 + C) / (2 + B))" in g.formula and g.proof_status == "proved"


# -- named subexpressions ----------------------------------------------------------------------------------


def test_formula_with_names_names_a_repeated_subexpression():
    g = symderiv.gradient("sum(sigmoid(X @ w))", "w", {"w": ("D", 1)})
    assert g.formula_with_names == "X.T @ (S * (1 - S)) where S = sigmoid(X @ w)"
    assert r"\text{where } S = \sigma" in g.latex_with_names
    parse(g.formula, allow_upstream=True)  # the formula itself stays one expression
    assert g.to_dict()["formula_with_names"] == g.formula_with_names


def test_formula_with_names_avoids_names_in_use_and_nests():
    g = symderiv.gradient("trace(inv(S))", "S")
    assert g.formula_with_names == "-T @ T where T = inv(S).T"
    g = symderiv.gradient("W @ X", "W")
    assert g.formula_with_names == g.formula == "G @ X.T"


def test_cli_gradient_names(capsys):
    assert main(["gradient", "sum(sigmoid(X @ w))", "--wrt", "w", "--shape", "w=D,1", "--names"]) == 0
    assert capsys.readouterr().out.strip() == "X.T @ (S * (1 - S)) where S = sigmoid(X @ w)"
