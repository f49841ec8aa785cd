"""Hypothesis strategies: random well-shaped expressions of the language, with shapes and a wrt.

Generation is type-directed: each sub-expression is drawn for a target shape,
so every case is well-shaped by construction. Dimensions are names (``n``, ``m``,
``p``) with small concrete sizes; ``Case.shapes`` has the sizes and
``Case.symbolic_shapes`` the names. Functions that need care are guarded:
``log``/``sqrt`` get positive arguments, ``inv``/``det``/``logdet`` apply to a
symbol plus a multiple of the identity, and step/sign (not differentiable) are
left to the claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

DIMS = ("n", "m", "p")
SMOOTH = ("exp", "tanh", "sigmoid", "sin", "cos")
ALL_UNARY = SMOOTH + ("relu", "abs", "tan", "log", "sqrt", "phi")
LETTERS = "ABCDEFHJKMNPQRSTUVWYZ"


@dataclass
class Case:
    """``text`` uses the concrete sizes (with ``shapes``); ``symbolic_text`` the names (with ``symbolic_shapes``)."""

    text: str
    wrt: str
    shapes: dict[str, tuple[int, int]]
    symbolic_shapes: dict[str, tuple[object, object]]
    sizes: dict[str, int] = field(default_factory=dict)
    functions: tuple[str, ...] = ("phi",)
    symbolic_text: str = ""


class _Builder:
    def __init__(self, draw, sizes: dict[str, int], max_depth: int, square_ops: bool):
        self.draw = draw
        self.sizes = sizes
        self.max_depth = max_depth
        self.square_ops = square_ops
        self.symbols: dict[str, tuple[object, object]] = {}

    def symbol(self, shape: tuple[object, object]) -> str:
        same = [n for n, s in self.symbols.items() if s == shape]
        if same and self.draw(st.booleans()):
            return self.draw(st.sampled_from(same))
        name = LETTERS[len(self.symbols) % len(LETTERS)] + ("" if len(self.symbols) < len(LETTERS) else "2")
        self.symbols[name] = shape
        return name

    def dim(self) -> object:
        return self.draw(st.sampled_from(DIMS + (1,)))

    def build(self, shape: tuple[object, object], depth: int, number_ok: bool = True) -> str:
        draw = self.draw
        if depth >= self.max_depth or draw(st.integers(0, 9)) < 2:
            if number_ok and shape == (1, 1) and draw(st.integers(0, 4)) == 0:
                return draw(st.sampled_from(["2", "3", "0.5"]))
            return self.symbol(shape)
        r, c = shape
        kinds = ["matmul", "add", "sub", "mul", "div", "pow", "T", "unary", "neg", "bcast"]
        if shape == (1, 1):
            kinds += ["trace", "sum", "det", "logdet"] if self.square_ops else ["sum"]
        if c == 1 or r == 1:
            kinds += ["sum_axis"]
        if r == c and self.square_ops:
            kinds += ["inv", "matpow"]
        kind = draw(st.sampled_from(kinds))
        sub = lambda s: self.build(s, depth + 1)  # noqa: E731
        if kind == "matmul":
            k = self.dim()
            return f"({self.build((r, k), depth + 1, False)} @ {self.build((k, c), depth + 1, False)})"
        if kind in ("add", "sub", "mul"):
            op = {"add": "+", "sub": "-", "mul": "*"}[kind]
            return f"({sub(shape)} {op} {sub(shape)})"
        if kind == "bcast":
            other = draw(st.sampled_from([(r, 1), (1, c), (1, 1)]))
            op = draw(st.sampled_from(["+", "*", "-"]))
            left, right = sub(shape), sub(other)
            return f"({left} {op} {right})" if draw(st.booleans()) else f"({right} {op} {left})"
        if kind == "div":
            return f"({sub(shape)} / (2 + sigmoid({sub(shape)})))"
        if kind == "pow":
            return f"({sub(shape)} ** {draw(st.sampled_from([2, 3]))})"
        if kind == "T":
            return f"{self._atomic(self.build((c, r), depth + 1, False))}.T"
        if kind == "neg":
            return f"(-{sub(shape)})"
        if kind == "unary":
            fn = draw(st.sampled_from(ALL_UNARY))
            inner = sub(shape)
            if fn in ("log", "sqrt"):
                return f"{fn}(1 + {self._atomic(inner)} ** 2)"
            if fn == "tan":
                return f"tan(0.5 * tanh({inner}))"
            return f"{fn}({inner})"
        if kind == "trace":
            k = self.dim()
            return f"trace({sub((k, k))})"
        if kind == "sum":
            return f"sum({sub((self.dim(), self.dim()))})"
        if kind in ("det", "logdet"):
            k = draw(st.sampled_from(DIMS))
            return f"{kind}({self.symbol((k, k))} + 3 * eye(<{k}>))"
        if kind == "sum_axis":
            if c == 1 and r != 1:
                return f"sum({sub((r, self.dim()))}, axis=1)"
            if r == 1 and c != 1:
                return f"sum({sub((self.dim(), c))}, axis=0)"
            return f"sum({sub((self.dim(), self.dim()))})"
        if kind == "inv":
            return f"inv({self.symbol(shape)} + 3 * eye(<{r}>))"
        if kind == "matpow":
            return f"matpow({sub(shape)}, 2)"
        raise AssertionError(kind)

    @staticmethod
    def _atomic(text: str) -> str:
        return text if text.startswith("(") or text.replace("_", "").isalnum() else f"({text})"


@st.composite
def cases(draw, max_depth: int = 3, square_ops: bool = True, max_size: int = 3) -> Case:
    """A random well-shaped expression with concrete and symbolic shapes and a wrt that occurs in it."""
    sizes = {d: draw(st.integers(2, max_size)) for d in DIMS}
    builder = _Builder(draw, sizes, max_depth, square_ops)
    shape = (draw(st.sampled_from(DIMS + (1,))), draw(st.sampled_from(DIMS + (1,))))
    text = builder.build(shape, 0)
    if not builder.symbols:
        name = builder.symbol(shape)
        text = f"({text} * {name})"
    wrt = draw(st.sampled_from(sorted(builder.symbols)))

    def concrete(d: object) -> int:
        return d if isinstance(d, int) else sizes[d]  # type: ignore[return-value]

    shapes = {n: (concrete(s[0]), concrete(s[1])) for n, s in builder.symbols.items()}
    symbolic_text = text
    text = text.replace("<1>", "1")
    symbolic_text = symbolic_text.replace("<1>", "1")
    for d in DIMS:
        text = text.replace(f"<{d}>", str(sizes[d]))
        symbolic_text = symbolic_text.replace(f"<{d}>", d)
    return Case(text, wrt, shapes, dict(builder.symbols), sizes, symbolic_text=symbolic_text)


def well_formed(case: Case) -> bool:
    """Every generated case must parse and be well-shaped (the strategy builds them type-directed)."""
    from symderiv.errors import ParseError, ShapeError
    from symderiv.verification import prepare

    try:
        prepare(case.text, [case.wrt], case.shapes, functions=case.functions)
    except (ParseError, ShapeError):
        return False
    return True
