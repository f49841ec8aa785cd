"""Several gradients of one expression in one document: the blocks they share derived once, then each one's own.

``derive(expr, ["W", "b"])`` derives ``∂L/∂W`` and ``∂L/∂b`` one after the other (each checked as usual), and
:func:`combine` lays the two derivations out as one :class:`Several` document: the intro paragraphs they share, the
blocks that more than one of them needs (``A = relu(Z)``, for ``∂L/∂Z``), numbered once, then one :class:`Part` per
gradient with its own intro sentence, its own blocks, its "putting it together" steps and its result. Pure data, as
:mod:`symderiv.explain.steps`: the printers (:mod:`symderiv.render.several`) read it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .steps import Block, Document, Grad, Prose, Step


@dataclass(frozen=True)
class Part:
    """One gradient's own share of a :class:`Several` document."""

    wrt: str
    #: The intro paragraphs particular to this gradient (the entry it picks, where it ends), and which shared
    #: blocks it uses.
    intro: tuple[Prose, ...]
    blocks: tuple[Block, ...]
    final: tuple[Step, ...]
    conclusion: Prose
    #: The numbers of the shared blocks this gradient goes through.
    uses: tuple[int, ...] = ()
    #: Its worked numeric example (:class:`symderiv.explain.worked.Worked`), when one was asked for.
    worked: Any = None

    @property
    def steps(self) -> list[Step]:
        return [s for b in self.blocks for s in b.steps] + list(self.final)


@dataclass(frozen=True)
class Several(Document):
    """Several gradients of one expression: the shared intro and ``blocks`` (used by more than one gradient),
    then ``parts``, one per gradient. ``wrt`` is the names joined by commas."""

    parts: tuple[Part, ...] = ()

    @property
    def names(self) -> list[str]:
        """The variables, in the order asked for."""
        return [p.wrt for p in self.parts]

    @property
    def steps(self) -> list[Step]:
        """Every step in document order: the shared blocks', then each part's."""
        return [s for b in self.blocks for s in b.steps] + [s for p in self.parts for s in p.steps]


def _key(block: Block) -> str:
    """A block's signature, to recognise the same block in two derivations: its data with the numbers erased and
    each step's index letters renamed in order of appearance (a letter one derivation's sums avoid may be free in
    another's; the printed text follows from the data)."""
    def renamed(step: Step) -> str:
        letters: dict[str, str] = {}
        bare = replace(step, block=0, justification="", equation_text="", indices=())
        return re.sub(r"Idx\(name='(\w+)'",
                      lambda m: "Idx(name='" + letters.setdefault(m.group(1), f"i{len(letters)}") + "'", repr(bare))
    return repr((block.name, block.definition, block.wrt, block.upstream, block.partial)) + \
        "".join(renamed(s) for s in block.steps)


def _renumber(block: Block, number: int) -> Block:
    return replace(block, number=number, steps=tuple(replace(s, block=number) for s in block.steps))


def _and(items: Sequence[object]) -> tuple:
    """``a``, ``a and b``, ``a, b and c`` as prose pieces."""
    out: list[object] = []
    for n, item in enumerate(items):
        out += ([] if n == 0 else [" and " if n == len(items) - 1 else ", "]) + [item]
    return tuple(out)


def _shared_paragraph(paragraph: Prose, documents: Sequence[Document]) -> Prose | None:
    """The paragraph as every document has it, or None. A paragraph that differs only in the tail of its last
    sentence (``..., ending at W.`` and ``..., ending at b.``) is shared without that clause."""
    if all(paragraph in d.intro for d in documents):
        return paragraph
    head, tail = paragraph[:-1], paragraph[-1] if paragraph else None
    if not isinstance(tail, str):
        return None
    tails = [p[-1] for d in documents for p in d.intro if p[:-1] == head and isinstance(p[-1], str)]
    if len(tails) != len(documents):
        return None
    common = os.path.commonprefix(tails)
    cut = common.rfind(", ")
    return (*head, common[:cut] + ".") if cut > 0 else None


def combine(documents: Sequence[Document]) -> dict:
    """The fields of a :class:`Several` document made of ``documents`` (derivations of one expression).

    A block is shared when more than one derivation has it, identical up to its number; an intro paragraph is
    shared when every derivation has it.

    >>> from symderiv.explain.derivation import derive
    >>> together = dict(check=False, _together=["W", "b"])  # the letters of both entries kept, as derive does
    >>> fields = combine([derive("relu(W @ X + b)", w, {"b": ("H", 1)}, **together) for w in ("W", "b")])
    >>> [b.name for b in fields["blocks"]], [[b.number for b in p.blocks] for p in fields["parts"]]
    (['A'], [[2], [3]])
    >>> [p.uses for p in fields["parts"]]
    [(1,), (1,)]
    """
    first = documents[0]
    keys = [[_key(b) for b in doc.blocks] for doc in documents]  # each block's signature, computed once
    counts: dict[str, int] = {}
    for doc_keys in keys:
        for key in set(doc_keys):
            counts[key] = counts.get(key, 0) + 1
    shared: dict[str, Block] = {}  # each shared block as the first derivation that has it writes it
    for doc, doc_keys in zip(documents, keys, strict=True):
        for block, key in zip(doc.blocks, doc_keys, strict=True):
            if counts[key] > 1 and key not in shared:
                shared[key] = block
    number = {key: n for n, key in enumerate(shared, 1)}
    common = [_shared_paragraph(p, documents) for p in first.intro]
    common = [p for p in common if p is not None]
    names = [Grad(d.wrt, d.layout) for d in documents]
    together: Prose = ("We derive ", *_and(names), " together. ",
                       "The blocks that more than one of them needs come first, derived once; then each gradient's own "
                       "blocks." if shared else "They share no block, so each is derived in turn.")
    parts = []
    next_number = len(shared) + 1
    for doc, doc_keys in zip(documents, keys, strict=True):
        own = []
        renumbered = {}
        for block, key in zip(doc.blocks, doc_keys, strict=True):
            if key not in number:
                own.append(_renumber(block, next_number))
                renumbered[block.number] = next_number
                next_number += 1
            else:
                renumbered[block.number] = number[key]
        uses = tuple(sorted({number[key] for key in doc_keys if key in number}))
        intro = tuple(p for p in doc.intro if _shared_paragraph(p, documents) is None)
        if uses:
            which = "Block " + str(uses[0]) if len(uses) == 1 else "Blocks " + ", ".join(map(str, uses))
            intro += ((f"This gradient goes through {which} above.",),)
        final = tuple(replace(s, block=0) for s in doc.final)
        worked = getattr(doc, "worked", None)
        if worked is not None:  # its blocks by their numbers in this document
            worked = replace(worked, blocks=tuple(replace(b, number=renumbered[b.number]) for b in worked.blocks))
        parts.append(Part(doc.wrt, intro, tuple(own), final, doc.conclusion, uses, worked))
    upstreams: dict[str, str] = {}
    for doc in documents:
        upstreams.update(doc.upstreams)
    return {"expression": first.expression, "source": first.source, "wrt": ",".join(d.wrt for d in documents),
            "layout": first.layout, "upstreams": upstreams, "intro": (*common, together),
            "blocks": tuple(_renumber(b, number[k]) for k, b in shared.items()), "final": (), "conclusion": (),
            "parts": tuple(parts)}


__all__ = ["Part", "Several", "combine"]
