"""The soundness and differential suites over random expressions rooted in the operations of deep-learning
courses (softmax, log_softmax, logsumexp, mean, norm, softplus, diag, diagflat, non-integer powers; issue 14).

Every suite over tests/strategies.py draws these operations (by default, a third of the cases at the root);
here ``course_root=0.75`` makes most cases start with one, at depth 2. Each case is run through the very
checks of tests/test_soundness.py (gradient proved, finite differences, every corruption refuted with a
witness confirmed by the mpmath oracle or numerically right, never a false proof) and
tests/test_differential.py (every engine on the derived gradient and its transformed claims).
"""

from __future__ import annotations

import os

import pytest
import test_differential
import test_soundness
from guards import CaseTooSlow, cpu_guard
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

strategies = pytest.importorskip("strategies")

EXAMPLES = int(os.environ.get("SYMDERIV_COURSE_EXAMPLES", 120))
SETTINGS = dict(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate])
SEEN: dict[str, int] = {"cases": 0, "with a course op": 0}
#: Most cases start with an operation of issue 14.
ROOT = 0.75


def _count(case) -> None:
    SEEN["cases"] += 1
    SEEN["with a course op"] += bool(strategies.course_ops_in(case.text))


@settings(**SETTINGS)
@given(case=strategies.cases(max_depth=2, max_size=2, course_root=ROOT), seed=st.integers(0, 2**32 - 1))
def test_soundness_over_course_operations(case, seed):
    _count(case)
    before = test_soundness.COUNTS["false proofs"]
    try:
        with cpu_guard(test_soundness.CASE_CPU_SECONDS):
            test_soundness._run_case(case, seed)
    except CaseTooSlow:
        test_soundness.COUNTS["timeouts"] += 1
    assert test_soundness.COUNTS["false proofs"] == before


@settings(**{**SETTINGS, "max_examples": EXAMPLES // 2})
@given(case=st.one_of(strategies.cases(max_depth=2, max_size=2, course_root=ROOT),
                      strategies.cases(max_depth=2, distinct_sizes=True, square_ops=False, course_root=ROOT)),
       seed=st.integers(0, 2**32 - 1))
def test_engines_agree_over_course_operations(case, seed):
    _count(case)
    problems = len(test_differential.PROBLEMS)
    try:
        with cpu_guard(test_differential.CASE_CPU_SECONDS):
            test_differential._run_case(case, seed)
    except CaseTooSlow:
        pass
    assert test_differential.PROBLEMS[problems:] == []


def test_zz_most_cases_use_a_course_operation():
    if SEEN["cases"] < 20:
        pytest.skip("the generated tests did not run in this session")
    print(f"\ncourse-operation cases: {SEEN}; soundness counts: {test_soundness.COUNTS}")
    assert SEEN["with a course op"] >= SEEN["cases"] // 2, SEEN
    assert test_soundness.COUNTS["false proofs"] == 0
