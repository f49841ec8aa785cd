"""Several ``--wrt`` names in one document (issue 16, section 4): the blocks they share derived once, then each
gradient's own blocks and result, in all four formats; the LaTeX compiles with pdflatex."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import symderiv
from symderiv.cli import main
from symderiv.explain.derivation import Derivation, Derivations, derive

LAYER = ("relu(W @ X + b)", {"b": ("H", 1)})
TWO_LAYER = ("W2 @ relu(W1 @ X + b1) + b2", {"b1": ("H", 1), "b2": ("O", 1)})


@pytest.fixture(scope="module")
def layer():
    return derive(LAYER[0], ["W", "b"], LAYER[1])


@pytest.fixture(scope="module")
def network():
    return derive(TWO_LAYER[0], ["W1", "b1", "W2", "b2"], TWO_LAYER[1], check=False)


def test_the_shared_block_is_derived_once_and_each_gradient_keeps_its_own(layer):
    assert isinstance(layer, Derivations) and layer.names == ["W", "b"]
    assert [b.name for b in layer.blocks] == ["A"] and [b.number for b in layer.blocks] == [1]
    assert [[b.number for b in p.blocks] for p in layer.parts] == [[2], [3]]
    assert [p.uses for p in layer.parts] == [(1,), (1,)]
    # each derived alone with the document's index letters (the other name's entry letters kept: explain/build.py)
    alone = {w: derive(LAYER[0], w, LAYER[1], _together=[o for o in ("W", "b") if o != w]) for w in ("W", "b")}
    for part in layer.parts:
        single = alone[part.wrt]
        # the part's steps are the single derivation's steps without the shared ones, equations unchanged
        assert [s.equation for s in layer.blocks[0].steps + tuple(part.steps)] == [s.equation for s in single.steps]
        assert layer.results[part.wrt].formula == single.result.formula
        assert part.conclusion == single.conclusion
    shared = len(layer.blocks[0].steps)  # the shared block's steps once, not twice
    assert len(layer.steps) == shared + sum(len(p.steps) for p in layer.parts)
    assert len(layer.steps) == sum(len(d.steps) for d in layer.derivations) - shared
    assert all(s.checked for s in layer.steps)


def test_gradients_that_share_nothing_say_so():
    d = derive(TWO_LAYER[0], ["W2", "b2"], TWO_LAYER[1], check=False)
    assert d.blocks == () and "They share no block, so each is derived in turn." in d.to_text()
    assert derive("W @ X", ["W"], check=False).__class__ is Derivation  # one name: the usual document


def test_some_blocks_are_shared_by_some_gradients(network):
    assert [b.name for b in network.blocks] == ["D", "A"]  # D wrt A, A wrt Z: shared by W1 and b1
    uses = {p.wrt: p.uses for p in network.parts}
    assert uses == {"W1": (1, 2), "b1": (1, 2), "W2": (), "b2": ()}
    numbers = [b.number for b in network.blocks] + [b.number for p in network.parts for b in p.blocks]
    assert numbers == list(range(1, len(numbers) + 1))
    text = network.to_text()
    assert "This gradient goes through Blocks 1, 2 above." in text


def test_every_format_is_one_document_with_the_shared_block_once(layer):
    text, latex, md, page = layer.to_text(), layer.to_latex(), layer.to_markdown(), layer.to_html()
    assert text.count("Derivation of ∂L/∂W and ∂L/∂b for relu(W @ X + b)") == 1
    assert text.count("Block 1: A = relu(Z), for ∂L/∂Z") == 1 and text.count("Step 1.") == 1
    last = len({id(s) for s in [*layer.steps, *(s for p in layer.parts for s in p.steps)]})  # numbered throughout
    assert text.count(f"Step {last}.") == 1 and f"Step {last + 1}." not in text and text.count("Result:") == 2
    assert latex.count("\\documentclass") == 1 and latex.count("\\subsubsection*{Block 1: $A =") == 1
    assert latex.count("\\subsection*{The gradient") == 2 and latex.count("\\boxed") == 2
    assert md.count("### Block 1: $A =") == 1 and md.count("## The gradient $") == 2 and md.count("# Derivation") == 1
    assert page.count("<h3>Block 1: ") == 1 and page.count("<!DOCTYPE html>") == 1
    assert "<title>∂L/∂W, ∂L/∂b for relu(W @ X + b)</title>" in page
    # shared intro once; each part's own entry sentence
    assert text.count("Let W be H×n") == 1 and "we pick one entry b_d" in text and "we pick one entry W_dc" in text
    assert repr(layer) == f"<Derivations of ∂L/∂W, ∂L/∂b for relu(W @ X + b): {last} steps>"
    assert layer._repr_latex_().count(r"\text{(") == last


def test_the_command_line_writes_one_document_in_every_format(capsys):
    for fmt, marker in (("text", "Derivation of ∂L/∂W and ∂L/∂b"), ("latex", "\\documentclass"),
                        ("markdown", "# Derivation of $"), ("html", "<!DOCTYPE html>")):
        assert main(["derive", "X @ W + b", "--wrt", "W", "--wrt", "b", "--shape", "b=1,H", "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert out.count(marker) == 1, fmt
        assert "The blocks they share" not in out  # X @ W + b: the two gradients share no block
        assert "They share no block" in out
        assert ("X.T @ G" in out and "sum(G, axis=0)" in out) if fmt == "text" else True
    assert main(["derive", "X @ W + b", "--wrt", "W", "--wrt", "b", "--json"]) == 0
    assert [d["result"]["wrt"] for d in __import__("json").loads(capsys.readouterr().out)] == ["W", "b"]


def test_markdown_of_several_keeps_its_math(network):
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py is a test dependency")
    dollarmath = pytest.importorskip("mdit_py_plugins.dollarmath", reason="mdit-py-plugins is a test dependency")
    text = network.to_markdown()
    parser = markdown_it.MarkdownIt("commonmark").use(dollarmath.dollarmath_plugin, double_inline=True)
    blocks = [t for t in parser.parse(text) if t.type == "math_block"]
    assert len(blocks) == text.count("$$\n\\begin{aligned}") == len(network.steps)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (apt: texlive-latex-base)")
def test_the_latex_of_several_compiles(network, layer, tmp_path):
    for stem, doc in (("network", network), ("layer", layer)):
        (tmp_path / f"{stem}.tex").write_text(doc.to_latex(), encoding="utf-8")
        run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", f"{stem}.tex"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout[-2000:]
        log = (tmp_path / f"{stem}.log").read_text(encoding="utf-8", errors="replace")
        assert "Undefined control sequence" not in log
        assert (tmp_path / f"{stem}.pdf").exists()
    assert re.search(r"\\subsection\*\{The gradient \$\\frac\{\\partial L\}\{\\partial W_\{2\}\}\$\}", network.to_latex())


def test_the_api_takes_a_list_of_names():
    d = symderiv.derive("W @ X", ["W", "X"], check=False)
    assert isinstance(d, Derivations) and list(d.results) == ["W", "X"]
    with pytest.raises(symderiv.SymderivError):
        derive("W @ X", [])
