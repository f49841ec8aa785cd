"""``softmax`` and ``log_softmax`` along an axis: exp-quotients, proved exactly as such.

``softmax(A, axis=1)`` is ``exp(A) / sum(exp(A), axis=1)`` and ``log_softmax(A, axis=1)`` is
``A - log(sum(exp(A), axis=1))``; every engine evaluates those expansions (the exact prover with one
atom per ``exp`` of an entry, as for sigmoid). The backward rules are the classic ones:
``S * (G - sum(G * S, axis))`` and ``G - S * sum(G, axis)`` with ``S`` the softmax.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symderiv.core import expr as ex
from symderiv.ops.base import MatrixOp, Params, call
from symderiv.ops.reductions import AXIS, axis_latex


def _exp(a: ex.Expr) -> ex.Expr:
    return ex.Apply(a, fn="exp")


def _axis(node: ex.Call) -> int:
    return 1 if node.param("axis") == 1 else 0


def _softmax_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    # dS = S * (dA - sum(S * dA, axis)), and the Jacobian is symmetric: S * (G - sum(G * S, axis)).
    axis = _axis(node)
    return (ex.Mul(node, ex.Sub(g, ex.Sum(ex.Mul(g, node), axis=axis))),)


def _log_softmax_vjp(node: ex.Call, g: ex.Expr) -> tuple[ex.Expr | None, ...]:
    # d log S = dA - sum(S * dA, axis): the transpose gives G - S * sum(G, axis).
    a, axis = node.args[0], _axis(node)
    return (ex.Sub(g, ex.Mul(call("softmax", a, axis=axis), ex.Sum(g, axis=axis))),)


def _softmax_numpy(np: Any, args: Sequence[Any], params: Params) -> Any:
    a, axis = args[0], params["axis"]
    e = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_numpy(np: Any, args: Sequence[Any], params: Params) -> Any:
    a, axis = args[0], params["axis"]
    shifted = a - np.max(a, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


SOFTMAX = MatrixOp(
    "softmax", "exp(A) / sum(exp(A), axis): down each column (axis=0) or along each row (axis=1)", arity=1,
    params=(AXIS,), form="softmax(A, axis=0|1)", shape=lambda rule, shapes, params: shapes[0],
    expand=lambda args, shapes, params: ex.Div(_exp(args[0]), ex.Sum(_exp(args[0]), axis=int(params["axis"]))),
    vjp=_softmax_vjp, latex=lambda p, node: axis_latex(p, "softmax", node), noun="the softmax",
    numpy=_softmax_numpy,
    expansions=tuple((f"exp(A) / sum(exp(A), axis={k})", {"axis": k}) for k in (0, 1)),
)

LOG_SOFTMAX = MatrixOp(
    "log_softmax", "A - log(sum(exp(A), axis)), the log of the softmax", arity=1,
    params=(AXIS,), form="log_softmax(A, axis=0|1)", shape=lambda rule, shapes, params: shapes[0],
    expand=lambda args, shapes, params: ex.Sub(
        args[0], ex.Apply(ex.Sum(_exp(args[0]), axis=int(params["axis"])), fn="log")),
    vjp=_log_softmax_vjp, latex=lambda p, node: axis_latex(p, "log\\_softmax", node), noun="the log-softmax",
    numpy=_log_softmax_numpy,
)

OPS = (SOFTMAX, LOG_SOFTMAX)

__all__ = ["LOG_SOFTMAX", "OPS", "SOFTMAX"]
