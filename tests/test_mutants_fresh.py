"""Named tests for the mutants that survived the fresh samples of issue 11 (``python tools/mutation.py --sample
80 --seed 12`` and ``--sample 100 --seed 13``, and the seed-11 leftovers), after tests/test_mutants_survivors.py.

As there, each docstring names the mutant(s) it kills as ``module:line`` with the mutation (line numbers of the
code the survivor was found in); ``python tools/mutation.py --only PATH:LINE --tests THIS_FILE`` re-checks one.
"""

from __future__ import annotations

import hashlib
import random
import re
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from symderiv import gradient, verify
from symderiv.autodiff.simplify import simplify
from symderiv.backends.field import Field, is_prime
from symderiv.backends.numbers import OutOfDomain, apply_fn
from symderiv.core import expr as ex
from symderiv.core.errors import NameKindError, ParseError
from symderiv.core.literals import LiteralError, number_text, read_literal
from symderiv.proofs.exact import domain, prover, witness
from symderiv.proofs.exact.algebra import Variables
from symderiv.proofs.exact.entrywise import Instance
from symderiv.proofs.exact.linalg import _nonsingular, nonsingular_somewhere
from symderiv.proofs.exact.polynomial import Ratio
from symderiv.proofs.problem import parse_claim, prepare
from symderiv.proofs.random import random_confirm
from symderiv.proofs.random.random_atoms import FieldWalker
from symderiv.proofs.random.random_confirm import fmt_value
from symderiv.proofs.random.random_real import IntervalArith
from symderiv.syntax.constants import constant_digits, constant_value
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_latex, to_text
from symderiv.syntax.shapes import infer_shapes

# -- ops -------------------------------------------------------------------------------------------------------

def _near_half_pi(distance: str) -> Fraction:
    """A rational at ``distance`` below π/2, where cos is ``distance`` (to 30 digits)."""
    with mpmath.workdps(60):
        return Fraction(str(mpmath.pi / 2 - mpmath.mpf(distance)))


def test_tan_is_at_a_pole_within_ten_to_the_minus_half_the_digits():
    """ops/elementwise.py:36 (_tan_pole: ``-dps // 2`` → ``-dps * 2``, ``10`` → ``11``, ``2`` → ``3``, ``**`` →
    ``*``, returns None): at 15 digits a point whose cosine is 7·10⁻⁹ (below 10⁻⁸, above 11⁻⁸) is a pole, and one
    whose cosine is 10⁻⁶ (above 10⁻⁸, below 10⁻⁵) is not."""
    with mpmath.workdps(15):
        assert mpmath.mp.dps == 15
        with pytest.raises(OutOfDomain, match="pole"):
            apply_fn("tan", _near_half_pi("7e-9"))
        value = apply_fn("tan", _near_half_pi("1e-6"))
        assert abs(value - 10**6) < 1


def test_the_matrix_power_is_typeset_as_a_superscript_of_its_matrix():
    """ops/linalg.py:98 (the LaTeX of matpow reads ``node.args[0]`` → ``node.args[1]``)."""
    assert to_latex(parse("matpow(A, 3) + matpow(B.T, 2)")) == r"A^{3} + \left(B^{\top}\right)^{2}"


# -- syntax ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "rows"), [("ones(2 ** 0, 1)", 1), ("ones(1 ** 64, 1)", 1), ("ones(2 ** 33, 1)", 2**33),
                                            ("ones(3 ** 25, 1)", 3**25), ("ones(10 ** 12, 1)", 10**12)])
def test_a_size_may_be_a_power_up_to_the_size_limit(text, rows):
    """syntax/language.py:186 (int_expr's exponent limit: ``b > 64`` → ``b >= 64``, ``b < 0`` → ``b <= 0``; the
    old bit estimate refused 2 ** 33 = 8,589,934,592, a size well below 10¹²)."""
    assert parse(text).rows == rows


@pytest.mark.parametrize(("text", "message"), [("ones(1 ** 65, 1)", "too large"), ("ones(10 ** 13, 1)", "too large"),
                                               ("ones(2 ** (0 - 1), 1)", "negative exponent")])
def test_a_size_past_the_limits_is_refused_with_its_position(text, message):
    """syntax/language.py:186 (``64`` → ``65``, ``or`` → ``and``): an exponent over 64 is refused even when the
    value would be small, and a negative one is named as such."""
    with pytest.raises(ParseError, match=message) as err:
        parse(text)
    assert err.value.column == 6


# -- proofs/exact/linalg.py --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("rows", "full"), [
    ([[0, 1], [1, 0]], True), ([[0, 1], [0, 2]], False), ([[1, 2], [2, 4]], False), ([[2]], True), ([[0]], False),
    ([[0, 0, 1], [0, 1, 0], [1, 0, 0]], True), ([[0, 2, 1], [0, 1, 3], [4, 0, 0]], True),
    ([[1, 2, 3], [4, 5, 6], [7, 8, 9]], False), ([[0, 1, 1], [0, 1, 1], [1, 0, 0]], False),
])
def test_the_rank_test_of_a_number_matrix(rows, full):
    """proofs/exact/linalg.py:211 (the row swap of _det_value: condition negated, ``!=`` → ``==``): zero pivots
    where a later row must serve, and singular matrices whose first pivot is fine. Also through
    nonsingular_somewhere, with constant entries."""
    matrix = [[Fraction(x) for x in row] for row in rows]
    assert _nonsingular(matrix) is full
    assert nonsingular_somewhere([[Ratio.const(x) for x in row] for row in matrix], Variables()) is full


# -- proofs/random ---------------------------------------------------------------------------------------------

def test_an_atoms_value_is_its_192_bit_keyed_hash_reduced_modulo_each_lanes_prime():
    """proofs/random/random_atoms.py:122 (``start + 2`` → ``start + 3``: a third lane would read past the digest's
    six words; ``pow(2, 64, p)`` → ``pow(2, 65, p)``; ``p[0]`` → ``p[1]``): with three lanes, each value is the
    digest's 192-bit integer (three little-endian words, most significant first) modulo the lane's prime."""
    primes = [2**61 - 1, 2**62 - 57, (1 << 61) + 15]
    assert all(is_prime(p) for p in primes)
    pr = prepare("exp(W)", ["W"], {"W": (2, 2)})
    walker = FieldWalker(pr, "W", pr.typing, Field(primes), b"seed")
    messages = [b"a", b"bc"]
    values = walker._values("exp", messages)
    for lane, p in enumerate(primes):
        key = walker.keys[lane - lane % 2]
        for k, m in enumerate(messages):
            digest = hashlib.blake2b(b"exp\x00" + m, key=key, digest_size=48).digest()
            w = [int.from_bytes(digest[8 * i:8 * i + 8], "little") for i in range(6)]
            j = 3 * (lane % 2)
            assert int(values[lane, k]) == (w[j] * 2**128 + w[j + 1] * 2**64 + w[j + 2]) % p


def test_the_modular_confirmation_names_the_entry_and_the_exact_residues(monkeypatch):
    """proofs/random/random_confirm.py:253 (the unit vector of _modular: ``(1, *shape)`` → ``(2, *shape)``,
    ``entry[0]`` → ``entry[1]``, ``= 1`` → ``= 2``): past MAX_REAL_COST (set to 0 here), a claim wrong only off
    the diagonal by ``W - W.T`` is confirmed at the entry asked first, (1, 0), and the two residues differ by
    exactly W[1,0] − W[0,1] at the point shown."""
    monkeypatch.setattr(random_confirm, "MAX_REAL_COST", 0)
    pr = prepare("W @ X", ["W"], {"W": (3, 3), "X": (3, 2)})
    found = random_confirm.confirm(pr, "W", parse_claim(pr, "G @ X.T + W - W.T"), pr.typing, (1, 0), None, 5)
    assert isinstance(found, random_confirm.Confirmed), found
    assert found.entry == (1, 0)
    g, p = re.fullmatch(r"(\d+) \(mod (\d+)\)", found.gradient).groups()
    c, q = re.fullmatch(r"(\d+) \(mod (\d+)\)", found.claim).groups()
    w = [[int(x) for x in row] for row in found.point["W"]]
    assert p == q and (int(c) - int(g) - (w[1][0] - w[0][1])) % int(p) == 0


# -- proofs/exact/prover.py --------------------------------------------------------------------------------------

def test_sympy_is_asked_only_below_its_size_limit(monkeypatch):
    """proofs/exact/prover.py:199 (``>= SYMPY_LIMIT`` → ``> SYMPY_LIMIT``): two entries whose printed sizes add
    up to exactly the limit are not handed to SymPy; one character more of room, and SymPy proves them equal."""
    node = parse("sqrt(W) * sqrt(W)")
    instance = Instance(infer_shapes(node, {"W": (1, 1)}, text="sqrt(W) * sqrt(W)"))
    a, b = instance.evaluate(node)[0][0], instance.evaluate(parse("W"))[0][0]
    size = len(prover.format_ratio(instance.vars, a, 10**6)) + len(prover.format_ratio(instance.vars, b, 10**6))
    monkeypatch.setattr(prover, "SYMPY_LIMIT", size)
    assert not prover._sympy_equal(instance.vars, a, b)
    monkeypatch.setattr(prover, "SYMPY_LIMIT", size + 1)
    assert prover._sympy_equal(instance.vars, a, b)


def test_a_confirmation_costing_exactly_the_limit_is_made_at_a_real_point(monkeypatch):
    """proofs/random/random_confirm.py:150 (``cost * len(entries) <= MAX_REAL_COST`` → ``<``): at exactly the
    limit the search at real points runs; one unit below it, with one entry fewer; with no entry affordable, a
    claim without functions is confirmed modulo a prime instead."""
    pr = prepare("W @ X", ["W"], {"W": (2, 2), "X": (2, 3)})
    claim = parse_claim(pr, "G @ X.T + 1")
    cost = random_confirm.field_cost(pr, pr.typing, claim)[1]
    for limit, modular in ((4 * cost, False), (4 * cost - 1, False), (cost - 1, True)):
        monkeypatch.setattr(random_confirm, "MAX_REAL_COST", limit)
        found = random_confirm.confirm(pr, "W", claim, pr.typing, (0, 0), None, 3)
        assert isinstance(found, random_confirm.Confirmed), found
        assert ("modulo the prime" in found.how) is modular, (limit, found.how)


# -- autodiff/simplify.py ----------------------------------------------------------------------------------------

def _simplified(text: str, shapes: dict) -> str:
    """``text`` simplified with the shapes of its matrices, as text."""
    node = parse(text)
    return to_text(simplify(node, infer_shapes(node, shapes, text=text).shape_of))


@pytest.mark.parametrize(("text", "expected"), [
    ("inv(inv(A) @ B).T", "inv(inv(A) @ B).T"),  # split: A.T @ inv(B).T, the same size: not kept
    ("inv(inv(A) @ B)", "inv(B) @ A"),  # split: shorter, kept
    ("inv(A @ B) @ A", "inv(B)"),
])
def test_split_inverses_are_kept_only_when_strictly_shorter(text, expected):
    """autodiff/simplify.py:98 (``size(candidate) < size(node)`` → ``<=``): the split form of an inverse of a
    product replaces the original only when it is shorter, as the docstring says; a tie keeps what was written."""
    assert _simplified(text, {"A": (3, 3), "B": (3, 3)}) == expected


# -- core/literals.py --------------------------------------------------------------------------------------------

def test_constants_of_exactly_the_digit_limit_are_accepted_and_one_more_is_refused():
    """core/literals.py:28 (``MAX_CONSTANT_DIGITS = 4000`` → ``4001``): the estimate of ``1e998 ** 4`` is exactly
    4000 digits and parses; adding a matrix makes it 4001, refused at the sum."""
    assert constant_digits(parse("1e998 ** 4")) == 4000
    assert constant_digits(parse("1e997 ** 4 * 10")) == 4000
    with pytest.raises(ParseError, match="more than 4000 digits") as err:
        parse("1e998 ** 4 + W")
    assert err.value.column == 1
    with pytest.raises(ParseError, match="more than 4000 digits"):
        parse("1e997 ** 4 * 100")


# -- proofs/random/random_eval.py --------------------------------------------------------------------------------

def test_the_first_power_of_a_matrix_zero_everywhere_has_derivative_one():
    """proofs/random/random_eval.py:224 (``k > 0`` → ``k > 1``: the derivative of ``a ** 1`` through 1/a): at
    ``(W - W) ** 1`` the derivative factor is 1, with no reciprocal of the zero matrix, so the claim is
    accepted, not undecided."""
    v = verify("(W - W) ** 1 + W", "W", "G", {"W": (2, 2)}, method="random")
    assert v.status == "probabilistic", v.reason


# -- proofs/exact/polynomial.py ----------------------------------------------------------------------------------

def test_a_ratio_prints_its_numerator_and_factored_denominator():
    """proofs/exact/polynomial.py:219 (Ratio.__repr__ returns None)."""
    assert repr(Ratio.const(Fraction(3, 2))) == "Ratio({(): Fraction(3, 2)}, fac=None)"
    x = Ratio.var(Variables().entry("X", 0, 0))
    assert repr(x.reciprocal()) == "Ratio({(): 1}, fac={frozenset({((0,), 1)}): 1})"


def test_miller_rabin_uses_exactly_the_first_twelve_primes_as_bases():
    """backends/field.py:41 (``_WITNESSES``: 17 → 18): the determinism of is_prime below 3.3·10²⁴ (its docstring,
    from the literature) holds for exactly these bases, the first twelve primes; a composite that fools the
    first six of them (a strong pseudoprime to bases 2–13) is still found out."""
    from symderiv.backends import field

    first = [n for n in range(2, 40) if all(n % d for d in range(2, n))]
    assert field._WITNESSES == tuple(first[:12])
    assert not is_prime(3474749660383)  # = 1303 · 16927 · 157543, a strong pseudoprime to the bases 2 to 13


def test_log_takes_arguments_of_any_size():
    """ops/elementwise.py:44 (log's ``limited=False`` → True: arguments past ARG_LIMIT would be refused as out
    of range): log(10⁴⁰⁰) = 400 · log 10."""
    value = apply_fn("log", Fraction(10**400))
    assert abs(value - 400 * mpmath.log(10)) < 1e-9


def test_sign_is_exact_on_both_sides_of_its_jump():
    """ops/elementwise.py:97 (sign's value): −1, +1 and an error at the jump 0 itself, however small the
    argument."""
    assert apply_fn("sign", Fraction(-1, 10**600)) == -1
    assert apply_fn("sign", Fraction(1, 10**600)) == 1
    with pytest.raises(OutOfDomain):
        apply_fn("sign", Fraction(0))


@pytest.mark.parametrize(("value", "text"), [(10**20, "100000000000000000000"), (10**21, "1e21"),
                                             (12 * 10**20, "1.2e21"), (Fraction(1, 10**4), "0.0001"),
                                             (Fraction(1, 10**5), "1e-5")])
def test_numbers_are_printed_plainly_up_to_ten_to_the_twenty(value, text):
    """core/literals.py:134 (``-4 <= adjusted < 21`` → ``<= 21``, and the lower end): plain digits below 10²¹ and
    down to 10⁻⁴, scientific notation from there on (as Python's float repr)."""
    assert number_text(value) == text


def test_a_witness_of_exactly_200_entries_is_shown_in_full(monkeypatch):
    """proofs/random/random_confirm.py:259 (``total <= 200`` → ``< 200``): the modular confirmation shows the point
    when it has at most 200 entries: W 10×5, X 5×10 and G 10×10 make exactly 200."""
    monkeypatch.setattr(random_confirm, "MAX_REAL_COST", 0)
    pr = prepare("W @ X", ["W"], {"W": (10, 5), "X": (5, 10)})
    found = random_confirm.confirm(pr, "W", parse_claim(pr, "G @ X.T + 1"), pr.typing, (0, 0), None, 5)
    assert isinstance(found, random_confirm.Confirmed), found
    assert sorted(found.point) == ["G", "W", "X"]
    assert sum(len(m) * len(m[0]) for m in found.point.values()) == 200


def test_a_real_confirmation_shows_the_values_of_the_entry_itself():
    """proofs/random/random_confirm.py:118 (_unit: ``(i, j) == entry`` → ``!=``, and the row range): for a 2×3
    gradient, the values shown are those of the entry named, so claim − gradient there is W[i,j]² exactly, at
    the rational point shown."""
    pr = prepare("W @ X", ["W"], {"W": (2, 3), "X": (3, 2)})
    found = random_confirm.confirm(pr, "W", parse_claim(pr, "G @ X.T + W * W"), pr.typing, (1, 2), None, 7)
    assert isinstance(found, random_confirm.Confirmed), found
    assert found.how == "exactly, in rational arithmetic" and found.entry == (1, 2)
    w = Fraction(found.point["W"][1][2])
    assert Fraction(found.claim) - Fraction(found.gradient) == w * w != 0


def test_the_derivative_of_a_zeroth_power_is_zero_in_the_randomized_engine():
    """proofs/random/random_eval.py:224 (``k > 0`` → ``k >= 0``: the factor of ``A ** 0`` through ``A ** -1``,
    which the field's square-and-multiply never finishes): ∂/∂W of sum(W ** 0 * X) is zero."""
    v = verify("sum((W ** 0) * X)", "W", "zeros(2, 2)", {"W": (2, 2), "X": (2, 2)}, method="random")
    assert v.status == "probabilistic", v.reason


@pytest.mark.parametrize(("text", "column", "width"), [("W ** x", 6, 1), ("W ** xy", 6, 2), ("W ** (x)", 7, 1)])
def test_an_error_at_a_short_part_is_underlined_exactly_there(text, column, width):
    """syntax/language.py:62 (span: ``max(1, end - start)`` → ``max(2, ...)``, and the width dropped): the caret
    line under a one-character part is one character wide."""
    with pytest.raises(ParseError) as err:
        parse(text)
    assert (err.value.column, err.value.width) == (column, width)


def test_log_abs_is_even_on_constants_in_the_randomized_engine():
    """ops/linalg.py:37 (LOGABS's ``even=True`` → False): log|det(−2I₃)| = log|−8| = log|8| = log|det(2I₃)|, so
    the randomized engine, which keys an even function's constant argument by its absolute value, accepts the
    claim; log|det(3I₃)| is refuted."""
    shapes = {"X": (2, 2)}
    assert verify("logdet(-2 * eye(3)) * sum(X)", "X", "logdet(2 * eye(3)) * ones(2, 2)", shapes,
                  method="random").status == "probabilistic"
    assert verify("logdet(-2 * eye(3)) * sum(X)", "X", "logdet(3 * eye(3)) * ones(2, 2)", shapes,
                  method="random").status == "refuted"


@pytest.mark.parametrize(("size", "status"), [("1e-25", "refuted"), ("1e-29", "refuted"), ("1e-31", "undecided")])
def test_a_witness_must_differ_by_more_than_half_the_working_digits(size, status):
    """proofs/exact/witness.py:276 (the working-precision shortcut's threshold, ``(WORKING_DPS * 2) // 3`` → ``// 4``:
    a shortcut weaker than the final test it stands for is now the same helper, _negligible): a claim off by a
    relative 10⁻²⁹ is refuted at a point; one off by 10⁻³¹ cannot be told from rounding at 60 digits, and stays
    undecided."""
    v = verify("sum(exp(W))", "W", f"exp(W) + {size} * exp(W)", {"W": (1, 1)}, method="exact")
    assert v.status == status, v.reason


def test_a_failed_confirmation_gives_its_reason(monkeypatch):
    """proofs/random/random_confirm.py:159 and :267 (the reasons returned as None): past MAX_REAL_COST a claim
    with functions is not confirmed, and says what it would cost; a claim without functions that holds finds
    no integer point where it differs."""
    monkeypatch.setattr(random_confirm, "MAX_REAL_COST", 0)
    pr = prepare("exp(W) @ X", ["W"], {"W": (2, 2), "X": (2, 2)})
    reason = random_confirm.confirm(pr, "W", parse_claim(pr, "(G @ X.T) * exp(W) + 1"), pr.typing, (0, 0), None, 1)
    assert isinstance(reason, str) and reason.startswith("confirming the difference at a real point would cost")
    pr = prepare("W @ X", ["W"], {"W": (2, 2), "X": (2, 2)})
    reason = random_confirm.confirm(pr, "W", parse_claim(pr, "G @ X.T"), pr.typing, (0, 0), None, 1)
    assert reason == "no integer point confirmed it modulo a fresh prime"


def _denominators(values: dict) -> set[int]:
    return {Fraction(x).denominator for m in values.values() for row in m for x in row}


def test_confirmation_points_start_coarse_and_reach_every_scale():
    """proofs/random/random_confirm.py:181-182 (``attempt % len(_SCALES)`` → ``//``: the later scales never
    come; ``outside == 0`` → ``!=`` and ``2**16`` → ``3**16``: the grid): a witness found at the first point
    has entries on the coarse grid (multiples of 1/8); ``log(W - 3)`` needs entries above 3, which only the
    fifth and sixth scales (up to 16) have, and after points off the domain the grid is 2^16 times finer
    (powers of 2). (Fixed seeds: the draws are deterministic.)"""
    pr = prepare("W @ X", ["W"], {"W": (2, 2), "X": (2, 2)})
    found = random_confirm.confirm(pr, "W", parse_claim(pr, "G @ X.T + 1"), pr.typing, (0, 0), None, 1)
    assert isinstance(found, random_confirm.Confirmed) and all(8 % d == 0 for d in _denominators(found.point))
    pr = prepare("sum(log(W - 3))", ["W"], {"W": (1, 2)})
    for seed in range(5):
        found = random_confirm.confirm(pr, "W", parse_claim(pr, "1 / (W - 2)"), pr.typing, (0, 0), None, seed)
        assert isinstance(found, random_confirm.Confirmed), (seed, found)
        assert all(Fraction(x) > 3 for row in found.point["W"] for x in row)
        denominators = _denominators(found.point)
        assert all(d & (d - 1) == 0 for d in denominators) and max(denominators) > 64


def test_a_function_of_a_constant_too_costly_to_evaluate_exactly_is_an_atom_of_its_form():
    """proofs/random/random_atoms.py:165 (the key ``b"S" + tag + ...`` → ``-``: a crash): the argument
    ``ones(2, 20000) @ ones(20000, 2) / 20000`` costs more than MAX_CONSTANT_COST to evaluate exactly, so its
    exp is keyed by the argument's form and position; the same form in the claim is the same atom."""
    text = "exp(ones(2, 20000) @ ones(20000, 2) / 20000)"
    v = verify(f"sum({text} * W)", "W", text, {"W": (2, 2)}, method="random")
    assert v.status == "probabilistic", v.reason


def test_a_real_witness_shows_the_exact_values_of_both_sides():
    """proofs/random/random_real.py:103 (``scale``: ``a * c`` → ``a / c``): for ∂ sum(W³)/∂W = 3W², the
    gradient entry shown is 3w² and the claim's 2w², at the rational point shown."""
    v = verify("sum(W ** 3)", "W", "2 * W ** 2", {"W": (2, 2)}, method="random")
    assert v.status == "refuted"
    cx = v.counterexample
    i, j = cx.entry
    w = Fraction(cx.values["W"][i][j])
    assert (Fraction(cx.gradient_entry), Fraction(cx.claim_entry)) == (3 * w * w, 2 * w * w)


def test_only_negative_powers_cost_like_a_division():
    """proofs/random/random_bound.py:153 (``node.exponent < 0`` → ``< 1``): ``W ** 0`` costs what ``W ** 2``
    does (a product per entry); ``W ** -1`` costs a division."""
    costs = {}
    for e in ("W ** 0", "W ** 2", "W ** -1"):
        pr = prepare(f"sum({e})", ["W"], {"W": (3, 2)})
        costs[e] = random_confirm.field_cost(pr, pr.typing, parse_claim(pr, "W"))
    assert costs["W ** 0"] == costs["W ** 2"] == (39, 39) and costs["W ** -1"] == (381, 141)


def test_an_interval_matrix_is_zero_only_when_every_interval_is_exactly_zero():
    """proofs/random/random_real.py:239 (``x.a == 0`` → ``x.a == 1``)."""
    arith = IntervalArith()
    iv = mpmath.iv
    assert arith.zero(np.array([[iv.mpf(0), iv.mpf(0)]], dtype=object))
    assert not arith.zero(np.array([[iv.mpf(0), iv.mpf([0, 1])]], dtype=object))
    assert not arith.zero(np.array([[iv.mpf(1)]], dtype=object))


def _mp(rows):
    return [[mpmath.mpf(x) for x in row] for row in rows]


@pytest.mark.parametrize(("rows", "singular"), [
    ([["1e20", "1e20"], ["1e20", "100000000000000000001"]], True),  # pivot 1 against entries of 1e20
    ([["1", "1"], ["1", "1.000000000001"]], False),  # pivot 1e-12: above 1e-15
    ([["1", "1"], ["1", "1.0000000000000005"]], True),  # pivot 5e-16: below 1e-15
    ([["1", "1"], ["1", "1.000000000000003"]], False),  # pivot 3e-15: above 1e-15
])
def test_a_numeric_matrix_is_singular_when_a_pivot_is_negligible_against_its_entries(rows, singular):
    """proofs/exact/witness.py:226, now domain.py (_solve's scale: relative to the largest entry, not 1; the threshold
    10^(-dps/2) at 30 digits, against ``// 2`` → ``* 2``, ``2`` → ``3``, ``10`` → ``11``): a matrix that must be
    invertible is outside the domain exactly when a pivot is within 10⁻¹⁵ of its largest entry."""
    with mpmath.workdps(30):
        if singular:
            with pytest.raises(OutOfDomain, match="singular"):
                domain._solve(_mp(rows), lambda: None, nonsingular=True)
        else:
            det, inverse = domain._solve(_mp(rows), lambda: None, nonsingular=True)
            assert len(inverse) == 2 and det != 0


def test_a_point_domain_gives_the_values_of_its_nodes_at_the_point():
    """proofs/exact/witness.py:127-142, now domain.py (PointDomain.value and its symbols returning None): at W = [1, 2],
    X = [3, 4]ᵀ the domain of ``W @ X`` gives 11, and W's own value."""
    node = parse("W @ X")
    instance = Instance(infer_shapes(node, {"W": (1, 2), "X": (2, 1)}, text="W @ X"))
    instance.evaluate(node)
    at = domain.PointDomain(instance, [node])
    ids = [v for name in ("W", "X") for row in instance.bound[name] for x in row for v in x.variables()]
    at(dict(zip(ids, map(Fraction, (1, 2, 3, 4)), strict=True)))
    assert at.value(node) == [[11]] and at.value(parse("W")) == [[1, 2]]


@pytest.mark.parametrize(("text", "hint"), [
    ("sum(W, axis=1.0)", "write 1; axis is 0"), ("sum(W, axis=-2.0)", "write -2; axis is 0"),
    ("sum(W, axis=1.5)", "axis is 0"), ("sum(W, axis=2.0)", "axis is 0"), ("sum(W, axis=-3.0)", "axis is 0"),
])
def test_a_decimal_axis_is_refused_with_the_integer_to_write_when_there_is_one(text, hint):
    """syntax/language.py:148 and :151 (``* sign`` → ``/ sign``; ``lo <= value <= hi`` → ``<``): the hint names
    the integer to write, at both ends of the range and with its sign, and no integer outside it."""
    with pytest.raises(ParseError, match="axis must be an integer literal") as err:
        parse(text)
    assert err.value.hint.startswith(hint)


@pytest.mark.parametrize(("text", "axis"), [("sum(W, axis=-2)", 0), ("sum(W, axis=-1)", 1), ("sum(W, axis=+1)", 1)])
def test_negative_axes_count_from_the_end(text, axis):
    """syntax/language.py:229 (``lo=-2`` → ``-3``) and the sign of an integer literal."""
    assert parse(text).axis == axis


@pytest.mark.parametrize("text", ["sum(W, axis=-3)", "sum(W, axis=2)"])
def test_an_axis_out_of_range_is_refused(text):
    """syntax/language.py:229 (``lo=-2`` → ``-3``, ``hi=1`` → ``2``)."""
    with pytest.raises(ParseError, match="axis must be between -2 and 1"):
        parse(text)


def _balanced_product(factors: list[str]) -> str:
    if len(factors) == 1:
        return factors[0]
    half = len(factors) // 2
    return f"({_balanced_product(factors[:half])} * {_balanced_product(factors[half:])})"


#: Zero wherever W's entries are all among witness.SMALL_VALUES or their absolute values (the general search's
#: points): a difference
#: with this factor must be found by the polynomial witness search, over integers.
ROOTS_AT_SMALL_VALUES = _balanced_product([f"({q} * W - {p})" for p, q in (
    (1, 1), (-1, 1), (2, 1), (-2, 1), (3, 1), (-3, 1), (1, 2), (-1, 2), (3, 2), (-3, 2), (1, 3), (-2, 3),
    (2, 3))])  # and 2/3 = |−2/3|: every third point is made all positive


def test_a_polynomial_claim_wrong_by_a_product_vanishing_on_every_small_integer_is_refuted():
    """proofs/exact/witness.py:384 (the range of the polynomial witness search: ``degree(a) + degree(b)`` →
    ``-``, ``RANGE_FACTOR *`` → ``/``): the claim is off by a product that vanishes at every small value and
    at the 129 integers of [−64, 64], so only a range that grows with the degree finds a witness (the issue's
    twelve-factor claim, scaled past the minimum range)."""
    factors = [f"(W + {-k})" if k < 0 else f"(W - {k})" for k in range(-64, 65)]
    claim = f"2 * W + {ROOTS_AT_SMALL_VALUES} * {_balanced_product(factors)}"
    v = verify("sum(W * W)", "W", claim, {"W": (1, 1)}, method="exact")
    assert v.status == "refuted", v.reason
    assert abs(Fraction(v.counterexample.values["W"][0][0])) > 64


def test_the_polynomial_witness_search_keeps_drawing_points_of_both_signs():
    """proofs/exact/witness.py:389 (``attempt % 2`` → ``//``: after two draws every point is positive): under
    log(−W), a 1×6 W must be all negative, and the claim's error vanishes at the small values."""
    v = verify("sum(log(-W)) + sum(W * W)", "W", f"1 / W + 2 * W + {ROOTS_AT_SMALL_VALUES}", {"W": (1, 6)},
               method="exact")
    assert v.status == "refuted", v.reason
    assert all(Fraction(x) < 0 for x in v.counterexample.values["W"][0])


def test_the_witness_search_values_are_twelve_distinct_small_numbers_of_both_signs():
    """proofs/exact/witness.py:46 (a constant of SMALL_VALUES changed, making two of them equal)."""
    values = witness.SMALL_VALUES
    assert len(set(values)) == len(values) == 12
    assert sum(v > 0 for v in values) == sum(v < 0 for v in values) == 6
    assert all(abs(v) <= 3 and v.denominator <= 3 for v in values)


def test_values_past_two_to_the_hundred_thousand_are_shown_as_powers_of_two():
    """proofs/random/random_confirm.py:100 (``abs(exp) > 100_000`` → ``>=``, ``100_001``): 2^99999 (binary
    exponent 100000) is still written in decimal; 2^100000 and its negative are written as powers of 2."""
    assert fmt_value(Fraction(2**99999)).startswith("≈ 4.99501046507192e+30102")
    assert fmt_value(Fraction(2**100000)) == "≈ 2^100001"
    assert fmt_value(Fraction(-(2**100000))) == "≈ -2^100001"


def test_small_gradients_are_confirmed_at_every_entry_and_large_ones_at_a_sample():
    """proofs/random/random_confirm.py:142 (``len(everything) <= ALL_ENTRIES`` → ``<``): a 4×4 gradient (16
    entries) has every entry tried, the entry asked first first; a 4×5 one, a sample."""
    rng = random.Random(1)
    assert len(random_confirm._entries((4, 4), None, rng)) == 16
    entries = random_confirm._entries((4, 4), (3, 2), rng)
    assert entries[0] == (3, 2) and sorted(entries) == [(i, j) for i in range(4) for j in range(4)]
    assert len(random_confirm._entries((4, 5), None, rng)) == random_confirm.SAMPLED_ENTRIES


def test_entries_are_dropped_only_while_over_the_budget(monkeypatch):
    """proofs/random/random_confirm.py:159 (``cost * len(entries) > MAX_REAL_COST`` → ``>=``, ``len(entries) > 1``
    → ``> 2``): at exactly the budget of four entries all four are searched; one unit less, three; at the cost
    of one, one."""
    pr = prepare("W @ X", ["W"], {"W": (2, 2), "X": (2, 3)})
    claim = parse_claim(pr, "G @ X.T + 1")
    cost = random_confirm.field_cost(pr, pr.typing, claim)[1]
    searched = []
    monkeypatch.setattr(random_confirm, "_search", lambda *args: searched.append(len(args[4])) or "stop")
    for limit in (4 * cost, 4 * cost - 1, cost):
        monkeypatch.setattr(random_confirm, "MAX_REAL_COST", limit)
        assert random_confirm.confirm(pr, "W", claim, pr.typing, (0, 0), None, 3) == "stop"
    assert searched == [4, 3, 1]


def test_an_interval_gap_of_exactly_2_to_the_minus_64_is_not_a_difference():
    """proofs/random/random_confirm.py:136 (``magnitude(d) > size · 2⁻⁶⁴`` → ``>=``): at the threshold itself
    (values below 1, so the size is 1) the gap is still rounding."""
    arith = IntervalArith()
    zero, tie = arith.scalar(Fraction(0)), arith.scalar(Fraction(1, 2**64))
    assert not random_confirm._differs(arith, zero, tie)
    assert random_confirm._differs(arith, zero, arith.scalar(Fraction(3, 2**65)))


def test_a_true_identity_with_catastrophic_cancellation_is_never_refuted():
    """proofs/exact/witness.py:279 (``_negligible(high) or disagreement`` → ``and``: a point where the two
    precisions disagree would be taken as a witness): e⁴⁰⁰·(sin²W + cos²W) − e⁴⁰⁰ + 1 is 1, but evaluated at 60
    and at 130 digits the e⁴⁰⁰ terms leave rounding errors of about 10¹¹³ and 10⁴³ that do not agree. No
    witness may come of that; SymPy then proves the claim."""
    v = verify("sum(W)", "W", "exp(400) * (sin(W) ** 2 + cos(W) ** 2) - exp(400) + 1", {"W": (1, 2)},
               method="exact")
    assert v.status == "proved", v.reason


def test_the_modular_confirmation_counts_the_entries_of_one_row_matrices(monkeypatch):
    """proofs/random/random_confirm.py:269 (``len(m) * len(m[0])`` → ``m[1]``: a one-row matrix has no row 1):
    W 1×3, X 3×2 and G 1×2 make 9 entries, shown in full."""
    monkeypatch.setattr(random_confirm, "MAX_REAL_COST", 0)
    pr = prepare("W @ X", ["W"], {"W": (1, 3), "X": (3, 2)})
    found = random_confirm.confirm(pr, "W", parse_claim(pr, "G @ X.T + 1"), pr.typing, (0, 0), None, 5)
    assert isinstance(found, random_confirm.Confirmed), found
    assert {n: (len(m), len(m[0])) for n, m in found.point.items()} == {"W": (1, 3), "X": (3, 2), "G": (1, 2)}


@pytest.mark.parametrize("text", [".", "_", "._", "e5", ".e5"])
def test_a_literal_without_digits_is_refused(text):
    """core/literals.py:68 (``match is None or not (whole or frac)`` → ``and``: "." would read as 0)."""
    with pytest.raises(LiteralError, match="is not a number literal"):
        read_literal(text)


def test_a_number_of_exactly_sixty_digits_is_one_literal():
    """core/literals.py:151 (``len(digits) <= MAX_LITERAL_DIGITS`` → ``<``): 60 significant digits print as one
    literal, 61 as a bracketed sum of literals that reads back to the same number."""
    sixty, sixty_one = int("1" * 60), int("1" * 61)
    assert number_text(sixty) == "1" * 60
    text = number_text(sixty_one)
    assert text.startswith("(") and " + " in text
    assert sum(read_literal(part) for part in text.strip("()").split(" + ")) == sixty_one


@pytest.mark.parametrize(("value", "text"), [
    (Fraction(int("1" * 60), 10), "1" * 59 + ".1"),  # 60 digits: plain
    (10**1000, "1e1000"), (10**1001, "(1e1 * 1e1000)"),  # the exponent limit, and one past it
    (Fraction(1, 10**1000), "1e-1000"), (Fraction(1, 10**1001), "(1e-1 * 1e-1000)"),
])
def test_literals_at_the_digit_and_exponent_limits(value, text):
    """core/literals.py:134 and :138 (``<= MAX_LITERAL_DIGITS`` → ``<`` for a plain decimal; ``abs(adjusted) <=
    limit`` → ``<``): the printed form at each limit, and one past it, is a literal the parser takes back."""
    assert number_text(value) == text
    assert constant_value(parse(text)) == value


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (Fraction(0), "0"),
    # 18 digits and 4 zeros: "1.23...78e21" is as long as the 22 plain digits, and the tie goes to plain
    (123456789012345678 * 10**4, "1234567890123456780000"),
    (1234567890123456789 * 10**4, "12345678901234567890000"),
    (123456789012345678 * 10**5, "1.23456789012345678e22"),
])
def test_plain_digits_win_a_tie_with_scientific_notation(value, text):
    """core/literals.py:116 (zero's parts ``(0, 0)`` → ``(0, 1)``: "00") and :136 (``len(plain) <=
    len(mantissa) + 1 + len(str(adjusted))`` → ``<``, and either ``+`` → ``-``)."""
    assert number_text(value) == text
    assert constant_value(parse(text)) == value


@pytest.mark.parametrize(("power", "factored"), [(939, False), (940, True)])
def test_a_long_number_is_factored_only_past_the_exponent_limit(power, factored):
    """core/literals.py:154 (``abs(e) + len(digits) <= limit`` → ``<``, ``+`` → ``-``): 61 ones times 10^939
    reach exponent 999 and are a sum of two literals; times 10^940 they reach 1000 and 10^940 is factored out."""
    value = int("1" * 61) * 10**power
    text = number_text(value)
    assert text.endswith(" * 1e940)") is factored
    assert constant_value(parse(text)) == value


def test_an_overlong_literal_is_quoted_by_its_first_37_characters():
    """core/literals.py:88 (``text[:37]`` → ``text[:38]``)."""
    with pytest.raises(LiteralError) as err:
        read_literal("1234567890" * 7)
    assert str(err.value).splitlines()[0] == f"the number literal `{'1234567890' * 3}1234567...` has 70 digits"


def test_unary_plus_is_the_operand_and_other_unary_operators_are_refused():
    """syntax/language.py:81 (``isinstance(node.op, ast.UAdd)`` negated)."""
    assert parse("+W") == parse("W")
    for text in ("~W", "not W"):
        with pytest.raises(ParseError, match="is not supported") as err:
            parse(text)
        assert err.value.hint == "only unary minus is allowed"


def test_a_non_integer_power_is_a_call_of_pow():
    """syntax/language.py:108 (the ``pow`` call returned as None)."""
    node = parse("W ** 0.5")
    assert isinstance(node, ex.Call) and node.op == "pow" and node.param("p") == Fraction(1, 2)


def test_a_size_that_is_a_call_is_refused_with_the_hint():
    """syntax/language.py:189 (``isinstance(node, ast.Constant) and isinstance(node.value, float)`` → ``or``: a
    call has no ``.value``)."""
    with pytest.raises(ParseError, match="the row count must be a positive integer") as err:
        parse("ones(f(2), 1)")
    assert err.value.hint == "for example ones(n, 1) or eye(3)"


def test_an_unknown_function_is_offered_as_a_generic_one():
    """syntax/language.py:234 (``is_identifier(fn)`` negated)."""
    with pytest.raises(NameKindError, match="unknown function `foo`") as err:
        parse("foo(W)")
    assert err.value.hint.endswith("; declare a generic elementwise function with functions=['foo'] / --fn foo")


def test_the_nesting_error_points_into_the_expression():
    """syntax/language.py:285 (``hasattr(node, "col_offset")`` negated: the placed node)."""
    with pytest.raises(ParseError, match="nested more than 120 levels deep") as err:
        parse(" + ".join(["W"] * 130))
    assert err.value.column == 45


@pytest.mark.parametrize("axis", ["~1", "not 1", "n", "(1)"])
def test_an_axis_must_be_a_plain_integer_literal(axis):
    """syntax/language.py:141-142 (int_literal: ``isinstance(node, ast.UnaryOp) and sign is not None`` → ``or``:
    ``~1`` would read as 1; ``isinstance(inner, ast.Constant) and ...`` → ``or``: a name has no value)."""
    if axis == "(1)":
        assert parse(f"sum(W, axis={axis})").axis == 1  # brackets are not a node: still the literal
        return
    with pytest.raises(ParseError, match="axis must be an integer literal"):
        parse(f"sum(W, axis={axis})")


@pytest.mark.parametrize(("text", "rows"), [("ones(200000000000, 1)", 2 * 10**11),
                                            ("ones(10000000000000 - 9999999999999, 1)", 1)])
def test_size_arithmetic_takes_constants_up_to_ten_times_the_size_limit(text, rows):
    """syntax/language.py:171 (``abs(node.value) > MAX_DIM_VALUE * 10`` → ``>=`` or ``/ 10``): a constant of
    exactly 10¹³ may take part in size arithmetic; the result must still be a size."""
    assert parse(text).rows == rows


@pytest.mark.parametrize(("size", "hint"), [("2.0", "write 2"), ("1.0", "write 1"), ("2.5", "for example ones(n, 1)"),
                                            ("0.0", "for example ones(n, 1)"),
                                            ("1000000000000.0", "write 1000000000000"),
                                            ("1000000000001.0", "for example ones(n, 1)")])
def test_a_decimal_size_is_refused_with_the_integer_to_write(size, hint):
    """syntax/language.py:191 (``exact.denominator == 1 and 1 <= exact <= MAX_DIM_VALUE`` → ``or``, ``1 <``,
    ``2 <=``, ``< MAX_DIM_VALUE``): the hint names the integer only within the sizes' range, ends included."""
    with pytest.raises(ParseError, match="must be a positive integer or a dimension name") as err:
        parse(f"ones({size}, 1)")
    assert err.value.hint.startswith(hint)


def test_nesting_is_allowed_up_to_its_limit_and_the_hint_lists_the_functions():
    """syntax/language.py:282 and :291 (the depth starts at 0; ``depth > MAX_TREE_DEPTH`` → ``>=``): a sum of
    119 terms is accepted and one of 120 refused; and :232 (``RESERVED | self.generic`` → ``&``): an unknown
    function's hint lists the known ones."""
    assert parse(" + ".join(["W"] * 119)) is not None  # 118 operators
    with pytest.raises(ParseError, match="nested more than 120 levels deep"):
        parse(" + ".join(["W"] * 120))
    with pytest.raises(NameKindError) as err:
        parse("foo(W)", functions=["phi"])
    assert err.value.hint.startswith("known functions: abs, cos, det,") and "phi, " in err.value.hint


def test_size_arithmetic_refuses_a_constant_past_ten_times_the_size_limit():
    """syntax/language.py:171 (``MAX_DIM_VALUE * 10`` → ``* 11``)."""
    with pytest.raises(ParseError, match="the row count is too large") as err:
        parse("ones(10000000000001 - 10000000000000, 1)")
    assert err.value.column == 6


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("eye(2, 3)", "eye(...) takes 1 argument, not 2", "write eye(n)"),
    ("ones(2)", "ones(...) takes 2 arguments, not 1", "write ones(rows, cols)"),
])
def test_constructors_take_their_number_of_arguments(text, message, hint):
    """syntax/language.py:230 (``fn == "eye"`` → ``!=``)."""
    with pytest.raises(ParseError) as err:
        parse(text)
    assert str(err.value).startswith(message) and err.value.hint == hint


@pytest.mark.parametrize(("text", "message", "column"), [
    ("W +", "syntax error: invalid syntax", 4),
    ("W W", "syntax error: invalid syntax. Perhaps you forgot a comma?", 1),
    ("W :", "syntax error: invalid syntax", 3),  # the last character: len(text), kept
    ("W if", "syntax error: invalid syntax", 5),  # past the end: len(text) + 1, kept
])
def test_a_syntax_error_keeps_pythons_message_and_column(text, message, column):
    """syntax/language.py:331 (``err.msg or "invalid syntax"`` → ``and``) and :328-329 (the column of the error,
    kept from the first character to one past the last: ``len(flat) + 1`` → ``- 1``)."""
    with pytest.raises(ParseError) as err:
        parse(text)
    assert str(err.value).splitlines()[0] == f"{message} at column {column}"


def test_the_field_block_keeps_float64_sums_exact():
    """backends/field.py:40 (``BLOCK = 2048`` → ``2049``): the documented bound, BLOCK·(2²¹ − 1)² < 2⁵³, holds, so
    a block of 21-bit limb products sums exactly in float64."""
    from symderiv.backends import field

    assert field.BLOCK * ((1 << field._LIMB) - 1) ** 2 < 2**53


def test_random_primes_are_drawn_from_both_residues_modulo_four():
    """backends/field.py:83 (``| 1`` → ``| 2``: only primes ≡ 3 (mod 4) could be drawn): uniform on the primes of
    [2^60, 2^62), fifty draws meet both classes."""
    from symderiv.backends.field import PRIME_LOW, random_prime

    rng = random.Random(4)
    primes = [random_prime(rng) for _ in range(50)]
    assert all(PRIME_LOW <= p < 2**62 and is_prime(p) for p in primes)
    assert {p % 4 for p in primes} == {1, 3}


@pytest.mark.parametrize("bits", [20, 21, 40, 42, 61])
def test_field_products_are_exact_for_residues_of_every_size(bits):
    """backends/field.py:216-218 (_limbs: ``count == 1`` → ``== 2``: two-limb values multiplied as one float,
    inexact past 2^53), _mulmod_ld's reduction: matmul and mul of residues below 2^bits agree with Python's
    integers, in two lanes."""
    rng = random.Random(bits)
    primes = [2**61 - 1, (1 << 62) - 57]
    f = Field(primes)
    a = [[[rng.randrange(min(2**bits, p)) for _ in range(5)] for _ in range(3)] for p in primes]
    b = [[[rng.randrange(min(2**bits, p)) for _ in range(4)] for _ in range(5)] for p in primes]
    got = f.matmul(np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64))
    for lane, p in enumerate(primes):
        want = [[sum(a[lane][i][k] * b[lane][k][j] for k in range(5)) % p for j in range(4)] for i in range(3)]
        assert got[lane].tolist() == want
    x, y = np.array(a, dtype=np.uint64)[:, :, :4], np.array(b, dtype=np.uint64)[:, :3, :]
    assert f.mul(x, y).tolist() == [[[int(u) * int(v) % p for u, v in zip(ru, rv, strict=True)]
                                     for ru, rv in zip(xl, yl, strict=True)]
                                    for xl, yl, p in zip(x.tolist(), y.tolist(), primes, strict=True)]


def test_every_elementwise_row_has_a_code_template_per_target():
    """ops/elementwise.py:21 (``_code`` returns None): the rows' templates, as Gradient.to_code prints them."""
    from symderiv.ops import elementwise

    assert elementwise("sign").code == {"numpy": "np.sign({})", "torch": "torch.sign({})", "jax": "jnp.sign({})"}
    assert elementwise("exp").code["torch"] == "torch.exp({})"


def test_the_registry_flags_of_the_elementwise_rows_take_effect():
    """ops/elementwise.py:48-91 (the rows' flags): sqrt takes arguments of any size (``limited=False``); abs and
    relu are kinked at 0 (``kink=True``); sin, cos and tan are periodic, so their interval values reach
    arguments past MAX_ARGUMENT (2^64); tanh's interval form encloses tanh; relu and step have their exact
    values on both sides of 0."""
    from symderiv.proofs.random.random_real import MAX_ARGUMENT

    assert abs(apply_fn("sqrt", Fraction(10**400)) - mpmath.mpf(10) ** 200) < 1
    for fn in ("abs", "relu", "step", "sign"):
        with pytest.raises(OutOfDomain, match="kink"):
            apply_fn(fn, Fraction(0))
    arith = IntervalArith()
    big = MAX_ARGUMENT * 2**6
    with mpmath.workdps(100):
        for fn, exact in (("sin", mpmath.sin), ("cos", mpmath.cos), ("tan", mpmath.tan), ("tanh", mpmath.tanh)):
            x = Fraction(big) if fn != "tanh" else Fraction(1, 3)
            value = arith.func1(fn, arith.scalar(x))
            assert abs((value.a + value.b) / 2 - exact(mpmath.mpf(x.numerator) / x.denominator)) < 1e-50, fn
    assert [apply_fn("relu", Fraction(x)) for x in (-3, Fraction(5, 2))] == [0, Fraction(5, 2)]
    assert [apply_fn("step", Fraction(x)) for x in (Fraction(-1, 10**50), 3)] == [0, 1]


def test_the_matrix_operations_rows_take_effect():
    """ops/linalg.py (MAX_MATPOW at its boundary; logdet's LaTeX; logabs takes arguments of any size and is
    internal; logdet is a scalar in exported code; matpow's degree growth is k, at least 1)."""
    from symderiv.ops import matrix_op

    assert to_latex(parse("logdet(A) + matpow(A, 64)")) == r"\log\left\lvert\det A\right\rvert + A^{64}"
    with pytest.raises(ParseError, match="the power of matpow must be between 0 and 64"):
        parse("matpow(A, 65)")
    assert abs(apply_fn("logabs", Fraction(-(10**400))) - 400 * mpmath.log(10)) < 1e-9
    code = gradient("sum(logdet(W) @ X)", "X", {"W": (2, 2), "X": (1, 3)}).to_code("numpy", forward=True)
    assert "(np.linalg.slogdet(W)[1].reshape(1, 1) @ X).sum()" in code  # a scalar, made 1×1 for `@`
    with pytest.raises(NameKindError, match="unknown function `logabs`"):
        parse("logabs(W)")  # logdet's atom is internal, not a name of the language
    assert [matrix_op("matpow").growth({"k": k}) for k in (0, 1, 3)] == [1, 1, 3]


def test_the_inverse_atom_route_transposes_for_the_numerator_layout():
    """proofs/exact/prover.py:109 (proves_with: ``if numerator_layout`` negated): with inv(M)'s entries as atoms,
    ∂ trace(M⁻¹X)/∂M is −(M⁻¹ X M⁻¹)ᵀ in the denominator layout and its transpose in the numerator layout."""
    from symderiv.proofs.exact.inverse import prove_with_inverse_atoms

    expression = parse("trace(inv(W) @ X)")
    typing = infer_shapes(expression, {"W": (3, 3), "X": (3, 3)})
    plain, transposed = parse("-(inv(W) @ X @ inv(W))"), parse("-(inv(W) @ X @ inv(W)).T")
    assert prove_with_inverse_atoms(expression, "W", transposed, typing)
    assert not prove_with_inverse_atoms(expression, "W", plain, typing)
    assert prove_with_inverse_atoms(expression, "W", plain, typing, numerator_layout=True)
    assert not prove_with_inverse_atoms(expression, "W", transposed, typing, numerator_layout=True)


def test_the_prover_routes_keep_their_shapes_and_their_kinds_of_difference():
    """proofs/exact/prover.py:110 (proves_with: a claim of another shape → True), :171 (``diff = a - b`` →
    ``a + b``: a difference without atoms between entries with atoms goes to the polynomial search), :205
    (``seconds <= 0`` → ``<= 1``: with under a second left, SymPy still runs), :261 (an inverse atom's name)."""
    from symderiv.proofs.exact.inverse import prove_with_inverse_atoms

    expression = parse("trace(inv(W) @ X)")
    typing = infer_shapes(expression, {"W": (3, 3), "X": (3, 3)})
    assert not prove_with_inverse_atoms(expression, "W", parse("-(inv(W) @ X @ inv(W)).T @ ones(3, 1)"), typing)
    v = verify("sum(exp(W))", "W", f"exp(W) + {ROOTS_AT_SMALL_VALUES}", {"W": (1, 1)}, method="exact")
    assert v.status == "refuted", v.reason  # exp(W) cancels: the difference is a polynomial
    node = parse("sqrt(W) * sqrt(W)")
    instance = Instance(infer_shapes(node, {"W": (1, 1)}))
    a, b = instance.evaluate(node)[0][0], instance.evaluate(parse("W"))[0][0]
    assert prover._sympy_equal(instance.vars, a, b, None, [0.99])  # about 0.1 s of SymPy
    inverse = Instance(infer_shapes(parse("inv(W)"), {"W": (2, 2)}), inverse_atoms=True)
    assert prover.format_ratio(inverse.vars, inverse.evaluate(parse("inv(W)"))[0][1]) == "inv(…)[0,1]"


def test_a_kinked_function_of_an_interval_around_its_kink_is_the_hull_of_its_values():
    """proofs/random/random_real.py:254-256 (``if row.kink`` negated; the hull returned as None): relu and abs
    of intervals that contain 0 are [0, 2] and [0, 3]; exp of one is evaluated as usual."""
    arith, iv = IntervalArith(), mpmath.iv
    relu, absolute = arith.func1("relu", iv.mpf([-1, 2])), arith.func1("abs", iv.mpf([-3, 2]))
    assert (relu.a, relu.b, absolute.a, absolute.b) == (0, 2, 0, 3)
    value = arith.func1("exp", iv.mpf([-1, 1]))
    with mpmath.workdps(100):
        assert abs(value.a - mpmath.exp(-1)) < 1e-60 and abs(value.b - mpmath.e) < 1e-60


def test_limited_functions_take_arguments_up_to_exactly_max_argument():
    """proofs/random/random_real.py:260 (``x.b > cap or x.a < -cap`` → ``>=`` / ``<=``): exp(±2⁶⁴) is evaluated
    (mpmath's exponents are unbounded), exp(±(2⁶⁴ + 1)) is skipped as too large."""
    from symderiv.proofs.random.random_real import MAX_ARGUMENT, OffDomain

    arith, iv = IntervalArith(), mpmath.iv
    for x in (MAX_ARGUMENT, -MAX_ARGUMENT):
        assert arith.func1("exp", iv.mpf(x)).a > 0
        with pytest.raises(OffDomain, match="too large to evaluate"):
            arith.func1("exp", iv.mpf(x + (1 if x > 0 else -1)))


@pytest.mark.parametrize(("claim", "values"), [
    ("2 * ones(2, 2)", lambda w: (1, 2)),  # the real arithmetic's ones
    ("4 * W ** 4", lambda w: (5 * w**4, 4 * w**4)),  # a fourth power: two squarings
])
def test_real_witnesses_of_ones_and_of_higher_powers_are_exact(claim, values):
    """proofs/random/random_real.py:79 and :114 (the real arithmetic's ``ones`` and ``pow_elem``)."""
    expression = "sum(W)" if "ones" in claim else "sum(W ** 5)"
    v = verify(expression, "W", claim, {"W": (2, 2)}, method="random")
    assert v.status == "refuted"
    cx = v.counterexample
    w = Fraction(cx.values["W"][cx.entry[0]][cx.entry[1]])
    assert (Fraction(cx.gradient_entry), Fraction(cx.claim_entry)) == values(w)


@pytest.mark.parametrize("text", ["W - W + b", "b + W - W", "W * 0 + b"])
def test_a_cancelled_term_keeps_the_broadcasting_it_did(text):
    """autodiff/simplify.py:375 (``ones(whole[0], whole[1])`` → ``ones(whole[1], whole[1])``): W is 2×3 and b
    1×3, so what is left is b stretched to 2×3."""
    assert _simplified(text, {"W": (2, 3), "b": (1, 3)}) == "ones(2, 3) * b"


@pytest.mark.parametrize("text", ["b - b + W - W", "W * 0 + b * 0"])
def test_a_sum_that_cancels_to_zero_keeps_its_broadcast_shape(text):
    """autodiff/simplify.py:375 (``zeros(whole[0], whole[1])`` → ``zeros(whole[1], whole[1])``)."""
    assert _simplified(text, {"W": (2, 3), "b": (1, 3)}) == "zeros(2, 3)"


@pytest.mark.parametrize(("text", "shapes"), [("sum(x, axis=1)", {"x": (3, 1)}), ("sum(x, axis=0)", {"x": (1, 3)}),
                                              ("sum(x, axis=1)", {"x": (1, 1)})])
def test_a_sum_along_an_axis_of_length_one_is_its_operand(text, shapes):
    """autodiff/simplify.py:266-270 (the operand returned as None)."""
    assert _simplified(text, shapes) == "x"


def test_keyword_parameters_are_only_the_non_positional_ones():
    """syntax/language.py:204 (``if not p.positional`` → ``if p.positional``): softmax takes ``axis=``, matpow
    takes k by position only."""
    assert parse("softmax(A, axis=1)").param("axis") == 1
    with pytest.raises(ParseError, match="keyword argument `k=` is not allowed in matpow"):
        parse("matpow(A, k=2)")


def test_a_sum_of_zeros_is_zeros_of_the_sums_shape():
    """autodiff/simplify.py:270 (``return self.zeros(node)`` → None)."""
    assert _simplified("sum(W - W, axis=1)", {"W": (2, 3)}) == "zeros(2, 1)"
