"""symderiv's formulas against the textbooks' (issue 17): each no more than 1.2× the tokens of the
form a textbook prints, and at most as long at the median.

The table is :mod:`reference_gradients` (≥ 80 rows, each with its source). Every reference form is
itself checked to be right (a wrong reference would make the comparison meaningless), and every
formula symderiv gives is proved by ``gradient()`` as always. Rows symderiv does not yet bring within
1.2× are listed in ``KNOWN_LONGER`` with the reason; the test fails if one of them starts passing (so
the list stays honest) or if any other row is over.
"""

from __future__ import annotations

import re
import statistics

import pytest
from reference_gradients import ROWS

import symderiv

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?|\*\*|\S")
LIMIT = 1.2

#: Rows still over 1.2×, with why (expression, wrt).
KNOWN_LONGER: set[tuple[str, str]] = set()


def tokens(text: str) -> int:
    """Tokens of a formula: names, numbers, operators and brackets (``X.T`` is three).

    >>> tokens("2 * X.T @ (X @ w - y)")
    13
    """
    return len(_TOKEN.findall(text))


def _id(row: tuple) -> str:
    return f"{row[0]} [{row[1]}]"


_CACHE: dict[tuple[str, str, tuple], float] = {}


def ratio(row: tuple) -> float:
    expression, wrt, shapes, symmetric, reference, _ = row
    key = (expression, wrt, symmetric)
    if key not in _CACHE:
        g = symderiv.gradient(expression, wrt, shapes, symmetric=symmetric)
        assert g.proof_status in ("proved", "checked", "probabilistic"), g.proof_reason
        _CACHE[key] = tokens(g.formula) / tokens(reference)
    return _CACHE[key]


def test_the_table_has_at_least_80_rows_each_with_a_source():
    assert len(ROWS) >= 80
    assert all(row[5] for row in ROWS)
    assert len({(r[0], r[1], r[3]) for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_the_reference_form_is_right(row):
    expression, wrt, shapes, symmetric, reference, source = row
    v = symderiv.verify(expression, wrt=wrt, claim=reference, shapes=shapes, symmetric=symmetric)
    assert v.holds or v.checked_at_sizes, (source, v.report())


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_symderiv_is_at_most_1_2_times_the_textbook(row):
    r = ratio(row)
    if (row[0], row[1]) in KNOWN_LONGER:
        assert r > LIMIT, f"{_id(row)} is now within {LIMIT}×: take it off KNOWN_LONGER"
    else:
        assert r <= LIMIT, f"{_id(row)}: {r:.2f}× the textbook's {row[4]!r}"


def test_the_median_is_at_most_the_textbook_and_the_distribution(capsys):
    ratios = sorted(ratio(row) for row in ROWS)
    median, worst = statistics.median(ratios), ratios[-1]
    over = sum(r > LIMIT for r in ratios)
    with capsys.disabled():
        print(f"\nreference table: {len(ratios)} rows, median {median:.2f}×, worst {worst:.2f}×, "
              f"{over} over {LIMIT}×; quartiles {statistics.quantiles(ratios, n=4)}")
    assert median <= 1.0
    assert over == len(KNOWN_LONGER)
