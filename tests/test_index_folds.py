"""The all-shapes engine's broadcast-quotient split and sum fold (symderiv.proofs.index.folds): a softmax's rows
sum to 1, proved from the definition of sum, and the softmax rows of issue 17 proved for all shapes again."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import symderiv
from symderiv.proofs.index import prove_all_shapes, prove_all_shapes_with_lemmas
from symderiv.proofs.problem import parse_claim, prepare

ROWS = {"Z": ("n", "C"), "w": ("n", 1)}


def _proves(expression: str, wrt: str, shapes: dict, claim: str) -> tuple[bool | None, list[str]]:
    p = prepare(expression, [wrt], shapes)
    return prove_all_shapes_with_lemmas(p, wrt, parse_claim(p, claim))


def test_softmax_rows_sum_to_one_is_proved_for_all_shapes() -> None:
    # L = Σ_i G_i w_i Σ_k softmax(Z)_ik, so ∂L/∂w = G exactly when each row of the softmax sums to 1.
    for body in ("softmax(Z, axis=1)", "exp(Z) / sum(exp(Z), axis=1)"):
        ok, lemmas = _proves(f"sum({body}, axis=1) * w", "w", ROWS, "G")
        assert ok is True, body
        assert "sum-fold" in lemmas


def test_softmax_columns_sum_to_one_is_proved_for_all_shapes() -> None:
    ok, _ = _proves("w.T * sum(softmax(Z, axis=0), axis=0)", "w", {"Z": ("C", "n"), "w": ("n", 1)}, "G.T")
    assert ok is True
    # the total of a row softmax is the number of rows, a constant, whatever the rows are
    ok, _ = _proves("sum(exp(W @ X) / sum(exp(W @ X), axis=1))", "W", {"W": ("n", "m"), "X": ("m", "k")},
                    "zeros(n, m)")
    assert ok is True


@pytest.mark.parametrize("expression, wrt, shapes, wrong", [
    # the wrong axis: the columns of a row softmax do not sum to 1
    ("sum(softmax(Z, axis=1), axis=0) * w.T", "w", {"Z": ("n", "C"), "w": ("C", 1)}, "G.T"),
    ("sum(exp(W @ X) / sum(exp(W @ X), axis=1), axis=0)", "W", {"W": ("n", "m"), "X": ("m", "k")},
     "zeros(n, m)"),
    # without the assumption that Y's rows sum to 1
    ("-sum(Y * log(exp(X) / sum(exp(X), axis=1)))", "X", {"X": ("n", "C"), "Y": ("n", "C")},
     "softmax(X, axis=1) - Y"),
    ("-sum(Y * log(exp(X) / sum(exp(X), axis=1)))", "X", {"X": ("n", "C"), "Y": ("n", "C")},
     "sum(Y, axis=0) * softmax(X, axis=1) - Y"),
    # a sum of squares is not the square of the sum
    ("sum(exp(Z) ** 2 / sum(exp(Z), axis=1) ** 2, axis=1) * w", "w", ROWS, "G"),
])
def test_wrong_normalisations_are_not_proved(expression: str, wrt: str, shapes: dict, wrong: str) -> None:
    ok, _ = _proves(expression, wrt, shapes, wrong)
    assert ok is not True


@pytest.mark.parametrize("expression, wrt, shapes, formula", [
    ("-sum(Y * log(exp(X) / sum(exp(X), axis=1)))", "X", {"X": ("n", "C"), "Y": ("n", "C")},
     "sum(Y, axis=1) * softmax(X, axis=1) - Y"),
    ("sum(exp(W @ X) / sum(exp(W @ X), axis=0))", "W", {"W": ("n", "m"), "X": ("m", "k")}, "zeros(n, m)"),
    ("g * (X - mean(X, axis=1)) / sqrt(mean((X - mean(X, axis=1)) ** 2, axis=1) + 0.00001) + b", "X",
     {"X": ("n", "d"), "g": (1, "d"), "b": (1, "d")}, None),
])
def test_simplified_softmax_rows_are_proved_for_all_shapes(expression: str, wrt: str, shapes: dict,
                                                           formula: str | None) -> None:
    g = symderiv.gradient(expression, wrt, shapes)
    if formula is not None:
        assert g.formula == formula
    assert g.proof_status == "proved"
    assert "for all shapes" in g.proof_reason


def test_the_folded_identity_holds_numerically() -> None:
    rng = np.random.default_rng(17)
    z = rng.normal(size=(4, 5))
    s = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert np.allclose(s.sum(axis=1), 1.0)
    assert not np.allclose(s.sum(axis=0), 1.0)


def test_every_cookbook_gradient_is_proved_for_all_shapes() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "cookbook.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("- `∂L/∂")]
    assert len(rows) >= 25
    assert all(line.endswith("**proved for all shapes**") for line in rows), \
        [line[:80] for line in rows if not line.endswith("**proved for all shapes**")]


def test_a_delta_between_free_indices_renames_the_other_factors() -> None:
    shapes = {"X": ("n", "n"), "D": ("n", "n")}
    assert _proves("sum(D * eye(n) * X)", "X", shapes, "D * eye(n)")[0] is True
    assert _proves("sum(D * eye(n) * X)", "X", shapes, "D.T * eye(n)")[0] is True
    assert _proves("sum(D * eye(n) * X)", "X", shapes, "D")[0] is not True
    assert _proves("sum(D * eye(n) * X)", "X", shapes, "eye(n)")[0] is not True


def test_the_cross_entropy_hvp_is_proved_for_all_shapes_and_a_wrong_one_refuted() -> None:
    expr, shapes = "-sum(Y * log(exp(X) / sum(exp(X), axis=1)))", {"X": ("N", "C"), "Y": ("N", "C")}
    result = symderiv.hvp(expr, "X", shapes=shapes)
    assert result.proof_status == "proved" and "for all shapes" in result.proof_reason
    assert symderiv.hvp(expr, "X", shapes=shapes, claim=f"2 * ({result.formula})").status == "refuted"
    assert symderiv.hvp(expr, "X", shapes=shapes, claim=f"{result.formula} + V").status == "refuted"


_MUTANTS = ("2 * ({f})", "({f}) * softmax(X, axis=1)", "({f}) + softmax(X, axis=0)",
            "({f}) + sum(softmax(X, axis=1), axis=0) - 1", "({f}) + sum(softmax(X, axis=0), axis=1) - 1")


def _family() -> list[str]:
    out = []
    for atom in ("exp(X)", "Y * exp(X)", "sigmoid(X)"):
        for axis in (0, 1):
            q = f"{atom} / sum({atom}, axis={axis})"
            out += [f"sum({q})", f"-sum(Y * log({q}))", f"sum(sum({q}, axis=1) * w)", f"sum({q} ** 2)"]
    return out


@pytest.mark.parametrize("expression", _family())
def test_no_false_all_shapes_proof_over_quotients_by_line_sums(expression: str) -> None:
    # Every claim the all-shapes engine proves (the derived formula, or a mutant of it) is also proved exactly, or
    # at least not refuted, at three concrete sizes.
    shapes = {k: v for k, v in {"X": ("n", "m"), "Y": ("n", "m"), "w": ("n", 1)}.items() if k in expression}
    formula = symderiv.gradient(expression, "X", shapes, check=False).formula
    p = prepare(expression, ["X"], shapes)
    proved = 0
    for claim in [formula] + [m.format(f=formula) for m in _MUTANTS]:
        try:
            ok = prove_all_shapes(p, "X", parse_claim(p, claim), refute=False)
        except symderiv.SymderivError:
            continue
        if ok is not True:
            continue
        proved += 1
        for n, m in ((2, 3), (3, 2)):
            concrete = {k: tuple({"n": n, "m": m}.get(d, d) for d in v) for k, v in shapes.items()}
            text = re.sub(r"\bn\b", str(n), re.sub(r"\bm\b", str(m), claim))
            assert symderiv.verify(expression, "X", text, concrete).status != "refuted", (expression, claim)
    if "sigmoid" not in expression and "Y * exp" not in expression:
        assert proved >= 1  # the derived formula at least (the summand of the others is not one factor: not folded)
