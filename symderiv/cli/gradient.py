"""``symderiv gradient``: print the canonical, proved formula of ∂L/∂V (one line per --wrt).

>>> from symderiv.cli import main
>>> main(["gradient", "W @ X", "--wrt", "W"])
G @ X.T
0
"""

from __future__ import annotations

import argparse
import json

from symderiv.cli.common import EXIT_OK, add_common, emit, options_from, shapes_from
from symderiv.cli.registry import api, register
from symderiv.core.errors import OptionError

__all__ = ["gradient_arguments", "run_gradient"]


def gradient_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``gradient``."""
    p.add_argument("expression")
    p.add_argument("--wrt", action="append", required=True, metavar="NAME",
                   help="the matrix to differentiate with respect to (repeatable)")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator",
                   help="denominator (default): same shape as V; numerator: its transpose")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a machine-readable result")
    output.add_argument("--latex", action="store_true", help="print LaTeX instead of the formula")
    output.add_argument("--emit", choices=("numpy", "torch", "jax"), metavar="TARGET",
                        help="print a runnable Python function for numpy, torch or jax (several --wrt: one "
                             "function returning a tuple in --wrt order)")
    p.add_argument("--forward", action="store_true", help="with --emit: also print the forward function")
    p.add_argument("--names", action="store_true",
                   help="name repeated subexpressions: `... where S = ...` (text and LaTeX)")
    p.add_argument("--no-check", action="store_true", help="skip the entrywise proof of the result")
    p.add_argument("--method", choices=("auto", "exact", "random"), default="auto",
                   help="how the result is proved: auto (default; exact, or past the budget randomized), exact, random")
    add_common(p)


def run_gradient(args: argparse.Namespace) -> int:
    """Derive, prove and print; errors propagate as SymderivError (exit 2 in ``cli.main``)."""
    results = api("proofs.gradient").gradient(
        args.expression, wrt=list(args.wrt), shapes=shapes_from(args), layout=args.layout, check=not args.no_check,
        method=args.method, budget=args.budget, timeout=args.timeout, **options_from(args))
    assert isinstance(results, list)
    if args.forward and not args.emit:
        raise OptionError("--forward goes with --emit", hint="for example --emit numpy --forward")
    if args.emit:
        emit(api("autodiff.backprop").to_code(results, args.emit, forward=args.forward).rstrip("\n"))
        return EXIT_OK
    if args.json:
        payload = [g.to_dict() for g in results]
        emit(json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False, indent=2))
        return EXIT_OK
    for g in results:
        if args.names:
            text = g.latex_with_names if args.latex else g.formula_with_names
        else:
            text = g.latex if args.latex else g.formula
        emit(f"{g.wrt}: {text}" if len(results) > 1 else text)
    return EXIT_OK


register("gradient", "the matrix formula of a gradient, canonical and proved", gradient_arguments, run_gradient,
         description="Print ∂L/∂V for each --wrt V, one per line (prefixed `V: ` when several).")
