"""Median wall time of ``symderiv.gradient`` (derivation + simplification + entrywise proof).

Run: ``python benchmarks/bench_gradient.py [--repeat 7]``. Prints a Markdown table:
the examples of issue 3 (symbolic shapes, proved on two small concrete sizes)
and a 4-layer network with every weight and bias asked for at once.
"""

from __future__ import annotations

import argparse
import statistics
import time

from symderiv.proofs.gradient import gradient

FOUR_LAYER = "W4 @ relu(W3 @ relu(W2 @ relu(W1 @ X + b1) + b2) + b3) + b4"
FOUR_LAYER_SHAPES = {"X": ("D", "N"), "W1": ("H1", "D"), "b1": ("H1", 1), "W2": ("H2", "H1"), "b2": ("H2", 1),
                     "W3": ("H3", "H2"), "b3": ("H3", 1), "W4": ("O", "H3"), "b4": ("O", 1)}

CASES = [
    ("W @ X", "W", None),
    ("X @ W + b", ["W", "b"], {"X": ("N", "D"), "W": ("D", "M"), "b": (1, "M")}),
    ("relu(W @ X + b)", "W", {"b": ("H", 1)}),
    ("trace(A @ X @ B)", "X", None),
    ("x.T @ A @ x", "x", {"x": ("n", 1)}),
    ("logdet(X)", "X", None),
    ("det(X)", "X", None),
    ("sum((W @ X - Y) ** 2)", "W", None),
    ("exp(trace(X))", "X", None),
    ("W2 @ relu(W1 @ X + b1) + b2", ["W1", "b1", "W2", "b2"], {"b1": ("H", 1), "b2": ("O", 1)}),
    (FOUR_LAYER, ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"], FOUR_LAYER_SHAPES),
]


def median_seconds(expression: str, wrt, shapes, repeat: int, check: bool = True) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        gradient(expression, wrt, shapes, check=check)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print("| expression | wrt | derive only (ms) | derive + proof (ms) |")
    print("| --- | --- | ---: | ---: |")
    for expression, wrt, shapes in CASES:
        bare = median_seconds(expression, wrt, shapes, args.repeat, check=False)
        proved = median_seconds(expression, wrt, shapes, args.repeat)
        names = wrt if isinstance(wrt, str) else ", ".join(wrt)
        label = "4-layer network" if expression == FOUR_LAYER else f"`{expression}`"
        print(f"| {label} | {names} | {bare * 1e3:.1f} | {proved * 1e3:.1f} |")


if __name__ == "__main__":
    main()
