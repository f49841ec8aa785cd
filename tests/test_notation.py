"""Issue 16 §2, the options of a derivation's wording: ``notation`` (``∂L/∂D_ij`` or the upstream's letter ``G_ij``),
``asides`` (the notes on how each step is checked and the formula in symderiv's language), and quoted formulas as
code rather than words."""

from __future__ import annotations

import html
import re
from functools import cache

import pytest

from symderiv.cli import main
from symderiv.core.errors import OptionError
from symderiv.explain.derivation import Derivation, Derivations, derive

#: Single derivations and documents of several gradients, with inner blocks, assumptions, a symmetric matrix.
CASES = [
    ("W @ X", "W", None, {}),
    ("relu(W1 @ X + b)", "W1", {"b": ("H", 1)}, {}),
    ("relu(W1 @ X + b)", "W1", {"b": ("H", 1)}, {"detail": "full", "numbered": True}),
    ("-sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))", "w",
     {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}, {}),
    ("W2 @ relu(W1 @ X + b1) + b2", "W1", {"b1": ("h", 1), "b2": ("o", 1)}, {}),
    ("logdet(S)", "S", {"S": (3, 3)}, {"symmetric": ["S"]}),
    ("sum(Y * Y * X)", "X", {"X": (2, 3)}, {"assume": {"Y": "onehot_rows"}}),
    ("relu(W @ X + b)", ("W", "b"), {"b": ("H", 1)}, {"worked": True}),
]
IDS = [f"{e} wrt {w}" + (f" {o}" if o else "") for e, w, _, o in CASES]
FORMATS = ("text", "latex", "markdown", "html")


@cache
def _derived(n: int, **extra: object) -> Derivation | Derivations:
    expression, wrt, shapes, options = CASES[n]
    return derive(expression, list(wrt) if isinstance(wrt, tuple) else wrt, shapes, **{**options, **extra})


def _each(d: Derivation | Derivations) -> list[Derivation]:
    return list(d.derivations) if isinstance(d, Derivations) else [d]


def _render(d: Derivation | Derivations, fmt: str) -> str:
    """The document in ``fmt`` (HTML's entities decoded, lines joined)."""
    printed = {"text": d.to_text, "latex": d.to_latex, "markdown": d.to_markdown, "html": d.to_html}[fmt]()
    return " ".join(html.unescape(printed).split())


@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_the_notation_changes_only_the_printing(n):
    """The same equations (data), every step checked, the same proved result: the check is on the equations."""
    partial, upstream = _derived(n), _derived(n, notation="upstream")
    assert upstream.notation == "upstream" and partial.notation == "partial"
    for a, b in zip(_each(partial), _each(upstream), strict=True):
        assert [s.equation for s in a.steps] == [s.equation for s in b.steps]
        assert [s.kind for s in a.steps] == [s.kind for s in b.steps]
        assert all(s.checked for s in b.steps)
        assert (a.result.formula, a.result.proof_status) == (b.result.formula, b.result.proof_status)
        # the steps' own text follows the notation: the upstream's entries by their letter, not as ∂L/∂node_ij
        nodes = set(b.upstreams.values())
        for step in b.steps:
            for node in nodes:
                assert not re.search(rf"∂L/∂\(?{node}\)?_\w+ ·", step.equation_text.split(" = ", 1)[-1]), \
                    step.equation_text
    for fmt in FORMATS:  # a scalar expression has no upstream gradient: nothing to write differently
        assert (_render(partial, fmt) != _render(upstream, fmt)) == bool(partial.upstreams)


def test_upstream_notation_writes_the_letters():
    d = derive("W @ X", "W", notation="upstream")
    assert d.steps[0].equation_text == "∂L/∂W_dc = Σ_{i,j} G_ij · ∂D_ij/∂W_dc"
    assert derive("W @ X", "W").steps[0].equation_text == "∂L/∂W_dc = Σ_{i,j} ∂L/∂D_ij · ∂D_ij/∂W_dc"
    assert r"\sum_{i,j} G_{ij} \, \frac{\partial D_{ij}}" in d.to_latex()
    assert "(called $G$ in formulas) has entries $G_{ij}$" in d.to_markdown()
    # the letter is named as itself in both notations (a Name, not the gradient it stands for)
    assert r"(called $G$ in formulas) has entries $\frac{\partial L}{\partial D_{ij}}$" in derive("W @ X", "W").to_markdown()
    assert "(called U in formulas) has entries ∂L/∂D_ij" in derive("W @ X", "W", upstream="U", check=False).to_text()


def test_an_inner_block_introduces_its_letter_once_in_every_format():
    d = _derived(4, notation="upstream")  # the two-layer network: blocks for A, Z1 (inner) and the root
    inner = sorted(node for sym, node in d.upstreams.items() if sym.startswith("dL_d"))
    assert inner
    text, latex = d.to_text(width=1000), d.to_latex()
    for node in inner:
        latex_node = node[0] + (f"_{{{node[1:]}}}" if node[1:] else "")
        assert text.count(f"is written G_{node} = ∂L/∂{node}.") == 1, text
        assert latex.count(rf"$G_{{{latex_node}}} = \frac{{\partial L}}{{\partial {latex_node}}}$") == 1
        assert f"(G_{node})_" in text
        assert d.to_markdown().count("is written $G_") == len(inner)
        assert d.to_html().count("is written <math") == len(inner)
    partial = _derived(4)
    assert "G_Z" not in partial.to_text() and "is written" not in partial.to_text()


def test_documents_of_several_gradients_and_the_cli_take_the_notation(capsys):
    d = derive("relu(W @ X + b)", ["W", "b"], {"b": ("H", 1)}, notation="upstream", detail="full", check=False)
    assert isinstance(d, Derivations) and d.notation == "upstream"
    text = d.to_text(width=1000)
    assert "is written G_Z = ∂L/∂Z." in text and "(G_Z)_" in text
    assert main(["derive", "W @ X", "--wrt", "W", "--notation", "upstream"]) == 0
    assert "Σ_{i,j} G_ij · ∂D_ij/∂W_dc" in capsys.readouterr().out
    assert main(["derive", "W @ X", "--wrt", "W", "--notation", "G"]) == 2


def test_an_unknown_notation_is_refused():
    with pytest.raises(OptionError, match="notation"):
        derive("W @ X", "W", notation="letters")


#: The asides: the notes on how steps are checked, and the formula in symderiv's language.
ASIDES = ("(Check:", "symderiv's language", "checked exactly", "Cross-check", "checked step by step")


def _asides_in(text: str) -> list[str]:
    return [a for a in ASIDES if a in text.replace("\\", "")]


@pytest.mark.parametrize("n", range(len(CASES)), ids=IDS)
def test_no_asides_drops_every_check_note_and_the_language_aside(n):
    """``asides=False``: no "(Check: …)" note, no "checked exactly", no "(G @ X.T in symderiv's language)", no
    worked cross-check, in every format; the asides are there by default (so this test can fail)."""
    with_asides, without = _derived(n), _derived(n, asides=False)
    for fmt in FORMATS:
        assert "symderiv's language" in _render(with_asides, fmt)
        assert not _asides_in(_render(without, fmt)), (fmt, _asides_in(_render(without, fmt)))
    # the steps are the same, and still checked
    for a, b in zip(_each(with_asides), _each(without), strict=True):
        assert [s.equation for s in a.steps] == [s.equation for s in b.steps] and all(s.checked for s in b.steps)
        assert a.result.proof_status == b.result.proof_status


def test_check_notes_are_asides():
    """The derivations whose steps carry a check note print it by default and drop it with asides=False."""
    for n in (5, 6):  # a symmetric convention's step, an assumption's step
        assert any(s.check_note for s in _derived(n).steps)
        assert "(Check:" in _derived(n).to_text() and "(Check:" not in _derived(n, asides=False).to_text()
    worked = _derived(7)
    assert "Cross-check" in worked.to_text() and "Cross-check" not in _derived(7, asides=False).to_text()


def test_cli_no_asides(capsys):
    assert main(["derive", "logdet(S)", "--wrt", "S", "--symmetric", "S", "--shape", "S=3,3", "--no-asides",
                 "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert not _asides_in(out) and r"\section*{Derivation" in out


def test_formulas_in_symderivs_language_are_code():
    d = derive("W @ X", "W")
    assert r"(\texttt{G @ X.T} in symderiv's language)" in d.to_latex()
    assert "(`G @ X.T` in symderiv's language)" in d.to_markdown()
    assert "(<code>G @ X.T</code> in symderiv&#x27;s language)" in d.to_html()
    assert "(G @ X.T in symderiv's language)" in d.to_text()
