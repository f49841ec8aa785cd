"""Named tests for the mutants that survived the audit of issue 11 (each fails when its mutant is applied).

- S2: simplify.py loses the sign of ``(-A) ** k`` for odd ``k``.
- S4: simplify.py rewrites ``inv(A.T)`` as ``inv(A)``.
- L1, L2: language.py's ``MAX_POWER`` and ``MAX_TREE_DEPTH`` raised a thousandfold (each limit is reached
  without the other).
- P1: prover.compare counts "no witness found" as proved (skips the SymPy check).
- V1: verification counts ``undecided`` as proved.
- V3: verification relabels a check at sample sizes (symbolic shapes) as ``proved``.

The tests assert exact statuses: SPEC 0.2's verdicts (``refuted`` for a pure polynomial difference,
``undecided`` for a check at sample sizes, exit code 4).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import symderiv
from symderiv.autodiff.simplify import simplify
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.core.errors import ParseError
from symderiv.syntax.language import parse


def _same_values(a: str, b_node, env: dict) -> bool:
    return bool(np.allclose(evaluate(parse(a), env), evaluate(b_node, env), rtol=1e-12, atol=1e-12))


# -- S2: (-A) ** k keeps its sign for odd k ------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_S2_simplified_power_of_a_negation_keeps_its_sign(k):
    text = f"(-A) ** {k}"
    env = {"A": np.array([[0.5, -1.25], [2.0, 3.0]])}
    assert _same_values(text, simplify(parse(text)), env), simplify(parse(text))


@pytest.mark.parametrize("k", [3, 5])
def test_S2_gradient_through_an_odd_power_of_a_negation_is_proved(k):
    shapes = {"A": (2, 2), "X": (2, 2)}
    g = symderiv.gradient(f"sum((-A) ** {k} * X)", wrt="X", shapes=shapes, check=False)
    v = symderiv.verify(f"sum((-A) ** {k} * X)", wrt="X", claim=g.formula, shapes=shapes)
    assert v.status == "proved", (g.formula, v.report())


# -- S4: inv(A.T) is inv(A).T, not inv(A) --------------------------------------------------------------


@pytest.mark.parametrize("text", ["inv(A.T)", "inv(A.T).T", "inv((A @ B).T)", "det(inv(A.T) @ B)"])
def test_S4_simplified_inverse_of_a_transpose(text):
    env = {"A": np.array([[2.0, 1.0], [-0.5, 3.0]]), "B": np.array([[1.0, 0.25], [2.0, -1.0]])}
    assert _same_values(text, simplify(parse(text)), env), simplify(parse(text))


def test_S4_gradient_through_an_inverse_of_a_transpose_is_proved():
    shapes = {"A": (2, 2), "X": (2, 3)}
    g = symderiv.gradient("sum(inv(A.T) @ X)", wrt="X", shapes=shapes, check=False)
    assert symderiv.verify("sum(inv(A.T) @ X)", wrt="X", claim=g.formula, shapes=shapes).status == "proved", g.formula


# -- L1, L2: the parser's limits, each reached without the other -----------------------------------------


def test_L1_power_limit_alone():
    parse("A ** 64")  # shallow, small: inside every limit
    for text in ("A ** 65", "A ** -65", "A ** 64000"):
        with pytest.raises(ParseError, match="between -64 and 64"):
            parse(text)


def test_L2_tree_depth_limit_alone():
    parse("A" + ".T" * 100)  # no brackets, no power, 101 nodes: only the depth is near its limit
    with pytest.raises(ParseError, match="nested more than 120 levels deep"):
        parse("A" + ".T" * 125)
    with pytest.raises(ParseError, match="nested more than 120 levels deep"):
        parse(" + ".join(["A"] * 130))


# -- P1, V1: "no witness" and "undecided" are not proofs -------------------------------------------------

#: A product of twelve linear factors, one per witness value the prover tries: it vanishes at every point the
#: witness search can draw, but it is not the zero polynomial.
VANISHING = " * ".join(f"(W - {v})" for v in ("1", "(-1)", "2", "(-2)", "3", "(-3)", "1/2", "(-1/2)", "3/2",
                                               "(-3/2)", "1/3", "(-2/3)"))
VANISHING_CLAIM = f"2 * G * W + {VANISHING}"


def test_P1_V1_a_polynomial_that_vanishes_at_every_witness_is_not_proved():
    v = symderiv.verify("W * W", wrt="W", claim=VANISHING_CLAIM, shapes={"W": (1, 2)})
    assert not v.holds and not bool(v), v.report()
    assert v.status in ("undecided", "refuted"), v.report()


def test_P1_a_pure_polynomial_difference_is_refuted():
    v = symderiv.verify("W * W", wrt="W", claim=VANISHING_CLAIM, shapes={"W": (1, 2)})
    assert v.status == "refuted" and v.counterexample is not None, v.report()


def test_P1_V1_a_function_identity_the_engine_cannot_decide_is_undecided():
    # tanh(x) = 2 sigmoid(2x) - 1: true, but neither the witness search nor SymPy's simplify decides it
    # (sigmoid(x) + sigmoid(-x) = 1 is proved: SymPy's second chance writes sigmoid by its registry expansion).
    v = symderiv.verify("W", wrt="W", claim="G + (tanh(W) - 2 * sigmoid(2 * W) + 1)", shapes={"W": (1, 2)})
    assert v.status == "undecided" and v.holds is False and not bool(v), v.report()
    assert not v.report().startswith("PROVED")


def test_V1_undecided_exits_4(capsys):
    code = main(["verify", "W", "--wrt", "W", "--claim", "G + (tanh(W) - 2 * sigmoid(2 * W) + 1)", "--shape", "W=1,2"])
    out = capsys.readouterr().out
    assert code == 4 and out.startswith("UNDECIDED"), (code, out)


def test_V1_a_proof_is_proved():
    v = symderiv.verify("W * W", wrt="W", claim="2 * G * W", shapes={"W": (1, 2)})
    assert v.status == "proved" and v.holds, v.report()


# -- V3: a check at sample sizes is not a proof ---------------------------------------------------------


UNPROVABLE = "det(X) * inv(X).T * trace(X @ X) / trace(X @ X)"


def test_V3_a_symbolic_claim_the_all_shapes_engine_cannot_prove_is_not_proved():
    # True for every size (a trace over itself is 1), but the index engine does not prove it: only a check at sizes.
    # (The example was det(X) * inv(X.T); the all-shapes engine now moves transposes through inv: issue 15.)
    v = symderiv.verify("det(X)", wrt="X", claim=UNPROVABLE, shapes={"X": ("n", "n")})
    assert v.status != "proved", v.report()
    assert v.proof is not None and not v.proof.all_shapes
    assert "not a proof" in v.reason or v.status == "undecided", v.report()


def test_V3_a_check_at_sample_sizes_is_undecided():
    v = symderiv.verify("det(X)", wrt="X", claim=UNPROVABLE, shapes={"X": ("n", "n")})
    assert v.status == "undecided" and not bool(v), v.report()


@pytest.mark.parametrize(("expression", "claim", "shapes"), [
    ("trace(W)", "eye(n) + (trace(eye(n)) - 2) * (trace(eye(n)) - 3) * W", {"W": ("n", "n")}),
    ("sum(X @ W @ V) / sum(ones(N, 1))", "X.T @ ones(N, M) @ V.T / sum(ones(M, 1))",
     {"X": ("N", "K"), "W": ("K", "H"), "V": ("H", "M")}),
])
def test_V3_false_symbolic_claims_do_not_hold(expression, claim, shapes):
    v = symderiv.verify(expression, wrt="W", claim=claim, shapes=shapes)
    assert not v.holds and v.status in ("undecided", "refuted"), v.report()


def test_V3_false_symbolic_claim_is_never_proved():
    v = symderiv.verify("trace(W)", wrt="W", claim="eye(n) + (trace(eye(n)) - 2) * (trace(eye(n)) - 3) * W",
                        shapes={"W": ("n", "n")})
    assert v.status != "proved", v.report()


def test_V3_an_all_shapes_proof_is_proved():
    v = symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": ("n", "m"), "X": ("m", "k")})
    assert v.status == "proved" and v.proof.all_shapes and v.reason.startswith("proved for all shapes"), v.report()


# -- Survivors of the sampled mutation run (tools/mutation.py --sample 40 --seed 1) ----------------------


def test_prover_second_chance_proves_a_function_identity_sympy_decides():
    # prover.py:134 (condition negated): entries equal only through exp(2W) exp(-W) = exp(W) go to SymPy,
    # which proves them; without that second chance they would stay undecided.
    v = symderiv.verify("exp(W)", wrt="W", claim="G * exp(2*W) * exp(-W)", shapes={"W": (1, 2)})
    assert v.status == "proved", v.report()


def test_simplify_a_cancellation_without_shapes_is_zero():
    # simplify.py:79 (0 → 1): with no shape function a cancelled sum is the number 0, not 1.
    assert simplify(parse("A - A")) == parse("0")
    assert simplify(parse("2 * B - B - B")) == parse("0")


def test_simplify_keeps_the_broadcast_of_a_cancelled_term():
    # simplify.py:396 (`not x` → `x`): x + W - W broadcasts the 1×1 x to W's 2×2, and stays 2×2 after W cancels.
    from symderiv.syntax.shapes import infer_shapes

    node = parse("x + W - W")
    typing = infer_shapes(node, {"x": (1, 1), "W": (2, 2)})
    simplified = simplify(node, typing.shape_of)
    env = {"x": np.array([[1.5]]), "W": np.array([[1.0, 2.0], [3.0, 4.0]])}
    assert evaluate(simplified, env).shape == (2, 2)
    assert _same_values("x + W - W", simplified, env), simplified


def test_random_mode_shape_refusal_names_the_layout_only_when_it_is_used():
    # randomized.py:874 (Eq → NotEq): the "(numerator layout)" note belongs to numerator-layout requests only.
    shapes = {"W": (3, 2), "X": (2, 4)}
    v = symderiv.verify("W @ X", wrt="W", claim="G", shapes=shapes, method="random")
    assert not v.holds and v.reason.startswith("shape") and "numerator" not in v.reason, v.reason
    w = symderiv.verify("W @ X", wrt="W", claim="G", shapes=shapes, method="random", layout="numerator")
    assert not w.holds and w.reason.startswith("shape") and "(numerator layout)" in w.reason, w.reason


def test_witness_values_through_a_non_monic_denominator_are_exact():
    # Aimed at algebra.py:183 (Mult → Div in the monic normalisation of a denominator); it does not reach that
    # line (the mutant still survives: see the report of issue 11), but it pins the witness values exactly.
    v = symderiv.verify("W / (3 * X + 5 * Y)", wrt="W", claim="2 * G / (3 * X + 5 * Y)",
                        shapes={"W": (1, 2), "X": (1, 2), "Y": (1, 2)})
    assert v.status == "refuted" and v.counterexample is not None, v.report()
    cx = v.counterexample
    i, j = cx.entry
    x, y, g = (Fraction(cx.values[n][i][j]) for n in ("X", "Y", "G"))
    assert Fraction(cx.gradient_value) == g / (3 * x + 5 * y), cx.describe()
    assert Fraction(cx.claim_value) == 2 * g / (3 * x + 5 * y), cx.describe()
