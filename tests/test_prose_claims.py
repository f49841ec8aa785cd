"""Every sentence of every derivation checked against its own equation (issue 16, section 1).

The derivations are those of ``tests/prose_corpus.py`` (docs/examples, the suite's, a course's) and the documents of
``tests/prose_corpus_cookbook.py`` (every recipe of docs/cookbook.md, documents of several gradients, worked
examples). For each step:
the indices a sentence says collapse are gone from its last side; "Hadamard" appears only where two matrices of
the same shape multiply; no sentence has an empty slot ("for every ,"); no internal name (``dL_dZ``) is
printed; an index letter means one range within a step and never a matrix's name; a sentence about Kronecker
deltas belongs to an equation that has one. No name of a matrix, ``f``, ``G``, ``L`` or an index letter appears
outside math in the LaTeX or Markdown prose (names are math pieces of the prose data, not words).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from prose_corpus import CASES
from prose_corpus_assumed import HVPS
from prose_corpus_cookbook import COOKBOOK, DOCUMENTS

from symderiv.cookbook import RECIPES
from symderiv.core import expr as ex
from symderiv.explain.derivation import Derivation, Derivations, derive
from symderiv.explain.second import derive_hvp
from symderiv.explain.steps import Equation, Grad, Matrix, Step
from symderiv.proofs.index import Delta, Ent, Idx, IndexSum, Partial, factor_indices
from symderiv.syntax.shapes import Typing

#: Every document walked: the single derivations, then the cookbook's, several gradients' and worked examples.
ALL = [*CASES, *DOCUMENTS]


@cache
def _derived(n: int) -> Derivation | Derivations:
    expression, wrt, shapes, options = ALL[n]
    return derive(expression, list(wrt) if isinstance(wrt, tuple) else wrt, shapes, **options)


IDS = [f"{e} wrt {','.join(w) if isinstance(w, tuple) else w}" + (f" {o}" if o else "") for e, w, _, o in ALL]


def _each(d: Derivation | Derivations) -> list[Derivation]:
    """The derivations a document is made of (one, or one per gradient)."""
    return list(d.derivations) if isinstance(d, Derivations) else [d]


def _walks(d: Derivation | Derivations) -> list[tuple[dict[str, ex.Shape], list[Step]]]:
    """The steps of a document as printed, with the shapes of every name they use: for several gradients, the
    shared blocks' steps and each gradient's own (``Part.steps``)."""
    if not isinstance(d, Derivations):
        return [(_shapes(d), d.steps)]
    env: dict[str, ex.Shape] = {}
    for one in d.derivations:
        env.update(_shapes(one))
    return [(env, [*d.steps, *(s for part in d.parts for s in part.steps)])]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


def test_the_walk_covers_forty_derivations_and_the_whole_cookbook():
    """Issue 16 "Done when": the sentence check runs over at least 40 derivations, all of docs/cookbook.md's
    expressions among them (read from the page's source, so a new recipe must be walked too)."""
    walked = sum(len(_each(_derived(n))) for n in range(len(ALL)))
    several = sum(1 for n in range(len(ALL)) if isinstance(_derived(n), Derivations))
    worked = sum(1 for n in range(len(ALL)) for one in _each(_derived(n)) if one.worked is not None)
    print(f"prose claims: {walked} derivations in {len(ALL)} documents ({several} of several gradients, "
          f"{worked} with a worked example)")
    assert walked >= 40 and several >= 5 and worked >= 5
    names = lambda w: set(w) if isinstance(w, tuple) else {w}  # noqa: E731
    covered = {(e, n) for e, w, _, _ in ALL for n in names(w)}
    assert all((r.expression, n) in covered for r in RECIPES for n in r.wrt)
    assert len(COOKBOOK) == len(RECIPES)


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


@pytest.mark.parametrize("n", range(len(ALL)), ids=IDS)
def test_every_sentence_is_true_of_its_equation(n):
    for env, steps in _walks(_derived(n)):
        _check_sentences(env, steps)


def _check_sentences(env: dict[str, ex.Shape], steps: list[Step]) -> None:
    names = set(env)
    for step in steps:
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


@pytest.mark.parametrize("n", range(len(ALL)), ids=IDS)
def test_no_internal_name_is_printed(n):
    d = _derived(n)
    for text in (d.to_text(), d.to_markdown(), d.to_latex(), d.to_html()):
        assert "dL_d" not in text and "dL\\_d" not in text


_EMPTY_SLOT = re.compile(r"every\s*[,:]|over\s*[,:]|\s[,;:]|\(\s*\)")


@pytest.mark.parametrize("n", [n for n, (_, _, _, o) in enumerate(ALL) if o.get("worked")],
                         ids=[i for i, (_, _, _, o) in zip(IDS, ALL, strict=True) if o.get("worked")])
def test_the_worked_example_sentences(n):
    """The worked section's sentences (printed from its data): no empty slot, no internal name, a heading and a
    cross-check per gradient."""
    d = _derived(n)
    text = d.to_text(width=1000)
    section = text[text.index("A worked example"):]
    sentences = [p for p in section.split("\n\n") if p and not p.startswith("    ") and "\n    " not in p]
    assert sentences and "dL_d" not in section
    for sentence in sentences:
        assert not _EMPTY_SLOT.search(sentence), sentence
    assert section.count("Cross-check:") == len(_each(d))


#: Math and code in LaTeX prose and in the displays (what is left is the words); commands are dropped.
_LATEX_MATH = re.compile(r"\$[^$]*\$|\\\[.*?\\\]|\\begin\{(align\*|equation|aligned|pmatrix)\}.*?\\end\{\1\}|"
                         r"\\texttt\{(?:\\[{}]|[^{}])*\}", re.S)  # code, its escaped braces \{ \} inside
_MARKDOWN_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", re.S)


def _words(latex_or_markdown: str, math: re.Pattern) -> str:
    body = latex_or_markdown.split("\\begin{document}", 1)[-1]
    words = re.sub(r"\\[a-zA-Z]+\*?", " ", math.sub(" ", body))
    # the article opening a sentence or heading ("A worked example", "A Hessian") is a word, whatever the matrices
    # are called
    return re.sub(r"(^|[{.#\n]\s*)A (?=[a-z]|[A-Z][a-z])", r"\1", words, flags=re.M)


def _bare(words: str, names: set[str]) -> list[str]:
    """The names that occur as words of their own (``W``, not ``W1``, ``Wx`` or ``symderiv's``)."""
    out = []
    for name in sorted(names):
        for m in re.finditer(rf"(?<![\w\\']){re.escape(name)}(?![\w'])", words):
            out.append(f"{name!r} in ...{words[max(0, m.start() - 60):m.end() + 30]}...")
    return out


def _prose_names(d: Derivation | Derivations) -> set[str]:
    """The names that must be math in prose: the matrices, the blocks' names, f, G, L and the index letters (but
    not ``a``, which is also the English article)."""
    names = {"f", "G", "L"}
    for one in _each(d):
        names |= set(one.shapes) | {b.name for b in one.blocks} | set(one.upstreams)
        names |= {i.name for s in one.steps for item in [*s.prose, s.equation] for i in _indices(item)}
    return {n for n in names if n != "a" and not n.startswith("dL_d")}


@pytest.mark.parametrize("n", range(len(ALL)), ids=IDS)
def test_names_in_prose_are_typeset_as_math(n):
    """Issue 16 §2: matrix names, f, G and index letters inside sentences are math, in LaTeX and Markdown."""
    d = _derived(n)
    names = _prose_names(d)
    assert not _bare(_words(d.to_latex(), _LATEX_MATH), names)
    assert not _bare(_words(d.to_markdown(), _MARKDOWN_MATH), names)


def test_grad_sides_are_whole_gradients():
    """A guard of the walker above: a Grad side has no indices."""
    assert _indices(Grad("W")) == []


@pytest.mark.parametrize("n", range(len(ALL)), ids=IDS)
def test_one_letter_one_range_in_the_whole_document(n):
    """Issue 16 §1: index letters are fresh per range across blocks, not only within a step (in each gradient's
    derivation of a document of several)."""
    for d in _each(_derived(n)):
        seen: dict[str, ex.Dim] = {}
        for step in d.steps:
            for i in (i for item in [*step.prose, step.equation] for i in _indices(item)):
                assert seen.setdefault(i.name, i.dim) == i.dim, \
                    f"{step.justification}: {i.name} over {seen[i.name]}, {i.dim}"


@pytest.mark.parametrize("n", range(len(HVPS)), ids=[f"hvp {e} wrt {w}" for e, w, _ in HVPS])
def test_names_in_the_prose_of_an_hvp_are_math(n):
    """derive_hvp's own sentences (the pairing, the identification, the result with the prover's words as code)."""
    expression, wrt, shapes = HVPS[n]
    d = derive_hvp(expression, wrt, shapes=shapes)
    names = _prose_names(d) | {"V"}
    assert not _bare(_words(d.to_latex(), _LATEX_MATH), names)
    assert not _bare(_words(d.to_markdown(), _MARKDOWN_MATH), names)
    plain = derive_hvp(expression, wrt, shapes=shapes, asides=False).to_text()
    assert "symderiv's language" not in plain and "(Check:" not in plain
