"""``symderiv hvp`` and ``symderiv hessian``: second derivatives as proved formulas, or a claimed one verified.

>>> from symderiv.cli import main
>>> main(["hvp", "x.T @ A @ x", "--wrt", "x", "--shape", "x=3,1"])
(A.T + A) @ V
0
>>> main(["hessian", "sum((X @ w - y) ** 2)", "--wrt", "w", "--shape", "w=2,1", "--shape", "y=3,1"])
2 * X.T @ X
0
"""

from __future__ import annotations

import argparse
import json

from symderiv.cli.common import EXIT_OK, add_common, emit, options_from, shapes_from
from symderiv.cli.derive import as_data
from symderiv.cli.registry import api, register

__all__ = ["hessian_arguments", "hvp_arguments", "run_hessian", "run_hvp"]


def _shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("expression")
    p.add_argument("--wrt", required=True, metavar="NAME", help="the matrix to differentiate with respect to")
    p.add_argument("--claim", metavar="FORMULA", help="verify this formula instead of deriving one (exit 0/1/4)")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print a machine-readable result")
    output.add_argument("--latex", action="store_true", help="print LaTeX instead of the formula")
    p.add_argument("--no-check", action="store_true", help="skip the entrywise proof of the result")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator",
                   help="denominator (default): an HVP has the shape of wrt; numerator: its transpose")
    p.add_argument("--method", choices=("auto", "exact"), default="auto",
                   help="how the result is proved: exact (auto is the same; there is no randomized engine here)")


def hvp_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``hvp``."""
    _shared(p)
    p.add_argument("--direction", default="V", metavar="NAME",
                   help="the name of the direction, a matrix shaped like --wrt (default V)")
    p.add_argument("--derive", choices=("text", "markdown", "latex", "html"), metavar="FORMAT",
                   help="explain the HVP step by step (text, markdown, latex or html; with --json, the steps as "
                        "data): the gradient formula differentiated along V, block by block, every step checked")
    add_common(p)


def hessian_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``hessian``."""
    _shared(p)
    add_common(p)


def _print(result: object, args: argparse.Namespace) -> int:
    if hasattr(result, "exit_code"):  # a verdict on a claim
        emit(result.to_json() if args.json else result.report())  # type: ignore[attr-defined]
        return int(result.exit_code)  # type: ignore[attr-defined]
    if args.json:
        emit(result.to_json())  # type: ignore[attr-defined]
    else:
        emit(result.latex if args.latex else result.formula)  # type: ignore[attr-defined]
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    """The HVP derived step by step (:func:`symderiv.explain.second.derive_hvp`): the gradient formula differentiated
    along V, as the gradient of ``sum((∂L/∂w) * V)`` block by block, every step checked; in any format, or JSON."""
    derivation = api("explain.second").derive_hvp(args.expression, args.wrt, args.direction, shapes_from(args),
                                                  layout=args.layout, timeout=args.timeout, check=not args.no_check,
                                                  **options_from(args))
    if args.json:
        emit(json.dumps(as_data(derivation), ensure_ascii=False, indent=2))
        return EXIT_OK
    emit({"text": derivation.to_text, "markdown": derivation.to_markdown, "latex": derivation.to_latex,
          "html": derivation.to_html}[args.derive]())
    return EXIT_OK


def run_hvp(args: argparse.Namespace) -> int:
    """Derive and prove (or verify ``--claim``) the Hessian-vector product; print it."""
    if args.derive:
        return _explain(args)
    result = api("proofs.hessian").hvp(args.expression, args.wrt, direction=args.direction, shapes=shapes_from(args),
                                       claim=args.claim, check=not args.no_check, budget=args.budget,
                                       layout=args.layout, method=args.method,
                                       timeout=args.timeout, **options_from(args))
    return _print(result, args)


def run_hessian(args: argparse.Namespace) -> int:
    """Derive and prove (or verify ``--claim``) the Hessian of a scalar expression w.r.t. a column vector."""
    options = options_from(args)
    options.pop("upstream")  # a Hessian is of a scalar expression: there is no upstream
    result = api("proofs.hessian").hessian(args.expression, args.wrt, shapes=shapes_from(args), claim=args.claim,
                                           check=not args.no_check, budget=args.budget, timeout=args.timeout,
                                           layout=args.layout, method=args.method, **options)
    return _print(result, args)


register("hvp", "the Hessian applied to a direction V, as a proved formula", hvp_arguments, run_hvp,
         description="Print the derivative of ∂L/∂wrt along the direction V (shaped like wrt), proved entrywise; "
                     "with --claim, verify a claimed formula instead.")
register("hessian", "the Hessian of a scalar expression w.r.t. a column vector, as a proved formula",
         hessian_arguments, run_hessian,
         description="Print the n×n Hessian of a scalar expression with respect to an n×1 vector, proved "
                     "entrywise; with --claim, verify a claimed formula instead.")
