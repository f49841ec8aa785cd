"""Printers of a :class:`~symderiv.explain.derivation.Derivation`: one class per format.

Each math printer dispatches on the class of the data (``_print_Ent``,
``_print_Partial``, ...) and each document printer on the step's kind
(``_step_chain_rule``, ... with ``_step_default``), as SymPy's printers do. The
derivation is data; a new format touches no math.

>>> from symderiv.render import FORMATS
>>> sorted(FORMATS)
['html', 'latex', 'markdown', 'text']
"""

from __future__ import annotations

FORMATS = {"text": "to_text", "latex": "to_latex", "markdown": "to_markdown", "html": "to_html"}

__all__ = ["FORMATS"]
