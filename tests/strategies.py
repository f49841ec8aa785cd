"""Hypothesis strategies: random well-shaped expressions of the language, with shapes and a wrt.

Generation is type-directed: each sub-expression is drawn for a target shape,
so every case is well-shaped by construction. Dimensions are names (``n``, ``m``,
``p``) with small concrete sizes; ``Case.shapes`` has the sizes and
``Case.symbolic_shapes`` the names. Functions that need care are guarded:
``log``/``sqrt`` get positive arguments, ``inv``/``det``/``logdet`` apply to a
symbol plus a multiple of the identity (or a transpose or product of such), and
step/sign (not differentiable) are left to the claims. Powers go up to 5, and a
negated base gets odd powers too (``(-A) ** 3``).

The operations of issue 14 are drawn by default, in every suite over ``cases``
(``COURSE_OPS``; ``course_ops_in`` finds them in a case, for the suites' counts):
softmax, log_softmax, logsumexp, mean, norm, softplus, diag, diagflat, and
non-integer powers (``** 0.5``, ``** (1/3)``, ``** -1.5``, ...) of positive bases
(``1 + B ** 2``, ``sigmoid(B)``, ``exp(B)``). A case's root is one of them with
probability ``COURSE_ROOT``.

The hostile patterns of issue 10 are drawn by their own strategies, for the
differential suite (tests/test_differential.py): literals near float precision,
huge and tiny (``hostile_literals``); constants near word sizes and primes
(``WORD_CONSTANTS``); true claims disguised by function identities
(``disguises``); domain-restricted functions (``DOMAIN_CASES``). ``cases`` uses
the dimension names ``n``, ``m``, ``p``, and ``distinct_sizes=True`` gives each a
different size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

#: Literals whose exact value a float would change: tiny, huge, near float precision, and one exact in binary.
HOSTILE_LITERALS = ("1e-400", "1e300", "0.30000000000000001", "1.00000000000000001", "0.1", "1e-30",
                    "123456789.123456789", "0.5", "4.9e-324", "1.7976931348623157e308")
#: Integers near word sizes and primes that a modular or float engine could wrap or round.
WORD_CONSTANTS = (2**23, 8388593, 8388592, 8388594, 2**31, 2**31 - 1, 2**32, 2**53, 2**53 + 1, 2**61 - 1, 2**64,
                  2**64 + 1)

DIMS = ("n", "m", "p")
SMOOTH = ("exp", "tanh", "sigmoid", "sin", "cos", "softplus")
ALL_UNARY = SMOOTH + ("relu", "abs", "tan", "log", "sqrt", "phi")
LETTERS = "ABCDEFHJKMNPQRSTUVWYZ"
#: How often the root of a case is one of the operations of deep-learning courses (issue 14), by default.
COURSE_ROOT = 1 / 3


#: The operations issue 14 added, each with the pattern that finds it in a case's text (``pow``: ``A ** p`` with a
#: non-integer constant ``p``).
COURSE_OPS = {
    "softmax": r"(?<![\w])softmax\(", "log_softmax": r"\blog_softmax\(", "logsumexp": r"\blogsumexp\(",
    "mean": r"\bmean\(", "norm": r"\bnorm\(", "softplus": r"\bsoftplus\(", "diag": r"\bdiag\(",
    "diagflat": r"\bdiagflat\(", "pow": r"\*\* (-?\d+\.\d+|\(1/3\))",
}


def course_ops_in(text: str) -> set[str]:
    """The operations of :data:`COURSE_OPS` that occur in ``text``.

    >>> sorted(course_ops_in("log_softmax(A, axis=0) + diag(B) ** 0.5"))
    ['diag', 'log_softmax', 'pow']
    """
    return {name for name, pattern in COURSE_OPS.items() if re.search(pattern, text)}


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
    def __init__(self, draw, sizes: dict[str, int], max_depth: int, square_ops: bool, course_ops: bool = True,
                 course_root: float = COURSE_ROOT):
        self.draw = draw
        self.course_ops = course_ops
        self.course_root = course_root
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
        kinds = ["matmul", "add", "sub", "mul", "div", "pow", "negpow", "T", "unary", "neg", "bcast"]
        if shape == (1, 1):
            kinds += ["trace", "sum", "det", "logdet"] if self.square_ops else ["sum"]
        if c == 1 or r == 1:
            kinds += ["sum_axis"]
        if r == c and self.square_ops:
            kinds += ["inv", "matpow"]
        if self.course_ops:
            # At the root with probability course_root (so that many cases have one); below it, one kind among
            # the others.
            if depth == 0 and draw(st.integers(0, 99)) < round(100 * self.course_root):
                return self.course(shape, depth)
            kinds.append("course")
        kind = draw(st.sampled_from(kinds))
        if kind == "course":
            return self.course(shape, depth)
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
            # Powers 4 and 5 only of a symbol: of a compound base the degrees multiply and the exact engine crawls.
            if draw(st.integers(0, 2)) == 0:
                return f"({self.symbol(shape)} ** {draw(st.sampled_from([4, 5]))})"
            return f"({sub(shape)} ** {draw(st.sampled_from([2, 3]))})"
        if kind == "negpow":
            # A negated base with an odd power keeps its sign: (-A) ** 3 = -(A ** 3).
            if draw(st.booleans()):
                return f"((-{self.symbol(shape)}) ** {draw(st.sampled_from([1, 3, 5, 2, 4]))})"
            return f"((-{self._atomic(sub(shape))}) ** {draw(st.sampled_from([1, 3]))})"
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
            return f"{kind}({self.invertible(k, depth)})"
        if kind == "sum_axis":
            if c == 1 and r != 1:
                return f"sum({sub((r, self.dim()))}, axis=1)"
            if r == 1 and c != 1:
                return f"sum({sub((self.dim(), c))}, axis=0)"
            return f"sum({sub((self.dim(), self.dim()))})"
        if kind == "inv":
            return f"inv({self.invertible(r, depth)})"
        if kind == "matpow":
            return f"matpow({sub(shape)}, 2)"
        raise AssertionError(kind)

    def course(self, shape: tuple[object, object], depth: int) -> str:
        """One of the operations of deep-learning courses (issue 14) that yields ``shape``, each as likely as the
        others: softmax, log_softmax, logsumexp, mean, norm, softplus, diag, diagflat, or a non-integer power of
        a positive base.

        A full reduction (logsumexp, mean, norm) is the case itself when ``shape`` is ``1×1`` and scales a
        subexpression otherwise; logsumexp and mean also reduce along an axis to a column or a row. ``diag`` and
        ``diagflat`` are the case's column or square matrix, or scale its rows."""
        r, c = shape
        draw = self.draw
        sub = lambda s: self.build(s, depth + 1)  # noqa: E731
        op = draw(st.sampled_from(["softmax", "log_softmax", "pow", "softplus", "logsumexp", "mean", "norm", "diag",
                                   "diagflat"]))
        if op in ("softmax", "log_softmax"):
            return f"{op}({sub(shape)}, axis={draw(st.sampled_from([0, 1]))})"
        if op == "softplus":
            return f"softplus({sub(shape)})"
        if op == "pow":
            p = draw(st.sampled_from(["0.5", "-0.5", "1.5", "(1/3)", "-1.5", "2.5"]))
            # |p| > 1 of a symbol only: A ** 2.5 is A ** 2 * A ** 0.5, and of a compound base the degrees multiply.
            inner = self._atomic(sub(shape)) if p in ("0.5", "-0.5", "(1/3)") else self.symbol(shape)
            base = draw(st.sampled_from([f"(1 + {inner} ** 2)", f"sigmoid({inner})", f"exp({inner})"]))
            return f"({base} ** {p})"
        if op in ("logsumexp", "mean") and (c == 1) != (r == 1) and draw(st.booleans()):
            if c == 1:
                return f"{op}({sub((r, self.dim()))}, axis=1)"
            return f"{op}({sub((self.dim(), c))}, axis=0)"
        if op in ("logsumexp", "mean", "norm"):
            total = f"{op}({sub((self.dim(), self.dim()))})"
            return total if shape == (1, 1) else f"({sub(shape)} * {total})"
        if op == "diag":
            return self._diag(shape, sub)
        return self._diagflat(shape, sub)

    def _diag(self, shape: tuple[object, object], sub) -> str:
        """``diag`` of a square matrix as the column, the row (transposed), the sum (1×1), or scaling rows."""
        r, c = shape
        if c == 1 and r != 1:
            return f"diag({sub((r, r))})"
        if r == 1 and c != 1:
            return f"diag({sub((c, c))}).T"
        if shape == (1, 1):
            return f"sum(diag({sub((self.draw(st.sampled_from(DIMS)),) * 2)}))"
        return f"({sub(shape)} * diag({sub((r, r))}))"

    def _diagflat(self, shape: tuple[object, object], sub) -> str:
        """``diagflat`` of a column as the square matrix, its sum (1×1), or a product scaling rows or columns."""
        r, c = shape
        if r == c and r != 1:
            return f"diagflat({sub((r, 1))})"
        if r != 1:
            return f"(diagflat({sub((r, 1))}) @ {sub(shape)})"
        if c != 1:
            return f"({sub(shape)} @ diagflat({sub((c, 1))}))"
        return f"sum(diagflat({sub((self.draw(st.sampled_from(DIMS)), 1))}))"

    def invertible(self, k: object, depth: int) -> str:
        """A k×k matrix that is invertible at the test points: a symbol plus 3·I, its transpose, or a product
        (products only of 2×2 matrices, at the top or near the leaves: larger or deeper, their inverses make the
        exact engine crawl)."""
        base = lambda: f"({self.symbol((k, k))} + 3 * eye(<{k}>))"  # noqa: E731
        form = self.draw(st.integers(0, 4))
        if form == 2 and (0 < depth < self.max_depth - 1 or self.sizes.get(k, k) != 2):  # type: ignore[call-overload]
            form = 3
        if form == 0:
            return f"{base()}.T"
        if form == 1:
            return f"({self.symbol((k, k))}.T + 3 * eye(<{k}>))"
        if form == 2:
            return f"({base()} @ {base()})"
        return base()

    @staticmethod
    def _atomic(text: str) -> str:
        return text if text.startswith("(") or text.replace("_", "").isalnum() else f"({text})"


@st.composite
def cases(draw, max_depth: int = 3, square_ops: bool = True, max_size: int = 3, distinct_sizes: bool = False,
          course_ops: bool = True, course_root: float = COURSE_ROOT) -> Case:
    """A random well-shaped expression with concrete and symbolic shapes and a wrt that occurs in it.

    ``distinct_sizes``: the dimension names get pairwise different sizes (2, 3, 4 in some order), so a claim
    that mixes two dimensions up is not well-shaped by accident. ``course_ops``: draw the operations of
    deep-learning courses too (softmax, log_softmax, logsumexp, mean, norm, diag, diagflat, non-integer
    powers; on by default, so every suite over these cases covers them); the root is one of them with
    probability ``course_root``, and below the root each is one kind among the others.
    """
    if distinct_sizes:
        sizes = dict(zip(DIMS, draw(st.permutations([2, 3, 4])), strict=True))
    else:
        sizes = {d: draw(st.integers(2, max_size)) for d in DIMS}
    builder = _Builder(draw, sizes, max_depth, square_ops, course_ops, course_root)
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
    from symderiv.core.errors import ParseError, ShapeError
    from symderiv.proofs.verification import prepare

    try:
        prepare(case.text, [case.wrt], case.shapes, functions=case.functions)
    except (ParseError, ShapeError):
        return False
    return True


@st.composite
def hostile_literals(draw) -> str:
    """A literal that a float (or a modulus) would get wrong: near float precision, huge, tiny, near primes."""
    return draw(st.one_of(st.sampled_from(HOSTILE_LITERALS), st.sampled_from([str(k) for k in WORD_CONSTANTS]),
                          st.builds(lambda k, d: f"{k}.{'0' * d}1", st.integers(0, 3), st.integers(14, 20))))


def disguises(claim: str, symbol: str) -> dict[str, str]:
    """True claims equal to ``claim`` only through function identities, on the whole domain of ``symbol``.

    >>> disguises("G @ X.T", "X")["sin² + cos²"]
    '(G @ X.T) * (sin(X) ** 2 + cos(X) ** 2)'
    """
    return {
        "sin² + cos²": f"({claim}) * (sin({symbol}) ** 2 + cos({symbol}) ** 2)",
        "exp(a) * exp(b)": f"({claim}) * exp(2 * {symbol}) * exp(-2 * {symbol})",
        "exp(log(x))": f"({claim}) * exp(log(1 + {symbol} ** 2)) / (1 + {symbol} ** 2)",
        "relu(x) = x * step(x)": f"({claim}) * (1 + relu({symbol}) - {symbol} * step({symbol}))",
    }


#: Functions with a restricted domain, with a true claim valid on that domain (expression, wrt, claim, shapes).
DOMAIN_CASES = (
    ("log(W)", "W", "G / W", {"W": (1, 2)}),
    ("log(W)", "W", "G / abs(W)", {"W": (1, 2)}),
    ("sqrt(W)", "W", "G / (2 * sqrt(W))", {"W": (2, 1)}),
    ("sum(inv(W))", "W", "-(inv(W) @ ones(2, 2) @ inv(W)).T", {"W": (2, 2)}),
    ("log(sum(W))", "W", "ones(2, 2) / sum(W)", {"W": (2, 2)}),
)
