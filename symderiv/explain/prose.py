"""The sentences of a derivation, generated from its step data.

Each function returns :data:`~symderiv.explain.steps.Prose`: strings and math objects that the
printers format (``Matrix``, ``Ent``, ``Equation``, ...). Nothing here knows a particular function:
the derivative of an elementwise function comes from its registry row, the lemma of a matrix operation
from its ``vjp``, and its name in prose from its ``noun``.

>>> from symderiv.proofs.index import Idx
>>> and_list(["W", "X", "b"])
['W', ', ', 'X', ' and ', 'b']
>>> index_list([Idx("i", "n"), Idx("j", "m")])
[Idx(name='i', dim='n'), ' and ', Idx(name='j', dim='m')]
>>> len(index_list([Idx("k", "n"), Idx("l", "n"), Idx("p", "n")]))  # k, l and p
5
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from symderiv import ops
from symderiv.core import expr as ex
from symderiv.proofs.index import Delta, Ent, Idx, Index, IndexSum, Partial
from symderiv.syntax.derivatives import derivative_of
from symderiv.syntax.shapes import Typing

from .steps import Code, Dims, Equation, Grad, IndexEq, Matrix, Name, Prose, symbol

_ONE = ex.Number(Fraction(1))
#: The matrix and the indices that lemmas are stated over: ``∂f(M)/∂M_pq``.
_M = ex.Symbol("M")
_P, _Q = Idx("p", "n"), Idx("q", "n")


def and_list(items: Sequence[Any]) -> list[Any]:
    """``a, b and c``."""
    out: list[Any] = []
    for n, item in enumerate(items):
        if n:
            out.append(" and " if n == len(items) - 1 else ", ")
        out.append(item)
    return out


def index_list(idx: Iterable[Idx]) -> list[Any]:
    """``i and j``, ``k, l and p`` (each index a piece of math)."""
    return and_list(list(idx))


# ---------------------------------------------------------------------------
# The steps of one block


def chain_rule(ve: Ent, name: ex.Symbol, i: Index, j: Index, outer: Sequence[Idx]) -> Prose:
    """The chain rule over every entry of ``name`` (``outer``: its indices; none when it is a scalar)."""
    if not outer:
        return ("By the chain rule, ", Partial(None, ve).den, " changes ", Ent(ex.Symbol("L"), 0, 0),
                " only through the scalar ", Matrix(name), ":")
    return ("By the chain rule, ", Partial(None, ve).den, " changes ", Ent(ex.Symbol("L"), 0, 0),
            " through every entry ", Ent(name, i, j), " of ", Matrix(name), ", so we sum over ", *index_list(outer),
            ":")


def index_form(name: ex.Symbol) -> Prose:
    return ("The loss is the scalar ", Ent(name, 0, 0), "; written out entry by entry:")


def sparsity(name: ex.Symbol, form: IndexSum, i: Index, j: Index, ve: Ent, pins: Mapping[Idx, Index],
             pshape: ex.Shape) -> Prose:
    """``D_ij`` involves ``W`` only through row ``i``, so only the terms with ``i = d`` survive."""
    P, d, c = ve.expr, ve.row, ve.col
    conditions: list[Any] = []
    for k, v in pins.items():
        if conditions:
            conditions.append(" and ")
        conditions.append(IndexEq(k, v))
    rows = [k for k, v in pins.items() if v == d]
    cols = [k for k, v in pins.items() if v == c]
    where: list[Any]
    if rows and cols:
        where = ["only through the entry ", Ent(P, rows[0], cols[0])]
    elif rows and pshape[1] == 1:
        where = ["only through the entry ", Ent(P, rows[0], 0)]
    elif cols and pshape[0] == 1:
        where = ["only through the entry ", Ent(P, 0, cols[0])]
    elif rows:
        where = ["only through row ", rows[0], " of ", Matrix(P)]
    else:
        where = ["only through column ", cols[0], " of ", Matrix(P)]
    return (Equation((IndexSum.of(Ent(name, i, j)), form)), " involves ", Matrix(P), " ", *where,
            ", so ", Equation((IndexSum.of(Partial(Ent(name, i, j), ve)), IndexSum(()))), " unless ", *conditions,
            "; only those terms of the sum survive:")


def differentiate(name: ex.Symbol | None, a: Index, b: Index, form: IndexSum, ve: Ent, pshape: ex.Shape,
                  rules: Sequence[str], killed: Sequence[Idx], taken: Iterable[str] = (),
                  ranges: Mapping[str, ex.Dim] | None = None) -> Prose:
    """Differentiating term by term, with the lemmas the index engine used and the deltas it collapsed.

    ``killed``: the summed indices a Kronecker delta removed (each from a term that had it); ``taken``: the
    names that the generic indices of ``∂V_ab/∂V_dc`` must not take (matrices' names, indices in use).
    """
    prose: list[Any] = []
    if name is not None:
        prose += ["Expanding ", Equation((IndexSum.of(Ent(name, a, b)), form)), " and differentiating"]
    else:
        prose += ["Differentiating"]
    prose += [" term by term"]
    sentences: list[list[Any]] = []
    if "delta" in rules:
        in_use = {k.name for t in form.terms for k in t.sums if isinstance(k, Idx)}
        in_use |= {k.name for k in form.free_indices()} | killed_names(killed)
        sentences.append(_delta_sentence(ve, pshape, set(taken) | in_use, ranges or {}))
    for rule in rules:
        sentence = rule_sentence(rule)
        if sentence is not None and sentence not in sentences:
            sentences.append(sentence)
    for n, s in enumerate(sentences):
        prose += [", " if n == 0 else "; "] + s
    if killed:
        prose += ["; each Kronecker delta collapses the sum over " if len(killed) == 1 else
                  "; the Kronecker deltas collapse the sums over "] + index_list(killed)
    prose += [":"]
    return tuple(prose)


def killed_names(killed: Iterable[Idx]) -> set[str]:
    return {k.name for k in killed}


#: Letters for the generic entry ``V_ab`` of ``∂V_ab/∂V_dc``, in order of preference.
_GENERIC = "abefghopqrstuvwxyz"


def _delta_sentence(ve: Ent, pshape: ex.Shape, taken: set[str], ranges: Mapping[str, ex.Dim]) -> list[Any]:
    """``∂V_ab/∂V_dc = δ_ad δ_bc``, with ``a``, ``b`` letters that are no matrix's name, no index in use and
    no letter the document uses over another range (``ranges``)."""
    taken = taken | {x.name for x in (ve.row, ve.col) if isinstance(x, Idx)} | {str(ve.expr)}

    def letter(dim: ex.Dim) -> Index:
        if dim == 1:
            return 0
        name = next(x for x in _GENERIC if x not in taken and ranges.get(x, dim) == dim)
        taken.add(name)
        return Idx(name, dim)

    ga, gb = letter(pshape[0]), letter(pshape[1])
    deltas = tuple(x for x in (Delta(ga, ve.row), Delta(gb, ve.col)) if x.a != x.b)
    if not deltas:  # a scalar: ∂Z/∂Z = 1, nothing to match
        return ["with ", Equation((IndexSum.of(Partial(Ent(ve.expr, ga, gb), ve)), IndexSum.of()))]
    return ["with ", Equation((IndexSum.of(Partial(Ent(ve.expr, ga, gb), ve)), IndexSum.of(*deltas))),
            " (1 when the indices match, else 0)"]


def rule_sentence(rule: str) -> list[Any] | None:
    """The sentence for one lemma the index engine noted (None: nothing to say)."""
    if rule.startswith("elementwise:"):
        fn = rule.split(":", 1)[1]
        z = ex.Symbol("z")
        return [f"{fn} acts entry by entry, so the chain rule takes its derivative at the same entry, ",
                Equation((Matrix(ex.Apply(z, fn=ex.prime_name(fn))), Matrix(derivative_of(fn, z))))]
    if rule == "jacobi":  # det, and the registry operations that cite it
        cited = [lemma_equation(op) for op in ops.matrix_ops().values() if op.lemma == "jacobi"]
        if not cited:
            det = Ent(ex.Det(_M), 0, 0)
            return ["by Jacobi's formula ", Equation((IndexSum.of(Partial(det, Ent(_M, _P, _Q))),
                                                      IndexSum.of(det, Ent(ex.Inv(_M), _Q, _P))))]
        return ["by Jacobi's formula ", *and_list(cited), " (and the derivative of det M is det M times the same)"]
    if rule == "inverse":
        a, b = Idx("a", "n"), Idx("b", "n")
        inv = ex.Inv(_M)
        return ["the derivative of an inverse is ",
                Equation((IndexSum.of(Partial(Ent(inv, a, b), Ent(_M, _P, _Q))),
                          IndexSum.of(Ent(inv, a, _P), Ent(inv, _Q, b), coeff=-1)))]
    if rule == "reciprocal":
        u = ex.Symbol("u")
        return ["the derivative of a reciprocal is ",
                Equation((Matrix(ex.Div(_ONE, u)), Matrix(ex.Neg(ex.Div(_ONE, ex.Power(u, exponent=2))))))]
    if rule.startswith("lemma:"):  # a registry operation differentiated by its backward rule
        op = ops.matrix_op(rule.split(":", 1)[1])
        return [f"the derivative of {op.noun} is ", lemma_equation(op)]
    return None


def lemma_equation(op: ops.MatrixOp) -> Equation:
    """``∂op(M)/∂M_pq`` = the entry ``pq`` of the operation's backward rule at an upstream of 1.

    >>> op = next(op for op in ops.matrix_ops().values() if op.lemma == "jacobi")  # log |det M|
    >>> lemma_equation(op).rhs.terms[0].factors
    (Ent(expr=Inv(operand=Symbol(name='M')), row=Idx(name='q', dim='n'), col=Idx(name='p', dim='n')),)
    """
    node = ex.Call(op.name, (_M,) * op.arity, tuple((p.name, p.lo) for p in op.params))
    grad = op.vjp(node, _ONE)[0]
    row, col = _P, _Q
    while isinstance(grad, ex.Mul) and grad.left == _ONE:
        grad = grad.right
    while isinstance(grad, ex.Transpose):
        grad, row, col = grad.operand, col, row
    rhs = IndexSum.of(Ent(grad, row, col)) if grad is not None else IndexSum(())
    return Equation((IndexSum.of(Partial(Ent(node, 0, 0), Ent(_M, _P, _Q))), rhs))


def substitute(pinned: bool, killed: Sequence[Idx]) -> Prose:
    """The pieces put together; ``killed``: the sums that a Kronecker delta removed on the way."""
    if killed:
        return ("Substituting into the chain rule, the Kronecker deltas collapse the "
                + ("sum over " if len(killed) == 1 else "sums over "), *index_list(killed), ":")
    if pinned:
        return ("Putting the pieces together:",)
    return ("Substituting into the chain rule:",)


def transpose(rewrites: Sequence[tuple[Ent, Ent]], oriented: IndexSum) -> Prose:
    """``X_cj = (Xᵀ)_jc`` puts each summed index between neighbours."""
    prose: list[Any] = ["Writing "]
    for n, (a, b) in enumerate(rewrites):
        if n:
            prose.append(" and ")
        prose.append(Equation((IndexSum.of(a), IndexSum.of(b))))
    if not rewrites:
        prose = ["Reordering the factors"]
    if any(t.sums for t in oriented.terms):
        prose.append(" puts each summed index between neighbouring factors, row index first, "
                     "so each sum is a row times a column:")
    else:
        prose.append(" puts the indices in the order of the entry we picked:")
    return tuple(prose)


def matrix_form(matrix: ex.Expr, d: Index, c: Index, shape: Callable[[ex.Expr], ex.Shape]) -> Prose:
    """Which patterns of indices became which matrix operations (``shape`` gives a node's shape)."""
    nodes = list(matrix.walk())
    kinds = {type(n) for n in nodes}
    parts = []
    if ex.MatMul in kinds:
        parts.append("a sum over a shared index is a matrix product")
    products = [(shape(n.left), shape(n.right)) for n in nodes if isinstance(n, ex.Mul)
                and not isinstance(n.left, ex.Number)]
    if any(a == b and a != (1, 1) for a, b in products):
        parts.append("entries at the same position multiply elementwise (the Hadamard product)")
    if any(a != b and (1, 1) in (a, b) for a, b in products):
        parts.append("a scalar factor multiplies every entry")
    if any(a != b and (1, 1) not in (a, b) for a, b in products):
        parts.append("a factor constant along a row or column is broadcast")
    if ex.Sum in kinds:
        parts.append("a sum over one index alone is a row or column sum")
    if ex.Trace in kinds:
        parts.append("a sum along the diagonal is a trace")
    if any(isinstance(n, ex.ConstMatrix) and n.kind == "eye" for n in nodes):
        parts.append("a Kronecker delta between the two entry indices is the identity matrix")
    free = [x for x in (d, c) if isinstance(x, Idx)]
    if not free:
        return (("In matrix form (" + "; ".join(parts) + "):") if parts else "In matrix form:",)
    head: list[Any] = ["This holds for every "] + index_list(free)
    tail = (": " + "; ".join(parts) + ", so in matrix form:") if parts else ", so in matrix form:"
    return tuple(head) + (tail,)


def vjp_lemma(name: ex.Symbol, definition: ex.Expr, matrix: ex.Expr, d: Index, c: Index) -> Prose:
    """The block's matrix form taken from the backward rules of its nodes, when the entries above are not a
    pattern of products and sums that reads off as a matrix formula."""
    free = [x for x in (d, c) if isinstance(x, Idx)]
    head: list[Any] = ["These entries are not a plain pattern of products and sums; the backward rule of ",
                       Equation((Matrix(name), Matrix(definition))),
                       " (the chain rule through each of its operations, in matrix form) gives the same entries"]
    if free:
        head += [" for every "] + index_list(free)
    return (*head, ", as the exact check of this step confirms:")


# ---------------------------------------------------------------------------
# The whole derivation


def accumulate(name: str, users: Sequence[str]) -> Prose:
    return (symbol(name), " is used by ", *and_list([symbol(u) for u in users]),
            ", so its gradient is the sum of what those blocks gave:")


def assemble(root: str, scalar: bool, layout: str) -> Prose:
    if layout == "numerator":
        return ("In the numerator layout the result is the transpose:",)
    return ("Chaining the blocks back to ", Grad(root) if not scalar else symbol("L"),
            " (the upstream gradient of each inner name replaced by what its block gave):")


def in_original_names(inner: Sequence[str]) -> Prose:
    return ("Substituting the definitions of ", *[x for n in inner for x in (", " if n != inner[0] else "", symbol(n))],
            " gives the formula in the original names:")


CANONICAL: Prose = ("Collecting terms gives symderiv's canonical formula:",)


def intro(shapes: Mapping[str, ex.Shape], source: ex.Expr, wrt: str, upstream: str, scalar: bool,
          definitions: Mapping[str, ex.Expr], order: Sequence[str],
          instance: Mapping[str, ex.Shape] | None = None, indices: Sequence[str] = "dcij") -> tuple[Prose, ...]:
    """The shapes, the loss, the names of the blocks and the entry we differentiate by.

    ``order`` is the backprop order of the block names, the root first; ``instance`` the shapes the steps
    are checked at (None: not checked); ``indices`` the names of ``V_dc`` and ``D_ij``.
    """
    items: list[Any] = []
    for n, (name, shape) in enumerate(shapes.items()):
        sep = "" if n == 0 else (" and " if n == len(shapes) - 1 else ", ")
        items += [sep, symbol(name), " be ", Dims(shape)]
    paras: list[Prose] = [("Let ", *items, ".")]
    root = order[0]
    if scalar:
        paras.append(("The expression is a scalar, so the loss is the expression itself: ",
                      Equation((symbol("L"), Matrix(definitions[root]))), "."))
    else:
        rows, cols = Typing(dict(shapes)).shape_of(source)
        entry = IndexSum.of(Ent(ex.Symbol(upstream), 0 if rows == 1 else Idx(indices[2], rows),
                                0 if cols == 1 else Idx(indices[3], cols)))
        paras.append(("Write ", Equation((symbol(root), Matrix(definitions[root]))), " and let ",
                      Equation((symbol("L"), Matrix(ex.Apply(ex.Symbol(root), fn="f")))),
                      " for an arbitrary scalar function ", symbol("f"), " of all entries. The upstream gradient ",
                      Grad(root), " (called ", Name(upstream), " in formulas) has entries ", entry, "."))
    inner = list(order[1:])
    rows, cols = shapes[wrt]
    entry_v = Ent(ex.Symbol(wrt), 0 if rows == 1 else Idx(indices[0], rows),
                  0 if cols == 1 else Idx(indices[1], cols))
    head: list[Any] = ["We pick one entry ", entry_v, " and find ", IndexSum.of(Partial(None, entry_v))]
    if inner:
        defs: list[Any] = []
        for n, name in enumerate(reversed(inner)):
            defs += [", " if n else "", Equation((symbol(name), Matrix(definitions[name])))]
        paras.append(("Name the intermediate results ", *defs, "."))
        # the sentence naming the variable belongs to the paragraph particular to it (shared intros: parts.py)
        head = ["We go backwards from the loss, one block per node, ending at ", symbol(wrt), ": we pick one entry ",
                *head[1:]]
    if instance is None:
        paras.append((*head, "."))
    else:
        at: list[Any] = []
        for n, (name, shape) in enumerate(instance.items()):
            at += [", " if n else "", symbol(name), " ", Dims(shape)]
        paras.append((*head, "; every step below is checked exactly on a small instance of the same structure (",
                      *at, ")."))
    return tuple(paras)


def conclusion(wrt: str, layout: str, formula: ex.Expr, formula_text: str, all_shapes: str | None,
               checked: bool, asides: bool = True) -> Prose:
    """The result, and how far it is proved: for all shapes (``all_shapes``), and step by step (``checked``).

    ``asides=False``: the result alone, without the formula in symderiv's language and the note on the proof.
    """
    if not asides:
        return ("Result: ", Equation((Grad(wrt, layout), Matrix(formula))), ".")
    head: Prose = ("Result: ", Equation((Grad(wrt, layout), Matrix(formula))),
                   " (", Code(formula_text), " in symderiv's language)")
    how = "checked step by step entrywise" if checked else "not checked entrywise (check=False)"
    if all_shapes == "canonical":
        return head + (f", proved for all shapes in index notation and {how}.",)
    if all_shapes == "derived":
        return head + (". The formula in the original names, before terms are collected, is proved for all shapes in "
                       f"index notation; the shorter spellings after it are {how}.",)
    return head + (f", {how}; the index engine could not close a proof for all shapes of this spelling.",)


__all__ = ["accumulate", "and_list", "assemble", "chain_rule", "conclusion", "differentiate", "in_original_names",
           "index_form", "index_list", "intro", "lemma_equation", "matrix_form", "sparsity", "substitute",
           "transpose", "vjp_lemma"]
