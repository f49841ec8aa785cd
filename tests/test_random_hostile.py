"""Regressions for method="random" (issue 10 items 3 and 4): no false proofs modulo a prime,
refutations only when confirmed at a real point, no crash or hang on huge values."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import symderiv
from symderiv.proofs.verification import verify

#: The command line runs the same symderiv as these tests.
SOURCE = Path(symderiv.__file__).resolve().parents[1]

#: False claims that version 0.1's fixed prime 8,388,593 passed (expression, claim, shapes).
MODULAR_FALSE_PROOFS = [
    ("W @ X", "8388594 * G @ X.T", {"W": (2, 2), "X": (2, 2)}),
    ("W @ X", "G @ X.T + 8388593 * W", {"W": (2, 2), "X": (2, 2)}),
    ("W * relu(8388592)", "0 * W", {"W": (2, 2)}),
    ("W * exp(8388593)", "G", {"W": (2, 2)}),
    ("W * cos(8388593)", "G", {"W": (2, 2)}),
]

#: True identities that hold only through identities between functions: never refuted.
FUNCTION_IDENTITIES = [
    ("exp(W)", "G * exp(2*W) * exp(-W)"),
    ("exp(W)", "G * exp(W) * (sin(W)**2 + cos(W)**2)"),
    ("exp(log(W))", "G"),
    ("W * relu(W)", "2 * G * relu(W)"),
    ("log(W)", "G / abs(W)"),
    ("sqrt(W) * sqrt(W)", "G"),
]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    return subprocess.run([sys.executable, "-m", "symderiv.cli", "verify", *args, "--method", "random", "--json"],
                          capture_output=True, text=True, cwd=SOURCE, env=env, timeout=120)


def _shape_args(shapes: dict[str, tuple[int, int]]) -> list[str]:
    return [a for name, (r, c) in shapes.items() for a in ("--shape", f"{name}={r},{c}")]


@pytest.mark.parametrize("expr,claim,shapes", MODULAR_FALSE_PROOFS)
def test_modular_false_proofs_are_refuted_on_the_command_line(expr, claim, shapes):
    done = _cli(expr, "--wrt", "W", "--claim", claim, *_shape_args(shapes))
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "refuted" and not result["holds"]
    assert result["counterexample"]["values"], "a refutation carries its real witness"
    assert "at a real point of the domain" in result["reason"]


WORDS = [str(c) for c in (2**23 - 15, 2**23, 2**23 + 1, 2**31 - 1, 2**31, 2**32, 2**32 + 15, 2**53, 2**53 + 1,
                           2**60, 2**61 - 1, 2**61, 2**63 - 25, 2**63, 2**64 - 59, 2**64, 2**64 + 1)] + [
    # products of primes from the range the primes are drawn from (literals have at most 30 digits)
    "(1152921504606847009 * 2882303761517117447)", "(2305843009213693951 * 4611684918915760199 + 1)",
    "(1152921504606847009 * 1152921504606847009 * 2305843009213693951)"]


@pytest.mark.parametrize("c", WORDS)
def test_constants_near_word_sizes_and_primes(c):
    shapes = {"W": (2, 3), "X": (3, 2)}
    wrong = verify("W @ X", "W", f"{c} * G @ X.T", shapes, method="random")
    assert wrong.status == "refuted", wrong.reason
    shifted = verify("W @ X", "W", f"G @ X.T + {c} * W - {c} * W + ({c} - 1) * W", shapes, method="random")
    assert shifted.status == "refuted", shifted.reason
    right = verify(f"{c} * W @ X", "W", f"{c} * G @ X.T", shapes, method="random")
    assert right.status == "probabilistic", right.reason
    fold = verify(f"W * relu(-{c})", "W", f"0 * G + relu(-{c} - 1) * W", {"W": (2, 2)}, method="random")
    assert fold.status == "probabilistic", fold.reason  # relu of a negative constant is exactly 0
    folded_wrong = verify(f"W * relu({c})", "W", "0 * W", {"W": (2, 2)}, method="random")
    assert folded_wrong.status == "refuted", folded_wrong.reason


@pytest.mark.parametrize("c", [2**23 - 15, 2**31, 2**32 + 15, 2**53 + 1, 2**61 - 1, 2**63 + 5])
def test_transcendental_constants_are_kept_apart(c):
    """exp(c) and exp(0) = 1, cos(c) and cos(c + 1): distinct exact arguments, distinct atoms."""
    shapes = {"W": (2, 2)}
    for fn in ("exp", "cos", "sin"):  # tanh(c) and tanh(c + 1) agree to e^-2c: no real point tells them apart
        v = verify(f"W * {fn}({c})", "W", "G", shapes, method="random")
        assert v.status == "refuted", (fn, v.reason)
        w = verify(f"W * {fn}({c})", "W", f"G * {fn}({c + 1})", shapes, method="random")
        assert w.status == "refuted", (fn, w.reason)
        same = verify(f"W * {fn}({c})", "W", f"G * {fn}({2 * c} / 2)", shapes, method="random")
        assert same.status == "probabilistic", (fn, same.reason)
        # arguments congruent modulo version 0.1's prime, or modulo two primes of today's range
        shifts = ["8388593"] + ([] if fn == "exp" else ["1152921504606847009 * 2882303761517117447"])
        for shift in shifts:
            moved = verify(f"W * {fn}({c})", "W", f"G * {fn}({c} + {shift})", shapes, method="random")
            assert moved.status == "refuted", (fn, shift, moved.reason)


@pytest.mark.parametrize("expr,claim", FUNCTION_IDENTITIES)
def test_function_identities_are_never_refuted(expr, claim):
    v = verify(expr, "W", claim, {"W": (2, 2)}, method="random")
    assert v.status in ("undecided", "probabilistic"), v.reason
    assert not v.holds or v.status == "probabilistic"
    if v.status == "undecided":
        assert "no real point confirmed it" in v.reason


def test_function_identity_exit_code_is_not_refuted():
    done = _cli("exp(W)", "--wrt", "W", "--claim", "G * exp(2*W) * exp(-W)", "--shape", "W=2,2")
    assert json.loads(done.stdout)["status"] == "undecided"
    assert done.returncode != 0  # not a pass; exit 4 once the CLI maps undecided (SPEC section 6)


def test_wrong_function_claims_are_still_refuted():
    shapes = {"W": (2, 2)}
    for expr, claim in [("exp(W)", "G * exp(2*W)"), ("exp(log(W))", "2 * G"), ("W * relu(W)", "G * relu(W)"),
                        ("sin(W)", "G * sin(W)"), ("log(W)", "G / W + G"), ("phi(W)", "G * phi(W)")]:
        v = verify(expr, "W", claim, shapes, method="random", functions=("phi",))
        assert v.status == "refuted", (expr, claim, v.reason)
        assert v.counterexample is not None and v.counterexample.values


def test_witness_lies_in_the_domain():
    v = verify("log(W) + sqrt(W)", "W", "G / W", {"W": (1, 2)}, method="random")
    assert v.status == "refuted" and "at a real point of the domain" in v.reason
    entries = [x for row in v.counterexample.values["W"] for x in row]
    assert all(not x.startswith("-") for x in entries), v.counterexample.values


def test_error_bound_is_at_most_2_to_the_minus_60():
    cases = [("W @ X", "G @ X.T", {"W": (4, 3), "X": (3, 5)}, ()),
             ("relu(W @ X + b)", "(G * step(W @ X + b)) @ X.T", {"W": (4, 3), "X": (3, 5), "b": (4, 1)}, ()),
             ("logdet(X)", "inv(X).T", {"X": (6, 6)}, ()),
             ("W * 123456789012345678901234567890", "G * 123456789012345678901234567890", {"W": (2, 2)}, ()),
             ("det(X)", "det(X) * inv(X).T", {"X": (25, 25)}, ())]
    for expr, claim, shapes, fns in cases:
        v = verify(expr, "W" if "W" in shapes else "X", claim, shapes, functions=fns, method="random")
        assert v.status == "probabilistic", v.reason
        k = int(re.search(r"error probability ≤ 2\^-(\d+)", v.reason).group(1))
        assert v.proof.error_exponent == k >= 60


def test_two_runs_draw_different_primes(monkeypatch):
    import symderiv.proofs.random.randomized as randomized

    drawn: list[list[int]] = []
    original = randomized.Field

    class Recording(original):  # type: ignore[misc, valid-type]
        def __init__(self, primes):
            drawn.append(list(primes))
            super().__init__(primes)

    monkeypatch.setattr(randomized, "Field", Recording)
    for _ in range(2):
        assert verify("W @ X", "W", "G @ X.T", {"W": (2, 2), "X": (2, 2)}, method="random").holds
    assert len(drawn) == 2 and drawn[0] != drawn[1]
    assert all(2**60 <= p < 2**62 for primes in drawn for p in primes)
    assert len({p for primes in drawn for p in primes}) == sum(len(primes) for primes in drawn)


def test_seeded_runs_repeat():
    from symderiv.proofs.random.randomized import verify_random
    from symderiv.proofs.verification import parse_claim, prepare

    pr = prepare("exp(W)", ["W"], {"W": (2, 2)})
    claim = parse_claim(pr, "G * exp(2*W) * exp(-W)")
    assert verify_random(pr, "W", "c", claim, seed=3).reason == verify_random(pr, "W", "c", claim, seed=3).reason


def test_towers_of_exp_give_a_verdict_in_time():
    for expr in ("exp(exp(exp(exp(exp(exp(W))))))", "sigmoid(exp(exp(exp(exp(exp(W))))))",
                 "tanh(exp(exp(exp(exp(exp(W))))))", "exp(exp(999999 * W))", "sin(exp(exp(exp(exp(exp(W))))))"):
        start = time.monotonic()
        v = verify(expr, "W", "G", {"W": (2, 2)}, method="random", timeout=20)
        assert time.monotonic() - start < 22
        assert v.status in ("refuted", "undecided"), v.reason
        assert len(v.report()) < 5000


def test_bad_options_raise_option_error():
    from symderiv.core.errors import OptionError
    from symderiv.proofs.random.randomized import verify_random
    from symderiv.proofs.verification import parse_claim, prepare

    pr = prepare("W @ X", ["W"], {"W": (2, 2), "X": (2, 2)})
    claim = parse_claim(pr, "G @ X.T")
    for kwargs in ({"seed": 1.5}, {"seed": -1}, {"seed": True}, {"seed": "7"}, {"budget": 1.5}, {"budget": -5},
                   {"budget": 0}, {"budget": True}):
        with pytest.raises(OptionError):
            verify_random(pr, "W", "G @ X.T", claim, **kwargs)


def test_confirmation_honours_the_deadline():
    start = time.monotonic()
    v = verify("sum(sin(W @ X))", "W", "(sin(W @ X)) @ X.T", {"W": (50, 50), "X": (50, 50)}, method="random",
               timeout=1)
    assert time.monotonic() - start < 3
    assert v.status in ("undecided", "refuted"), v.reason


def test_memory_is_estimated_and_refused_up_front():
    from symderiv.core.errors import BudgetError

    start = time.monotonic()
    with pytest.raises(BudgetError, match="GB"):
        verify("W @ X", "W", "G @ X.T", {"W": (1600, 1600), "X": (1600, 1600)}, method="random")
    assert time.monotonic() - start < 2
    code = ("import resource; from symderiv import verify; "
            "v = verify('W @ X', 'W', 'G @ X.T', {'W': (1024, 1024), 'X': (1024, 1024)}, method='random'); "
            "print(v.status, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    status, peak_kb = done.stdout.split()
    assert status == "probabilistic" and int(peak_kb) < 1_000_000
