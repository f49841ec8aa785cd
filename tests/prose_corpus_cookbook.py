"""More documents for tests/test_prose_claims.py: every recipe of ``docs/cookbook.md``, documents of several
gradients (``derive(expr, ["W", "b"])``) and worked examples (``derive(..., worked=True)``).

Each entry is ``(expression, wrt, shapes, options)`` like ``tests/prose_corpus.py``'s, ``wrt`` a name or a tuple of
names (one document for all of them). The cookbook's entries are read from ``symderiv.cookbook.RECIPES``, the
source of the page, so a new recipe is walked too.
"""

from __future__ import annotations

from typing import Any

from symderiv.cookbook import RECIPES

Document = tuple[str, str | tuple[str, ...], dict[str, Any] | None, dict[str, Any]]

#: Every recipe of the cookbook, its gradients in one document as the page lists them.
COOKBOOK: list[Document] = [
    (r.expression, r.wrt if len(r.wrt) > 1 else r.wrt[0], dict(r.shapes) or None,
     {"assume": dict(r.assume)} if r.assume else {}) for r in RECIPES]

#: Documents of several gradients beyond the cookbook's, in both notations and with every option.
SEVERAL: list[Document] = [
    ("relu(W @ X + b)", ("W", "b"), {"b": ("H", 1)}, {}),
    ("relu(W @ X + b)", ("W", "b"), {"b": ("H", 1)}, {"notation": "upstream", "detail": "full"}),
    ("sum((W @ X - Y) ** 2)", ("W", "X"), None, {"numbered": True}),
]

#: Worked numeric examples, alone and in documents of several gradients.
WORKED: list[Document] = [
    ("W @ X", "W", {"W": ("H", "m"), "X": ("m", "n")}, {"worked": True}),
    ("relu(W @ X + b)", ("W", "b"), {"b": ("H", 1)}, {"worked": True}),
    ("sigmoid(W @ X)", "W", None, {"worked": True, "notation": "upstream"}),
    ("-sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))", "w",
     {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}, {"worked": True}),
    ("trace(A @ X @ B)", "X", None, {"worked": True}),
]

DOCUMENTS: list[Document] = COOKBOOK + SEVERAL + WORKED
