"""Count the statuses of ``verify`` on the identity table (tests/identities_table.py) and time the all-shapes proofs.

    python tools/identity_table.py            # counts (proved / undecided / refuted / error) and warm timings
    python tools/identity_table.py --verbose  # also every row that is not proved

The warm time is one ``prove_all_shapes`` call (``refute=False``) after a first call on the same problem.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from identities_table import IDENTITIES, declared  # noqa: E402

from symderiv.core.errors import SymderivError  # noqa: E402
from symderiv.proofs.index import prove_all_shapes  # noqa: E402
from symderiv.proofs.problem import parse_claim, prepare  # noqa: E402
from symderiv.proofs.verification import verify  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    times = []
    for expression, wrt, claim, shapes, symmetric, _ in IDENTITIES:
        shapes = declared(expression, shapes)
        try:
            status = str(verify(expression, wrt, claim, shapes, symmetric=symmetric).status)
        except SymderivError as err:
            status = f"error ({type(err).__name__})"
        counts[status.split(" ")[0]] += 1
        if args.verbose and status != "proved":
            print(f"{status:10s} d({expression})/d{wrt} = {claim}")
        problem = prepare(expression, [wrt], shapes, symmetric=symmetric)
        node = parse_claim(problem, claim)
        prove_all_shapes(problem, wrt, node, refute=False)
        start = time.perf_counter()
        prove_all_shapes(problem, wrt, node, refute=False)
        times.append(time.perf_counter() - start)
    print(f"{len(IDENTITIES)} identities: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"warm all-shapes proof: mean {1000 * sum(times) / len(times):.1f} ms, max {1000 * max(times):.1f} ms")


if __name__ == "__main__":
    main()
