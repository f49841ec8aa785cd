"""Derivations whose sentences tests/test_prose_claims.py checks against their equations.

Every example of ``docs/examples`` (``symderiv.docs.EXAMPLES``), every derivation of the test suite, and the
expressions of a lecture course (the issue-16 session's). Each entry is ``(expression, wrt, shapes, options)``.
"""

from __future__ import annotations

from typing import Any

from prose_corpus_assumed import ASSUMED

from symderiv.docs import EXAMPLES

Case = tuple[str, str, dict[str, Any] | None, dict[str, Any]]

_COURSE: list[Case] = [
    # the test suite's (tests/test_derivation.py)
    ("W @ X", "W", {"W": ("H", "m"), "X": ("m", "n")}, {}),
    ("W @ X", "W", None, {}),
    ("X @ W", "W", None, {}),
    ("W @ X", "X", None, {}),
    ("relu(W @ X + b)", "W", {"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)}, {}),
    ("W @ X + b", "b", {"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)}, {}),
    ("tanh(X @ W) @ V", "W", None, {}),
    ("trace(A @ X @ B)", "X", None, {}),
    ("x.T @ A @ x", "x", {"x": ("n", 1)}, {}),
    ("logdet(X)", "X", None, {}),
    ("det(X)", "X", None, {}),
    ("inv(X)", "X", None, {}),
    ("W2 @ relu(W1 @ X + b1) + b2", "W1", {"b1": ("h", 1), "b2": ("o", 1)}, {}),
    ("exp(relu(W @ X)) + relu(W @ X)", "W", None, {}),
    ("phi(W @ X)", "W", None, {"functions": ["phi"]}),
    ("W @ X", "W", None, {"layout": "numerator"}),
    ("x.T @ S @ x", "x", {"x": ("n", 1)}, {"symmetric": ["S"]}),
    # the issue's
    ("log(sum(exp(x)))", "x", {"x": ("n", 1)}, {}),
    ("sqrt(sum(W ** 2))", "W", None, {}),
    ("X @ W + b", "b", {"b": (1, "H")}, {}),
    ("X @ W + b", "W", {"b": (1, "H")}, {}),
    ("sigmoid(W @ X)", "W", None, {}),
    ("sigmoid(X @ W)", "W", None, {}),
    ("relu(X @ W + b)", "W", {"b": (1, "H")}, {}),
    ("relu(W @ X + b)", "b", {"b": ("H", 1)}, {}),
    ("det(X) * inv(X).T", "X", None, {}),
    # a course: losses, layers, matrix functions
    ("sum((W @ X - Y) ** 2)", "W", None, {}),
    ("sum((X @ w - y) ** 2)", "w", {"w": ("m", 1), "y": ("n", 1)}, {}),
    ("sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))", "w",
     {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}, {}),
    ("trace(X.T @ A @ X)", "X", None, {}),
    ("trace(X @ X)", "X", None, {}),
    ("trace(inv(X) @ A)", "X", None, {}),
    ("a.T @ X @ b", "X", {"a": ("n", 1), "b": ("m", 1)}, {}),
    ("sum(X * X)", "X", None, {}),
    ("sum(exp(W @ X))", "W", None, {}),
    ("tanh(W @ X + b)", "b", {"b": ("H", 1)}, {}),
    ("W2 @ sigmoid(W1 @ X)", "W2", None, {}),
    ("W2 @ sigmoid(W1 @ X)", "W1", None, {}),
    ("W2 @ relu(W1 @ X + b1) + b2", "b1", {"b1": ("h", 1), "b2": ("o", 1)}, {}),
    ("W2 @ relu(W1 @ X + b1) + b2", "W2", {"b1": ("h", 1), "b2": ("o", 1)}, {}),
    ("A @ X @ B", "X", None, {}),
    ("X.T @ X", "X", None, {}),
    ("X @ X", "X", None, {}),
    ("2 * W @ X", "W", None, {}),
    ("W @ X / 3", "W", None, {}),
    ("sum(relu(W @ X))", "W", None, {}),
    ("log(det(X))", "X", None, {}),
    ("inv(X) @ B", "X", None, {}),
    ("x.T @ inv(A) @ x", "A", {"x": ("n", 1)}, {}),
    ("exp(x) / sum(exp(x))", "x", {"x": ("n", 1)}, {}),
    ("W @ X", "W", {"W": (64, 32), "X": (32, 128)}, {}),
    # beyond products and sums: blocks whose matrix form is the node's backward rule, checked
    ("(X - sum(X, axis=0) * 0.25) ** 2", "X", None, {}),
    ("exp(Z) / sum(exp(Z), axis=0)", "Z", None, {}),
    ("-sum(Y * log(exp(Z) / sum(exp(Z), axis=0)))", "Z", None, {}),
    ("(exp(Q @ K.T) / sum(exp(Q @ K.T), axis=1)) @ V", "Q", None, {}),
    ("(X - sum(X, axis=0) / 4) / sqrt(sum((X - sum(X, axis=0) / 4) ** 2, axis=0) / 4 + 1)", "X", None, {}),
    # every move written out (detail="full"), and numbered equations
    ("-sum(Y * log(sigmoid(w.T @ X)) + (1 - Y) * log(1 - sigmoid(w.T @ X)))", "w",
     {"w": ("m", 1), "X": ("m", "n"), "Y": (1, "n")}, {"detail": "full"}),
    ("W2 @ relu(W1 @ X + b1) + b2", "W1", {"b1": ("h", 1), "b2": ("o", 1)}, {"detail": "full", "numbered": True}),
    ("tanh(W @ X + b)", "b", {"b": ("H", 1)}, {"detail": "full"}),
    ("sum((W @ X - Y) ** 2)", "W", None, {"detail": "full"}),
]

CASES: list[Case] = [(e.expression, w, dict(e.shapes) or None, {}) for e in EXAMPLES
                     for w in (e.wrt if isinstance(e.wrt, tuple) else (e.wrt,))] + _COURSE + ASSUMED
