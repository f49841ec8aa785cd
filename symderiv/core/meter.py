"""A meter on the exact algebra's inner loops: the budget and the deadline hold while the work runs.

:mod:`symderiv.proofs.exact.cost` estimates the work and memory of an exact proof before it starts, and refuses what
is over the budget. An estimate can be wrong (a sum of quotients with many distinct denominators swells
far past any cheap model), so the work itself is metered too: the polynomial loops add their term
operations to :data:`WORK`, and every :data:`CHECK_EVERY` operations :func:`tick` checks, for the
innermost :func:`metered` block, the deadline, the work done against the budget, and the growth of the
process's resident memory against the memory the budget allows. Past either, it raises
:class:`~symderiv.core.errors.BudgetError`, which ``method="auto"`` answers with the randomized test.

>>> from symderiv.core.errors import BudgetError
>>> with metered(work_cap=10):
...     WORK[0] += 11
...     try:
...         tick()
...     except BudgetError as err:
...         print(err.message[:52])
the exact proof did more than 10 term operations, it
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from symderiv.core.errors import BudgetError

#: The work counter: term operations done so far (one per multiply-add of a product, per term added into
#: a sum, per term differentiated). :mod:`symderiv.proofs.exact.cost` estimates this number before a proof, and
#: tests/test_cost_model.py checks the estimate against it. Adding one integer per call costs nothing.
WORK = [0]
#: The value of :data:`WORK` at which the loops call :func:`tick` next (far away when nothing is metered).
NEXT = [1 << 62]
#: Term operations between two checks: about a tenth of a second of exact algebra.
CHECK_EVERY = 200_000

_OFF = 1 << 62


class _Meter:
    __slots__ = ("check", "work_cap", "memory_cap", "what", "work_start", "rss_start")

    def __init__(self, check: Callable[[], None] | None, work_cap: int | None, memory_cap: int | None,
                 what: str) -> None:
        self.check, self.work_cap, self.memory_cap, self.what = check, work_cap, memory_cap, what
        self.work_start = WORK[0]
        self.rss_start = resident_bytes() if memory_cap is not None else 0


_active: list[_Meter] = []


def resident_bytes() -> int:
    """The process's resident memory now (Linux ``/proc``; 0 where that cannot be read).

    >>> resident_bytes() >= 0
    True
    """
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def tick() -> None:
    """Check the innermost metered block: its deadline, its work and its memory (see the module)."""
    if not _active:
        NEXT[0] = _OFF
        return
    NEXT[0] = WORK[0] + CHECK_EVERY
    meter = _active[-1]
    if meter.check is not None:
        meter.check()
    hint = ("raise budget= (CLI --budget), or use the probabilistic check method='random' (CLI --method random); "
            "method='auto', the default, does that by itself")
    done = WORK[0] - meter.work_start
    if meter.work_cap is not None and done > meter.work_cap:
        raise BudgetError(f"the exact proof did more than {meter.work_cap:.3g} term operations, its budget, "
                          f"{meter.what}(the estimate before it was lower)", hint=hint)
    if meter.memory_cap is not None:
        grown = resident_bytes() - meter.rss_start
        if grown > meter.memory_cap:
            raise BudgetError(f"the exact proof grew the process by {grown / 1e6:.0f} MB, over the "
                              f"{meter.memory_cap / 1e6:.0f} MB its budget allows, {meter.what}"
                              "(the estimate before it was lower)", hint=hint)


@contextmanager
def metered(check: Callable[[], None] | None = None, *, work_cap: int | None = None, memory_cap: int | None = None,
            what: str = "") -> Iterator[None]:
    """Meter the exact algebra inside the block: ``check`` (a deadline) and the caps are enforced by :func:`tick`.

    ``what`` names the proof in messages (end it with a space).

    >>> with metered(work_cap=10**9):
    ...     NEXT[0] <= WORK[0] + CHECK_EVERY
    True
    """
    _active.append(_Meter(check, work_cap, memory_cap, what))
    NEXT[0] = WORK[0] + CHECK_EVERY
    try:
        yield
    finally:
        _active.pop()
        NEXT[0] = WORK[0] + CHECK_EVERY if _active else _OFF


__all__ = ["WORK", "NEXT", "CHECK_EVERY", "tick", "metered", "resident_bytes"]
