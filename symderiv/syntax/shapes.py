"""Shapes: declared or inferred by unification, with NumPy broadcasting on 2-D shapes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, ShapeError
from symderiv.syntax.language import check_identifier
from symderiv.syntax.shape_rules import Unifier, shape_of_node

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
        u = Unifier(text if text is not None else self.text)
        u.dim_alias = {name: self.resolve(name) for name in node.dim_names()}
        return shape_of_node(node, env, u)

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


def _resolve(u: Unifier, shape: ex.Shape, names: dict[object, str]) -> ex.Shape:
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
    u = Unifier(text)
    declared_dims = {d for shape in declared.values() for d in shape if isinstance(d, str)}
    # A name in ones/zeros/eye that no declared shape uses is an unknown to solve for, like an omitted shape.
    for name in expression.dim_names():
        u.dim_alias[name] = name if name in declared_dims else ("?dim", name)
    env: dict[str, ex.Shape] = {name: declared[name] if name in declared else
                                (("?", name, 0), ("?", name, 1)) for name in names}  # type: ignore[misc]
    symmetric = frozenset(symmetric)
    _unify_symmetric(u, env, symmetric)
    shape_of_node(expression, env, u)
    # Name the fresh dimensions in order of appearance, avoiding every name in sight.
    taken = set(names) | declared_dims | expression.dim_names()
    fresh_names = _name_fresh(u, env, names, [p for p in _FRESH_POOL if p not in taken] +
                              [f"k{i}" for i in range(1, 100)])
    aliases: dict[str, ex.Dim] = {}
    for alias, term in u.dim_alias.items():
        v = u.value(term)
        aliases[alias] = fresh_names[v] if u.is_fresh(v) else v  # type: ignore[assignment]
    return Typing({n: _resolve(u, env[n], fresh_names) for n in names}, symmetric, text, {}, aliases)


def _unify_symmetric(u: Unifier, env: Mapping[str, ex.Shape], symmetric: frozenset[str]) -> None:
    for name in symmetric:
        if name not in env:
            raise OptionError(f"symmetric names `{name}`, which the expression does not have")
        try:
            u.unify(env[name][0], env[name][1], None, "")
        except ShapeError:
            raise ShapeError(f"`{name}` is declared symmetric but its shape is {format_shape(env[name])}",
                             hint="a symmetric matrix is square") from None


def _name_fresh(u: Unifier, env: Mapping[str, ex.Shape], names: list[str], pool: list[str]) -> dict[object, str]:
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
