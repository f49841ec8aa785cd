"""The errors symderiv raises: one family, each with a place and a hint."""

from __future__ import annotations


class SymderivError(Exception):
    """Base class of every error symderiv raises on bad input or refused work.

    ``text`` is the expression the error is about, ``column`` the 1-based column
    of the offending part (or ``None``), and ``hint`` says what would be valid.

    >>> err = SymderivError("unknown name `foo`", text="foo(W)", column=1, hint="try exp")
    >>> print(err)
    unknown name `foo` at column 1
        foo(W)
        ^
    hint: try exp
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        text: str | None = None,
        column: int | None = None,
        hint: str | None = None,
        width: int = 1,
    ) -> None:
        self.message = message
        self.text = text
        self.column = column
        self.hint = hint
        self.width = max(1, width)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [self.message + (f" at column {self.column}" if self.column else "")]
        if self.text is not None and self.column is not None and "\n" not in self.text:
            shown = self.text if len(self.text) <= 200 else self.text[:200] + "…"
            if self.column <= len(shown) + 1:
                lines.append("    " + shown)
                lines.append("    " + " " * (self.column - 1) + "^" * min(self.width, 60))
        if self.hint:
            lines.append("hint: " + self.hint)
        return "\n".join(lines)


class ParseError(SymderivError):
    """The text is not an expression of the language."""


class NameKindError(SymderivError):
    """A name is used as the wrong kind of thing (a function as a matrix, ...)."""


class ShapeError(SymderivError):
    """Shapes do not fit together, or a claim has the wrong shape."""


class OptionError(SymderivError):
    """An option (wrt, shapes, layout, ...) is invalid."""


class BudgetError(SymderivError):
    """The work would exceed the size budget; refused before starting."""


class TimeoutError(SymderivError):  # noqa: A001 - the domain name, scoped to symderiv
    """The wall-clock limit given with ``timeout=`` ran out."""


class DerivationError(SymderivError):
    """A derivation step failed its own check; it is never printed."""

    exit_code = 3


class UnsupportedError(SymderivError):
    """The input is valid but asks for something symderiv does not do (yet)."""
