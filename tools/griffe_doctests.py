"""A griffe extension for the API reference (mkdocs.yml): the docstrings' doctests shown as code.

symderiv's docstrings are plain text with doctests; without this, Markdown would read ``['a', 'b']`` in an
expected output as a link reference. Each run of ``>>>``/``...`` lines and the output after them becomes a
fenced ``pycon`` block.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence(text: str) -> str:
    """Doctest blocks of ``text`` inside code fences.

    >>> print(fence("Intro.\\n\\n>>> f()\\n['a']\\n\\nMore."))
    Intro.
    <BLANKLINE>
    ```pycon
    >>> f()
    ['a']
    ```
    <BLANKLINE>
    More.
    """
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.lstrip().startswith(">>>") and not inside:
            out.append("```pycon")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctests of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence(obj.docstring.value)
