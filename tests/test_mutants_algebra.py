"""Named tests for mutants of the exact algebra, the backward rules and the simplifier (issue 11).

Each test asserts a behaviour a user of the module relies on (exact values, statuses, error messages);
its docstring names the mutant(s) it kills as ``module:line#index`` from ``tools/mutation.py``.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import symderiv
from symderiv import ops
from symderiv.autodiff.simplify import simplify
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError, UnsupportedError
from symderiv.proofs.exact import polynomial
from symderiv.proofs.exact.algebra import Variables, gradient_of
from symderiv.proofs.exact.entrywise import Instance
from symderiv.proofs.exact.inverse import prove_with_inverse_atoms
from symderiv.proofs.exact.linalg import determinant, inverse, nonsingular_somewhere
from symderiv.proofs.exact.polynomial import Ratio
from symderiv.proofs.exact.prover import format_ratio, loss_gradient
from symderiv.proofs.exact.witness import evaluate as exact_value
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import infer_shapes

# -- polynomial.py: Ratio with an explicit denominator ---------------------------------------------------


def test_ratio_over_a_denominator_is_the_quotient():
    """A Ratio built as ``num / den`` equals the quotient of the two; a constant denominator divides the
    numerator. Kills polynomial.py:179#140 and :179#189 (every non-zero denominator refused)."""
    x, y = Ratio.var(0), Ratio.var(1)
    num, den = (x * y + Ratio.const(1)).num, (x.scale(2) + y.scale(4)).num
    r = Ratio(num, den)
    assert r.equals(Ratio(num) / Ratio(den))
    assert (r * Ratio(den)).equals(Ratio(num))
    assert Ratio({(0,): 3}, {(): 6}).equals(x.scale(Fraction(1, 2)))
    assert Ratio({(0,): 3}, {(): 6}).fac is None


def test_ratio_over_an_identically_zero_denominator_is_refused():
    """Dividing by the zero polynomial raises ZeroDivisionError saying so (polynomial.py:179)."""
    with pytest.raises(ZeroDivisionError, match="identically zero"):
        Ratio({(0,): 1}, {})
    with pytest.raises(ZeroDivisionError, match="identically zero"):
        Ratio.var(0) / Ratio({})



def test_a_quotient_is_not_a_constant():
    """``1/x`` has no constant value, ``3`` has (polynomial.py:229#146 read 1/x as the constant 1)."""
    assert (Ratio.const(1) / Ratio.var(0)).constant() is None
    assert Ratio.const(3).constant() == 3 and Ratio.var(0).constant() is None


@pytest.mark.parametrize("claim, status", [("-inv(X).T", "proved"), ("zeros(1, 1)", "refuted")])
def test_logdet_of_an_inverse_is_not_taken_for_a_constant(claim, status):
    """det(inv(X)) = 1/x is not the constant 1, so ∂logdet(inv(X))/∂X = -inv(X).T, and zero is refuted
    (under polynomial.py:229#146 logdet(inv(X)) was 0 and the zero claim was proved)."""
    assert symderiv.verify("logdet(inv(X))", wrt="X", claim=claim, shapes={"X": (1, 1)}).status == status


# -- algebra.py: the chain rule through atoms ------------------------------------------------------------


def _x_exp_x():
    vs = Variables()
    x = vs.entry("X", 0, 0)
    e = vs.atom("exp", Ratio.var(x))
    return vs, x, e, Ratio.var(x) * Ratio.var(e)


def test_chain_rule_through_an_atom_without_a_deadline():
    """d(x·exp(x))/dx = exp(x) + x·exp(x), computed with no deadline (algebra.py:353#60 called the
    missing deadline)."""
    vs, x, e, value = _x_exp_x()
    grads = gradient_of(vs, value, {x})
    assert grads[x].equals(Ratio.var(e) + Ratio.var(x) * Ratio.var(e))


def test_chain_rule_through_an_atom_consults_the_deadline():
    """A deadline that expires stops the sweep through the atoms (algebra.py:353#60 skipped it)."""
    vs, x, _, value = _x_exp_x()

    class Expired(Exception):
        pass

    def deadline():
        raise Expired

    with pytest.raises(Expired):
        gradient_of(vs, value, {x}, deadline)


def test_gradient_of_a_large_polynomial_without_a_deadline():
    """A polynomial of more than 2**14 terms (where the deadline is checked) is differentiated when no
    deadline is given: ∂(x·Σ y_i)/∂x = Σ y_i (algebra.py:250#101 called the missing deadline)."""
    vs = Variables()
    x = vs.entry("X", 0, 0)
    ys = [vs.entry("Y", 0, i) for i in range(20_000)]
    value = Ratio({(x, y): 1 for y in ys})
    assert gradient_of(vs, value, {x})[x].num == {(y,): 1 for y in ys}


# -- atoms.py and entrywise.py: the registry's rows and operations --------------------------------------


@pytest.mark.parametrize("fn", sorted(n for n in ops.language_functions() if ops.elementwise(n).derivative)
                         + ["logabs", "phi"])
def test_the_derivative_of_an_atom_is_its_row_derivative(fn):
    """The chain rule through ``fn(x)`` gives ``fn'(x)`` as the row writes it: at x = 0.7 its value is the
    numeric derivative of the row's mpmath value (the atoms it brings, cos(x) or step(x), included)."""
    import mpmath

    vs = Variables()
    x = vs.entry("X", 0, 0)
    atom = vs.atom(fn, Ratio.var(x))
    derivative = gradient_of(vs, Ratio.var(atom), {x})[x]
    with mpmath.workdps(30):
        value = exact_value(vs, derivative, {x: Fraction(7, 10)})
        exact = mpmath.mpf(value.numerator) / value.denominator if isinstance(value, Fraction) else value
        numeric = mpmath.diff(lambda z: ops.elementwise(fn).mpmath(mpmath, z), mpmath.mpf("0.7"))
        assert abs(exact - numeric) < mpmath.mpf(10) ** -20


@pytest.mark.parametrize("expression", ["step(X)", "sign(X)", "phi_prime(X)"])
def test_a_function_without_a_derivative_is_refused_by_the_chain_rule(expression):
    """step and sign jump at 0; phi_prime would need a second derivative: both refused, saying which."""
    e = parse(expression, functions=["phi"])
    inst = Instance(infer_shapes(e, {"X": (1, 1)}))
    with pytest.raises(UnsupportedError, match="jumps at 0|second derivatives"):
        loss_gradient(inst, e, "X", "G")


def test_logdet_is_one_atom_log_abs_of_the_determinant():
    """logdet(X) is the atom log|det X| (printed so), logdet of ±1 is 0, of a singular constant refused."""
    e = parse("logdet(X)")
    inst = Instance(infer_shapes(e, {"X": (2, 2)}))
    (value,), = inst.evaluate(e)
    (atom_id,) = inst.vars.atoms
    atom = inst.vars.atoms[atom_id]
    assert atom.fn == "logabs" and atom.arg.equals(determinant(inst.symbol("X")))
    assert format_ratio(inst.vars, value) == "log|X[0,0]*X[1,1] - X[0,1]*X[1,0]|"
    for constant, expected in (("-eye(2)", Ratio({})), ("eye(2)", Ratio({}))):
        assert inst.evaluate(parse(f"logdet({constant})")) == [[expected]]
    with pytest.raises(SymderivError, match="logdet of a matrix whose determinant is identically zero"):
        inst.evaluate(parse("logdet(X - X)"))


def test_a_shared_subexpression_is_evaluated_once():
    """``(W @ X) * (W @ X)`` multiplies W by X once: the work is that of one product and the Hadamard square."""
    shapes = {"W": (4, 4), "X": (4, 4)}

    def work(text):
        e = parse(text)
        inst = Instance(infer_shapes(e, shapes))
        before = polynomial.WORK[0]
        value = inst.evaluate(e)
        return value, polynomial.WORK[0] - before

    (product, w1), (square, w2) = work("W @ X"), work("(W @ X) * (W @ X)")
    assert square == [[x * x for x in row] for row in product]
    assert w2 < 2 * w1 + 16 * 4 * 4


# -- inverse.py: proofs with the entries of inv(M) as atoms ---------------------------------------------


def test_inverse_atoms_prove_a_matrix_valued_gradient_with_the_upstream():
    """For a matrix-valued ``inv(X) @ A`` the claim holds the upstream G: ∂⟨G, inv(X) A⟩/∂X =
    -inv(X).T @ G @ A.T @ inv(X).T is proved, its negation is not (the upstream bound by
    the loss gradient is the claim's G; inverse.py:63 registered it a second time, now removed)."""
    e = parse("inv(X) @ A")
    typing = infer_shapes(e, {"X": (2, 2), "A": (2, 2)})
    right = parse("-(inv(X).T @ G @ A.T @ inv(X).T)", allow_upstream=True)
    assert prove_with_inverse_atoms(e, "X", right, typing) is True
    assert prove_with_inverse_atoms(e, "X", ex.Neg(right), typing) is False


def test_inverse_atoms_do_not_decide_an_expression_without_inv():
    """Without ``inv`` the route answers False, "not decided" (inverse.py:57#6 answered None)."""
    e = parse("det(X)")
    typing = infer_shapes(e, {"X": (2, 2)})
    assert prove_with_inverse_atoms(e, "X", parse("det(X) * inv(X).T"), typing) is False


def test_inverse_atoms_do_not_prove_a_claim_of_another_shape():
    """A 2×2 claim for a 3×2 gradient is not proved, and does not crash, even when its rows agree with the
    gradient's first rows (inverse.py:65, the shape check: its mutants ``or`` → ``and`` and ``!=`` → ``==``)."""
    e = parse("trace(inv(A)) + sum(X)")  # ∂/∂X is ones(3, 2)
    typing = infer_shapes(e, {"X": (3, 2), "A": (2, 2)})
    assert prove_with_inverse_atoms(e, "X", parse("A / A"), typing) is False
    assert prove_with_inverse_atoms(e, "X", parse("X.T"), typing) is False
    right = parse("X / X")
    assert prove_with_inverse_atoms(e, "X", right, typing) is True


# -- linalg.py: exact determinants and inverses ---------------------------------------------------------


def _symbolic(n: int) -> tuple[Variables, list[list[Ratio]]]:
    vs = Variables()
    return vs, [[Ratio.var(vs.entry("X", i, j)) for j in range(n)] for i in range(n)]


def test_determinant_without_a_deadline_is_the_leibniz_expansion():
    """det of a symbolic 3×3 matrix, computed with no deadline, is the six-term Leibniz formula
    (linalg.py:38#9 called the missing deadline)."""
    _, m = _symbolic(3)
    leibniz = Ratio({})
    for (a, b, c), sign in [((0, 1, 2), 1), ((1, 2, 0), 1), ((2, 0, 1), 1),
                            ((0, 2, 1), -1), ((2, 1, 0), -1), ((1, 0, 2), -1)]:
        term = m[0][a] * m[1][b] * m[2][c]
        leibniz = leibniz + term if sign > 0 else leibniz - term
    assert determinant(m).equals(leibniz) and len(leibniz.num) == 6


def test_determinant_consults_the_deadline():
    """An expired deadline stops a determinant (linalg.py:38#9 skipped it)."""
    _, m = _symbolic(2)

    class Expired(Exception):
        pass

    def deadline():
        raise Expired

    with pytest.raises(Expired):
        determinant(m, deadline)


def test_inverse_times_the_matrix_is_the_identity():
    """The exact inverse of a symbolic 3×3 matrix satisfies inv(M) @ M = I, entry by entry."""
    _, m = _symbolic(3)
    inv = inverse(m)
    for i in range(3):
        for j in range(3):
            entry = Ratio({})
            for k in range(3):
                entry = entry + inv[i][k] * m[k][j]
            assert entry.equals(Ratio.const(1 if i == j else 0)), (i, j)


def test_inverse_of_an_identically_singular_matrix_is_refused():
    """A matrix with two equal rows has no inverse: ZeroDivisionError naming it singular."""
    _, m = _symbolic(2)
    with pytest.raises(ZeroDivisionError, match="singular"):
        inverse([m[0], list(m[0])])


def test_nonsingularity_is_not_shown_through_atoms():
    """Entries holding an atom (exp(x)) are not evaluated: the answer is False, "not shown", even for a
    non-singular matrix; without the atom the same matrix is shown non-singular (linalg.py:74#12)."""
    vs, m = _symbolic(2)
    e = Ratio.var(vs.atom("exp", m[0][0]))
    assert nonsingular_somewhere([[e, m[0][1]], [m[1][0], m[1][1]]], vs) is False
    assert nonsingular_somewhere(m, vs) is True


def test_an_identically_singular_matrix_with_squared_denominators_is_not_shown_non_singular():
    """[[1/x², 1], [1, x²]] has determinant 1 - 1 = 0 everywhere: never shown non-singular, or inverse atoms
    would stand for the inverse of a singular matrix (linalg.py:99#30 divided by 2·x instead of x²)."""
    vs, m = _symbolic(1)
    x = m[0][0]
    one = Ratio.const(1)
    inv_x2 = (one / x) * (one / x)  # the factor x to the power 2
    assert inv_x2.factors() == [({(0,): 1}, 2)]
    assert nonsingular_somewhere([[inv_x2, one], [one, x * x]], vs) is False
    assert nonsingular_somewhere([[inv_x2, one], [one, x]], vs) is True


# -- rules.py: backward rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("expression, expected", [("sum(X ** 0)", "zeros(2, 3)"),
                                                  ("sum(X ** 0 * X)", "ones(2, 3)")])
def test_gradient_through_a_zeroth_power_is_proved(expression, expected):
    """``X ** 0`` is ones: it contributes no gradient (rules.py:99#50 returned no contribution tuple)."""
    shapes = {"X": (2, 3)}
    g = symderiv.gradient(expression, wrt="X", shapes=shapes)
    assert g.formula == expected
    assert symderiv.verify(expression, wrt="X", claim=expected, shapes=shapes).status == "proved"


@pytest.mark.parametrize("shapes, expected", [({"X": (2, 3), "b": (1, 3)}, "sum(G, axis=0)"),
                                              ({"X": (3, 2), "b": (3, 1)}, "sum(G, axis=1)"),
                                              ({"X": (2, 2), "b": (1, 1)}, "sum(G)")])
def test_a_bias_broadcast_over_two_rows_or_columns_gets_the_summed_upstream(shapes, expected):
    """``b`` stretched to exactly 2 rows/columns gets the upstream summed back (rules.py:52#103 and
    :53 tested the stretched size against 2 instead of 1)."""
    g = symderiv.gradient("X + b", wrt="b", shapes=shapes)
    assert g.formula == expected
    assert symderiv.verify("X + b", wrt="b", claim=expected, shapes=shapes).status == "proved"


# -- simplify.py: the simplifier with shapes -------------------------------------------------------------


@pytest.mark.parametrize("text, shapes, expected", [
    ("sum(x.T @ y)", {"x": (3, 1), "y": (3, 1)}, "x.T @ y"),
    ("sum(r, axis=0)", {"r": (1, 4)}, "r"),
    ("sum(c, axis=1)", {"c": (4, 1)}, "c"),
    ("sum(r, axis=1)", {"r": (1, 4)}, "sum(r, axis=1)"),
    ("trace(x.T @ y)", {"x": (3, 1), "y": (3, 1)}, "x.T @ y"),
    ("trace(A)", {"A": (2, 2)}, "trace(A)"),
])
def test_a_sum_or_trace_that_adds_nothing_is_dropped(text, shapes, expected):
    """With shapes, the sum of a 1×1, the column sums of a row, the row sums of a column and the trace of a
    1×1 are the operand itself (simplify.py:286#77 and :298#276 kept them)."""
    node = parse(text)
    assert to_text(simplify(node, infer_shapes(node, shapes).shape_of)) == expected


@pytest.mark.parametrize("text, expected", [("sum(2 * A) - 2 * sum(A)", "0"), ("trace(2 * A) + trace(A)", "3 * trace(A)"),
                                            ("(3 * A).T - A.T", "2 * A.T"), ("sum(-A) + sum(A)", "0")])
def test_a_number_inside_sum_trace_or_transpose_comes_out_and_like_terms_merge(text, expected):
    """``sum(2 * A)`` is ``2 * sum(A)``, so like terms merge and cancel (simplify.py:144#297 pulled out
    only a coefficient of 2)."""
    assert to_text(simplify(parse(text))) == expected


@pytest.mark.parametrize("text, shapes, expected", [
    ("A * ones(2, 3)", {"A": (2, 3)}, "A"),
    ("A * ones(2, 3) * B", {"A": (2, 3), "B": (2, 3)}, "A * B"),
    ("ones(2, 3) * ones(2, 3)", {}, "ones(2, 3)"),
    ("x * ones(2, 3)", {"x": (1, 1)}, "x * ones(2, 3)"),  # the ones broadcast x: kept
    ("r * ones(2, 3)", {"r": (1, 3)}, "r * ones(2, 3)"),
])
def test_a_ones_factor_is_dropped_only_when_it_broadcasts_nothing(text, shapes, expected):
    """``A * ones`` is ``A`` when A already has the product's shape, and stays when the ones stretches the
    other factor (simplify.py:246#325, #303 and 251#327: the conditions of that rule)."""
    node = parse(text)
    assert to_text(simplify(node, infer_shapes(node, shapes).shape_of)) == expected
