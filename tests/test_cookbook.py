"""docs/cookbook.md: current (``python -m symderiv.docs --check``), and every formula ON THE PAGE proved again
by ``symderiv.verify`` and compared with NumPy finite differences, the named forms written out first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import symderiv
from symderiv import cookbook, docs
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.syntax.language import parse

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cookbook.md"


@dataclass(frozen=True)
class Entry:
    """One formula read back from the page."""

    title: str
    expression: str
    shapes: dict
    assume: dict
    wrt: str
    formula: str
    status: str


def _dim(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _read_page(text: str) -> list[Entry]:
    entries = []
    for section in text.split("\n## ")[1:]:
        title = section.splitlines()[0]
        expression = re.search(r"^`([^`]+)`$", section, re.M).group(1)
        shapes = {k: (_dim(r), _dim(c)) for k, r, c in re.findall(r"`(\w+)`: (\w+)×(\w+)", section.split("Shapes:")[1].splitlines()[0])}
        line = re.search(r"^Assumptions: (.*)\.$", section, re.M)
        assume = dict(re.findall(r"`(\w+)` (\w+)", line.group(1))) if line else {}
        for wrt, formula, status in re.findall(r"^- `∂L/∂(\w+) = (.+)`: \*\*(.+)\*\*$", section, re.M):
            entries.append(Entry(title, expression, shapes, assume, wrt, formula, status))
        for wrt, named in re.findall(r"^  - named: `∂L/∂(\w+) = (.+)`$", section, re.M):
            entries.append(Entry(title, expression, shapes, assume, wrt, _expand(named), "named"))
    return entries


def _expand(named: str) -> str:
    """``body where S = ..., T = ...`` with each name replaced by its definition (definitions may use each other)."""
    body, defs = named.split(" where ", 1)
    parts = re.split(r"(?:^|, )([A-Z]\w*) = ", defs)[1:]
    table = dict(zip(parts[0::2], parts[1::2], strict=True))
    for _ in range(len(table) + 1):
        for name, definition in table.items():
            body = re.sub(rf"(?<![.\w]){name}(?!\w)", f"({definition})", body)
    assert not any(re.search(rf"(?<![.\w]){name}(?!\w)", body) for name in table)
    return body


ENTRIES = _read_page(PAGE.read_text(encoding="utf-8"))


def _instance(entry: Entry, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Random values for every matrix, with distinct sizes 2, 3, ... for the dimension names
    (in reverse order for odd seeds); one-hot rows
    where the page assumes them, and a positive scalar under a square root."""
    rng = np.random.default_rng(seed)
    names = sorted({d for shape in entry.shapes.values() for d in shape if isinstance(d, str)})
    sizes = {name: i + 2 for i, name in enumerate(names if seed % 2 == 0 else names[::-1])}
    env = {}
    for k, (r, c) in entry.shapes.items():
        shape = (sizes.get(r, r), sizes.get(c, c))
        if entry.assume.get(k) == "onehot_rows":
            env[k] = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
        elif shape == (1, 1):
            env[k] = rng.uniform(1.0, 4.0, shape)
        else:
            env[k] = rng.normal(size=shape)
    return env, sizes


def test_the_page_has_every_recipe_of_the_issue_and_every_parameter():
    titles = {e.title for e in ENTRIES}
    for wanted in ("Linear layer", "Bias", "ReLU", "Sigmoid", "Tanh", "Softmax", "Log-softmax",
                   "Cross-entropy with one-hot labels", "Mean squared error", "Logistic regression",
                   "L2 regularisation", "Layer norm", "Two-layer network", "Single-head attention"):
        assert wanted in titles
    for recipe in cookbook.RECIPES:
        found = {e.wrt for e in ENTRIES if e.title == recipe.title and e.status != "named"}
        assert found == set(recipe.wrt), recipe.title
    assert len(ENTRIES) >= 30


def test_the_classic_formulas_are_on_the_page():
    formulas = {(e.title, e.wrt): e.formula for e in ENTRIES if e.status != "named"}
    assert formulas["Cross-entropy with one-hot labels", "X"] == "softmax(X, axis=1) - Y"
    assert formulas["Cross-entropy, labels without an assumption", "X"] == "softmax(X, axis=1) * sum(Y, axis=1) - Y"
    assert formulas["Softmax", "X"] == "softmax(X, axis=1) * (G - sum(G * softmax(X, axis=1), axis=1))"
    assert formulas["Single-head attention", "V"] == "softmax((Q @ K.T) / sqrt(d), axis=1).T @ G"


def _with_sizes(formula: str, sizes: dict) -> str:
    """The formula with the dimension names inside ones(...), zeros(...) and eye(...) replaced by sizes."""
    def sized(match: re.Match) -> str:
        args = [str(sizes.get(a.strip(), a.strip())) for a in match.group(2).split(",")]
        return f"{match.group(1)}({', '.join(args)})"
    return re.sub(r"\b(ones|zeros|eye)\(([^()]*)\)", sized, formula)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.title}-{e.wrt}-{e.status}")
def test_every_formula_on_the_page_is_proved_again(entry: Entry):
    verdict = symderiv.verify(entry.expression, wrt=entry.wrt, claim=entry.formula, shapes=entry.shapes,
                              assume=entry.assume or None)
    if entry.assume or (verdict.checked_at_sizes and entry.status != "proved for all shapes"):
        # Under an assumption the all-shapes engine proves the formula before its rewrite (gradient() says which,
        # and why the rewrite holds); a formula the page marks "checked at sample sizes only" (or its named form)
        # is not proved for all shapes either. Either way the page's own formula is proved exactly on two
        # concrete sizes here.
        assert verdict.holds or verdict.checked_at_sizes, verdict.reason
        for seed in (0, 1):
            sizes = _instance(entry, seed)[1]
            concrete = {k: (sizes.get(r, r), sizes.get(c, c)) for k, (r, c) in entry.shapes.items()}
            exact = symderiv.verify(entry.expression, wrt=entry.wrt, claim=_with_sizes(entry.formula, sizes),
                                    shapes=concrete, assume=entry.assume or None)
            assert exact.status == "proved", exact.reason
        return
    assert verdict.holds, verdict.reason
    if entry.status == "proved for all shapes":
        assert verdict.status == "proved" and "for all shapes" in verdict.reason


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.title}-{e.wrt}-{e.status}")
def test_every_formula_on_the_page_matches_finite_differences(entry: Entry):
    for seed in (0, 1):
        env, sizes = _instance(entry, seed)
        node = parse(entry.expression)
        value = evaluate(node, env, sizes=sizes)
        upstream = None if value.shape == (1, 1) else np.random.default_rng(seed + 10).normal(size=value.shape)
        numeric = finite_difference_gradient(node, entry.wrt, env, upstream, sizes=sizes)
        claimed = evaluate(parse(entry.formula, allow_upstream=True), env | ({} if upstream is None else {"G": upstream}), sizes=sizes)
        np.testing.assert_allclose(np.broadcast_to(claimed, numeric.shape), numeric, rtol=1e-5, atol=1e-6)


def test_a_wrong_formula_would_fail_both_checks():
    # The checks above can fail: drop the one-hot assumption's "- Y" or the assumption itself.
    entry = next(e for e in ENTRIES if e.title == "Cross-entropy with one-hot labels")
    wrong = Entry(entry.title, entry.expression, entry.shapes, {}, entry.wrt, entry.formula, entry.status)
    assert not symderiv.verify(wrong.expression, wrt="X", claim=wrong.formula, shapes=wrong.shapes).holds
    env, sizes = _instance(wrong)
    numeric = finite_difference_gradient(parse(wrong.expression), "X", env, None, sizes=sizes)
    assert not np.allclose(evaluate(parse(wrong.formula), env, sizes=sizes), numeric, rtol=1e-5, atol=1e-6)


def test_named_forms_expand_to_their_formula():
    assert _expand("S * (G - sum(G * S, axis=1)) where S = softmax(X, axis=1)") == \
        "(softmax(X, axis=1)) * (G - sum(G * (softmax(X, axis=1)), axis=1))"
    assert _expand("T.T @ K where T = U @ V, U = Q.T") == "((Q.T) @ V).T @ K"
    assert sum(e.status == "named" for e in ENTRIES) >= 4


def test_the_page_is_current_and_check_catches_drift(tmp_path):
    assert PAGE.read_text(encoding="utf-8") == cookbook.render()
    assert docs.main(["--root", str(tmp_path)]) == 0
    page = tmp_path / "docs" / "cookbook.md"
    assert docs.main(["--check", "--root", str(tmp_path)]) == 0
    page.write_text(page.read_text(encoding="utf-8").replace("softmax(X, axis=1) - Y", "softmax(X) - Y"), encoding="utf-8")
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1
    page.unlink()
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1


def test_the_page_is_linked():
    assert "docs/cookbook.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(cookbook.md)" in (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
