"""The registry: one definition per operation.

Every module of this package registers its entries when imported (``ROWS`` of elementwise functions,
``OPS`` of matrix operations); adding an operation is adding an entry to one module here. Engines
look entries up with :func:`elementwise` and :func:`matrix_op`; an unknown name is an error
everywhere, never a silent fallback.

>>> elementwise("sqrt").derivative
'1 / (2 * y)'
>>> matrix_op("matpow").scalar
False
"""

from __future__ import annotations

import importlib
import pkgutil

from symderiv.core.errors import UnsupportedError
from symderiv.ops.base import Elementwise, MatrixOp, Param, call
from symderiv.ops.elementwise import generic

_ELEMENTWISE: dict[str, Elementwise] = {}
_MATRIX_OPS: dict[str, MatrixOp] = {}


def _load() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for row in getattr(module, "ROWS", ()):
            if row.name in _ELEMENTWISE or row.name in _MATRIX_OPS:
                raise RuntimeError(f"symderiv.ops: {row.name} is defined twice")
            _ELEMENTWISE[row.name] = row
        for op in getattr(module, "OPS", ()):
            if op.name in _ELEMENTWISE or op.name in _MATRIX_OPS:
                raise RuntimeError(f"symderiv.ops: {op.name} is defined twice")
            _MATRIX_OPS[op.name] = op


_load()


def elementwise(name: str) -> Elementwise:
    """The row of an elementwise function: a built-in one, or a generic one (any other name, which the
    parser admits only when declared with ``functions=[...]``; its derivative is ``name_prime``).

    >>> elementwise("exp").derivative, elementwise("phi").derivative
    ('y', 'phi_prime(z)')
    """
    row = _ELEMENTWISE.get(name)
    if row is not None:
        return row
    if not name.isidentifier() or name in _MATRIX_OPS:
        raise UnsupportedError(f"`{name}` is not an elementwise function")
    return generic(name)


def is_builtin(name: str) -> bool:
    """Whether ``name`` is an elementwise function of the table (internal ones included)."""
    return name in _ELEMENTWISE


def matrix_op(name: str) -> MatrixOp:
    """The entry of a matrix operation defined over the primitives.

    >>> matrix_op("matpow").params[0].name
    'k'
    """
    try:
        return _MATRIX_OPS[name]
    except KeyError:
        raise UnsupportedError(f"`{name}` is not an operation of symderiv") from None


def language_functions() -> dict[str, str]:
    """The elementwise functions a user may call, with a word on each.

    >>> "sqrt" in language_functions(), "logabs" in language_functions()
    (True, False)
    """
    return {r.name: r.description for r in _ELEMENTWISE.values() if not r.internal}


def matrix_ops() -> dict[str, MatrixOp]:
    """All registered matrix operations by name."""
    return dict(_MATRIX_OPS)


__all__ = ["Elementwise", "MatrixOp", "Param", "call", "elementwise", "is_builtin", "language_functions",
           "matrix_op", "matrix_ops"]
