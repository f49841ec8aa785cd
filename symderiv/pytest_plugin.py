"""pytest plugin for symderiv (registered through the ``pytest11`` entry point).

It gives tests:

- the ``symderiv_verify`` fixture (a :class:`symderiv.testing.Checker`):
  ``symderiv_verify("X @ W", "W", "X.T @ G", shapes)``, ``symderiv_verify(identity)``,
  ``symderiv_verify.backward(fn, expr, wrt, shapes)``;
- the ``symderiv_identities(source)`` marker: parametrizes a test's ``identity``
  argument with the rows of a TOML/JSON table (a path relative to the test file)
  or a Python list, one test case per row, with readable ids for ``-k``;
- readable failures: ``assert verdict == HOLDS`` shows the verdict's report
  (``pytest_assertrepr_compare``), and a bare ``assert symderiv.verify(...)``
  gets a "symderiv" report section (assertrepr_compare only fires for comparisons).
  Only ``proved`` and ``probabilistic`` verdicts pass; a ``refuted`` or ``undecided`` one
  is reported with its first line (``NOT PROVED`` / ``UNDECIDED``), its reason and, for an
  undecided one, how to get a proof.

Loading it costs nothing in suites that do not use it: this module imports only
the standard library and pytest; symderiv's engine is loaded (:func:`_testing`) by the fixture
and hooks when they need it, and the hooks return at once unless ``symderiv.proofs.verification`` is
already loaded.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_MARKER = "symderiv_identities"


def _testing() -> ModuleType:
    """:mod:`symderiv.testing`, imported on first use: suites that do not use symderiv never load it."""
    return importlib.import_module("symderiv.testing")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_MARKER}(source): run the test once per identity of a TOML/JSON file (path relative to "
        "the test file) or a list of {{expr, wrt, claim, shapes}} rows, passed as the `identity` argument")


@pytest.fixture
def symderiv_verify() -> Any:
    """Assert gradients, identity rows and backward passes (see ``symderiv.testing.Checker``)."""
    return _testing().Checker()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(_MARKER)
    if marker is None:
        return
    # pytest.fail at collection time is a collection error with just this message (no traceback into pytest).
    if len(marker.args) + len(marker.kwargs) != 1 or (marker.kwargs and "source" not in marker.kwargs):
        pytest.fail(f"@pytest.mark.{_MARKER} takes one source: a .toml/.json path or a list of rows", pytrace=False)
    if "identity" not in metafunc.fixturenames:
        pytest.fail(f"{metafunc.definition.nodeid}: @pytest.mark.{_MARKER} passes each row as the `identity` "
                    "argument; add it to the test's parameters", pytrace=False)
    source = marker.args[0] if marker.args else marker.kwargs["source"]
    if isinstance(source, (str, Path)) and not Path(source).is_absolute():
        source = Path(metafunc.definition.path).parent / source
    rows = _testing().load_identities(source)
    metafunc.parametrize("identity", rows, ids=[row.test_id for row in rows])


def _verdict_class() -> Any:
    # No symderiv.proofs.verification loaded means no Verdict can exist, so there is nothing to report (and nothing to import).
    module = sys.modules.get("symderiv.proofs.verification")
    return getattr(module, "Verdict", None)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    verdict_cls = _verdict_class()
    if verdict_cls is None or op not in ("==", "!="):
        return None
    if isinstance(left, verdict_cls):
        verdict, other = left, right
    elif isinstance(right, verdict_cls):
        verdict, other = right, left
    else:
        return None
    testing = _testing()
    if other is not testing.HOLDS and other is not True:
        return None
    if not verdict.holds:
        # pytest cuts explanations after 8 lines unless -vv, so this is the summary; the witness follows in the
        # "symderiv" report section that pytest_runtest_makereport adds.
        return list(testing.verdict_report(verdict, witness=False).splitlines())
    if other is True and op == "==":
        # A dataclass never equals True; say so rather than print a PROVED report under a failure.
        return ["a Verdict never == True: write `assert verdict` or `assert verdict == HOLDS` "
                "(from symderiv.testing)", *verdict.report().splitlines()]
    return None


def _failing_verdicts(excinfo: pytest.ExceptionInfo[BaseException], verdict_cls: Any) -> list[Any]:
    """Verdicts that do not hold among the values of the failing ``assert`` statement."""
    entry = excinfo.traceback[-1]
    frame = entry.frame
    if str(frame.f_globals.get("__name__", "")).startswith("symderiv."):
        return []  # assert_gradient / check_backward raised: their message already is the report
    try:
        tree = ast.parse(str(entry.statement).strip())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    except SyntaxError:
        names = set()
    found: list[Any] = []
    for key, value in frame.f_locals.items():
        # "@py_assert<n>" are pytest's rewrite temporaries: the sub-values of the failing assert.
        if (key in names or key.startswith("@py_assert")) and isinstance(value, verdict_cls) \
                and not value.holds and all(value is not f for f in found):
            found.append(value)
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    # Runs before pytest's own makereport (which builds the report from item's sections), and returns None
    # so that it still does.
    if call.when != "call" or call.excinfo is None or not call.excinfo.errisinstance(AssertionError):
        return None
    verdict_cls = _verdict_class()
    if verdict_cls is None:
        return None
    try:
        verdicts = _failing_verdicts(call.excinfo, verdict_cls)
    except Exception:  # noqa: BLE001 - a report section is a courtesy; never turn a failure into a crash
        return None
    if verdicts:
        report = _testing().verdict_report
        item.add_report_section("call", "symderiv", "\n\n".join(report(v) for v in verdicts))
    return None
