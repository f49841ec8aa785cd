"""One self-contained HTML page: math as MathML (``latex2mathml``), no script, no external resources."""

from __future__ import annotations

import html
from typing import Any

from latex2mathml.converter import convert

from symderiv.explain.steps import Document
from symderiv.render.base import DocumentPrinter
from symderiv.render.latex import LatexPrinter

#: MathML Core (Chromium) ignores the ``columnalign`` attribute that latex2mathml writes for ``aligned``: the CSS
#: below applies it, so the ``=`` signs of a multi-line equation line up.
_STYLE = """body { font-family: Georgia, 'Times New Roman', serif; max-width: 46em; margin: 2em auto;
  padding: 0 1em; line-height: 1.5; color: #222; }
h1, h2 { font-weight: normal; }
.step { margin: 1.2em 0 0.4em; }
.num { font-weight: bold; }
math[display="block"] { margin: 0.6em 0; overflow-x: auto; }
mtd[columnalign="right"] { text-align: right; }
mtd[columnalign="left"] { text-align: left; }"""


def mathml(latex: str, display: bool = False) -> str:
    """LaTeX math converted to MathML by latex2mathml.

    >>> mathml("X^{\\\\top}").startswith("<math")
    True
    """
    return convert(latex, display="block" if display else "inline")


class HtmlDerivationPrinter(DocumentPrinter):
    """The derivation as an HTML page that renders offline in a current browser."""

    def __init__(self, derivation: Document) -> None:
        super().__init__(derivation)
        self.math = LatexPrinter(derivation.upstreams)

    def prose(self, prose: tuple) -> str:
        return "".join(html.escape(p) if isinstance(p, str) else mathml(self.math.doprint(p)) for p in prose)

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
