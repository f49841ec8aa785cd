"""Printers of a derivation's step data (:mod:`symderiv.explain.steps`): one class per format.

Each math printer dispatches on the class of the data (``_print_Ent``,
``_print_Partial``, ...) and each document printer on the step's kind
(``_step_chain_rule``, ... with ``_step_default``), as SymPy's printers do. The
derivation is data; a new format touches no math. The printers import only the step
data; :func:`render` formats a derivation in one of the :data:`FORMATS`.

>>> from symderiv.render import FORMATS
>>> sorted(FORMATS)
['html', 'latex', 'markdown', 'text']
"""

from __future__ import annotations

from symderiv.core.errors import OptionError
from symderiv.explain.parts import Several
from symderiv.explain.steps import Document
from symderiv.render.base import DocumentPrinter
from symderiv.render.html import HtmlDerivationPrinter
from symderiv.render.latex import LatexDerivationPrinter
from symderiv.render.markdown import MarkdownDerivationPrinter
from symderiv.render.several import SEVERAL
from symderiv.render.text import TextDerivationPrinter
from symderiv.render.worked import WORKED

#: The document printer of each format.
FORMATS: dict[str, type[DocumentPrinter]] = {
    "text": TextDerivationPrinter, "latex": LatexDerivationPrinter, "markdown": MarkdownDerivationPrinter,
    "html": HtmlDerivationPrinter,
}


def render(derivation: Document, fmt: str = "text", *, standalone: bool = True, width: int | None = None) -> str:
    """The derivation as a document in the format ``fmt`` (one of :data:`FORMATS`).

    A :class:`~symderiv.explain.parts.Several` document (``derive(expr, ["W", "b"])``) is printed with its shared
    blocks once, then a section per gradient (:mod:`symderiv.render.several`).
    ``standalone=False`` makes LaTeX a fragment to ``\\input`` instead of an ``article``. ``width`` is the line
    width of the text format (default 100; the command line passes the terminal's width).

    >>> from symderiv.explain.derivation import derive
    >>> render(derive("W @ X", "W", check=False), "markdown").startswith("# Derivation of $")
    True
    """
    if fmt not in FORMATS:
        raise OptionError(f"unknown format `{fmt}`", hint="use one of " + ", ".join(FORMATS))
    printer = (SEVERAL if isinstance(derivation, Several) else WORKED)[fmt]
    if issubclass(printer, LatexDerivationPrinter):
        return printer(derivation).document(standalone=standalone)
    if issubclass(printer, TextDerivationPrinter):
        return printer(derivation, width=width).document()  # type: ignore[call-arg]
    return printer(derivation).document()


def jupyter(derivation: Document) -> str:
    """For Jupyter (MathJax): the equations in one ``align*``, each tagged with its step."""
    return LatexDerivationPrinter(derivation).jupyter()


__all__ = ["FORMATS", "jupyter", "render"]
