"""One self-contained HTML page: math as MathML (``latex2mathml``), no script, no external resources.

latex2mathml's output is adjusted for MathML Core (what Chromium and Firefox render): a named function
(``\\operatorname{relu}``) becomes an identifier applied by U+2061 instead of an operator with thick spaces on
both sides, and brackets around content with nothing tall in it (no fraction, sum or table) do not stretch, so
``relu(Z)`` reads as one word, not ``relu ( Z )``. tests/test_html_browser.py checks both, and the ``=`` alignment,
in headless Chromium.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from typing import Any

from latex2mathml.converter import convert

from symderiv.explain.steps import Code, Document
from symderiv.render.base import DocumentPrinter
from symderiv.render.latex import LatexPrinter

#: MathML Core (Chromium) ignores the ``columnalign`` attribute that latex2mathml writes for ``aligned``: the CSS
#: below applies it, so the ``=`` signs of a multi-line equation line up. An equation wider than the page scrolls
#: sideways inside its own box (so do headings and paragraphs with wide inline math); nothing is clipped.
_STYLE = """body { font-family: Georgia, 'Times New Roman', serif; max-width: 46em; margin: 2em auto;
  padding: 0 1em; line-height: 1.5; color: #222; }
h1, h2 { font-weight: normal; }
.step { margin: 1.2em 0 0.4em; }
.num { font-weight: bold; }
h1, h2, p { overflow-x: auto; overflow-y: hidden; }
math[display="block"] { margin: 0.6em 0; padding: 0.3em 0; overflow-x: auto; overflow-y: hidden; }
mtd[columnalign="right"] { text-align: right; }
mtd[columnalign="left"] { text-align: left; }"""


_NS = "http://www.w3.org/1998/Math/MathML"
_TALL = {f"{{{_NS}}}{t}" for t in ("mfrac", "munder", "mover", "munderover", "mtable", "msqrt", "mroot")}
ET.register_namespace("", _NS)


def mathml(latex: str, display: bool = False) -> str:
    """LaTeX math converted to MathML by latex2mathml, tidied for MathML Core (see the module's docstring).

    >>> mathml("X^{\\\\top}").startswith("<math")
    True
    >>> "<mi>relu</mi><mo>\u2061</mo>" in mathml("\\\\operatorname{relu}\\\\left(Z\\\\right)")
    True
    """
    raw = convert(latex, display="block" if display else "inline")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:  # pragma: no cover - latex2mathml writes well-formed XML
        return raw
    _tidy(root)
    return ET.tostring(root, encoding="unicode", short_empty_elements=True)


def _tidy(node: ET.Element) -> None:
    """Named functions as identifiers applied by U+2061; brackets around short content kept at text size."""
    children = list(node)
    for n, child in enumerate(children):
        _tidy(child)
        name = (child.text or "").strip()
        if child.tag == f"{{{_NS}}}mo" and len(name) > 1 and name.isalpha() and not list(child):
            child.tag = f"{{{_NS}}}mi"
            child.attrib.clear()
            if n + 1 < len(children):
                apply = ET.Element(f"{{{_NS}}}mo")
                apply.text = "\u2061"
                node.insert(list(node).index(child) + 1, apply)
    fences = [c for c in node if c.tag == f"{{{_NS}}}mo" and c.get("fence") == "true"]
    if len(fences) == 2 and fences[0] is node[0] and fences[1] is node[-1]:
        if not any(e.tag in _TALL for c in node[1:-1] for e in c.iter()):
            for fence in fences:
                fence.set("stretchy", "false")


class HtmlDerivationPrinter(DocumentPrinter):
    """The derivation as an HTML page that renders offline in a current browser."""

    def __init__(self, derivation: Document) -> None:
        super().__init__(derivation)
        self.math = LatexPrinter(derivation.upstreams, self.letters)

    def prose(self, prose: tuple) -> str:
        return "".join(html.escape(p) if isinstance(p, str) else f"<code>{html.escape(p.text)}</code>"
                       if isinstance(p, Code) else mathml(self.math.doprint(p)) for p in prose)

    def heading(self, prose: tuple, level: int = 2) -> str:
        return f"<h{level}>{self.prose(prose)}</h{level}>"

    def paragraph(self, prose: tuple) -> str:
        return f"<p>{self.prose(prose)}</p>"

    def numbered(self, number: int, prose: tuple) -> str:
        return f'<p class="step"><span class="num">Step {number}.</span> {self.prose(prose)}</p>'

    def display(self, equation: Any, boxed: bool = False) -> str:
        body = self.math.align(equation, boxed)
        return mathml("\\begin{align*}" + body + "\\end{align*}", display=True)

    def document(self) -> str:
        title = html.escape(f"∂L/∂{self.d.wrt} for {self.d.expression}")
        return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f"<title>{title}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>\n"
                + "\n".join(self.body()) + "\n</body>\n</html>\n")


__all__ = ["HtmlDerivationPrinter", "mathml"]
