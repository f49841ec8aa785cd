"""Textbook gradients, written as the textbooks print them (issue 17's reference table).

Each row: expression, wrt, shapes (None: inferred), symmetric names, the textbook's form, and where
it comes from. Sources:
  MC = The Matrix Cookbook (Petersen & Pedersen, 2012), equation numbers of section 2;
  CS229 = Stanford CS229 lecture notes (Ng), linear/logistic regression and the normal equations;
  CS231n = Stanford CS231n notes and "Derivatives, Backpropagation, and Vectorization" (Johnson);
  SymPy = sympy/matrices/expressions/tests/test_derivatives.py (the matrix-derivative tests).
The form is the one the source prints, spelled in symderiv's language (``@``, ``.T``, ``*`` Hadamard);
with an upstream ``G`` for a matrix-valued expression (CS231n's backward pass).
"""

from __future__ import annotations

V = {"x": ("n", 1)}  # a column vector x
AB = {"a": ("n", 1), "b": ("n", 1)}
LSQ = {"X": ("N", "D"), "w": ("D", 1), "y": ("N", 1)}
AXB = {"A": ("m", "n"), "x": ("n", 1), "b": ("m", 1)}
SQ3 = {"X": (3, 3)}
NC = {"X": ("N", "C"), "Y": ("N", "C")}  # scores and labels, one row per sample

ROWS: list[tuple[str, str, dict | None, tuple[str, ...], str, str]] = [
    # -- linear and quadratic forms --------------------------------------------------------------------
    ("a.T @ x", "x", {"a": ("n", 1), "x": ("n", 1)}, (), "a", "MC 69"),
    ("x.T @ a", "x", {"a": ("n", 1), "x": ("n", 1)}, (), "a", "MC 69"),
    ("a.T @ X @ b", "X", {"a": ("m", 1), "X": ("m", "n"), "b": ("n", 1)}, (), "a @ b.T", "MC 70; SymPy"),
    ("a.T @ X.T @ b", "X", {"a": ("n", 1), "X": ("m", "n"), "b": ("m", 1)}, (), "b @ a.T", "MC 71; SymPy"),
    ("a.T @ X @ a", "X", {"a": ("n", 1), "X": ("n", "n")}, (), "a @ a.T", "MC 72"),
    ("x.T @ x", "x", V, (), "2 * x", "MC 81 (A = I)"),
    ("x.T @ A @ x", "x", V, (), "(A + A.T) @ x", "MC 81; SymPy"),
    ("x.T @ A @ x", "x", V, ("A",), "2 * A @ x", "MC 81, A symmetric"),
    ("x.T @ A @ x", "A", V, (), "x @ x.T", "MC 72 (a = b = x)"),
    ("b.T @ X.T @ X @ c", "X", {"b": ("n", 1), "c": ("n", 1), "X": ("m", "n")}, (),
     "X @ (b @ c.T + c @ b.T)", "MC 77"),
    ("(X @ b + c).T @ D @ (X @ b + c)", "X", {"X": ("m", "n"), "b": ("n", 1), "c": ("m", 1)}, (),
     "(D + D.T) @ (X @ b + c) @ b.T", "MC 78"),
    ("(x - mu).T @ inv(S) @ (x - mu)", "x", {"x": ("n", 1), "mu": ("n", 1)}, ("S",), "2 * inv(S) @ (x - mu)",
     "MC 86 (Mahalanobis, S symmetric)"),
    ("(x - mu).T @ inv(S) @ (x - mu)", "mu", {"x": ("n", 1), "mu": ("n", 1)}, ("S",), "-2 * inv(S) @ (x - mu)",
     "MC 86 (Mahalanobis, S symmetric)"),
    ("(x - s).T @ W @ (x - s)", "s", {"x": ("n", 1), "s": ("n", 1)}, ("W",), "-2 * W @ (x - s)", "MC 85 (W symmetric)"),
    ("(x - s).T @ W @ (x - s)", "x", {"x": ("n", 1), "s": ("n", 1)}, ("W",), "2 * W @ (x - s)", "MC 84 (W symmetric)"),
    # -- traces ---------------------------------------------------------------------------------------
    ("trace(X)", "X", None, (), "eye(n)", "MC 99"),
    ("trace(A @ X)", "X", None, (), "A.T", "MC 100; SymPy"),
    ("trace(X @ A)", "X", None, (), "A.T", "MC 100"),
    ("trace(A @ X @ B)", "X", None, (), "A.T @ B.T", "MC 101; SymPy"),
    ("trace(A @ X.T @ B)", "X", None, (), "B @ A", "MC 102; SymPy"),
    ("trace(X.T @ A)", "X", None, (), "A", "MC 103"),
    ("trace(A @ X.T)", "X", None, (), "A", "MC 104"),
    ("trace(X @ X)", "X", None, (), "2 * X.T", "MC 106 (k = 2)"),
    ("trace(matpow(X, 2))", "X", None, (), "2 * X.T", "MC 106 (k = 2)"),
    ("trace(matpow(X, 3))", "X", None, (), "3 * matpow(X, 2).T", "MC 106 (k = 3)"),
    ("trace(X.T @ X)", "X", None, (), "2 * X", "MC 107"),
    ("trace(X @ X.T)", "X", None, (), "2 * X", "MC 107"),
    ("trace(X.T @ B @ X)", "X", None, (), "(B + B.T) @ X", "MC 108"),
    ("trace(X @ B @ X.T)", "X", None, (), "X @ (B + B.T)", "MC 109"),
    ("trace(B @ X @ X.T)", "X", None, (), "(B + B.T) @ X", "MC 110"),
    ("trace(X @ X.T @ B)", "X", None, (), "(B + B.T) @ X", "MC 111"),
    ("trace(B @ X.T @ X)", "X", None, (), "X @ (B + B.T)", "MC 112"),
    ("trace(A @ X @ B @ X)", "X", None, (), "A.T @ X.T @ B.T + B.T @ X.T @ A.T", "MC 113"),
    ("trace(X.T @ B @ X @ C)", "X", None, (), "B @ X @ C + B.T @ X @ C.T", "MC 117"),
    ("trace(A @ X @ B @ X.T @ C)", "X", None, (), "A.T @ C.T @ X @ B.T + C @ A @ X @ B", "MC 116"),
    ("trace(X.T @ X) + trace(A @ X)", "X", None, (), "2 * X + A.T", "MC 103, 107"),
    ("trace(X) ** 2", "X", SQ3, (), "2 * trace(X) * eye(3)", "MC 99 with the chain rule"),
    ("sum(eye(3) * X) ** 2", "X", SQ3, (), "2 * trace(X) * eye(3)", "MC 99 (sum(I * X) is trace X)"),
    ("exp(trace(X))", "X", None, (), "exp(trace(X)) * eye(n)", "MC 99 with the chain rule"),
    ("trace(B @ inv(X) @ X)", "X", None, (), "zeros(n, n)", "inv(X) @ X = I"),
    # -- inverses and determinants --------------------------------------------------------------------
    ("det(X)", "X", None, (), "det(X) * inv(X).T", "MC 49; SymPy"),
    ("log(det(X))", "X", None, (), "inv(X).T", "MC 57"),
    ("logdet(X)", "X", None, (), "inv(X).T", "MC 57"),
    ("det(A @ X @ B)", "X", {"A": ("n", "n"), "X": ("n", "n"), "B": ("n", "n")}, (), "det(A @ X @ B) * inv(X).T", "MC 50 (A, B square)"),
    ("trace(inv(X))", "X", None, (), "-inv(X).T @ inv(X).T", "MC 124"),
    ("trace(A @ inv(X) @ B)", "X", None, (), "-inv(X).T @ A.T @ B.T @ inv(X).T", "MC 125"),
    ("a.T @ inv(X) @ b", "X", AB, (), "-inv(X).T @ a @ b.T @ inv(X).T", "MC 61; SymPy"),
    ("inv(X)", "X", None, (), "-inv(X).T @ G @ inv(X).T", "MC 59 (with an upstream G)"),
    ("log(det(X.T @ X))", "X", {"X": (4, 2)}, (), "2 * X @ inv(X.T @ X)", "MC 55 (X.T @ X symmetric)"),
    ("log(det(X.T @ A @ X))", "X", {"X": (4, 2)}, ("A",), "2 * A @ X @ inv(X.T @ A @ X)", "MC 55, A symmetric"),
    ("det(X) ** 2", "X", None, (), "2 * det(X) ** 2 * inv(X).T", "MC 49 with the chain rule"),
    ("log(det(X)) + trace(inv(X))", "X", None, (), "inv(X).T - inv(X).T @ inv(X).T", "MC 57, 124"),
    # -- least squares and regression -----------------------------------------------------------------
    ("sum((X @ w - y) ** 2)", "w", LSQ, (), "2 * X.T @ (X @ w - y)", "CS229 normal equations"),
    ("(X @ w - y).T @ (X @ w - y)", "w", LSQ, (), "2 * X.T @ (X @ w - y)", "CS229; MC 84"),
    ("sum((A @ x - b) ** 2)", "x", AXB, (), "2 * A.T @ (A @ x - b)", "MC 84 (W = I)"),
    ("(A @ x - b).T @ (A @ x - b)", "x", AXB, (), "2 * A.T @ (A @ x - b)", "MC 84; SymPy"),
    ("sum((W @ X - Y) ** 2)", "W", None, (), "2 * (W @ X - Y) @ X.T", "CS231n vectorized"),
    ("sum((X @ W - Y) ** 2)", "W", None, (), "2 * X.T @ (X @ W - Y)", "CS229 multi-output"),
    ("trace((X @ W - Y).T @ (X @ W - Y))", "W", None, (), "2 * X.T @ (X @ W - Y)", "MC 107 chain rule"),
    ("sum((X @ w - y) ** 2) + lam * (w.T @ w)", "w", {**LSQ, "lam": (1, 1)}, (),
     "2 * X.T @ (X @ w - y) + 2 * lam * w", "CS229 ridge"),
    ("sum(log(1 + exp(-y * (X @ w))))", "w", LSQ, (), "-X.T @ (y * sigmoid(-y * (X @ w)))",
     "CS229 logistic loss, labels y = ±1"),
    ("sum(sigmoid(X @ w))", "w", {"X": ("N", "D"), "w": ("D", 1)}, (), "X.T @ (sigmoid(X @ w) * (1 - sigmoid(X @ w)))", "CS229 sigmoid'"),
    ("sum(X * X)", "X", None, (), "2 * X", "Frobenius norm, MC 107"),
    ("sum(X ** 2)", "X", None, (), "2 * X", "Frobenius norm, MC 107"),
    # -- elementwise functions (CS231n) --------------------------------------------------------------
    ("sum(exp(X))", "X", None, (), "exp(X)", "CS231n"),
    ("sum(log(X))", "X", None, (), "1 / X", "CS231n"),
    ("sum(sqrt(X))", "X", None, (), "1 / (2 * sqrt(X))", "CS231n"),
    ("sum(sin(X))", "X", None, (), "cos(X)", "calculus"),
    ("sum(cos(X))", "X", None, (), "-sin(X)", "calculus"),
    ("sum(tanh(X))", "X", None, (), "1 - tanh(X) ** 2", "CS231n tanh'"),
    ("sum(sigmoid(X))", "X", None, (), "sigmoid(X) * (1 - sigmoid(X))", "CS231n sigmoid'"),
    ("sum(relu(X))", "X", None, (), "step(X)", "CS231n relu'"),
    ("sum(softplus(X))", "X", None, (), "sigmoid(X)", "softplus' = sigmoid"),
    ("sum(log(1 + exp(X)))", "X", None, (), "sigmoid(X)", "softplus' = sigmoid"),
    ("sum(sqrt(X * X + 1))", "X", None, (), "X / sqrt(X * X + 1)", "pseudo-Huber"),
    ("sum(exp(-X) / (1 + exp(-X)))", "X", None, (), "sigmoid(-X) ** 2 - sigmoid(-X)", "sigmoid' at -X"),
    # -- softmax (CS231n softmax classifier; the registry's softmax, recognised from its expansion) ------
    ("-sum(Y * log(exp(X) / sum(exp(X), axis=1)))", "X", NC, (), "softmax(X, axis=1) * sum(Y, axis=1) - Y",
     "CS231n softmax loss, labels not assumed one-hot"),
    ("-sum(Y * log_softmax(X, axis=1))", "X", NC, (), "softmax(X, axis=1) * sum(Y, axis=1) - Y",
     "CS231n softmax loss via log-softmax"),
    ("sum(exp(W @ X) / sum(exp(W @ X), axis=0))", "W", {"W": ("H", "m"), "X": ("m", "n")}, (), "zeros(H, m)",
     "each column of a softmax sums to 1"),
    ("sum(softmax(Z, axis=1))", "Z", {"Z": ("N", "C")}, (), "zeros(N, C)", "each row of a softmax sums to 1"),
    ("softmax(X, axis=1)", "X", {"X": ("N", "C")}, (), "softmax(X, axis=1) * (G - sum(G * softmax(X, axis=1), axis=1))",
     "CS231n softmax backward (Jacobian-vector product)"),
    ("log_softmax(X, axis=1)", "X", {"X": ("N", "C")}, (), "G - softmax(X, axis=1) * sum(G, axis=1)",
     "log-softmax backward (PyTorch LogSoftmax)"),
    # -- backward passes with an upstream G (CS231n) --------------------------------------------------
    ("X @ W + b", "W", {"X": ("N", "D"), "W": ("D", "M"), "b": (1, "M")}, (), "X.T @ G", "CS231n affine"),
    ("X @ W + b", "X", {"X": ("N", "D"), "W": ("D", "M"), "b": (1, "M")}, (), "G @ W.T", "CS231n affine"),
    ("X @ W + b", "b", {"X": ("N", "D"), "W": ("D", "M"), "b": (1, "M")}, (), "sum(G, axis=0)", "CS231n affine"),
    ("W @ X", "W", None, (), "G @ X.T", "CS231n; Johnson"),
    ("W @ X", "X", None, (), "W.T @ G", "CS231n; Johnson"),
    ("A @ X @ B", "X", None, (), "A.T @ G @ B.T", "MC 70 with an upstream"),
    ("X.T", "X", None, (), "G.T", "transpose"),
    ("relu(X)", "X", None, (), "G * step(X)", "CS231n relu backward"),
    ("sigmoid(X)", "X", None, (), "G * sigmoid(X) * (1 - sigmoid(X))", "CS231n sigmoid backward"),
    ("tanh(X)", "X", None, (), "G * (1 - tanh(X) ** 2)", "CS231n tanh backward"),
    ("exp(X)", "X", None, (), "G * exp(X)", "CS231n"),
    ("X * Y", "X", None, (), "G * Y", "CS231n Hadamard"),
    ("X / Y", "Y", None, (), "-G * X / Y ** 2", "quotient rule"),
    ("relu(W @ X + b)", "W", {"b": ("H", 1)}, (), "(G * step(W @ X + b)) @ X.T", "CS231n layer"),
    ("relu(W @ X + b)", "b", {"b": ("H", 1)}, (), "sum(G * step(W @ X + b), axis=1)", "CS231n layer"),
    ("relu(W @ X + b)", "X", {"b": ("H", 1)}, (), "W.T @ (G * step(W @ X + b))", "CS231n layer"),
    ("W2 @ relu(W1 @ X)", "W2", None, (), "G @ relu(W1 @ X).T", "CS231n two-layer net"),
    ("W2 @ relu(W1 @ X)", "W1", None, (), "(W2.T @ G * step(W1 @ X)) @ X.T", "CS231n two-layer net"),
    ("sum(X)", "X", None, (), "ones(n, m)", "sum"),
    ("sum(A * X)", "X", None, (), "A", "MC 103 entrywise (tr(A.T X))"),
]
