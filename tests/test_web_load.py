"""A small run of the load test (benchmarks/bench_web.py): valid, slow and hostile requests from 8 clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_web.py"


def test_hostile_and_slow_requests_never_fail_a_valid_one():
    run = subprocess.run([sys.executable, str(BENCH), "--requests", "48", "--clients", "8", "--workers", "3",
                          "--time-limit", "1", "--slow", "0.1", "--seed", "3"],
                         capture_output=True, text=True, timeout=300, cwd=BENCH.parent.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed valid requests: 0" in run.stdout and "busy: 0" in run.stdout
    assert "| slow |" in run.stdout and "504" in run.stdout
