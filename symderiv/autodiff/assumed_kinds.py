"""Rewrites under one kind of structure, as a table keyed by kind (used by :mod:`symderiv.autodiff.assumed`).

Each rule takes a node, looks for a symbol of its kind where it needs one, and returns the equal node under the
assumption with a sentence that says why, or None. Every rule is an identity for every matrix with the
structure, for all shapes, and ``tests/test_assumed_kinds.py`` proves each one exactly on random instances under
the assumption (and refutes it without):

- ``diagonal``: ``D * eye(n)`` and ``eye(n) * D`` are ``D`` (the entries off the diagonal are 0 already);
- ``positive``: for ``E`` a positive multiple of a product of powers of positive matrices (what the exact prover
  evaluates), ``abs(E)`` and ``relu(E)`` are ``E``, ``sign(E)`` and ``step(E)`` are ``ones``, and
  ``sqrt(E ** 2)`` and ``sqrt(E * E)`` are ``E``.

A new kind adds its rules here as one more entry of :data:`RULES_BY_KIND`.
"""

from __future__ import annotations

from collections.abc import Callable

from symderiv.core import expr as ex
from symderiv.syntax.printing import to_text

ShapeFn = Callable[[ex.Expr], ex.Shape]
#: ``symbol node → (name, kind)`` for a symbol under an assumption, else None.
KindOf = Callable[[ex.Expr], "tuple[str, str] | None"]
#: ``(node, kind_of, shape) → (equal node under the assumption, why)`` or None.
Rule = Callable[[ex.Expr, KindOf, ShapeFn], "tuple[ex.Expr, str] | None"]


def _is_eye(node: ex.Expr) -> bool:
    return isinstance(node, ex.ConstMatrix) and node.kind == "eye"


def diagonal_times_eye(node: ex.Expr, kind_of: KindOf, shape: ShapeFn) -> tuple[ex.Expr, str] | None:
    """``D * eye(n) → D`` for a diagonal ``D`` (n×n).

    >>> from symderiv.syntax.language import parse
    >>> diagonal_times_eye(parse("D * eye(3)"), lambda n: ("D", "diagonal") if n == parse("D") else None,
    ...                    lambda n: (3, 3))
    (Symbol(name='D'), 'D * eye(3) = D, since D is diagonal')
    """
    if not isinstance(node, ex.Mul):
        return None
    for d, eye in ((node.left, node.right), (node.right, node.left)):
        found = kind_of(d)
        if found is not None and found[1] == "diagonal" and _is_eye(eye) and shape(eye) == shape(d):
            assert isinstance(eye, ex.ConstMatrix)
            return d, f"{found[0]} * eye({eye.rows}) = {found[0]}, since {found[0]} is diagonal"
    return None


def _positive_names(node: ex.Expr, kind_of: KindOf) -> list[str] | None:
    """The positive matrices of ``node`` when it is a positive multiple of a product of their powers, else None."""
    if isinstance(node, ex.Number):
        return [] if node.value > 0 else None
    if isinstance(node, ex.Power):
        return _positive_names(node.operand, kind_of)
    if isinstance(node, ex.Mul):
        left, right = _positive_names(node.left, kind_of), _positive_names(node.right, kind_of)
        return None if left is None or right is None else left + right
    found = kind_of(node)
    return [found[0]] if found is not None and found[1] == "positive" else None


def _positive(node: ex.Expr, kind_of: KindOf) -> str | None:
    """A sentence naming why ``node`` is positive, or None when it is not certainly positive."""
    names = _positive_names(node, kind_of)
    if not names:
        return None
    listed = ", ".join(dict.fromkeys(names))
    return f"the entries of {listed} are positive"


def positive_functions(node: ex.Expr, kind_of: KindOf, shape: ShapeFn) -> tuple[ex.Expr, str] | None:
    """``abs(E)``, ``relu(E)`` → ``E``; ``sign(E)``, ``step(E)`` → ``ones``; ``sqrt(E ** 2)``, ``sqrt(E * E)`` → ``E``,
    for a positive ``E``.

    >>> from symderiv.syntax.language import parse
    >>> from symderiv.syntax.printing import to_text
    >>> kind = lambda n: ("P", "positive") if n == parse("P") else None
    >>> out, why = positive_functions(parse("sqrt((2 * P) ** 2)"), kind, lambda n: (2, 3))
    >>> to_text(out), why
    ('2 * P', 'sqrt((2 * P) ** 2) = 2 * P, since the entries of P are positive')
    >>> positive_functions(parse("abs(P - 1)"), kind, lambda n: (2, 3)) is None
    True
    """
    if not isinstance(node, ex.Apply):
        return None
    arg = node.operand
    if node.fn == "sqrt":
        if isinstance(arg, ex.Power) and arg.exponent == 2:
            arg = arg.operand
        elif isinstance(arg, ex.Mul) and arg.left == arg.right:
            arg = arg.left
        else:
            return None
    elif node.fn not in ("abs", "relu", "sign", "step"):
        return None
    why = _positive(arg, kind_of)
    if why is None:
        return None
    if node.fn in ("sign", "step"):
        rows, cols = shape(node)
        out: ex.Expr = ex.ConstMatrix("ones", rows, cols)
    else:
        out = arg
    return out, f"{to_text(node)} = {to_text(out)}, since {why}"


#: The rules of each kind of structure, tried on every node of a formula (bottom-up).
RULES_BY_KIND: dict[str, tuple[Rule, ...]] = {
    "diagonal": (diagonal_times_eye,),
    "positive": (positive_functions,),
}


def apply_kind_rules(node: ex.Expr, kinds: set[str], kind_of: KindOf, shape: ShapeFn) -> tuple[ex.Expr, str] | None:
    """The first rule of one of ``kinds`` that rewrites ``node`` (its result and sentence), or None.

    >>> from symderiv.syntax.language import parse
    >>> apply_kind_rules(parse("abs(P)"), {"positive"}, lambda n: ("P", "positive") if n == parse("P") else None,
    ...                  lambda n: (2, 2))
    (Symbol(name='P'), 'abs(P) = P, since the entries of P are positive')
    """
    for kind in sorted(kinds):
        for rule in RULES_BY_KIND.get(kind, ()):
            found = rule(node, kind_of, shape)
            if found is not None:
                return found
    return None


__all__ = ["RULES_BY_KIND", "Rule", "apply_kind_rules", "diagonal_times_eye", "positive_functions"]
