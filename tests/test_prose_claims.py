"""Every sentence of every derivation checked against its own equation (issue 16, section 1).

The derivations are those of ``tests/prose_corpus.py`` (docs/examples, the suite's, a course's). For each step:
the indices a sentence says collapse are gone from its last side; "Hadamard" appears only where two matrices of
the same shape multiply; no sentence has an empty slot ("for every ,"); no internal name (``dL_dZ``) is
printed; an index letter means one range within a step and never a matrix's name; a sentence about Kronecker
deltas belongs to an equation that has one.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from prose_corpus import CASES

from symderiv.core import expr as ex
from symderiv.explain.derivation import Derivation, derive
from symderiv.explain.steps import Equation, Grad, Matrix, Step
from symderiv.proofs.index import Delta, Ent, Idx, IndexSum, Partial, factor_indices
from symderiv.syntax.shapes import Typing


@cache
def _derived(n: int) -> Derivation:
    expression, wrt, shapes, options = CASES[n]
    return derive(expression, wrt, shapes, **options)


IDS = [f"{e} wrt {w}" + (f" {o}" if o else "") for e, w, _, o in CASES]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


def _indices(item: Any) -> list[Idx]:
    """Every index an item of prose or an equation side mentions."""
    if isinstance(item, Idx):
        return [item]
    if isinstance(item, Equation):
        return [i for s in item.sides for i in _indices(s)]
    if isinstance(item, IndexSum):
        out: list[Idx] = []
        for t in item.terms:
            out += [i for i in t.sums if isinstance(i, Idx)]
            for f in t.factors:
                out += [i for i in factor_indices(f) if isinstance(i, Idx)]
                if isinstance(f, Partial) and isinstance(f.num, IndexSum):
                    out += _indices(f.num)
        return out
    if isinstance(item, Ent):
        return [i for i in (item.row, item.col) if isinstance(i, Idx)]
    return []


def _delta_on(side: Any, k: Idx) -> bool:
    return isinstance(side, IndexSum) and any(isinstance(f, Delta) and k in (f.a, f.b)
                                              for t in side.terms for f in t.factors)


def _shapes(d: Derivation) -> dict[str, ex.Shape]:
    env = dict(d.shapes)
    for b in reversed(d.blocks):
        env.setdefault(b.name, Typing(dict(env)).shape_of(b.definition))
    for sym, node in d.upstreams.items():
        env[sym] = env[node]
    return env


def _claimed_collapsed(step: Step) -> list[Idx]:
    """The indices that the sentence says a Kronecker delta collapses."""
    out: list[Idx] = []
    for n, item in enumerate(step.prose):
        if isinstance(item, str) and "collapse" in item:
            for later in step.prose[n + 1:]:
                if isinstance(later, str) and later not in (" and ", ", "):
                    break
                if isinstance(later, Idx):
                    out.append(later)
    return out


def _mul_shapes(node: ex.Expr, env: dict[str, ex.Shape]) -> list[tuple[ex.Shape, ex.Shape]]:
    typing = Typing(env)
    return [(typing.shape_of(m.left), typing.shape_of(m.right)) for m in node.walk() if isinstance(m, ex.Mul)]


@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_every_sentence_is_true_of_its_equation(n):
    d = _derived(n)
    env = _shapes(d)
    names = set(env)
    for step in d.steps:
        where = f"step {step.kind.value}: {step.justification}"
        last = step.equation.sides[-1]
        for k in _claimed_collapsed(step):
            # a delta on k in an earlier side, and a term of the last side without the sum over k
            assert any(_delta_on(s, k) for s in step.equation.sides[:-1]), f"{where}: no delta on {k.name}"
            before = next(s for s in step.equation.sides if _delta_on(s, k))
            assert isinstance(last, IndexSum) and isinstance(before, IndexSum)
            merged = len(last.terms) < len(before.terms)  # equal terms collected (x.T @ S @ x, S symmetric)
            assert merged or any(k not in t.sums for t in last.terms), f"{where}: the sum over {k.name} is still there"
        if "match" in step.justification:  # "(1 when the indices match, else 0)" names a delta
            assert "δ" in step.justification, where
        if "Hadamard" in step.justification:
            rhs = step.equation.rhs
            assert isinstance(rhs, Matrix)
            pairs = _mul_shapes(rhs.expr, env)
            assert any(a == b and a != (1, 1) for a, b in pairs), f"{where}: no two equal shapes multiply: {pairs}"
        # no empty slot
        assert not re.search(r"every\s*[,:]|over\s*[,:]|\s[,;:]|\(\s*\)|  ", step.justification), where
        # one index letter, one range, never a matrix's name
        seen: dict[str, ex.Dim] = {}
        items = [*step.prose, step.equation]
        for i in (i for item in items for i in _indices(item)):
            assert seen.setdefault(i.name, i.dim) == i.dim, f"{where}: index {i.name} over {seen[i.name]} and {i.dim}"
            assert i.name not in names, f"{where}: index {i.name} is also a matrix's name"


@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_no_internal_name_is_printed(n):
    d = _derived(n)
    for text in (d.to_text(), d.to_markdown(), d.to_latex(), d.to_html()):
        assert "dL_d" not in text and "dL\\_d" not in text


def test_grad_sides_are_whole_gradients():
    """A guard of the walker above: a Grad side has no indices."""
    assert _indices(Grad("W")) == []


@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_one_letter_one_range_in_the_whole_document(n):
    """Issue 16 §1: index letters are fresh per range across blocks, not only within a step."""
    d = _derived(n)
    seen: dict[str, ex.Dim] = {}
    for step in d.steps:
        for i in (i for item in [*step.prose, step.equation] for i in _indices(item)):
            assert seen.setdefault(i.name, i.dim) == i.dim, f"{step.justification}: {i.name} over {seen[i.name]}, {i.dim}"
