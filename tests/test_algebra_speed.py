"""The exact algebra does not swell on det and inv: cancellation before multiplication, no hidden products.

Work is measured with the algebra's own counter (``polynomial.WORK``, term operations), not with a
clock, so these tests do not depend on the machine's load.
"""

from __future__ import annotations

import pytest

from symderiv import polynomial
from symderiv.polynomial import Ratio, pmul
from symderiv.verification import verify


def _work(fn):
    before = polynomial.WORK[0]
    result = fn()
    return result, polynomial.WORK[0] - before


def test_a_numerator_equal_to_a_denominator_factor_cancels_before_the_product():
    x, y, z = Ratio.var(0), Ratio.var(1), Ratio.var(2)
    d = x * y + z * z + x + Ratio.const(3)  # 4 terms
    n = (x + y + z + Ratio.const(1)).power(4)  # 35 terms
    quotient = n / d
    product, work = _work(lambda: (d.scale(2)) * quotient)
    assert product.fac is None and product.num == pmul(n.num, {(): 2})
    assert work < len(d.num) * len(n.num)  # the product d·n was never formed


def test_cancellation_keeps_a_remaining_factor():
    x, y = Ratio.var(0), Ratio.var(1)
    d, e = x + y, x - y + Ratio.const(1)
    r = (Ratio.const(5) / d / e) * d
    assert r.equals(Ratio.const(5) / e)
    assert r.fac is not None and len(r.fac) == 1 and len(r.num) == 1  # a constant over e alone


S3 = (3, 3)
#: (expression, wrt, right claim, shapes, bound on term operations for the proof: about twice what it takes;
#: without the cancellation before multiplication the det cases take 2-75× more)
IDENTITIES = [
    ("det(A @ X @ B)", "X", "det(A @ X @ B) * (A.T @ inv(A @ X @ B).T @ B.T)", {"A": S3, "X": S3, "B": S3}, 5e4),
    ("det(A @ X @ B)", "X", "det(A @ X @ B) * inv(X).T", {"A": S3, "X": S3, "B": S3}, 5e4),
    ("det(X.T @ A @ X)", "X", "det(X.T @ A @ X) * (A @ X @ inv(X.T @ A @ X) + A.T @ X @ inv(X.T @ A.T @ X))",
     {"X": (4, 2), "A": (4, 4)}, 2e4),
    ("trace(inv(X.T @ C @ X) @ A)", "X",
     "-(C @ X @ inv(X.T @ C @ X) @ A @ inv(X.T @ C @ X)) - (C.T @ X @ inv(X.T @ C @ X).T @ A.T @ inv(X.T @ C @ X).T)",
     {"X": (4, 2), "C": (4, 4), "A": (2, 2)}, 6e5),
    ("det(X @ X @ X)", "X", "3 * det(X @ X @ X) * inv(X).T", {"X": S3}, 2e4),
    ("det(X @ X @ X)", "X",
     "det(X @ X @ X) * (X @ X @ inv(X @ X @ X) + X @ inv(X @ X @ X) @ X + inv(X @ X @ X) @ X @ X).T", {"X": S3}, 6e4),
    ("logdet(X.T @ X)", "X", "2 * X @ inv(X.T @ X)", {"X": (4, 2)}, 1e3),
]


@pytest.mark.parametrize("expression, wrt, claim, shapes, bound", IDENTITIES)
def test_textbook_det_and_inv_identities_are_proved_cheaply(expression, wrt, claim, shapes, bound):
    verdict, work = _work(lambda: verify(expression, wrt, claim, shapes, method="exact"))
    assert verdict.status == "proved", verdict.reason
    assert work < bound, f"{work:.3g} term operations"


@pytest.mark.parametrize("expression, wrt, claim, shapes, bound", IDENTITIES)
def test_wrong_variants_are_refuted(expression, wrt, claim, shapes, bound):
    assert verify(expression, wrt, f"2 * ({claim})", shapes, method="exact").status == "refuted"
    rows, cols = shapes[wrt]
    wrong = f"({claim}).T" if rows == cols else f"({claim}) + {wrt}"
    assert verify(expression, wrt, wrong, shapes, method="exact").status == "refuted"
