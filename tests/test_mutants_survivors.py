"""Named tests for the mutants that survived the sampled runs of issue 11 after the architecture issue
(``python tools/mutation.py --sample 40 --seed 1`` and ``--sample 80 --seed 11``).

Each test names, in its docstring, the mutant(s) it kills as ``module:line`` with the mutation, as the tool
printed them (the line numbers are those of the code the survivor was found in). Re-run one mutant with
``python tools/mutation.py --only PATH:LINE``. Survivors that were dead code were removed from the source
instead; equivalent ones are listed, with a reason, in tools/equivalent_mutants.json.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest

import symderiv
from symderiv.autodiff.rules import Context, backward
from symderiv.autodiff.simplify import simplify
from symderiv.backends.field import PRIME_HIGH, Field
from symderiv.backends.numbers import CONFIRM_DPS, WORKING_DPS
from symderiv.core import expr as ex
from symderiv.core import meter
from symderiv.core.errors import ParseError
from symderiv.core.meter import CHECK_EVERY, NEXT, WORK, metered
from symderiv.ops import elementwise
from symderiv.proofs.exact import polynomial, witness
from symderiv.proofs.exact.algebra import Variables
from symderiv.proofs.exact.entrywise import Instance
from symderiv.proofs.exact.inverse import uses_inverse
from symderiv.proofs.exact.linalg import matmul
from symderiv.proofs.exact.polynomial import Ratio, padd_into, pmul_into, pscale
from symderiv.proofs.exact.prover import format_ratio
from symderiv.proofs.exact.witness import SMALL_VALUES
from symderiv.proofs.problem import parse_claim, prepare
from symderiv.proofs.random.random_bound import field_cost
from symderiv.proofs.random.random_confirm import fmt_value
from symderiv.proofs.random.random_real import ExactArith, IntervalArith
from symderiv.syntax.constants import constant_value
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import infer_shapes

# -- autodiff/simplify.py ------------------------------------------------------------------------------------
# (simplify.py:76 recognition outside whole products, :86 the argument depth reset, :333 a sum of negative
# terms: killed by tests/test_simplify_canonical.py and tests/test_softmax_recognise.py, now in the subset.)


def test_a_power_zero_of_unknown_shape_stays_as_written():
    """simplify.py:232 (``return node`` → ``return None`` where ``A ** 0`` has no known shape): without a shape
    function ``ones(?, ?)`` cannot be written, so ``W ** 0`` is kept; with one it becomes ``ones``."""
    assert to_text(simplify(parse("W ** 0"))) == "W ** 0"
    assert to_text(simplify(parse("W ** 0 + W"))) == "W ** 0 + W"
    assert to_text(simplify(parse("W ** 0"), lambda node: (2, 3))) == "ones(2, 3)"


@pytest.mark.parametrize("text", ["X.T @ X.T + matpow(X, 2).T", "matpow(X, 2).T + X.T @ X.T",
                                  "X @ X + matpow(X, 2)", "matpow(X, 2) + X @ X"])
def test_like_terms_are_merged_into_their_shortest_spelling(text):
    """simplify.py:300 (``kept is not None`` → ``kept is None``: the first spelling kept, not the shortest): two
    spellings of one term are collected under the shorter, whichever comes first."""
    assert to_text(simplify(parse(text))) == ("2 * matpow(X, 2).T" if ".T" in text else "2 * matpow(X, 2)")


def test_a_ones_factor_is_dropped_where_the_product_keeps_its_shape():
    """simplify.py:219 (``whole is not None`` → ``is None``): ``ones * A`` is ``A`` when ``A`` already has the
    product's shape, whatever the order of the factors."""
    shape = lambda node: (2, 3)  # noqa: E731 - every node of these products is 2×3
    assert to_text(simplify(parse("ones(2, 3) * W * X"), shape)) == "W * X"
    assert to_text(simplify(parse("W * ones(2, 3)"), shape)) == "W"
    # inside a function's argument the product is not normalised first: this rule alone drops the ones
    assert to_text(simplify(parse("exp(ones(2, 3) * W)"), shape)) == "exp(W)"
    assert to_text(simplify(parse("sigmoid(W * ones(2, 3))"), shape)) == "sigmoid(W)"


def test_a_positive_fractional_coefficient_after_the_first_term_is_added():
    """simplify.py:352 (``c < 0`` → ``c < 1``): a later term with a coefficient in (0, 1) is written ``+ 0.25 * Z``,
    not ``- -0.25 * Z``."""
    assert to_text(simplify(parse("X - 0.5 * Y + 0.25 * Z"))) == "X - 0.5 * Y + 0.25 * Z"
    assert to_text(simplify(parse("X + 0.5 * Y"))) == "X + 0.5 * Y"


# -- core/literals.py ------------------------------------------------------------------------------------------


def test_integers_past_the_conversion_limit_keep_all_their_digits():
    """literals.py:98 (the divide-and-conquer branch → ``None``): a literal of 10,000 bits and more is printed in
    full, past Python's 4300-digit limit of ``str``."""
    from symderiv.core.literals import _digits

    assert _digits(10**4000) == "1" + "0" * 4000
    n = 7**6000 + 12345  # about 16,800 bits
    assert _digits(n)[-5:] == str(n % 10**5).rjust(5, "0") and len(_digits(n)) == len(_digits(n // 10)) + 1


# -- ops/elementwise.py ----------------------------------------------------------------------------------------


def test_every_function_that_jumps_at_zero_is_flagged_as_a_jump_and_a_kink():
    """elementwise.py:95 (sign's ``kink`` or ``jump`` → False): a row whose fold jumps at 0 (sign, step) is
    flagged ``jump``, and a jump is a kink (witnesses and finite differences keep off it)."""
    import symderiv.ops as ops

    rows = [row for row in ops._ELEMENTWISE.values() if row.fold is not None]
    assert rows
    eps = Fraction(1, 10**6)
    jumping = set()
    for row in rows:
        try:
            left, right = row.fold(-eps), row.fold(eps)
        except (ValueError, ZeroDivisionError, ArithmeticError):
            continue
        if left is not None and right is not None and abs(Fraction(right) - Fraction(left)) > Fraction(1, 2):
            jumping.add(row.name)
            assert row.jump and row.kink, row.name
        if row.jump:
            assert row.kink, row.name
    assert {"sign", "step"} <= jumping


@pytest.mark.parametrize("c", [Fraction(v) for v in (0, 1, -1, 2, -2, 3, 5)] + [Fraction(1, 2), Fraction(-3, 2)])
def test_every_fold_of_a_constant_is_the_functions_value(c):
    """linalg.py:41 (logabs folds ``abs(c) == 2`` to 0): a row's ``fold`` (exact constant folding) agrees with its
    mpmath value wherever it gives one, for every registered row."""
    import symderiv.ops as ops

    for row in ops._ELEMENTWISE.values():
        if row.fold is None or row.mpmath is None:
            continue
        try:
            folded = row.fold(c)
        except (ValueError, ZeroDivisionError, ArithmeticError):
            continue
        if folded is None:
            continue
        try:
            value = row.mpmath(mpmath, mpmath.mpf(c.numerator) / c.denominator)
        except (ValueError, ZeroDivisionError):
            continue
        if row.kink and c == 0:  # the value chosen at a kink (step(0) = 1/2) is a convention
            continue
        assert abs(mpmath.mpf(Fraction(folded).numerator) / Fraction(folded).denominator - value) < 1e-12, \
            (row.name, c, folded, value)


# -- backends/field.py ----------------------------------------------------------------------------------------


def test_primality_is_decided_right_on_primes_composites_and_carmichael_numbers():
    """field.py:61 (Miller–Rabin's ``n - 1`` misread): the moduli are primes, checked by a deterministic test."""
    from symderiv.backends.field import is_prime

    primes = [2, 3, 5, 7, 97, 7919, 2**31 - 1, 2**61 - 1, 4611686018427387847]
    composites = [1, 4, 561, 1105, 1729, 2465, 3215031751, 2**61 + 1, (2**31 - 1) * 7919]
    assert all(is_prime(p) for p in primes)
    assert not any(is_prime(n) for n in composites)


def test_an_elementwise_inverse_of_zero_is_degenerate_and_of_one_is_one():
    """field.py:196 (``a == 0`` → ``a == 1``): a zero entry at a random point is reported, never inverted to
    garbage; 1 inverts to 1."""
    import numpy as np

    from symderiv.backends.field import Degenerate

    f = Field([PRIME_HIGH - 57])
    with pytest.raises(Degenerate):
        f.inv_elem(np.zeros((1, 1, 2), dtype=f.const(1).dtype))
    assert int(f.inv_elem(f.const(1))[0, 0, 0]) == 1


def test_a_field_refuses_a_modulus_of_2_to_the_62():
    """field.py:133 (``max(primes) < 2**62`` → ``<=``, once unreachable since the primes drawn are below 2^62):
    the bound of the long-double product is now the constructor's, and 2^62 itself is refused."""
    with pytest.raises(ValueError, match="below 2\\^62"):
        Field([PRIME_HIGH])
    p = PRIME_HIGH - 57  # the largest prime below 2^62
    f = Field([p])
    a = f.const(p - 1)
    assert int(f.mul(a, a)[0, 0, 0]) == 1  # (-1)² = 1 modulo p


# -- proofs/exact/polynomial.py ------------------------------------------------------------------------------


def test_scaling_by_zero_gives_the_clean_zero():
    """polynomial.py:136 (``pscale``'s ``return {}`` for c = 0 → ``return None``): a polynomial scaled by 0 is the
    empty polynomial, not one with zero coefficients, so ``Ratio.scale(0)`` is recognised as zero."""
    x = Ratio.var(0)
    p = (x * x + Ratio.const(3)).num
    assert pscale(p, 0) == {}
    assert (x * x + x).scale(0).is_zero()
    assert pscale(p, 2) == {m: 2 * c for m, c in p.items()}


# -- proofs/random/random_bound.py ---------------------------------------------------------------------------


def test_the_cost_model_counts_each_kind_of_node():
    """random_bound.py:155 (``6 * k ** 3`` → ``7 * k ** 3``) and its neighbours: the rough cost that sets the budget
    (``budget=``) and the real confirmation's reach counts, per distinct node, 3 per entry (a symbol, a sum),
    ``3·r·k·c`` for a product, ``6·k³`` for an inverse or a determinant of a k×k matrix, and ``60·r·c`` field
    (``20·r·c`` real) operations for a function or a division."""
    pr = prepare("det(W)", ["W"], {"W": (3, 3)})
    assert field_cost(pr, pr.typing, parse_claim(pr, "inv(W)")) == (6 * 27 + 3 * 9 + 6 * 27,) * 2
    pr = prepare("det(W) + sum(exp(W @ X))", ["W"], {"W": (3, 3), "X": (3, 2)})
    shared = 6 * 27 + 3 * 9 + 3 * 6 + 3 * 3 * 3 * 2 + 3 + 3 + 6 * 27  # det, W, X, W @ X, sum, +, inv
    assert field_cost(pr, pr.typing, parse_claim(pr, "inv(W)")) == (shared + 60 * 6, shared + 20 * 6)


# -- proofs/exact/witness.py (values) ------------------------------------------------------------------------


def test_the_small_witness_values_are_distinct():
    """witness.py:46 (``Fraction(-2, 3)`` → ``Fraction(-2, 4)``, a repeat of -1/2): each small value tried is a
    different point, so the readable search covers as many points as it says."""
    from symderiv.proofs.exact.witness import SMALL_VALUES

    assert len(set(SMALL_VALUES)) == len(SMALL_VALUES) == 12
    assert {Fraction(1, 3), Fraction(-2, 3)} <= set(SMALL_VALUES)


# -- proofs/exact/polynomial.py (Ratio equality) --------------------------------------------------------------


def test_two_ratios_are_equal_only_with_equal_numerators_and_denominators():
    """polynomial.py:222 (``and`` → ``or`` in ``Ratio.__eq__``): ``==`` compares the exact forms."""
    from symderiv.proofs.exact.polynomial import Ratio

    x, y = Ratio.var(0), Ratio.var(1)
    assert x == Ratio.var(0) and x != y
    assert Ratio.const(1) / x != Ratio.const(1) / y and Ratio.const(1) / x == Ratio.const(1) / Ratio.var(0)
    assert x != "x"


# -- syntax/language.py (syntax error columns) ----------------------------------------------------------------


def _balanced_sum(terms: list[str]) -> str:
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return f"({_balanced_sum(terms[:half])} + {_balanced_sum(terms[half:])})"


def test_the_node_limit_admits_exactly_max_nodes():
    """language.py:286 (the node count starts at 1): an expression of exactly MAX_NODES syntax nodes parses, one
    more is refused. A balanced sum keeps the depth low; a name is 2 nodes, a number 1, each ``+`` 2, the root 1."""
    import ast as ast_module

    from symderiv.core.errors import ParseError
    from symderiv.syntax.lexical import MAX_NODES

    assert MAX_NODES == 1500
    at_limit = _balanced_sum(["W"] * 373 + ["2"] * 3)  # 1 + 2·373 + 3 + 2·375 = 1500
    over = _balanced_sum(["W"] * 374 + ["2"] * 2)  # 1501
    assert sum(1 for _ in ast_module.walk(ast_module.parse(f"({at_limit})", mode="eval"))) == MAX_NODES
    parse(at_limit)
    with pytest.raises(ParseError, match=f"more than {MAX_NODES} syntax nodes"):
        parse(over)


@pytest.mark.parametrize("text, column, width", [("W @ X[0]", 5, 4), ("W @ [X, X]", 5, 6),
                                                 ("W if X else W", 1, 13), ("W @ X.foo", 5, 5)])
def test_an_error_underlines_the_whole_construct(text, column, width):
    """language.py:64 (the one-line test negated): an error on a construct of one line underlines all of it."""
    from symderiv.core.errors import ParseError

    with pytest.raises(ParseError) as info:
        parse(text)
    assert (info.value.column, info.value.width) == (column, width)




def test_a_syntax_error_offset_outside_the_text_points_just_past_its_end(monkeypatch):
    """language.py:338 (``len(flat) + 1`` → ``+ 2``): when Python reports an offset outside the text (it varies
    between versions), the column points just past the end, where the caret can be drawn."""
    import ast as ast_module

    from symderiv.core.errors import ParseError

    def broken(*args, **kwargs):
        raise SyntaxError("invalid syntax", ("<unknown>", 1, 50, "", 1, 50))  # an offset past the text

    monkeypatch.setattr(ast_module, "parse", broken)
    with pytest.raises(ParseError) as info:
        parse("W + X")
    assert info.value.column == len("W + X") + 1


# -- proofs/random/random_confirm.py -------------------------------------------------------------------------


def test_an_interval_centred_on_zero_is_shown_as_zero():
    """random_confirm.py:84 (``return "0"`` → ``return None``): a value known as an interval whose midpoint is 0
    (a difference enclosed around 0) is shown as ``0``, not as ``None`` or ``≈ 0.0``."""
    assert fmt_value(mpmath.iv.mpf([-1, 1])) == "0"
    assert fmt_value(mpmath.iv.mpf([-2, 1])) == "≈ -0.5"


def test_a_difference_with_no_real_point_in_the_domain_says_why_it_stays_undecided():
    """random_confirm.py:195 (the reason → ``None``): a difference found modulo a prime that no real point of the
    domain can confirm (``log`` of a negative everywhere) is ``undecided``, and the verdict says why."""
    v = symderiv.verify("sum(log(-(W * W) - 1) * X)", "X", "2 * log(-(W * W) - 1)", {"W": (2, 2), "X": (2, 2)},
                        method="random")
    assert v.status == "undecided" and not v.holds
    assert "none of the 16 real points tried was in the domain" in v.reason, v.reason


# -- proofs/random/random_eval.py ----------------------------------------------------------------------------


def test_a_zeroth_power_of_a_zero_matrix_is_ones_in_the_randomized_engine():
    """random_eval.py:159 (``k < 0`` → ``k <= 0`` / ``k < 1``): ``A ** 0`` is ``ones`` without taking the reciprocal
    of ``A``, so it holds where ``A`` is zero (``(W - W) ** 0``), as NumPy's ``0 ** 0 = 1`` and the exact engine say."""
    shapes = {"W": (2, 2), "X": (2, 2)}
    v = symderiv.verify("sum(((W - W) ** 0) * X)", "X", "ones(2, 2)", shapes, method="random")
    assert v.status == "probabilistic", v.reason
    assert symderiv.verify("sum(((W - W) ** 0) * X)", "X", "ones(2, 2)", shapes, method="exact").status == "proved"


def test_fractions_up_to_128_bits_are_shown_exactly_and_longer_ones_approximately():
    """random_confirm.py:78 (``<= 128`` → ``<= 129``): the display switches to ≈ at 129 bits."""
    assert fmt_value(Fraction(2**128 - 1)) == str(2**128 - 1)
    assert fmt_value(Fraction(1, 2**128 - 1)) == f"1/{2**128 - 1}"
    assert fmt_value(Fraction(2**128)).startswith("≈ ")
    assert fmt_value(Fraction(1, 2**128)).startswith("≈ ")


def test_an_interval_difference_counts_only_above_2_to_the_minus_64_of_the_values():
    """random_confirm.py:124 (``2**64`` → ``2**65``): at a real point evaluated with intervals, two sides count as
    different only when their gap exceeds 2⁻⁶⁴ of their size, so rounding never confirms a difference."""
    from symderiv.proofs.random.random_confirm import _differs

    arith = IntervalArith()
    one = arith.scalar(Fraction(1))
    below = arith.scalar(Fraction(1) + Fraction(3, 2**66))  # a gap of 1.5·2⁻⁶⁵: rounding, not a difference
    above = arith.scalar(Fraction(1) + Fraction(3, 2**65))  # 1.5·2⁻⁶⁴: a difference
    assert not _differs(arith, one, below)
    assert _differs(arith, one, above)


def test_the_first_real_points_come_close_to_zero_from_the_right():
    """random_confirm.py:53 (the first scale's smallest numerator 1 → 2): confirmation first tries small positive
    entries, down to 1/8, which is where functions with a positive domain (log, sqrt) differ most."""
    import random as random_module

    from symderiv.proofs.random.random_confirm import _SCALES, _draw

    rng = random_module.Random(0)
    values = {v for _ in range(400) for row in _draw(rng, 2, 2, _SCALES[0], False, 1) for v in row}
    assert min(values) == Fraction(1, 8) and max(values) == 2
    assert all(v > 0 for v in values)


def test_the_determinant_of_a_matrix_singular_everywhere_is_zero_in_the_randomized_engine():
    """random_eval.py:182 (``not self.exact_zero`` → ``self.exact_zero``): modulo a prime, a determinant whose matrix
    is singular at every point (rank ≤ 2 in a 3×3 product) is 0, not a degenerate point to draw again."""
    shapes = {"W": (3, 2), "V": (2, 3), "X": (1, 1)}
    assert symderiv.verify("sum(det(W @ V) * X)", "X", "zeros(1, 1)", shapes, method="random").status == \
        "probabilistic"
    assert symderiv.verify("sum(det(W @ V) * X)", "X", "ones(1, 1)", shapes, method="random").status == "refuted"


# -- proofs/random/random_real.py ----------------------------------------------------------------------------

MATRICES = [
    [[0, 1], [1, 0]],  # a zero first pivot: the rows must be swapped
    [[1, 2], [3, 4]],  # a larger pivot below: swapped, determinant -2
    [[2, 1], [1, 3]],  # no swap at all
    [[0, 2, 1], [1, 0, 3], [4, 1, 0]],  # swaps in two columns
]


def _exact_inverse(rows: list[list[Fraction]]) -> tuple[list[list[Fraction]], Fraction]:
    """The inverse and determinant by the adjugate (cofactors), independent of elimination."""
    n = len(rows)

    def det(m: list[list[Fraction]]) -> Fraction:
        if len(m) == 1:
            return m[0][0]
        return sum(((-1) ** j * m[0][j] * det([r[:j] + r[j + 1:] for r in m[1:]]) for j in range(len(m))),
                   Fraction(0))
    d = det(rows)
    minor = [[det([r[:j] + r[j + 1:] for k, r in enumerate(rows) if k != i]) for j in range(n)] for i in range(n)]
    return [[(-1) ** (i + j) * minor[j][i] / d for j in range(n)] for i in range(n)], d


@pytest.mark.parametrize("rows", MATRICES)
def test_the_real_confirmation_inverts_with_row_swaps(rows):
    """random_real.py:150 (``if piv != col:`` negated: no row swap where one is needed, a sign flip of the
    determinant where none is): the exact and the interval Gauss–Jordan elimination of the real confirmation
    give the inverse and the determinant that cofactors give, with zero and small pivots on the diagonal."""
    m = [[Fraction(x) for x in row] for row in rows]
    inv, det = _exact_inverse(m)
    got_inv, got_det = ExactArith().inverse_det(ExactArith().matrix(m))
    assert got_det[0, 0, 0] == det
    assert [[got_inv[0, i, j] for j in range(len(m))] for i in range(len(m))] == inv
    iv = IntervalArith()
    got_inv, got_det = iv.inverse_det(iv.matrix(m))

    def encloses(interval, x: Fraction) -> bool:
        return bool(interval.a <= iv.scalar(x).a and iv.scalar(x).b <= interval.b)
    assert encloses(got_det[0, 0, 0], det)
    assert all(encloses(got_inv[0, i, j], inv[i][j]) for i in range(len(m)) for j in range(len(m)))


# -- ops/elementwise.py --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("sign(0)", 0), ("sign(-2)", -1), ("sign(1/2)", 1), ("step(0)", Fraction(1, 2)),
                                             ("step(-2)", 0), ("step(1/2)", 1), ("relu(0)", 0), ("abs(-3/2)", Fraction(3, 2))])
def test_the_kinked_functions_fold_to_their_values_at_constants(text, value):
    """elementwise.py:98 (sign's fold ``c > 0`` → ``c >= 0``: sign(0) folded to 1; it only timed out before):
    the exact value of a kinked function at a constant, 0 included."""
    assert constant_value(parse(text)) == value


# -- proofs/exact/inverse.py ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "inverts"), [("logdet(X)", False), ("matpow(X, 2)", False),
                                               ("matpow(inv(X), 2)", True), ("trace(inv(X) @ X)", True)])
def test_an_operation_inverts_only_when_its_expansion_does(text, inverts):
    """inverse.py:43 (the expansion's answer negated: every logdet/matpow sent to the inverse-atom route, which
    only timed out before): a registered operation inverts a matrix when its expansion does."""
    node = parse(text)
    assert uses_inverse(node) is inverts
    assert uses_inverse(node, infer_shapes(node, {"X": (2, 2)})) is inverts


# -- the work meter's checkpoints (proofs/exact/polynomial.py, proofs/exact/linalg.py) -----------------------


def _checks_when_work_reaches_next(work: int, run) -> int:
    """How often the meter's check runs when ``run()`` adds ``work`` term operations that end exactly at NEXT."""
    calls = []
    with metered(check=lambda: calls.append(1)):
        WORK[0] = NEXT[0] - work
        run()
    return len(calls)


def test_the_meter_checks_when_the_work_reaches_its_next_checkpoint():
    """polynomial.py:62, :92, :101 and linalg.py:111 (``WORK[0] >= NEXT[0]`` → ``>``; they only timed out or
    survived before): the deadline and the budget are checked as soon as the work counted reaches the next
    checkpoint, in each of the loops that count it (a sum, a small and a sliced product, a matrix product)."""
    x, y, z = (Ratio.var(k) for k in range(3))
    two, three = (x + y).num, (x + y + z).num
    assert _checks_when_work_reaches_next(3, lambda: padd_into(dict(two), three)) == 1
    assert _checks_when_work_reaches_next(6, lambda: pmul_into({}, two, three)) == 1
    wide = {(k,): 1 for k in range(CHECK_EVERY + 1)}  # sliced: CHECK_EVERY multiply-adds, then the last one
    assert _checks_when_work_reaches_next(CHECK_EVERY + 1, lambda: pmul_into({}, wide, {(): 1})) == 1
    a, b = [[x + y]], [[x + y + z]]  # built before the work is set: their sums count work too
    assert _checks_when_work_reaches_next(6, lambda: matmul(a, b)) == 1


def test_a_matrix_product_of_quotients_is_the_sum_of_their_products():
    """linalg.py:105 (``term = rx * ry`` → ``rx / ry`` for entries with a denominator; it only timed out before):
    entries that are quotients (with a factored denominator) are multiplied, mixed with polynomial entries."""
    x, y = Ratio.var(0), Ratio.var(1)
    one = Ratio.const(1)
    a, b = one / x, one / (x + one)
    (got,), = matmul([[a, y]], [[b], [x]])
    assert (got - (one / (x * x + x) + x * y)).is_zero()
    (got,), = matmul([[a]], [[x + y]])
    assert (got - (one + y / x)).is_zero()


def test_a_large_product_is_metered_slice_by_slice(monkeypatch):
    """polynomial.py:90 (``len(a) * len(b) <= CHECK_EVERY`` → ``len(a) / len(b)``: a large product done in one
    go): a product of more than CHECK_EVERY multiply-adds lets the meter check after each slice of about
    CHECK_EVERY, so a deadline or a budget stops it midway. (CHECK_EVERY is made small here.)"""
    monkeypatch.setattr(polynomial, "CHECK_EVERY", 100)
    monkeypatch.setattr(meter, "CHECK_EVERY", 100)
    a, b = {(k,): 1 for k in range(30)}, {(100 + j,): 1 for j in range(10)}  # 300 multiply-adds: 3 slices
    calls = []
    with metered(check=lambda: calls.append(1)):
        acc: dict = {}
        pmul_into(acc, a, b)
    assert len(calls) == 3 and len(acc) == 300


@pytest.mark.parametrize(("c", "root"), [("9/4", Fraction(3, 2)), ("4", 2), ("0", 0), ("2/9", None), ("9/2", None),
                                         ("2", None), ("-4", None)])
def test_a_square_root_is_rational_only_at_squares(c, root):
    """elementwise.py:32 (``num * num == c.numerator`` → ``!=``: sqrt(2/9) taken as 1/3): the exact value of
    sqrt at a rational is used only where both numerator and denominator are squares."""
    assert elementwise("sqrt").rational(Fraction(c)) == root


# -- the exact engine's witnesses and printing (proofs/exact/witness.py, proofs/exact/prover.py) -------------


def _entry_instance(shapes: dict):
    vs = Variables()
    instance = Instance(infer_shapes(parse("W"), shapes), vs)
    return vs, instance, [x for row in instance.symbol("W") for x in row]


def test_sides_equal_at_working_precision_are_not_evaluated_again(monkeypatch):
    """witness.py:273 (``dps == WORKING_DPS`` → ``!=``) and :276 (``10 ** -(2·60//3)`` → ``10 * ...``): sides
    that agree to 40 digits at the working precision are no witness, and are not evaluated again at the
    confirmation precision (the costly one)."""
    vs, instance, (x, y) = _entry_instance({"W": (1, 2)})
    a = Ratio.var(vs.atom("exp", Ratio.const(2) * x)) * Ratio.var(vs.atom("exp", Ratio.const(-1) * x))
    b = Ratio.var(vs.atom("exp", x))  # exp(2x)·exp(−x) = exp(x): equal, but not as formal expressions
    (vx,), (vy,) = x.variables(), y.variables()
    point = {vx: Fraction(1, 2), vy: Fraction(3)}
    precisions = []
    real_evaluate = witness.evaluate

    def recording(*args):
        precisions.append(mpmath.mp.dps)
        return real_evaluate(*args)
    monkeypatch.setattr(witness, "evaluate", recording)
    assert witness._confirm(vs, a, b, point) is None
    assert set(precisions) == {WORKING_DPS}  # (evaluate recurses into the atoms' arguments)
    precisions.clear()
    found = witness._confirm(vs, a + Ratio.const(1), b, point)
    assert found is not None and set(precisions) == {WORKING_DPS, CONFIRM_DPS}


def test_a_point_too_large_to_evaluate_is_scaled_down_by_1000():
    """witness.py:329 (``scale / 1000`` → ``scale / 1001``): where exp(10^7·W) is too large to evaluate at the
    small values, the witness search divides the point by 1000 (as often as needed), so the witness shown is a
    small value over a power of 1000."""
    v = symderiv.verify("exp(10000000 * W)", "W", "exp(10000000 * W) * 10000000 + W", {"W": (1, 1)})
    assert v.status == "refuted"
    (value,), = v.counterexample.values["W"]
    assert Fraction(value) * 1000 in SMALL_VALUES, value


def test_a_truncated_entry_says_so():
    """prover.py:295 (``length > limit`` → ``>=``): terms are printed until their length passes the limit, so an
    entry whose first term fills the limit exactly still ends in `` …``: the reader sees that more follows."""
    vs, _, (x, y) = _entry_instance({"W": (1, 2)})
    assert format_ratio(vs, x + y, 100) == "W[0,0] + W[0,1]"
    assert format_ratio(vs, x + y, 6) == "W[0,0] …"
    assert format_ratio(vs, x, 6) == "W[0,0]"


# -- autodiff/rules.py, ops/elementwise.py (found by the seed-11 sample after the changes above) --------------


def test_the_rule_of_a_function_whose_derivative_is_a_reciprocal_divides():
    """rules.py:116 (``derivative.left == 1`` → ``== 2``: ``G * (1 / W)``, which the simplifier hid): the backward
    rule of log writes ``G / W``, before any simplification; exp's writes ``G * exp(W)``."""
    g = ex.Symbol("G")
    context = Context(shape=lambda node: (2, 2))
    assert backward(parse("log(W)"), g, context) == (ex.Div(g, ex.Symbol("W")),)
    assert backward(parse("exp(W)"), g, context) == (ex.Mul(g, parse("exp(W)")),)


@pytest.mark.parametrize(("fn", "large", "small"), [("relu", 2**70, 0), ("step", 1, 0), ("abs", 2**70, 2**70),
                                                    ("sign", 1, -1)])
def test_the_piecewise_functions_take_arguments_of_any_size(fn, large, small):
    """elementwise.py:88 (step's ``limited=False`` → ``True``: refused beyond 2^64 in interval arithmetic): relu,
    step, abs and sign are piecewise linear, so the real confirmation evaluates them at any size, exactly."""
    iv = IntervalArith()
    for x, want in ((2**70, large), (-(2**70), small)):
        value = iv.func1(fn, iv.scalar(x))
        assert value.a == value.b == want


def test_the_constant_matrices_of_a_field_have_one_lane_that_broadcasts():
    """field.py:157 (``np.zeros((1, rows, cols))`` → ``(2, rows, cols)``, unseen with one or two lanes): zeros,
    ones and eye are one lane, which broadcasts over any number of lanes."""
    assert Field.zeros(2, 3).shape == Field.ones(2, 3).shape == (1, 2, 3) and Field.eye(2).shape == (1, 2, 2)
    f = Field([101, 103, 107])
    five = f.const(5)
    assert [int(v) for v in f.add(f.zeros(2, 2), five).ravel()] == [5] * 12
    assert [int(v) for v in f.add(f.ones(1, 2), five).ravel()] == [6] * 6


@pytest.mark.parametrize(("text", "column"), [(")W", 1), ("*W", 1), ("W +* X", 4)])
def test_a_syntax_error_in_the_first_column_is_placed_there(text, column):
    """language.py:337 (``1 <= column`` → ``2 <= column``: an error at column 1 lost its place): Python's own
    syntax errors keep their column, the first one included."""
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.column == column
