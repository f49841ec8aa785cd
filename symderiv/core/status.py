"""The four verdict statuses (SPEC section 6), their truth value, headline and exit code.

A status is a ``str`` (so ``verdict.status == "proved"`` keeps working) with a
fixed meaning: only ``proved`` and ``probabilistic`` make a verdict true, and
only they print a headline that starts with ``PROVED``.

>>> Status.REFUTED == "refuted", Status.PROBABILISTIC.holds, exit_code(Status.UNDECIDED)
(True, True, 4)
"""

from __future__ import annotations

from enum import Enum

#: Exit codes of the command line (SPEC section 6).
EXIT_OK, EXIT_FALSE, EXIT_USAGE, EXIT_BUG, EXIT_UNDECIDED = 0, 1, 2, 3, 4


class Status(str, Enum):
    """What a verdict established."""

    PROVED = "proved"
    PROBABILISTIC = "probabilistic"
    REFUTED = "refuted"
    UNDECIDED = "undecided"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:  # shown like the plain string it equals, so doctests and reports read 'proved'
        return repr(self.value)

    @property
    def holds(self) -> bool:
        """True for the two statuses that establish the claim (an exact or a randomized proof)."""
        return self in (Status.PROVED, Status.PROBABILISTIC)

    @classmethod
    def of(cls, value: str | Status) -> Status:
        """A status from its name; the 0.1 names ``shape`` and ``checked`` map to ``refuted`` and ``undecided``.

        >>> Status.of("shape"), Status.of("checked"), Status.of("proved") is Status.PROVED
        ('refuted', 'undecided', True)
        """
        if isinstance(value, Status):
            return value
        legacy = {"shape": cls.REFUTED, "checked": cls.UNDECIDED}
        if value in legacy:
            return legacy[value]
        return cls(value)


def headline(status: Status, error_exponent: int | None = None) -> str:
    """The first word(s) of a report.

    >>> headline(Status.PROBABILISTIC, 61), headline(Status.REFUTED), headline(Status.UNDECIDED)
    ('PROVED (probabilistic, error ≤ 2^-61)', 'NOT PROVED', 'UNDECIDED')
    """
    if status is Status.PROVED:
        return "PROVED"
    if status is Status.PROBABILISTIC:
        return f"PROVED (probabilistic, error ≤ 2^-{error_exponent})" if error_exponent is not None \
            else "PROVED (probabilistic)"
    if status is Status.REFUTED:
        return "NOT PROVED"
    return "UNDECIDED"


def exit_code(status: Status) -> int:
    """The command line's exit code for a verdict of this status: 0 holds, 1 refuted, 4 undecided.

    >>> [exit_code(s) for s in Status]
    [0, 0, 1, 4]
    """
    if status.holds:
        return EXIT_OK
    return EXIT_FALSE if status is Status.REFUTED else EXIT_UNDECIDED


__all__ = ["Status", "headline", "exit_code", "EXIT_OK", "EXIT_FALSE", "EXIT_USAGE", "EXIT_BUG", "EXIT_UNDECIDED"]
