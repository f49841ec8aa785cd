"""Exported code runs: every target's generated functions agree with the NumPy evaluator and finite differences.

The generated source is ours (printed from a derived gradient), so the tests ``exec`` it. NumPy runs always;
PyTorch and JAX run when installed (the ``frameworks`` extra) and are skipped, with the reason, otherwise; they
run in a subprocess (with tests/test_frameworks.py), so that the main test process never loads them.
"""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import cases

import symderiv
from symderiv.autodiff.backprop import to_code
from symderiv.backends.code import TARGETS
from symderiv.backends.numeric import evaluate, finite_difference_gradient
from symderiv.core.errors import SymderivError
from symderiv.docs import EXAMPLES
from symderiv.ops import elementwise as row_of
from symderiv.ops import language_functions, matrix_ops
from symderiv.ops.linalg import LOGABS

FRAMEWORKS_ENV = "SYMDERIV_FRAMEWORK_TESTS"
TESTS_DIR = Path(__file__).resolve().parent
#: torch and jax are imported only in the subprocess that tests/test_frameworks.py starts: a pytest process that
#: has loaded them is 1.3 GB larger, and the memory tests measure the peak RSS of their children, which inherit it.
IN_SUBPROCESS = os.environ.get(FRAMEWORKS_ENV) == "1"
torch = jax = jnp = None
TORCH_MISSING = JAX_MISSING = f"run in a subprocess by test_the_framework_tests_pass_in_a_subprocess ({FRAMEWORKS_ENV}=1)"
if IN_SUBPROCESS:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        TORCH_MISSING = f"torch is not installed (pip install '.[frameworks]'): {err}"
    try:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
    except ImportError as err:  # pragma: no cover - depends on the environment
        JAX_MISSING = f"jax is not installed (pip install '.[frameworks]'): {err}"


def _require(target: str) -> None:
    if target == "torch" and torch is None:
        pytest.skip(TORCH_MISSING)
    if target == "jax" and jax is None:
        pytest.skip(JAX_MISSING)
    if target == "numpy" and IN_SUBPROCESS:
        pytest.skip("NumPy targets run in the main test process")


def test_the_framework_tests_pass_in_a_subprocess():
    if IN_SUBPROCESS:
        pytest.skip("this is the subprocess")
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--hypothesis-profile=ci",
               str(TESTS_DIR / "test_frameworks.py"), str(TESTS_DIR / "test_code_export.py"), "-k", "torch or jax or test_frameworks"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=TESTS_DIR.parent,
                          env={**os.environ, FRAMEWORKS_ENV: "1"})
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    print(f"framework tests (torch, jax) in a subprocess: {summary}")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    if " passed" not in summary:
        pytest.skip("no framework test ran: " + done.stdout[-1500:])


def to_target(target: str, value: np.ndarray):
    if target == "torch":
        return torch.tensor(value, dtype=torch.float64)
    if target == "jax":
        return jnp.asarray(value, dtype=jnp.float64)
    return value


def stand_in(target: str, prime: bool):
    """The registry's stand-in for a generic function (phi = sin z + z/3), in the target's library."""
    lib = {"numpy": np, "torch": torch, "jax": jnp}[target]
    return (lambda z: lib.cos(z) + 1 / 3) if prime else (lambda z: lib.sin(z) + z / 3)


def call(fn, target: str, values: dict[str, np.ndarray]):
    """Call a generated function with its parameters by name (generic functions get the stand-in)."""
    args = []
    for name in inspect.signature(fn).parameters:
        if name in values:
            args.append(to_target(target, values[name]))
        else:
            args.append(stand_in(target, name.endswith("_prime")))
    out = fn(*args)
    outs = out if isinstance(out, tuple) else (out,)
    return [np.asarray(o.detach().numpy() if target == "torch" else o, dtype=float) for o in outs]


def _env(shapes: dict[str, tuple[int, int]], seed: int) -> dict[str, np.ndarray]:
    # Multiples of 1/8 away from 0, as tests/test_oracles.py: kinks are avoided.
    rng = np.random.default_rng(seed)
    return {n: rng.choice([-1, 1], s) * rng.integers(1, 9, s) / 8 for n, s in shapes.items()}


def check_export(text: str, wrt: list[str], shapes, target: str, *, functions=("phi",), seed: int = 0,
                 sizes: dict[str, int] | None = None, check: bool = False) -> str:
    """Export the gradients (and the forward function), run them, compare with NumPy and finite differences."""
    grads = symderiv.gradient(text, wrt=wrt, shapes=shapes, functions=functions, check=check)
    typing = grads[0].typing.substitute(sizes or grads[0].typing.assignments(1)[0])
    concrete = {n: (int(r), int(c)) for n, (r, c) in typing.symbols.items()}
    env = _env(concrete, seed)
    out_shape = tuple(int(d) for d in typing.shape_of(grads[0].source))
    upstream = None if grads[0].scalar else _env({"G": out_shape}, seed + 1)["G"]
    source = to_code(grads, target, forward=True)
    namespace: dict = {}
    exec(compile(source, f"<symderiv {target} export>", "exec"), namespace)  # noqa: S102 - our generated code
    values = dict(env, **({} if upstream is None else {"G": upstream}))
    dims = {k: v for k, v in typing.sizes.items()}
    (forward,) = call(namespace["forward"], target, env)
    expected = evaluate(grads[0].source, env, sizes=dims)
    assert forward.shape == expected.shape and np.allclose(forward, expected, rtol=1e-7, atol=1e-9), (source, forward)
    got = call(namespace["grad_" + "_".join(wrt)], target, values)
    assert len(got) == len(grads)
    for g, value in zip(grads, got, strict=True):
        reference = evaluate(g.expr, values, sizes=dims)
        assert value.shape == reference.shape, (source, g.wrt, value.shape, reference.shape)
        assert np.allclose(value, reference, rtol=1e-7, atol=1e-9), (source, g.wrt, value, reference)
        fd = finite_difference_gradient(g.source, g.wrt, env, upstream, sizes=dims)
        assert np.allclose(value, fd, rtol=1e-4, atol=1e-5), (source, g.wrt, value, fd)
    return source


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.stem)
def test_every_docs_example_exports_and_runs(example, target):
    _require(target)
    names = list(example.wrt) if isinstance(example.wrt, tuple) else [example.wrt]  # layer_w_b: W and b
    check_export(example.expression, names, example.shapes, target, check=True)


MORE = [  # every primitive and registered operation, several wrt, 1×1 results and constants
    ("X @ W + b", ["W", "b"], {"b": (1, "M")}),
    ("sum(sigmoid(X), axis=1).T @ sum(X, axis=0).T + logdet(X) + trace(A @ inv(X))", ["X", "A"], None),
    ("det(X) * sum(softplus(X) / (2 + X ** 2))", ["X"], None),
    ("matpow(X, 3) - 2 * X.T @ X + eye(n)", ["X"], {"X": ("n", "n")}),
    ("a * exp(tanh(W)) + sin(W) * cos(W) - tan(W / 8) + sqrt(W * W + 1) + log(W * W + 1)", ["a", "W"], {"a": (1, 1)}),
    ("abs(W) + relu(W) + phi(W) + ones(n, m) * 3 + zeros(n, m)", ["W"], {"W": ("n", "m")}),
    ("trace(x.T @ x)", ["x"], {"x": ("n", 1)}),
    ("-(W ** 3) + (-W) ** 2 + W ** -1 - W / (1 + W * W)", ["W"], None),
]


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize(("text", "wrt", "shapes"), MORE, ids=[m[0][:30] for m in MORE])
def test_operations_export_and_run(text, wrt, shapes, target):
    _require(target)
    check_export(text, wrt, shapes, target)


RANDOM = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_random_expressions_export_and_run(target):
    _require(target)

    @RANDOM
    @given(cases(max_depth=3), st.integers(0, 2**16))
    def run(case, seed):
        try:
            symderiv.gradient(case.text, wrt=case.wrt, shapes=case.shapes, functions=case.functions, check=False)
        except SymderivError:
            raise AssertionError(f"strategy produced a bad case: {case.text}") from None
        check_export(case.text, [case.wrt], case.shapes, target, seed=seed, sizes={})

    run()


def test_library_idioms():
    affine = to_code(symderiv.gradient("W @ X + b", wrt=["W", "b"], shapes={"b": ("H", 1)}), "numpy")
    assert "def grad_W_b(G, W, X, b):" in affine and "return G @ X.T, G.sum(axis=1, keepdims=True)" in affine
    assert "np.linalg.slogdet(X)[1]" in symderiv.gradient("logdet(X) + trace(X)", wrt="X").to_code(forward=True)
    assert "torch.linalg.inv(X)" in symderiv.gradient("logdet(X)", wrt="X").to_code("torch")
    assert "jax.nn.sigmoid(W @ X)" in symderiv.gradient("sigmoid(W @ X)", wrt="W").to_code("jax")
    assert "keepdim=True" in symderiv.gradient("X @ W + b", wrt="b", shapes={"b": (1, "M")}).to_code("torch")


def test_repeated_subexpressions_are_computed_once():
    code = symderiv.gradient("sigmoid(W @ X)", wrt="W").to_code("numpy")
    assert code.count("np.exp") == 1, code
    assert "t1 = 1 / (1 + np.exp(-(W @ X)))" in code


def test_names_that_are_python_keywords_or_modules_are_renamed():
    code = symderiv.gradient("np @ lambda_", wrt="np").to_code("numpy")
    assert "def grad_np_(G, np_, lambda_):" in code and "return G @ lambda_.T" in code


def test_every_row_and_operation_has_code_for_every_target():
    for name in [*language_functions(), LOGABS.name]:
        row = row_of(name)
        for target in TARGETS:
            template = row.code.get(target)
            assert template is not None, f"{name} has no {target} code (add code= to its row in symderiv/ops)"
            tree = ast.parse(template.replace("{}", "z"), mode="eval").body
            # an atom: a call, or a bracketed expression, so that it needs no brackets where it is used
            assert isinstance(tree, ast.Call) or template.startswith("("), (name, target, template)
    for op in matrix_ops().values():
        for target, template in op.code.items():
            assert target in TARGETS and isinstance(ast.parse(template.replace("{0}", "A").replace("{k}", "2"),
                                                              mode="eval").body, ast.Subscript | ast.Call)


def test_an_operation_without_a_template_exports_its_expansion(monkeypatch):
    from dataclasses import replace

    from symderiv import ops

    monkeypatch.setitem(ops._MATRIX_OPS, "matpow", replace(ops.matrix_op("matpow"), code={}))
    source = check_export("matpow(X, 3)", ["X"], None, "numpy")
    assert "matrix_power" not in source and "X @ X @ X" in source


def test_cli_emits_runnable_code_in_wrt_order():
    result = subprocess.run([sys.executable, "-m", "symderiv", "gradient", "W @ X + b", "--wrt", "b", "--wrt", "W",
                             "--shape", "b=H,1", "--emit", "numpy", "--forward"],
                            capture_output=True, text=True, timeout=120, check=True)
    namespace: dict = {}
    exec(result.stdout, namespace)  # noqa: S102 - our generated code
    W, X, b, G = np.ones((2, 3)), np.arange(12.0).reshape(3, 4), np.ones((2, 1)), np.arange(8.0).reshape(2, 4)
    assert np.allclose(namespace["forward"](W, X, b), W @ X + b)
    grad_b, grad_W = namespace["grad_b_W"](G, W, X, b)
    assert np.allclose(grad_b, G.sum(axis=1, keepdims=True)) and np.allclose(grad_W, G @ X.T)


def test_cli_forward_needs_emit():
    result = subprocess.run([sys.executable, "-m", "symderiv", "gradient", "W @ X", "--wrt", "W", "--forward"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--forward goes with --emit" in result.stderr
