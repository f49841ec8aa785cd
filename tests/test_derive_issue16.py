"""Regression tests of issue 16 (sections 1, 4 and 6): true sentences, coverage, several --wrt, speed, limits."""

from __future__ import annotations

import time

import pytest

from symderiv.cli import main
from symderiv.core.errors import TimeoutError
from symderiv.explain.derivation import derive
from symderiv.explain.plan import plan_blocks
from symderiv.explain.steps import StepKind
from symderiv.proofs.gradient import gradient
from symderiv.syntax.language import parse


def _texts(d):
    return [s.justification for s in d.steps]


# -- section 1: sentences -----------------------------------------------------------------------------

def test_inv_does_not_claim_deltas_that_are_not_there():
    d = derive("inv(X)", "X")
    (sub,) = [s for s in d.steps if s.kind is StepKind.SUBSTITUTE]
    assert "collapse" not in sub.justification and "δ" not in sub.equation_text
    assert sub.justification == "Substituting into the chain rule:"


def test_scalar_intermediates_leave_no_empty_slot():
    for expression, wrt, shapes in (("log(sum(exp(x)))", "x", {"x": ("n", 1)}), ("sqrt(sum(W ** 2))", "W", None)):
        text = derive(expression, wrt, shapes).to_text()
        for bad in ("every ,", "every :", "over :", "over ,", "∂Z/∂Z = 1 (1 when"):
            assert bad not in text, (expression, bad)
    d = derive("log(sum(exp(x)))", "x", {"x": ("n", 1)})
    assert "only through the scalar" in _texts(d)[3]


def test_scaling_by_a_scalar_is_not_called_hadamard():
    d = derive("log(sum(exp(x)))", "x", {"x": ("n", 1)})
    forms = [s.justification for s in d.steps if s.kind is StepKind.MATRIX_FORM]
    assert "scalar factor multiplies every entry" in forms[1] and "Hadamard" not in forms[1]
    assert "Hadamard" in forms[2]  # (∂L/∂A) * exp(x): two n×1 matrices
    d = derive("det(X)", "X")
    assert not any("Hadamard" in t for t in _texts(d))


def test_generic_indices_are_no_matrix_name():
    d = derive("X @ W + b", "b", {"b": (1, "H")}, detail="full")
    text = " ".join(d.to_text().split())
    assert "∂b_b" not in text and "δ_bc" not in text
    assert "∂b_a/∂b_c = δ_ac" in text


def test_one_letter_one_range_in_an_index_form():
    d = derive("sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))", "w",
               {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")})
    for step in d.steps:
        seen = {}
        for side in step.equation.sides:
            for t in getattr(side, "terms", ()):
                for i in t.sums:
                    assert seen.setdefault(i.name, i.dim) == i.dim, step.equation_text


@pytest.mark.parametrize("first, second, shapes", [
    ("sigmoid(W @ X)", "sigmoid(X @ W)", []),
    ("relu(W @ X + b)", "relu(X @ W + b)", []),
    ("tanh(W @ X + b) ** 2", "tanh(X @ W + b) ** 2", []),
])
def test_compare_sees_the_transposed_picture_through_functions_and_biases(first, second, shapes, capsys):
    assert main(["compare", first, second, "--wrt", "W", *shapes]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "with every matrix transposed" in out and "exactly the transpose picture" in out
    assert "not the transposed picture" not in out


def test_compare_says_when_it_is_not_the_transposed_picture(capsys):
    assert main(["compare", "relu(W @ X + b)", "relu(X @ W)", "--wrt", "W"]) == 0
    assert "not the transposed picture" in " ".join(capsys.readouterr().out.split())


def test_compare_markdown_and_shapes(capsys):
    assert main(["compare", "W @ X", "X @ W", "--wrt", "W", "--shape", "X=m,n", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "## How the two results relate" in out and "$" in out


# -- section 4: coverage and the command line ------------------------------------------------------------

COVERAGE = [
    ("(X - sum(X, axis=0) * 0.25) ** 2", "X"),
    ("exp(Z) / sum(exp(Z), axis=0)", "Z"),
    ("-sum(Y * log(exp(Z) / sum(exp(Z), axis=0)))", "Z"),
    ("(exp(Q @ K.T) / sum(exp(Q @ K.T), axis=1)) @ V", "Q"),
    ("(X - sum(X, axis=0) / 4) / sqrt(sum((X - sum(X, axis=0) / 4) ** 2, axis=0) / 4 + 1)", "X"),
]


@pytest.mark.parametrize("expression, wrt", COVERAGE)
def test_derive_handles_what_gradient_handles(expression, wrt):
    d = derive(expression, wrt)
    assert d.result.formula == gradient(expression, wrt, check=False).formula
    assert all(s.checked for s in d.steps)
    if expression.endswith("** 2"):  # the centred matrix under the square is named R and derived in index form
        assert "R" in d.definitions and not any("backward rule" in s.justification for s in d.steps)
    else:
        assert any("backward rule" in s.justification for s in d.steps)


def test_layer_norm_blocks_are_ordered_by_use():
    """The centred block is used inside the variance block before it is cut: it comes after both users."""
    e = parse("(X - sum(X, axis=0) / 4) / sqrt(sum((X - sum(X, axis=0) / 4) ** 2, axis=0) / 4 + 1)")
    plan = plan_blocks(e, "X", False, {"X"})
    for name in plan.order:
        for user in plan.users(name):
            assert plan.order.index(user) < plan.order.index(name), (user, name, plan.order)


def test_several_wrt_names_derive_each(capsys):
    assert main(["derive", "X @ W + b", "--wrt", "W", "--wrt", "b", "--shape", "b=1,H"]) == 0
    out = capsys.readouterr().out
    assert "Derivation of ∂L/∂W and ∂L/∂b" in out  # one document (tests/test_multi_wrt.py)
    assert "X.T @ G" in out and "sum(G, axis=0)" in out
    assert main(["derive", "X @ W + b", "--wrt", "W", "--wrt", "b", "--format", "latex"]) == 0


# -- section 6: speed and limits ---------------------------------------------------------------------------

def test_large_concrete_shapes_are_checked_on_a_small_instance():
    start = time.perf_counter()
    d = derive("W @ X", "W", {"W": (64, 32), "X": (32, 128)})
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, elapsed  # ≤ 1 s alone; a margin for a loaded machine
    assert d.result.formula == "G @ X.T" and all(s.checked for s in d.steps)
    assert d.result.proof == [{"W": (3, 2), "X": (2, 4)}]
    assert "small instance of the same structure (W 3×2, X 2×4)" in d.to_text().replace("\n", " ")


def test_small_concrete_shapes_are_checked_as_given():
    d = derive("W @ X", "W", {"W": (3, 2), "X": (2, 4)})
    assert d.result.proof == [{"W": (3, 2), "X": (2, 4)}] and d.result.proof_status == "proved"


def test_the_timeout_covers_the_whole_derivation():
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="time limit of 1 s"):
        derive("W @ X + b @ ones(1, 128)", "W", {"W": (64, 32), "X": (32, 128)}, timeout=1)
    assert time.perf_counter() - start < 3.0


def test_sizes_written_in_derived_formulas_shrink_with_the_instance():
    """The backward rule of a centring writes ones(64, 1); the check runs at the small instance all the same."""
    d = derive("(X - sum(X, axis=0) * 0.25) ** 2", "X", {"X": (64, 32)})
    assert "ones(64, 1)" in d.result.formula and all(s.checked for s in d.steps)
    assert d.result.proof == [{"X": (3, 2)}]


def test_index_names_option(capsys):
    assert main(["derive", "W @ X", "--wrt", "W", "--indices", "a,b,r,s,t"]) == 0
    out = capsys.readouterr().out
    assert "∂L/∂W_ab = Σ_{r,s} ∂L/∂D_rs · ∂D_rs/∂W_ab" in out and "Σ_t W_at · X_ts" in out
    for bad in ("a,b,r", "a,W,r,s", "a,a,r,s", "a,b,r,s1"):
        assert main(["derive", "W @ X", "--wrt", "W", "--indices", bad]) == 2


def test_asides_can_be_left_out(capsys):
    assert main(["derive", "W @ X", "--wrt", "W", "--no-asides"]) == 0
    out = capsys.readouterr().out
    assert "Result: ∂L/∂W = (∂L/∂D) @ X.T." in out
    assert "symderiv's language" not in out and "checked" not in out
    assert main(["derive", "W @ X", "--wrt", "W"]) == 0
    assert "symderiv's language" in capsys.readouterr().out


def test_one_long_comparison_of_entries_stops_at_the_limit_too():
    """The final check of a hand-written softmax compares large exact entries: the exact algebra is metered, so the
    limit stops it inside one comparison (before, a 5 s limit took 20 s, from the last check between entries)."""
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="time limit of 3 s"):
        derive("exp(W @ X) / sum(exp(W @ X), axis=0)", "W", {"W": (8, 6), "X": (6, 9)}, timeout=3)
    assert time.perf_counter() - start < 6.0
