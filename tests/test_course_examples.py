"""The examples of issue 14's "Done when" that need only the new operations: each gradient, as gradient()
derives it, with its proof status, and checked against NumPy finite differences."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import symderiv
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.syntax.language import parse

LAYER_NORM = "(X - mean(X, axis=1)) / sqrt(mean((X - mean(X, axis=1)) ** 2, axis=1) + 0.00001)"
ATTENTION = "softmax(Q @ K.T / sqrt(d), axis=1) @ V"
ATTENTION_SHAPES = {"Q": (2, 2), "K": (3, 2), "V": (3, 2), "d": (1, 1)}

# expression, wrt, shapes, the formula gradient() gives, the status of its proof
GRADIENTS = [
    ("-sum(Y * log_softmax(X, axis=1))", "X", None, "softmax(X, axis=1) * sum(Y, axis=1) - Y", "all shapes"),
    ("-sum(Y * log_softmax(X, axis=1))", "X", {"X": (2, 3), "Y": (2, 3)},
     "softmax(X, axis=1) * sum(Y, axis=1) - Y", "entrywise"),
    ("mean((W @ X - Y) ** 2)", "W", None, "(2 * (W @ X - Y) / sum(ones(n, p))) @ X.T", "all shapes"),
    ("mean((W @ X - Y) ** 2)", "W", {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "0.25 * (W @ X - Y) @ X.T",
     "entrywise"),
    ("norm(W @ X - Y)", "W", {"W": (2, 3), "X": (3, 2), "Y": (2, 2)}, "((W @ X - Y) / norm(W @ X - Y)) @ X.T",
     "entrywise"),
    ("sum(sqrt(X))", "X", {"X": (2, 2)}, "0.5 / sqrt(X)", "entrywise"),
    ("sum(X ** -0.5)", "X", {"X": (2, 2)}, "-0.5 * X ** -1.5", "entrywise"),
    ("logsumexp(X, axis=0)", "X", None, "G * softmax(X, axis=0)", "all shapes"),
    ("sum(diag(A) * x)", "A", {"A": (3, 3), "x": (3, 1)}, "diagflat(x)", "entrywise"),
    ("sum(diag(A) * x)", "x", {"A": (3, 3), "x": (3, 1)}, "diag(A)", "entrywise"),
    ("trace(diagflat(x) @ A)", "x", {"A": (3, 3), "x": (3, 1)}, "diag(A.T)", "entrywise"),
    ("trace(diagflat(x) @ A)", "x", {"x": ("n", 1)}, "diag(A.T)", "all shapes"),
    (ATTENTION, "V", ATTENTION_SHAPES, "softmax((Q @ K.T) / sqrt(d), axis=1).T @ G", "entrywise"),
    (ATTENTION, "Q", ATTENTION_SHAPES, "(softmax((Q @ K.T) / sqrt(d), axis=1) * (G @ V.T - sum((G @ V.T) * "
     "softmax((Q @ K.T) / sqrt(d), axis=1), axis=1)) / sqrt(d)) @ K", "entrywise"),
]


@pytest.mark.parametrize("expression, wrt, shapes, formula, proof", GRADIENTS,
                         ids=[f"{e}|{w}|{'symbolic' if s is None else 'concrete'}" for e, w, s, *_ in GRADIENTS])
def test_gradient_formula_and_proof(expression, wrt, shapes, formula, proof):
    g = symderiv.gradient(expression, wrt=wrt, shapes=shapes)
    assert g.formula == formula
    assert g.proof_status == "proved" and proof in g.proof_reason, g.proof_reason


# the textbook forms of the issue, verified as claims
TEXTBOOK = [
    ("mean((W @ X - Y) ** 2)", "W", {"W": ("H", "m"), "X": ("m", "n"), "Y": ("H", "n")},
     "2 * (W @ X - Y) @ X.T / sum(ones(H, n))", "proved"),
    ("mean((W @ X - Y) ** 2)", "W", {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "2 * (W @ X - Y) @ X.T / (2 * 4)",
     "proved"),
    ("mean((W @ X - Y) ** 2)", "W", {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "2 * (W @ X - Y) @ X.T / 4", "refuted"),
    ("norm(W @ X - Y)", "W", {"W": (2, 3), "X": (3, 2), "Y": (2, 2)}, "(W @ X - Y) @ X.T / norm(W @ X - Y)",
     "proved"),
    ("norm(W @ X - Y)", "W", {"W": (2, 3), "X": (3, 2), "Y": (2, 2)}, "(W @ X - Y) @ X.T", "refuted"),
    ("-sum(Y * log_softmax(X, axis=1))", "X", {"X": (2, 3), "Y": (2, 3)}, "softmax(X, axis=1) - Y", "refuted"),
    ("trace(diagflat(x) @ A)", "x", {"A": (3, 3), "x": (3, 1)}, "diag(A)", "proved"),
    ("sum(sqrt(X))", "X", {"X": (2, 2)}, "0.5 * X ** -0.5", "proved"),  # sqrt and ** 0.5: by SymPy
    ("sum(sqrt(X))", "X", {"X": (2, 2)}, "0.5 * X ** 0.5", "refuted"),
]


@pytest.mark.parametrize("expression, wrt, shapes, claim, status", TEXTBOOK)
def test_textbook_forms(expression, wrt, shapes, claim, status):
    verdict = symderiv.verify(expression, wrt=wrt, claim=claim, shapes=shapes)
    assert verdict.status == status, verdict.reason


def _fd_check(expression, wrt, shapes, rng):
    env = {n: rng.uniform(0.5, 1.5, size=s) for n, s in shapes.items()}
    node = parse(expression)
    value = evaluate(node, env)
    upstream = None if value.shape == (1, 1) else rng.normal(size=value.shape)
    g = symderiv.gradient(expression, wrt=wrt, shapes=shapes)
    assert g.proof_status == "proved", g.proof_reason
    got = evaluate(parse(g.formula, allow_upstream=True), {**env, **({} if upstream is None else {"G": upstream})})
    fd = finite_difference_gradient(node, wrt, env, upstream)
    assert np.allclose(np.broadcast_to(got, fd.shape), fd, atol=1e-5)


@pytest.mark.parametrize("wrt", ["Q", "K", "V"])
@pytest.mark.parametrize("scale", ["sqrt(d)", "8"])
def test_single_head_attention(wrt, scale):
    shapes = dict(ATTENTION_SHAPES) if scale == "sqrt(d)" else {k: v for k, v in ATTENTION_SHAPES.items() if k != "d"}
    _fd_check(ATTENTION.replace("sqrt(d)", scale), wrt, shapes, np.random.default_rng(3))


@pytest.mark.parametrize("expression", [LAYER_NORM, f"gamma * ({LAYER_NORM}) + beta"])
def test_layer_norm_over_rows(expression):
    shapes = {"X": (2, 3), "gamma": (1, 3), "beta": (1, 3)} if "gamma" in expression else {"X": (2, 3)}
    _fd_check(expression, "X", shapes, np.random.default_rng(5))
    if "gamma" in expression:
        _fd_check(expression, "gamma", shapes, np.random.default_rng(6))


def test_the_command_line_derives_and_verifies_the_new_operations():
    run = lambda *args: subprocess.run([sys.executable, "-m", "symderiv", *args],  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    proc = run("gradient", "-sum(Y * log_softmax(X, axis=1))", "--wrt", "X")
    assert proc.returncode == 0 and "softmax(X, axis=1) * sum(Y, axis=1) - Y" in proc.stdout, proc.stderr
    proc = run("verify", "X ** -0.5", "--wrt", "X", "--claim", "-0.5 * G * X ** -1.5", "--shape", "X=2,2")
    assert proc.returncode == 0 and proc.stdout.startswith("PROVED"), proc.stdout + proc.stderr
    proc = run("verify", "softmax(X, axis=1)", "--wrt", "X", "--claim", "softmax(X, axis=1) * G", "--shape", "X=2,3")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    proc = run("verify", "softmax(X)", "--wrt", "X", "--claim", "G")
    assert proc.returncode == 2 and "needs axis=" in proc.stderr and "hint" in proc.stderr


def test_check_backward_on_a_softmax_layer():
    from symderiv.testing import check_backward

    def softmax_rows(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def right(G, X):
        s = softmax_rows(X)
        return s * (G - (G * s).sum(axis=1, keepdims=True))

    def wrong_axis(G, X):
        s = softmax_rows(X)
        return s * (G - (G * s).sum(axis=0, keepdims=True))

    check_backward(right, "softmax(X, axis=1)", wrt="X", shapes={"X": (3, 4)})
    with pytest.raises(AssertionError):
        check_backward(wrong_axis, "softmax(X, axis=1)", wrt="X", shapes={"X": (3, 4)})
