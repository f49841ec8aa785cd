"""Named functions recognised from their expansions, read from the registry.

A row of :mod:`symderiv.ops.elementwise` may list identities ``f(z) = text`` (``expansions``), such as
``sigmoid(z) = exp(z) / (1 + exp(z))``. Each is brought to the simplifier's canonical form and to the
rational normal form of :mod:`symderiv.autodiff.products`; wherever the factors of an instance of it
(``z`` bound by matching one factor) appear among the factors of a product, they are replaced by
``f(u)``. A :class:`~symderiv.ops.base.MatrixOp` may list expansions the same way, over ``A`` and with the
parameters of the call (``softmax(A, axis=1) = exp(A) / sum(exp(A), axis=1)``); an instance is replaced by the
call. Nothing here names a function: the table is the registry's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from symderiv.autodiff.canon import Canonical
from symderiv.autodiff.products import Factors, build, factors, size
from symderiv.core import expr as ex
from symderiv.ops import call, elementwise, language_functions, matrix_ops
from symderiv.syntax.derivatives import ARGUMENT, substitute
from symderiv.syntax.language import parse

Canonicalise = Callable[[ex.Expr], ex.Expr]
_Z = ex.Symbol(ARGUMENT)


@dataclass(frozen=True)
class Pattern:
    """One expansion of ``fn``: its canonical tree over ``z`` and its factors; ``params`` (a matrix operation's
    parameters) is None for an elementwise function."""

    fn: str
    tree: ex.Expr
    coefficient: Fraction
    parts: tuple[tuple[ex.Expr, int], ...]
    params: tuple[tuple[str, int], ...] | None = None

    def named(self, argument: ex.Expr) -> ex.Expr:
        """The function (or operation) applied to ``argument``."""
        if self.params is None:
            return ex.Apply(argument, fn=self.fn)
        return call(self.fn, argument, **dict(self.params))


_PATTERNS: list[Pattern] = []


def patterns(canonicalise: Canonicalise) -> list[Pattern]:
    """The registry's expansions, most factors first (built once).

    >>> from symderiv.autodiff.simplify import Simplifier
    >>> sorted({p.fn for p in patterns(Simplifier(recognise=False).simplify)})[:3]
    ['sigmoid', 'softmax', 'softplus']
    """
    if not _PATTERNS:
        found = []
        for name in language_functions():
            for text in elementwise(name).expansions:
                tree = canonicalise(parse(text))
                c, parts = factors(tree)
                found.append(Pattern(name, tree, c, tuple(parts.items())))
        for name, op in matrix_ops().items():
            for text, params in op.expansions:
                tree = canonicalise(substitute(parse(text), {"A": _Z}))
                c, parts = factors(tree)
                found.append(Pattern(name, tree, c, tuple(parts.items()), tuple(params.items())))
        _PATTERNS.extend(sorted(found, key=lambda p: -len(p.parts)))
    return _PATTERNS


def _has_z(node: ex.Expr) -> bool:
    return any(n == _Z for n in node.walk())


def unify(pattern: ex.Expr, subject: ex.Expr, binding: dict[str, ex.Expr], canonicalise: Canonicalise) -> bool:
    """Extend ``binding`` (of ``z``) so that ``pattern`` is ``subject``; ``-P`` matches ``S`` when ``P`` matches ``-S``."""
    if pattern == _Z:
        if ARGUMENT in binding:
            return binding[ARGUMENT] == subject
        binding[ARGUMENT] = subject
        return True
    if not _has_z(pattern):
        return pattern == subject
    if isinstance(pattern, ex.Neg):
        return unify(pattern.operand, canonicalise(ex.Neg(subject)), binding, canonicalise)
    kids = subject.children()
    if type(pattern) is not type(subject) or len(kids) != len(pattern.children()):
        return False
    if ex.with_children(subject, pattern.children()) != pattern:
        return False  # another function, axis, exponent
    return all(unify(p, s, binding, canonicalise) for p, s in zip(pattern.children(), kids, strict=True))


def _match(pattern: Pattern, parts: Factors, canonicalise: Canonicalise) -> tuple[Fraction, Factors] | None:
    """``parts`` with one instance of ``pattern`` replaced by ``f(u)``, and the coefficient it takes out."""
    for base, exponent in pattern.parts:
        if not _has_z(base):
            continue
        for subject, have in parts.items():
            binding: dict[str, ex.Expr] = {}
            if have * exponent <= 0 or not unify(base, subject, binding, canonicalise):
                continue
            c, instance = factors(canonicalise(substitute(pattern.tree, binding)))
            if c == 0 or any(parts.get(b, 0) * e <= 0 or abs(parts[b]) < abs(e) for b, e in instance.items()):
                continue
            rest = dict(parts)
            for b, e in instance.items():
                rest[b] -= e
            named = pattern.named(binding[ARGUMENT])
            rest[named] = rest.get(named, 0) + 1
            return 1 / c, {b: e for b, e in rest.items() if e != 0}
    return None


def recognise(canon: Canonical, node: ex.Expr, canonicalise: Canonicalise, table: list[Pattern]) -> ex.Expr | None:
    """``node`` with the expansions of named functions among its factors written as the functions (None: none).

    >>> from symderiv.autodiff.simplify import Simplifier
    >>> from symderiv.syntax.printing import to_text
    >>> plain = Simplifier(recognise=False).simplify
    >>> to_text(recognise(Canonical(), parse("y * exp(-u) / (1 + exp(-u))"), plain, patterns(plain)))
    'y * sigmoid(-u)'
    """
    coefficient, parts = factors(node)
    found = False
    for _ in range(8):  # each match removes factors: a few rounds are all there can be
        step = next((m for p in table if (m := _match(p, parts, canonicalise)) is not None), None)
        if step is None:
            break
        coefficient, parts, found = coefficient * step[0], step[1], True
    if not found:
        return None
    rebuilt = build(canon, coefficient, parts, node)
    return rebuilt if rebuilt is not None and size(rebuilt) < size(node) else None


__all__ = ["Pattern", "patterns", "recognise", "unify"]
