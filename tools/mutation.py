"""Single-point mutation testing of the modules whose bugs become false proofs or wrong formulas.

Each mutant changes one spot of one module -- an operator swapped (``+``/``-``, ``<``/``<=``, ``==``/``!=``,
``and``/``or``, ...), a constant changed (``n`` → ``n + 1``, ``True``/``False``), a condition negated, a
returned value replaced by ``None`` -- in a private copy of the tree. The module's test subset then runs
(``pytest -x``, fixed-seed profile, with a timeout). A mutant is *killed* when a test fails, *timeout* when the
run exceeds its time (counted as detected), and *survived* when every test passes: then either a test is
missing or the mutant is equivalent (see CONTRIBUTING.md, "Mutation testing").

    python tools/mutation.py --sample 40 --seed 1      # what CI runs: a fixed sample, a few minutes
    python tools/mutation.py --module proofs/exact/prover.py   # every mutant of one module
    python tools/mutation.py --list                    # count the mutants per module, run nothing
    python tools/mutation.py --only random_real.py:150 # the mutants of one line (or PATH:LINE#INDEX: one mutant)
    python tools/mutation.py --only random_real.py:150 --tests tests/test_mutants_survivors.py   # against one file

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
import functools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILLERS = "tests/test_mutation_killers.py"
#: Named tests for the survivors of the sampled runs (every module group runs them: they take seconds).
SURVIVORS = ["tests/test_mutants_survivors.py", "tests/test_mutants_fresh.py"]
VERDICT = [KILLERS, *SURVIVORS, "tests/test_mutants_verdict.py", "tests/test_verdicts.py", "tests/test_witness.py",
           "tests/test_verify.py", "tests/test_randomized.py", "tests/test_soundness.py"]
RANDOM = [KILLERS, *SURVIVORS, "tests/test_mutants_random.py", "tests/test_randomized.py", "tests/test_random_hostile.py",
          "tests/test_random_bound.py", "tests/test_random_real.py", "tests/test_verify.py"]
ALGEBRA = [KILLERS, *SURVIVORS, "tests/test_mutants_algebra.py", "tests/test_algebra_speed.py", "tests/test_cost_model.py",
           "tests/test_verify.py", "tests/test_soundness.py"]
RULES = [KILLERS, *SURVIVORS, "tests/test_mutants_algebra.py", "tests/test_rules.py", "tests/test_gradient.py",
         "tests/test_printing.py", "tests/test_simplify_canonical.py", "tests/test_softmax_recognise.py"]
LANGUAGE = [KILLERS, *SURVIVORS, "tests/test_mutants_language.py", "tests/test_language.py", "tests/test_literals.py",
            "tests/test_verify.py"]
REGISTRY = [KILLERS, *SURVIVORS, "tests/test_architecture.py", "tests/test_rules.py", "tests/test_gradient.py",
            "tests/test_verify.py", "tests/test_soundness.py"]
#: The configured modules, each with the tests that run against its mutants (fastest-killing first); test files
#: that do not exist (yet) are left out of the command.
MODULES: dict[str, list[str]] = {
    **{m: VERDICT for m in ("proofs/verification.py", "proofs/exact/prover.py", "core/status.py", "proofs/exact/witness.py",
                           "proofs/exact/domain.py", "backends/numbers.py")},
    **{m: RANDOM for m in ("proofs/random/randomized.py", "backends/field.py", "proofs/random/random_bound.py", "proofs/random/random_confirm.py", "proofs/random/random_real.py",
                           "proofs/random/random_atoms.py", "proofs/random/random_eval.py")},
    **{m: ALGEBRA for m in ("proofs/exact/algebra.py", "proofs/exact/polynomial.py", "proofs/exact/linalg.py", "proofs/exact/inverse.py")},
    **{m: RULES for m in ("autodiff/rules.py", "autodiff/simplify.py")},
    **{m: LANGUAGE for m in ("syntax/language.py", "core/literals.py")},
    # The op registry: a wrong row reaches the gradient and the provers alike.
    **{m: REGISTRY for m in ("ops/elementwise.py", "ops/linalg.py", "syntax/derivatives.py", "backends/walk.py")},
}
#: Seconds past ``--time-limit`` after which the mutants still running are stopped (and not counted).
GRACE = 60
#: ``--tests``: the test files that replace a module's subset for this run (to check one new test against a mutant).
TESTS: dict[str, list[str]] = {}
#: Modules whose surviving mutants could turn into a wrong verdict: the goal there is none.
VERDICT_LOGIC = ("proofs/verification.py", "proofs/exact/prover.py", "core/status.py", "proofs/exact/witness.py",
                 "proofs/exact/domain.py", "backends/numbers.py", "proofs/random/randomized.py",
                 "proofs/random/random_confirm.py", "proofs/random/random_real.py", "backends/field.py", "proofs/random/random_bound.py",
                 "ops/elementwise.py", "ops/linalg.py", "syntax/derivatives.py")

#: Equivalent mutants (tools/equivalent_mutants.json): no input tells them from the original, so no test can
#: kill them. Each entry is the module, the stripped source line, the mutation as the tool prints it, and why no
#: input tells them apart; the tool leaves them out of every run and sample, and warns (tests/test_mutants_tool.py
#: fails) when an entry matches no mutant any more (the line changed: look at it again). Prefer a test, or removing
#: dead code, to an entry there (CONTRIBUTING.md, "Mutation testing").
EQUIVALENT: list[tuple[str, str, str, str]] = [
    (e["module"], e["line"], e["mutation"], e["reason"])
    for e in json.loads((ROOT / "tools" / "equivalent_mutants.json").read_text(encoding="utf-8"))]

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


#: ``# pragma: no mutate - <why no test can observe the exact value>``: mutmut's marker, which this tool honours
#: too, for tuning constants (a search's scales, an attempt count, a self-check's seed) whose every nearby value
#: is as correct. The reason is required; tests/test_mutants_tool.py bounds how many lines carry it.
PRAGMA = re.compile(r"#\s*pragma:\s*no mutate\b(?:\s*-\s*(?P<reason>.*))?")


def pragma_lines(module: str) -> dict[int, str]:
    """The lines of ``module`` marked ``# pragma: no mutate``, each with its reason ('' when it gives none)."""
    found = {}
    for number, text in enumerate(_source(module), start=1):
        match = PRAGMA.search(text)
        if match:
            found[number] = (match.group("reason") or "").strip()
    return found


def _skipped_nodes(tree: ast.AST) -> set[int]:
    """Docstrings, f-strings, annotations, ``__all__``, ``assert`` statements, ``zip(..., strict=True)`` and
    ``if TYPE_CHECKING:`` blocks: mutating them only makes noise.

    (An ``assert`` states an invariant for the type checker: weakened, it still holds; broken, it fails at
    once. Neither says anything about the tests. ``strict=True`` is the same kind of guard: the lengths agree
    wherever the code is right, and ``strict=False`` computes the same.)"""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "zip":
            skip.update(id(k.value) for k in node.keywords if k.arg == "strict")
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skip.update(id(n) for n in ast.walk(node))  # imports for the type checker only
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skip.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, (ast.JoinedStr, ast.Assert)):
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


def mutants(module: str, *, pragmas: bool = False) -> list[Mutant]:
    """The mutants of ``module``, without those on ``# pragma: no mutate`` lines (only those, with ``pragmas``)."""
    tree = ast.parse((ROOT / "symderiv" / module).read_text(encoding="utf-8"))
    marked = pragma_lines(module)
    return [Mutant(module, i, getattr(node, "lineno", 0), description)
            for i, (node, description, _) in enumerate(_sites(tree))
            if (getattr(node, "lineno", 0) in marked) == pragmas]


@functools.cache
def _source(module: str) -> list[str]:
    return (ROOT / "symderiv" / module).read_text(encoding="utf-8").splitlines()


def _line(mutant: Mutant) -> str:
    source = _source(mutant.module)
    return source[mutant.line - 1].strip() if 0 < mutant.line <= len(source) else ""


def equivalent(everything: list[Mutant]) -> tuple[dict[Mutant, str], list[tuple[str, str, str, str]]]:
    """The mutants of ``everything`` listed in :data:`EQUIVALENT` (with the reason), and the stale entries of
    the configured modules among them: those that match no mutant."""
    found: dict[Mutant, str] = {}
    used = set()
    for m in everything:
        for k, (module, line, description, reason) in enumerate(EQUIVALENT):
            if m.module == module and m.description == description and _line(m) == line:
                found[m] = reason
                used.add(k)
    modules = {m.module for m in everything}
    stale = [e for k, e in enumerate(EQUIVALENT) if k not in used and e[0] in modules]
    return found, stale


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


def _tests(module: str) -> list[str]:
    return [t for t in TESTS.get(module, MODULES[module]) if (ROOT / t).exists()]


def run_tests(root: Path, modules: list[str], timeout: float) -> tuple[str, float]:
    """'killed' / 'survived' / 'timeout' for the tree at ``root`` under the doctests of ``modules`` and their test
    subset (the same for all of them), and the seconds it took."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-profile=ci",
           "--doctest-modules", *[f"symderiv/{m}" for m in modules], *_tests(modules[0])]
    env = {**os.environ, "CI": "true", "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start
    if proc.returncode in (4, 5):  # a usage error or no test collected says nothing about the mutant
        sys.exit(f"mutation: pytest could not run the tests of {modules}: {proc.stdout[-500:]!r}")
    return ("survived" if proc.returncode == 0 else "killed"), time.monotonic() - start


def _run_one(mutant: Mutant, timeout: float, capped: bool = False) -> tuple[Mutant, str, float]:
    """Its fate; a run stopped by the end of the whole run (``capped``) is 'unfinished', not a timeout."""
    with tempfile.TemporaryDirectory(prefix="symderiv-mutant-") as tmp:
        root = Path(tmp)
        _copy_tree(root)
        (root / "symderiv" / mutant.module).write_text(mutated_source(mutant), encoding="utf-8")
        status, seconds = run_tests(root, [mutant.module], timeout)
    return mutant, "unfinished" if capped and status == "timeout" else status, seconds


def _baseline(modules: list[str], jobs: int) -> dict[str, float]:
    """The test subsets on the unmutated (but ast-unparsed) tree: they must pass; their times set the timeouts.

    Modules that share a subset are run together (with all their doctests), ``jobs`` subsets at a time, as the
    mutants are."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for module in modules:
        groups.setdefault(tuple(_tests(module)), []).append(module)
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
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            runs = {pool.submit(run_tests, root, group, 900): group for group in groups.values()}
            for future in concurrent.futures.as_completed(runs):
                status, seconds = future.result()
                if status != "survived":
                    sys.exit(f"mutation: the tests of {runs[future]} fail without any mutant ({status}); fix them first")
                times.update(dict.fromkeys(runs[future], seconds))
    return times


def _selected(mutant: Mutant, spec: str) -> bool:
    """Whether ``spec`` (``PATH:LINE`` or ``PATH:LINE#INDEX``; ``PATH`` a module or its file name) names ``mutant``.

    >>> m = Mutant("proofs/random/random_real.py", 57, 150, "condition negated")
    >>> [_selected(m, s) for s in ("random_real.py:150", "proofs/random/random_real.py:150#57", "random_real.py:150#5")]
    [True, True, False]
    """
    path, _, where = spec.rpartition(":")
    line, _, index = where.partition("#")
    return (mutant.module == path or mutant.module.endswith("/" + path)) and mutant.line == int(line) and \
        (not index or mutant.index == int(index))


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES), help="only these modules")
    parser.add_argument("--sample", type=int, help="run a fixed-size random sample of the mutants")
    parser.add_argument("--seed", type=int, default=1, help="the sample's seed (default 1)")
    parser.add_argument("--time-limit", type=float, default=3600,
                        help="start no mutant after this many seconds, and stop those still running 60 s later "
                             "(they count as not run)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    parser.add_argument("--fail-under", type=float, default=0, help="exit 1 when the score (%%) is below this")
    parser.add_argument("--list", action="store_true", help="count the mutants per module and stop")
    parser.add_argument("--only", action="append", metavar="PATH:LINE[#INDEX]",
                        help="only the mutants of this line (or this one mutant); PATH may be a file name alone")
    parser.add_argument("--tests", nargs="+", metavar="FILE",
                        help="run these test files instead of each module's subset (with --only: does a new test kill it?)")
    return parser.parse_args(argv)


def _candidates(args: argparse.Namespace) -> tuple[list[Mutant], dict[Mutant, str]]:
    """The mutants to sample from (``--module``, ``--only``), and the equivalent ones left out."""
    everything = [m for module in args.module or list(MODULES) for m in mutants(module)]
    excluded, stale = equivalent(everything)
    if stale and not args.only:  # tests/test_mutants_tool.py fails on them; the run goes on
        print("mutation: EQUIVALENT entries that match no mutant (their line changed; look again):\n" +
              "\n".join(f"  {module}: {description}: {line}" for module, line, description, _ in stale))
    everything = [m for m in everything if m not in excluded]
    if args.only:
        everything = [m for m in everything if any(_selected(m, spec) for spec in args.only)]
        if not everything:
            sys.exit(f"mutation: no mutant matches {args.only}")
    return everything, excluded


def _run(chosen: list[Mutant], jobs: int, time_limit: float, start: float) -> list[tuple[Mutant, str, float]]:
    baseline = _baseline(sorted({m.module for m in chosen}), jobs)
    print("mutation: baseline " + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(baseline.items())), flush=True)
    results: list[tuple[Mutant, str, float]] = []
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        pending = {}
        queue = list(chosen)
        while queue or pending:
            while queue and len(pending) < jobs and time.monotonic() - start < time_limit:
                m = queue.pop(0)
                timeout = 3 * baseline[m.module] + 20
                cap = start + time_limit + GRACE - time.monotonic()  # the run's own end
                pending[pool.submit(_run_one, m, min(timeout, cap), cap < timeout)] = m
            if not pending:
                break
            done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                del pending[future]
                mutant, status, seconds = future.result()
                results.append((mutant, status, seconds))
                print(f"  {status:8} {seconds:5.1f} s  {mutant.name}  {mutant.description}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.tests:
        TESTS.update({module: args.tests for module in MODULES})
    everything, excluded = _candidates(args)
    if args.list:
        for module in args.module or list(MODULES):
            print(f"{module:18} {sum(m.module == module for m in everything):5} mutants")
        marked = sum(len(mutants(module, pragmas=True)) for module in args.module or list(MODULES))
        print(f"{'total':18} {len(everything):5}   (and {len(excluded)} equivalent, left out: EQUIVALENT; "
              f"{marked} on tuning lines, left out: `# pragma: no mutate`)")
        return 0
    chosen = sorted(random.Random(args.seed).sample(everything, min(args.sample, len(everything)))
                    if args.sample else everything, key=lambda m: (m.module, m.index))
    start = time.monotonic()
    results = _run(chosen, args.jobs, args.time_limit, start)
    unfinished = sum(s == "unfinished" for _, s, _ in results)
    results = [r for r in results if r[1] != "unfinished"]
    killed = sum(s == "killed" for _, s, _ in results)
    timeouts = sum(s == "timeout" for _, s, _ in results)
    survivors = sorted((m for m, s, _ in results if s == "survived"), key=lambda m: (m.module, m.line))
    score = 100 * (killed + timeouts) / len(results) if results else 0.0
    print(f"\nmutation: {len(results)} of {len(chosen)} mutants run ({len(everything)} in the modules), "
          f"{killed} killed, {timeouts} timed out, {len(survivors)} survived: score {score:.1f}% "
          f"({len(excluded)} equivalent mutants left out) "
          f"in {time.monotonic() - start:.0f} s" + (f" (sample {args.sample}, seed {args.seed})" if args.sample else ""))
    for m in survivors:
        flag = "  [verdict logic]" if m.module in VERDICT_LOGIC else ""
        print(f"  SURVIVED {m.name}: {m.description}{flag}\n      {_line(m)}")
    if len(results) < len(chosen):
        print(f"  {len(chosen) - len(results)} mutants not run ({unfinished} stopped unfinished): the time limit "
              "was reached")
    return 1 if score < args.fail_under else 0


if __name__ == "__main__":
    sys.exit(main())
