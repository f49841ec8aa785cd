"""The layout every format shares: title, intro, one section per block, numbered steps, result."""

from __future__ import annotations

from typing import Any

from symderiv.core import expr as ex


class DocumentPrinter:
    """Walks a derivation and calls the format's hooks; steps dispatch on ``step.kind``."""

    def __init__(self, derivation: Any) -> None:
        self.d = derivation
        self.number = 0

    # hooks each format implements
    def heading(self, prose: tuple, level: int = 2) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def paragraph(self, prose: tuple) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def display(self, equation: Any, boxed: bool = False) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def numbered(self, number: int, prose: tuple) -> str:
        return self.paragraph((f"Step {number}. ", *prose))

    def join(self, parts: list[str]) -> str:
        return "\n\n".join(p for p in parts if p)

    # the shared walk
    def title(self) -> tuple:
        from symderiv.explain.derivation import Grad, Matrix

        return ("Derivation of ", Grad(self.d.wrt, self.d.layout), " for ", Matrix(self.d.source))

    def body(self) -> list[str]:
        parts = [self.heading(self.title(), 1)]
        parts += [self.paragraph(p) for p in self.d.intro]
        many = len(self.d.blocks) > 1
        last = self.d.steps[-1] if self.d.steps else None
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

    def block_heading(self, block: Any) -> str:
        from symderiv.explain.derivation import Equation, Grad, Matrix

        part = ("the part of ", Grad(block.wrt), " through ", Matrix(ex.Symbol(block.name))) if block.partial \
            else (Grad(block.wrt),)
        return self.heading((f"Block {block.number}: ", Equation((Matrix(ex.Symbol(block.name)),
                                                                  Matrix(block.definition))), ", for ", *part), 2)

    def step(self, step: Any, last: bool = False) -> str:
        method = getattr(self, "_step_" + step.kind, self._step_default)
        return method(step, last)

    def _step_default(self, step: Any, last: bool) -> str:
        self.number += 1
        parts = [self.numbered(self.number, step.prose), self.display(step.equation, boxed=last)]
        if step.check_note:
            parts.append(self.paragraph((f"(Check: {step.check_note}.)",)))
        return self.join(parts)

