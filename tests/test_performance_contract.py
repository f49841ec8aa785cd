"""The performance contract, checked without timing anything.

- the CLI starts without importing SymPy, NumPy or latex2mathml;
- the size budget refuses a 10⁴×10⁴ request before any work, and says what to do;
- the default budget admits the source identity at 128×128×128;
- method="random" refutes wrong claims and labels right ones probabilistic;
- the fast prover and the strict (SymPy chain rule) mode agree on random small cases.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symderiv.core.errors import BudgetError, SymderivError
from symderiv.proofs.exact.entrywise import DEFAULT_BUDGET, estimate_cost
from symderiv.proofs.verification import verify
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes

HEAVY = ("sympy", "numpy", "latex2mathml", "mpmath")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('LOADED:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("LOADED:")][-1]
    return [m for m in line.removeprefix("LOADED:").split(",") if m]


def test_importing_the_cli_imports_nothing_heavy():
    assert _loaded_after("import symderiv.cli") == []


@pytest.mark.parametrize("argv", [["--help"], ["verify", "--help"]])
def test_cli_help_imports_nothing_heavy(argv):
    code = f"from symderiv.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert _loaded_after(code) == []


def test_importing_the_package_imports_nothing_heavy():
    assert _loaded_after("import symderiv") == []


def test_budget_refuses_a_huge_request_before_any_work(monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("the proof started although the budget should have refused it")

    # The module symderiv.proofs.concrete holds the exact proof that verify() calls.
    monkeypatch.setattr(importlib.import_module("symderiv.proofs.concrete"), "Instance", no_work)
    with pytest.raises(BudgetError) as info:
        verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (10_000, 10_000), "X": (10_000, 10_000)})
    err = info.value
    text = f"{err.message} {err.hint}"
    assert "term operations" in err.message and "e+1" in err.message  # the estimate, in figures
    assert "--budget" in text and "--method random" in text and "all shapes" in text


def test_budget_refusal_reaches_the_cli():
    from symderiv.cli import main

    code = main(["verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--shape", "W=10000,10000",
                 "--shape", "X=10000,10000"])
    assert code == 2


def test_default_budget_admits_128_cubed_and_refuses_far_larger():
    node = parse("W @ X")
    claim = parse("G @ X.T", upstream="G", allow_upstream=True)

    def cost(n: int) -> int:
        typing = infer_shapes(node, {"W": (n, n), "X": (n, n)})
        return estimate_cost(node, typing) + estimate_cost(claim, typing, {"G": (n, n)})

    assert cost(128) <= DEFAULT_BUDGET < cost(256)


def test_explicit_budget_is_honoured():
    with pytest.raises(BudgetError):
        verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (8, 8), "X": (8, 8)}, budget=100)
    assert verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (8, 8), "X": (8, 8)}, budget=10**6).holds


def test_random_method_refutes_and_labels():
    shapes = {"W": (5, 4), "X": (4, 6), "b": (5, 1)}
    right = verify("relu(W @ X + b)", "W", "(G * step(W @ X + b)) @ X.T", shapes, method="random")
    assert right.holds and right.status == "probabilistic"
    assert right.reason.startswith("probabilistic: holds with error probability ≤ 2^-")
    wrong = verify("relu(W @ X + b)", "W", "(G * step(W @ X)) @ X.T", shapes, method="random")
    assert not wrong.holds and wrong.status == "refuted"
    assert verify("W @ X", "W", "X.T @ G.T", {"W": (3, 3), "X": (3, 3)}, method="random").status == "refuted"


def test_random_budget_refuses_at_once():
    with pytest.raises(BudgetError):
        verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (10**6, 10**6), "X": (10**6, 10**6)},
               method="random")


# --------------------------------------------------------------------------
# Fast and strict agree

HAS_STRICT = importlib.util.find_spec("symderiv.proofs.strict") is not None


@pytest.mark.skipif(not HAS_STRICT, reason="symderiv.proofs.strict is not there yet")
@pytest.mark.parametrize("expr,wrt,claim,shapes", [
    ("W @ X", "W", "G @ X.T", {"W": (2, 3), "X": (3, 2)}),
    ("W @ X", "W", "G @ X", {"W": (2, 2), "X": (2, 2)}),
    ("relu(W @ X + b)", "W", "(G * step(W @ X + b)) @ X.T", {"W": (2, 2), "X": (2, 3), "b": (2, 1)}),
    ("logdet(X)", "X", "inv(X).T", {"X": (2, 2)}),
    ("tanh(W) * W", "W", "G * (tanh(W) + W * (1 - tanh(W) ** 2))", {"W": (2, 2)}),
])
def test_fast_and_strict_agree_on_examples(expr, wrt, claim, shapes):
    fast = verify(expr, wrt, claim, shapes)
    strict = verify(expr, wrt, claim, shapes, strict=True)
    assert fast.holds == strict.holds, (fast.reason, strict.reason)


@pytest.mark.skipif(not HAS_STRICT, reason="symderiv.proofs.strict is not there yet")
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fast_and_strict_agree_on_random_cases(data):
    from strategies import cases

    case = data.draw(cases(max_depth=2, max_size=2))
    try:
        from symderiv.proofs.gradient import gradient

        formula = gradient(case.text, wrt=case.wrt, shapes=case.shapes, functions=case.functions,
                           check=False).formula
    except (ImportError, SymderivError):
        return
    r, c = case.shapes[case.wrt]
    for claim in (formula, f"({formula}) + ones({r}, {c})"):
        try:
            fast = verify(case.text, case.wrt, claim, case.shapes, functions=case.functions, timeout=30)
            strict = verify(case.text, case.wrt, claim, case.shapes, functions=case.functions, strict=True,
                            timeout=60)
        except SymderivError:
            return
        if "undecided" in (fast.status, strict.status):
            continue
        assert fast.holds == strict.holds, (case.text, case.wrt, claim, fast.reason, strict.reason)
