"""Second order: symderiv.hvp and symderiv.hessian (SPEC section 6), proved entrywise like gradients.

Every formula is proved by the exact second-order oracle (the derivative of each gradient entry along V,
which does not use the symmetry of the Hessian the derivation relies on), checked against NumPy finite
differences of the proved gradient, and wrong variants are refuted with a witness.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate
from symderiv.cli import main
from symderiv.core.errors import NameKindError, OptionError, UnsupportedError
from symderiv.proofs.exact.entrywise import Instance
from symderiv.proofs.exact.second import hessian_matrix, hvp_matrix
from symderiv.proofs.hessian_all import prove_for_all_shapes
from symderiv.proofs.problem import prepare
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes

LSQ = "sum((X @ w - y) ** 2)"
LSQ_SHAPES = {"X": (3, 2), "w": (2, 1), "y": (3, 1)}
QUAD = "x.T @ A @ x"
QUAD_SHAPES = {"x": (3, 1)}
LOGISTIC = "sum(log(1 + exp(-y * (X @ w))))"
LOGISTIC_SHAPES = {"X": (3, 2), "w": (2, 1), "y": (3, 1)}
SIGMOID = "sigmoid(-y * (X @ w))"
NET = "sum(W2 @ tanh(W1 @ X))"
NET_SHAPES = {"W2": (2, 3), "W1": (3, 2), "X": (2, 2)}

#: (expression, wrt, shapes, the HVP formula symderiv gives)
HVPS = [
    (LSQ, "w", LSQ_SHAPES, "2 * X.T @ X @ V"),
    (QUAD, "x", QUAD_SHAPES, "(A.T + A) @ V"),
    (LOGISTIC, "w", LOGISTIC_SHAPES, f"X.T @ (y ** 2 * (X @ V) * {SIGMOID} * (1 - {SIGMOID}))"),
    ("logdet(X)", "X", {"X": (3, 3)}, "-inv(X).T @ V.T @ inv(X).T"),
    (NET, "W1", NET_SHAPES, "((-2 * W2.T @ ones(2, 2)) * (V @ X) * tanh(W1 @ X) * (1 - tanh(W1 @ X) ** 2)) @ X.T"),
    ("W2 @ tanh(W1 @ X)", "W1", NET_SHAPES, "((-2 * W2.T @ G) * (V @ X) * tanh(W1 @ X) * (1 - tanh(W1 @ X) ** 2)) @ X.T"),
]

#: (expression, wrt, shapes, the Hessian formula symderiv gives)
HESSIANS = [
    (LSQ, "w", LSQ_SHAPES, "2 * X.T @ X"),
    (QUAD, "x", QUAD_SHAPES, "A.T + A"),
    (LOGISTIC, "w", LOGISTIC_SHAPES, f"X.T @ (y ** 2 * X * {SIGMOID} * (1 - {SIGMOID}))"),
    ("(x.T @ x) ** 2", "x", QUAD_SHAPES, "8 * x @ x.T + (4 * x.T @ x) * eye(3)"),
    ("sum(x ** 4)", "x", QUAD_SHAPES, "12 * eye(3) * x ** 2"),
    ("sum(softplus(X @ w))", "w", {"X": (3, 2), "w": (2, 1)}, "X.T @ (X * sigmoid(X @ w) * (1 - sigmoid(X @ w)))"),
]

#: Hessians whose HVP needs the direction brought to the right of products first (proved like the others).
REARRANGED = [("logdet(A + x @ x.T)", "x", {"x": (3, 1)}), ("x.T @ x / (b.T @ x)", "x", {"x": (3, 1), "b": (3, 1)}),
              ("trace(inv(A + x @ x.T))", "x", {"x": (2, 1)}), ("x.T @ A @ x * (b.T @ x)", "x", {"x": (3, 1), "b": (3, 1)})]


@pytest.mark.parametrize(("expr", "wrt", "shapes", "formula"), HVPS)
def test_hvp_examples_come_out_clean_and_proved(expr, wrt, shapes, formula):
    result = symderiv.hvp(expr, wrt, shapes=shapes)
    assert (result.formula, result.proof_status) == (formula, "proved")
    assert result.shape == shapes[wrt] and result.kind == "hvp" and "proved entrywise" in result.proof_reason


@pytest.mark.parametrize(("expr", "wrt", "shapes", "formula"), HESSIANS)
def test_hessian_examples_come_out_clean_and_proved(expr, wrt, shapes, formula):
    result = symderiv.hessian(expr, wrt, shapes=shapes)
    n = shapes[wrt][0]
    assert (result.formula, result.proof_status, result.shape) == (formula, "proved", (n, n))


@pytest.mark.parametrize(("expr", "wrt", "shapes"), REARRANGED)
def test_hessians_of_rearranged_products_are_proved_and_match_finite_differences(expr, wrt, shapes):
    result = symderiv.hessian(expr, wrt, shapes=shapes)
    assert result.proof_status == "proved" and "V" not in result.expr.symbols()
    rng = np.random.default_rng(7)
    full = dict(infer_shapes(parse(expr), shapes).symbols)
    env = _env(full, rng, positive_definite="A" if "A" in full else None)
    got = evaluate(result.expr, env)
    n = full[wrt][0]
    for j in range(n):
        np.testing.assert_allclose(got[:, [j]], _fd_hvp(expr, wrt, shapes, env, np.eye(n)[:, [j]]), rtol=1e-5,
                                   atol=1e-6)


def test_a_hessian_without_a_column_form_is_refused_with_the_hvp_as_the_way_out():
    with pytest.raises(UnsupportedError, match="column-by-column") as err:
        symderiv.hessian("det(A + x @ x.T)", "x", shapes={"x": (2, 1)})
    assert "hvp" in str(err.value)
    assert symderiv.hvp("det(A + x @ x.T)", "x", shapes={"x": (2, 1)}).proof_status == "proved"


# -- the forms of the issue, as claims ------------------------------------------------------------------------

RIGHT_CLAIMS = [
    ("hessian", LSQ, "w", LSQ_SHAPES, "2 * X.T @ X"),
    ("hessian", QUAD, "x", QUAD_SHAPES, "A + A.T"),
    ("hvp", "logdet(X)", "X", {"X": (3, 3)}, "-(inv(X) @ V @ inv(X)).T"),
    # y * y: the logistic Hessian for any labels; with y = ±1 it is X.T @ (s * (1 - s) * X)
    ("hessian", LOGISTIC, "w", LOGISTIC_SHAPES, f"X.T @ (y ** 2 * {SIGMOID} * (1 - {SIGMOID}) * X)"),
    ("hvp", LOGISTIC, "w", LOGISTIC_SHAPES, f"X.T @ (y ** 2 * {SIGMOID} * (1 - {SIGMOID}) * (X @ V))"),
    ("hvp", NET, "W1", NET_SHAPES,
     "(-2 * (W2.T @ ones(2, 2)) * tanh(W1 @ X) * (1 - tanh(W1 @ X) ** 2) * (V @ X)) @ X.T"),
]

WRONG_CLAIMS = [
    ("hessian", LSQ, "w", LSQ_SHAPES, "X.T @ X"),
    ("hvp", LSQ, "w", LSQ_SHAPES, "2 * X.T @ X @ V + 0.5 * X.T @ y"),
    ("hessian", QUAD, "x", QUAD_SHAPES, "2 * A"),
    ("hvp", "logdet(X)", "X", {"X": (2, 2)}, "-inv(X) @ V @ inv(X)"),
    ("hvp", "logdet(X)", "X", {"X": (2, 2)}, "inv(X).T @ V.T @ inv(X).T"),
    # without y ** 2 = 1 the textbook form is not the Hessian: symderiv does not assume labels are ±1
    ("hessian", LOGISTIC, "w", LOGISTIC_SHAPES, f"X.T @ ({SIGMOID} * (1 - {SIGMOID}) * X)"),
    ("hvp", NET, "W1", NET_SHAPES,
     "(2 * (W2.T @ ones(2, 2)) * tanh(W1 @ X) * (1 - tanh(W1 @ X) ** 2) * (V @ X)) @ X.T"),
    ("hvp", NET, "W1", NET_SHAPES, "((W2.T @ ones(2, 2)) * (1 - tanh(W1 @ X) ** 2) * (V @ X)) @ X.T"),
]


def _claim(kind, expr, wrt, shapes, claim):
    if kind == "hvp":
        return symderiv.hvp(expr, wrt, shapes=shapes, claim=claim)
    return symderiv.hessian(expr, wrt, shapes=shapes, claim=claim)


@pytest.mark.parametrize(("kind", "expr", "wrt", "shapes", "claim"), RIGHT_CLAIMS)
def test_the_issues_forms_are_proved(kind, expr, wrt, shapes, claim):
    verdict = _claim(kind, expr, wrt, shapes, claim)
    assert verdict.status == "proved", verdict.reason
    assert verdict.report().startswith("PROVED  ∂²L/∂")


@pytest.mark.parametrize(("kind", "expr", "wrt", "shapes", "claim"), WRONG_CLAIMS)
def test_wrong_variants_are_refuted_with_a_witness(kind, expr, wrt, shapes, claim):
    verdict = _claim(kind, expr, wrt, shapes, claim)
    assert verdict.status == "refuted" and not verdict
    cx = verdict.counterexample
    assert cx is not None and cx.gradient_value is not None and cx.gradient_value != cx.claim_value
    assert "NOT PROVED" in verdict.report() and "witness:" in verdict.report() and "∂L/∂" not in verdict.report()


def test_a_claim_of_the_wrong_shape_is_refuted_by_shape():
    verdict = symderiv.hessian(QUAD, "x", shapes=QUAD_SHAPES, claim="x")
    assert verdict.status == "refuted" and verdict.reason.startswith("shape: the claim is 3×1 but ∂²L/∂x² is 3×3")


# -- NumPy finite differences of the (proved) gradient --------------------------------------------------------

def _env(shapes, rng, positive_definite=None):
    env = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    if positive_definite:
        a = env[positive_definite]
        env[positive_definite] = a @ a.T + np.eye(a.shape[0])
    return env


def _fd_hvp(expr, wrt, shapes, env, direction, upstream=None, h=1e-6):
    gradient = symderiv.gradient(expr, wrt, shapes=shapes)
    node = gradient.expr
    extra = {} if upstream is None else {"G": upstream}

    def at(t):
        return evaluate(node, {**env, **extra, wrt: env[wrt] + t * direction})

    return (at(h) - at(-h)) / (2 * h)


@pytest.mark.parametrize(("expr", "wrt", "shapes", "formula"), HVPS)
def test_hvp_matches_finite_differences_of_the_gradient(expr, wrt, shapes, formula):
    rng = np.random.default_rng(14)
    result = symderiv.hvp(expr, wrt, shapes=shapes)
    full = dict(infer_shapes(parse(expr), shapes).symbols)
    env = _env(full, rng, positive_definite="X" if expr == "logdet(X)" else None)
    direction = rng.standard_normal(full[wrt])
    upstream = None if result.scalar else rng.standard_normal(infer_shapes(parse(expr), shapes).shape_of(parse(expr)))
    got = evaluate(result.expr, {**env, "V": direction, **({} if upstream is None else {"G": upstream})})
    want = _fd_hvp(expr, wrt, shapes, env, direction, upstream)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("expr", "wrt", "shapes", "formula"), HESSIANS)
def test_hessian_matches_finite_differences_of_the_gradient(expr, wrt, shapes, formula):
    rng = np.random.default_rng(41)
    full = dict(infer_shapes(parse(expr), shapes).symbols)
    env = _env(full, rng)
    if expr == LOGISTIC:
        env["y"] = rng.choice([-1.0, 1.0], size=full["y"])
    got = evaluate(symderiv.hessian(expr, wrt, shapes=shapes).expr, env)
    n = full[wrt][0]
    for j in range(n):
        np.testing.assert_allclose(got[:, [j]], _fd_hvp(expr, wrt, shapes, env, np.eye(n)[:, [j]]), rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(got, got.T, atol=1e-9)
    if expr == LOGISTIC:  # with y = ±1 (y² = 1) the Hessian is the textbook X.T @ (s * (1 - s) * X)
        s = evaluate(parse(SIGMOID), env)
        np.testing.assert_allclose(got, env["X"].T @ (s * (1 - s) * env["X"]), rtol=1e-9)


# -- the oracle on its own ------------------------------------------------------------------------------------

def test_the_oracle_differentiates_each_gradient_entry_along_v():
    node = parse("sum(x ** 3)")
    instance = Instance(infer_shapes(node, {"x": (2, 1)}))
    hvp = hvp_matrix(instance, node, "x", "G", "V")
    want = instance.evaluate(parse("6 * x * V"))
    assert all(a.equals(b) for ra, rb in zip(hvp, want, strict=True) for a, b in zip(ra, rb, strict=True))


def test_the_oracle_hessian_is_not_symmetrised_by_construction():
    node = parse("x.T @ A @ x")
    instance = Instance(infer_shapes(node, {"x": (2, 1)}))
    h = hessian_matrix(instance, node, "x")
    a = instance.evaluate(parse("A + A.T"))
    assert all(x.equals(y) for rx, ry in zip(h, a, strict=True) for x, y in zip(rx, ry, strict=True))
    assert not h[0][1].equals(instance.evaluate(parse("2 * A"))[0][1])


# -- symbolic shapes, errors, the command line ----------------------------------------------------------------

def test_symbolic_shapes_are_proved_for_all_shapes_from_two_gradient_proofs():
    result = symderiv.hvp(QUAD, "x", shapes={"x": ("n", 1)})
    assert result.formula == "(A.T + A) @ V" and result.proof_status == "proved"
    assert result.proof_reason.startswith("proved for all shapes (index notation): ∂L/∂x = (A + A.T) @ x")
    assert "checked entrywise on {" in result.proof_reason
    verdict = symderiv.hvp(QUAD, "x", shapes={"x": ("n", 1)}, claim="(A + A.T) @ V")
    assert verdict.status == "proved" and verdict.proof.all_shapes
    hessian = symderiv.hessian(LSQ, "w", shapes={"w": ("n", 1), "y": ("m", 1)})
    assert (hessian.formula, hessian.proof_status) == ("2 * X.T @ X", "proved")
    network = symderiv.hvp("W2 @ tanh(W1 @ X)", "W1")
    assert network.proof_status == "proved" and "G" in network.expr.symbols()
    assert symderiv.hvp(LOGISTIC, "w", shapes={"w": ("n", 1), "y": ("m", 1)}).proof_status == "proved"


def test_symbolic_shapes_the_index_engine_cannot_prove_are_only_checked():
    # (x.T @ x / (b.T @ x) was the example here until the simplifier took constants out of line sums: the
    # all-shapes engine now proves its HVP; so it does the cross-entropy's written with exp(X) / sum(exp(X), axis=1),
    # since it folds sums back and proves that a softmax's rows sum to 1.) Written with log(softmax) it does not.
    expr, shapes = "sum(Y * log(softmax(X, axis=1)))", {"X": ("N", "C"), "Y": ("N", "C")}
    result = symderiv.hvp(expr, "X", shapes=shapes)
    assert result.proof_status == "checked" and "sample sizes" in result.proof_reason
    verdict = symderiv.hvp(expr, "X", shapes=shapes, claim=result.formula)
    assert verdict.status == "undecided" and verdict.checked_at_sizes and verdict.exit_code == 4
    assert symderiv.hvp(expr, "X", shapes=shapes, claim=f"2 * ({result.formula})").status == "refuted"


def test_the_all_shapes_route_proves_only_the_right_claim():
    problem = prepare(QUAD, ["x"], {"x": ("n", 1)})
    assert prove_for_all_shapes(problem, problem.expression, "x", "V", parse("(A + A.T) @ V"), False)
    assert prove_for_all_shapes(problem, problem.expression, "x", "V", parse("2 * A @ V"), False) is None
    assert prove_for_all_shapes(problem, problem.expression, "x", "V", parse("A + A.T"), True)
    assert prove_for_all_shapes(problem, problem.expression, "x", "V", parse("2 * A.T"), True) is None


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: symderiv.hvp("sum(relu(X @ w))", "w", shapes={"w": (2, 1)}), UnsupportedError, "step"),
    (lambda: symderiv.hvp("sum(relu(X @ w))", "w", shapes={"w": (2, 1)}, claim="zeros(2, 1)"), UnsupportedError,
     "step"),
    (lambda: symderiv.hvp("sum(abs(X @ w))", "w", shapes={"w": (2, 1)}), UnsupportedError, "sign"),
    (lambda: symderiv.hvp("sum(phi(X @ w))", "w", functions=["phi"]), UnsupportedError, "phi_prime"),
    (lambda: symderiv.hvp("sum(W @ V)", "W"), OptionError, "direction"),
    (lambda: symderiv.hessian("logdet(X)", "X"), OptionError, "column vector"),
    (lambda: symderiv.hessian("X @ w", "w", shapes={"w": (2, 1)}), OptionError, "scalar"),
    (lambda: symderiv.hvp(QUAD, "x", claim="Z @ V"), NameKindError, "`Z`"),
    (lambda: symderiv.hessian(QUAD, "x", shapes=QUAD_SHAPES, claim="A @ V"), NameKindError, "`V`"),
    (lambda: symderiv.hessian(QUAD, "x"), OptionError, "scalar"),
])
def test_bad_requests_are_clear_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_another_direction_name():
    assert symderiv.hvp("sum(W @ V)", "W", direction="U").formula.startswith("zeros")
    assert symderiv.hvp(QUAD, "x", direction="D", shapes=QUAD_SHAPES).formula == "(A.T + A) @ D"


def test_cli_exit_codes_and_json(capsys):
    assert main(["hvp", LSQ, "--wrt", "w", "--shape", "w=2,1", "--shape", "y=3,1", "--shape", "X=3,2"]) == 0
    assert capsys.readouterr().out.strip() == "2 * X.T @ X @ V"
    assert main(["hessian", QUAD, "--wrt", "x", "--shape", "x=2,1", "--claim", "2 * A"]) == 1
    assert capsys.readouterr().out.startswith("NOT PROVED  ∂²L/∂x² = 2 * A")
    assert main(["hessian", QUAD, "--wrt", "x", "--shape", "x=n,1", "--claim", "A + A.T"]) == 0
    assert "proved for all shapes" in capsys.readouterr().out
    quotient = ["hvp", "x.T @ x / (b.T @ x)", "--wrt", "x", "--shape", "x=n,1", "--shape", "b=n,1", "--claim"]
    softmax_ce = "sum(Y * log(softmax(X, axis=1)))"  # its HVP is only checked at sample sizes
    derived = symderiv.hvp(softmax_ce, "X", shapes={"X": ("N", "C"), "Y": ("N", "C")}).formula
    assert main(["hvp", softmax_ce, "--wrt", "X", "--shape", "X=N,C", "--shape", "Y=N,C", "--claim", derived]) == 4
    assert capsys.readouterr().out.startswith("UNDECIDED")
    # the same HVP written by hand, in a form the all-shapes engine proves
    assert main([*quotient, "2 / (b.T @ x) * V - 2 * (x.T @ V) / (b.T @ x) ** 2 * b - 2 * (b.T @ V) / (b.T @ x) ** 2 * x"
                 " + 2 * (b.T @ V) * (x.T @ x) / (b.T @ x) ** 3 * b"]) == 0
    assert "proved for all shapes" in capsys.readouterr().out
    assert main(["hvp", "sum(relu(X @ w))", "--wrt", "w"]) == 2
    assert "step" in capsys.readouterr().err
    assert main(["hvp", "logdet(X)", "--wrt", "X", "--shape", "X=2,2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["kind"] == "hvp" and payload["proof"]["status"] == "proved" and payload["direction"] == "V"
    assert main(["hessian", QUAD, "--wrt", "x", "--shape", "x=2,1", "--latex"]) == 0
    assert capsys.readouterr().out.strip() == r"A^{\top} + A"


def test_latex_names_the_second_derivative():
    result = symderiv.hvp(QUAD, "x", shapes=QUAD_SHAPES)
    assert r"\partial^2 L" in result._repr_latex_() and "[V]" in result._repr_latex_()


def test_numerator_layout_is_the_transpose_of_the_hvp():
    result = symderiv.hvp("logdet(X)", "X", shapes={"X": (3, 3)}, layout="numerator")
    assert (result.formula, result.proof_status, result.layout) == ("-inv(X) @ V @ inv(X)", "proved", "numerator")
    assert r"[V]^{\top}" in result.lhs_latex
    assert symderiv.hvp("logdet(X)", "X", layout="numerator", claim="-inv(X) @ V @ inv(X)").status == "proved"
    wrong = symderiv.hvp("logdet(X)", "X", shapes={"X": (2, 2)}, layout="numerator", claim="-(inv(X) @ V @ inv(X)).T")
    assert wrong.status == "refuted" and "∂²L/∂X²[V]ᵀ" in wrong.report()
    network = symderiv.hvp(NET, "W1", shapes=NET_SHAPES, layout="numerator")
    assert network.shape == (2, 3) and network.proof_status == "proved"
    shape = symderiv.hvp(NET, "W1", shapes=NET_SHAPES, layout="numerator", claim="zeros(3, 2)")
    assert shape.reason == "shape: the claim is 3×2 but ∂²L/∂W1²[V]ᵀ is 2×3"
    assert symderiv.hessian(QUAD, "x", shapes=QUAD_SHAPES, layout="numerator").formula == "A.T + A"


def test_method_random_is_refused_and_the_cli_takes_layout_and_method(capsys):
    with pytest.raises(OptionError, match="no randomized engine"):
        symderiv.hvp(QUAD, "x", method="random")
    assert main(["hvp", "logdet(X)", "--wrt", "X", "--shape", "X=2,2", "--layout", "numerator", "--method",
                 "exact"]) == 0
    assert capsys.readouterr().out.strip() == "-inv(X) @ V @ inv(X)"


def test_derive_explains_an_hvp_as_the_gradient_of_the_pairing_block_by_block(capsys):
    assert main(["hvp", "logdet(X)", "--wrt", "X", "--derive", "text"]) == 0
    out = capsys.readouterr().out
    assert "The Hessian-vector product along V is the derivative of the gradient ∂L/∂X = inv(X).T" in out
    assert "Block 2: U = inv(X), for ∂L/∂X" in out
    assert "∂L/∂X = -inv(X).T @ V.T @ inv(X).T" in out  # the HVP symbderiv gives
    assert "Result: the Hessian-vector product along V is -inv(X).T @ V.T @ inv(X).T" in out
    assert main(["hvp", "W2 @ tanh(W1 @ X)", "--wrt", "W1", "--derive", "markdown"]) == 0
    out = capsys.readouterr().out
    assert r"There $\mathrm{Gc}$ is the upstream $G$, a constant." in out
    assert r"\frac{\partial L}{\partial W_{1}} = \left(\left(W_{2}^{\top} G\right)" in out
    assert main(["hvp", "sum(relu(X @ w))", "--wrt", "w", "--derive", "text"]) == 2
