"""Named tests for the surviving mutants of the verdict logic (issue 11, mutation wave).

Each test asserts a behaviour a user relies on -- a status, an exit code, a witness, a message with its
figures -- and names in its docstring the mutant (``module:line#index`` of ``tools/mutation.py``) that it
kills. Run ``python tools/mutation.py --module status.py --jobs 1`` (and so on) to see them at work.
"""

from __future__ import annotations

import pytest

import symderiv
from symderiv import cli, verification
from symderiv.status import Status

# -- status.py: exit codes and the printed status ---------------------------------------------------------


def test_a_command_line_usage_error_exits_2(capsys):
    """status.py:16#8 (EXIT_USAGE 2 → 3): a missing required option is a usage error, exit 2 (SPEC 6)."""
    assert cli.main(["verify", "W @ X", "--claim", "G @ X.T"]) == 2
    assert "--wrt" in capsys.readouterr().err
    assert cli.main([]) == 2  # no subcommand: the help, and a usage exit


def test_an_internal_error_exits_3_with_a_bug_report(monkeypatch, capsys):
    """status.py:16#9 (EXIT_BUG 3 → 4): an unexpected exception is a bug, exit 3, never 4 (undecided)."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(verification, "verify", broken)
    assert cli.main(["verify", "W", "--wrt", "W", "--claim", "G", "--shape", "W=1,2"]) == 3
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: boom)" in err and "This is a bug" in err


def test_a_status_prints_as_its_name():
    """status.py:28#11 (``__str__`` returns None): ``str`` and f-strings of a status give its plain name."""
    assert [str(s) for s in Status] == ["proved", "probabilistic", "refuted", "undecided"]
    assert f"status {Status.UNDECIDED}" == "status undecided"
