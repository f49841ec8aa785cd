"""Differential testing: every generated expression/claim pair goes through every engine that applies.

Engines: ``exact`` (the entrywise prover on concrete shapes), ``index`` (the all-shapes engine on the
symbolic shapes), ``random`` (``method="random"``) and ``strict`` (SymPy, on a subset at tiny sizes).
Claims: the true gradient (``gradient()`` on the symbolic shapes, checked against NumPy finite
differences) and corruptions of it (transposed, doubled, negated, swapped factors, dropped term, wrong
axis, dropped mask, a constant multiple of the wrt added or subtracted).

- Two engines that disagree (one proves, another refutes the same statement) fail the test.
- A false proof fails the test: an engine accepts a claim that NumPy shows to differ from the true
  gradient at a generic point, or that another engine refuted with a witness confirmed numerically.

The hostile pairs of issue 10 (inexact literals, constants near primes, function identities, domains)
are checked against their known truth in the tests after the bulk run; the counts are printed last.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from fractions import Fraction

import mp_oracle
import numpy as np
import pytest
from guards import CaseTooSlow, cpu_guard
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from strategies import COURSE_OPS, DOMAIN_CASES, HOSTILE_LITERALS, WORD_CONSTANTS, Case, cases, course_ops_in, disguises
from test_soundness import corruptions

import symderiv
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError
from symderiv.proofs.index import prove_all_shapes
from symderiv.proofs.verification import parse_claim, prepare
from symderiv.syntax import printing
from symderiv.syntax.language import parse

LONG = os.environ.get("SYMDERIV_FUZZ", "").lower() == "long"
EXAMPLES = int(os.environ.get("SYMDERIV_DIFFERENTIAL_EXAMPLES", 480 * (5 if LONG else 1)))
STRICT_EVERY = 6  # strict mode (SymPy) on one case in STRICT_EVERY, when its shapes are tiny
CASE_CPU_SECONDS = 6.0
FUNCTIONS = ("phi",)
HOLDS = ("proved", "probabilistic")

COUNTS: Counter = Counter()
STATUSES: dict[str, Counter] = {name: Counter() for name in ("exact", "index", "random", "strict")}
PROBLEMS: list[str] = []
#: How many bulk cases used each operation of issue 14 (tests/strategies.py COURSE_OPS).
OPS_SEEN: Counter = Counter()


# --------------------------------------------------------------------------
# The engines


def _status(verdict) -> str:
    """SPEC 0.2 statuses: a 0.1 ``shape`` is a refutation, a 0.1 ``checked`` is undecided."""
    return {"shape": "refuted", "checked": "undecided"}.get(verdict.status, verdict.status)


def run_engines(text: str, symbolic_text: str | None, wrt: str, claim: str, symbolic_claim: str | None,
                shapes: dict, symbolic_shapes: dict | None, strict: bool) -> dict[str, tuple[str, object]]:
    """Each applicable engine's (status, verdict or None); an engine that gives up (budget, time) is "error"."""
    out: dict[str, tuple[str, object]] = {}
    for name, kwargs in (("exact", {}), ("random", {"method": "random"}), ("strict", {"strict": True})):
        if name == "strict" and not strict:
            continue
        try:
            v = symderiv.verify(text, wrt=wrt, claim=claim, shapes=shapes, functions=FUNCTIONS, timeout=5,
                                **kwargs)
            out[name] = (_status(v), v)
        except (symderiv.BudgetError, symderiv.TimeoutError):
            out[name] = ("error", None)
        except symderiv.UnsupportedError:
            if name != "strict":
                raise
            # Strict mode refuses what SymPy cannot give back exactly (a non-integer power: `(1 + A**2)**(-2/3)`).
            out[name] = ("unsupported", None)
    if symbolic_text is not None and symbolic_claim is not None:
        try:
            problem = prepare(symbolic_text, [wrt], symbolic_shapes, functions=FUNCTIONS)
            found = prove_all_shapes(problem, wrt, parse_claim(problem, symbolic_claim), refute=False)
            out["index"] = ({True: "proved", False: "refuted", None: "undecided"}[found], None)
        except SymderivError as err:  # a claim that does not type on the symbolic shapes is refuted by its shape
            out["index"] = ("refuted" if "shape" in type(err).__name__.lower() else "error", None)
    return out


# --------------------------------------------------------------------------
# Numerical truth


def _concrete(text: str, sizes: dict) -> str:
    for name, size in sizes.items():
        text = re.sub(rf"\b{name}\b", str(size), text)
    return text


def _generic_point(shapes: dict, upstream_shape, rng) -> dict:
    env = {n: rng.uniform(0.3, 1.3, size=s) * rng.choice([-1, 1], size=s) for n, s in shapes.items()}
    if upstream_shape != (1, 1):
        env["G"] = rng.uniform(-1, 1, size=upstream_shape)
    return env


def _value(node: ex.Expr, env: dict, sizes: dict, shape) -> np.ndarray | None:
    try:
        with np.errstate(all="ignore"):
            value = evaluate(node, env, sizes=sizes)
        return np.array(np.broadcast_to(value, shape), dtype=float)
    except (ValueError, KeyError, np.linalg.LinAlgError):
        return None


def numeric_truth(claim: ex.Expr, right: ex.Expr, case: Case, upstream_shape, seed: int) -> str:
    """"equal" / "differs" / "unknown": the claim against the (finite-difference checked) true gradient."""
    rng = np.random.default_rng(seed)
    verdicts = set()
    for _ in range(2):
        env = _generic_point(case.shapes, upstream_shape, rng)
        want = case.shapes[case.wrt]
        a, b = _value(claim, env, case.sizes, want), _value(right, env, case.sizes, want)
        if a is None or b is None or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            if a is None and b is not None:
                verdicts.add("differs")  # the claim does not even have the gradient's shape
            continue
        if np.abs(a - b).max() > 1e-6 * max(1.0, float(np.abs(b).max())):
            verdicts.add("differs")
            continue
        # Float64 cannot tell a small difference from rounding: a claim twice the gradient, where a saturated
        # softmax makes every entry ~1e-17, would pass for equal. Decided in mpmath at rising precision.
        COUNTS["truth decided in mpmath"] += 1
        verdicts.add(_mp_truth(claim, right, case, env))
    return verdicts.pop() if len(verdicts) == 1 else "unknown"


def _mp_truth(claim: ex.Expr, right: ex.Expr, case: Case, env: dict) -> str:
    point = {name: [[Fraction(float(x)) for x in row] for row in value] for name, value in env.items()}
    try:
        return "differs" if mp_oracle.differ(claim, right, point, case.sizes, case.shapes[case.wrt]) else "equal"
    except (mp_oracle.Unresolved, mp_oracle.OutOfDomain, ValueError, ZeroDivisionError):
        return "unknown"


def right_is_right(node: ex.Expr, right: ex.Expr, case: Case, upstream_shape, seed: int) -> bool | None:
    """The reference gradient against NumPy central finite differences (None when FD is unstable there)."""
    rng = np.random.default_rng(seed + 1)
    env = _generic_point(case.shapes, upstream_shape, rng)
    upstream = env.pop("G", None)
    try:
        with np.errstate(all="ignore"):
            fd1 = finite_difference_gradient(node, case.wrt, env, upstream, sizes=case.sizes, h=1e-5)
            fd2 = finite_difference_gradient(node, case.wrt, env, upstream, sizes=case.sizes, h=2.5e-6)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not (np.all(np.isfinite(fd1)) and np.allclose(fd1, fd2, rtol=1e-3, atol=1e-5)):
        return None
    value = _value(right, {**env, **({"G": upstream} if upstream is not None else {})}, case.sizes, fd2.shape)
    return value is not None and bool(np.allclose(value, fd2, rtol=2e-3, atol=2e-4))


def _confirmed_witness(verdict, claim: ex.Expr, right: ex.Expr, case: Case, upstream_shape) -> bool:
    """A refutation's witness (exact engines) shows claim and true gradient differing, evaluated by NumPy."""
    cx = getattr(verdict, "counterexample", None)
    if cx is None or not cx.values or cx.gradient_value is None:
        return False
    try:
        env = {n: np.array([[float(Fraction(x.strip().removeprefix("≈").strip())) for x in row] for row in rows])
               for n, rows in cx.values.items()}
    except (ValueError, ZeroDivisionError):
        return False
    want = case.shapes[case.wrt]
    a, b = _value(claim, env, case.sizes, want), _value(right, env, case.sizes, want)
    if a is None or b is None:
        return False
    entry = tuple(cx.entry)
    return bool(abs(a[entry] - b[entry]) > 1e-9 * max(1.0, abs(b[entry])))


# --------------------------------------------------------------------------
# The bulk run


def _claims(right_node: ex.Expr, wrt: str) -> dict[str, ex.Expr]:
    out = {"true gradient": right_node, **corruptions(right_node)}
    out["wrt added"] = ex.Add(right_node, ex.Mul(ex.Number(Fraction(3)), ex.Symbol(wrt)))
    out["a third of wrt subtracted"] = ex.Sub(right_node, ex.Div(ex.Symbol(wrt), ex.Number(Fraction(3))))
    return out


def check_pair(kind: str, case: Case, claim_sym: str, right_node: ex.Expr, upstream_shape, strict: bool,
               seed: int) -> None:
    claim_text = _concrete(claim_sym, case.sizes)
    try:
        claim_node = parse(claim_text, functions=FUNCTIONS, allow_upstream=True)
    except SymderivError:
        return
    results = run_engines(case.text, case.symbolic_text, case.wrt, claim_text, claim_sym, case.shapes,
                          case.symbolic_shapes, strict)
    COUNTS["pairs"] += 1
    for name, (status, _) in results.items():
        STATUSES[name][status] += 1
    truth = "equal" if kind == "true gradient" else numeric_truth(claim_node, right_node, case, upstream_shape, seed)
    COUNTS[f"numerically {truth}"] += 1
    label = f"{kind}: {case.text} wrt {case.wrt} [{case.symbolic_text}]: claim {claim_text}: " + \
        ", ".join(f"{n} {s}" for n, (s, _) in results.items())
    # The index engine speaks for all sizes; with sizes that coincide, a claim can hold at the concrete ones
    # only, so its refutation (always by shape here) is compared only when the sizes are distinct.
    distinct = len(set(case.sizes.values())) == len(case.sizes)
    concrete = {n: r for n, r in results.items() if n != "index"}
    holds = [n for n, (s, _) in concrete.items() if s in HOLDS]
    refutes = [n for n, (s, _) in concrete.items() if s == "refuted"]
    index = results.get("index", ("undecided", None))[0]
    if index == "proved":
        holds_all = holds + ["index"]
        refutes_all = refutes
    else:
        holds_all = holds
        refutes_all = refutes + (["index"] if index == "refuted" and distinct else [])
    if holds_all and refutes_all:
        COUNTS["disagreements"] += 1
        PROBLEMS.append("DISAGREEMENT " + label)
    confirmed = any(_confirmed_witness(v, claim_node, right_node, case, upstream_shape)
                    for n, (s, v) in concrete.items() if s == "refuted" and n != "random")
    if holds_all and (truth == "differs" or confirmed):
        COUNTS["false proofs"] += 1
        PROBLEMS.append("FALSE PROOF " + label)
    if kind == "true gradient" and refutes_all:
        COUNTS["true gradient refuted"] += 1
        PROBLEMS.append("TRUE GRADIENT REFUTED " + label)


# No shrinking: a failure is reported from the counts with its case, not minutes of slow shrinking.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(case=st.one_of(cases(max_depth=3, max_size=2), cases(max_depth=2, distinct_sizes=True, square_ops=False)),
       seed=st.integers(0, 2**32 - 1))
def test_generated_pairs_agree_across_engines(case, seed):
    COUNTS["cases"] += 1
    try:
        with cpu_guard(CASE_CPU_SECONDS):
            _run_case(case, seed)
    except CaseTooSlow:
        COUNTS["cases over their CPU allowance"] += 1


def _run_case(case: Case, seed: int) -> None:
    try:
        node = parse(case.text, functions=FUNCTIONS)
        right_sym = symderiv.gradient(case.symbolic_text, wrt=case.wrt, shapes=case.symbolic_shapes,
                                      functions=FUNCTIONS, check=False).formula
        right_node = parse(_concrete(right_sym, case.sizes), functions=FUNCTIONS, allow_upstream=True)
        upstream_shape = prepare(case.text, [case.wrt], case.shapes, functions=FUNCTIONS).result_shape
    except SymderivError:
        COUNTS["cases refused"] += 1
        return
    OPS_SEEN.update(course_ops_in(case.text))
    checked = right_is_right(node, right_node, case, upstream_shape, seed)
    COUNTS[{True: "true gradient confirmed by FD", None: "FD unstable", False: "gradient() WRONG"}[checked]] += 1
    if checked is False:
        PROBLEMS.append(f"GRADIENT WRONG (finite differences): {case.text} wrt {case.wrt}: {right_sym}")
    tiny = all(r * c <= 4 for r, c in case.shapes.values())
    strict = tiny and seed % STRICT_EVERY == 0
    for kind, claim in _claims(parse(right_sym, functions=FUNCTIONS, allow_upstream=True), case.wrt).items():
        check_pair(kind, case, printing.to_text(claim), right_node, upstream_shape, strict, seed)


# --------------------------------------------------------------------------
# Hostile pairs with a known truth (issue 10)


def _verdicts(expression: str, wrt: str, claim: str, shapes: dict) -> dict[str, str]:
    """The concrete engines (exact, random, strict) on one hostile pair."""
    out = run_engines(expression, None, wrt, claim, None, shapes, None, strict=True)
    for name, (status, _) in out.items():
        STATUSES[name][status] += 1
        COUNTS["hostile pairs"] += name == "exact"
    return {n: s for n, (s, _) in out.items()}


def _assert_truth(expression: str, wrt: str, claim: str, shapes: dict, true: bool) -> None:
    got = _verdicts(expression, wrt, claim, shapes)
    wrong = {n: s for n, s in got.items() if (s in HOLDS) != true and s in HOLDS + ("refuted",)}
    assert not wrong, f"{'true' if true else 'false'} claim ∂/∂{wrt} {expression} = {claim}: {got}"


def _float_spelling(literal: str) -> str:
    return repr(float(literal)) if np.isfinite(float(literal)) else literal


@pytest.mark.parametrize("literal", [x for x in HOSTILE_LITERALS if Fraction(x) != Fraction(repr(float(x)))])
def test_a_literal_is_not_its_float(literal):
    """``c * W`` against the claim ``f * G`` where f is c rounded to a float: false whenever f ≠ c exactly."""
    _assert_truth(f"{literal} * W", "W", f"{_float_spelling(literal)} * G", {"W": (2, 2)}, true=False)


@pytest.mark.parametrize("literal", HOSTILE_LITERALS)
def test_a_literal_is_its_exact_value(literal):
    # The claim reaches the same number another way: true.
    _assert_truth(f"{literal} * W", "W", f"3 * {literal} * G / 3", {"W": (2, 2)}, true=True)


@pytest.mark.parametrize("k", [8388593, 2**61 - 1])
def test_constants_near_primes_are_exact(k):
    # Off by a multiple of a prime that a modular engine might use: false, in every engine.
    _assert_truth("W @ X", "W", f"G @ X.T + {k} * W", {"W": (2, 2), "X": (2, 2)}, true=False)
    _assert_truth("W @ X", "W", f"{k + 1} * G @ X.T", {"W": (2, 2), "X": (2, 2)}, true=False)
    _assert_truth("W * exp(8388593)", "W", "G", {"W": (1, 2)}, true=False)


@pytest.mark.parametrize("k", [c for c in WORD_CONSTANTS if c not in (8388593, 2**61 - 1)])
def test_constants_near_word_sizes_are_exact(k):
    _assert_truth(f"{k} * W", "W", f"{k} * G", {"W": (1, 2)}, true=True)
    _assert_truth(f"{k} * W", "W", f"{k + 1} * G", {"W": (1, 2)}, true=False)


@pytest.mark.parametrize("name", list(disguises("G", "W")))
def test_true_claims_disguised_by_function_identities_are_not_refuted(name):
    _assert_truth("W", "W", disguises("G", "W")[name], {"W": (1, 2)}, true=True)


@pytest.mark.parametrize(("expression", "wrt", "claim", "shapes"), DOMAIN_CASES)
def test_true_claims_on_a_restricted_domain_are_not_refuted(expression, wrt, claim, shapes):
    _assert_truth(expression, wrt, claim, shapes, true=True)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases(max_depth=2, square_ops=False, max_size=2), literal=st.sampled_from(HOSTILE_LITERALS))
@example(case=Case("W", "W", {"W": (1, 2)}, {"W": (1, 2)}, symbolic_text="W"), literal="1e-400")
def test_hostile_literal_scaling_of_generated_cases(case, literal):
    """``c * E``: the claim ``c * ∂E`` holds and ``float(c) * ∂E`` does not when float(c) ≠ c."""
    try:
        right = symderiv.gradient(case.text, wrt=case.wrt, shapes=case.shapes, functions=FUNCTIONS,
                                  check=False).formula
    except SymderivError:
        return
    expression = f"{literal} * ({case.text})"
    _assert_truth(expression, case.wrt, f"{literal} * ({right})", case.shapes, true=True)
    if Fraction(literal) != Fraction(repr(float(literal))) and not _vanishes(right, case):
        # float(c) * ∂E differs from c * ∂E unless ∂E = 0 (`(A - A).T`: both claims are 0, and true).
        _assert_truth(expression, case.wrt, f"{_float_spelling(literal)} * ({right})", case.shapes, true=False)


def _vanishes(formula: str, case: Case) -> bool:
    """Whether a gradient formula is 0 at two generic points (by NumPy: only then is the check above skipped)."""
    node = parse(formula, functions=FUNCTIONS, allow_upstream=True)
    shape = prepare(case.text, [case.wrt], case.shapes, functions=FUNCTIONS).result_shape
    rng = np.random.default_rng(0)
    values = [_value(node, _generic_point(case.shapes, shape, rng), case.sizes, case.shapes[case.wrt])
              for _ in range(2)]
    return all(v is not None and not np.any(v) for v in values)


# --------------------------------------------------------------------------


def test_zz_counts(capsys):
    """Prints the counts (tests run in file order, so this comes last) and checks the bulk run's totals."""
    with capsys.disabled():
        print("\ndifferential: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))
        for name, counter in STATUSES.items():
            print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counter.items())))
        for problem in PROBLEMS[:10]:
            print("  " + problem)
        print("  cases per operation of issue 14: " + ", ".join(f"{op} {OPS_SEEN[op]}" for op in COURSE_OPS))
    if COUNTS["cases"] == 0:
        pytest.skip("the bulk differential test did not run (selected with -k?)")
    assert not PROBLEMS, PROBLEMS[:10]
    assert COUNTS["disagreements"] == 0 and COUNTS["false proofs"] == 0
    if EXAMPLES >= 480:
        assert COUNTS["pairs"] >= 3000, COUNTS
        engines = [n for n, c in STATUSES.items() if sum(c.values()) >= 100]
        assert len(engines) >= 3, STATUSES
        assert sum(OPS_SEEN.values()) >= COUNTS["cases"] // 4, OPS_SEEN
        if settings.default.derandomize:  # each one in the fixed-seed run (a randomized sample is lumpier)
            assert all(OPS_SEEN[op] >= 1 for op in COURSE_OPS), OPS_SEEN

