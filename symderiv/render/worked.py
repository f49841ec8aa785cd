"""The worked numeric example (:mod:`symderiv.explain.worked`) in every format, after the derivation's result.

The section reads as a lecturer's board: the integer matrices, the forward values, then for each block its index
form and every entry with the numbers multiplied out (``∂L/∂W_12 = 1·2 + (−1)·0 + 3·1 = 5``), the block's matrix,
and the result with the note on how it was cross-checked. Math goes through the format's own printer (LaTeX for
LaTeX, Markdown and HTML; Unicode for text); this module adds the numbers and matrices, and the ``body`` of each
format's printer with the section appended (:class:`WorkedBody`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from symderiv.backends.numbers import is_exact
from symderiv.core import expr as ex
from symderiv.explain.steps import Dims, Equation, Grad, Matrix, Prose
from symderiv.explain.worked import BlockWork, Entry, Worked
from symderiv.render.base import DocumentPrinter
from symderiv.render.html import HtmlDerivationPrinter, mathml
from symderiv.render.latex import LatexDerivationPrinter
from symderiv.render.markdown import MarkdownDerivationPrinter
from symderiv.render.text import TextDerivationPrinter

#: Products per line of a worked entry; a longer sum continues on the next line.
PER_LINE = 6


def number(x: Any, latex: bool, digits: int = 4, factor: bool = False) -> str:
    """A number as written on the board: exact ``-3``, ``1/2``, else rounded (``0.7311``); in parentheses when
    negative and ``factor`` (a factor of a product).

    >>> number(Fraction(-3), False, factor=True), number(Fraction(-1, 2), True), number(Fraction(-1, 2), False)
    ('(−3)', '{-\\\\tfrac{1}{2}}', '−1/2')
    """
    if is_exact(x):
        q = Fraction(x)
        negative, q = q < 0, abs(q)
        body = str(q.numerator) if q.denominator == 1 else (
            rf"\tfrac{{{q.numerator}}}{{{q.denominator}}}" if latex else f"{q.numerator}/{q.denominator}")
    else:
        import mpmath  # type: ignore[import-untyped]

        negative = x < 0
        body = mpmath.nstr(abs(x), digits, min_fixed=-6, max_fixed=8)
    if not negative:
        return body
    # In LaTeX the sign is grouped with the number, so MathML reads it as a prefix minus (no binary spacing).
    text = "{-" + body + "}" if latex else "−" + body
    return f"({text})" if factor else text


def _sum_lines(entry: Entry, latex: bool, digits: int) -> list[str]:
    """The products of an entry, ``PER_LINE`` a line: ``1·2 + (−1)·0 + …``."""
    dot = r" \cdot " if latex else "·"
    pieces = []
    for n, (coeff, factors) in enumerate(entry.products):
        sign = "-" if coeff < 0 else "+"
        mag = abs(coeff)
        parts = ([] if mag == 1 else [number(mag, latex, digits, True)]) + [
            number(f, latex, digits, True) for f in factors]
        body = dot.join(parts) or "1"
        if n == 0:
            pieces.append(("-" if latex else "−") + body if sign == "-" else body)
        else:
            pieces.append((" - " if latex else " − ") + body if sign == "-" else " + " + body)
    if not pieces:
        pieces = ["0"]
    return ["".join(pieces[i:i + PER_LINE]).strip() for i in range(0, len(pieces), PER_LINE)]


class WorkedBody(DocumentPrinter):
    """Appends the worked example to a format's ``body`` (mixed in before the format's printer)."""

    def body(self) -> list[str]:
        parts = super().body()
        example = getattr(self.d, "worked", None)
        return parts + self.worked(example) if example is not None else parts

    # -- the format's pieces ----------------------------------------------------------------------------------
    @property
    def _latex(self) -> bool:
        return not isinstance(self, TextDerivationPrinter)

    def _math(self, obj: Any) -> str:
        return self.math.doprint(obj)  # type: ignore[attr-defined]

    def _matrix(self, m: list[list[Any]], digits: int) -> list[str]:
        """A numeric matrix: LaTeX ``pmatrix`` (one line), or text rows in brackets with aligned columns."""
        if self._latex:
            rows = [" & ".join(number(x, True, digits) for x in row) for row in m]
            return [r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"]
        cells = [[number(x, False, digits) for x in row] for row in m]
        width = max(len(c) for row in cells for c in row)
        return ["[ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells]

    def _rows(self, rows: list[tuple[str, list[str]]]) -> str:
        """A display of ``left = right`` rows aligned at ``=``; ``right`` may take several lines."""
        if self._latex:
            lines = []
            for left, right in rows:
                lines.append(f"{left} &= {right[0]}")
                lines += [rf"&\quad {more}" for more in right[1:]]
            body = " \\\\\n".join(lines)
            if isinstance(self, MarkdownDerivationPrinter):
                return "$$\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n$$"
            if isinstance(self, HtmlDerivationPrinter):
                return mathml("\\begin{align*}" + body + "\\end{align*}", display=True)
            return "\\begin{align*}\n" + body + "\n\\end{align*}"
        width = max(len(left) for left, _ in rows)
        out = []
        for left, right in rows:
            out.append("    " + left.rjust(width) + " = " + right[0])
            out += ["    " + " " * (width + 3) + more for more in right[1:]]
        return "\n".join(out)

    def _named(self, name: str) -> str:
        return self._math(Matrix(ex.Symbol(name)))

    # -- the section --------------------------------------------------------------------------------------------
    def worked(self, w: Worked, level: int = 2) -> list[str]:
        """The section of the worked example ``w``, its heading at ``level``."""
        return self._opening(w, level) + self._blocks(w, w.blocks) + self._result(w)

    def worked_together(self, examples: list[Worked], shared: set[int], level: int = 2) -> list[str]:
        """One section for several gradients worked on the same numbers: the inputs and the forward pass once,
        the blocks numbered in ``shared`` once, then each gradient's own blocks and result under its heading."""
        out = self._opening(examples[0], level)
        seen: set[int] = set()
        for w in examples:
            common = [b for b in w.blocks if b.number in shared and b.number not in seen]
            seen.update(b.number for b in common)
            out += self._blocks(w, common)
        for w in examples:
            out.append(self.heading(("The gradient ", Grad(w.wrt)), level + 1))
            out += self._blocks(w, [b for b in w.blocks if b.number not in shared]) + self._result(w)
        return out

    def _opening(self, w: Worked, level: int) -> list[str]:
        digits = w.digits
        shapes = []
        for n, (name, m) in enumerate(w.inputs):
            shapes += [", " if n else "", Matrix(ex.Symbol(name)), " ", Dims((len(m), len(m[0])))]
        intro: Prose = ("To see the formula at work, take small integer matrices of the same structure (", *shapes,
                        ")" + (", and an upstream gradient of integers too" if w.upstream else "") +
                        "; entries are numbered from 1.")
        out = [self.heading(("A worked example",), level), self.paragraph(intro)]
        rows = [(self._named(name), self._matrix(m, digits)) for name, m in w.inputs]
        if w.upstream is not None:
            symbol, node, m = w.upstream
            rows.append((self._math(Grad(node)), self._matrix(m, digits)))
        out.append(self._rows(rows))
        return out + self._forward(w)

    def _blocks(self, w: Worked, blocks: Any) -> list[str]:
        out = []
        for block in blocks:
            # the last block giving the whole result directly: its matrix is the result, shown below
            final = block.wrt == w.wrt and not block.partial
            out += self._block(block, w.digits, final)
        return out

    def _forward(self, w: Worked) -> list[str]:
        rows = []
        for name, definition, m in w.forward:
            left = self._math(Equation((Matrix(ex.Symbol(name)), Matrix(definition))))
            rows.append((left, self._matrix(m, w.digits)))
        note = "" if w.exact else (" (irrational numbers are computed with 60 digits and shown rounded to "
                                   f"{w.digits} significant digits)")
        return [self.paragraph((f"The forward pass gives the intermediate results{note}:",)), self._rows(rows)]

    def _block(self, b: BlockWork, digits: int, final: bool = False) -> list[str]:
        part: Prose = ("its part of ", Grad(b.wrt)) if b.partial else (Grad(b.wrt),)
        if b.rule is None:
            head: Prose = (f"Block {b.number}, for ", *part, ", from its matrix form ", b.matrix_rule, ":")
            return [self.paragraph(head), self._rows([(self._math(Grad(b.wrt)), self._matrix(b.value, digits))])]
        head = (f"Block {b.number}, for ", *part, ", entry by entry from ", b.rule, ":")
        rows = []
        for entry in b.entries[:MAX_SHOWN]:
            lines = _sum_lines(entry, self._latex, digits)
            eq = " = " if is_exact(entry.value) else (r" \approx " if self._latex else " ≈ ")
            lines[-1] += eq + number(entry.value, self._latex, digits)
            rows.append((self._math(entry.label), lines))
        out = [self.paragraph(head), self._rows(rows)]
        if final:
            return out
        more = len(b.entries) - MAX_SHOWN
        tail: Prose = ((f"The other {more} entries follow the same way. " if more > 0 else "") + "So ",
                       *((Grad(b.wrt),) if not b.partial else ("its part of ", Grad(b.wrt))), " is:")
        return out + [self.paragraph(tail), self._rows([(self._math(Grad(b.wrt)), self._matrix(b.value, digits))])]

    def _result(self, w: Worked) -> list[str]:
        many = sum(1 for b in w.blocks if b.wrt == w.wrt) > 1
        rows = [(self._math(Grad(w.wrt)), self._matrix(w.result, w.digits))]
        how = "exactly" if w.exact else "with 60 digits"
        head: Prose = ("The result" + (", the sum of the blocks' parts" if many else "") + ":",)
        same = "the same matrix" if w.layout == "denominator" else "its transpose (numerator layout)"
        note: Prose = ("Cross-check: the derived formula ", Equation((Grad(w.wrt, w.layout), Matrix(w.formula))),
                       f", evaluated {how} at these matrices, gives {same}, and so does the definition (the "
                       "derivative of ", Matrix(ex.Symbol("L")), " with respect to each entry of ",
                       Matrix(ex.Symbol(w.wrt)), ", by the exact prover's chain rule).")
        # asides=False: the result without the note on how it was checked
        return [self.paragraph(head), self._rows(rows)] + ([self.paragraph(note)] if self.asides else [])


#: Entries written out per block (all of them on the small instances the examples use).
MAX_SHOWN = 16


class LatexWorked(WorkedBody, LatexDerivationPrinter):
    pass


class TextWorked(WorkedBody, TextDerivationPrinter):
    pass


class MarkdownWorked(WorkedBody, MarkdownDerivationPrinter):
    pass


class HtmlWorked(WorkedBody, HtmlDerivationPrinter):
    pass


#: The printer of each format for a derivation that may carry a worked example.
WORKED: dict[str, type[DocumentPrinter]] = {
    "text": TextWorked, "latex": LatexWorked, "markdown": MarkdownWorked, "html": HtmlWorked,
}

__all__ = ["WORKED", "WorkedBody", "number"]
