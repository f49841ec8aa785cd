"""The randomized (Schwartz–Zippel) check: exact field arithmetic, verdicts, agreement with the exact prover."""

from __future__ import annotations

import random
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symderiv.backends import field as field_module
from symderiv.backends.field import Field, is_prime, random_prime
from symderiv.core.errors import SymderivError
from symderiv.proofs.random.random_bound import Bounds, error_bound
from symderiv.proofs.random.randomized import TARGET_BITS
from symderiv.proofs.verification import verify

# (expression, wrt, correct claim, shapes, functions): identities both checks must accept.
KNOWN = [
    ("W @ X", "W", "G @ X.T", {"W": (3, 2), "X": (2, 4)}, ()),
    ("W @ X", "X", "W.T @ G", {"W": (3, 2), "X": (2, 4)}, ()),
    ("relu(W @ X + b)", "W", "(G * step(W @ X + b)) @ X.T", {"W": (3, 2), "X": (2, 4), "b": (3, 1)}, ()),
    ("relu(W @ X + b)", "b", "sum(G * step(W @ X + b), axis=1)", {"W": (3, 2), "X": (2, 4), "b": (3, 1)}, ()),
    ("trace(A @ X @ B)", "X", "A.T @ B.T", {"A": (2, 3), "X": (3, 3), "B": (3, 2)}, ()),
    ("logdet(X)", "X", "inv(X).T", {"X": (3, 3)}, ()),
    ("det(X)", "X", "det(X) * inv(X).T", {"X": (3, 3)}, ()),
    ("trace(inv(X) @ A)", "X", "-(inv(X) @ A @ inv(X)).T", {"X": (3, 3), "A": (3, 3)}, ()),
    ("W2 @ tanh(W1 @ X)", "W1", "((W2.T @ G) * (1 - tanh(W1 @ X) ** 2)) @ X.T",
     {"W1": (3, 2), "W2": (2, 3), "X": (2, 4)}, ()),
    ("sum(sigmoid(W @ X))", "W", "(sigmoid(W @ X) * (1 - sigmoid(W @ X))) @ X.T", {"W": (3, 2), "X": (2, 4)}, ()),
    ("sum(log(W @ X))", "W", "(1 / (W @ X)) @ X.T", {"W": (3, 2), "X": (2, 4)}, ()),
    ("sqrt(W @ X)", "W", "(G / (2 * sqrt(W @ X))) @ X.T", {"W": (3, 2), "X": (2, 4)}, ()),
    ("sin(W) * cos(W)", "W", "G * (cos(W) * cos(W) - sin(W) * sin(W))", {"W": (2, 3)}, ()),
    ("phi(W @ X)", "W", "(G * phi_prime(W @ X)) @ X.T", {"W": (3, 2), "X": (2, 4)}, ("phi",)),
    ("W / (1 + W ** 2)", "W", "G * (1 - W ** 2) / (1 + W ** 2) ** 2", {"W": (2, 2)}, ()),
    ("matpow(X, 3)", "X", "G @ X.T @ X.T + X.T @ G @ X.T + X.T @ X.T @ G", {"X": (3, 3)}, ()),
    ("exp(W @ X)", "X", "W.T @ (G * exp(W @ X))", {"W": (3, 2), "X": (2, 4)}, ()),
    ("abs(W)", "W", "G * sign(W)", {"W": (2, 3)}, ()),
    ("relu(W - W)", "W", "zeros(2, 3)", {"W": (2, 3)}, ()),
    ("W - zeros(2, 3)", "W", "G", {"W": (2, 3)}, ()),
    ("W ** -2", "W", "-2 * G / W ** 3", {"W": (2, 2)}, ()),
]

BOUND = re.compile(r"^probabilistic: holds with error probability ≤ 2\^-(\d+)")


def _wrong(claim: str, shape: tuple[int, int]) -> str:
    return f"({claim}) + ones({shape[0]}, {shape[1]})"


@pytest.mark.parametrize("expr,wrt,claim,shapes,fns", KNOWN)
def test_known_identities_are_probabilistic(expr, wrt, claim, shapes, fns):
    v = verify(expr, wrt, claim, shapes, functions=fns, method="random")
    assert v.holds and v.status == "probabilistic", v.reason
    found = BOUND.match(v.reason)
    assert found and int(found.group(1)) >= TARGET_BITS, v.reason
    assert "proved" not in v.reason
    assert v.proof is not None and v.proof.method == "random"
    assert v.proof.error_exponent == int(found.group(1))


@pytest.mark.parametrize("expr,wrt,claim,shapes,fns", KNOWN)
def test_wrong_claims_are_refuted_with_an_entry(expr, wrt, claim, shapes, fns):
    v = verify(expr, wrt, _wrong(claim, shapes[wrt]), shapes, functions=fns, method="random")
    assert not v.holds and v.status == "refuted", v.reason
    assert v.counterexample is not None
    i, j = v.counterexample.entry
    assert 0 <= i < shapes[wrt][0] and 0 <= j < shapes[wrt][1]
    assert "at a real point of the domain" in v.reason


def test_refutation_names_an_entry_that_differs():
    # The claim is wrong only on the diagonal, so the located entry must be a diagonal one.
    shapes = {"W": (4, 4), "X": (4, 5)}
    for seed_claim in range(3):
        v = verify("W @ X", "W", f"G @ X.T + {seed_claim + 1} * eye(4)", shapes, method="random")
        assert v.status == "refuted" and v.counterexample is not None
        i, j = v.counterexample.entry
        assert i == j
    assert verify("W * W", "W", "2 * W * G + (W - W)", {"W": (3, 4)}, method="random").holds


def test_shape_and_layout():
    v = verify("W @ X", "W", "X.T @ G", {"W": (3, 2), "X": (2, 4)}, method="random")
    assert not v.holds and v.status == "refuted" and v.reason.startswith("shape:")
    v = verify("W @ X", "W", "X @ G.T", {"W": (3, 2), "X": (2, 4)}, layout="numerator", method="random")
    assert v.holds and v.status == "probabilistic"


def test_symbolic_shapes_are_checked_on_small_sizes():
    # A check at a few sizes is not a proof for all shapes (SPEC section 6): undecided.
    v = verify("W @ X", "W", "G @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, method="random")
    assert not v.holds and v.status == "undecided" and v.checked_at_sizes and "not a proof for all shapes" in v.reason
    assert v.proof is not None and v.proof.error_exponent is None
    w = verify("W @ X", "W", "2 * G @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, method="random")
    assert w.status == "refuted"


def test_step_is_not_differentiated():
    with pytest.raises(SymderivError):
        verify("step(W)", "W", "G", {"W": (2, 2)}, method="random")


def test_larger_shapes_refute_and_locate():
    shapes = {"W": (40, 30), "X": (30, 50)}
    assert verify("W @ X", "W", "G @ X.T", shapes, method="random").holds
    v = verify("W @ X", "W", "G @ X.T + 2 * ones(40, 30)", shapes, method="random")
    assert v.status == "refuted" and v.counterexample is not None


def test_seed_reproducible():
    from symderiv.proofs.random.randomized import verify_random
    from symderiv.proofs.verification import parse_claim, prepare

    pr = prepare("tanh(W @ X)", ["W"], {"W": (3, 3), "X": (3, 3)})
    claim = parse_claim(pr, "(G * tanh(W @ X)) @ X.T")  # wrong: tanh' is 1 - tanh²
    a = verify_random(pr, "W", "c", claim, seed=5)
    b = verify_random(pr, "W", "c", claim, seed=5)
    assert not a.holds and a.reason == b.reason


# --------------------------------------------------------------------------
# Field arithmetic is exact


def test_primes_are_large_and_prime():
    rng = random.Random(7)
    for _ in range(20):
        p = random_prime(rng)
        assert 2**60 <= p < 2**62 and is_prime(p)
    import sympy

    for n in [2**61 - 1, 2**61 + 1, 2**89 - 1, 3215031751, 2**62 - 57, 561, 1, 0, 97 * 101]:
        assert is_prime(n) == sympy.isprime(n), n


@pytest.mark.parametrize("long_double", [True, False])
@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 40), st.integers(1, 9), st.integers(0, 2**32))
def test_field_matches_python_integers(long_double, r, k, c, seed):
    rng = random.Random(seed)
    primes = [random_prime(rng) for _ in range(2)]
    f = Field(primes)
    if not long_double:
        f._mulmod = field_module._mulmod_int
    g = np.random.default_rng(seed)
    a, b = f.uniform(g, r, k), f.uniform(g, k, c)
    got = f.matmul(a, b)
    e = f.uniform(g, r, k)
    for lane, p in enumerate(primes):
        want = (np.array(a[lane].tolist(), dtype=object) @ np.array(b[lane].tolist(), dtype=object)) % p
        assert got[lane].tolist() == want.tolist()
        x, y = np.array(a[lane].tolist(), dtype=object), np.array(e[lane].tolist(), dtype=object)
        assert f.mul(a, e)[lane].tolist() == ((x * y) % p).tolist()
        assert f.add(a, e)[lane].tolist() == ((x + y) % p).tolist()
        assert f.sub(a, e)[lane].tolist() == ((x - y) % p).tolist()
        assert int(f.total(a, (1, 2))[lane, 0, 0]) == int(x.sum()) % p
    nz = np.where(e == 0, np.uint64(1), e)
    assert (f.mul(f.inv_elem(nz), nz) == 1).all()


def test_field_edges_and_long_inner_dimension():
    p = (1 << 62) - 57
    f = Field([p])
    edge = np.array([[[p - 1, p - 2, 0, 1, p // 2]]], dtype=np.uint64)
    assert [int(v) for v in f.mul(edge, edge).ravel()] == [int(v) * int(v) % p for v in edge.ravel()]
    g = np.random.default_rng(1)
    a, b = f.uniform(g, 2, 5000), f.uniform(g, 5000, 3)  # three blocks of the inner dimension
    want = (np.array(a[0].tolist(), dtype=object) @ np.array(b[0].tolist(), dtype=object)) % p
    assert f.matmul(a, b)[0].tolist() == want.tolist()
    assert int(f.const(Fraction(1, 3))[0, 0, 0]) * 3 % p == 1


def test_inverse_and_determinant_in_the_field():
    rng = random.Random(3)
    primes = [random_prime(rng) for _ in range(2)]
    f = Field(primes)
    m = f.uniform(np.random.default_rng(3), 5, 5)
    inv, det = f.inverse_det(m)
    assert (f.matmul(m, inv) == f.eye(5)).all()
    import sympy

    for lane, p in enumerate(primes):
        assert int(det[lane, 0, 0]) == int(sympy.Matrix(m[lane].tolist()).det()) % p


def test_error_bound_grows_with_degree_and_shrinks_with_lanes():
    base = Bounds(3, 0, 5.0, 0, 0.0, 0)
    assert error_bound(base, 3, 64) < error_bound(base, 2, 64)
    assert error_bound(Bounds(30000, 0, 5.0, 0, 0.0, 0), 2, 64) > error_bound(base, 2, 64)
    assert error_bound(Bounds(3, 0, 5.0, 2, 3.0, 10**6), 2, 64) > error_bound(base, 2, 64)
    assert error_bound(Bounds(3, 0, 500.0, 0, 0.0, 0), 2, 64) > error_bound(base, 2, 64)  # the prime may divide a constant


# --------------------------------------------------------------------------
# Agreement with the exact prover on random expressions


def _formula(case) -> str | None:
    try:
        from symderiv.proofs.gradient import gradient
    except ImportError:  # pragma: no cover - gradient.py is another module's job
        return None
    try:
        return gradient(case.text, wrt=case.wrt, shapes=case.shapes, functions=case.functions, check=False).formula
    except SymderivError:
        return None


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_random_agrees_with_exact(data):
    from strategies import cases

    case = data.draw(cases(max_depth=2, max_size=3))
    formula = _formula(case)
    if formula is None:
        return
    shape = case.shapes[case.wrt]
    for claim in (formula, _wrong(formula, shape)):
        try:
            exact = verify(case.text, case.wrt, claim, case.shapes, functions=case.functions, timeout=30)
        except SymderivError:
            return
        rnd = verify(case.text, case.wrt, claim, case.shapes, functions=case.functions, method="random")
        if exact.status == "undecided" or rnd.status == "undecided":
            continue  # undecided disagrees with nothing
        assert rnd.holds == exact.holds, (case.text, case.wrt, claim, exact.reason, rnd.reason)
        assert rnd.status == ("probabilistic" if exact.holds else "refuted")
