"""``symderiv demo``: the source identity ∂L/∂W = (∂L/∂D) Xᵀ for D = W X, end to end."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from symderiv.cli.common import emit
from symderiv.cli.registry import api, register

__all__ = ["DEMO_SHAPES", "SOURCE_SHAPES", "run_demo"]

DEMO_SHAPES = {"W": (3, 2), "X": (2, 4)}
#: The source's names: X is m×n (m features, n samples), W is H×m (H neurons).
SOURCE_SHAPES = {"W": ("H", "m"), "X": ("m", "n")}


def run_demo(say: Callable[[str], None] = print) -> int:
    """Print the source derivation step by step, then prove it entry by entry on W: 3×2, X: 2×4
    and refute the swapped claim.

    >>> run_demo(lambda line: None)
    0
    """
    verification, prover = api("proofs.verification"), api("proofs.exact.prover")
    say(api("explain.derivation").derive("W @ X", wrt="W", shapes=SOURCE_SHAPES).to_text().rstrip("\n"))
    say("")
    say("Entrywise check on concrete shapes")
    say("----------------------------------")
    say("")
    say("D = W X with W: H×m (here 3×2) and X: m×n (here 2×4); L = f(D) for an arbitrary scalar f.")
    say("G[i,j] = ∂f/∂D[i,j]. By the chain rule ∂L/∂W[d,c] = Σ_ij G[i,j] ∂D[i,j]/∂W[d,c].")
    say("")
    problem = verification.prepare("W @ X", ["W"], DEMO_SHAPES)
    instance = api("proofs.exact.entrywise").Instance(problem.typing)
    gradient, _ = prover.loss_gradient(instance, problem.expression, "W", "G")
    say("Entry by entry, SymPy-free exact algebra gives:")
    for d, row in enumerate(gradient):
        for c, value in enumerate(row):
            say(f"  ∂L/∂W[{d},{c}] = {prover.format_ratio(instance.vars, value)}")
    say("")
    say("Each entry is Σ_j G[d,j] X[c,j], the [d,c] entry of G Xᵀ.")
    verdict = verification.verify("W @ X", wrt="W", claim="G @ X.T", shapes=DEMO_SHAPES)
    say(verdict.report())
    say("")
    wrong = verification.verify("W @ X", wrt="W", claim="X.T @ G", shapes=DEMO_SHAPES)
    say("The samples-as-rows answer does not fit this layout:")
    say(wrong.report())
    return 0 if verdict.holds and not wrong.holds else 1


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    """``demo`` takes no arguments."""


def _run(args: argparse.Namespace) -> int:
    return run_demo(emit)


register("demo", "the source derivation, D = W X, end to end", _demo_arguments, _run)
