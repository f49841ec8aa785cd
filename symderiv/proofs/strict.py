"""Strict proofs: SymPy differentiates ``f(D(V))`` itself, so the chain rule is checked too.

The default prover (:func:`symderiv.proofs.exact.prover.loss_gradient`) writes the loss as
``L = Σ G[i,j] D[i,j]`` -- the multivariate chain rule, taken on trust. Strict
mode does not: it builds ``D`` as a SymPy matrix of real symbols, forms
``L = f(D[0,0], D[0,1], …)`` with an undefined SymPy function ``f`` (or
``L = D[0,0]`` when ``D`` is ``1×1``), and lets :func:`sympy.diff` produce
``∂L/∂V[d,c]``. SymPy writes the partial derivatives of ``f`` as
``Subs(Derivative(f(…, ξ_k, …), ξ_k), ξ_k, D[k])`` (or ``Derivative(f(…), x)``
when the argument is a lone symbol); each one is mapped back to the upstream
entry ``G[i,j]`` by its *argument position* ``k = i·cols + j``, after checking
that the other arguments are exactly ``D``'s entries. The result is converted
back into the prover's exact values (:class:`~symderiv.proofs.exact.algebra.Ratio`) over the
same variables the claim uses, and compared as usual.

All symbols are real, and every function of the language is real-valued on its
domain, so SymPy's ``re(u)``, ``im(u)`` and ``conjugate(u)`` (which it writes for
``abs`` of a function whose realness it cannot see) are read as ``u``, ``0`` and
``u``. Anything else SymPy may leave (``DiracDelta``, an unevaluated
``Derivative``, a symbolic exponent) is refused with :class:`UnsupportedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from symderiv.backends.to_sympy import function, name_of, name_of_power
from symderiv.backends.walk import Interpreter
from symderiv.core import expr as ex
from symderiv.core.errors import ShapeError, SymderivError, UnsupportedError
from symderiv.ops import Elementwise
from symderiv.proofs.exact.algebra import Ratio
from symderiv.proofs.exact.entrywise import Instance, Matrix


class _ZeroArgument(SymderivError):
    """A function without a SymPy value, outside its domain at an argument that is identically zero."""


class _SympyEvaluator(Interpreter[Any]):
    """Evaluates an :class:`~symderiv.core.expr.Expr` as a SymPy matrix on the instance's concrete shapes."""

    def __init__(self, instance: Instance):
        import sympy  # type: ignore[import-untyped]

        super().__init__()
        self.sp = sympy
        self.instance = instance
        self.symbol_of: dict[int, Any] = {}  # prover variable id → SymPy symbol
        self.variable_of: dict[Any, int] = {}  # and back

    def entry_symbol(self, var: int) -> Any:
        found = self.symbol_of.get(var)
        if found is None:
            # The registry's names ("W[0,1]") are unique per variable; symmetric aliases share one.
            found = self.sp.Symbol(self.instance.vars.names[var], real=True)
            self.symbol_of[var] = found
            self.variable_of[found] = var
        return found

    def matrix_symbol(self, name: str) -> Any:
        rows = self.instance.symbol(name)
        return self.sp.Matrix([[self.entry_symbol(_var_of(x)) for x in row] for row in rows])

    def visit(self, node: ex.Expr, args: list[Any]) -> Any:
        self.instance.deadline()
        return super().visit(node, args)

    def shape(self, node: ex.Expr) -> ex.Shape:
        rows, cols = self.evaluate(node).shape
        return int(rows), int(cols)

    def call(self, node: ex.Call, args: list[Any]) -> Any:
        try:
            return super().call(node, args)
        except _ZeroArgument:
            raise SymderivError(f"{node.op} of a matrix whose determinant is identically zero") from None

    def symbol(self, node: ex.Symbol) -> Any:
        return self.matrix_symbol(node.name)

    def number(self, node: ex.Number) -> Any:
        v = Fraction(node.value)
        return self.sp.Matrix([[self.sp.Rational(v.numerator, v.denominator)]])

    def constant(self, node: ex.ConstMatrix) -> Any:
        rows, cols = self.instance._dim(node.rows), self.instance._dim(node.cols)
        if node.kind == "ones":
            return self.sp.ones(rows, cols)
        if node.kind == "zeros":
            return self.sp.zeros(rows, cols)
        return self.sp.eye(rows)

    def matmul(self, node: ex.MatMul, a: Any, b: Any) -> Any:
        if a.shape[1] != b.shape[0]:
            raise ShapeError(f"cannot multiply {a.shape[0]}×{a.shape[1]} @ {b.shape[0]}×{b.shape[1]}")
        return a * b

    def _broadcast(self, a: Any, b: Any, op: Callable[[Any, Any], Any]) -> Any:
        (ra, ca), (rb, cb) = a.shape, b.shape
        rows, cols = max(ra, rb), max(ca, cb)
        if ra not in (1, rows) or rb not in (1, rows) or ca not in (1, cols) or cb not in (1, cols):
            raise ShapeError(f"cannot broadcast {ra}×{ca} with {rb}×{cb}")
        return self.sp.Matrix(rows, cols, lambda i, j: op(a[i if ra > 1 else 0, j if ca > 1 else 0],
                                                         b[i if rb > 1 else 0, j if cb > 1 else 0]))

    def add(self, node: ex.Add, a: Any, b: Any) -> Any:
        return self._broadcast(a, b, lambda x, y: x + y)

    def sub(self, node: ex.Sub, a: Any, b: Any) -> Any:
        return self._broadcast(a, b, lambda x, y: x - y)

    def mul(self, node: ex.Mul, a: Any, b: Any) -> Any:
        return self._broadcast(a, b, lambda x, y: x * y)

    def div(self, node: ex.Div, a: Any, b: Any) -> Any:
        return self._broadcast(a, b, lambda x, y: x / y)

    def neg(self, node: ex.Neg, a: Any) -> Any:
        return -a

    def power(self, node: ex.Power, a: Any) -> Any:
        return a.applyfunc(lambda x: x ** node.exponent)

    def transpose(self, node: ex.Transpose, a: Any) -> Any:
        return a.T

    def apply(self, node: ex.Apply, row: Elementwise, a: Any) -> Any:
        fn = function(row.name)
        if row.sympy is None and row.domain != "real" and any(x == 0 for x in a):
            # An undefined SymPy function stays f(0) where the row has no value: refused, as the exact mode does.
            raise _ZeroArgument(f"{row.name} of an expression that is identically zero")
        return a.applyfunc(lambda x: fn(x))

    def trace(self, node: ex.Trace, a: Any) -> Any:
        return self.sp.Matrix([[a.trace()]])

    def _det(self, m: Any) -> Any:
        # Berkowitz needs no division, so a determinant of symbols stays a polynomial.
        return m.det(method="berkowitz")

    def det(self, node: ex.Det, a: Any) -> Any:
        return self.sp.Matrix([[self._det(a)]])

    def inv(self, node: ex.Inv, m: Any) -> Any:
        d = self._det(m)
        if self.sp.expand(d) == 0:
            raise SymderivError("inverse of a matrix that is identically singular",
                                hint="a singular inverse or a division by zero cannot be differentiated")
        return m.adjugate(method="berkowitz") / d

    def sum(self, node: ex.Sum, m: Any) -> Any:
        rows, cols = m.shape
        if node.axis is None:
            return self.sp.Matrix([[self.sp.Add(*m)]])
        if node.axis == 0:
            return self.sp.Matrix([[self.sp.Add(*m[:, j]) for j in range(cols)]])
        return self.sp.Matrix([[self.sp.Add(*m[i, :])] for i in range(rows)])


def _var_of(entry) -> int:
    (mono,) = entry.num
    return mono[0]


class _Converter:
    """SymPy expression → :class:`Ratio` over the instance's variables (atoms for function applications).

    ``loss`` is ``f(D[0,0], …)`` (or ``None`` for a scalar expression); every
    ``Subs``/``Derivative`` of ``f`` met on the way becomes the upstream entry
    ``G[i,j]`` of its argument position.
    """

    def __init__(self, instance: Instance, variable_of: dict[Any, int], loss: Any, upstream: Matrix):
        import sympy  # type: ignore[import-untyped]

        self.sp = sympy
        self.instance = instance
        self.variable_of = variable_of
        self.loss = loss
        self.flat = tuple(loss.args) if loss is not None else ()
        self.cols = len(upstream[0]) if upstream else 0
        self.upstream = upstream
        self.memo: dict[Any, Any] = {}
        # Subs objects hash and compare slowly (canonical dummies), so they are cached by identity.
        self.by_id: dict[int, tuple[Any, Any]] = {}

    def refuse(self, e: Any, why: str) -> UnsupportedError:
        shown = str(e)
        shown = shown if len(shown) <= 160 else shown[:160] + " …"
        return UnsupportedError(f"strict mode cannot read SymPy's result back: {why} in `{shown}`",
                                hint="use the default mode (without strict=True / --strict)")

    def __call__(self, e: Any) -> Any:
        if isinstance(e, (self.sp.Subs, self.sp.Derivative)):
            found = self.by_id.get(id(e))
            if found is None:
                found = (e, self.upstream_entry(e))  # keeps e alive, so its id stays unique
                self.by_id[id(e)] = found
            return found[1]
        found = self.memo.get(e)
        if found is None:
            found = self._convert(e)
            self.memo[e] = found
        return found

    def upstream_entry(self, obj: Any) -> Any:
        """``∂f/∂(argument k)`` at ``D`` → ``G[k // cols, k % cols]``, after checking it is exactly that."""
        sp = self.sp
        if self.loss is None:
            raise self.refuse(obj, "a derivative SymPy left unevaluated")
        if isinstance(obj, sp.Subs):
            derivative = obj.expr
            if not isinstance(derivative, sp.Derivative) or len(obj.variables) != 1:
                raise self.refuse(obj, "a substitution SymPy left unevaluated")
            variable, point = obj.variables[0], obj.point[0]
        else:
            derivative, variable, point = obj, None, None
        inner = derivative.expr
        if (getattr(inner, "func", None) != self.loss.func or len(derivative.variable_count) != 1
                or derivative.variable_count[0][1] != 1):
            raise self.refuse(obj, "a derivative SymPy left unevaluated")
        wrt_arg = derivative.variable_count[0][0]
        args = list(inner.args)
        positions = [k for k, a in enumerate(args) if a == wrt_arg]
        if len(positions) != 1 or (variable is not None and variable != wrt_arg):
            raise self.refuse(obj, "a derivative of f whose argument position is ambiguous")
        k = positions[0]
        if variable is None:
            if any(wrt_arg in a.free_symbols for n, a in enumerate(args) if n != k):
                # Derivative(f(x, g(x)), x) would be a total derivative, not the partial ∂f/∂(argument k).
                raise self.refuse(obj, "a total derivative of f")
        else:
            args[k] = point
        # The chain rule check proper: the derivative must be of f at exactly D's entries.
        if tuple(args) != self.flat:
            raise self.refuse(obj, "a derivative of f at a point other than D")
        return self.upstream[k // self.cols][k % self.cols]

    def _convert(self, e: Any) -> Any:
        sp = self.sp
        if e.is_Number or e.is_NumberSymbol or e.is_Symbol or e in (sp.zoo, sp.nan, sp.oo, -sp.oo):
            return self._atom(e)
        if e.is_Add:
            total = Ratio({})
            for a in e.args:
                total = total + self(a)
            return total
        if e.is_Mul:
            product = Ratio.const(1)
            for a in e.args:
                product = product * self(a)
            return product
        if e.is_Pow:
            return self._power(e)
        if isinstance(e, (sp.re, sp.conjugate)):
            return self(e.args[0])  # every value here is real
        if isinstance(e, sp.im):
            return Ratio({})
        return self._function(e)

    def _atom(self, e: Any) -> Any:
        sp = self.sp
        if e.is_Rational:
            return Ratio.const(Fraction(int(e.p), int(e.q)))
        if e is sp.E:
            return self.apply(self._named(sp.exp, e), Ratio.const(1))
        if e.is_Symbol:
            var = self.variable_of.get(e)
            if var is None:
                raise self.refuse(e, f"the unknown symbol {e}")
            return Ratio.var(var)
        raise self.refuse(e, f"the number {e}")

    def _named(self, cls: Any, e: Any) -> str:
        """The elementwise name of a SymPy function class that SymPy may write on its own."""
        name = name_of(cls)
        if name is None:  # pragma: no cover - the registry has every function SymPy writes for ours
            raise self.refuse(e, f"the function {cls.__name__}")
        return name

    def _power(self, e: Any) -> Any:
        sp = self.sp
        base, exponent = e.args
        if exponent.is_Integer:
            return self(base).power(int(exponent))
        if exponent.is_Rational and exponent.q == 2:
            # x**(p/2) is sqrt(x)**p: SymPy writes sqrt as a power.
            root = name_of_power(sp.Rational(1, 2))
            if root is not None:
                return self.apply(root, self(base)).power(int(exponent.p))
        if base is sp.E:
            return self.apply(self._named(sp.exp, e), self(exponent))
        raise self.refuse(e, "a power with a non-integer exponent")

    def _function(self, e: Any) -> Any:
        sp = self.sp
        if isinstance(e, sp.Heaviside):
            if len(e.args) > 1 and e.args[1] != sp.Rational(1, 2):
                raise self.refuse(e, "Heaviside with a value at 0 other than 1/2")
            return self.apply(self._named(sp.Heaviside, e), self(e.args[0]))
        if isinstance(e, sp.DiracDelta):
            raise self.refuse(e, "a Dirac delta (the derivative of step or sign)")
        if isinstance(e, sp.Function) and len(e.args) == 1:
            cls = type(e)
            name = name_of(cls)
            if name is None:
                raise self.refuse(e, f"the function {cls.__name__}")
            if name.endswith("_prime_prime"):
                raise self.refuse(e, "a second derivative of a generic function")
            return self.apply(name, self(e.args[0]))
        raise self.refuse(e, f"a {type(e).__name__}")

    def apply(self, fn: str, arg: Any) -> Any:
        # Instance.apply folds constants (relu(2) = 2) exactly as the default mode does.
        return self.instance.apply(fn, arg)


def strict_gradient(instance: Instance, expression: ex.Expr, wrt: str, upstream: str) -> Matrix:
    """∂L/∂wrt with SymPy doing the differentiation of ``f(D(wrt))``, as prover values.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.shapes import infer_shapes
    >>> from symderiv.proofs.exact.prover import format_ratio
    >>> e = parse("W @ X")
    >>> inst = Instance(infer_shapes(e, {"W": (1, 2), "X": (2, 2)}))
    >>> grad = strict_gradient(inst, e, "W", "G")
    >>> format_ratio(inst.vars, grad[0][1])
    'X[1,0]*G[0,0] + X[1,1]*G[0,1]'
    """
    import sympy as sp  # type: ignore[import-untyped]

    evaluator = _SympyEvaluator(instance)
    value = evaluator.evaluate(expression)
    if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise SymderivError("the expression divides by zero on these shapes",
                            hint="a singular inverse or a division by zero cannot be differentiated")
    rows, cols = value.shape
    target = evaluator.matrix_symbol(wrt)
    flat = list(value)  # row-major: argument k of f is D[k // cols, k % cols]
    if (rows, cols) == (1, 1):
        loss = flat[0]
        g_matrix: Matrix = []
    else:
        loss = sp.Function("f")(*flat)
        g_matrix = instance.symbol(upstream, (rows, cols))
    derivatives = []
    for symbol in target:
        instance.deadline()
        derivatives.append(sp.diff(loss, symbol))
    convert = _Converter(instance, evaluator.variable_of, loss if g_matrix else None, g_matrix)
    out: Matrix = []
    wr, wc = target.shape
    for i in range(wr):
        row = []
        for j in range(wc):
            instance.deadline()
            try:
                row.append(convert(derivatives[i * wc + j]))
            except ZeroDivisionError as err:
                raise SymderivError(f"strict mode: {err}",
                                    hint="a singular inverse or a division by zero cannot be differentiated"
                                    ) from None
        out.append(row)
    return out


__all__ = ["strict_gradient"]
