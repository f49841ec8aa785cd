# PYTHON_ARGCOMPLETE_OK (shell completion: pip install 'symderiv[completion]', README "Shell completion")
"""The ``symderiv`` command line: a thin shell over the public API.

Exit codes: 0 success / the identity holds (proved, or probabilistic); 1 refuted;
2 bad input or usage; 3 an internal error (a bug); 4 undecided.

Each subcommand lives in its own module and registers itself in :mod:`symderiv.cli.registry`; this module
imports them and builds the parser from the registry. The API behind a subcommand is loaded only when it runs
(:func:`symderiv.cli.registry.api`), so ``symderiv --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from collections.abc import Sequence

from symderiv.cli import demo, derive, gradient, hvp, serve, verify  # noqa: F401 - each registers its subcommands
from symderiv.cli.common import (
    DEFAULT_TIMEOUT,
    EXIT_BUG,
    EXIT_FALSE,
    EXIT_OK,
    EXIT_UNDECIDED,
    EXIT_USAGE,
    emit,
    options_from,
    quiet,
    shapes_from,
    silence_stdout,
)
from symderiv.cli.help import document
from symderiv.cli.registry import Subcommand, subcommands
from symderiv.core.errors import SymderivError

__all__ = ["main", "emit", "build_parser", "EXIT_OK", "EXIT_FALSE", "EXIT_USAGE", "EXIT_BUG", "EXIT_UNDECIDED",
           "DEFAULT_TIMEOUT", "options_from", "shapes_from"]

#: The order of the subcommands in ``symderiv --help`` (any other registered one follows).
HELP_ORDER = ("derive", "compare", "gradient", "verify", "hvp", "hessian", "demo", "serve")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override] # one paragraph, exit 2, no traceback
        self.print_usage(sys.stderr)
        sys.stderr.write(f"symderiv: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _version() -> str:
    # The package is imported before any of its submodules, so it is always loaded here.
    return str(sys.modules["symderiv"].__version__)


def _ordered(entries: list[Subcommand]) -> list[Subcommand]:
    rank = {name: i for i, name in enumerate(HELP_ORDER)}
    return sorted(entries, key=lambda s: rank.get(s.name, len(rank)))


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, one subparser per registered subcommand.

    >>> build_parser().parse_args(["gradient", "W @ X", "--wrt", "W"]).wrt
    ['W']
    """
    parser = _Parser(prog="symderiv", description="Matrix-calculus gradients: derived, proved, written out.")
    parser.add_argument("--version", action="version", version=f"symderiv {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for entry in _ordered(subcommands()):
        p = sub.add_parser(entry.name, help=entry.help, description=entry.description)
        entry.arguments(p)
        document(p, entry.name)
        p.set_defaults(run=entry.run)
    return parser


def _complete(parser: argparse.ArgumentParser) -> None:
    """Shell completion by argcomplete (an optional extra), only when the shell asks for it."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        argcomplete = importlib.import_module("argcomplete")
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1, 2, 3 or 4)."""
    parser = build_parser()
    _complete(parser)
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_USAGE
        with quiet(getattr(args, "quiet", False)):
            code = int(args.run(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # the reader of our output went away: nothing left to say, and no error
        silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("symderiv: interrupted\n")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
        return _report(exc)


def _report(exc: Exception) -> int:
    """One line on stderr for an error; its exit code (2 for bad input, 3 for a bug)."""
    if isinstance(exc, SymderivError):
        sys.stderr.write(f"symderiv: {exc}\n")
        return int(exc.exit_code)
    if isinstance(exc, OSError):
        sys.stderr.write(f"symderiv: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}\n")
        return EXIT_USAGE
    sys.stderr.write(
        f"symderiv: internal error ({type(exc).__name__}: {str(exc)[:300]}). This is a bug, please report it "
        f"with the command you ran. symderiv {_version()}, Python {platform.python_version()}"
        f"{_library_versions()}\n")
    return EXIT_BUG


def _library_versions() -> str:
    """The library versions for the bug report line, such as `, SymPy 1.14.0, NumPy 2.1.0` (never fails)."""
    metadata = importlib.import_module("importlib.metadata")  # only on the way to a bug report: keep start-up fast
    parts = []
    for dist, label in (("sympy", "SymPy"), ("numpy", "NumPy")):
        try:
            parts.append(f"{label} {metadata.version(dist)}")
        except Exception:  # noqa: BLE001 - a missing version must not hide the bug report
            continue
    return "".join(", " + p for p in parts)


def entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
