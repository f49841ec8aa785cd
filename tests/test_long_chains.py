"""Issue 16 §2, readability of long chains: compact routine blocks, named intermediates, the residual, subscripted
names in index notation, numbered equations, and the options on the command line."""

from __future__ import annotations

import re

import pytest

from symderiv.cli import main
from symderiv.core.errors import OptionError
from symderiv.explain.derivation import derive
from symderiv.explain.steps import StepKind

LOGISTIC = "-sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))"
LOGISTIC_SHAPES = {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}
TWO_LAYER = "W2 @ relu(W1 @ X + b1) + b2"
TWO_LAYER_SHAPES = {"W1": ("h", "m"), "X": ("m", "n"), "b1": ("h", 1), "W2": ("o", "h"), "b2": ("o", 1)}


def test_compact_is_the_default_and_shorter_with_the_same_result():
    compact = derive(LOGISTIC, "w", LOGISTIC_SHAPES)
    full = derive(LOGISTIC, "w", LOGISTIC_SHAPES, detail="full")
    assert len(compact.steps) <= 22 < 30 <= len(full.steps)
    assert compact.result.formula == full.result.formula == "X @ (sigmoid(w.T @ X) - Y).T"
    assert all(s.checked for s in compact.steps)
    routine = [b for b in compact.blocks if b.steps[-2].kind is StepKind.ENTRYWISE]
    assert len(routine) == 4  # log(Z2), log(A1), 1 - A1, sigmoid(Z1): each one step and its matrix form
    assert all(len(b.steps) <= 3 for b in routine)
    # the loss's index form is written out once, not once per block that reads it
    assert sum(s.kind is StepKind.INDEX_FORM for s in compact.steps) == 1
    assert sum(s.kind is StepKind.INDEX_FORM for s in full.steps) == 2


def test_the_source_derivation_keeps_its_six_steps():
    d = derive("W @ X", "W", {"W": ("H", "m"), "X": ("m", "n")})
    assert [s.kind.value for s in d.steps] == ["chain_rule", "sparsity", "differentiate", "substitute", "transpose",
                                               "matrix_form"]


@pytest.mark.parametrize("detail", ["compact", "full"])
def test_sigmoid_prime_is_written_with_the_blocks_name(detail):
    d = derive("sigmoid(W @ X)", "W", detail=detail, check=False)
    text = d.to_text()
    assert "(A * (1 - A))_d" in text
    assert "− sigmoid(" not in text  # never the engine's σ(Z) − σ(Z)·σ(Z)
    assert r"\left(A \odot \left(1 - A\right)\right)_{d" in d.to_latex()


def test_a_squared_error_names_its_residual():
    d = derive("sum((W @ X - Y) ** 2)", "W")
    assert d.definitions["R"].__class__.__name__ == "Sub"
    (form,) = [s for s in d.steps if s.kind is StepKind.INDEX_FORM]
    assert form.equation_text == "L = Σ_{l,q} R_lq · R_lq"  # one sum, not the square multiplied out into four
    assert "∂L/∂R = 2 * R" in d.to_text()
    assert all(s.checked for s in d.steps)


def test_subscripted_names_are_bracketed_in_index_notation():
    d = derive(TWO_LAYER, "W1", TWO_LAYER_SHAPES, check=False)
    assert r"\left(W_{1}\right)_{dc}" in d.to_latex() or r"(W_{1})_{dc}" in d.to_latex()
    assert "W_{1dc}" not in d.to_latex() and "{W_{1}}_{dc}" not in d.to_latex()
    assert "∂L/∂(W1)_dc" in d.to_text() and "W1_dc" not in d.to_text()


def test_numbered_equations_in_every_format():
    d = derive("W @ X", "W", numbered=True, check=False)
    tex = d.to_latex()
    assert tex.count(r"\begin{equation}") == len(d.steps) and r"\begin{align*}" not in tex
    text = d.to_text(width=100)
    assert all(f"({n})" in text for n in range(1, len(d.steps) + 1))
    assert r"\tag{6}" in d.to_markdown()
    assert "<p>(6)</p>" in d.to_html()
    plain = derive("W @ X", "W", check=False)
    assert r"\begin{equation}" not in plain.to_latex() and "(6)" not in plain.to_text()


def test_detail_is_checked():
    with pytest.raises(OptionError, match="detail"):
        derive("W @ X", "W", detail="short")


def test_command_line_options(capsys):
    assert main(["derive", "relu(W @ X + b)", "--wrt", "W", "--shape", "b=n,1", "--detail", "full", "--numbered",
                 "--no-asides"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"∂A_d./∂Z_d. = ∂/∂Z_d. \(relu\(Z_d.\)\) = step\(Z_d.\) +\(3\)", out) and "(13)" in out
    assert main(["derive", "relu(W @ X + b)", "--wrt", "W", "--shape", "b=n,1"]) == 0
    out = capsys.readouterr().out
    assert "By the chain rule through A" in out and "(7)" not in out
