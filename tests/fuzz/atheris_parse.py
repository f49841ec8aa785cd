"""Coverage-guided fuzzing of parse and verify with atheris (optional; ``pip install atheris``).

Run: ``python tests/fuzz/atheris_parse.py -max_total_time=600``. Any exception other than a
SymderivError is a crash that atheris reports with the input that caused it.
"""

from __future__ import annotations

import sys


def main() -> None:
    import atheris

    with atheris.instrument_imports():
        import symderiv
        from symderiv.core.errors import SymderivError
        from symderiv.syntax.language import parse

    def one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        text = fdp.ConsumeUnicodeNoSurrogates(400)
        try:
            node = parse(text)
        except SymderivError:
            return
        names = node.symbols()
        if not names:
            return
        try:
            symderiv.verify(text, wrt=names[0], claim=fdp.ConsumeUnicodeNoSurrogates(200) or "G",
                            shapes={n: (2, 2) for n in names}, timeout=2.0, budget=200_000)
        except SymderivError:
            return

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
