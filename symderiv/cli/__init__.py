"""The ``symderiv`` command line: a thin shell over the public API.

Exit codes: 0 success / the identity holds (proved, or probabilistic); 1 refuted;
2 bad input or usage; 3 an internal error (a bug); 4 undecided. Heavy modules are imported only inside the
subcommands, so ``symderiv --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from symderiv.core.status import EXIT_BUG, EXIT_FALSE, EXIT_OK, EXIT_UNDECIDED, EXIT_USAGE

__all__ = ["main", "emit", "build_parser", "EXIT_OK", "EXIT_FALSE", "EXIT_USAGE", "EXIT_BUG", "EXIT_UNDECIDED"]

#: The command line never runs unannounced for longer than this (the API has no default limit).
DEFAULT_TIMEOUT = 600.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one paragraph, exit 2, no traceback
        self.print_usage(sys.stderr)
        sys.stderr.write(f"symderiv: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _common(p: argparse.ArgumentParser, *, shapes: bool = True) -> None:
    if shapes:
        p.add_argument("--shape", action="append", default=[], metavar="NAME=ROWS,COLS",
                       help="a symbol's shape, e.g. W=H,m or X=2,4 (repeatable)")
    p.add_argument("--fn", action="append", default=[], metavar="NAME",
                   help="declare a generic elementwise function such as phi (repeatable)")
    p.add_argument("--symmetric", action="append", default=[], metavar="NAME",
                   help="declare a square symbol symmetric (repeatable)")
    p.add_argument("--upstream", default="G", metavar="NAME", help="name of the upstream gradient ∂L/∂D (default G)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"wall-clock limit of each proof or check (default {DEFAULT_TIMEOUT:g} s)")
    p.add_argument("--budget", type=_positive_int, default=None, metavar="TERMS",
                   help="size budget of exact entrywise proofs, in term operations")


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
        _silence_stdout()


def _silence_stdout() -> None:
    # Python's documented recipe: point stdout at devnull so the flush at exit cannot fail again.
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def shapes_from(args: argparse.Namespace) -> dict | None:
    from symderiv.syntax.shapes import parse_shape_option

    if not args.shape:
        return None
    result = {}
    for item in args.shape:
        name, shape = parse_shape_option(item)
        result[name] = shape
    return result


def options_from(args: argparse.Namespace) -> dict:
    return {"functions": args.fn, "symmetric": args.symmetric, "upstream": args.upstream}


# --------------------------------------------------------------------------
# verify


def _add_verify(sub) -> None:
    p = sub.add_parser("verify", help="prove a claimed gradient, or refute it with a counterexample")
    p.add_argument("expression")
    p.add_argument("--wrt", required=True, metavar="NAME")
    p.add_argument("--claim", required=True, metavar="FORMULA")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator")
    p.add_argument("--strict", action="store_true", help="let SymPy differentiate f(D(V)) itself (slower)")
    p.add_argument("--method", choices=("auto", "exact", "random"), default="auto",
                   help="auto (default): the exact proof, or past the budget the randomized test; exact; random")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    _common(p)
    p.set_defaults(run=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    from symderiv.proofs.verification import verify

    verdict = verify(args.expression, wrt=args.wrt, claim=args.claim, shapes=shapes_from(args), layout=args.layout,
                     strict=args.strict, method=args.method, timeout=args.timeout, budget=args.budget,
                     **options_from(args))
    emit(verdict.to_json() if args.json else verdict.report())
    return verdict.exit_code


# --------------------------------------------------------------------------
# demo


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the source derivation, D = W X, end to end")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from symderiv.demo import run_demo

    return run_demo(emit)


# --------------------------------------------------------------------------
# gradient, derive, compare: registered by their own modules' functions below


def _add_gradient(sub) -> None:
    try:
        from symderiv.cli.gradient import add_gradient
    except ImportError:
        return
    add_gradient(sub, _common)


def _add_derive(sub) -> None:
    try:
        from symderiv.cli.derive import add_derive
    except ImportError:
        return
    add_derive(sub, _common)


SUBCOMMANDS: list[Callable] = [_add_derive, _add_gradient, _add_verify, _add_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symderiv", description="Matrix-calculus gradients: derived, proved, written out.")
    from symderiv import __version__

    parser.add_argument("--version", action="version", version=f"symderiv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1, 2, 3 or 4)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_USAGE
        code = args.run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:  # the reader of our output went away: nothing left to say, and no error
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("symderiv: interrupted\n")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into exit codes
        from symderiv.core.errors import SymderivError

        if isinstance(exc, SymderivError):
            sys.stderr.write(f"symderiv: {exc}\n")
            return exc.exit_code
        if isinstance(exc, OSError):
            sys.stderr.write(f"symderiv: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}\n")
            return EXIT_USAGE
        import platform

        from symderiv import __version__

        sys.stderr.write(
            f"symderiv: internal error ({type(exc).__name__}: {str(exc)[:300]}). This is a bug, please report it "
            f"with the command you ran. symderiv {__version__}, Python {platform.python_version()}"
            f"{_library_versions()}\n")
        return EXIT_BUG


def _library_versions() -> str:
    """The library versions for the bug report line, such as `, SymPy 1.14.0, NumPy 2.1.0` (never fails)."""
    from importlib import metadata

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
