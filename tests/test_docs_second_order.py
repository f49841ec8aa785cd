"""docs/second-order.md: every `$ symderiv ...` line is run and its output compared with the page."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from symderiv.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "second-order.md"


def _examples() -> list[tuple[str, str]]:
    """(command, expected output) pairs from the fenced blocks of the page."""
    examples: list[tuple[str, list[str]]] = []
    in_block = False
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block and line.startswith("$ "):
            examples.append((line[2:], []))
        elif in_block and examples:
            examples[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in examples]


EXAMPLES = _examples()


def test_the_page_has_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("command, expected", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_command_output_matches_the_page(command, expected, capsys):
    argv = shlex.split(command)
    assert argv[0] == "symderiv"
    assert main(argv[1:]) == 0
    assert capsys.readouterr().out.rstrip("\n") == expected
