"""Derivations under assumptions, symmetric conventions and of HVPs, for tests/test_prose_claims.py (issue 14).

Each entry is ``(expression, wrt, shapes, options)`` like ``tests/prose_corpus.py``'s; they are kept here so that
the corpus of the issue-16 session stays as it was.
"""

from __future__ import annotations

from typing import Any

from symderiv.proofs.hessian import hvp_pairing

CE = "-sum(Y * (X - log(sum(exp(X), axis=1)) @ ones(1, C)))"

ASSUMED: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = [
    (CE, "X", {"X": ("N", "C")}, {"assume": {"Y": "onehot_rows"}}),
    (CE, "X", {"X": ("N", "C")}, {"assume": {"Y": "stochastic_rows"}}),
    ("sum((y * (X @ w)) ** 2)", "w", {"X": ("N", "D"), "y": ("N", 1)}, {"assume": {"y": "signs"}}),
    ("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": ("N", "D"), "y": ("N", 1)}, {"assume": {"y": "pm1"}}),
    ("sum(Y * Y * X)", "X", {"X": (2, 3)}, {"assume": {"Y": "onehot_rows"}}),
    ("sum((ones(1, n) @ P) * r)", "r", {"P": ("n", "m")}, {"assume": {"P": "stochastic_cols"}}),
    ("trace(S @ X)", "X", {"X": ("n", "n")}, {"assume": {"S": "symmetric"}}),
    # with respect to a symmetric matrix, both conventions
    ("logdet(S)", "S", {"S": (3, 3)}, {"symmetric": ["S"]}),
    ("logdet(S)", "S", {"S": (3, 3)}, {"symmetric": ["S"], "symmetric_convention": "entries"}),
    ("x.T @ S @ x", "S", {"x": ("n", 1)}, {"symmetric": ["S"], "symmetric_convention": "entries"}),
    ("trace(A @ S)", "S", {"A": (3, 3), "S": (3, 3)}, {"symmetric": ["S"]}),
    ("sum(S * S * B)", "S", {"B": (2, 2), "S": (2, 2)}, {"assume": {"S": "symmetric"},
                                                         "symmetric_convention": "entries"}),
]


def _pairings() -> list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]]:
    """The scalars whose gradients ``derive_hvp`` derives block by block (its blocks are theirs)."""
    out: list[tuple[str, str, dict[str, Any] | None, dict[str, Any]]] = []
    for expression, wrt, shapes in HVPS:
        paired = hvp_pairing(expression, wrt, shapes=shapes)
        out.append((paired.text, wrt, dict(paired.shapes), {}))
    return out


#: (expression, wrt, shapes) of Hessian-vector products that tests/test_derive_hvp.py derives
HVPS: list[tuple[str, str, dict[str, Any]]] = [
    ("sum((X @ w - y) ** 2)", "w", {"X": (3, 2), "w": (2, 1), "y": (3, 1)}),
    ("x.T @ A @ x", "x", {"x": ("n", 1)}),
    ("sum(log(1 + exp(-y * (X @ w))))", "w", {"X": (3, 2), "w": (2, 1), "y": (3, 1)}),
    ("logdet(X)", "X", {"X": ("n", "n")}),  # (3, 3): the lemma sentence says "M_pq" over n, prose.py's matter
    ("sum(W2 @ tanh(W1 @ X))", "W1", {"W2": (2, 3), "W1": (3, 2), "X": (2, 2)}),
    ("W2 @ tanh(W1 @ X)", "W1", None),
]

ASSUMED += _pairings()
