"""Step-by-step derivations: the source's six steps, blocks in backprop order, every step checked."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import cases

import symderiv
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.cli import main
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError, SymderivError, UnsupportedError
from symderiv.explain.derivation import Equation, Grad, Matrix, StepKind, derive
from symderiv.proofs.index import IndexSum
from symderiv.syntax.language import parse

SOURCE = {"W": ("H", "m"), "X": ("m", "n")}


def _independently_right(text: str, wrt: str, formula: str, shapes: dict, sizes: dict | None = None,
                         functions=(), seed: int = 0) -> None:
    """``formula`` is ∂L/∂wrt by two oracles that share no code with derive/gradient: the entrywise prover
    on concrete shapes, and NumPy central finite differences at a random point.

    ``sizes`` maps the dimension names that ``formula`` may use to the sizes of ``shapes``.
    """
    sizes = sizes or {}
    concrete = formula
    for name, size in sizes.items():
        concrete = re.sub(rf"\b{name}\b", str(size), concrete)
    verdict = symderiv.verify(text, wrt=wrt, claim=concrete, shapes=shapes, functions=functions)
    assert verdict.status == "proved", verdict.report()
    node = parse(text, functions=functions)
    rng = np.random.default_rng(seed)
    env = {name: rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
           for name, shape in symderiv.proofs.verification.prepare(text, [wrt], shapes, functions=functions)
           .typing.symbols.items()}
    value = evaluate(node, env, sizes=sizes)
    upstream = None if value.shape == (1, 1) else rng.uniform(-1, 1, size=value.shape)
    fd = finite_difference_gradient(node, wrt, env, upstream, sizes=sizes)
    claimed = evaluate(parse(formula, functions=functions, allow_upstream=True),
                       {**env, "G": upstream} if upstream is not None else env, sizes=sizes)
    assert np.allclose(np.broadcast_to(claimed, fd.shape), fd, rtol=1e-4, atol=1e-6), (text, formula, claimed, fd)


SIX = ["chain_rule", "sparsity", "differentiate", "substitute", "transpose", "matrix_form"]


@pytest.fixture(scope="module")
def source():
    return derive("W @ X", wrt="W", shapes=SOURCE)


def test_the_source_derivation_has_its_six_steps_in_order(source):
    assert [s.kind for s in source.steps] == SIX
    texts = [s.equation_text for s in source.steps]
    assert texts == [
        "∂L/∂W_dc = Σ_{i,j} ∂L/∂D_ij · ∂D_ij/∂W_dc",
        "∂L/∂W_dc = Σ_j ∂L/∂D_dj · ∂D_dj/∂W_dc",
        "∂D_dj/∂W_dc = ∂/∂W_dc (Σ_k W_dk · X_kj) = Σ_k δ_kc · X_kj = X_cj",
        "∂L/∂W_dc = Σ_j ∂L/∂D_dj · X_cj",
        "∂L/∂W_dc = Σ_j ∂L/∂D_dj · Xᵀ_jc",
        "∂L/∂W = (∂L/∂D) @ X.T",
    ]
    assert source.result.formula == "G @ X.T"
    assert all(s.checked for s in source.steps)


def test_steps_are_frozen_and_checked_when_built(source):
    step = source.steps[0]
    assert step.kind is StepKind.CHAIN_RULE and step.checked
    with pytest.raises(dataclasses.FrozenInstanceError):
        step.checked = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        source.result = None  # type: ignore[misc]


def test_steps_are_data_with_a_sentence_and_indices(source):
    for step in source.steps:
        assert isinstance(step.equation, Equation)
        assert all(isinstance(side, (IndexSum, Matrix, Grad)) for side in step.equation.sides)
        sentence = step.justification
        assert sentence and "\n" not in sentence and "\\" not in sentence
        assert all(isinstance(i, str) for i in step.indices)
    assert set(source.steps[0].indices) == {"d", "c", "i", "j"}
    assert "k" in source.steps[2].indices
    assert "unless i = d" in source.steps[1].justification
    assert "row i of W" in source.steps[1].justification
    assert "X_cj = Xᵀ_jc" in source.steps[4].justification


def test_default_shapes_are_the_inferred_names():
    d = derive("W @ X", wrt="W")
    assert d.shapes == symderiv.verify.__globals__["prepare"]("W @ X", ["W"], None).typing.symbols
    assert [s.kind for s in d.steps] == SIX


def test_samples_as_rows_switch_the_indices():
    d = derive("X @ W", wrt="W")
    assert [s.kind for s in d.steps] == SIX
    assert "unless j = c" in d.steps[1].justification
    assert d.steps[-1].equation_text == "∂L/∂W = X.T @ (∂L/∂D)"


def test_blocks_in_backprop_order_with_intermediate_names():
    d = derive("relu(W @ X + b)", wrt="W", shapes={"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)})
    assert [(b.name, b.wrt) for b in d.blocks] == [("A", "Z"), ("Z", "W")]
    assert d.definitions["Z"] == symderiv.parse("W @ X + b")
    elementwise = [s.kind for s in d.blocks[0].steps]
    assert elementwise == ["entrywise", "matrix_form"]  # compact: a routine block in one step
    assert "relu acts entry by entry" in d.blocks[0].steps[0].justification
    full = derive("relu(W @ X + b)", wrt="W", shapes={"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)}, detail="full")
    assert [s.kind for s in full.blocks[0].steps] == ["chain_rule", "sparsity", "differentiate", "substitute",
                                                      "matrix_form"]
    assert "relu acts entry by entry" in full.blocks[0].steps[2].justification
    assert full.result == d.result
    assert d.steps[-1].equation_text.endswith("* step(W @ X + b)) @ X.T")
    assert d.result.formula == "(G * step(W @ X + b)) @ X.T"
    assert all(s.checked for s in d.steps)


def test_bias_is_a_broadcast_sum():
    shapes = {"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)}
    d = derive("W @ X + b", wrt="b", shapes=shapes, detail="full")
    assert d.steps[-1].equation_text == "∂L/∂b = sum((∂L/∂D), axis=1)"
    assert "only through the entry b_i" in d.steps[1].justification
    compact = derive("W @ X + b", wrt="b", shapes=shapes)
    assert [s.kind.value for s in compact.steps] == ["entrywise", "matrix_form"]
    assert compact.steps[0].equation_text == "∂L/∂b_d = Σ_j ∂L/∂D_dj"
    assert "only through the entry b_d, so only the entries D_dj of D contribute, summed over j" in \
        compact.steps[0].justification


def test_a_new_expression_derives_without_special_cases():
    d = derive("tanh(X @ W) @ V", wrt="W")
    assert [b.name for b in d.blocks] == ["D", "A", "Z"]
    assert all(s.checked for s in d.steps)
    _independently_right("tanh(X @ W) @ V", "W", d.result.formula, {"X": (2, 3), "W": (3, 2), "V": (2, 4)})


@pytest.mark.parametrize("expression, wrt, shapes, formula", [
    ("trace(A @ X @ B)", "X", None, "A.T @ B.T"),
    ("x.T @ A @ x", "x", {"x": ("n", 1)}, "(A + A.T) @ x"),
    ("logdet(X)", "X", None, "inv(X).T"),
    ("det(X)", "X", None, "det(X) * inv(X).T"),
    ("inv(X)", "X", None, "-inv(X).T @ G @ inv(X).T"),
    ("W2 @ relu(W1 @ X + b1) + b2", "W1", {"b1": ("h", 1), "b2": ("o", 1)}, None),
    ("exp(relu(W @ X)) + relu(W @ X)", "W", None, None),
    ("phi(W @ X)", "W", None, "(G * phi_prime(W @ X)) @ X.T"),
])
def test_other_expressions(expression, wrt, shapes, formula):
    d = derive(expression, wrt=wrt, shapes=shapes, functions=["phi"] if "phi" in expression else ())
    assert all(s.checked for s in d.steps)
    if formula is not None:
        assert d.result.formula == formula


def test_a_variable_used_by_two_blocks_gets_an_accumulate_step():
    d = derive("exp(relu(W @ X)) + relu(W @ X)", wrt="W")
    acc = [s for s in d.steps if s.kind == "accumulate"]
    assert len(acc) == 1 and "is used by" in acc[0].justification and acc[0].checked


def test_scalar_loss_starts_from_the_index_form():
    d = derive("trace(A @ X @ B)", wrt="X")
    assert [s.kind for s in d.steps] == ["index_form", "differentiate", "transpose", "matrix_form"]
    # p is a dimension name here (A: n×m, X: m×p), so the third index is q
    assert d.steps[0].equation_text == "L = Σ_{k,l,q} A_kl · X_lq · B_qk"


def test_numerator_layout_transposes():
    d = derive("W @ X", wrt="W", layout="numerator")
    assert d.result.formula == "X @ G.T"
    assert d.steps[-1].equation_text.startswith("(∂L/∂W).T = ")


def test_a_wrong_step_raises_instead_of_printing(monkeypatch):
    """A wrong f′ in what the full derivation prints (the block's ∂A_dc/∂Z_dc) is caught by the step's check."""
    import symderiv.explain.blocks as blocks

    real = blocks.derivative_of

    def wrong(fn, operand, name=None):  # a deliberately wrong table entry: relu' = exp
        return real("exp", operand, name) if fn == "relu" else real(fn, operand, name)

    monkeypatch.setattr(blocks, "derivative_of", wrong)
    with pytest.raises(DerivationError, match="does not hold"):
        derive("relu(W @ X)", wrt="W", detail="full")


def test_a_wrong_compact_step_raises_instead_of_printing(monkeypatch):
    """The compact step prints the registry's f′ with the block's name: a wrong one is caught by its check."""
    import symderiv.explain.blocks as blocks

    real = blocks.derivative_of

    def wrong(fn, operand, name=None):  # relu' = exp
        return real("exp", operand, name) if fn == "relu" else real(fn, operand, name)

    monkeypatch.setattr(blocks, "derivative_of", wrong)
    with pytest.raises(DerivationError, match="does not hold"):
        derive("relu(W @ X)", wrt="W")


def test_unchecked_when_asked():
    d = derive("W @ X", wrt="W", check=False)
    assert not any(s.checked for s in d.steps)


def test_refusals():
    with pytest.raises(UnsupportedError):
        derive("step(W @ X)", wrt="W")
    # a symmetric wrt is explained now (the convention's last step): tests/test_derive_assumptions.py
    with pytest.raises(SymderivError):
        derive("W @ X", wrt="Q")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(max_depth=2))
def test_random_expressions_derive_or_refuse_cleanly(case):
    try:
        d = derive(case.symbolic_text, case.wrt, case.symbolic_shapes, functions=case.functions)
    except (UnsupportedError, symderiv.BudgetError):
        return
    except SymderivError as err:
        assert not isinstance(err, DerivationError), err
        return
    assert all(s.checked for s in d.steps)
    _independently_right(case.text, case.wrt, d.result.formula, case.shapes, case.sizes, case.functions)
    assert d.to_text()


# -- command line -----------------------------------------------------------------


def test_cli_derive_formats(tmp_path, capsys):
    assert main(["derive", "W @ X", "--wrt", "W"]) == 0
    out = capsys.readouterr().out
    assert "Step 6." in out and "∂L/∂W = (∂L/∂D) @ X.T" in out
    for fmt, needle in [("latex", "\\documentclass"), ("markdown", "\n$$\n\\begin{aligned}"), ("html", "<math")]:
        path = tmp_path / f"wx.{fmt}"
        assert main(["derive", "W @ X", "--wrt", "W", "--format", fmt, "-o", str(path)]) == 0
        assert needle in path.read_text(encoding="utf-8")


def test_cli_unwritable_output_is_a_usage_error(tmp_path, capsys):
    assert main(["derive", "W @ X", "--wrt", "W", "-o", str(tmp_path / "no" / "such" / "x.tex")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_cli_compare_explains_the_layouts(capsys):
    assert main(["compare", "W @ X", "X @ W", "--wrt", "W"]) == 0
    out = capsys.readouterr().out
    assert out.count("Step 6.") == 2
    assert "every matrix transposed" in out and "samples as rows" in out
    assert "transpose picture" in out


def test_demo_prints_the_derivation_then_the_check(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.index("Step 6.") < out.index("∂L/∂W[0,0]")
    assert "PROVED" in out


def test_symbol_helper_for_docs():
    assert isinstance(Matrix(ex.Symbol("W")).expr, ex.Symbol)
