"""``symderiv derive`` and ``symderiv compare``: step-by-step derivations on the command line."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from typing import Any

from symderiv.cli.common import EXIT_OK, add_common, options_from, shapes_from
from symderiv.cli.registry import api, register
from symderiv.core.errors import SymderivError

FORMATS = ("text", "latex", "markdown", "html")


def derive_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``derive``.

    >>> from symderiv.cli import main
    >>> main(["derive", "W @ X", "--wrt", "W", "--format", "text", "-o", "/nonexistent/dir/x.txt"])
    2
    """
    p.add_argument("expression")
    p.add_argument("--wrt", required=True, action="append", metavar="NAME",
                   help="the matrix to differentiate by (repeatable: one document, shared blocks derived once)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator")
    p.add_argument("--indices", default="", metavar="d,c,i,j,k",
                   help="index names: the entry V_dc, a block's entry D_ij, then the summed indices")
    p.add_argument("--no-asides", dest="asides", action="store_false",
                   help="leave out the notes on how each step is checked and the result in symderiv's language")
    p.add_argument("--detail", choices=("compact", "full"), default="compact",
                   help="compact (default): a routine block (elementwise function, bias) in one step; "
                        "full: every block in all six moves")
    p.add_argument("--numbered", action="store_true",
                   help="number the display equations (LaTeX's numbers; (1), (2), ... in the other formats)")
    p.add_argument("--notation", choices=("partial", "upstream"), default="partial",
                   help="how the steps write the upstream gradient: partial (default) as ∂L/∂D_ij, upstream by its "
                        "letter G_ij (an inner block's ∂L/∂Z as G_Z, introduced in its block)")
    p.add_argument("--worked-example", dest="worked", action="store_true",
                   help="add a worked numeric example: small integer matrices and every entry computed by hand")
    p.add_argument("--json", action="store_true", help="print a machine-readable result (the steps as data)")
    add_common(p)


def compare_arguments(c: argparse.ArgumentParser) -> None:
    """The arguments of ``compare``."""
    c.add_argument("first")
    c.add_argument("second")
    c.add_argument("--wrt", required=True, metavar="NAME")
    c.add_argument("--format", choices=("text", "markdown"), default="text", help="output format (default text)")
    c.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    c.add_argument("--json", action="store_true", help="print a machine-readable result (both derivations and the note)")
    add_common(c)


def _emit(text: str, path: str | None) -> None:
    if path is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise SymderivError(f"cannot write `{path}`: {err.strerror or err}",
                            hint="choose a file in a directory you can write to") from None


def _as_data(d: Any) -> dict[str, Any]:
    """A derivation as JSON data: the result (as ``gradient --json``), the blocks and the steps."""
    text = api("syntax.printing").to_text
    return {"result": d.result.to_dict(), "shapes": {k: list(v) for k, v in d.shapes.items()},
            "blocks": [{"name": b.name, "definition": text(b.definition), "wrt": b.wrt} for b in d.blocks],
            "steps": [{"kind": s.kind.value, "equation": s.equation_text, "justification": s.justification,
                       "checked": s.checked} for s in d.steps]}


#: The same, for the other commands that print derivations as data (``hvp --derive --json``).
as_data = _as_data


def _terminal_width(output: str | None) -> int | None:
    """The terminal's width when text goes to a terminal; None (the default width) for a file or a pipe."""
    if output is None and sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def run_derive(args: argparse.Namespace) -> int:
    """Derive and print in the chosen format, or as JSON. Several ``--wrt`` names make one document, in every
    format: the blocks the gradients share derived once, then each one's own."""
    names = list(dict.fromkeys(args.wrt))
    doc = api("explain.derivation").derive(args.expression, names if len(names) > 1 else names[0], shapes_from(args),
                                           layout=args.layout, timeout=args.timeout, indices=args.indices,
                                           asides=args.asides, worked=args.worked, detail=args.detail,
                                           numbered=args.numbered, notation=args.notation, **options_from(args))
    derivations = list(getattr(doc, "derivations", ())) or [doc]
    if args.json:
        data = [_as_data(d) for d in derivations]
        _emit(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2), args.output)
        return EXIT_OK
    if args.format == "text":
        _emit(doc.to_text(width=_terminal_width(args.output)), args.output)
    else:
        _emit({"latex": doc.to_latex, "markdown": doc.to_markdown, "html": doc.to_html}[args.format](), args.output)
    return EXIT_OK


def _own_shapes(shapes: dict | None, expression: str) -> dict | None:
    """The ``--shape`` entries of the symbols that ``expression`` uses (compare's two share the options)."""
    if not shapes:
        return None
    used = set(api("syntax.language").parse(expression).symbols())
    return {k: v for k, v in shapes.items() if k in used} or None


def run_compare(args: argparse.Namespace) -> int:
    """Both derivations in text, then the note on how they relate."""
    derive = api("explain.derivation").derive
    shapes = shapes_from(args)
    first = derive(args.first, args.wrt, **options_from(args), shapes=_own_shapes(shapes, args.first),
                   timeout=args.timeout)
    second = derive(args.second, args.wrt, **options_from(args), shapes=_own_shapes(shapes, args.second),
                    timeout=args.timeout)
    note = api("explain.compare").relation(first, second)
    if args.json:
        payload = {"first": _as_data(first), "second": _as_data(second), "relation": note}
        _emit(json.dumps(payload, ensure_ascii=False, indent=2), args.output)
        return EXIT_OK
    if args.format == "markdown":
        text = "\n".join([first.to_markdown(), "---", "", second.to_markdown(), "---", "",
                          "## How the two results relate", "", note, ""])
    else:
        rule = "=" * 72
        text = "\n".join([first.to_text(), rule, "", second.to_text(), rule, "", "How the two results relate",
                          "--------------------------", "", textwrap.fill(note, 100, break_long_words=False), ""])
    _emit(text, args.output)
    return EXIT_OK


register("derive", "a step-by-step derivation in index notation, every step checked", derive_arguments, run_derive,
         description="Derive ∂L/∂V step by step (index notation, Kronecker deltas, the matrix "
         "form), check every step exactly, and print it as text, LaTeX, Markdown or HTML.")
register("compare", "two derivations one after the other, and how their results relate", compare_arguments,
         run_compare, description="Derive ∂L/∂V for two expressions and explain how the results relate "
         '(e.g. "W @ X" and "X @ W": one is the transpose picture of the other).')

__all__ = ["as_data", "derive_arguments", "compare_arguments", "run_derive", "run_compare"]
