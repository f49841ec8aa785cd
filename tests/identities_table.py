"""A table of matrix-calculus identities with symbolic shapes (Matrix Cookbook 2.1-2.5, deep-learning rules).

Each row: (expression, wrt, claim, shapes, symmetric, dropped), where ``dropped`` is the claim with one term
left out (None when the claim has one term; for a zero claim, another wrong claim). Every claim holds for all shapes where the expression is defined.
"""

from symderiv.syntax.language import parse


def declared(expression: str, shapes: dict) -> dict:
    """The shapes of the matrices the expression has (a row's shape table may name more)."""
    names = set(parse(expression).symbols())
    return {k: v for k, v in shapes.items() if k in names}


SQ = {"X": ("n", "n")}
SQAB = {"X": ("n", "n"), "A": ("n", "n"), "B": ("n", "n")}
VEC = {"a": ("n", 1), "b": ("n", 1), "X": ("n", "n")}
MN = {"X": ("m", "n")}

IDENTITIES = [
    # 2.1 determinants
    ("det(X)", "X", "det(X) * inv(X).T", SQ, (), None),
    ("log(det(X))", "X", "inv(X).T", SQ, (), None),
    ("logdet(X)", "X", "inv(X).T", SQ, (), None),
    ("det(X.T)", "X", "det(X) * inv(X).T", SQ, (), None),
    ("det(A @ X @ B)", "X", "det(A @ X @ B) * inv(X).T", SQAB, (), None),
    ("log(det(A @ X @ B))", "X", "inv(X).T", SQAB, (), None),
    ("det(X.T @ A @ X)", "X",
     "det(X.T @ A @ X) * (A @ X @ inv(X.T @ A @ X) + A.T @ X @ inv(X.T @ A.T @ X))",
     {"X": ("m", "n"), "A": ("m", "m")}, (), "det(X.T @ A @ X) * A @ X @ inv(X.T @ A @ X)"),
    ("det(X.T @ A @ X)", "X", "2 * det(X.T @ A @ X) * A @ X @ inv(X.T @ A @ X)",
     {"X": ("m", "n"), "A": ("m", "m")}, ("A",), None),
    ("log(det(X.T @ X))", "X", "2 * X @ inv(X.T @ X)", MN, (), None),
    ("sqrt(det(X.T @ X))", "X", "sqrt(det(X.T @ X)) * X @ inv(X.T @ X)", MN, (), None),
    ("det(X @ X)", "X", "2 * det(X @ X) * inv(X).T", SQ, (), None),
    ("det(X @ X @ X)", "X", "3 * det(X @ X @ X) * inv(X).T", SQ, (), None),
    ("log(det(X @ X))", "X", "2 * inv(X).T", SQ, (), None),
    ("det(X) ** 2", "X", "2 * det(X) ** 2 * inv(X).T", SQ, (), None),
    ("1 / det(X)", "X", "-inv(X).T / det(X)", SQ, (), None),
    ("det(A @ X)", "A", "det(A @ X) * inv(A).T", SQAB, (), None),
    ("det(inv(X))", "X", "-inv(X).T / det(X)", SQ, (), None),
    ("det(X.T @ X)", "X", "2 * det(X.T @ X) * X @ inv(X.T @ X)", MN, (), None),
    ("det(X @ X.T)", "X", "2 * det(X @ X.T) * inv(X @ X.T) @ X", MN, (), None),
    ("logdet(X.T @ X)", "X", "2 * X @ inv(X.T @ X)", MN, (), None),
    ("trace(X) / det(X)", "X", "eye(n) / det(X) - trace(X) * inv(X).T / det(X)", SQ, (), "eye(n) / det(X)"),
    ("log(det(X)) / det(X)", "X", "inv(X).T / det(X) - log(det(X)) * inv(X).T / det(X)", SQ, (),
     "inv(X).T / det(X)"),
    # 2.2 inverses
    ("trace(inv(X) @ A)", "X", "-(inv(X) @ A @ inv(X)).T", SQAB, (), None),
    ("trace(A @ inv(X) @ B)", "X", "-(inv(X) @ B @ A @ inv(X)).T", SQAB, (), None),
    ("a.T @ inv(X) @ b", "X", "-inv(X).T @ a @ b.T @ inv(X).T", VEC, (), None),
    ("trace(inv(X))", "X", "-(inv(X) @ inv(X)).T", SQ, (), None),
    ("trace(inv(X) @ A @ inv(X))", "X", "-(inv(X) @ A @ inv(X) @ inv(X) + inv(X) @ inv(X) @ A @ inv(X)).T", SQAB, (),
     "-(inv(X) @ A @ inv(X) @ inv(X)).T"),
    ("inv(X) @ a", "X", "-inv(X).T @ G @ a.T @ inv(X).T", VEC, (), None),
    ("trace(X @ inv(X))", "X", "zeros(n, n)", SQ, (), "inv(X).T"),
    ("inv(X)", "X", "-inv(X).T @ G @ inv(X).T", SQ, (), None),
    ("inv(A @ X)", "X", "-A.T @ inv(A @ X).T @ G @ inv(A @ X).T", SQAB, (), None),
    ("a.T @ inv(X) @ a", "a", "(inv(X) + inv(X).T) @ a", VEC, (), "inv(X) @ a"),
    ("trace(inv(X.T @ C @ X) @ A)", "X",
     "-(C @ X @ inv(X.T @ C @ X) @ A @ inv(X.T @ C @ X) + C.T @ X @ inv(X.T @ C.T @ X) @ A.T @ inv(X.T @ C.T @ X))",
     {"X": ("m", "n"), "C": ("m", "m"), "A": ("n", "n")}, (),
     "-(C @ X @ inv(X.T @ C @ X) @ A @ inv(X.T @ C @ X))"),
    ("trace(inv(X.T @ X))", "X", "-2 * X @ inv(X.T @ X) @ inv(X.T @ X)", MN, (), None),
    # 2.3-2.4 traces, first and second order
    ("trace(X)", "X", "eye(n)", SQ, (), None),
    ("trace(A @ X)", "X", "A.T", SQAB, (), None),
    ("trace(X @ A)", "X", "A.T", SQAB, (), None),
    ("trace(A @ X @ B)", "X", "A.T @ B.T", SQAB, (), None),
    ("trace(A @ X.T @ B)", "X", "B @ A", SQAB, (), None),
    ("trace(X.T @ A)", "X", "A", SQAB, (), None),
    ("trace(X @ X)", "X", "2 * X.T", SQ, (), None),
    ("trace(X.T @ X)", "X", "2 * X", MN, (), None),
    ("trace(X.T @ A @ X)", "X", "(A + A.T) @ X", {"X": ("m", "n"), "A": ("m", "m")}, (), "A @ X"),
    ("trace(X @ A @ X.T)", "X", "X @ (A + A.T)", {"X": ("m", "n"), "A": ("n", "n")}, (), "X @ A"),
    ("trace(A @ X @ B @ X)", "X", "A.T @ X.T @ B.T + B.T @ X.T @ A.T", SQAB, (), "A.T @ X.T @ B.T"),
    ("trace(X @ X @ X)", "X", "3 * (X @ X).T", SQ, (), None),
    ("trace(X) ** 2", "X", "2 * trace(X) * eye(n)", SQ, (), None),
    ("log(trace(X.T @ X))", "X", "2 * X / trace(X.T @ X)", MN, (), None),
    # 2.4 scalar forms
    ("a.T @ X @ b", "X", "a @ b.T", VEC, (), None),
    ("a.T @ X.T @ b", "X", "b @ a.T", VEC, (), None),
    ("a.T @ X @ a", "X", "a @ a.T", VEC, (), None),
    ("a.T @ X @ a", "a", "(X + X.T) @ a", VEC, (), "X @ a"),
    ("a.T @ X @ a", "a", "2 * X @ a", VEC, ("X",), None),
    ("a.T @ a", "a", "2 * a", VEC, (), None),
    ("b.T @ X.T @ X @ a", "X", "X @ b @ a.T + X @ a @ b.T", VEC, (), "X @ b @ a.T"),
    ("(a.T @ X @ b) ** 2", "X", "2 * (a.T @ X @ b) * a @ b.T", VEC, (), None),
    ("a.T @ X @ a / (a.T @ a)", "a", "2 * X @ a / (a.T @ a) - 2 * (a.T @ X @ a) * a / (a.T @ a) ** 2", VEC, ("X",),
     "2 * X @ a / (a.T @ a)"),
    ("sqrt(a.T @ a)", "a", "a / sqrt(a.T @ a)", VEC, (), None),
    ("log(a.T @ a)", "a", "2 * a / (a.T @ a)", VEC, (), None),
    ("1 / (a.T @ a)", "a", "-2 * a / (a.T @ a) ** 2", VEC, (), None),
    ("sqrt(sum(W * W))", "W", "W / sqrt(sum(W * W))", {"W": ("m", "n")}, (), None),
    ("sum(W * W)", "W", "2 * W", {"W": ("m", "n")}, (), None),
    ("sum((X @ w - y) ** 2)", "w", "2 * X.T @ (X @ w - y)", {"X": ("m", "n"), "w": ("n", 1), "y": ("m", 1)}, (), None),
    ("sum((X @ w - y) ** 2)", "X", "2 * (X @ w - y) @ w.T", {"X": ("m", "n"), "w": ("n", 1), "y": ("m", 1)}, (), None),
    ("trace(W.T @ W) / 2", "W", "W", {"W": ("m", "n")}, (), None),
    ("sum(W) / sum(W * W)", "W", "1 / sum(W * W) - 2 * sum(W) * W / sum(W * W) ** 2", {"W": ("m", "n")}, (),
     "1 / sum(W * W)"),
    # deep-learning rules
    ("W @ X", "W", "G @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, (), None),
    ("W @ X", "X", "W.T @ G", {"W": ("H", "m"), "X": ("m", "n")}, (), None),
    ("W @ X + b", "b", "sum(G, axis=1)", {"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)}, (), None),
    ("tanh(W @ X)", "W", "(G * (1 - tanh(W @ X) ** 2)) @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, (), None),
    ("sigmoid(W @ X)", "W", "(G * sigmoid(W @ X) * (1 - sigmoid(W @ X))) @ X.T",
     {"W": ("H", "m"), "X": ("m", "n")}, (), None),
    ("relu(W @ X)", "W", "(G * step(W @ X)) @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, (), None),
    ("exp(Z) / sum(exp(Z), axis=0)", "Z",
     "exp(Z) / sum(exp(Z), axis=0) * (G - sum(G * exp(Z) / sum(exp(Z), axis=0), axis=0))", {"Z": ("k", "n")}, (),
     "exp(Z) / sum(exp(Z), axis=0) * G"),
    ("sum(log(sum(exp(Z), axis=0)))", "Z", "exp(Z) / sum(exp(Z), axis=0)", {"Z": ("k", "n")}, (), None),
    ("W / sqrt(sum(W * W))", "W", "G / sqrt(sum(W * W)) - sum(G * W) * W / sqrt(sum(W * W)) ** 3",
     {"W": ("m", "n")}, (), "G / sqrt(sum(W * W))"),
    ("X / sum(X, axis=0)", "X", "G / sum(X, axis=0) - sum(G * X, axis=0) / sum(X, axis=0) ** 2",
     {"X": ("m", "n")}, (), "G / sum(X, axis=0)"),
    ("sum(Z * Z) / 2", "Z", "Z", {"Z": ("k", "n")}, (), None),
    ("sum(exp(W @ X))", "W", "exp(W @ X) @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, (), None),
    ("log(sum(exp(z)))", "z", "exp(z) / sum(exp(z))", {"z": ("n", 1)}, (), None),
    ("Z - log(sum(exp(Z), axis=0))", "Z", "G - exp(Z) / sum(exp(Z), axis=0) * sum(G, axis=0)", {"Z": ("k", "n")}, (),
     "G"),
    ("exp(Z) / sum(exp(Z), axis=1)", "Z",
     "exp(Z) / sum(exp(Z), axis=1) * (G - sum(G * exp(Z) / sum(exp(Z), axis=1), axis=1))", {"Z": ("k", "n")}, (),
     "exp(Z) / sum(exp(Z), axis=1) * G"),
    ("a.T @ b / (sqrt(a.T @ a) * sqrt(b.T @ b))", "a",
     "b / (sqrt(a.T @ a) * sqrt(b.T @ b)) - (a.T @ b) * a / (sqrt(a.T @ a) ** 3 * sqrt(b.T @ b))", VEC, (),
     "b / (sqrt(a.T @ a) * sqrt(b.T @ b))"),
    ("sqrt(sum((X @ W - Y) * (X @ W - Y)))", "W", "X.T @ (X @ W - Y) / sqrt(sum((X @ W - Y) * (X @ W - Y)))",
     {"X": ("m", "n"), "W": ("n", "k"), "Y": ("m", "k")}, (), None),
    ("sum(log(sigmoid(Z)))", "Z", "1 - sigmoid(Z)", {"Z": ("k", "n")}, (), "-sigmoid(Z)"),
    ("log(sum(exp(W @ x)))", "x", "W.T @ (exp(W @ x) / sum(exp(W @ x)))", {"W": ("k", "n"), "x": ("n", 1)}, (), None),
]
