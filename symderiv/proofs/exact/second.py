"""The second-order oracle: Hessian-vector products and Hessians entry by entry, in the exact algebra.

Independent of the formulas it checks: the expression is evaluated entrywise on concrete shapes
(:class:`~symderiv.proofs.exact.entrywise.Instance`), its gradient taken by the scalar chain rule
(:func:`~symderiv.proofs.exact.prover.loss_gradient`, the gradients' own oracle), and then each entry of
that gradient is differentiated once more by the scalar chain rule (:func:`~symderiv.proofs.exact.algebra.gradient_of`).
The derivative of an atom's derivative comes from the registry rows (``tanh' = 1 - y**2`` is differentiated
like any other Ratio, and ``y`` is the atom again); a function without a derivative (``step``, ``sign``,
``phi_prime``) is an :class:`~symderiv.core.errors.UnsupportedError` naming it.

The HVP is then, straight from its definition, ``HVP[d,c] = Σ_kl V[k,l] ∂(∂L/∂w[d,c])/∂w[k,l]``: the
derivative of each gradient entry along ``V``. It does not use the symmetry of the Hessian, which the
derivation does, so the two meet only in the comparison.
"""

from __future__ import annotations

from symderiv.autodiff.second import SECOND_HINT
from symderiv.core import expr as ex
from symderiv.core.errors import UnsupportedError
from symderiv.proofs.exact.algebra import NotDifferentiable, Ratio, gradient_of
from symderiv.proofs.exact.entrywise import Instance, Matrix, gc_paused
from symderiv.proofs.exact.prover import loss_gradient

__all__ = ["hessian_matrix", "hvp_matrix", "second_derivatives"]


def _variable(entry: Ratio) -> int:
    (mono,) = entry.num
    return mono[0]


def second_derivatives(instance: Instance, expression: ex.Expr, wrt: str, upstream: str
                       ) -> tuple[list[list[int]], list[list[dict[int, Ratio]]]]:
    """The variables of ``wrt`` and, for each entry ``[d,c]``, ``{v: ∂(∂L/∂w[d,c])/∂v}`` for its variables v.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("sum(x ** 3)")
    >>> inst = Instance(infer_shapes(node, {"x": (1, 1)}))
    >>> ids, second = second_derivatives(inst, node, "x", "G")
    >>> second[0][0][ids[0][0]].num  # d²(x³)/dx² = 6x
    {(0,): 6}
    """
    with gc_paused():
        gradient, _ = loss_gradient(instance, expression, wrt, upstream)
        ids = [[_variable(x) for x in row] for row in instance.symbol(wrt)]
        wanted = {v for row in ids for v in row}
        try:
            second = [[gradient_of(instance.vars, entry, wanted, instance.deadline) for entry in row]
                      for row in gradient]
        except NotDifferentiable as err:
            raise UnsupportedError(f"no second derivative with respect to {wrt}: {err}", hint=SECOND_HINT) from None
    return ids, second


def hvp_matrix(instance: Instance, expression: ex.Expr, wrt: str, upstream: str, direction: str) -> Matrix:
    """``∇²L · V`` entry by entry: the derivative of each entry of ∂L/∂wrt along the direction's entries.

    The direction is bound in ``instance`` as a matrix of fresh variables of the shape of ``wrt``.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("x.T @ A @ x")
    >>> inst = Instance(infer_shapes(node, {"x": (2, 1)}))
    >>> hvp = hvp_matrix(inst, node, "x", "G", "V")
    >>> hvp[0][0].equals(inst.evaluate(parse("(A + A.T) @ V"))[0][0])
    True
    """
    ids, second = second_derivatives(instance, expression, wrt, upstream)
    rows, cols = len(ids), len(ids[0])
    direction_matrix = instance.symbol(direction, (rows, cols))
    out: Matrix = []
    for row in second:
        out_row = []
        for partials in row:
            total = Ratio({})
            for k in range(rows):
                for ell in range(cols):
                    d = partials.get(ids[k][ell])
                    if d is not None and not d.is_zero():
                        total = total + d * direction_matrix[k][ell]
            out_row.append(total)
        out.append(out_row)
    return out


def hessian_matrix(instance: Instance, expression: ex.Expr, wrt: str) -> Matrix:
    """The ``n×n`` Hessian ``H[d,k] = ∂²L/∂w[k]∂w[d]`` of a scalar expression and a column vector ``wrt``.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> node = parse("x.T @ A @ x")
    >>> inst = Instance(infer_shapes(node, {"x": (2, 1)}))
    >>> [sorted(inst.vars.names[m[0]] for m in h.num) for h in hessian_matrix(inst, node, "x")[0]]
    [['A[0,0]'], ['A[0,1]', 'A[1,0]']]
    """
    ids, second = second_derivatives(instance, expression, wrt, "G")
    flat = [row[0] for row in ids]
    return [[row[0].get(v, Ratio({})) for v in flat] for row in second]
