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

from fractions import Fraction
from typing import Any

from symderiv.core import expr as ex
from symderiv.core.errors import ShapeError, SymderivError, UnsupportedError
from symderiv.proofs.exact.entrywise import Instance, Matrix

# The SymPy classes whose language name differs from their class name.
_RENAMED = {"Abs": "abs", "Heaviside": "step"}


class _SympyEvaluator:
    """Evaluates an :class:`~symderiv.core.expr.Expr` as a SymPy matrix on the instance's concrete shapes."""

    def __init__(self, instance: Instance):
        import sympy

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

    def evaluate(self, node: ex.Expr) -> Any:
        method = getattr(self, "_eval_" + type(node).__name__)
        self.instance.deadline()
        return method(node)

    def _eval_Symbol(self, node: ex.Symbol) -> Any:
        return self.matrix_symbol(node.name)

    def _eval_Number(self, node: ex.Number) -> Any:
        v = Fraction(node.value)
        return self.sp.Matrix([[self.sp.Rational(v.numerator, v.denominator)]])

    def _eval_ConstMatrix(self, node: ex.ConstMatrix) -> Any:
        rows, cols = self.instance._dim(node.rows), self.instance._dim(node.cols)
        if node.kind == "ones":
            return self.sp.ones(rows, cols)
        if node.kind == "zeros":
            return self.sp.zeros(rows, cols)
        return self.sp.eye(rows)

    def _eval_MatMul(self, node: ex.MatMul) -> Any:
        a, b = self.evaluate(node.left), self.evaluate(node.right)
        if a.shape[1] != b.shape[0]:
            raise ShapeError(f"cannot multiply {a.shape[0]}×{a.shape[1]} @ {b.shape[0]}×{b.shape[1]}")
        return a * b

    def _broadcast(self, node: ex.Binary, op) -> Any:
        a, b = self.evaluate(node.left), self.evaluate(node.right)
        (ra, ca), (rb, cb) = a.shape, b.shape
        rows, cols = max(ra, rb), max(ca, cb)
        if ra not in (1, rows) or rb not in (1, rows) or ca not in (1, cols) or cb not in (1, cols):
            raise ShapeError(f"cannot broadcast {ra}×{ca} with {rb}×{cb}")
        return self.sp.Matrix(rows, cols, lambda i, j: op(a[i if ra > 1 else 0, j if ca > 1 else 0],
                                                         b[i if rb > 1 else 0, j if cb > 1 else 0]))

    def _eval_Add(self, node: ex.Add) -> Any:
        return self._broadcast(node, lambda x, y: x + y)

    def _eval_Sub(self, node: ex.Sub) -> Any:
        return self._broadcast(node, lambda x, y: x - y)

    def _eval_Mul(self, node: ex.Mul) -> Any:
        return self._broadcast(node, lambda x, y: x * y)

    def _eval_Div(self, node: ex.Div) -> Any:
        return self._broadcast(node, lambda x, y: x / y)

    def _eval_Neg(self, node: ex.Neg) -> Any:
        return -self.evaluate(node.operand)

    def _eval_Power(self, node: ex.Power) -> Any:
        return self.evaluate(node.operand).applyfunc(lambda x: x ** node.exponent)

    def _eval_Transpose(self, node: ex.Transpose) -> Any:
        return self.evaluate(node.operand).T

    def _eval_Apply(self, node: ex.Apply) -> Any:
        from symderiv.backends.to_sympy import function

        fn = function(node.fn)
        return self.evaluate(node.operand).applyfunc(lambda x: fn(x))

    def _eval_Trace(self, node: ex.Trace) -> Any:
        return self.sp.Matrix([[self.evaluate(node.operand).trace()]])

    def _det(self, m: Any) -> Any:
        # Berkowitz needs no division, so a determinant of symbols stays a polynomial.
        return m.det(method="berkowitz")

    def _eval_Det(self, node: ex.Det) -> Any:
        return self.sp.Matrix([[self._det(self.evaluate(node.operand))]])

    def _eval_LogDet(self, node: ex.LogDet) -> Any:
        from symderiv.backends.to_sympy import function

        d = self._det(self.evaluate(node.operand))
        if d == 0:
            raise SymderivError("logdet of a matrix whose determinant is identically zero")
        return self.sp.Matrix([[function("logabs")(d)]])

    def _eval_Inv(self, node: ex.Inv) -> Any:
        m = self.evaluate(node.operand)
        d = self._det(m)
        if self.sp.expand(d) == 0:
            raise SymderivError("inverse of a matrix that is identically singular",
                                hint="a singular inverse or a division by zero cannot be differentiated")
        return m.adjugate(method="berkowitz") / d

    def _eval_Sum(self, node: ex.Sum) -> Any:
        m = self.evaluate(node.operand)
        rows, cols = m.shape
        if node.axis is None:
            return self.sp.Matrix([[self.sp.Add(*m)]])
        if node.axis == 0:
            return self.sp.Matrix([[self.sp.Add(*m[:, j]) for j in range(cols)]])
        return self.sp.Matrix([[self.sp.Add(*m[i, :])] for i in range(rows)])

    def _eval_MatPow(self, node: ex.MatPow) -> Any:
        m = self.evaluate(node.operand)
        result = self.sp.eye(m.shape[0])
        for _ in range(node.k):
            result = result * m
        return result


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
        import sympy

        from symderiv.backends.to_sympy import function

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
        self.function = function

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

    def _convert(self, e: Any):  # noqa: C901 - one branch per SymPy node kind
        from symderiv.proofs.exact.algebra import Ratio

        sp = self.sp
        if e.is_Rational:
            return Ratio.const(Fraction(int(e.p), int(e.q)))
        if e is sp.E:
            return self.apply("exp", Ratio.const(1))
        if e.is_Number or e.is_NumberSymbol or e in (sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise self.refuse(e, f"the number {e}")
        if e.is_Symbol:
            var = self.variable_of.get(e)
            if var is None:
                raise self.refuse(e, f"the unknown symbol {e}")
            return Ratio.var(var)
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
            base, exponent = e.args
            if exponent.is_Integer:
                return self(base).power(int(exponent))
            if exponent.is_Rational and exponent.q == 2:
                # x**(p/2) is sqrt(x)**p: SymPy writes sqrt as a power.
                return self.apply("sqrt", self(base)).power(int(exponent.p))
            if base is sp.E:
                return self.apply("exp", self(exponent))
            raise self.refuse(e, "a power with a non-integer exponent")
        if isinstance(e, (sp.re, sp.conjugate)):
            return self(e.args[0])  # every value here is real
        if isinstance(e, sp.im):
            return Ratio({})
        if isinstance(e, sp.Heaviside):
            if len(e.args) > 1 and e.args[1] != sp.Rational(1, 2):
                raise self.refuse(e, "Heaviside with a value at 0 other than 1/2")
            return self.apply("step", self(e.args[0]))
        if isinstance(e, sp.DiracDelta):
            raise self.refuse(e, "a Dirac delta (the derivative of step or sign)")
        if isinstance(e, sp.Function) and len(e.args) == 1:
            cls = type(e)
            name = _RENAMED.get(cls.__name__, cls.__name__)
            if self.function(name) is not cls:
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
    import sympy as sp

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
