"""``symderiv demo``: the source identity ∂L/∂W = (∂L/∂D) Xᵀ for D = W X, end to end."""

from __future__ import annotations

import argparse
import textwrap
import time
from collections.abc import Callable

from symderiv.cli.common import emit
from symderiv.cli.registry import api, register

__all__ = ["DEMO_SHAPES", "SOURCE_SHAPES", "run_demo"]

DEMO_SHAPES = {"W": (3, 2), "X": (2, 4)}
SIZES = (3, 2, 4)
#: The source's names: X is m×n (m features, n samples), W is H×m (H neurons).
SOURCE_SHAPES = {"W": ("H", "m"), "X": ("m", "n")}


def run_demo(say: Callable[[str], None] = print, timings: bool = False) -> int:
    """Print the source derivation step by step, then prove it entry by entry on W: 3×2, X: 2×4 (with SymPy's
    own differentiation, then with the exact prover) and refute the swapped claim; ``timings`` also times both
    routes on 8×8·8×8.

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
    sympy_holds = _sympy_route(say)
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
    if timings:
        _timings(say)
    return 0 if sympy_holds and verdict.holds and not wrong.holds else 1


def _sympy_route(say: Callable[[str], None]) -> bool:
    """The design's route with SymPy alone: symbols, an undefined f of every entry of D, SymPy's own diff."""
    start = time.perf_counter()
    route = api("proofs.sympy_route").sympy_route(*SIZES)
    seconds = time.perf_counter() - start
    say("First with SymPy alone. W and X are matrices of symbols, and L = " + route.loss)
    say(f"is an undefined function f of all {SIZES[0] * SIZES[2]} entries of D. SymPy's diff(L, W[0,0]) is")
    say("  " + textwrap.shorten(route.raw_entry, 220, placeholder=" …"))
    say("a sum of Subs(Derivative(f(…), ξ_k), ξ_k, D_ij) objects: the partial derivative of f in its k-th slot, at D.")
    say("Each of them is G[i,j] for the entry D_ij of slot k. With that substitution:")
    for d, c, entry, ok in route.entries:
        say(f"  ∂L/∂W[{d},{c}] = {entry}    simplify(lhs - (G Xᵀ)[{d},{c}]) == 0: {ok}")
    say(f"SymPy proves all {len(route.entries)} entries of G Xᵀ ({seconds:.2f} s). "
        "The default prover does the same without SymPy:")
    say("")
    return route.holds


def _timings(say: Callable[[str], None]) -> None:
    """Both routes on 8×8·8×8, timed here (SymPy's trees grow with every entry of D; the exact prover's
    polynomials stay sparse)."""
    start = time.perf_counter()
    route = api("proofs.sympy_route").sympy_route(8, 8, 8)
    sympy_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fast = api("proofs.verification").verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (8, 8), "X": (8, 8)},
                                             method="exact")
    exact_seconds = time.perf_counter() - start
    say("")
    say("Timings on W: 8×8, X: 8×8")
    say("-------------------------")
    say(f"SymPy's route: {sympy_seconds:.2f} s ({'proved' if route.holds else 'NOT proved'}); "
        f"symderiv's exact prover: {exact_seconds:.2f} s ({fast.status.value}).")
    say("SymPy carries f(…) with its 64 arguments through every derivative and simplifies each difference as a")
    say("general expression; the exact prover keeps sparse polynomials in the entries and the G symbols, and")
    say("compares them term by term.")


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    """``demo [--timings]``."""
    p.add_argument("--timings", action="store_true",
                   help="also time SymPy's route and the exact prover on W: 8×8, X: 8×8 (about 15 s)")


def _run(args: argparse.Namespace) -> int:
    return run_demo(emit, timings=args.timings)


register("demo", "the source derivation, D = W X, end to end", _demo_arguments, _run)
