r"""Breaking long display equations so that nothing runs past the text width.

:func:`width` estimates how wide a piece of LaTeX math is set in 11 pt (display style), from the widths of
Computer Modern's glyphs and TeX's spacing around binary operators; :func:`break_side` cuts one side of an
equation before a ``+`` or ``-`` (else before a ``\odot``) so that each line fits, greedily, filling every
line as far as it goes. A break inside ``\left( … \right)`` turns that pair into ``\Bigl( … \Bigr)``: TeX
cannot stretch a delimiter pair across lines. The estimate errs wide; ``tests/test_latex_fit.py`` compiles
the documents with pdflatex and asserts that no box is overfull.

>>> width("x") < width("x + y") < width(r"\frac{\partial L}{\partial W_{dc}} + x + y")
True
>>> break_side("a + b + c", 20.0)
['a', '+ b', '+ c']
"""

from __future__ import annotations

import re

#: The text width of the standalone article (letter paper, 2.5 cm margins, 11 pt) in pt, less a margin of error.
TEXT_WIDTH = 440.0

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}]|\s+|.", re.S)
#: Widths in pt at 11 pt of the commands that print something, by name.
_COMMANDS = {
    r"\sum": 17.0, r"\partial": 6.3, r"\delta": 5.0, r"\sigma": 6.6, r"\top": 8.5, r"\odot": 14.0,
    r"\cdot": 8.5, r"\times": 14.0, r"\otimes": 14.0, r"\oslash": 14.0, r"\,": 2.0, r"\;": 3.4, r"\quad": 11.0,
    r"\qquad": 22.0, r"\left": 0.0, r"\right": 0.0, r"\Bigl": 0.0, r"\Bigr": 0.0, r"\bigl": 0.0, r"\bigr": 0.0,
    r"\mathbf": 0.0, r"\mathrm": 0.0, r"\operatorname": 0.0, r"\text": 0.0, r"\log": 15.0, r"\exp": 17.0,
    r"\det": 16.0, r"\operatorname*": 0.0, r"\tanh": 24.0, r"\prime": 3.0, r"\ldots": 15.0, r"\cdots": 15.0,
}
#: Binary operators and relations: their glyph with TeX's spaces on both sides.
_BINARY = {"+": 14.0, "-": 14.0, "=": 15.0}
_SIZED = (r"\left", r"\right", r"\Bigl", r"\Bigr")


def _groups(tokens: list[str], start: int) -> tuple[list[str], int]:
    """The tokens of the brace group that opens at ``start``, and the index after it."""
    depth, k = 0, start
    while k < len(tokens):
        if tokens[k] == "{":
            depth += 1
        elif tokens[k] == "}":
            depth -= 1
            if depth == 0:
                return tokens[start + 1:k], k + 1
        k += 1
    return tokens[start + 1:], len(tokens)


def _arg(tokens: list[str], k: int) -> tuple[list[str], int]:
    """One argument: a brace group or a single token."""
    while k < len(tokens) and tokens[k].isspace():
        k += 1
    if k < len(tokens) and tokens[k] == "{":
        return _groups(tokens, k)
    return tokens[k:k + 1], k + 1


def _width(tokens: list[str]) -> float:  # noqa: C901 - one dispatch over the kinds of token
    total, k = 0.0, 0
    while k < len(tokens):
        t = tokens[k]
        k += 1
        if t.isspace() or t == "&":
            continue
        if t == r"\frac":
            num, k = _arg(tokens, k)
            den, k = _arg(tokens, k)
            total += max(_width(num), _width(den)) + 2.4
        elif t in ("_", "^"):
            sub, k = _arg(tokens, k)
            total += 0.72 * _width(sub)
        elif t == "{":
            group, k = _groups(tokens, k - 1)
            total += _width(group)
        elif t in (r"\operatorname", r"\mathrm", r"\text", r"\mathbf"):
            word, k = _arg(tokens, k)
            total += 5.6 * len("".join(word).replace("\\", ""))
        elif t == r"\boxed":
            inner, k = _arg(tokens, k)
            total += _width(inner) + 8.0
        elif t.startswith("\\"):
            total += _COMMANDS.get(t, 7.0 if len(t) > 2 else 4.0)
        elif t in "()[]|":
            total += 7.0 if k > 1 and tokens[k - 2] in _SIZED else 4.3  # \left( grows with what it holds
        else:
            total += _BINARY.get(t, 6.2)
    return total


def width(latex: str) -> float:
    r"""The estimated width in pt of ``latex`` set as display math at 11 pt.

    >>> round(width(r"\frac{a}{bb}"))
    15
    """
    return _width(_TOKEN.findall(latex))


def _breaks(tokens: list[str]) -> tuple[list[int], list[int], list[tuple[int, int]], dict[int, int]]:
    """Where a line may break (before a binary ``+``/``-``/``=`` at brace depth 0; before ``\\odot`` as a second
    choice), the ``\\left``/``\\right`` pairs as token positions, and each break's depth in those pairs."""
    first: list[int] = []
    second: list[int] = []
    pairs: list[tuple[int, int]] = []
    depth_at: dict[int, int] = {}
    stack: list[int] = []
    depth = 0
    prev = ""
    for k, t in enumerate(tokens):
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
        elif t == r"\left":
            stack.append(k)
        elif t == r"\right" and stack:
            pairs.append((stack.pop(), k))
        elif depth == 0 and t in "+-=" and prev and prev not in "({[=&" and not prev.startswith("\\"):
            first.append(k)
        elif depth == 0 and t == r"\odot":
            second.append(k)
        depth_at[k] = len(stack)
        if not t.isspace():
            prev = t
    return first, second, pairs, depth_at


def _fill(tokens: list[str], points: list[int], limit: float, rank: dict[int, tuple[int, bool]]) -> list[int]:
    """Breaks such that each line fits within ``limit``: of the points where the line still fits, the one least
    deep in brackets, a ``+``/``-`` before a ``\\odot``, the latest of those; so a line ends at a main ``+``
    rather than inside ``(1 - A)``."""
    chosen: list[int] = []
    start = 0
    while _width(tokens[start:]) > limit:
        later = [p for p in points if p > start]
        if not later:
            break
        fits = [p for p in later if _width(tokens[start:p]) <= limit] or later[:1]
        best = min(fits, key=lambda p: (*rank[p], -p))
        chosen.append(best)
        start = best
    return chosen


def break_side(latex: str, limit: float) -> list[str]:
    r"""``latex`` cut into lines of at most about ``limit`` pt, before ``+``/``-``/``=`` (else ``\odot``).

    A ``\left``/``\right`` pair around a break becomes ``\Bigl``/``\Bigr``.

    >>> break_side(r"x \left(a + b\right)", 22.0)
    ['x \\Bigl(a', '+ b\\Bigr)']
    """
    tokens = _TOKEN.findall(latex)
    if _width(tokens) <= limit:
        return [latex]
    first, second, pairs, depth_at = _breaks(tokens)
    rank = {p: (depth_at.get(p, 0), p in second) for p in first + second}
    chosen = _fill(tokens, sorted(first + second), limit, rank)
    if not chosen:
        return [latex]
    for a, b in pairs:
        if any(a < c < b for c in chosen):
            tokens[a], tokens[b] = r"\Bigl", r"\Bigr"
            for pos in (a, b):  # a null delimiter has no \Big form: drop it
                if tokens[pos + 1] == ".":
                    tokens[pos], tokens[pos + 1] = "", ""
    return ["".join(p).strip() for p in _split(tokens, chosen)]


def _split(tokens: list[str], at: list[int]) -> list[list[str]]:
    edges = [0, *at, len(tokens)]
    return [tokens[a:b] for a, b in zip(edges, edges[1:], strict=False)]


__all__ = ["TEXT_WIDTH", "break_side", "width"]
