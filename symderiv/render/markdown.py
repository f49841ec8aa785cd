r"""Markdown for KaTeX or MathJax: ``$...$`` inline, ``$$`` display blocks on lines of their own (SPEC section 6).

CommonMark eats the backslashes of ``\[ ... \]`` and ``\\``; a ``$$`` block on its own lines is left intact by
markdown-it's dollarmath plugin, GitHub, and KaTeX/MathJax pipelines (tests/test_markdown_pipeline.py).
"""

from __future__ import annotations

from typing import Any

from symderiv.explain.steps import Code, Document
from symderiv.render.base import DocumentPrinter
from symderiv.render.latex import LatexPrinter


def _md_text(text: str) -> str:
    """Prose outside math: characters Markdown would read as markup are escaped."""
    for ch in ("\\", "*", "_", "`", "[", "]", "<", ">"):
        text = text.replace(ch, "\\" + ch)
    return text


def _md_code(text: str) -> str:
    """A formula in symderiv's language as inline code (a double fence if it has a backtick).

    >>> _md_code("G @ X.T")
    '`G @ X.T`'
    """
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


class MarkdownDerivationPrinter(DocumentPrinter):
    """The derivation as a Markdown page (a blog post or lecture note with MathJax/KaTeX)."""

    def __init__(self, derivation: Document) -> None:
        super().__init__(derivation)
        self.math = LatexPrinter(derivation.upstreams, self.letters)

    def prose(self, prose: tuple) -> str:
        return "".join(_md_text(p) if isinstance(p, str) else _md_code(p.text) if isinstance(p, Code)
                       else f"${self.math.doprint(p)}$" for p in prose)

    def heading(self, prose: tuple, level: int = 2) -> str:
        return "#" * level + " " + self.prose(prose)

    def paragraph(self, prose: tuple) -> str:
        return self.prose(prose)

    def numbered(self, number: int, prose: tuple) -> str:
        return f"**Step {number}.** " + self.prose(prose)

    def display(self, equation: Any, boxed: bool = False) -> str:
        return "$$\n\\begin{aligned}\n" + self.math.align(equation, boxed) + "\n\\end{aligned}\n$$"

    def tag(self, shown: str, number: int) -> str:
        """KaTeX's and MathJax's ``\\tag{3}`` inside the ``$$`` block."""
        return shown.replace("\n\\end{aligned}\n$$", f"\n\\end{{aligned}}\\tag{{{number}}}\n$$")

    def document(self) -> str:
        return self.join(self.body()) + "\n"


__all__ = ["MarkdownDerivationPrinter"]
