"""Peak memory of what the budget accepts stays under 1 GB, and what it refuses is refused at once.

Each kind of problem is grown to the largest size the default budget accepts (found from the
estimate, which is cheap), proved in a fresh subprocess, and the subprocess's peak resident set
size (``ru_maxrss``) is checked. Before the memory estimate, ``W * X`` at 1×3,000,000 was accepted
and used 9.6 GB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from symderiv.core.errors import BudgetError
from symderiv.proofs.exact.entrywise import check_budget, estimate_cost
from symderiv.proofs.verification import parse_claim, prepare, verify

GB = 1 << 30

#: (expression, wrt, claim, shapes as a function of n)
KINDS = {
    "elementwise row": ("W * X", "W", "G * X", lambda n: {"W": (1, n), "X": (1, n)}),
    "matrix product": ("W @ X", "W", "G @ X.T", lambda n: {"W": (n, n), "X": (n, n)}),
    "two-layer": ("W2 @ tanh(W1 @ X)", "W1", "((W2.T @ G) * (1 - tanh(W1 @ X) ** 2)) @ X.T",
                  lambda n: {"W1": (n, n), "W2": (n, n), "X": (n, n)}),
    "logdet": ("logdet(X)", "X", "inv(X).T", lambda n: {"X": (n, n)}),
}


def _accepted(expression, wrt, claim, shapes) -> bool:
    problem = prepare(expression, [wrt], shapes)
    cost = estimate_cost(problem.expression, problem.typing) + estimate_cost(
        parse_claim(problem, claim), problem.typing, {"G": problem.result_shape})
    try:
        check_budget(cost, None, expression)
    except BudgetError:
        return False
    return True


def _largest_accepted(kind: str) -> int:
    expression, wrt, claim, shapes = KINDS[kind]
    lo, hi = 1, 2
    while _accepted(expression, wrt, claim, shapes(hi)):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _accepted(expression, wrt, claim, shapes(mid)) else (lo, mid)
    return lo


RUNNER = r"""
import json, resource, sys
from symderiv.proofs.verification import verify
for expression, wrt, claim, shapes in json.loads(sys.argv[1]):
    verdict = verify(expression, wrt, claim, {k: tuple(v) for k, v in shapes.items()}, method="exact")
    assert verdict.status == "proved", verdict.reason
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def test_largest_accepted_problems_stay_under_1_gb():
    jobs = []
    for kind, (expression, wrt, claim, shapes) in KINDS.items():
        n = _largest_accepted(kind)
        assert n > 1, kind
        jobs.append((expression, wrt, claim, shapes(n)))
    done = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(jobs)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = int(done.stdout.split()[-1])
    assert peak < GB, f"peak RSS {peak / 1e6:.0f} MB for {jobs}"


def test_the_largest_sizes_accepted_are_sensible():
    # The seed identity at 128³ keeps being accepted; a 1×3,000,000 elementwise product does not.
    assert _largest_accepted("matrix product") >= 128
    assert 50_000 < _largest_accepted("elementwise row") < 3_000_000


@pytest.mark.parametrize("api", ["python", "cli"])
def test_a_huge_elementwise_product_is_refused_at_once(api):
    start = time.perf_counter()
    if api == "python":
        with pytest.raises(BudgetError) as info:
            verify("W * X", "W", "G * X", {"W": (1, 3_000_000), "X": (1, 3_000_000)})
        text = f"{info.value.message} {info.value.hint}"
        assert "GB of memory" in text and "budget=" in text and "method='random'" in text
    else:
        from symderiv.cli import main

        code = main(["verify", "W * X", "--wrt", "W", "--claim", "G * X", "--shape", "W=1,3000000",
                     "--shape", "X=1,3000000"])
        assert code == 2
    assert time.perf_counter() - start < 2.0
