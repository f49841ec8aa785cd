"""Proof for all shapes: both sides of ``∂L/∂V = claim`` in collapsed index form, compared by canonical keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from symderiv.core import expr as ex
from symderiv.core.errors import ShapeError, SymderivError, UnsupportedError
from symderiv.proofs.concrete import prove_concrete
from symderiv.proofs.exact.expansions import expanded_functions, write_out
from symderiv.proofs.index.engine import IndexEngine
from symderiv.proofs.index.forms import Ent, Index, IndexSum, bind, canonical
from symderiv.proofs.index.lemmas import Normaliser
from symderiv.proofs.problem import Problem
from symderiv.proofs.sizes import sensible_assignments


@dataclass
class AllShapesProof:
    """The two sides of ``∂L/∂V[d,c] = claim[d,c]`` in collapsed index form, and the verdict."""

    gradient: IndexSum
    claim: IndexSum
    equal: bool
    #: the rules used (``"jacobi"``, ``"inverse"``, ``"det-product"``, ...; see :mod:`~symderiv.proofs.index.lemmas`)
    lemmas: list[str] = field(default_factory=list)


def gradient_entry(engine: IndexEngine, expression: ex.Expr, wrt: str, upstream: str, d: Index, c: Index,
                   scalar: bool) -> IndexSum:
    """``∂L/∂wrt[d,c]`` in collapsed index form, with ``L = Σ_ij G_ij E_ij`` (or ``L = E`` when scalar)."""
    if scalar:
        loss = engine.entry(expression, 0, 0)
    else:
        rows, cols = engine.shape(expression)
        i, j = engine.fresh(rows, "i"), engine.fresh(cols, "j")
        loss = IndexSum.of(Ent(ex.Symbol(upstream), i, j)) * engine.entry(expression, i, j)
        loss = bind(bind(loss, i), j)
    return engine.collapse(engine.differentiate(loss, wrt, d, c))


def entry_indices(engine: IndexEngine, shape: ex.Shape) -> tuple[Index, Index]:
    """The indices ``d, c`` of the chosen entry of a matrix of this shape (the source's names)."""
    return engine.fresh(shape[0], "d"), engine.fresh(shape[1], "c")


def prove_index(problem: Problem, wrt: str, claim_node: ex.Expr) -> AllShapesProof:
    """Both sides in index notation over symbolic dimensions (no concrete sizes)."""
    typing = problem.typing
    extra = {} if problem.scalar else {problem.upstream: problem.result_shape}
    engine = IndexEngine(typing, extra)
    d, c = entry_indices(engine, typing.symbols[wrt])
    expression = problem.expression
    if expanded_functions(claim_node) != expanded_functions(expression):
        # The claim names a function the expression spells out (sigmoid for exp's quotient): both written out.
        expression, claim_node = write_out(expression), write_out(claim_node)
    grad = gradient_entry(engine, expression, wrt, problem.upstream, d, c, problem.scalar)
    at = (c, d) if problem.layout == "numerator" else (d, c)
    claim = engine.collapse(engine.entry(claim_node, *at))
    sym = frozenset(typing.symmetric)
    if canonical(grad, sym) == canonical(claim, sym):
        return AllShapesProof(grad, claim, True, list(engine.rules))
    norm = Normaliser(engine.shape, engine.fresh, sym)
    grad, claim = norm.normalise(grad), norm.normalise(claim)
    return AllShapesProof(grad, claim, canonical(grad, sym) == canonical(claim, sym), engine.rules + norm.used)


def prove_all_shapes(problem: Problem, wrt: str, claim_node: ex.Expr, *, refute: bool = True) -> bool | None:
    """True: ``∂L/∂wrt = claim`` proved for all shapes in index notation; False: refuted; None: undecided.

    Equal canonical index forms prove the identity for every size of every
    dimension. Different forms are not yet a refutation (two spellings of one
    function differ in form), so then the claim is checked on one small concrete
    shape: a failing entry there refutes it for all shapes; otherwise None.
    ``refute=False`` skips that check (for callers that run it themselves).

    >>> from symderiv.proofs.problem import prepare, parse_claim
    >>> p = prepare("W @ X", ["W"], None)
    >>> prove_all_shapes(p, "W", parse_claim(p, "G @ X.T")), prove_all_shapes(p, "W", parse_claim(p, "2 * G @ X.T"))
    (True, False)
    """
    return prove_all_shapes_with_lemmas(problem, wrt, claim_node, refute=refute)[0]


def prove_all_shapes_with_lemmas(problem: Problem, wrt: str, claim_node: ex.Expr, *,
                                 refute: bool = True) -> tuple[bool | None, list[str]]:
    """:func:`prove_all_shapes`, and the lemmas the proof rests on (``"jacobi"``, ``"inverse"``, ...).

    >>> from symderiv.proofs.problem import prepare, parse_claim
    >>> p = prepare("log(det(X))", ["X"], {"X": ("n", "n")})
    >>> prove_all_shapes_with_lemmas(p, "X", parse_claim(p, "inv(X).T"))
    (True, ['elementwise:log', 'delta', 'jacobi'])
    """
    try:
        want = problem.typing.symbols[wrt]
        want = (want[1], want[0]) if problem.layout == "numerator" else want
        extra = {} if problem.scalar else {problem.upstream: problem.result_shape}
        if problem.typing.shape_of(claim_node, extra) != want:
            return False, []  # a claim of the wrong shape does not hold (SPEC section 1)
        proof = prove_index(problem, wrt, claim_node)
    except ShapeError:
        return False, []  # a claim of the wrong shape does not hold (SPEC section 1)
    except (UnsupportedError, RecursionError):
        return None, []
    if proof.equal:
        return True, proof.lemmas
    if not refute:
        return None, []
    typing = problem.typing.substitute(sensible_assignments(problem.typing, (problem.expression, claim_node), 1)[0])
    try:
        outcome = prove_concrete(problem, wrt, claim_node, typing)
    except SymderivError:
        return None, []
    return (False if outcome.status in ("refuted", "shape") else None), []


__all__ = ["AllShapesProof", "entry_indices", "gradient_entry", "prove_all_shapes", "prove_all_shapes_with_lemmas",
           "prove_index"]
