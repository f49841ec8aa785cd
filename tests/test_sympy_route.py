"""The design's own route with SymPy alone (issue 16, section 5): SymPy differentiates an undefined f of every
entry of D = W X, its Subs/Derivative objects are mapped to G[i,j], and each entry of G Xᵀ is proved."""

from __future__ import annotations

import pytest

from symderiv.cli.demo import run_demo
from symderiv.proofs.sympy_route import sympy_route


@pytest.mark.parametrize(("h", "m", "n"), [(1, 1, 1), (2, 3, 2), (3, 2, 4)])
def test_every_entry_is_the_upstream_times_x_transposed(h, m, n):
    route = sympy_route(h, m, n)
    assert route.holds and len(route.entries) == h * m
    for d, c, entry, ok in route.entries:
        # Independently of SymPy's simplify: the mapped entry is literally Σ_j G[d,j] X[c,j].
        terms = sorted(entry.split(" + "))
        assert terms == sorted(f"G_{d}_{j}*X_{c}_{j}" for j in range(n)), (d, c, entry)
        assert ok
    assert "Subs(Derivative(f(" in route.raw_entry


def test_the_demo_shows_the_sympy_route_before_the_fast_prover():
    lines: list[str] = []
    assert run_demo(lines.append) == 0
    text = "\n".join(lines)
    assert text.index("First with SymPy alone") < text.index("Entry by entry, SymPy-free exact algebra")
    assert "SymPy proves all 6 entries of G Xᵀ" in text
    assert "simplify(lhs - (G Xᵀ)[2,1]) == 0: True" in text
