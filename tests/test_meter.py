"""The budget and the deadline hold while an exact proof runs, not only in the estimate before it.

``log(1 + (A @ matpow(B, 2)) ** 2)`` at 3×3 is estimated at about 10⁴ term operations; its gradient is a sum of
nine quotients with distinct denominators, whose common denominator swells past 6·10⁷ operations and 2 GB.
Before the meter, ``--timeout 3`` on it ran for 52 s and grew to 2.2 GB.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from symderiv import BudgetError, verify
from symderiv.core.meter import WORK, metered, tick
from symderiv.proofs.exact.cost import estimate_cost
from symderiv.proofs.verification import prepare

SWELL = "log(1 + (A @ matpow(B, 2)) ** 2)"
SHAPES = {"A": (3, 3), "B": (3, 3)}


def test_the_estimate_is_far_below_the_work():
    # The premise of these tests: the cost model accepts this problem with a small budget.
    problem = prepare(SWELL, ["B"], SHAPES)
    assert estimate_cost(problem.expression, problem.typing) < 10**5


def test_work_past_the_budget_stops_an_exact_proof():
    start = time.monotonic()
    with pytest.raises(BudgetError) as info:
        verify(SWELL, "B", "G", SHAPES, method="exact", budget=10**6)
    assert "its budget" in info.value.message and "method='random'" in info.value.hint
    assert time.monotonic() - start < 20


def test_auto_answers_a_metered_stop_with_the_randomized_test():
    v = verify(SWELL, "B", "G", SHAPES, budget=10**6)
    assert v.status == "refuted" and v.counterexample is not None


def test_a_timeout_stops_the_swell_within_two_seconds():
    args = ["verify", SWELL, "--wrt", "B", "--claim", "G", "--shape", "A=3,3", "--shape", "B=3,3",
            "--timeout", "3", "--method", "exact"]
    code = f"import sys; from symderiv.cli import main; sys.exit(main({args!r}))"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "time limit" in proc.stderr
    assert time.monotonic() - start < 3 + 2 + 1.5  # the limit, the contract's 2 s, and the interpreter's start


def test_an_unmetered_tick_is_harmless_and_the_caps_nest():
    tick()  # outside any metered block: nothing to check
    with metered(work_cap=10**12):
        with metered(work_cap=5):
            WORK[0] += 6
            with pytest.raises(BudgetError):
                tick()
        tick()  # the outer block's cap is far away
