"""Step-by-step derivations: :func:`symderiv.explain.derivation.derive` and the pieces it is made of.

``steps`` (the frozen data every printer reads, and the only module :mod:`symderiv.render` imports),
``plan`` (the blocks), ``blocks`` (the six moves of one block), ``prose`` (the sentences), ``check``
(every step evaluated exactly), ``build`` (the phases), ``derivation`` (``derive`` and ``Derivation``
with its ``to_*`` printers), ``compare`` (how two derivations relate). Nothing is imported here, so
that importing :mod:`symderiv.explain.steps` does not import the rest.
"""
