"""tools/mutation.py stays usable: its test subsets exist, its list of equivalent mutants is not stale, and one
mutant can be named (``--only``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_tool"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["mutation_tool"]


def test_every_configured_module_and_test_file_exists(tool):
    for module, tests in tool.MODULES.items():
        assert (ROOT / "symderiv" / module).is_file(), module
        missing = [t for t in tests if not (ROOT / t).is_file()]
        assert not missing, (module, missing)
    assert set(tool.VERDICT_LOGIC) <= set(tool.MODULES)


def test_each_equivalent_mutant_still_exists_and_has_a_reason(tool):
    everything = [m for module in tool.MODULES for m in tool.mutants(module)]
    found, stale = tool.equivalent(everything)
    assert not stale, stale  # an entry whose line changed must be looked at again
    assert all(len(reason) > 20 for reason in found.values())


def test_one_mutant_is_named_by_its_line_and_index(tool):
    m = tool.mutants("proofs/random/random_real.py")[0]
    assert tool._selected(m, f"random_real.py:{m.line}#{m.index}")
    assert tool._selected(m, f"proofs/random/random_real.py:{m.line}")
    assert not tool._selected(m, f"random_real.py:{m.line + 1}")
    assert tool.mutated_source(m) != (ROOT / "symderiv" / m.module).read_text(encoding="utf-8")


def test_every_tuning_pragma_gives_its_reason_and_they_stay_few(tool):
    """``# pragma: no mutate`` leaves a line's mutants out: each such line says why (tuning constants only), and
    together they stay under 2.5% of the mutants, so the score cannot be bought by marking lines (the confirmation's
    table of scales alone is 24 of them)."""
    marked = {module: tool.pragma_lines(module) for module in tool.MODULES}
    assert all(len(reason) >= 6 for lines in marked.values() for reason in lines.values()), marked
    left_out = sum(len(tool.mutants(module, pragmas=True)) for module in tool.MODULES)
    total = left_out + sum(len(tool.mutants(module)) for module in tool.MODULES)
    assert 0 < left_out < 0.025 * total, (left_out, total)


def test_the_strict_flag_of_zip_is_not_mutated(tool, tmp_path):
    """``zip(..., strict=True)`` is a guard like ``assert``: it is left out, and nothing else on its line is."""
    tree = tool.ast.parse("for x, y in zip(a, b, strict=True):\n    total = x + y\n")
    sites = [description for _, description, _ in tool._sites(tree)]
    assert sites == ["Add → Sub"]
