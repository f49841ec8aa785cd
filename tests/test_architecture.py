"""The architecture, enforced: layers that import downward only, no import cycles, no imports hidden in
functions, short modules; and a registry whose every entry is complete (docs/architecture.md).

The import graph is read from the source with :mod:`ast` (nothing is imported). An edge is an ``import`` or
``from ... import`` of a symderiv module anywhere in a module (in functions too; not under
``if TYPE_CHECKING:``), and, for the layer check only, a deliberate lazy load by name:
``importlib.import_module("symderiv.x")`` or the command line's ``api("x")`` (``symderiv.cli.registry``).
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "symderiv"

#: The layers, lowest first: a module may import its own layer and the layers below it.
#: explain/ and render/ are one layer (render reads explain's step data; the cycle check keeps them apart).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",), ("ops",), ("syntax",), ("backends",), ("autodiff",), ("proofs",), ("explain", "render"),
    ("testing",), ("cli", "web"), ("__init__", "__main__", "api", "docs", "cookbook", "demo", "pytest_plugin"),
)
#: Heavy libraries that may be imported inside a function, so that importing symderiv (and ``symderiv --help``)
#: stays fast: tests/test_performance_contract.py checks that the command line starts without them.
LAZY_LIBRARIES = {"sympy", "numpy", "mpmath", "flint", "latex2mathml"}
MAX_LINES = 400


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    lines: int
    imports: set[str] = field(default_factory=set)  # import statements (the cycle and layer checks)
    lazy: set[str] = field(default_factory=set)  # loads by name (the layer check)
    in_functions: list[tuple[int, str]] = field(default_factory=list)  # (line, what) of imports in functions


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse() -> dict[str, Module]:
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        modules[_name(path)] = Module(_name(path), path, ast.parse(source), len(source.splitlines()))
    for module in modules.values():
        _collect(module, modules)
    return modules


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _targets(module: Module, node: ast.Import | ast.ImportFrom, known: dict[str, Module]) -> list[str]:
    """The symderiv modules an import statement loads (``from symderiv import ops`` loads symderiv.ops)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    base = node.module or ""
    if node.level:
        package = module.name.split(".") if module.path.name == "__init__.py" else module.name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    out = []
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            out.append(f"{base}.{alias.name}")
        elif base in known:
            out.append(base)
    return out


def _lazy_target(node: ast.Call) -> str | None:
    """``symderiv.x`` for ``importlib.import_module("symderiv.x")`` or ``api("x")``, else None."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
        return None
    text = node.args[0].value
    if name == "import_module" and (text == "symderiv" or text.startswith("symderiv.")):
        return text
    if name == "api":
        return f"symderiv.{text}"
    return None


def _collect(module: Module, known: dict[str, Module]) -> None:
    skip = _type_checking_nodes(module.tree)
    functions = [n for n in ast.walk(module.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
            module.imports.update(t for t in _targets(module, node, known) if t != module.name)
            if id(node) in nested and not _lazy_library(node):
                module.in_functions.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Call) and (target := _lazy_target(node)) is not None:
            module.lazy.add(target)


def _lazy_library(node: ast.Import | ast.ImportFrom) -> bool:
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return not getattr(node, "level", 0) and all(n.split(".")[0] in LAZY_LIBRARIES for n in names)


def layer(name: str) -> int | None:
    """The index of a module's layer in :data:`LAYERS` (None: a module no layer names)."""
    parts = name.split(".")
    first = parts[1] if len(parts) > 1 else "__init__"
    for i, members in enumerate(LAYERS):
        if first in members:
            return i
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


MODULES = _parse()


def test_every_module_belongs_to_a_layer():
    assert [m for m in MODULES if layer(m) is None] == []


def test_no_import_cycles():
    cycles = _cycles({m.name: m.imports for m in MODULES.values()})
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_upward_imports():
    upward = []
    for m in MODULES.values():
        for target in sorted(m.imports | m.lazy):
            mine, theirs = layer(m.name), layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{m.name} ({'/'.join(LAYERS[mine])}) imports {target} ({'/'.join(LAYERS[theirs])})")
    assert upward == [], "imports of a higher layer:\n" + "\n".join(upward)


def test_no_imports_inside_functions():
    found = [f"{m.path.relative_to(ROOT.parent)}:{line}: {what}"
             for m in MODULES.values() for line, what in m.in_functions]
    assert found == [], (f"{len(found)} imports inside functions (only {', '.join(sorted(LAZY_LIBRARIES))} may be "
                         "imported lazily; load a module by name with importlib where start-up time needs it):\n"
                         + "\n".join(found))


def test_modules_are_short():
    long = [f"{m.path.relative_to(ROOT.parent)}: {m.lines} lines" for m in MODULES.values() if m.lines > MAX_LINES]
    assert long == [], f"modules over {MAX_LINES} lines:\n" + "\n".join(long)


def test_the_checks_see_what_they_check():
    """The parser of this file finds a known edge, a known lazy load and the layers' order."""
    assert "symderiv.core.expr" in MODULES["symderiv.ops.base"].imports
    assert "symderiv.proofs.verification" in MODULES["symderiv.cli.verify"].lazy
    assert layer("symderiv.core.expr") < layer("symderiv.ops") < layer("symderiv.cli.registry") < layer("symderiv")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# --------------------------------------------------------------------------
# The registry: every entry complete, its pieces consistent with each other


def _rows():
    from symderiv import ops
    from symderiv.ops.elementwise import generic

    builtin = [ops.elementwise(name) for name in sorted(ops._ELEMENTWISE)]  # the table, internal rows included
    return builtin + [generic("phi"), generic("phi_prime")]


def _points(row) -> list[float]:
    """Arguments inside the row's domain, off its kink and its poles."""
    if row.domain == "positive":
        return [0.35, 1.7, 4.2]
    return [-1.3, -0.4, 0.6, 1.1]


ROWS = _rows()


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_every_elementwise_row_is_complete(row):
    from symderiv.syntax.derivatives import derivative_tree

    assert row.description, "a description for hints and docs"
    assert row.numpy is not None and row.mpmath is not None, "a NumPy and an mpmath value"
    assert row.latex or row.generic, "LaTeX"
    if row.derivative is None:
        assert row.not_differentiable, "a derivative, or why there is none"
    else:
        assert set(derivative_tree(row.name).symbols()) <= {"z", "y"}, "the derivative is over z and y only"
    if row.mask is not None:
        assert row.mask_numpy and row.mask in {r.name for r in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_numpy_mpmath_and_the_derivative_agree(row):
    import mpmath
    import numpy as np

    from symderiv.backends.numeric import evaluate
    from symderiv.syntax.derivatives import derivative_tree

    for x in _points(row):
        value = float(row.numpy(np, np.array(x)))
        assert value == pytest.approx(float(row.mpmath(mpmath, mpmath.mpf(x))), rel=1e-12, abs=1e-12)
        if row.derivative is None:
            continue
        h = 1e-6
        slope = (float(row.numpy(np, np.array(x + h))) - float(row.numpy(np, np.array(x - h)))) / (2 * h)
        env = {"z": np.array([[x]]), "y": np.array([[value]])}
        assert float(np.asarray(evaluate(derivative_tree(row.name), env)).reshape(-1)[0]) == \
            pytest.approx(slope, rel=1e-5, abs=1e-6)


def _ops():
    from symderiv import ops

    return [ops.matrix_op(name) for name in sorted(ops.matrix_ops())]


OPS = _ops()


@pytest.mark.parametrize("op", OPS, ids=[o.name for o in OPS])
def test_every_matrix_op_is_complete(op):
    for piece in ("shape", "expand", "vjp", "latex"):
        assert callable(getattr(op, piece)), piece
    assert op.noun and op.description and op.arity >= 1
    assert op.index in ("lemma", "expand")
    assert all(p.lo <= p.hi for p in op.params)


def _param_values(op) -> list[dict[str, int]]:
    choices = [sorted({p.lo, min(p.lo + 1, p.hi), min(p.lo + 3, p.hi)}) for p in op.params]
    combos: list[dict[str, int]] = [{}]
    for p, values in zip(op.params, choices, strict=True):
        combos = [{**c, p.name: v} for c in combos for v in values]
    return combos


@pytest.mark.parametrize("op", [o for o in OPS if o.numpy is not None],
                         ids=[o.name for o in OPS if o.numpy is not None])
def test_the_expansion_and_the_numpy_override_agree(op):
    import numpy as np

    from symderiv.backends.numeric import evaluate
    from symderiv.core import expr as ex

    rng = random.Random(13)
    n = 3
    names = [f"A{i}" for i in range(op.arity)]
    args = [ex.Symbol(name) for name in names]
    cols = n if _takes_square(op, n) else 1  # diagflat takes a column
    for params in _param_values(op):
        for _ in range(5):
            values = [np.array([[rng.uniform(-2, 2) for _ in range(cols)] for _ in range(n)]) for _ in names]
            expansion = op.expand(args, [(n, cols)] * op.arity, params)
            with np.errstate(invalid="ignore"):
                expected = np.asarray(evaluate(expansion, dict(zip(names, values, strict=True))), dtype=float)
            if np.isnan(expected).any():  # outside the domain (a non-integer power): compare at positive entries
                values = [np.abs(v) + 0.1 for v in values]
                expected = np.asarray(evaluate(expansion, dict(zip(names, values, strict=True))), dtype=float)
            got = np.asarray(op.numpy(np, values, params), dtype=float)
            scale = max(1.0, float(np.max(np.abs(expected))))
            assert np.allclose(got.reshape(expected.shape), expected, rtol=1e-9, atol=1e-9 * scale), \
                (op.name, params)


def _takes_square(op, n: int) -> bool:
    """Whether the op's shape rule accepts square n×n arguments (a rule that refuses what is not square)."""

    class Strict:
        def square(self, shape, what):
            if shape[0] != shape[1]:
                raise ValueError(what)
            return shape[0]

        def column(self, shape, what):
            if shape[1] != 1:
                raise ValueError(what)
            return shape[0]

    try:
        op.shape(Strict(), [(n, n)] * op.arity, {p.name: p.lo for p in op.params})
    except ValueError:
        return False
    return True


def test_parameter_choices_cover_the_range():
    """A sanity check of the helper above (matpow's k from its lower bound)."""
    from symderiv.ops.base import Param

    @dataclass
    class Fake:
        params: tuple[Param, ...]

    combos = _param_values(Fake((Param("k", 0, 10),)))
    assert [c["k"] for c in combos] == [0, 1, 3]
