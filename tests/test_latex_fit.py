"""Issue 16 §2: long chains fit the page. Every LaTeX document compiles with no box overfull by more than 5 pt,
the logistic-regression derivation ends in its simplified formula, and long equations are broken to fit."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symderiv.explain.derivation import derive
from symderiv.explain.steps import Matrix, StepKind
from symderiv.render.linebreak import break_side, width
from symderiv.syntax.printing import to_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
LOGISTIC = "-sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))"
LOGISTIC_SHAPES = {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}
TOO_WIDE = 5.0  # pt
_OVERFULL = re.compile(r"Overfull \\hbox \(([0-9.]+)pt too wide\)")

needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                    reason="pdflatex is not installed (CI installs texlive-latex-base)")


def overfull(log: str) -> list[float]:
    """Every overfull box's excess in pt, from a pdflatex log."""
    return [float(x) for x in _OVERFULL.findall(log)]


def compile_log(tex: str, directory: Path) -> str:
    (directory / "doc.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "doc.tex"], cwd=directory,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    return (directory / "doc.log").read_text(encoding="utf-8", errors="replace")


def test_overfull_parser_reads_pdflatex_logs():
    log = "Overfull \\hbox (157.293pt too wide) detected at line 247\nOverfull \\hbox (2.0pt too wide) in paragraph"
    assert overfull(log) == [157.293, 2.0]


@needs_pdflatex
@pytest.mark.parametrize("tex", sorted(p.name for p in EXAMPLES.glob("*.tex")))
def test_every_example_fits_the_page(tex, tmp_path):
    log = compile_log((EXAMPLES / tex).read_text(encoding="utf-8"), tmp_path)
    assert [x for x in overfull(log) if x > TOO_WIDE] == [], tex


@needs_pdflatex
@pytest.mark.parametrize("numbered", [False, True])
def test_logistic_regression_fits_the_page(numbered, tmp_path):
    d = derive(LOGISTIC, "w", LOGISTIC_SHAPES, numbered=numbered)
    log = compile_log(d.to_latex(), tmp_path)
    assert [x for x in overfull(log) if x > TOO_WIDE] == []


def test_logistic_regression_ends_in_the_simplified_formula():
    d = derive(LOGISTIC, "w", LOGISTIC_SHAPES)
    last = d.steps[-1]
    assert last.kind is StepKind.SIMPLIFY and last.checked
    assert isinstance(last.equation.rhs, Matrix)
    assert to_text(last.equation.rhs.expr) == "X @ (sigmoid(w.T @ X) - Y).T" == d.result.formula
    assert last.justification.startswith("Multiplying out the elementwise products and collecting like terms")
    assert "X @ (sigmoid(w.T @ X) - Y).T" in d.to_text()


def test_the_log_likelihood_ends_with_the_other_sign():
    d = derive(LOGISTIC[1:], "w", LOGISTIC_SHAPES, check=False)
    assert d.result.formula == "X @ (Y - sigmoid(w.T @ X)).T"


def test_a_simplification_that_is_not_shorter_is_not_a_step():
    d = derive("sigmoid(W @ X)", "W", check=False)
    assert all(s.kind is not StepKind.SIMPLIFY for s in d.steps)


def test_long_sides_are_broken_before_a_plus_and_delimiters_made_fixed():
    side = r"X \left(" + " + ".join(f"a_{{{k}}} \\odot b_{{{k}}}" for k in range(30)) + r"\right)"
    assert width(side) > 440
    lines = break_side(side, 200.0)
    assert len(lines) > 2 and all(width(line) <= 200.0 for line in lines)
    assert all(line.startswith("+") for line in lines[1:])
    text = " ".join(lines)
    assert r"\left" not in text and r"\Bigl(" in text and r"\Bigr)" in text
    assert break_side("a + b", 200.0) == ["a + b"]


def test_long_equations_in_latex_are_broken_onto_indented_lines():
    d = derive(LOGISTIC, "w", LOGISTIC_SHAPES, check=False, detail="full")
    tex = d.to_latex()
    assert re.search(r"&\\quad \{\}(\+|-|\\odot)", tex)
