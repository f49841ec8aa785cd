"""``symderiv derive`` and ``symderiv compare``: step-by-step derivations on the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from symderiv.explain.compare import relation

FORMATS = ("text", "latex", "markdown", "html")


def add_derive(sub: argparse._SubParsersAction, common: Callable[..., None]) -> None:
    """Register ``derive`` and ``compare`` on the ``symderiv`` parser.

    >>> from symderiv.cli import main
    >>> main(["derive", "W @ X", "--wrt", "W", "--format", "text", "-o", "/nonexistent/dir/x.txt"])
    2
    """
    p = sub.add_parser("derive", help="a step-by-step derivation in index notation, every step checked",
                       description="Derive ∂L/∂V step by step (index notation, Kronecker deltas, the matrix "
                       "form), check every step exactly, and print it as text, LaTeX, Markdown or HTML.")
    p.add_argument("expression")
    p.add_argument("--wrt", required=True, metavar="NAME")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator")
    common(p)
    p.set_defaults(run=run_derive)

    c = sub.add_parser("compare", help="two derivations one after the other, and how their results relate",
                       description="Derive ∂L/∂V for two expressions and explain how the results relate "
                       '(e.g. "W @ X" and "X @ W": one is the transpose picture of the other).')
    c.add_argument("first")
    c.add_argument("second")
    c.add_argument("--wrt", required=True, metavar="NAME")
    c.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    common(c)
    c.set_defaults(run=run_compare)


def _emit(text: str, path: str | None) -> None:
    from symderiv.core.errors import SymderivError

    if path is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise SymderivError(f"cannot write `{path}`: {err.strerror or err}",
                            hint="choose a file in a directory you can write to") from None


def run_derive(args: argparse.Namespace) -> int:
    """Derive and print in the chosen format."""
    from symderiv.cli import EXIT_OK, options_from, shapes_from
    from symderiv.explain.derivation import derive

    d = derive(args.expression, args.wrt, shapes_from(args), layout=args.layout, timeout=args.timeout,
               **options_from(args))
    text = {"text": d.to_text, "latex": d.to_latex, "markdown": d.to_markdown, "html": d.to_html}[args.format]()
    _emit(text, args.output)
    return EXIT_OK


def run_compare(args: argparse.Namespace) -> int:
    """Both derivations in text, then the note on how they relate."""
    from symderiv.cli import EXIT_OK, options_from
    from symderiv.explain.derivation import derive

    first = derive(args.first, args.wrt, **options_from(args), shapes=None, timeout=args.timeout)
    second = derive(args.second, args.wrt, **options_from(args), shapes=None, timeout=args.timeout)
    rule = "=" * 72
    note = relation(first, second)
    import textwrap

    text = "\n".join([first.to_text(), rule, "", second.to_text(), rule, "", "How the two results relate",
                      "--------------------------", "", textwrap.fill(note, 100, break_long_words=False), ""])
    _emit(text, args.output)
    return EXIT_OK


__all__ = ["add_derive", "run_derive", "run_compare", "relation"]
