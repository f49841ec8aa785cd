"""symderiv: matrix-calculus gradients, derived symbolically and proved exactly.

The public API is imported lazily so that ``import symderiv`` (and the command
line's ``--help``) stays fast; SymPy is loaded only when a feature needs it.

>>> import symderiv
>>> symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (3, 2), "X": (2, 4)}).holds
True
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .errors import (
    BudgetError,
    DerivationError,
    NameKindError,
    OptionError,
    ParseError,
    ShapeError,
    SymderivError,
    TimeoutError,
    UnsupportedError,
)

__version__ = "0.1.0"

_LAZY = {
    "verify": ("verify", "verify"),
    "Verdict": ("verify", "Verdict"),
    "gradient": ("gradient", "gradient"),
    "Gradient": ("gradient", "Gradient"),
    "derive": ("derivation", "derive"),
    "Derivation": ("derivation", "Derivation"),
    "Step": ("derivation", "Step"),
    "parse": ("language", "parse"),
}

__all__ = [
    "BudgetError", "DerivationError", "NameKindError", "OptionError", "ParseError", "ShapeError",
    "SymderivError", "TimeoutError", "UnsupportedError", "__version__", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symderiv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """Keeps ``symderiv.verify`` / ``symderiv.gradient`` the functions once their submodules are imported.

    Python sets a submodule as an attribute of its package when it is first imported
    (``from symderiv.verify import Verdict``), which would shadow the function of
    the same name; such an assignment is dropped so ``__getattr__`` serves the function.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
