"""The layout every format shares: title, intro, one section per block, numbered steps, result."""

from __future__ import annotations

from collections.abc import Mapping

from symderiv.core import expr as ex
from symderiv.explain.steps import Block, Document, Equation, Grad, Matrix, Prose, Step

#: How the steps write the upstream gradient: ``∂L/∂D_ij`` (``partial``) or its letter ``G_ij`` (``upstream``).
NOTATIONS = ("partial", "upstream")
#: The prefix of the upstream symbols the builder makes for inner blocks (``dL_dZ``); never printed.
_INNER = "dL_d"


def upstream_letters(upstreams: Mapping[str, str], notation: str = "partial") -> dict[str, str]:
    """The name each upstream symbol is printed as in ``notation="upstream"`` (none in ``partial``): the user's
    letter for the loss's own (``G``), and that letter subscripted by the node for an inner block's (``G_Z``).

    >>> upstream_letters({"G": "A", "dL_dZ1": "Z1"}, "upstream")
    {'G': 'G', 'dL_dZ1': 'G_Z1'}
    >>> upstream_letters({"G": "A"})
    {}
    """
    if notation != "upstream":
        return {}
    roots = [sym for sym in upstreams if not sym.startswith(_INNER)]
    root = roots[0] if roots else "G"
    return {sym: (f"{root}_{node}" if sym.startswith(_INNER) else sym) for sym, node in upstreams.items()}


class DocumentPrinter:
    """Walks a derivation and calls the format's hooks; steps dispatch on their kind (``_step_<kind>``)."""

    def __init__(self, derivation: Document) -> None:
        self.d = derivation
        self.number = 0
        #: Number the display equations (``Derivation.numbered``): each gets its step's number.
        self.numbering = bool(getattr(derivation, "numbered", False))
        #: ``upstream`` notation: each upstream symbol's printed name (empty: written ``∂L/∂D``).
        self.letters = upstream_letters(derivation.upstreams, getattr(derivation, "notation", "partial"))
        #: ``asides=False``: no step's note on how it was checked.
        self.asides = bool(getattr(derivation, "asides", True))

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
            parts.append(self.upstream_named(block))
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

    def upstream_named(self, block: Block) -> str:
        """In ``upstream`` notation, the sentence that introduces the letter of an inner block's upstream gradient
        (``G_Z = ∂L/∂Z``); the loss's own letter is introduced in the intro. Empty otherwise."""
        sym = block.upstream
        if sym is None or not sym.startswith(_INNER) or sym not in self.letters:
            return ""
        return self.paragraph(("The upstream gradient of this block, found by the blocks above, is written ",
                               Equation((Matrix(ex.Symbol(sym)), Grad(self.d.upstreams[sym]))), "."))

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
        if step.check_note and self.asides:
            parts.append(self.paragraph((f"(Check: {step.check_note}.)",)))
        return self.join(parts)


__all__ = ["NOTATIONS", "DocumentPrinter", "upstream_letters"]
