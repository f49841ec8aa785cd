"""``symderiv verify``: prove a claimed gradient, or refute it with a counterexample.

>>> from symderiv.cli import main
>>> main(["verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--shape", "W=2,2", "--shape", "X=2,2"])
... # doctest: +ELLIPSIS
PROVED  ...
0
"""

from __future__ import annotations

import argparse

from symderiv.cli.common import add_common, emit, options_from, shapes_from
from symderiv.cli.registry import api, register

__all__ = ["verify_arguments", "run_verify"]


def verify_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``verify``."""
    p.add_argument("expression")
    p.add_argument("--wrt", required=True, metavar="NAME")
    p.add_argument("--claim", required=True, metavar="FORMULA")
    p.add_argument("--layout", choices=("denominator", "numerator"), default="denominator")
    p.add_argument("--strict", action="store_true", help="let SymPy differentiate f(D(V)) itself (slower)")
    p.add_argument("--method", choices=("auto", "exact", "random"), default="auto",
                   help="auto (default): the exact proof, or past the budget the randomized test; exact; random")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")
    add_common(p)


def run_verify(args: argparse.Namespace) -> int:
    """Prove or refute, print the report (or JSON), return the verdict's exit code."""
    verdict = api("proofs.verification").verify(
        args.expression, wrt=args.wrt, claim=args.claim, shapes=shapes_from(args), layout=args.layout,
        strict=args.strict, method=args.method, timeout=args.timeout, budget=args.budget, **options_from(args))
    emit(verdict.to_json() if args.json else verdict.report())
    return int(verdict.exit_code)


register("verify", "prove a claimed gradient, or refute it with a counterexample", verify_arguments, run_verify)
