"""Planning a derivation: cut the expression into blocks at its non-polynomial nodes and name them.

A block boundary is a node through which ``wrt`` flows and whose entries are not polynomials of its
operand's entries: an elementwise function, ``inv``, ``det``, a division by the variable, a negative
power, or a registry operation that index notation differentiates by a lemma (its ``vjp``). Each block's
output gets a letter by its kind (``D`` for a single product, ``Z`` for an affine map, ``A`` for an
activation, ``R`` for the residual under a power, ``L`` for a scalar loss), numbered from the innermost when
a letter repeats.

>>> from symderiv.syntax.language import parse
>>> plan = plan_blocks(parse("phi(W @ X + b)", functions=["phi"]), "W", False, {"W", "X", "b"})
>>> plan.order, plan.definitions["A"]
(('A', 'Z'), Apply(operand=Symbol(name='Z'), fn='phi'))
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from symderiv import ops
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError
from symderiv.proofs.index import contains
from symderiv.syntax.derivatives import substitute

#: Primitives whose entries are not polynomials of their operand's entries.
_NONPOLY = (ex.Apply, ex.Inv, ex.Det)

#: The names tried for a block's output, by its letter.
_CANDIDATES = {"D": "DEFYPQ", "Z": "ZYUVPQ", "A": "AHSFRT", "U": "UPQRTY", "R": "RUVPQT"}


def cuts(node: ex.Expr, wrt: str) -> bool:
    """Whether ``node`` is a non-polynomial node through which ``wrt`` flows (a block boundary).

    >>> from symderiv.syntax.language import parse
    >>> cuts(parse("inv(W)"), "W"), cuts(parse("W @ X"), "W"), cuts(parse("inv(X)"), "W")
    (True, False, False)
    """
    if not contains(node, wrt):
        return False
    if isinstance(node, _NONPOLY):
        return True
    if isinstance(node, ex.Call):
        return ops.matrix_op(node.op).index == "lemma"
    if isinstance(node, ex.Div):
        return contains(node.right, wrt)
    return isinstance(node, ex.Power) and node.exponent < 0


def _letter(node: ex.Expr, wrt: str) -> str:
    if isinstance(node, ex.Apply):
        return "A"
    return "U" if cuts(node, wrt) else "Z"


@dataclass(frozen=True)
class Plan:
    """The blocks of a derivation: each name's node and definition (inner blocks replaced by their names)."""

    names: Mapping[ex.Expr, str]
    definitions: Mapping[str, ex.Expr]
    #: Root first, each block after all blocks that use it (backprop order).
    order: tuple[str, ...]
    root: str

    @property
    def inner(self) -> list[str]:
        """The names other than the root, in backprop order."""
        return [n for n in self.order if n != self.root]

    def users(self, name: str) -> list[str]:
        """The blocks whose definition uses ``name``."""
        return [n for n in self.order if n != name and contains(self.definitions[n], name)]


@dataclass
class _Found:
    letter: str
    depth: int
    discovery: int


class _Cutter:
    """Finds the block nodes (a post-order of the cuts) and which blocks consume each."""

    def __init__(self, wrt: str) -> None:
        self.wrt = wrt
        self.found: dict[ex.Expr, _Found] = {}
        self.consumers: dict[ex.Expr, set[ex.Expr]] = {}

    def visit(self, node: ex.Expr, owner: ex.Expr, depth: int, is_root: bool, squared: bool = False) -> None:
        if not contains(node, self.wrt) or (isinstance(node, ex.Symbol) and not is_root):
            return
        # the operand of a power is named (the residual R of a squared error) rather than multiplied out
        starts = is_root or cuts(node, self.wrt) or cuts(owner, self.wrt) and owner is not node or squared
        if starts and not is_root:
            self.consumers.setdefault(node, set()).add(owner)
            if node in self.found:
                return
        if starts:
            letter = "R" if squared and isinstance(node, (ex.Add, ex.Sub)) else _letter(node, self.wrt)
            self.found[node] = _Found(letter, depth, len(self.found))
            owner, depth = node, depth + 1
        power = isinstance(node, ex.Power) and node.exponent >= 2
        for child in node.children():
            # the operand of a cut node starts a block of its own when compound
            self.visit(child, owner, depth, False, power)


def _name(found: Mapping[ex.Expr, _Found], taken: Collection[str]) -> dict[ex.Expr, str]:
    """Names by letter: the first free candidate, numbered from the innermost block when a letter repeats."""
    by_letter: dict[str, list[ex.Expr]] = {}
    for node, info in found.items():
        by_letter.setdefault(info.letter, []).append(node)
    names: dict[ex.Expr, str] = {}
    used = set(taken)
    for letter, nodes in by_letter.items():
        if letter == "L":
            names[nodes[0]] = "L"
            continue
        pool = [c for c in _CANDIDATES[letter] if c not in used]
        base = pool[0] if pool else letter + "_"
        nodes.sort(key=lambda x: (-found[x].depth, -found[x].discovery))
        for k, node in enumerate(nodes, 1):
            name = base if len(nodes) == 1 else f"{base}{k}"
            while name in used:
                name += "_"
            names[node] = name
            used.add(name)
    return names


def _order(names: Mapping[ex.Expr, str], consumers: Mapping[ex.Expr, set[ex.Expr]]) -> tuple[str, ...]:
    """A block comes after every block that consumes it."""
    order: list[str] = []
    remaining = dict(names)
    while remaining:
        for node, name in list(remaining.items()):
            if all(names[c] in order for c in consumers.get(node, ())):
                order.append(name)
                del remaining[node]
                break
        else:  # pragma: no cover - a tree has no cycles
            raise DerivationError("cyclic blocks")
    return tuple(order)


def plan_blocks(expression: ex.Expr, wrt: str, scalar: bool, taken: Collection[str]) -> Plan:
    """Cut the expression into blocks and name them (``D``, ``Z``, ``A``, numbered when repeated)."""
    cutter = _Cutter(wrt)
    cutter.visit(expression, expression, 0, True)
    found = cutter.found
    if len(found) == 1 or not cuts(expression, wrt) or scalar:
        found[expression].letter = "L" if scalar else "D"
    names = _name(found, taken)

    def lower(node: ex.Expr, is_root: bool) -> ex.Expr:
        if node in names and not is_root:
            return ex.Symbol(names[node])
        if not contains(node, wrt) or isinstance(node, ex.Symbol):
            return node
        return ex.with_children(node, [lower(c, False) for c in node.children()])

    definitions = {name: lower(node, True) for node, name in names.items()}
    # who uses whom, read off the definitions: a block met inside another before it was cut is used there too
    consumers = {node: {other for other, o in names.items() if o != name and contains(definitions[o], name)}
                 for node, name in names.items()}
    return Plan(names, definitions, _order(names, consumers), names[expression])


def expand_names(node: ex.Expr, definitions: Mapping[str, ex.Expr], depth: int) -> ex.Expr:
    """``node`` with the named blocks replaced by their definitions, ``depth`` levels deep.

    >>> from symderiv.syntax.language import parse
    >>> expand_names(parse("inv(Z)"), {"Z": parse("W @ X")}, 1)
    Inv(operand=MatMul(left=Symbol(name='W'), right=Symbol(name='X')))
    """
    mapping = dict(definitions)
    for _ in range(depth):  # each pass opens one level of names
        node = substitute(node, mapping)
    return node


__all__ = ["Plan", "cuts", "expand_names", "plan_blocks"]
