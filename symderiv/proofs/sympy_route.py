"""The design's own route, with SymPy alone: ``∂L/∂W = (∂L/∂D) Xᵀ`` for ``D = W X`` on concrete shapes.

SymPy builds matrices of symbols ``W`` and ``X``, forms ``D = W X`` and an undefined scalar function ``f`` of all
entries of ``D``, and differentiates ``L = f(D_00, D_01, …)`` by each ``W[d,c]``. Each derivative SymPy returns is
a sum of ``Subs(Derivative(f(…), ξ_k), ξ_k, D_ij)`` objects (the partial derivative of ``f`` in its ``k``-th slot,
at ``D``) times ``∂D_ij/∂W[d,c]``. Mapping each of those objects to the symbol ``G[i,j]`` gives the entries of
``∂L/∂W`` in terms of the upstream gradient; ``simplify(lhs - rhs) == 0`` then proves each entry of the claim
``G Xᵀ``. This is the route ``symderiv demo`` shows; the default prover (:mod:`symderiv.proofs.exact`) proves the
same identity without SymPy's expression trees, which is why it is much faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SympyRoute", "sympy_route"]


@dataclass(frozen=True)
class SympyRoute:
    """The pieces of the SymPy route, for display: ``L``, one raw derivative, and each entry with its check."""

    loss: str
    raw_entry: str
    entries: tuple[tuple[int, int, str, bool], ...]  # (d, c, ∂L/∂W[d,c] in G, simplify(lhs - rhs) == 0)

    @property
    def holds(self) -> bool:
        return all(ok for *_, ok in self.entries)


def _slot_map(sp: Any, derivative_subs: Any, f_args: list[Any], upstream: Any) -> dict[Any, Any]:
    """Each ``Subs(Derivative(f(ξ…), ξ_k), …)`` (or bare ``Derivative``) of ``f`` → the ``G`` entry of slot ``k``."""
    mapping = {}
    for obj in derivative_subs:
        derivative = obj.expr if isinstance(obj, sp.Subs) else obj
        if not isinstance(derivative, sp.Derivative) or len(derivative.variables) != 1:
            continue
        slot = list(derivative.expr.args).index(derivative.variables[0])
        mapping[obj] = upstream[slot]
    return mapping


def sympy_route(h: int, m: int, n: int) -> SympyRoute:
    """Prove ``∂L/∂W = G Xᵀ`` for ``D = W X`` (``W``: h×m, ``X``: m×n) with SymPy's own differentiation.

    >>> route = sympy_route(2, 2, 2)
    >>> route.holds, route.entries[0][2]
    (True, 'G_0_0*X_0_0 + G_0_1*X_0_1')
    """
    import sympy as sp

    W = sp.Matrix(h, m, lambda i, j: sp.Symbol(f"W_{i}_{j}"))
    X = sp.Matrix(m, n, lambda i, j: sp.Symbol(f"X_{i}_{j}"))
    G = sp.Matrix(h, n, lambda i, j: sp.Symbol(f"G_{i}_{j}"))
    D = W * X
    f = sp.Function("f")
    flat = [D[i, j] for i in range(h) for j in range(n)]
    upstream = [G[i, j] for i in range(h) for j in range(n)]
    L = f(*flat)
    claim = G * X.T
    entries = []
    raw = ""
    for d in range(h):
        for c in range(m):
            derivative = sp.diff(L, W[d, c])
            if not raw:
                raw = sp.sstr(derivative)
            mapping = _slot_map(sp, derivative.atoms(sp.Subs) | derivative.atoms(sp.Derivative), flat, upstream)
            lhs = sp.expand(derivative.xreplace(mapping))
            entries.append((d, c, sp.sstr(lhs), sp.simplify(lhs - claim[d, c]) == 0))
    return SympyRoute(f"f({', '.join(sp.sstr(e) for e in flat[:2])}, …)", raw, tuple(entries))
