"""What every subcommand shares: the common options, the exit codes, and printing to a pipe that may close.

>>> parser = argparse.ArgumentParser()
>>> add_common(parser)
>>> args = parser.parse_args(["--shape", "W=2,3", "--fn", "phi"])
>>> shapes_from(args), options_from(args)
({'W': (2, 3)}, {'functions': ['phi'], 'symmetric': [], 'upstream': 'G'})
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator

from symderiv.cli.registry import api
from symderiv.core.errors import OptionError
from symderiv.core.status import EXIT_BUG, EXIT_FALSE, EXIT_OK, EXIT_UNDECIDED, EXIT_USAGE

__all__ = ["DEFAULT_TIMEOUT", "add_common", "assumptions_from", "emit", "quiet", "silence_stdout", "shapes_from", "options_from",
           "EXIT_OK", "EXIT_FALSE", "EXIT_USAGE", "EXIT_BUG", "EXIT_UNDECIDED"]

#: The command line never runs unannounced for longer than this (the API has no default limit).
DEFAULT_TIMEOUT = 600.0


def add_common(p: argparse.ArgumentParser, *, shapes: bool = True) -> None:
    """The options every proving subcommand takes: shapes, declarations, the upstream name and the limits."""
    if shapes:
        p.add_argument("--shape", action="append", default=[], metavar="NAME=ROWS,COLS",
                       help="a symbol's shape, e.g. W=H,m or X=2,4 (repeatable)")
    p.add_argument("--fn", action="append", default=[], metavar="NAME",
                   help="declare a generic elementwise function such as phi (repeatable)")
    p.add_argument("--symmetric", action="append", default=[], metavar="NAME",
                   help="declare a square symbol symmetric (repeatable)")
    p.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                   help="structure of a symbol held fixed, e.g. Y=onehot_rows; kinds: symmetric, diagonal, "
                        "onehot_rows, onehot_cols, stochastic_rows, stochastic_cols, positive, signs (±1; alias pm1) "
                        "(repeatable)")
    p.add_argument("--symmetric-convention", choices=("projection", "entries"), default="projection",
                   help="gradient with respect to a symmetric matrix: projection (default, (Gs + Gs.T)/2) or "
                        "entries (Gs + Gs.T - diag(Gs)); see docs/symmetric.md")
    p.add_argument("--upstream", default="G", metavar="NAME", help="name of the upstream gradient ∂L/∂D (default G)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"wall-clock limit of each proof or check (default {DEFAULT_TIMEOUT:g} s)")
    p.add_argument("--budget", type=_positive_int, default=None, metavar="TERMS",
                   help="size budget of exact entrywise proofs, in term operations")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing on standard output: the exit code is the answer (errors still go to stderr)")


@contextlib.contextmanager
def quiet(on: bool) -> Iterator[None]:
    """Standard output discarded while ``on`` (``-q/--quiet``)."""
    if not on:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {text}")
    return value


def emit(text: str) -> None:
    """Print to stdout; a reader that went away (``symderiv demo | head -1``) silences the rest, quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        silence_stdout()


def silence_stdout() -> None:
    """Point stdout at devnull so that the flush at exit cannot fail again (Python's documented recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def shapes_from(args: argparse.Namespace) -> dict | None:
    """The ``--shape`` options as a shapes mapping, or None when there are none."""
    if not args.shape:
        return None
    result = {}
    for item in args.shape:
        name, shape = api("syntax.shapes").parse_shape_option(item)
        result[name] = shape
    return result


def options_from(args: argparse.Namespace) -> dict:
    """The declarations (``--fn``, ``--symmetric``, ``--upstream``; ``--assume`` and ``--symmetric-convention`` when
    given) as keyword arguments of the API.

    >>> parser = argparse.ArgumentParser()
    >>> add_common(parser)
    >>> options_from(parser.parse_args(["--assume", "Y=onehot_rows", "--symmetric-convention", "entries"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'functions': [], 'symmetric': [], 'upstream': 'G', 'assume': {'Y': 'onehot_rows'},
     'symmetric_convention': 'entries'}
    """
    options = {"functions": args.fn, "symmetric": args.symmetric, "upstream": args.upstream}
    assume = assumptions_from(getattr(args, "assume", []))
    if assume:
        options["assume"] = assume
    convention = getattr(args, "symmetric_convention", "projection")
    if convention != "projection":
        options["symmetric_convention"] = convention
    return options


def assumptions_from(items: list[str]) -> dict[str, str]:
    """``--assume Y=onehot_rows`` options as the API's ``assume`` mapping; a malformed one is an OptionError.

    >>> assumptions_from(["Y=onehot_rows", "P = positive"])
    {'Y': 'onehot_rows', 'P': 'positive'}
    >>> assumptions_from(["Y"])
    Traceback (most recent call last):
    symderiv.core.errors.OptionError: --assume takes NAME=KIND, not 'Y'
    hint: for example --assume Y=onehot_rows
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, kind = item.partition("=")
        name, kind = name.strip(), kind.strip()
        if not sep or not name or not kind:
            raise OptionError(f"--assume takes NAME=KIND, not {item!r}", hint="for example --assume Y=onehot_rows")
        if name in out and out[name] != kind:
            raise OptionError(f"--assume gives `{name}` two structures ({out[name]} and {kind})")
        out[name] = kind
    return out
