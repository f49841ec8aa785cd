"""``symderiv derive`` and ``symderiv compare``: step-by-step derivations on the command line."""

from __future__ import annotations

import argparse
import textwrap

from symderiv.cli.common import EXIT_OK, add_common, options_from, shapes_from
from symderiv.cli.registry import api, register
from symderiv.core import expr as ex
from symderiv.core.errors import SymderivError

FORMATS = ("text", "latex", "markdown", "html")


def derive_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``derive``.

    >>> from symderiv.cli import main
    >>> main(["derive", "W @ X", "--wrt", "W", "--format", "text", "-o", "/nonexistent/dir/x.txt"])
    2
    """
    p.add_argument("expression")
    p.add_argument("--wrt", required=True, metavar="NAME")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator")
    add_common(p)


def compare_arguments(c: argparse.ArgumentParser) -> None:
    """The arguments of ``compare``."""
    c.add_argument("first")
    c.add_argument("second")
    c.add_argument("--wrt", required=True, metavar="NAME")
    c.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
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


def run_derive(args: argparse.Namespace) -> int:
    """Derive and print in the chosen format."""
    d = api("explain.derivation").derive(args.expression, args.wrt, shapes_from(args), layout=args.layout, timeout=args.timeout,
               **options_from(args))
    text = {"text": d.to_text, "latex": d.to_latex, "markdown": d.to_markdown, "html": d.to_html}[args.format]()
    _emit(text, args.output)
    return EXIT_OK


def relation(first, second) -> str:
    """A sentence on how two derivations' results relate (transpose picture, equal, or unrelated).

    >>> from symderiv.explain.derivation import derive
    >>> print(relation(derive("W @ X", "W", check=False), derive("X @ W", "W", check=False)))  # doctest: +ELLIPSIS
    X @ W is W @ X with every matrix transposed...
    """
    from symderiv.proofs.index import tidy
    from symderiv.proofs.verification import verify
    from symderiv.syntax.printing import to_text

    def transposed_picture(node: ex.Expr) -> ex.Expr:
        names = {n: ex.Transpose(ex.Symbol(n)) for n in node.symbols()}
        return tidy(ex.Transpose(_rename(node, names)))

    e1, e2 = first.source, second.source
    if e1 == e2:
        return "The two expressions are the same, and so are the derivations."
    if tidy(transposed_picture(e1)) == tidy(e2):
        candidate = transposed_picture(first.formula)
        claim = to_text(candidate)
        try:
            holds = verify(second.expression, wrt=second.wrt, claim=claim, upstream=second.upstream).holds
        except Exception:  # noqa: BLE001 - the note is explanatory; a failed check is reported as such
            holds = False
        names = ", ".join(e1.symbols())
        text = (f"{second.expression} is {first.expression} with every matrix transposed ({names} read as their "
                f"transposes): the same computation with samples as rows instead of columns, so "
                f"{second.expression} = ({to_text(_rename(e1, {n: ex.Transpose(ex.Symbol(n)) for n in e1.symbols()}))}).T. "
                f"Its upstream gradient is the transpose of the first one's, and the derivation is the same math "
                f"with the indices switched: ∂L/∂{first.wrt} = {first.result.formula} becomes "
                f"∂L/∂{second.wrt} = {second.result.formula}")
        text += (", exactly the transpose picture of the first result (checked: "
                 f"verify proves {claim} for the second expression)." if holds else ".")
        return text
    if first.result.formula == second.result.formula:
        return f"Both give the same formula, ∂L/∂{first.wrt} = {first.result.formula}."
    return (f"The results differ (∂L/∂{first.wrt} = {first.result.formula} and {second.result.formula}), and the "
            "second expression is not the transposed picture of the first.")


def _rename(node: ex.Expr, mapping: dict) -> ex.Expr:
    from symderiv.explain.derivation import _substitute

    return _substitute(node, mapping)


def run_compare(args: argparse.Namespace) -> int:
    """Both derivations in text, then the note on how they relate."""
    derive = api("explain.derivation").derive
    first = derive(args.first, args.wrt, **options_from(args), shapes=None, timeout=args.timeout)
    second = derive(args.second, args.wrt, **options_from(args), shapes=None, timeout=args.timeout)
    rule = "=" * 72
    note = relation(first, second)
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

__all__ = ["derive_arguments", "compare_arguments", "run_derive", "run_compare", "relation"]
