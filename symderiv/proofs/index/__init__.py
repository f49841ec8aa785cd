"""Index notation with symbolic dimensions: entries, the chain rule, Kronecker deltas, contractions.

An entry of an expression is written as a sum of terms, each a coefficient, a tuple of summed
indices and a product of factors (:mod:`~symderiv.proofs.index.forms`). Index ranges are dimension
names (``H``, ``m``) or numbers, so everything here holds for all sizes at once: no loop ever runs
over a range.

The engine is our own small representation rather than SymPy's
``Indexed``/``Sum``/``KroneckerDelta``: collapsing δ-sums and recognising
contractions is a few dictionary operations here, while SymPy's ``Sum`` does
not collapse δ over symbolic bounds without ``piecewise`` conditions; the whole
proof of a docs example takes milliseconds (see ``tests/test_index.py``).

Non-polynomial nodes stay opaque entries and are differentiated by textbook lemmas
(:mod:`~symderiv.proofs.index.engine`). An identity proved here is therefore proved for all shapes
*given* those lemmas (:mod:`~symderiv.proofs.index.prove`); matrices come back from index form in
:mod:`~symderiv.proofs.index.recognise`.
"""

from __future__ import annotations

from symderiv.proofs.index.engine import IndexEngine, elementwise_derivative, is_opaque
from symderiv.proofs.index.forms import (
    ONE_SUM,
    ZERO_SUM,
    Delta,
    Ent,
    Factor,
    Idx,
    Index,
    IndexSum,
    Partial,
    Term,
    bind,
    canonical,
    canonical_term,
    collapse_term,
    contains,
    factor_indices,
    merge_terms,
    substitute,
    term_indices,
)
from symderiv.proofs.index.lemmas import LEMMA_NAMES, Normaliser, describe_lemmas
from symderiv.proofs.index.prove import (
    AllShapesProof,
    entry_indices,
    gradient_entry,
    prove_all_shapes,
    prove_all_shapes_with_lemmas,
    prove_index,
)
from symderiv.proofs.index.recognise import tidy

#: The old private name of :func:`~symderiv.proofs.index.forms.bind`.
_bind = bind

__all__ = ["LEMMA_NAMES", "ONE_SUM", "ZERO_SUM", "AllShapesProof", "Normaliser", "describe_lemmas", "Delta", "Ent", "Factor", "Idx", "Index", "IndexEngine",
           "IndexSum", "Partial", "Term", "bind", "canonical", "canonical_term", "collapse_term", "contains",
           "elementwise_derivative", "entry_indices", "factor_indices", "gradient_entry", "is_opaque", "merge_terms",
           "prove_all_shapes", "prove_all_shapes_with_lemmas", "prove_index", "substitute", "term_indices", "tidy"]
