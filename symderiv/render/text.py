"""Plain Unicode for the terminal: ``∂L/∂W_dc = Σ_j ∂L/∂D_dj · X_cj``; matrices in the language."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from symderiv.core import expr as ex
from symderiv.explain.steps import Code, Document
from symderiv.proofs.index import Delta, Ent, Idx, IndexSum, Partial, Term
from symderiv.render.base import DocumentPrinter
from symderiv.syntax import printing

_ATOM = getattr(printing, "_ATOM", 6)


class _MatrixText(printing.TextPrinter):
    def __init__(self, upstreams: dict[str, str], letters: Mapping[str, str] | None = None) -> None:
        self.upstreams = upstreams
        self.letters = dict(letters or {})

    def _print_Symbol(self, node: ex.Symbol) -> tuple[str, int]:
        if node.name in self.letters:
            return self.letters[node.name], _ATOM
        if node.name in self.upstreams:
            return f"(∂L/∂{self.upstreams[node.name]})", _ATOM
        return super()._print_Symbol(node)

    def _print_Apply(self, node: ex.Apply) -> tuple[str, int]:
        return f"{_fn(node.fn)}({self.doprint(node.operand)})", getattr(printing, "_POSTFIX", 5)


def _entry(name: str, idx: str) -> str:
    """An entry of a named matrix: ``W_dc``, and ``(W1)_dc`` when the name has a subscript of its own.

    >>> _entry("W1", "_dc"), _entry("W", "_dc"), _entry("W1", "")
    ('(W1)_dc', 'W_dc', 'W1')
    """
    plain = name.rstrip("ᵀ")
    return f"({name}){idx}" if idx and not plain.isalpha() else name + idx


def _fn(name: str) -> str:
    """``phi_prime`` → ``phi′`` (the derivative of a generic or built-in function)."""
    return name[: -len("_prime")] + "′" if name.endswith("_prime") else name


class TextPrinter:
    """Unicode text for the math data of a derivation (dispatch on the class).

    >>> from symderiv.proofs.index import Ent, Idx, IndexSum
    >>> TextPrinter().doprint(IndexSum.of(Ent(ex.Symbol("X"), Idx("c", "m"), Idx("j", "n")),
    ...                                   sums=[Idx("j", "n")]))
    'Σ_j X_cj'
    """

    def __init__(self, upstreams: Mapping[str, str] | None = None, letters: Mapping[str, str] | None = None) -> None:
        #: ``letters`` (``notation="upstream"``): each upstream symbol printed as its letter (``G_Z``), not ``∂L/∂Z``.
        self.letters = dict(letters or {})
        self.upstreams = {k: v for k, v in (upstreams or {}).items() if k not in self.letters}
        self.matrix_printer = _MatrixText(self.upstreams, self.letters)

    def doprint(self, obj: Any) -> str:
        method = getattr(self, "_print_" + type(obj).__name__, None)
        if method is None:
            raise TypeError(f"no text for {type(obj).__name__}")
        return method(obj)

    @staticmethod
    def indices(*idx: Any) -> str:
        names = [str(i) for i in idx if isinstance(i, Idx)]
        if any(len(n) > 1 for n in names):
            return "_{" + ",".join(names) + "}"
        return ("_" + "".join(names)) if names else ""

    def _print_Idx(self, i: Idx) -> str:
        return i.name

    def _print_int(self, i: int) -> str:
        return str(i)

    def _print_Ent(self, e: Ent) -> str:
        idx = self.indices(e.row, e.col)
        node = e.expr
        if isinstance(node, ex.Symbol):
            if node.name in self.letters:
                return _entry(self.letters[node.name], idx)
            if node.name in self.upstreams:
                return f"∂L/∂{_entry(self.upstreams[node.name], idx)}"
            return _entry(node.name, idx)
        if isinstance(node, ex.Transpose) and isinstance(node.operand, ex.Symbol):
            name = node.operand.name
            if name in self.letters:
                return _entry(f"{self.letters[name]}ᵀ", idx)
            return f"(∂L/∂{self.upstreams[name]})ᵀ{idx}" if name in self.upstreams else _entry(f"{name}ᵀ", idx)
        if isinstance(node, ex.Apply) and isinstance(node.operand, ex.Symbol) and idx:
            return f"{_fn(node.fn)}({_entry(node.operand.name, idx)})"
        return f"({self.matrix_printer.doprint(node)}){idx}" if idx else self.matrix_printer.doprint(node)

    def _print_Delta(self, f: Delta) -> str:
        return "δ" + self.indices(f.a, f.b)

    def _print_Partial(self, f: Partial) -> str:
        den = self._print_Ent(f.den)
        if f.num is None:
            return f"∂L/∂{den}"
        if isinstance(f.num, Ent):
            return f"∂{self._print_Ent(f.num)}/∂{den}"
        return f"∂/∂{den} ({self._print_IndexSum(f.num)})"

    def _print_Term(self, t: Term, first: bool = True) -> str:
        sign = "−" if t.coeff < 0 else ("" if first else "+")
        mag = abs(t.coeff)
        parts = []
        if mag != 1 or not t.factors:
            parts.append(str(mag))
        factors = " · ".join(self.doprint(f) for f in t.factors)
        if t.sums:
            names = [str(i) for i in t.sums]
            sub = ("{" + ",".join(names) + "}") if len(names) > 1 else names[0]
            parts.append(f"Σ_{sub} {factors}")
        elif factors:
            parts.append(factors)
        body = " ".join(parts)
        return f"{sign} {body}" if sign else body

    def _print_IndexSum(self, s: IndexSum) -> str:
        if not s.terms:
            return "0"
        return " ".join(self._print_Term(t, n == 0) for n, t in enumerate(s.terms))

    def _print_Matrix(self, m: Any) -> str:
        return self.matrix_printer.doprint(m.expr)

    def _print_Grad(self, g: Any) -> str:
        return f"(∂L/∂{g.name}).T" if g.layout == "numerator" else f"∂L/∂{g.name}"

    def _print_Dims(self, d: Any) -> str:
        return f"{d.shape[0]}×{d.shape[1]}"

    def _print_Name(self, n: Any) -> str:
        return str(n.name)

    def _print_IndexEq(self, e: Any) -> str:
        return f"{self.doprint(e.a)} = {self.doprint(e.b)}"

    def _print_Equation(self, e: Any) -> str:
        return " = ".join(self.doprint(s) for s in e.sides)

    def equation(self, e: Any) -> str:
        return self._print_Equation(e)

    def prose(self, prose: tuple) -> str:
        return "".join(p if isinstance(p, str) else p.text if isinstance(p, Code) else self.doprint(p) for p in prose)


class TextDerivationPrinter(DocumentPrinter):
    """The derivation as plain text: numbered steps, equations indented, long chains one side a line."""

    #: The default line width; the command line passes the terminal's.
    WIDTH = 100

    def __init__(self, derivation: Document, width: int | None = None) -> None:
        super().__init__(derivation)
        self.math = TextPrinter(derivation.upstreams, self.letters)
        # Narrower than 40 columns, prose would wrap word by word: keep 40 as a floor.
        self.width = max(40, width) if width else self.WIDTH

    def heading(self, prose: tuple, level: int = 2) -> str:
        text = self.math.prose(prose)
        return f"{text}\n{('=' if level == 1 else '-') * min(len(text), self.width)}"

    def paragraph(self, prose: tuple) -> str:
        return textwrap.fill(self.math.prose(prose), self.width, break_on_hyphens=False, break_long_words=False)

    def display(self, equation: Any, boxed: bool = False) -> str:
        sides = [self.math.doprint(s) for s in equation.sides]
        one = "    " + " = ".join(sides)
        if len(one) <= self.width:
            return one
        pad = " " * (4 + len(sides[0]) + 1)
        return "\n".join(["    " + sides[0] + " = " + sides[1]] + [pad + "= " + s for s in sides[2:]])

    def tag(self, shown: str, number: int) -> str:
        """``(3)`` at the right of the display's last line (after it when the line is full)."""
        label = f"({number})"
        lines = shown.split("\n")
        room = self.width - len(lines[-1]) - len(label)
        if room >= 2:
            lines[-1] += " " * room + label
        else:
            lines.append(" " * max(4, self.width - len(label)) + label)
        return "\n".join(lines)

    def document(self) -> str:
        return self.join(self.body()) + "\n"


__all__ = ["TextPrinter", "TextDerivationPrinter"]
