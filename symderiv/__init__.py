"""symderiv: matrix-calculus gradients, derived symbolically and proved exactly.

The public API is imported lazily so that ``import symderiv`` (and the command
line's ``--help``) stays fast; SymPy is loaded only when a feature needs it.

>>> import symderiv
>>> symderiv.verify("W @ X", wrt="W", claim="G @ X.T", shapes={"W": (3, 2), "X": (2, 4)}).holds
True
"""

from __future__ import annotations

import importlib
from typing import Any

from symderiv.core.errors import (
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
    "verify": ("proofs.verification", "verify"),
    "Verdict": ("proofs.verification", "Verdict"),
    "gradient": ("proofs.gradient", "gradient"),
    "Gradient": ("autodiff.backprop", "Gradient"),
    "derive": ("explain.derivation", "derive"),
    "derive_hvp": ("explain.second", "derive_hvp"),
    "Derivation": ("explain.derivation", "Derivation"),
    "Step": ("explain.derivation", "Step"),
    "parse": ("syntax.language", "parse"),
    "hvp": ("proofs.hessian", "hvp"),
    "hessian": ("proofs.hessian", "hessian"),
    "SecondDerivative": ("proofs.hessian", "SecondDerivative"),
}

__all__ = [
    "BudgetError", "DerivationError", "NameKindError", "OptionError", "ParseError", "ShapeError",
    "SymderivError", "TimeoutError", "UnsupportedError", "__version__", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symderiv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

