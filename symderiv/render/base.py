"""The layout every format shares: title, intro, one section per block, numbered steps, result."""

from __future__ import annotations

from symderiv.core import expr as ex
from symderiv.explain.steps import Block, Document, Equation, Grad, Matrix, Prose, Step


class DocumentPrinter:
    """Walks a derivation and calls the format's hooks; steps dispatch on their kind (``_step_<kind>``)."""

    def __init__(self, derivation: Document) -> None:
        self.d = derivation
        self.number = 0
        #: Number the display equations (``Derivation.numbered``): each gets its step's number.
        self.numbering = bool(getattr(derivation, "numbered", False))

    # hooks each format implements
    def heading(self, prose: Prose, level: int = 2) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def paragraph(self, prose: Prose) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def display(self, equation: Equation, boxed: bool = False) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def document(self) -> str:  # pragma: no cover - abstract
        """The whole derivation in this format."""
        raise NotImplementedError

    def tag(self, shown: str, number: int) -> str:
        """A display with its equation number; formats with their own way override this (``(3)`` below it)."""
        return self.join([shown, self.paragraph((f"({number})",))])

    def numbered(self, number: int, prose: Prose) -> str:
        return self.paragraph((f"Step {number}. ", *prose))

    def join(self, parts: list[str]) -> str:
        return "\n\n".join(p for p in parts if p)

    # the shared walk
    def title(self) -> Prose:
        return ("Derivation of ", Grad(self.d.wrt, self.d.layout), " for ", Matrix(self.d.source))

    def body(self) -> list[str]:
        parts = [self.heading(self.title(), 1)]
        parts += [self.paragraph(p) for p in self.d.intro]
        many = len(self.d.blocks) > 1
        steps = self.d.steps
        last = steps[-1] if steps else None
        for block in self.d.blocks:
            if many:
                parts.append(self.block_heading(block))
            for step in block.steps:
                parts.append(self.step(step, step is last))
        if self.d.final:
            parts.append(self.heading(("Putting it together",), 2))
            for step in self.d.final:
                parts.append(self.step(step, step is last))
        parts.append(self.paragraph(self.d.conclusion))
        return parts

    def block_heading(self, block: Block) -> str:
        name = Matrix(ex.Symbol(block.name))
        part: Prose = ("the part of ", Grad(block.wrt), " through ", name) if block.partial else (Grad(block.wrt),)
        return self.heading((f"Block {block.number}: ", Equation((name, Matrix(block.definition))), ", for ", *part),
                            2)

    def step(self, step: Step, last: bool = False) -> str:
        method = getattr(self, "_step_" + step.kind.value, self._step_default)
        result: str = method(step, last)
        return result

    def _step_default(self, step: Step, last: bool) -> str:
        self.number += 1
        shown = self.display(step.equation, boxed=last)
        if self.numbering:
            shown = self.tag(shown, self.number)
        parts = [self.numbered(self.number, step.prose), shown]
        if step.check_note:
            parts.append(self.paragraph((f"(Check: {step.check_note}.)",)))
        return self.join(parts)


__all__ = ["DocumentPrinter"]
