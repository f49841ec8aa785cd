"""The pytest plugin, exercised in throwaway pytest sessions (``pytester``)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy  # noqa: F401  (see below)
import pytest

import symderiv.backends.numeric  # noqa: F401

# Imported here so that every in-process pytester session shares these modules: pytester removes the
# modules a session imported when it ends, a re-imported symderiv.proofs.verification would define a second Verdict
# class, and NumPy's extension cannot be loaded twice in one process.
import symderiv.proofs.gradient  # noqa: F401
import symderiv.testing  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "identities.toml"
DOCS = ROOT / "docs" / "testing.md"

SHAPES = '{"X": ("N", "K"), "W": ("K", "M"), "b": (1, "M")}'


@pytest.fixture
def run(pytester, monkeypatch):
    """Run pytest in-process with a fixed terminal width and without CI's untruncated explanations."""
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("CI", "BUILD_NUMBER"):
        monkeypatch.delenv(name, raising=False)

    def runner(*args: str):
        # Other installed plugins are switched off: pytest re-imports (and, without bytecode caching,
        # re-rewrites) them in every in-process session, which costs seconds and tests nothing of ours.
        return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark", *args)
    return runner


def test_plugin_is_registered(pytester):
    config = pytester.parseconfig()
    assert config.pluginmanager.get_plugin("symderiv") is sys.modules["symderiv.pytest_plugin"]


def test_fixture_passing_and_failing_identities(pytester, run):
    pytester.makepyfile(f"""
        SHAPES = {SHAPES}

        def test_holds(symderiv_verify):
            verdict = symderiv_verify("X @ W + b", "W", "X.T @ G", SHAPES)
            assert verdict.holds

        def test_wrong(symderiv_verify):
            symderiv_verify("X @ W + b", "W", "G @ X.T", SHAPES)

        def test_backward(symderiv_verify):
            symderiv_verify.backward(lambda dY, X, W, b: (X.T @ dY, dY.sum(0)), "X @ W + b", ["W", "b"], SHAPES)
        """)
    result = run()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        ">       symderiv_verify(\"X @ W + b\", \"W\", \"G @ X.T\", SHAPES)",
        "E       AssertionError: ∂L/∂W = G @ X.T does not hold for L = X @ W + b",
        "E         correct:    ∂L/∂W = X.T @ G",
        "E         diagnosis:  your claim has the wrong shape",
        "E                     factors in the wrong order: `X.T @ G` holds",
    ])
    # The helper's own frames are hidden: the traceback points at the test's line only.
    assert "symderiv/testing/__init__.py" not in result.stdout.str()


def test_table_file_runs_twenty_cases_and_k_selects(pytester, run):
    shutil.copy(DATA, pytester.path / "identities.toml")
    pytester.makepyfile(test_notes="""
        import pytest

        @pytest.mark.symderiv_identities("identities.toml")
        def test_identity(identity):
            identity.check()
        """)
    result = run("-v")
    result.assert_outcomes(passed=20)
    result.stdout.fnmatch_lines(["*test_identity[[]linear-W[]] PASSED*", "*test_identity[[]generic-phi[]] PASSED*"])
    result = run("-k", "linear")
    result.assert_outcomes(passed=3, deselected=17)
    result = run("-k", "trace and not inner", "-v")
    result.assert_outcomes(passed=1, deselected=19)
    result.stdout.fnmatch_lines(["*test_identity[[]trace-product[]] PASSED*"])


def test_table_file_with_a_wrong_row_reports_it(pytester, run):
    pytester.makefile(".json", rows="""
        [{"expr": "W @ X", "wrt": "W", "claim": "G @ X.T"},
         {"id": "transposed", "expr": "W @ X", "wrt": "W", "claim": "X @ G.T",
          "shapes": {"W": [3, 2], "X": [2, 4]}}]
        """)
    pytester.makepyfile("""
        from pathlib import Path
        import pytest
        from symderiv.testing import identity_params

        @pytest.mark.parametrize("identity", identity_params(Path(__file__).parent / "rows.json"))
        def test_identity(identity, symderiv_verify):
            symderiv_verify(identity)
        """)
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_identity[[]transposed[]]*",
        "E       AssertionError: ∂L/∂W = X @ G.T does not hold for L = W @ X",
        "E         diagnosis:  your claim has the wrong shape",
        "E                     your claim is the transpose of the gradient: `(X @ G.T).T` holds",
    ])


def test_marker_with_a_python_list(pytester, run):
    pytester.makepyfile("""
        import pytest

        ROWS = [{"id": "left", "expr": "W @ X", "wrt": "W", "claim": "G @ X.T"},
                {"id": "right", "expr": "W @ X", "wrt": "X", "claim": "W.T @ G"}]

        @pytest.mark.symderiv_identities(ROWS)
        def test_identity(identity, symderiv_verify):
            symderiv_verify(identity)
        """)
    result = run("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_identity[[]left[]] PASSED*", "*test_identity[[]right[]] PASSED*"])
    pytester.makepyfile(test_forgot="""
        import pytest

        @pytest.mark.symderiv_identities([{"expr": "W @ X", "wrt": "W", "claim": "G @ X.T"}])
        def test_identity():
            pass
        """)
    result = run("test_forgot.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*symderiv_identities passes each row as the `identity` argument; add it to*"])


def test_bare_assert_of_a_verdict_gets_a_report_section(pytester, run):
    pytester.makepyfile("""
        import symderiv

        def test_bare():
            assert symderiv.verify("X @ W", "W", "2 * X.T @ G", {"X": (3, 2), "W": (2, 4)})

        def test_named():
            verdict = symderiv.verify("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)})
            assert verdict.holds

        def test_other_failure_is_left_alone():
            verdict = symderiv.verify("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)})
            assert not verdict
            assert 1 == 2
        """)
    result = run()
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    sections = out.split("Captured symderiv call")
    assert len(sections) == 3  # the first two tests, not the third
    result.stdout.fnmatch_lines([
        "*Captured symderiv call*",
        "∂L/∂W = 2 * X.T @ G does not hold for L = X @ W",
        "  correct:    ∂L/∂W = X.T @ G",
        "  witness: X = *",
        "  diagnosis:  off by a factor of 2: your claim is 2 × the gradient*",
        "*Captured symderiv call*",
        "NOT PROVED  ∂L/∂W = G.T @ X  for L = X @ W",
        "shape: the claim is 4×2 but ∂L/∂W is 2×4",
    ])


def test_assertrepr_compare_with_holds_and_true(pytester, run):
    pytester.makepyfile("""
        import symderiv
        from symderiv.testing import HOLDS

        S = {"X": (3, 2), "W": (2, 4)}

        def test_holds():
            assert symderiv.verify("X @ W", "W", "X.T @ G", S) == HOLDS

        def test_compare():
            assert symderiv.verify("X @ W", "W", "2 * X.T @ G", S) == HOLDS

        def test_true():
            assert symderiv.verify("X @ W", "W", "X.T @ G", S) == True  # noqa: E712
        """)
    result = run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "E       assert ∂L/∂W = 2 * X.T @ G does not hold for L = X @ W",
        "E           correct:    ∂L/∂W = X.T @ G",
        "E           diagnosis:  off by a factor of 2: *",
        "E       assert a Verdict never == True: write `assert verdict` or `assert verdict == HOLDS`*",
        "E         PROVED  ∂L/∂W = X.T @ G  for L = X @ W",
    ])
    assert "Full output truncated" not in result.stdout.str()


def test_correct_and_buggy_backward_functions(pytester, run):
    pytester.makepyfile(f"""
        import numpy as np
        from symderiv.testing import check_backward

        SHAPES = {SHAPES}

        def test_correct():
            check_backward(lambda dY, X, W, b: (dY @ W.T, X.T @ dY, dY.sum(0)), "X @ W + b", ["X", "W", "b"], SHAPES)

        def test_wrong_axis():
            check_backward(lambda dY, X, W, b: (dY @ W.T, X.T @ dY, dY.sum(1)), "X @ W + b", ["X", "W", "b"], SHAPES)

        def test_missing_mask():
            def backward(dY, X, W1, W2):
                H = np.maximum(X @ W1, 0)
                return X.T @ (dY @ W2.T), H.T @ dY
            check_backward(backward, "relu(X @ W1) @ W2", ["W1", "W2"], None)
        """)
    result = run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "E           diagnosis: summed over the wrong axis: it equals sum(G, axis=1)",
        "E         ∂L/∂W1 (returned value 1 of 2) is wrong; the derived gradient is X.T @ ((G @ W2.T) * step(X @ W1))",
        "E           diagnosis: missing the step(X @ W1) mask: *",
    ])


def test_plugin_is_free_when_unused(pytester):
    # A subprocess, so the modules loaded by this (symderiv-using) session do not count.
    pytester.makeconftest("""
        import sys

        def pytest_collection_finish(session):
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("symderiv", "sympy", "numpy"))
            print("LOADED", loaded)
        """)
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["LOADED ['symderiv', 'symderiv.core', 'symderiv.core.errors', 'symderiv.pytest_plugin']"])


def _docs_examples() -> list[tuple[str, str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    blocks = dict(re.findall(r"<!-- example: (\S+) -->\n```python\n(.*?)```", text, re.S))
    outputs = dict(re.findall(r"<!-- output: (\S+) -->\n```text\n(.*?)```", text, re.S))
    assert blocks and blocks.keys() == outputs.keys()
    return [(name, blocks[name], outputs[name]) for name in blocks]


def _normalise(output: str) -> str:
    return re.sub(r" in \d+\.\d+s", " in T", output).strip()


@pytest.mark.parametrize("name,source,expected", _docs_examples(), ids=[e[0] for e in _docs_examples()])
def test_docs_examples(pytester, run, name, source, expected):
    pytester.makepyfile(**{name.removesuffix(".py"): source})
    result = run("-q", name)
    assert _normalise(result.stdout.str()) == _normalise(expected)
