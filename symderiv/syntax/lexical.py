"""The lexical layer of the language: its limits, its names, and the scan of the raw text.

Every limit is checked before Python's ``ast`` sees the text, so hostile input (``"(" * 100000``,
control characters, lookalike letters) is refused at once with the column that crosses it.
"""

from __future__ import annotations

import re

from symderiv.core.errors import ParseError

MAX_LENGTH = 4000
MAX_PAREN_DEPTH = 64
MAX_UNARY_RUN = 32
MAX_NODES = 1500
MAX_TREE_DEPTH = 120
MAX_POWER = 64
MAX_DIM_VALUE = 10**12

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def is_identifier(name: str) -> bool:
    """A name of the language: a letter, then letters, digits and single underscores.

    >>> is_identifier("W_1"), is_identifier("__class__"), is_identifier("_x")
    (True, False, False)
    """
    return bool(_IDENT.match(name)) and "__" not in name


def check_identifier(name: str, what: str) -> None:
    """Refuse names that are not plain identifiers (used for symbols, dims, functions).

    >>> check_identifier("W_1", "symbol")
    >>> check_identifier("__class__", "symbol")
    Traceback (most recent call last):
    ...
    symderiv.core.errors.ParseError: `__class__` is not a valid symbol name
    hint: names start with a letter and use letters, digits and single underscores
    """
    if not isinstance(name, str) or not is_identifier(name):
        raise ParseError(
            f"`{name}` is not a valid {what} name",
            hint="names start with a letter and use letters, digits and single underscores",
        )


def prescan(text: str) -> None:
    """Refuse hostile text before ``ast.parse`` sees it: length, brackets, runs of signs, characters.

    >>> prescan("W @ X")
    >>> prescan("W # X")
    Traceback (most recent call last):
    ...
    symderiv.core.errors.ParseError: comments (`#`) are not part of the expression language at column 3
        W # X
          ^
    """
    if not isinstance(text, str):
        raise ParseError("the expression must be a string")
    if len(text) > MAX_LENGTH:
        # The column is where the limit is crossed; the text is not echoed (render shows at most 200 characters).
        raise ParseError(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}",
                         text=text[:200], column=MAX_LENGTH + 1, hint="split it into smaller pieces")
    if not text.strip():
        raise ParseError("the expression is empty", hint="for example: W @ X")
    depth = 0
    unary_run = 0
    for col, ch in enumerate(text, start=1):
        if ch in "([{":
            depth += 1
            if depth > MAX_PAREN_DEPTH:
                raise ParseError(f"brackets nested more than {MAX_PAREN_DEPTH} deep", text=text, column=col,
                                 hint="simplify the expression")
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise ParseError("unbalanced brackets: `" + ch + "` closes nothing", text=text, column=col)
        unary_run = 0 if ch not in "+-~" and not ch.isspace() else unary_run + (ch in "+-~")
        if unary_run > MAX_UNARY_RUN:
            raise ParseError(f"more than {MAX_UNARY_RUN} signs in a row", text=text, column=col)
        _check_character(text, ch, col)
    if depth > 0:
        raise ParseError("unbalanced brackets: a `(` is never closed", text=text, column=len(text) + 1,
                         hint="add the missing `)`")


def _check_character(text: str, ch: str, col: int) -> None:
    if ch == "\x00" or (ord(ch) < 32 and ch not in "\t\n\r") or ch == "\x7f":
        raise ParseError("control character in the expression", text=text, column=col)
    if ord(ch) > 127:
        # Python folds identifiers by NFKC (fullwidth `Ｗ` would silently become `W`); the language is ASCII.
        raise ParseError(f"the character `{ch}` (U+{ord(ch):04X}) is not part of the expression language",
                         text=text, column=col, hint="expressions are written in ASCII: names, numbers, @ * + - / **")
    if ch == "#":
        raise ParseError("comments (`#`) are not part of the expression language", text=text, column=col)


__all__ = ["MAX_DIM_VALUE", "MAX_LENGTH", "MAX_NODES", "MAX_PAREN_DEPTH", "MAX_POWER", "MAX_TREE_DEPTH", "MAX_UNARY_RUN",
           "check_identifier", "is_identifier", "prescan"]
