"""Printers of a :class:`~symderiv.explain.parts.Several` document, in every format.

The layout: the title naming every gradient, the shared intro, the shared blocks under "The blocks they share",
then one section per gradient (its own intro sentence, blocks, "Putting it together" and result). Steps are
numbered through the whole document. Each format's printer is the single-derivation printer with this walk as its
``body`` (:class:`SeveralBody`); section headings are level 2 and block headings level 3.
"""

from __future__ import annotations

from typing import Any

from symderiv.core import expr as ex
from symderiv.explain.parts import Part, Several
from symderiv.explain.steps import Block, Equation, Grad, Matrix, Prose
from symderiv.render.base import DocumentPrinter
from symderiv.render.html import HtmlDerivationPrinter
from symderiv.render.latex import LatexDerivationPrinter
from symderiv.render.markdown import MarkdownDerivationPrinter
from symderiv.render.text import TextDerivationPrinter
from symderiv.render.worked import WorkedBody


class SeveralBody(WorkedBody):
    """The walk of a :class:`Several` document over a format's hooks (mixed in before the format's printer)."""

    d: Several  # type: ignore[assignment]

    def title(self) -> Prose:
        grads: list[Any] = []
        for n, name in enumerate(self.d.names):
            grads += ([] if n == 0 else [" and " if n == len(self.d.names) - 1 else ", "]) + [Grad(name, self.d.layout)]
        return ("Derivation of ", *grads, " for ", Matrix(self.d.source))

    def body(self) -> list[str]:
        parts = [self.heading(self.title(), 1)]
        parts += [self.paragraph(p) for p in self.d.intro]
        if self.d.blocks:
            parts.append(self.heading(("The blocks they share",), 2))
            for block in self.d.blocks:
                parts += self.block(block)
        for part in self.d.parts:
            parts += self.part(part, together=self._together())
        if self._together():
            parts += self.worked_together([p.worked for p in self.d.parts], {b.number for b in self.d.blocks})
        return parts

    def _together(self) -> bool:
        """Whether every gradient has a worked example on the same numbers (then they are shown as one)."""
        examples = [p.worked for p in self.d.parts]
        if any(w is None for w in examples):
            return False
        first = examples[0]
        return all((w.inputs, w.upstream, w.forward) == (first.inputs, first.upstream, first.forward)
                   for w in examples)

    def block(self, block: Block, last: Any = None) -> list[str]:
        name = Matrix(ex.Symbol(block.name))
        what: Prose = ("the part of ", Grad(block.wrt), " through ", name) if block.partial else (Grad(block.wrt),)
        head = self.heading((f"Block {block.number}: ", Equation((name, Matrix(block.definition))), ", for ", *what), 3)
        return [head, self.upstream_named(block)] + [self.step(step, step is last) for step in block.steps]

    def part(self, part: Part, together: bool = False) -> list[str]:
        steps = part.steps
        last = steps[-1] if steps else None
        out = [self.heading(("The gradient ", Grad(part.wrt, self.d.layout)), 2)]
        out += [self.paragraph(p) for p in part.intro]
        for block in part.blocks:
            out += self.block(block, last)
        if part.final:
            out.append(self.heading(("Putting it together",), 3))
            out += [self.step(step, step is last) for step in part.final]
        out.append(self.paragraph(part.conclusion))
        if part.worked is not None and not together:
            out += self.worked(part.worked, 3)
        return out


class LatexSeveral(SeveralBody, LatexDerivationPrinter):
    """LaTeX: sections for the gradients, subsections (``\\subsubsection*``) for the blocks."""

    def heading(self, prose: tuple, level: int = 2) -> str:
        if level >= 3:
            return rf"\subsubsection*{{{self.math.prose(prose)}}}"
        return super().heading(prose, level)


class TextSeveral(SeveralBody, TextDerivationPrinter):
    pass


class MarkdownSeveral(SeveralBody, MarkdownDerivationPrinter):
    pass


class HtmlSeveral(SeveralBody, HtmlDerivationPrinter):
    def document(self) -> str:
        page = super().document()
        title = ", ".join(f"∂L/∂{n}" for n in self.d.names)
        return page.replace(f"<title>∂L/∂{self.d.wrt} for", f"<title>{title} for", 1)


#: The printer of each format for a :class:`Several` document.
SEVERAL: dict[str, type[DocumentPrinter]] = {
    "text": TextSeveral, "latex": LatexSeveral, "markdown": MarkdownSeveral, "html": HtmlSeveral,
}

__all__ = ["SEVERAL", "SeveralBody"]
