"""A real notebook (issue 16, section 3): executed by ``jupyter nbconvert --execute --to html``, then read back.

A notebook that imports symderiv displays a Derivation, its ``repr`` and two Verdicts; the exported page must
carry the derivation's math with its delimiters intact, as MathJax finds it (``$$`` blocks with their
``\\begin{aligned}`` and line breaks, never ``[ \\begin{aligned} … ]``), keep ``repr(Derivation)`` short and show the
verdicts as rich Markdown. Needs the ``notebook`` extra (nbconvert, nbformat, nbclient, ipykernel); skipped, with
the reason, when it is missing.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs pip install -e '.[notebook]'")
pytest.importorskip("nbconvert", reason="the notebook test needs pip install -e '.[notebook]'")
pytest.importorskip("nbclient", reason="the notebook test needs pip install -e '.[notebook]'")
pytest.importorskip("ipykernel", reason="the notebook test needs pip install -e '.[notebook]'")

ROOT = Path(__file__).resolve().parent.parent
CELLS = [
    "import symderiv\nd = symderiv.derive('relu(W @ X + b)', 'W', shapes={'b': ('H', 1)})\nd",
    "repr(d)",
    "symderiv.verify('W @ X', 'W', 'G @ X.T')",
    "symderiv.verify('W @ X', 'W', '2 * G @ X.T')",
    "from IPython.display import Latex\nLatex(d._repr_latex_())",
    "symderiv.derive('relu(W @ X + b)', ['W', 'b'], {'b': ('H', 1)}, worked=True)",
]


def _outputs(page: str, mime: str) -> list[str]:
    """The bodies of the output areas of one MIME type, in order."""
    pattern = rf'<div class="[^"]*jp-OutputArea-output[^"]*" data-mime-type="{re.escape(mime)}"[^>]*>(.*?)</div>'
    return re.findall(pattern, page, flags=re.S)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "derivation.ipynb")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    run = subprocess.run([sys.executable, "-m", "nbconvert", "--execute", "--to", "html",
                          "--ExecutePreprocessor.timeout=300", "derivation.ipynb"],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return (folder / "derivation.html").read_text(encoding="utf-8")


def test_the_derivation_shows_its_math_with_delimiters_intact(page):
    import symderiv

    steps = len(symderiv.derive("relu(W @ X + b)", "W", shapes={"b": ("H", 1)}, check=False).steps)
    derivation = _outputs(page, "text/markdown")[0]
    math = html.unescape(derivation)
    assert math.count("$$\n\\begin{aligned}") == steps and math.count("\\end{aligned}\n$$") == steps
    assert "\\\\\n&= " in math  # the rows of a multi-line equation keep their line breaks
    assert "[ \\begin{aligned}" not in math and "<p>[" not in derivation
    assert re.search(r"<h1[^>]*>Derivation of \$\\frac\{\\partial L\}\{\\partial W\}\$", derivation)
    assert "MathJax" in page  # the exported page typesets the $$ blocks


def test_repr_is_short_and_the_verdicts_are_rich(page):
    short = html.unescape(_outputs(page, "text/plain")[0])
    assert short.strip().startswith("<pre>'<Derivation of ∂L/∂W for relu(W @ X + b):") and len(short) < 200
    proved, refuted = _outputs(page, "text/markdown")[1:3]
    assert "<strong>PROVED</strong>" in proved and "$\\frac{\\partial L}{\\partial W} = G X^{\\top}$" in proved
    assert "<strong>NOT PROVED</strong>" in refuted and "witness: W = [[" in html.unescape(refuted)


def test_several_gradients_with_a_worked_example_display_whole(page):
    both = html.unescape(_outputs(page, "text/markdown")[3])
    assert re.search(r"<h1[^>]*>Derivation of .* and .*</h1>", both)
    assert "A worked example" in both and "\\begin{pmatrix}" in both and "[ \\begin{aligned}" not in both
    assert both.count("$$\n\\begin{aligned}") == both.count("\\end{aligned}\n$$") > 20


def test_the_latex_display_keeps_its_dollars(page):
    latex = html.unescape(_outputs(page, "text/latex")[0])
    assert latex.strip().startswith("$$\\begin{align*}") and latex.strip().endswith("\\end{align*}$$")
