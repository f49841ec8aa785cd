"""Benchmark: symderiv's proofs against two naive SymPy routes, shape by shape.

Run ``python benchmarks/bench_proofs.py`` (about 10 minutes on 2 cores) or
``python benchmarks/bench_proofs.py --quick`` (about 2 minutes). Every rung runs
in a fresh subprocess with a timeout, so a slow rung is skipped, not waited for;
its time is the wall-clock time of the proof alone (imports and a warm-up proof
excluded), and its memory is the peak resident set size the proof added
(``ru_maxrss`` after minus before). A rung whose time limit ran out is shown as
``>T s``; a rung skipped because a smaller one of the same approach already
timed out is shown as ``skip``.

Approaches:

- ``exact``: ``symderiv.verify(..., method="exact")`` on concrete shapes, the default prover;
- ``random``: ``method="random"``, the Schwartz–Zippel check (a probabilistic result);
- ``random-wrong``: the same check of a wrong claim (twice the right one), at the largest sizes:
  the time to a certain refutation, including the bisection to the failing entry;
- ``all-shapes``: ``verify`` with symbolic sizes: the index-notation proof for all shapes
  plus the small concrete checks (time independent of the sizes);
- ``naive-subs``: SymPy, the way a newcomer writes it: ``L = f(*D)`` with an
  undefined ``f`` and ``sympy.diff``, whose chain rule goes through ``Subs``; each
  ``Subs(Derivative(f, ξ_k), ξ_k, D_k)`` is replaced by a symbol ``G_k`` and the
  result compared with the claim by ``expand``;
- ``naive-expand``: SymPy with the chain rule written out: ``L = Σ G_ij D_ij`` with
  symbols ``G_ij``, ``diff`` by every entry of W, compared with ``expand``.

Only the source identity and ``relu`` run the naive baselines (their cost is what
the issue compares against); the other expressions show how symderiv scales. The
det/inv rows (issue 12) use sizes ``1×m×n``: their shapes name only ``m`` and ``n``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: name -> (expression, wrt, claim, shapes with the dimension names H, m, n)
CASES: dict[str, tuple[str, str, str, dict[str, tuple[object, object]]]] = {
    "source": ("W @ X", "W", "G @ X.T", {"W": ("H", "m"), "X": ("m", "n")}),
    "relu": ("relu(W @ X + b)", "W", "(G * step(W @ X + b)) @ X.T", {"W": ("H", "m"), "X": ("m", "n"), "b": ("H", 1)}),
    "trace": ("trace(A @ X @ B)", "X", "A.T @ B.T", {"A": ("H", "m"), "X": ("m", "n"), "B": ("n", "H")}),
    "logdet": ("logdet(X)", "X", "inv(X).T", {"X": ("m", "m")}),
    "two-layer": ("W2 @ tanh(W1 @ X)", "W1", "((W2.T @ G) * (1 - tanh(W1 @ X) ** 2)) @ X.T",
                  {"W1": ("H", "m"), "W2": ("H", "H"), "X": ("m", "n")}),
    # det and inv of products (issue 12): the Cookbook's formulas; rungs H×m×n name m and n only.
    "det(AXB)": ("det(A @ X @ B)", "X", "det(A @ X @ B) * (A.T @ inv(A @ X @ B).T @ B.T)",
                 {"A": ("m", "m"), "X": ("m", "m"), "B": ("m", "m")}),
    "det(XᵀAX)": ("det(X.T @ A @ X)", "X",
                  "det(X.T @ A @ X) * (A @ X @ inv(X.T @ A @ X) + A.T @ X @ inv(X.T @ A.T @ X))",
                  {"X": ("m", "n"), "A": ("m", "m")}),
    "tr(inv(XᵀCX)A)": ("trace(inv(X.T @ C @ X) @ A)", "X",
                       "-(C @ X @ inv(X.T @ C @ X) @ A @ inv(X.T @ C @ X))"
                       " - (C.T @ X @ inv(X.T @ C @ X).T @ A.T @ inv(X.T @ C @ X).T)",
                       {"X": ("m", "n"), "C": ("m", "m"), "A": ("n", "n")}),
    "det(XXX)": ("det(X @ X @ X)", "X",
                 "det(X @ X @ X) * (X @ X @ inv(X @ X @ X) + X @ inv(X @ X @ X) @ X + inv(X @ X @ X) @ X @ X).T",
                 {"X": ("m", "m")}),
    "logdet(XᵀX)": ("logdet(X.T @ X)", "X", "2 * X @ inv(X.T @ X)", {"X": ("m", "n")}),
}

CUBES = [(4, 4, 4), (8, 8, 8), (16, 16, 16), (32, 32, 32), (64, 64, 64), (128, 128, 128)]
RECTANGLES = [(64, 16, 256), (256, 64, 16)]

# --------------------------------------------------------------------------
# The code each rung runs in its subprocess

RUNNER = r'''
import gc, json, resource, sys, time
case, H, m, n, approach = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
spec = json.loads(sys.argv[6])
expr, wrt, claim = spec["expr"], spec["wrt"], spec["claim"]
sizes = {"H": H, "m": m, "n": n}
shapes = {k: tuple(sizes.get(d, d) for d in v) for k, v in spec["symbolic"].items()}

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

if approach in ("exact", "random", "all-shapes", "random-wrong"):
    from symderiv.proofs.verification import verify
    method = "exact" if approach in ("exact", "all-shapes") else "random"
    if approach == "random-wrong":
        claim = "2 * (" + claim + ")"  # wrong wherever the gradient is not zero
    use = spec["symbolic"] if approach == "all-shapes" else shapes
    verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (2, 2), "X": (2, 2)}, method=method)  # warm-up
    def run():
        v = verify(expr, wrt=wrt, claim=claim, shapes=use, method=method, budget=10**12)
        return v.holds, v.status
else:
    import sympy
    from sympy import Matrix, Symbol, Function, diff, expand, Subs, Derivative
    def mat(name, r, c):
        return Matrix(r, c, lambda i, j: Symbol(f"{name}_{i}_{j}", real=True))
    syms = {k: mat(k, *v) for k, v in shapes.items()}
    relu = lambda M: M.applyfunc(lambda z: sympy.Max(z, 0))
    step = lambda M: M.applyfunc(lambda z: sympy.Heaviside(z))
    # Only the source identity and relu have baselines; they are built with SymPy matrices.
    if spec["case"] == "source":
        D = syms["W"] * syms["X"]
    else:
        b = syms["b"]
        D = relu(syms["W"] * syms["X"] + b * Matrix.ones(1, n))
    r, c = D.shape
    Gm = mat("G", r, c)
    if spec["case"] == "source":
        C = Gm * syms["X"].T
    else:
        C = Gm.multiply_elementwise(step(syms["W"] * syms["X"] + syms["b"] * Matrix.ones(1, n))) * syms["X"].T
    W = syms[wrt]
    def run():
        ok = True
        if approach == "naive-expand":
            L = sum((Gm[i, j] * D[i, j] for i in range(r) for j in range(c)), sympy.Integer(0))
            for a in range(W.shape[0]):
                for bb in range(W.shape[1]):
                    ok &= expand(diff(L, W[a, bb]) - C[a, bb]) == 0
            return ok, "compared"
        f = Function("f")
        L = f(*list(D))
        flat = list(D)
        for a in range(W.shape[0]):
            for bb in range(W.shape[1]):
                d = diff(L, W[a, bb])
                # Each partial of f appears as Subs(Derivative(f(.., xi_k, ..), xi_k), xi_k, D_k)
                # or Derivative(f(..), x) when D_k is a plain symbol: map it to G_k by position.
                reps = {}
                for s in d.atoms(Subs) | d.atoms(Derivative):
                    der = s.expr if isinstance(s, Subs) else s
                    if isinstance(der, Derivative) and der.expr.func == f:
                        k = list(der.expr.args).index(der.variables[0])
                        reps[s] = Gm[k // c, k % c]
                ok &= expand(d.xreplace(reps) - C[a, bb]) == 0
        return ok, "compared"

gc.collect()
before = rss()
t, cpu = time.perf_counter(), time.process_time()
holds, status = run()
elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
print(json.dumps({"time": elapsed, "cpu": cpu, "mem": max(0, rss() - before), "holds": bool(holds),
                  "status": status}))
'''


def run_rung(case: str, dims: tuple[int, int, int], approach: str, timeout: float) -> dict:
    expr, wrt, claim, symbolic = CASES[case]
    spec = {"expr": expr, "wrt": wrt, "claim": claim, "symbolic": symbolic, "case": case}
    cmd = [sys.executable, "-c", RUNNER, case, *map(str, dims), approach, json.dumps(spec)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt_time(r: dict | None, timeout: float) -> str:
    if r is None:
        return "skip"
    if r.get("timeout"):
        return f">{timeout:g} s"
    if "error" in r:
        return "error: " + r["error"][:60]
    return f"{r['time']:.3f} s" if r["time"] < 10 else f"{r['time']:.1f} s"


def fmt_cpu(r: dict | None) -> str:
    if r is None or "cpu" not in r:
        return ""
    return f"{r['cpu']:.3f} s" if r["cpu"] < 10 else f"{r['cpu']:.1f} s"


def fmt_mem(r: dict | None) -> str:
    if r is None or "mem" not in r:
        return ""
    return f"{r['mem'] / 1e6:.0f} MB"


def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of log(time) against log(H·m·n)."""
    if len(points) < 2:
        return None
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rungs and shorter timeouts")
    parser.add_argument("--timeout", type=float, default=None, help="per-rung timeout in seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results to FILE")
    args = parser.parse_args()
    timeout = args.timeout or (30.0 if args.quick else 120.0)
    cubes = CUBES[:-1] if args.quick else CUBES
    naive_limit = 16 if args.quick else 32
    results: list[dict] = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# symderiv proof benchmark ({'quick' if args.quick else 'full'}), python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start, per-rung timeout {timeout:g} s", flush=True)
    print("| case | H×m×n | approach | wall time | CPU time | peak RSS added | holds | "
          "speed-up vs naive-subs | vs naive-expand |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)

    def rung_list(case: str) -> list[tuple[int, int, int]]:
        if case == "source":
            return cubes + RECTANGLES + ([(1024, 1024, 1024)] if not args.quick else [(512, 512, 512)])
        if case == "relu":
            return cubes[:5] + [(1024, 1024, 1024)] if not args.quick else cubes[:4]
        if case == "trace":
            return [(8, 8, 8), (16, 16, 16), (32, 32, 32)]
        if case == "logdet":
            return [(3, 3, 3), (4, 4, 4), (5, 5, 5), (6, 6, 6), (64, 64, 64)]
        if case in ("det(AXB)", "det(XXX)"):
            return [(1, 3, 3), (1, 4, 4)]
        if case in ("det(XᵀAX)", "tr(inv(XᵀCX)A)", "logdet(XᵀX)"):
            return [(1, 4, 2), (1, 6, 3)]
        return [(8, 8, 8), (16, 16, 16)] + ([] if args.quick else [(32, 32, 32)])

    for case in CASES:
        timed_out: set[str] = set()
        all_shapes_done = False
        for dims in rung_list(case):
            volume = dims[0] * dims[1] * dims[2]
            big = volume > 300**3 or (case == "logdet" and dims[1] > 8)
            approaches = ["random", "random-wrong"] if big else ["exact", "random"]
            if case in ("source", "relu") and max(dims) <= naive_limit and dims[0] == dims[1] == dims[2]:
                approaches += ["naive-subs", "naive-expand"]
            if not all_shapes_done:
                approaches.append("all-shapes")
                all_shapes_done = True
            row: dict[str, dict | None] = {}
            for approach in approaches:
                if approach in timed_out:
                    row[approach] = None
                    continue
                r = run_rung(case, dims, approach, timeout)
                row[approach] = r
                if r.get("timeout"):
                    timed_out.add(approach)
                results.append({"case": case, "dims": dims, "approach": approach, **r})
            for approach in approaches:
                r = row[approach]
                ratios = []
                for base in ("naive-subs", "naive-expand"):
                    b = row.get(base)
                    if approach in ("exact",) and r and "time" in r and b is not None and approach != base:
                        if "time" in b:
                            ratios.append(f"{b['time'] / r['time']:.0f}×")
                        elif b.get("timeout"):
                            ratios.append(f">{timeout / r['time']:.0f}×")
                        else:
                            ratios.append("")
                    else:
                        ratios.append("")
                shape = "symbolic" if approach == "all-shapes" else "×".join(map(str, dims))
                holds = "" if r is None or "holds" not in r else ("yes" if r["holds"] else "NO")
                if r is not None and "status" in r and approach in ("random", "all-shapes", "random-wrong"):
                    holds += f" ({r['status']})"
                print(f"| {case} | {shape} | {approach} | {fmt_time(r, timeout)} | {fmt_cpu(r)} | {fmt_mem(r)} | "
                      f"{holds} | {ratios[0]} | {ratios[1]} |", flush=True)

    print()
    for case in CASES:
        pts = [(d[0] * d[1] * d[2], r["time"]) for r in results
               for d in [tuple(r["dims"])] if r["case"] == case and r["approach"] == "exact" and "time" in r
               and d[0] == d[1] == d[2] and 8 <= d[0] <= 64]
        cpts = [(d[0] * d[1] * d[2], r["cpu"]) for r in results
                for d in [tuple(r["dims"])] if r["case"] == case and r["approach"] == "exact" and "cpu" in r
                and d[0] == d[1] == d[2] and 8 <= d[0] <= 64]
        k, kc = fit_exponent(pts), fit_exponent(cpts)
        if k is not None and kc is not None:
            print(f"- fitted exponent k (time ∝ (H·m·n)^k, exact prover, cubes 8³..64³), {case}: "
                  f"{k:.2f} (wall), {kc:.2f} (CPU)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
