r"""LaTeX: a standalone ``article`` (amsmath), prose between ``align*`` blocks.

Index notation follows the source: ``\frac{\partial L}{\partial W_{dc}}``,
``\sum_{i,j}``, ``\delta_{kc}``, ``\left(X^{\top}\right)_{jc}``; matrix formulas
come from :func:`symderiv.syntax.printing.to_latex`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from symderiv.core import expr as ex
from symderiv.explain.steps import Code, Document
from symderiv.proofs.index import Delta, Ent, Idx, IndexSum, Partial, Term
from symderiv.render.base import DocumentPrinter
from symderiv.render.linebreak import TEXT_WIDTH, break_side, width
from symderiv.syntax import printing

_PLACEHOLDER = "Qplaceholderq"
#: The room an equation number takes at the right margin (pt).
NUMBER_WIDTH = 30.0
#: Inline math wider than this (pt) is displayed instead: TeX cannot break it inside ``\left … \right``.
WIDE = 0.45 * TEXT_WIDTH
_POW = getattr(printing, "_POW", 4)


class _MatrixLatex(printing.LatexPrinter):
    """The library's LaTeX printer, with upstream symbols written ∂L/∂(node), or by their letters (``letters``)."""

    def __init__(self, upstreams: dict[str, str], letters: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.upstreams = upstreams
        self.letters = dict(letters or {})

    def _print_Symbol(self, node: ex.Symbol) -> tuple[str, int]:
        if node.name in self.letters:
            return letter_latex(self.letters[node.name]), 6
        if node.name in self.upstreams:
            return rf"\frac{{\partial L}}{{\partial {name_latex(self.upstreams[node.name])}}}", _POW
        if node.name == _PLACEHOLDER:
            return _PLACEHOLDER, 6
        return super()._print_Symbol(node)


def name_latex(name: str) -> str:
    r"""A matrix name in LaTeX (``W1`` → ``W_{1}``).

    >>> name_latex("W1")
    'W_{1}'
    """
    return printing.to_latex(ex.Symbol(name))


def letter_latex(letter: str) -> str:
    r"""An upstream gradient's letter in LaTeX: ``G``, or ``G_Z1`` (the letter of ``∂L/∂Z1``) as ``G_{Z_{1}}``.

    >>> letter_latex("G_Z1"), letter_latex("G")
    ('G_{Z_{1}}', 'G')
    """
    head, _, node = letter.partition("_")
    return name_latex(head) + (f"_{{{name_latex(node)}}}" if node else "")


def code_latex(text: str) -> str:
    r"""A formula in symderiv's language, quoted in LaTeX prose: ``\texttt``, with the characters TeX reserves
    escaped.

    >>> code_latex("G @ X.T")
    '\\texttt{G @ X.T}'
    """
    return rf"\texttt{{{escape(text)}}}"


def escape(text: str) -> str:
    r"""Plain prose for LaTeX: special characters escaped, typographic Unicode mapped.

    >>> escape("50% of a_b")
    '50\\% of a\\_b'
    """
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
             "\u2019": "'", "\u2014": "---", "\u2013": "--", "\u00d7": r"$\times$",
             # symbols a quoted formula or a prover's reason may carry (pdflatex has no glyph for them in text)
             "∂": r"$\partial$", "Σ": r"$\Sigma$", "σ": r"$\sigma$", "δ": r"$\delta$", "·": r"$\cdot$",
             "≈": r"$\approx$", "′": "'"}
    return "".join(table.get(ch, ch) for ch in text)


class LatexPrinter:
    """LaTeX for the math data of a derivation (dispatch on the class: ``_print_Ent`` ...)."""

    def __init__(self, upstreams: Mapping[str, str] | None = None, letters: Mapping[str, str] | None = None) -> None:
        #: ``letters`` (``notation="upstream"``): each upstream symbol printed as its letter, not as ``∂L/∂D``.
        self.letters = dict(letters or {})
        self.upstreams = {k: v for k, v in (upstreams or {}).items() if k not in self.letters}
        self.matrix_printer = _MatrixLatex(self.upstreams, self.letters)

    def doprint(self, obj: Any) -> str:
        method = getattr(self, "_print_" + type(obj).__name__, None)
        if method is None:
            raise TypeError(f"no LaTeX for {type(obj).__name__}")
        return method(obj)

    # indices and entries
    @staticmethod
    def indices(*idx: Any) -> str:
        names = [str(i) for i in idx if isinstance(i, Idx)]
        return ("," if any(len(n) > 1 for n in names) else "").join(names)

    def _print_Idx(self, i: Idx) -> str:
        return i.name

    def _print_int(self, i: int) -> str:
        return str(i)

    def _subscript(self, base: str, idx: str, compound: bool) -> str:
        if not idx:
            return base
        if compound:
            return rf"\left({base}\right)_{{{idx}}}"
        # a name with a subscript of its own is bracketed: (W_{1})_{dc}, not W_{1dc}
        return f"({base})_{{{idx}}}" if "_" in base or "^" in base else f"{base}_{{{idx}}}"

    def _print_Ent(self, e: Ent) -> str:
        idx = self.indices(e.row, e.col)
        node = e.expr
        if isinstance(node, ex.Symbol):
            if node.name in self.letters:
                return self._subscript(letter_latex(self.letters[node.name]), idx, False)
            if node.name in self.upstreams:
                inner = self._subscript(name_latex(self.upstreams[node.name]), idx, False)
                return rf"\frac{{\partial L}}{{\partial {inner}}}"
            return self._subscript(name_latex(node.name), idx, False)
        if isinstance(node, ex.Apply) and isinstance(node.operand, ex.Symbol) and idx:
            # f applied to one entry reads better than an entry of f(Z)
            shell = self.matrix_printer.doprint(ex.Apply(ex.Symbol(_PLACEHOLDER), fn=node.fn))
            return shell.replace(_PLACEHOLDER, self._print_Ent(Ent(node.operand, e.row, e.col)))
        text = self.matrix_printer.doprint(node)
        return self._subscript(text, idx, bool(idx))

    def _print_Delta(self, f: Delta) -> str:
        return rf"\delta_{{{self.indices(f.a, f.b)}}}"

    def _print_Partial(self, f: Partial) -> str:
        den = self._print_Ent(f.den)
        if f.num is None:
            return rf"\frac{{\partial L}}{{\partial {den}}}"
        if isinstance(f.num, Ent):
            num = self._print_Ent(f.num)
            if num.startswith(r"\frac") or num.startswith(r"\left"):
                return rf"\frac{{\partial}}{{\partial {den}}} {num}"
            return rf"\frac{{\partial {num}}}{{\partial {den}}}"
        body = self._print_IndexSum(f.num)
        if len(f.num.terms) > 1 or (f.num.terms and f.num.terms[0].sums):
            body = rf"\left({body}\right)"
        return rf"\frac{{\partial}}{{\partial {den}}} {body}"

    def factor(self, f: Any) -> str:
        return self.doprint(f)

    def _print_Term(self, t: Term, first: bool = True) -> str:
        coeff = t.coeff
        sign = "-" if coeff < 0 else ("" if first else "+")
        mag = abs(coeff)
        parts = []
        if mag != 1 or not t.factors:
            parts.append(printing.to_latex(ex.Number(mag)))
        factors = r" \, ".join(self.factor(f) for f in t.factors)
        if t.sums:
            names = ",".join(str(i) for i in t.sums)
            parts.append(rf"\sum_{{{names}}} {factors}")
        elif factors:
            parts.append(factors)
        body = " ".join(parts)
        return f"{sign} {body}".strip() if sign else body

    def _print_IndexSum(self, s: IndexSum) -> str:
        if not s.terms:
            return "0"
        out = [self._print_Term(t, n == 0) for n, t in enumerate(s.terms)]
        return " ".join(out)

    # matrix level
    def _print_Matrix(self, m: Any) -> str:
        return self.matrix_printer.doprint(m.expr)

    def _print_Grad(self, g: Any) -> str:
        body = rf"\frac{{\partial L}}{{\partial {name_latex(g.name)}}}"
        return rf"\left({body}\right)^{{\top}}" if g.layout == "numerator" else body

    def _print_Dims(self, d: Any) -> str:
        r, c = (str(x) if isinstance(x, int) else name_latex(x) for x in d.shape)
        return rf"{r} \times {c}"

    def _print_Name(self, n: Any) -> str:
        return name_latex(n.name)

    def _print_IndexEq(self, e: Any) -> str:
        return f"{self.doprint(e.a)} = {self.doprint(e.b)}"

    def _print_Equation(self, e: Any) -> str:
        return " = ".join(self.doprint(s) for s in e.sides)

    def align(self, e: Any, boxed: bool = False, limit: float | None = TEXT_WIDTH) -> str:
        """The rows of an ``align*``: the left side, then ``&= side`` on one line each.

        A side wider than ``limit`` pt (None: no limit) is broken before a ``+``/``-`` onto indented lines.
        """
        sides = [self.doprint(s) for s in e.sides]
        if len(sides) == 1:
            return rf"\boxed{{{sides[0]}}}" if boxed else sides[0]
        room = None if limit is None else limit - width(sides[0]) - width("=") - (8.0 if boxed else 0.0)
        lines = []
        for n, side in enumerate(sides[1:]):
            parts = [side] if room is None else break_side(side, max(room, limit / 2 if limit else room))
            if boxed and n == len(sides) - 2 and len(parts) == 1:
                parts = [rf"\boxed{{{side}}}"]
            lead = f"{sides[0]} &= " if n == 0 else "&= "
            lines.append(lead + parts[0])
            lines += [rf"&\quad {{}}{p}" for p in parts[1:]]
        return " \\\\\n".join(lines)

    def prose(self, prose: tuple) -> str:
        """Prose with inline math ``$...$``; math too wide for a line is displayed, broken to fit."""
        return "".join(escape(p) if isinstance(p, str) else code_latex(p.text) if isinstance(p, Code)
                       else self.inline(self.doprint(p)) for p in prose)

    @staticmethod
    def inline(math: str) -> str:
        r"""``$math$``, or a display ``\[ … \]`` (broken into lines as needed) when it is too wide to sit in a line.

        >>> LatexPrinter.inline("x")
        '$x$'
        """
        if width(math) <= WIDE:
            return f"${math}$"
        lines = break_side(math, TEXT_WIDTH)
        if len(lines) == 1:
            return rf"\[ {math} \]"
        body = " \\\\\n".join(["&" + lines[0], *[rf"&\quad {{}}{p}" for p in lines[1:]]])
        return "\n\\[\\begin{aligned}\n" + body + "\n\\end{aligned}\\]\n"


_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath,amssymb}
\usepackage[margin=2.5cm]{geometry}
\allowdisplaybreaks
\setlength{\emergencystretch}{3em}
\begin{document}
"""


class LatexDerivationPrinter(DocumentPrinter):
    """The derivation as LaTeX: a standalone article, or a fragment to ``\\input``."""

    def __init__(self, derivation: Document) -> None:
        super().__init__(derivation)
        self.math = LatexPrinter(derivation.upstreams, self.letters)

    def heading(self, prose: tuple, level: int = 2) -> str:
        """``\\section*``; math too wide for a heading line follows it as a display."""
        command = r"\section*" if level == 1 else r"\subsection*"
        wide = [p for p in prose if not isinstance(p, str | Code) and width(self.math.doprint(p)) > WIDE]
        if not wide:
            return f"{command}{{{self.math.prose(prose)}}}"
        head = self.math.prose(tuple(p for p in prose if p not in wide)).rstrip(" ,")
        shown = "\n".join(self.math.inline(self.math.doprint(p)) for p in wide)
        return f"{command}{{{head}:}}\n{shown}"

    def paragraph(self, prose: tuple) -> str:
        return self.math.prose(prose)

    def numbered(self, number: int, prose: tuple) -> str:
        return rf"\paragraph{{Step {number}.}} " + self.math.prose(prose)

    def display(self, equation: Any, boxed: bool = False) -> str:
        if self.numbering:  # one number per step, with room for it on the line
            body = self.math.align(equation, boxed, limit=TEXT_WIDTH - NUMBER_WIDTH)
            return "\\begin{equation}\n\\begin{aligned}\n" + body + "\n\\end{aligned}\n\\end{equation}"
        return "\\begin{align*}\n" + self.math.align(equation, boxed) + "\n\\end{align*}"

    def tag(self, shown: str, number: int) -> str:
        """LaTeX numbers its own ``equation`` environments (the same as the steps')."""
        return shown

    def jupyter(self) -> str:
        """All equations in one ``align*`` that MathJax renders, each tagged with its step and kind."""
        rows = []
        for n, step in enumerate(self.d.steps, 1):
            kind = step.kind.value.replace("_", " ")
            text = self.math.align(step.equation, limit=None).replace(" \\\\\n", r" \\ ")
            rows.append(rf"{text} && \text{{({n}) {kind}}}")
        return "$$\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}$$"

    def document(self, standalone: bool = True) -> str:
        body = self.join(self.body())
        if not standalone:
            return body + "\n"
        return _PREAMBLE + "\n" + body + "\n\n\\end{document}\n"


__all__ = ["LatexPrinter", "LatexDerivationPrinter", "code_latex", "escape", "letter_latex", "name_latex"]
