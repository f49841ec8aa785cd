"""Shapes: declared or inferred by unification, with NumPy broadcasting on 2-D shapes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, ShapeError
from symderiv.ops import matrix_op
from symderiv.syntax.language import check_identifier

_FRESH_POOL = ("n", "m", "p", "q", "r", "s", "t", "u", "v", "w", "k", "l")


def format_shape(shape: ex.Shape) -> str:
    """``(3, "n")`` → ``"3×n"``.

    >>> format_shape((3, "n"))
    '3×n'
    """
    return f"{shape[0]}×{shape[1]}"


def normalize_shapes(shapes: Mapping[str, object] | None) -> dict[str, ex.Shape]:
    """Check a user's ``shapes`` mapping: each value is ``(rows, cols)`` of positive ints or names."""
    result: dict[str, ex.Shape] = {}
    if shapes is None:
        return result
    if not isinstance(shapes, Mapping):
        raise OptionError("shapes must be a mapping from symbol name to (rows, cols)",
                          hint='for example shapes={"W": ("H", "m"), "X": ("m", "n")}')
    for name, shape in shapes.items():
        check_identifier(name, "symbol")
        if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:  # type: ignore[arg-type]
            raise OptionError(f"the shape of `{name}` must be (rows, cols), not {shape!r}",
                              hint="a vector is (n, 1), a scalar (1, 1)")
        dims: list[ex.Dim] = []
        for dim in shape:  # type: ignore[attr-defined]
            if isinstance(dim, bool):
                raise OptionError(f"the shape of `{name}` has a boolean dimension")
            if isinstance(dim, int) or (hasattr(dim, "__index__") and not isinstance(dim, str)):
                value = int(dim.__index__())  # type: ignore[union-attr]
                if value < 1:
                    raise OptionError(f"the shape of `{name}` has a dimension {value}; sizes are positive")
                dims.append(value)
            elif isinstance(dim, str):
                if dim.strip().isdigit():
                    size = int(dim.strip())
                    dims.append(size)
                    if size < 1:
                        raise OptionError(f"the shape of `{name}` has a dimension 0; sizes are positive")
                else:
                    check_identifier(dim.strip(), "dimension")
                    dims.append(dim.strip())
            else:
                raise OptionError(f"the shape of `{name}` has a dimension {dim!r}",
                                  hint="each dimension is a positive integer or a name such as 'n'")
        result[name] = (dims[0], dims[1])
    return result


@dataclass
class _Unifier:
    text: str | None
    parent: dict[object, object] = field(default_factory=dict)
    #: dimension names of ones/zeros/eye → the term they stand for
    dim_alias: dict[str, object] = field(default_factory=dict)

    def find(self, term: object) -> object:
        root = term
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(term, term) != root:
            self.parent[term], term = root, self.parent[term]
        return root

    def value(self, term: object) -> object:
        return self.find(term)

    @staticmethod
    def is_fresh(term: object) -> bool:
        return isinstance(term, tuple)

    def unify(self, a: object, b: object, node: ex.Expr | None, what: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.is_fresh(ra):
            self.parent[ra] = rb
        elif self.is_fresh(rb):
            self.parent[rb] = ra
        else:
            span = getattr(node, "span", None) if node is not None else None
            hint = ("dimension names are distinct symbols; use the same name where sizes must agree"
                    if isinstance(ra, str) or isinstance(rb, str) else None)
            raise ShapeError(f"{what}: {ra} ≠ {rb}", text=self.text,
                             column=span[0] if span else None, width=span[1] if span else 1, hint=hint)


@dataclass
class Typing:
    """The resolved shapes of an expression's symbols.

    >>> t = infer_shapes(parse("W @ X"), {"W": (3, 2)})
    >>> t.symbols
    {'W': (3, 2), 'X': (2, 'n')}
    >>> t.shape_of(parse("W @ X"))
    (3, 'n')
    """

    symbols: dict[str, ex.Shape]
    symmetric: frozenset[str] = frozenset()
    text: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    #: dimension names used in ones/zeros/eye, resolved (to a size or to a name of the symbols' shapes)
    aliases: dict[str, ex.Dim] = field(default_factory=dict)

    def resolve(self, d: ex.Dim) -> ex.Dim:
        """A dimension as the symbols' shapes spell it (a size, or a name)."""
        if isinstance(d, str):
            d = self.aliases.get(d, d)
            if isinstance(d, str) and d in self.sizes:
                return self.sizes[d]
        return d

    @property
    def dim_names(self) -> list[str]:
        names: dict[str, None] = {}
        for shape in self.symbols.values():
            for d in shape:
                if isinstance(d, str):
                    names.setdefault(d, None)
        return list(names)

    def shape_of(self, node: ex.Expr, extra: Mapping[str, ex.Shape] | None = None,
                 text: str | None = None) -> ex.Shape:
        """The shape of any expression over these symbols (``extra`` adds names such as ``G``)."""
        env = dict(self.symbols)
        if extra:
            env.update(extra)
        u = _Unifier(text if text is not None else self.text)
        u.dim_alias = {name: self.resolve(name) for name in node.dim_names()}
        return _shape(node, env, u, strict=True)

    def substitute(self, assignment: Mapping[str, int]) -> Typing:
        """The same typing with dimension names replaced by sizes."""
        def sub(d: ex.Dim) -> ex.Dim:
            return assignment.get(d, d) if isinstance(d, str) else d
        aliases = {k: sub(v) for k, v in self.aliases.items()}
        sizes = {**self.sizes, **assignment, **{k: v for k, v in aliases.items() if isinstance(v, int)}}
        return Typing({k: (sub(r), sub(c)) for k, (r, c) in self.symbols.items()}, self.symmetric, self.text,
                      sizes, aliases)

    def assignments(self, count: int = 2) -> list[dict[str, int]]:
        """Small concrete sizes for the dimension names: distinct names get distinct sizes in every assignment,
        and each later assignment gives every name a new size.

        >>> from symderiv.syntax.language import parse
        >>> typing = infer_shapes(parse("X @ W @ V"), {"X": ("N", "K"), "W": ("K", "H"), "V": ("H", "M")})
        >>> typing.assignments(2)
        [{'N': 2, 'K': 3, 'H': 4, 'M': 5}, {'N': 3, 'K': 4, 'H': 5, 'M': 2}]
        """
        names = self.dim_names
        if not names:
            return [{}]
        n = len(names)
        result: list[dict[str, int]] = []
        for shift in range(count):
            # Rotations of 2..n+1 keep the sizes small; past them (or for one name) the sizes move up.
            sizes = [2 + (i + shift) % n if shift < n else 2 + shift + i for i in range(n)]
            result.append(dict(zip(names, sizes, strict=True)))
        return result

    @property
    def is_concrete(self) -> bool:
        return not self.dim_names


def _broadcast(u: _Unifier, a: ex.Shape, b: ex.Shape, node: ex.Expr, op: str) -> ex.Shape:
    out: list[ex.Dim] = []
    for axis, (da, db) in enumerate(zip(a, b, strict=True)):
        va, vb = u.value(da), u.value(db)
        if va == vb:
            out.append(da)  # type: ignore[arg-type]
        elif va == 1:
            out.append(db)  # type: ignore[arg-type]
        elif vb == 1:
            out.append(da)  # type: ignore[arg-type]
        elif u.is_fresh(va) or u.is_fresh(vb):
            u.unify(da, db, node, "")
            out.append(da)  # type: ignore[arg-type]
        else:
            span = getattr(node, "span", None)
            raise ShapeError(
                f"cannot {op} a {_show(u, a)} and a {_show(u, b)} matrix: "
                f"{'rows' if axis == 0 else 'columns'} {va} and {vb} differ and neither is 1",
                text=u.text, column=span[0] if span else None, width=span[1] if span else 1,
                hint="broadcasting stretches a dimension of size 1 only (as in NumPy)")
    return (out[0], out[1])


def _show(u: _Unifier, shape: ex.Shape) -> str:
    vals = [u.value(d) for d in shape]
    return "×".join("?" if u.is_fresh(v) else str(v) for v in vals)


def _shape(node: ex.Expr, env: Mapping[str, ex.Shape], u: _Unifier, strict: bool = False) -> ex.Shape:
    return _ShapeWalk(env, u).of(node)


class _ShapeWalk:
    """The shape of every node, by unification; one small rule per node kind."""

    def __init__(self, env: Mapping[str, ex.Shape], u: _Unifier) -> None:
        self.env, self.u = env, u

    def of(self, node: ex.Expr) -> ex.Shape:
        return getattr(self, "_" + type(node).__name__)(node)  # type: ignore[no-any-return]

    def err(self, node: ex.Expr, message: str, hint: str | None = None) -> ShapeError:
        span = getattr(node, "span", None)
        return ShapeError(message, text=self.u.text, column=span[0] if span else None,
                          width=span[1] if span else 1, hint=hint)

    def square(self, node: ex.Expr, inner: ex.Shape, fn: str) -> None:
        try:
            self.u.unify(inner[0], inner[1], node, "")
        except ShapeError:
            raise self.err(node, f"{fn} needs a square matrix, but its argument is {_show(self.u, inner)}") from None

    def _Symbol(self, node: ex.Symbol) -> ex.Shape:
        if node.name not in self.env:
            raise self.err(node, f"unknown matrix `{node.name}`")
        return self.env[node.name]

    def _Number(self, node: ex.Number) -> ex.Shape:
        return (1, 1)

    def _ConstMatrix(self, node: ex.ConstMatrix) -> ex.Shape:
        alias = self.u.dim_alias
        return (alias.get(node.rows, node.rows) if isinstance(node.rows, str) else node.rows,  # type: ignore[return-value]
                alias.get(node.cols, node.cols) if isinstance(node.cols, str) else node.cols)

    def _MatMul(self, node: ex.MatMul) -> ex.Shape:
        for side in (node.left, node.right):
            if isinstance(side, ex.Number):
                raise self.err(node, "`@` needs matrices on both sides", hint="use `*` to scale by a number")
        a, b = self.of(node.left), self.of(node.right)
        try:
            self.u.unify(a[1], b[0], node, "")
        except ShapeError:
            raise self.err(node, f"cannot multiply {_show(self.u, a)} @ {_show(self.u, b)}: the inner dimensions "
                           f"{self.u.value(a[1])} and {self.u.value(b[0])} differ",
                           hint="for A @ B, A's column count must equal B's row count; "
                           "`*` is the elementwise product") from None
        return (a[0], b[1])

    def _elementwise(self, node: ex.Binary, op: str) -> ex.Shape:
        return _broadcast(self.u, self.of(node.left), self.of(node.right), node, op)

    def _Add(self, node: ex.Add) -> ex.Shape:
        return self._elementwise(node, "add")

    def _Sub(self, node: ex.Sub) -> ex.Shape:
        return self._elementwise(node, "subtract")

    def _Mul(self, node: ex.Mul) -> ex.Shape:
        return self._elementwise(node, "multiply elementwise")

    def _Div(self, node: ex.Div) -> ex.Shape:
        return self._elementwise(node, "divide")

    def _operand(self, node: ex.Unary) -> ex.Shape:
        return self.of(node.operand)

    _Neg = _Power = _Apply = _operand

    def _Transpose(self, node: ex.Transpose) -> ex.Shape:
        a = self.of(node.operand)
        return (a[1], a[0])

    def _Trace(self, node: ex.Unary, what: str = "trace") -> ex.Shape:
        self.square(node, self.of(node.operand), what)
        return (1, 1)

    def _Det(self, node: ex.Det) -> ex.Shape:
        return self._Trace(node, "det")

    def _Inv(self, node: ex.Inv) -> ex.Shape:
        a = self.of(node.operand)
        self.square(node, a, "inv")
        return a

    def _Call(self, node: ex.Call) -> ex.Shape:
        shapes = [self.of(arg) for arg in node.args]
        return matrix_op(node.op).shape(_SquareRule(lambda shape, what: self.square(node, shape, what)), shapes,
                                        dict(node.params))

    def _Sum(self, node: ex.Sum) -> ex.Shape:
        a = self.of(node.operand)
        if node.axis is None:
            return (1, 1)
        return (1, a[1]) if node.axis == 0 else (a[0], 1)


class _SquareRule:
    """The shape checker as a registry entry's shape rule sees it."""

    def __init__(self, square: Callable[[ex.Shape, str], None]) -> None:
        self._square = square

    def square(self, shape: ex.Shape, what: str) -> ex.Dim:
        self._square(shape, what)
        return shape[0]


def _resolve(u: _Unifier, shape: ex.Shape, names: dict[object, str]) -> ex.Shape:
    out = []
    for d in shape:
        v = u.value(d)
        out.append(names[v] if u.is_fresh(v) else v)
    return (out[0], out[1])  # type: ignore[return-value]


def infer_shapes(
    expression: ex.Expr,
    shapes: Mapping[str, object] | None = None,
    *,
    symmetric: Iterable[str] = (),
    text: str | None = None,
) -> Typing:
    """Infer every symbol's shape from the declared ones, by unification.

    Omitted symbols get fresh dimension names (``n``, ``m``, ``p``, ...), never 1:
    a vector or scalar symbol must be declared as such.

    >>> infer_shapes(parse("X @ W + b"), {"b": (1, "M")}).symbols
    {'X': ('n', 'm'), 'W': ('m', 'M'), 'b': (1, 'M')}
    """
    declared = normalize_shapes(shapes)
    names = expression.symbols()
    extra = sorted(set(declared) - set(names))
    if extra:
        raise OptionError(f"shapes name {', '.join('`' + e + '`' for e in extra)}, "
                          f"which the expression does not have",
                          hint="the expression's matrices are " + ", ".join(names))
    u = _Unifier(text)
    declared_dims = {d for shape in declared.values() for d in shape if isinstance(d, str)}
    # A name in ones/zeros/eye that no declared shape uses is an unknown to solve for, like an omitted shape.
    for name in expression.dim_names():
        u.dim_alias[name] = name if name in declared_dims else ("?dim", name)
    env: dict[str, ex.Shape] = {name: declared[name] if name in declared else
                                (("?", name, 0), ("?", name, 1)) for name in names}  # type: ignore[misc]
    symmetric = frozenset(symmetric)
    _unify_symmetric(u, env, symmetric)
    _shape(expression, env, u)
    # Name the fresh dimensions in order of appearance, avoiding every name in sight.
    taken = set(names) | declared_dims | expression.dim_names()
    fresh_names = _name_fresh(u, env, names, [p for p in _FRESH_POOL if p not in taken] +
                              [f"k{i}" for i in range(1, 100)])
    aliases: dict[str, ex.Dim] = {}
    for alias, term in u.dim_alias.items():
        v = u.value(term)
        aliases[alias] = fresh_names[v] if u.is_fresh(v) else v  # type: ignore[assignment]
    return Typing({n: _resolve(u, env[n], fresh_names) for n in names}, symmetric, text, {}, aliases)


def _unify_symmetric(u: _Unifier, env: Mapping[str, ex.Shape], symmetric: frozenset[str]) -> None:
    for name in symmetric:
        if name not in env:
            raise OptionError(f"symmetric names `{name}`, which the expression does not have")
        try:
            u.unify(env[name][0], env[name][1], None, "")
        except ShapeError:
            raise ShapeError(f"`{name}` is declared symmetric but its shape is {format_shape(env[name])}",
                             hint="a symmetric matrix is square") from None


def _name_fresh(u: _Unifier, env: Mapping[str, ex.Shape], names: list[str], pool: list[str]) -> dict[object, str]:
    """Names for the unknown dimensions: aliases first (``eye(k)``), then the pool in order of appearance."""
    fresh_names: dict[object, str] = {}
    for alias, term in u.dim_alias.items():
        v = u.value(term)
        if u.is_fresh(v) and v not in fresh_names:
            fresh_names[v] = alias
            if alias in pool:
                pool.remove(alias)
    for name in names:
        for d in env[name]:
            v = u.value(d)
            if u.is_fresh(v) and v not in fresh_names:
                fresh_names[v] = pool.pop(0)
    return fresh_names


def parse_shape_option(text: str) -> tuple[str, ex.Shape]:
    """Parse a command-line ``--shape W=H,m`` into ``("W", ("H", "m"))``.

    >>> parse_shape_option("W=3,n")
    ('W', (3, 'n'))
    """
    if "=" not in text:
        raise OptionError(f"--shape {text!r} is not of the form NAME=ROWS,COLS", hint="for example --shape W=3,2")
    name, _, dims = text.partition("=")
    parts = [p.strip() for p in dims.replace("×", ",").split(",")]
    if len(parts) != 2 or not all(parts) or not name.strip():
        raise OptionError(f"--shape {text!r} is not of the form NAME=ROWS,COLS", hint="for example --shape W=3,2")
    shape = normalize_shapes({name.strip(): (parts[0], parts[1])})
    return name.strip(), shape[name.strip()]




from symderiv.syntax.language import parse  # noqa: E402,F401  (used by the doctests)
