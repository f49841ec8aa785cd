"""A fast first attempt at proofs through ``inv``: the entries of ``inv(M)`` as atoms.

The exact prover writes ``inv(M)`` as the adjugate over ``det(M)``. Through a
chain rule that is a quotient rule, and rational functions swell: for
``trace(inv(Xᵀ C X) A)`` with X 4×2 every gradient entry has about 6,000 terms
over ``det²``. Here the entries of ``inv(M)`` are atoms ``Y`` instead
(:meth:`symderiv.proofs.exact.algebra.Variables.inverse`), differentiated by
``∂Y = −Y (∂M) Y``, and the gradient and the claim are compared as polynomials in
the entries and ``Y``, a few dozen terms each.

Soundness: both sides are functions of the entries and ``Y`` that equal the true
gradient and the true claim at ``Y = inv(M)``. If they are equal as polynomials
with ``Y`` free, they are equal at ``Y = inv(M)``: a proof. If they differ, nothing
follows (they may agree only through ``M·Y = I``), so :func:`prove_with_inverse_atoms`
then answers False and the caller runs the ordinary proof, which either proves the
claim through the rational inverse or refutes it with a witness evaluated at the
true inverse. This route never refutes.
"""

from __future__ import annotations

from symderiv.core import expr as ex
from symderiv.ops import matrix_op
from symderiv.proofs.exact.entrywise import Deadline, Instance
from symderiv.proofs.exact.prover import proves_with
from symderiv.syntax.shapes import Typing


def uses_inverse(node: ex.Expr, typing: Typing | None = None) -> bool:
    """Whether the expression inverts a matrix (only then can this route help). A registered operation
    (:class:`~symderiv.core.expr.Call`) inverts one when its expansion does; ``typing`` gives the
    shapes the expansion is built with (without it, they are left symbolic).

    >>> from symderiv.syntax.language import parse
    >>> uses_inverse(parse("trace(inv(X) @ A)")), uses_inverse(parse("det(X)"))
    (True, False)
    """
    for n in node.walk():
        if isinstance(n, ex.Inv):
            return True
        if isinstance(n, ex.Call):
            shapes = [typing.shape_of(a) if typing is not None else ("?", "?") for a in n.args]
            if uses_inverse(matrix_op(n.op).expand(n.args, shapes, dict(n.params)), typing):
                return True
    return False


def prove_with_inverse_atoms(expression: ex.Expr, wrt: str, claim: ex.Expr, typing: Typing, *,
                             upstream: str = "G", numerator_layout: bool = False,
                             deadline: Deadline | None = None) -> bool:
    """True when ``∂L/∂wrt == claim`` holds with the entries of every ``inv(M)`` as free atoms, which
    proves it; False when this route does not decide (the caller then runs the ordinary proof).

    Call it only on concrete typings and not in strict mode; it does no work unless
    the expression contains ``inv``.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> e = parse("trace(inv(X.T @ C @ X) @ A)")
    >>> typing = infer_shapes(e, {"X": (4, 2), "C": (4, 4), "A": (2, 2)})
    >>> right = parse("-(C @ X @ inv(X.T @ C @ X) @ A @ inv(X.T @ C @ X))"
    ...               " - (C.T @ X @ inv(X.T @ C @ X).T @ A.T @ inv(X.T @ C @ X).T)")
    >>> prove_with_inverse_atoms(e, "X", right, typing), prove_with_inverse_atoms(e, "X", ex.Neg(right), typing)
    (True, False)
    """
    if not uses_inverse(expression, typing):
        return False
    instance = Instance(typing, deadline=deadline, inverse_atoms=True)
    return proves_with(instance, expression, wrt, claim, upstream, numerator_layout)
