"""Tests that kill the mutants of the randomized check (``method="random"``): error bound, lanes, verdicts,
confirmation of refutations. Each docstring names the mutants (module:line#index) it was written against.

The error bound is checked against an independent calculation of the formula documented in
:func:`symderiv.proofs.random.random_bound.lane_error` and :func:`symderiv.proofs.random.random_bound.error_bound`, done here in
high-precision linear arithmetic (mpmath), not in the module's log2 domain.
"""

from __future__ import annotations

import math

import mpmath
import pytest

from symderiv.proofs.random.random_bound import Bounds, degree_walk, error_bound, lane_error, stated_exponent
from symderiv.proofs.random.randomized import MAX_LANES, lanes_needed


def _divides(height: float) -> mpmath.mpf:
    """The chance that a random prime in [2^60, 2^62) divides a non-zero integer below 2^height:
    at most ⌊height/60⌋ such primes divide it, out of more than 2^56 primes."""
    return mpmath.mpf(math.floor(height / 60)) / mpmath.mpf(2) ** 56


def _lane(b: Bounds, size: float) -> mpmath.mpf:
    """One lane: (num + den + 1)/|S| + P(prime | content) + atoms·2^-130, at most 1."""
    p = mpmath.mpf(b.num + b.den + 1) / mpmath.mpf(2) ** size + _divides(b.height)
    p += b.atoms * mpmath.mpf(2) ** -130
    return min(mpmath.mpf(1), p)


def _independent(b: Bounds, lanes: int, sample_bits: float = 64, primes: list[int] | None = None) -> float:
    """log2 of: Π_lanes lane + atoms²/2 · Π_lanes min(1, max(arg_degree, 1)/|S| + P(prime | arg difference)),
    at most 1; |S| = min(2^sample_bits, p) with p ≥ 2^60 (or the prime drawn)."""
    sizes = [min(sample_bits, 60.0)] * lanes if primes is None else \
        [min(sample_bits, float(mpmath.log(p, 2))) for p in primes]
    total = mpmath.mpf(1)
    for s in sizes:
        total *= _lane(b, s)
    if b.atoms:
        pairs = mpmath.mpf(b.atoms) ** 2 / 2
        for s in sizes:
            pairs *= min(mpmath.mpf(1), mpmath.mpf(max(b.arg_degree, 1)) / mpmath.mpf(2) ** s +
                         _divides(b.arg_height))
        total += pairs
    return float(mpmath.log(min(mpmath.mpf(1), total), 2))  # mpmath's 53 bits carry the exponents exactly


BOUNDS = [
    Bounds(3, 0, 5.0, 0, 0.0, 0),
    Bounds(3, 2, 5.0, 0, 0.0, 0),
    Bounds(1, 0, 0.0, 0, 0.0, 0),
    Bounds(40, 7, 59.9, 0, 0.0, 0),
    Bounds(40, 7, 60.0, 0, 0.0, 0),
    Bounds(40, 7, 250.0, 0, 0.0, 0),
    Bounds(1000, 30, 1300.0, 0, 0.0, 0),
    Bounds(3, 0, 5.0, 2, 3.0, 2**21),
    Bounds(7, 1, 10.0, 5, 61.0, 12),
    Bounds(7, 1, 10.0, 0, 200.0, 1),
    Bounds(2**20, 2**10, 700.0, 2**18, 900.0, 2**30),
    Bounds(2**58, 0, 5.0, 0, 0.0, 0),  # one lane alone says nothing: each lane is capped at 1
    Bounds(5, 0, 5.0, 2**62, 0.0, 4),  # a pair term capped at 1
]


@pytest.mark.parametrize("b", BOUNDS, ids=lambda b: f"num{b.num}-den{b.den}-h{b.height}-atoms{b.atoms}")
@pytest.mark.parametrize("lanes,sample_bits", [(1, 64), (2, 64), (3, 21), (5, 60), (7, 40)])
def test_the_error_bound_is_the_documented_formula(b, lanes, sample_bits):
    """The stated bound 2^-k is exactly the documented one: never smaller (overclaiming), never needlessly larger.

    Kills random_bound.py mutants of lane_error, error_bound, _divisible and _log2sum (e.g. the ``+ 1`` of
    ``num + den + 1``, ``- 130``, ``2 * log2(atoms) - 1``, the floor's divisor, the caps at 0)."""
    got = error_bound(b, lanes, sample_bits)
    want = _independent(b, lanes, sample_bits)
    assert got == pytest.approx(want, abs=1e-9), (got, want)


@pytest.mark.parametrize("b", BOUNDS[:9], ids=lambda b: f"num{b.num}-h{b.height}-atoms{b.atoms}")
def test_the_error_bound_with_the_primes_drawn_is_the_documented_formula(b):
    """With the primes actually drawn, |S| is the smaller of 2^sample_bits and the lane's prime.
    Kills random_bound.py mutants of the ``primes`` branch of error_bound."""
    primes = [2**60 + 33, 2**61 - 1, 2**62 - 57]
    for sample_bits in (64, 21, 60.5):
        got = error_bound(b, 3, sample_bits, primes)
        assert got == pytest.approx(_independent(b, 3, sample_bits, primes), abs=1e-9)


@pytest.mark.parametrize("b", BOUNDS[:8], ids=lambda b: f"num{b.num}-h{b.height}-atoms{b.atoms}")
@pytest.mark.parametrize("sample_bits", [60, 21, 33.5])
def test_one_lane_error_is_the_documented_formula(b, sample_bits):
    """lane_error: log2((num + den + 1)/|S| + ⌊height/60⌋/2^56 + atoms·2^-130), at most 0."""
    assert lane_error(b, sample_bits) == pytest.approx(_independent(Bounds(b.num, b.den, b.height, 0, 0.0, 0), 1,
                                                                    sample_bits)
                                                       if not b.atoms else
                                                       float(mpmath.log(_lane(b, sample_bits), 2)), abs=1e-9)


def _lanes_independent(b: Bounds, sample_bits: float = 64) -> int | None:
    for lanes in range(2, 200):
        # A bound that rounds to exactly 2^-60 in floats is not stated as 2^-60 (random_bound.ROUNDING).
        if _independent(b, lanes, sample_bits) <= -60 - 1e-9:
            return lanes if lanes <= 64 else None
    return None


@pytest.mark.parametrize("num", [3, 2**30 - 1, 2**20, 2**40, 2**50 + 2**47, 2**57, 2**58 + 2**57, 2**59 - 2**52])
@pytest.mark.parametrize("sample_bits", [64, 21])
def test_lanes_needed_are_the_fewest_that_reach_2_to_the_minus_60(num, sample_bits):
    """At least 2 lanes, the fewest whose bound is ≤ 2^-60, and None (undecided) beyond 64 lanes.
    Kills randomized.py mutants of lanes_needed, TARGET_BITS and MAX_LANES."""
    b = Bounds(num, 0, 5.0, 0, 0.0, 0)
    assert lanes_needed(b, sample_bits) == _lanes_independent(b, sample_bits)


def test_at_most_64_lanes_are_used():
    """A degree bound that needs exactly 64 lanes is tested; one that needs 65 is not (randomized.py MAX_LANES)."""
    assert MAX_LANES == 64
    # one lane erring with probability (num + 1)/2^60 just below 2^(-60/64) needs 64 lanes; 2^(-60/65): 65
    at64 = Bounds(int(2 ** (60 - 60 / 64) * (1 - 1e-9)), 0, 5.0, 0, 0.0, 0)
    at65 = Bounds(int(2 ** (60 - 60 / 65) * (1 - 1e-9)), 0, 5.0, 0, 0.0, 0)
    assert _independent(at64, 64) <= -60 < _independent(at64, 63)
    assert lanes_needed(at64) == 64
    assert _independent(at65, 65) <= -60 < _independent(at65, 64)
    assert lanes_needed(at65) is None


# -- verdicts of method="random" -------------------------------------------------------------------------------

import re  # noqa: E402
from fractions import Fraction  # noqa: E402

from symderiv.backends.field import is_prime  # noqa: E402
from symderiv.core.errors import BudgetError, OptionError, SymderivError  # noqa: E402
from symderiv.proofs.random.randomized import verify_random  # noqa: E402
from symderiv.proofs.verification import parse_claim, prepare, verify  # noqa: E402

WX = {"W": (3, 2), "X": (2, 4)}


def test_verify_random_itself_refutes_a_claim_of_the_wrong_shape():
    """verify_random, called directly, gives the same ``shape:`` refutation as verify() (randomized.py:114)."""
    pr = prepare("W @ X", ["W"], WX)
    bad = verify_random(pr, "W", "X.T", parse_claim(pr, "X.T"), seed=1)
    assert bad.status == "refuted" and bad.reason == "shape: the claim is 4×2 but ∂L/∂W is 3×2"
    assert bad.counterexample is None
    num = prepare("W @ X", ["W"], WX, layout="numerator")
    assert verify_random(num, "W", "X @ G.T", parse_claim(num, "X @ G.T"), seed=1).status == "probabilistic"


def test_a_refutation_carries_a_real_witness_whose_values_are_right():
    """The witness point and both values are exact: ∂L/∂W[i,j] = Σ_k G[i,k]·X[j,k], and the claim adds 1
    (randomized.py _refuted: the entry, the point, the two values)."""
    v = verify("W @ X", "W", "G @ X.T + 1", WX, method="random")
    assert v.status == "refuted" and not v.holds and v.exit_code == 1
    cx = v.counterexample
    i, j = cx.entry
    point = {n: [[Fraction(x) for x in row] for row in m] for n, m in cx.values.items()}
    assert set(point) == {"W", "X", "G"}
    want = sum(point["G"][i][k] * point["X"][j][k] for k in range(4))
    assert Fraction(cx.gradient_value) == want and Fraction(cx.claim_value) == want + 1
    assert f"differs at entry [{i},{j}] on {{W: 3×2, X: 2×4}}" in v.reason
    assert f"∂L/∂W[{i},{j}] = {cx.gradient_value} but the claim gives {cx.claim_value}" in v.reason
    assert "at entry [" in v.reason.split("found the difference")[1]


def _located(reason: str) -> tuple[int, int]:
    found = re.search(r"found the difference at entry \[(\d+),(\d+)\] modulo the prime (\d+)$", reason)
    assert found, reason
    assert is_prime(int(found.group(3))) and 2**60 <= int(found.group(3)) < 2**62
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize("seed", range(4))
def test_the_bisection_locates_an_entry_that_differs(seed):
    """A claim wrong on the diagonal only is located on the diagonal, one wrong off it off it, and the
    confirmed entry is the located one (randomized.py _locate, _evaluate)."""
    pr = prepare("W @ X", ["W"], {"W": (4, 4), "X": (4, 3)})
    for claim, on_diagonal in [("G @ X.T + eye(4)", True), ("G @ X.T + ones(4, 4) - eye(4)", False)]:
        v = verify_random(pr, "W", claim, parse_claim(pr, claim), seed=seed)
        i, j = _located(v.reason)
        assert v.status == "refuted" and (i == j) == on_diagonal, v.reason
        assert v.counterexample.entry == (i, j)


def test_a_lane_whose_prime_hides_the_difference_is_skipped(monkeypatch):
    """The difference 2^61 − 1 (a prime) on the diagonal vanishes modulo a lane of that prime: the difference is
    found, located and confirmed in the next lane, modulo its own prime (randomized.py _evaluate, _locate: the
    failing lane, its prime and its direction)."""
    import symderiv.proofs.random.randomized as randomized

    hidden, others = 2**61 - 1, [2**62 - 57, 2**60 + 33, 2**61 + 15, 2**62 - 87]
    assert all(is_prime(q) for q in [hidden, *others])
    primes = iter([hidden, *others] * 40)
    monkeypatch.setattr(randomized, "random_prime", lambda rng: next(primes))
    pr = prepare("W @ X", ["W"], {"W": (4, 4), "X": (4, 3)})
    claim = f"G @ X.T + {hidden} * eye(4)"
    v = verify_random(pr, "W", claim, parse_claim(pr, claim), seed=0)
    assert v.status == "refuted", v.reason
    i, j = _located(v.reason)
    assert i == j and v.reason.endswith(f"modulo the prime {others[0]}")
    assert Fraction(v.counterexample.claim_value) - Fraction(v.counterexample.gradient_value) == hidden


def test_cheap_small_coordinates_are_used_only_when_they_cost_at_most_twice_the_lanes():
    """Degree 4097: 2 lanes over all of F_p reach 2^-95; coordinates below 2^21 would need 7 lanes and state only
    2^-63, so the full field is used and its bound stated (randomized.py _check_one)."""
    v = verify("(W ** 64) ** 64", "W", "4096 * G * W ** 63 * (W ** 64) ** 63", {"W": (2, 1)}, method="random")
    assert v.status == "probabilistic" and v.proof.error_exponent >= 95
    b = _bounds_of("(W ** 64) ** 64", "W", "4096 * G * W ** 63 * (W ** 64) ** 63", {"W": (2, 1)})
    assert lanes_needed(b) == 2 and lanes_needed(b, 21) == 7
    assert v.proof.error_exponent >= stated_exponent(error_bound(b, 2, 64, [2**60] * 2)) >= 95
    # degree 129: 5 small lanes (2^-69) against 2 full ones (2^-105): still more than twice as many
    v = verify("W ** 64 * W ** 64", "W", "128 * G * W ** 64 * W ** 63", {"W": (2, 1)}, method="random")
    b = _bounds_of("W ** 64 * W ** 64", "W", "128 * G * W ** 64 * W ** 63", {"W": (2, 1)})
    assert (lanes_needed(b), lanes_needed(b, 21)) == (2, 5)
    assert v.proof.error_exponent >= stated_exponent(error_bound(b, 2, 64, [2**60] * 2)) >= 105
    cheap = verify("W @ X", "W", "G @ X.T", WX, method="random")
    b = _bounds_of("W @ X", "W", "G @ X.T", WX)
    assert cheap.proof.error_exponent == stated_exponent(error_bound(b, lanes_needed(b, 21), 21))


def _bounds_of(expr: str, wrt: str, claim: str, shapes: dict) -> Bounds:
    pr = prepare(expr, [wrt], shapes)
    return degree_walk(pr, wrt, pr.typing, parse_claim(pr, claim))


def test_a_degree_beyond_64_primes_is_undecided_with_its_figures():
    """W^(2^60) needs more than 64 lanes: undecided, stating the degree bound 2^60 + 1 (randomized.py _check_one)."""
    e = "W"
    for _ in range(10):
        e = f"({e}) ** 64"
    v = verify(e, "W", "G", {"W": (2, 1)}, method="random")
    assert v.status == "undecided" and v.exit_code == 4
    assert v.reason == (f"undecided: the degree bound ({2**60 + 1}) is too large for a randomized test to reach an "
                        "error bound of 2^-60 within 64 primes on {W: 2×1}")


def test_the_budget_is_the_cost_of_all_lanes_and_a_budget_equal_to_it_runs():
    """``budget=`` bounds lanes × the cost of one lane; exactly that much is enough (randomized.py _check_one)."""
    with pytest.raises(BudgetError) as err:
        verify("W @ X", "W", "G @ X.T", WX, method="random", budget=100)
    assert str(err.value).startswith("the randomized check needs about 984 field operations (4 random primes and "
                                     "points), over the budget of 100")
    assert "budget=" in err.value.hint
    with pytest.raises(BudgetError):
        verify("W @ X", "W", "G @ X.T", WX, method="random", budget=983)
    assert verify("W @ X", "W", "G @ X.T", WX, method="random", budget=984).status == "probabilistic"


def test_an_identically_singular_expression_is_an_error_not_a_verdict():
    """A denominator that vanishes at every point: SymderivError after six draws (randomized.py _check_one)."""
    with pytest.raises(SymderivError) as err:
        verify("sum(inv(X @ Y))", "X", "zeros(3, 1)", {"X": (3, 1), "Y": (1, 3)}, method="random")
    assert "vanishing denominator at every random point" in str(err.value)
    assert "singular" in err.value.hint


@pytest.mark.parametrize("kwargs", [{"budget": 0}, {"budget": -5}, {"budget": True}, {"budget": 2.5},
                                    {"seed": -1}, {"seed": True}, {"seed": 1.0}])
def test_verify_random_refuses_bad_budgets_and_seeds(kwargs):
    """randomized.py _check_options."""
    pr = prepare("W @ X", ["W"], WX)
    with pytest.raises(OptionError):
        verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), **kwargs)


def test_good_budgets_and_seeds_are_accepted():
    """budget 1e12 and seed 0 are fine (randomized.py _check_options)."""
    pr = prepare("W @ X", ["W"], WX)
    assert verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), budget=10**12, seed=0).holds


# -- the degree walk against the true degrees (SymPy, forward mode written out here) ----------------------------

import sympy  # noqa: E402

from symderiv.core import expr as ex  # noqa: E402


def _bcast(a: sympy.Matrix, b: sympy.Matrix, op) -> sympy.Matrix:
    rows, cols = max(a.rows, b.rows), max(a.cols, b.cols)
    return sympy.Matrix(rows, cols, lambda i, j: op(a[i % a.rows, j % a.cols], b[i % b.rows, j % b.cols]))


class _Forward:
    """Values and tangents (direction V on wrt) of an expression as SymPy matrices; every elementwise function
    value f(u) is a fresh atom symbol, and its derivative another one (tanh, sigmoid, tan, log, sqrt, exp use
    their rules), as the degree walk documents."""

    def __init__(self, pr, wrt: str):
        self.pr, self.wrt, self.atoms, self.args = pr, wrt, {}, []
        shapes = dict(pr.typing.symbols)
        if pr.result_shape != (1, 1):
            shapes[pr.upstream] = pr.result_shape
        self.env = {n: sympy.Matrix(int(r), int(c), lambda i, j, n=n: sympy.Symbol(f"{n}_{i}_{j}"))
                    for n, (r, c) in shapes.items()}
        r, c = shapes[wrt]
        self.V = sympy.Matrix(int(r), int(c), lambda i, j: sympy.Symbol(f"V_{i}_{j}"))
        self.memo: dict = {}

    def atom(self, key) -> sympy.Symbol:
        if key not in self.atoms:
            self.atoms[key] = sympy.Symbol(f"atom{len(self.atoms)}")
        return self.atoms[key]

    def run(self, n):
        if n not in self.memo:
            self.memo[n] = self._run(n)
        return self.memo[n]

    def _call(self, n):
        assert n.op == "matpow", n.op
        a, da = self.run(n.args[0])
        power, tangent = sympy.eye(a.rows), sympy.zeros(a.rows, a.cols)
        for _ in range(int(n.param("k"))):
            power, tangent = power * a, tangent * a + power * da
        return power, tangent

    def _run(self, n):  # noqa: C901 - one case per node type
        Z = sympy.zeros
        if isinstance(n, ex.Symbol):
            m = self.env[n.name]
            return m, (self.V if n.name == self.wrt else Z(m.rows, m.cols))
        if isinstance(n, ex.Number):
            return sympy.Matrix([[sympy.Rational(n.value.numerator, n.value.denominator)]]), Z(1, 1)
        if isinstance(n, ex.ConstMatrix):
            r, c = int(n.rows), int(n.cols)
            m = {"ones": sympy.ones(r, c), "zeros": Z(r, c), "eye": sympy.eye(r)}[n.kind]
            return m, Z(r, c)
        if isinstance(n, ex.Binary):
            (a, da), (b, db) = self.run(n.left), self.run(n.right)
            if isinstance(n, ex.MatMul):
                return a * b, da * b + a * db
            if isinstance(n, ex.Add):
                return _bcast(a, b, lambda x, y: x + y), _bcast(da, db, lambda x, y: x + y)
            if isinstance(n, ex.Sub):
                return _bcast(a, b, lambda x, y: x - y), _bcast(da, db, lambda x, y: x - y)
            if isinstance(n, ex.Mul):
                return _bcast(a, b, lambda x, y: x * y), \
                    _bcast(_bcast(da, b, lambda x, y: x * y), _bcast(a, db, lambda x, y: x * y), lambda x, y: x + y)
            if isinstance(n, ex.Div):
                value = _bcast(a, b, lambda x, y: x / y)
                return value, _bcast(_bcast(da, b, lambda x, y: x / y),
                                     _bcast(_bcast(a, db, lambda x, y: x * y), b, lambda x, y: x / y ** 2),
                                     lambda x, y: x - y)
        if isinstance(n, ex.Call):
            return self._call(n)
        a, da = self.run(n.operand)
        if isinstance(n, ex.Neg):
            return -a, -da
        if isinstance(n, ex.Transpose):
            return a.T, da.T
        if isinstance(n, ex.Power):
            k = n.exponent
            return a.applyfunc(lambda x: x ** k), a.multiply_elementwise(0 * a).applyfunc(lambda x: x) + \
                sympy.Matrix(a.rows, a.cols, lambda i, j: k * a[i, j] ** (k - 1) * da[i, j])
        if isinstance(n, ex.Apply):
            value = sympy.Matrix(a.rows, a.cols, lambda i, j: self.atom((n.fn, a[i, j])))
            self.args.extend(a)

            def factor(i, j):
                u, f = a[i, j], value[i, j]
                rule = {"tanh": 1 - f ** 2, "sigmoid": f * (1 - f), "tan": 1 + f ** 2, "log": 1 / u,
                        "sqrt": 1 / (2 * f), "exp": f}
                return rule.get(n.fn, self.atom((n.fn + "'", u)))
            return value, sympy.Matrix(a.rows, a.cols, lambda i, j: factor(i, j) * da[i, j])
        if isinstance(n, ex.Trace):
            return sympy.Matrix([[a.trace()]]), sympy.Matrix([[da.trace()]])
        if isinstance(n, ex.Sum):
            def total(m):
                if n.axis is None:
                    return sympy.Matrix([[sum(m)]])
                return sympy.Matrix([[sum(m.col(j))] for j in range(m.cols)]).T if n.axis == 0 else \
                    sympy.Matrix([[sum(m.row(i))] for i in range(m.rows)])
            return total(a), total(da)
        if isinstance(n, (ex.Det, ex.Inv)):
            det = a.det(method="berkowitz")
            inv = a.adjugate() / det
            if isinstance(n, ex.Det):
                return sympy.Matrix([[det]]), sympy.Matrix([[det * (inv * da).trace()]])
            return inv, -inv * da * inv
        raise AssertionError(type(n))


def _degree(x) -> tuple[int, int, int, sympy.Expr]:
    """(total degree of the numerator, of the denominator, log2-free l1 norm of the numerator, numerator)."""
    num, den = sympy.fraction(sympy.cancel(sympy.together(sympy.expand(x))))
    gens = sorted(x.free_symbols, key=str) or [sympy.Symbol("_")]
    pn, pd = sympy.Poly(num, *gens), sympy.Poly(den, *gens)
    return pn.total_degree(), pd.total_degree(), sum(abs(c) for c in pn.coeffs()), num


def _entries_ok(b, wrong, s, fw) -> None:
    """Every entry Δ_ij = claim_ij − ∂L/∂W_ij = N/M (∂L/∂W_ij is the coefficient of V_ij in ⟨G, dD[V]⟩):
    deg N + 1 (the direction) ≤ num, deg M ≤ den, log2 ‖N‖₁ ≤ height."""
    for (i, j), v in zip(((i, j) for i in range(fw.V.rows) for j in range(fw.V.cols)), fw.V, strict=True):
        delta = sympy.diff(wrong, v) - sympy.diff(s, v)
        dn, dd, norm, _ = _degree(delta)
        assert b.num >= dn + 1 and b.den >= dd, ((i, j), b.num, b.den, dn, dd)
        assert b.height >= math.log2(norm), ((i, j), b.height, norm)


def _true(expr: str, wrt: str, claim: str, shapes: dict):
    """The bounds, and ⟨claim, V⟩ and ⟨G, dD[V]⟩ computed in SymPy."""
    pr = prepare(expr, [wrt], shapes)
    node = parse_claim(pr, claim)
    fw = _Forward(pr, wrt)
    _, tangent = fw.run(pr.expression)
    upstream = fw.env.get(pr.upstream, sympy.Matrix([[1]]))
    s = sum(upstream.multiply_elementwise(tangent))
    c = sum(fw.run(node)[0].multiply_elementwise(fw.V))
    return degree_walk(pr, wrt, pr.typing, node), c, s, fw


# Polynomial cases: the walk is exact, num is the larger degree of the two sides.
POLYNOMIAL = [
    ("W @ X", "W", "G @ X.T", {"W": (2, 3), "X": (3, 2)}),
    ("W @ X @ W.T", "W", "G @ W @ X.T", {"W": (2, 2), "X": (2, 2)}),
    ("W * W * X", "W", "G * X", {"W": (2, 2), "X": (2, 2)}),
    ("W ** 3 - W", "W", "G * W", {"W": (2, 1)}),
    ("trace(A @ X @ B)", "X", "A.T @ B.T", {"A": (2, 2), "X": (2, 2), "B": (2, 2)}),
    ("matpow(X, 3)", "X", "G @ X.T", {"X": (2, 2)}),
    ("sum(W @ X, axis=0)", "W", "ones(2, 2) @ X.T", {"W": (2, 3), "X": (3, 2)}),
    ("sum(W @ X, axis=1) * 5", "W", "G @ ones(1, 2) @ X.T", {"W": (2, 3), "X": (3, 2)}),
    ("sum((W @ X) ** 2)", "W", "W", {"W": (2, 2), "X": (2, 2)}),
    ("trace(W) * W", "W", "G", {"W": (2, 2)}),
    ("-(W.T @ X) + X.T @ W", "W", "X @ G", {"W": (2, 2), "X": (2, 2)}),
    ("W ** 2 + W ** 1", "W", "G", {"W": (2, 2)}),
]


@pytest.mark.parametrize("expr,wrt,claim,shapes", POLYNOMIAL)
def test_the_degree_bound_is_exact_for_polynomials(expr, wrt, claim, shapes):
    """For a polynomial expression and claim, the bound is the larger total degree of ⟨claim, V⟩ and ⟨G, dD[V]⟩,
    with no denominator; a smaller one would overclaim the error bound, a larger one understate it
    (random_bound.py degree_walk: dadd, dmul, dsum, dpow, the MatMul, Power, Trace, Sum, MatPow cases)."""
    b, c, s, _ = _true(expr, wrt, claim, shapes)
    dc, ds = _degree(c)[0], _degree(s)[0]
    assert (b.num, b.den, b.atoms) == (max(dc, ds), 0, 0)


RATIONAL = [
    ("W / X", "W", "G / X", {"W": (2, 2), "X": (2, 2)}),
    ("X / W", "W", "G / W", {"W": (2, 2), "X": (2, 2)}),
    ("W / (1 + W ** 2)", "W", "G * (1 - W ** 2) / (1 + W ** 2) ** 2", {"W": (2, 1)}),
    ("W ** -2", "W", "-2 * G / W ** 3", {"W": (2, 2)}),
    ("W ** -1 * X", "W", "G * W", {"W": (2, 2), "X": (2, 2)}),
    ("trace(inv(X) @ A)", "X", "-(inv(X) @ A @ inv(X)).T", {"X": (2, 2), "A": (2, 2)}),
    ("inv(X) @ A", "X", "X", {"X": (2, 2), "A": (2, 3)}),
    ("det(inv(X))", "X", "X", {"X": (2, 2)}),
    ("det(X)", "X", "X", {"X": (3, 3)}),
    ("det(X @ X.T) * W", "W", "G * W", {"X": (2, 2), "W": (2, 2)}),
    ("W / trace(W)", "W", "G", {"W": (2, 2)}),
    ("sum(W) / W", "W", "G", {"W": (2, 2)}),
    ("matpow(inv(X), 2)", "X", "G", {"X": (2, 2)}),
    (f"sum(W / ({2**100} * W ** 2 + 1)) * X", "X", "3", {"W": (1, 2), "X": (1, 1)}),
    (f"W / ({2**100} * W ** 2 + 1)", "W", "G", {"W": (1, 2)}),
    (f"(W + {2**70}) ** -3", "W", "G", {"W": (2, 1)}),
    (f"det(X + {2**70})", "X", "X", {"X": (2, 2)}),
    (f"inv(X * {2**70} + 1) @ A", "X", "X", {"X": (2, 2), "A": (2, 2)}),
]


@pytest.mark.parametrize("expr,wrt,claim,shapes", RATIONAL)
def test_the_degree_bound_covers_rational_functions(expr, wrt, claim, shapes):
    """For a wrong claim, every entry of claim − ∂L/∂W is N/M with deg N < num, deg M ≤ den and log2 ‖N‖₁ ≤ height
    (random_bound.py: drecip, dcommon, the Div, Inv, Det and negative Power cases)."""
    b, wrong, s, fw = _true(expr, wrt, f"({claim}) + 1", shapes)
    _entries_ok(b, wrong, s, fw)


FUNCTIONS = [
    ("relu(W @ X)", "W", "(G * step(W @ X)) @ X.T", {"W": (2, 2), "X": (2, 2)}),
    ("tanh(W) * W", "W", "G", {"W": (2, 1)}),
    ("sum(sigmoid(W @ X))", "W", "ones(1, 2) @ X.T", {"W": (1, 2), "X": (2, 2)}),
    ("tan(W ** 2)", "W", "G", {"W": (2, 1)}),
    ("log(W * X)", "W", "G / W", {"W": (2, 1), "X": (2, 1)}),
    ("sqrt(W @ X)", "W", "G @ X.T", {"W": (1, 2), "X": (2, 2)}),
    ("exp(W) * exp(W ** 2)", "W", "G", {"W": (2, 1)}),
]


@pytest.mark.parametrize("expr,wrt,claim,shapes", FUNCTIONS)
def test_the_degree_bound_covers_function_atoms(expr, wrt, claim, shapes):
    """With atoms as free variables: num and den bound the degrees of the difference, atoms counts an atom and
    its derivative atom per entry, arg_degree bounds the arguments' degrees (random_bound.py Apply case)."""
    b, wrong, s, fw = _true(expr, wrt, f"({claim}) + 1", shapes)
    _entries_ok(b, wrong, s, fw)
    entries = len({k for k in fw.atoms if not k[0].endswith("'")})
    assert b.atoms == 2 * entries
    assert b.arg_degree == max(sum(_degree(u)[:2]) for u in fw.args)


C = 2**100
# Sums of fractions with distinct denominators: the walk is exact in degrees, and within one bit in height.
TIGHT = [
    ("sum(1 / W) * X", "X", "1", {"W": (1, 3), "X": (1, 1)}),
    ("trace(1 / W) * X", "X", "1", {"W": (3, 3), "X": (1, 1)}),
    (f"sum({C} / W) * X", "X", "1", {"W": (1, 3), "X": (1, 1)}),
    (f"sum({C} / W, axis=0) * X", "X", "1", {"W": (3, 1), "X": (1, 1)}),
    (f"sum({C} / W, axis=1) * X", "X", "1", {"W": (1, 4), "X": (1, 1)}),
    ("sum(Y * Y * Y / W) * X", "X", "1", {"W": (1, 3), "Y": (1, 3), "X": (1, 1)}),
    ("sum(sum(Y * Y * Y / W, axis=1)) * X", "X", "1", {"W": (2, 2), "Y": (2, 2), "X": (1, 1)}),
    (f"sum(Y * Y / (W + {C})) * X", "X", "1", {"W": (1, 3), "Y": (1, 3), "X": (1, 1)}),
    (f"sum({C} * {C} * {C} * Y * Y / (W + {C})) * X", "X", "1", {"W": (1, 3), "Y": (1, 3), "X": (1, 1)}),
]


@pytest.mark.parametrize("expr,wrt,claim,shapes", TIGHT)
def test_the_bounds_of_sums_of_fractions_are_tight(expr, wrt, claim, shapes):
    """Σ_k P_k/Q_k over distinct Q_k: deg N = the documented n + (count − 1)·d, deg M = count·d, and the height
    bounds log2 ‖N‖₁ to within a few bits (random_bound.py dsum, the non-common case, and the heights of Number,
    Div, Power; a smaller bound would overclaim)."""
    b, c, s, fw = _true(expr, wrt, claim, shapes)
    _entries_ok(b, c, s, fw)
    delta = sympy.diff(c, fw.V[0, 0]) - sympy.diff(s, fw.V[0, 0])
    dn, dd, norm, _ = _degree(delta)
    assert (b.num, b.den) == (dn + 1, dd)
    assert b.height <= math.log2(norm) + 4  # each sum of two terms adds a bit


def test_a_power_zero_has_no_denominator():
    """W ** 0 is the constant 1: no denominator enters the bound (random_bound.py Power case, k = 0)."""
    b, c, s, fw = _true("W ** 0 * X + W", "W", "G", {"W": (2, 2), "X": (2, 2)})
    _entries_ok(b, c + sum(fw.V), s, fw)
    assert b.den == 0


def test_the_memory_estimate_is_the_documented_one():
    """16 bytes per entry and lane of every distinct node (expression, claim, upstream G) plus 120 bytes per
    atom (random_bound.py memory_estimate)."""
    from symderiv.proofs.random.random_bound import memory_estimate

    pr = prepare("relu(W @ X)", ["W"], {"W": (3, 2), "X": (2, 4)})
    claim = parse_claim(pr, "(G * step(W @ X)) @ X.T")
    # nodes: W 6, X 8, W @ X 12, relu(W @ X) 12, G 12, step(W @ X) 12, G * step 12, X.T 8, the claim 6
    entries = 6 + 8 + 12 + 12 + 12 + 12 + 12 + 8 + 6
    assert memory_estimate(pr, pr.typing, claim, 5, 7) == 16 * 5 * entries + 120 * 7


# -- confirmation at real points (random_confirm.py) ------------------------------------------------------------

from symderiv.proofs.random.random_confirm import Confirmed, confirm, fmt_value  # noqa: E402


def test_an_interval_is_shown_by_its_midpoint():
    """A value known as an interval [1, 3] is displayed as ≈ 2 (random_confirm.py fmt_value)."""
    assert fmt_value(mpmath.iv.mpf([1, 3])) == "≈ 2.0"
    assert fmt_value(mpmath.iv.mpf([-5, -4])) == "≈ -4.5"
    assert fmt_value(Fraction(-7, 3)) == "-7/3" and fmt_value(5) == "5"
    assert fmt_value(Fraction(2**130, 3)) == "≈ 4.53709822561251e+38"  # 2^130/3 = 453709822561251284617...


def _confirm(expr: str, claim: str, shapes: dict, deadline=None, seed: int = 1):
    pr = prepare(expr, ["W"], shapes)
    return confirm(pr, "W", parse_claim(pr, claim), pr.typing, (0, 0), deadline, seed)


def test_confirmation_works_without_a_deadline():
    """confirm(..., deadline=None) searches without one (random_confirm.py _search)."""
    found = _confirm("W @ X", "G @ X.T + 1", WX)
    assert isinstance(found, Confirmed) and found.entry == (0, 0)
    assert Fraction(found.claim) - Fraction(found.gradient) == 1
    assert found.how == "exactly, in rational arithmetic"


def test_an_expired_deadline_stops_the_confirmation():
    """A deadline that has run out ends the search with its reason, not a refutation (random_confirm.py)."""
    from symderiv.core.errors import TimeoutError as SymderivTimeout

    def expired():
        raise SymderivTimeout("out of time")
    assert _confirm("W @ X", "G @ X.T + 1", WX, deadline=expired) == \
        "the time limit ran out before a real point confirmed the difference"


def test_a_function_identity_is_not_confirmed():
    """exp(2W)·exp(−W) = exp(W) differs only formally: no real point confirms it, and the reason counts the
    points checked (random_confirm.py _search)."""
    found = _confirm("exp(W)", "G * exp(2 * W) * exp(-W)", {"W": (2, 2)})
    assert isinstance(found, str) and found.startswith("no real point confirmed it (16 points of the domain "
                                                       "checked, 0 outside it)")


def test_a_large_rational_difference_is_confirmed_modulo_a_fresh_prime():
    """Past MAX_REAL_COST, a claim without functions is confirmed at an integer point modulo a fresh prime, and
    the two values shown differ there by exactly the claim's error (random_confirm.py _modular)."""
    v = verify("W @ X", "W", "G @ X.T + 1", {"W": (100, 100), "X": (100, 100)}, method="random")
    assert v.status == "refuted"
    cx = v.counterexample
    g, p = re.fullmatch(r"(\d+) \(mod (\d+)\)", cx.gradient_entry).groups()
    c, q = re.fullmatch(r"(\d+) \(mod (\d+)\)", cx.claim_entry).groups()
    assert p == q and is_prime(int(p)) and (int(c) - int(g)) % int(p) == 1
    assert f"exactly: the two values differ modulo the prime {p}" in v.reason
    assert cx.values == {} and cx.gradient_value is None  # 30,000 entries are not printed


def test_the_long_double_products_are_used_where_long_double_has_64_bits():
    """x87 long double (63 stored mantissa bits) is exact for the products: the fast path is chosen there
    (field.py _long_double_ok)."""
    import numpy as np

    from symderiv.backends import field as field_module

    if np.finfo(np.longdouble).nmant != 63:
        pytest.skip("long double is narrower here: Python integers do the products")
    assert field_module.LONG_DOUBLE and field_module._long_double_ok()
    assert field_module.Field([2**61 - 1])._mulmod is field_module._mulmod_ld


def test_a_scalar_loss_has_no_upstream_in_its_witness():
    """For a scalar L there is no G: the witness gives values to the symbols only (random_confirm.py
    _point_names)."""
    v = verify("sum(W @ X)", "W", "ones(3, 4) @ X.T + 1", WX, method="random")
    assert v.status == "refuted" and set(v.counterexample.values) == {"W", "X"}
    w = verify("W @ X", "W", "G @ X.T + 1", WX, method="random")
    assert set(w.counterexample.values) == {"W", "X", "G"}


def test_a_budget_of_one_operation_is_a_valid_option_that_runs_out():
    """budget=1 is a positive whole number: refused by the budget, not as a bad option (randomized.py
    _check_options)."""
    pr = prepare("W @ X", ["W"], WX)
    with pytest.raises(BudgetError):
        verify_random(pr, "W", "G @ X.T", parse_claim(pr, "G @ X.T"), budget=1, seed=1)


@pytest.mark.parametrize(("expression", "claim"), [
    ("tanh(W)", "G * 4 / (exp(W) + exp(-W)) ** 2"),
    ("tan(W)", "G / cos(W) ** 2"),
])
def test_a_true_identity_through_derivatives_of_tan_and_tanh_is_never_refuted(expression, claim):
    """The claim differs formally (other atoms), so the real-point confirmation evaluates tan'/tanh' itself:
    a wrong derivative there would "confirm" a false refutation. Kills random_real.py:353 (``one = 2``)."""
    v = verify(expression, "W", claim, {"W": (1, 2)}, method="random")
    assert v.status == "undecided", v.report()
    wrong = verify(expression, "W", claim + " * 1.001", {"W": (1, 2)}, method="random")
    assert wrong.status == "refuted", wrong.report()
