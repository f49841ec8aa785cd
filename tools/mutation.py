"""Single-point mutation testing of the modules whose bugs become false proofs or wrong formulas.

Each mutant changes one spot of one module -- an operator swapped (``+``/``-``, ``<``/``<=``, ``==``/``!=``,
``and``/``or``, ...), a constant changed (``n`` → ``n + 1``, ``True``/``False``), a condition negated, a
returned value replaced by ``None`` -- in a private copy of the tree. The module's test subset then runs
(``pytest -x``, fixed-seed profile, with a timeout). A mutant is *killed* when a test fails, *timeout* when the
run exceeds its time (counted as detected), and *survived* when every test passes: then either a test is
missing or the mutant is equivalent (see CONTRIBUTING.md, "Mutation testing").

    python tools/mutation.py --sample 40 --seed 1      # what CI runs: a fixed sample, a few minutes
    python tools/mutation.py --module prover.py        # every mutant of one module
    python tools/mutation.py --list                    # count the mutants per module, run nothing

It is self-contained (``ast`` only) rather than mutmut: mutmut 3 rewrites every function of the package into
trampolines in a copy under ``mutants/`` and drives the whole suite through its own hooks, which cannot
sample a fixed-size subset within CI's minutes. ``[tool.mutmut]`` in pyproject.toml configures the same
modules for a full, unbounded ``mutmut run`` as well.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILLERS = "tests/test_mutation_killers.py"
VERDICT = [KILLERS, "tests/test_mutants_verdict.py", "tests/test_verdicts.py", "tests/test_witness.py",
           "tests/test_verify.py", "tests/test_randomized.py", "tests/test_soundness.py"]
RANDOM = [KILLERS, "tests/test_mutants_random.py", "tests/test_randomized.py", "tests/test_random_hostile.py",
          "tests/test_random_bound.py", "tests/test_random_real.py", "tests/test_verify.py"]
ALGEBRA = [KILLERS, "tests/test_mutants_algebra.py", "tests/test_algebra_speed.py", "tests/test_cost_model.py",
           "tests/test_verify.py", "tests/test_soundness.py"]
RULES = [KILLERS, "tests/test_mutants_algebra.py", "tests/test_rules.py", "tests/test_gradient.py",
         "tests/test_printing.py"]
LANGUAGE = [KILLERS, "tests/test_mutants_language.py", "tests/test_language.py", "tests/test_literals.py",
            "tests/test_verify.py"]
REGISTRY = [KILLERS, "tests/test_architecture.py", "tests/test_rules.py", "tests/test_gradient.py",
            "tests/test_verify.py", "tests/test_soundness.py"]
#: The configured modules, each with the tests that run against its mutants (fastest-killing first); test files
#: that do not exist (yet) are left out of the command.
MODULES: dict[str, list[str]] = {
    **{m: VERDICT for m in ("proofs/verification.py", "proofs/exact/prover.py", "core/status.py", "proofs/exact/witness.py", "backends/numbers.py")},
    **{m: RANDOM for m in ("proofs/random/randomized.py", "backends/field.py", "proofs/random/random_bound.py", "proofs/random/random_confirm.py", "proofs/random/random_real.py",
                           "proofs/random/random_atoms.py", "proofs/random/random_eval.py")},
    **{m: ALGEBRA for m in ("proofs/exact/algebra.py", "proofs/exact/polynomial.py", "proofs/exact/linalg.py", "proofs/exact/inverse.py")},
    **{m: RULES for m in ("autodiff/rules.py", "autodiff/simplify.py")},
    **{m: LANGUAGE for m in ("syntax/language.py", "core/literals.py")},
    # The op registry: a wrong row reaches the gradient and the provers alike.
    **{m: REGISTRY for m in ("ops/elementwise.py", "ops/linalg.py", "syntax/derivatives.py", "backends/walk.py")},
}
#: Modules whose surviving mutants could turn into a wrong verdict: the goal there is none.
VERDICT_LOGIC = ("proofs/verification.py", "proofs/exact/prover.py", "core/status.py", "proofs/exact/witness.py", "backends/numbers.py", "proofs/random/randomized.py",
                 "proofs/random/random_confirm.py", "proofs/random/random_real.py", "backends/field.py", "proofs/random/random_bound.py",
                 "ops/elementwise.py", "ops/linalg.py", "syntax/derivatives.py")

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
           ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}
_CMPOPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
           ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # the index-th mutation site of the module, in ast.walk order
    line: int
    description: str

    @property
    def name(self) -> str:
        return f"{self.module}:{self.line}#{self.index}"


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Docstrings, f-strings, annotations and ``__all__``: mutating them only makes noise."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skip.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node))
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if annotation is not None:
                skip.update(id(n) for n in ast.walk(annotation))
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _sites(tree: ast.AST):
    """Yield (node, description, apply) for every mutation site; ``apply()`` mutates the node in place."""
    skip = _skipped_nodes(tree)
    for node in ast.walk(tree):
        if id(node) not in skip:
            yield from _node_sites(node)


def _node_sites(node: ast.AST):
    """The mutation sites of one node, in a fixed order (a mutant is named by its index)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        new = _BINOPS[type(node.op)]
        yield node, f"{type(node.op).__name__} → {new.__name__}", lambda n=node, new=new: setattr(n, "op", new())
    elif isinstance(node, ast.Compare):
        yield from _compare_sites(node)
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield node, f"{type(node.op).__name__} → {new.__name__}", lambda n=node, new=new: setattr(n, "op", new())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield node, "`not x` → `x`", lambda n=node: setattr(n, "op", ast.UAdd())
    elif isinstance(node, ast.Constant) and type(node.value) in (int, bool):
        if isinstance(node.value, bool):
            yield node, f"{node.value} → {not node.value}", lambda n=node: setattr(n, "value", not n.value)
        else:
            yield node, f"{node.value} → {node.value + 1}", lambda n=node: setattr(n, "value", n.value + 1)
    elif isinstance(node, (ast.If, ast.While)):
        yield node, "condition negated", lambda n=node: setattr(n, "test", ast.UnaryOp(ast.Not(), n.test))
    elif isinstance(node, ast.Return) and node.value is not None and \
            not (isinstance(node.value, ast.Constant) and node.value.value is None):
        yield node, "returns None", lambda n=node: setattr(n, "value", ast.Constant(None))


def _compare_sites(node: ast.Compare):
    for k, op in enumerate(node.ops):
        if type(op) in _CMPOPS:
            new = _CMPOPS[type(op)]

            def swap(n=node, k=k, new=new):
                n.ops[k] = new()
            yield node, f"{type(op).__name__} → {new.__name__}", swap


def mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / "symderiv" / module).read_text(encoding="utf-8"))
    return [Mutant(module, i, getattr(node, "lineno", 0), description)
            for i, (node, description, _) in enumerate(_sites(tree))]


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / "symderiv" / mutant.module).read_text(encoding="utf-8"))
    for i, (_, _, apply) in enumerate(_sites(tree)):
        if i == mutant.index:
            apply()
            break
    return ast.unparse(ast.fix_missing_locations(copy.deepcopy(tree)))


def _copy_tree(dest: Path) -> None:
    for name in ("symderiv", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def run_tests(root: Path, module: str, timeout: float) -> tuple[str, float]:
    """'killed' / 'survived' / 'timeout' for the tree at ``root``, and the seconds it took."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=ci",
           "--doctest-modules", f"symderiv/{module}", *[t for t in MODULES[module] if (ROOT / t).exists()]]
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start
    if proc.returncode in (4, 5):  # a usage error or no test collected says nothing about the mutant
        sys.exit(f"mutation: pytest could not run the tests of {module}: {proc.stdout[-500:]!r}")
    return ("survived" if proc.returncode == 0 else "killed"), time.monotonic() - start


def _run_one(mutant: Mutant, timeout: float) -> tuple[Mutant, str, float]:
    with tempfile.TemporaryDirectory(prefix="symderiv-mutant-") as tmp:
        root = Path(tmp)
        _copy_tree(root)
        (root / "symderiv" / mutant.module).write_text(mutated_source(mutant), encoding="utf-8")
        status, seconds = run_tests(root, mutant.module, timeout)
    return mutant, status, seconds


def _baseline(modules: list[str]) -> dict[str, float]:
    """Each module's test subset on the unmutated (but ast-unparsed) tree: it must pass; its time sets timeouts."""
    times = {}
    with tempfile.TemporaryDirectory(prefix="symderiv-baseline-") as tmp:
        root = Path(tmp)
        _copy_tree(root)
        probe = subprocess.run([sys.executable, "-c", "import symderiv; print(symderiv.__file__)"], cwd=root,
                               env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True)
        if not probe.stdout.strip().startswith(str(root)):
            sys.exit(f"mutation: the copy's symderiv is not the one imported ({probe.stdout.strip()})")
        for module in modules:
            path = root / "symderiv" / module
            path.write_text(ast.unparse(ast.parse(path.read_text(encoding="utf-8"))), encoding="utf-8")
            status, seconds = run_tests(root, module, 900)
            if status != "survived":
                sys.exit(f"mutation: the tests of {module} fail without any mutant ({status}); fix them first")
            times[module] = seconds
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules")
    parser.add_argument("--sample", type=int, help="run a fixed-size random sample of the mutants")
    parser.add_argument("--seed", type=int, default=1, help="the sample's seed (default 1)")
    parser.add_argument("--time-limit", type=float, default=3600, help="start no mutant after this many seconds")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--fail-under", type=float, default=0, help="exit 1 when the score (%%) is below this")
    parser.add_argument("--list", action="store_true", help="count the mutants per module and stop")
    args = parser.parse_args(argv)
    modules = args.module or list(MODULES)
    everything = [m for module in modules for m in mutants(module)]
    if args.list:
        for module in modules:
            print(f"{module:18} {sum(m.module == module for m in everything):5} mutants")
        print(f"{'total':18} {len(everything):5}")
        return 0
    chosen = sorted(random.Random(args.seed).sample(everything, min(args.sample, len(everything)))
                    if args.sample else everything, key=lambda m: (m.module, m.index))
    start = time.monotonic()
    baseline = _baseline(sorted({m.module for m in chosen}))
    print("mutation: baseline " + ", ".join(f"{k} {v:.0f} s" for k, v in baseline.items()), flush=True)
    results: list[tuple[Mutant, str, float]] = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        pending = {}
        queue = list(chosen)
        while queue or pending:
            while queue and len(pending) < args.jobs and time.monotonic() - start < args.time_limit:
                m = queue.pop(0)
                pending[pool.submit(_run_one, m, 3 * baseline[m.module] + 20)] = m
            if not pending:
                break
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                del pending[future]
                mutant, status, seconds = future.result()
                results.append((mutant, status, seconds))
                print(f"  {status:8} {seconds:5.1f} s  {mutant.name}  {mutant.description}", flush=True)
    killed = sum(s == "killed" for _, s, _ in results)
    timeouts = sum(s == "timeout" for _, s, _ in results)
    survivors = sorted((m for m, s, _ in results if s == "survived"), key=lambda m: (m.module, m.line))
    score = 100 * (killed + timeouts) / len(results) if results else 0.0
    print(f"\nmutation: {len(results)} of {len(chosen)} mutants run ({len(everything)} in the modules), "
          f"{killed} killed, {timeouts} timed out, {len(survivors)} survived: score {score:.1f}% "
          f"in {time.monotonic() - start:.0f} s" + (f" (sample {args.sample}, seed {args.seed})" if args.sample else ""))
    for m in survivors:
        source = (ROOT / "symderiv" / m.module).read_text(encoding="utf-8").splitlines()
        line = source[m.line - 1].strip() if 0 < m.line <= len(source) else ""
        flag = "  [verdict logic]" if m.module in VERDICT_LOGIC else ""
        print(f"  SURVIVED {m.name}: {m.description}{flag}\n      {line}")
    if len(results) < len(chosen):
        print(f"  {len(chosen) - len(results)} mutants not run: the time limit was reached")
    return 1 if score < args.fail_under else 0


if __name__ == "__main__":
    sys.exit(main())
