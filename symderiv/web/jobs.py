"""The API's jobs, run inside a worker process: validate the request's fields, call the API, answer in JSON.

Each job takes the request's JSON object (only strings and lists of strings are read; nothing is evaluated:
the expression goes to symderiv's own parser) and returns ``(HTTP status, payload)``. The payloads of
``gradient`` and ``verify`` are exactly the command line's ``--json`` output (the same ``to_dict`` builders).

>>> status, payload = run("gradient", {"expr": "W @ X", "wrt": ["W"]})
>>> status, payload["formula"], payload["proof"]["status"]
(200, 'G @ X.T', 'proved')
>>> status, payload = run("gradient", {"expr": "W @@ X", "wrt": ["W"]})
>>> status, payload["error"]["field"], payload["error"]["column"]
(400, 'expr', 4)

With ``emit`` (a target or a list of them) ``gradient`` answers the code export instead, as ``gradient --emit``:

>>> status, payload = run("gradient", {"expr": "W @ X", "wrt": ["W"], "emit": "numpy"})
>>> print(payload["code"]["numpy"].splitlines()[-1])
    return G @ X.T
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from symderiv.autodiff.backprop import to_code
from symderiv.core import expr as ex
from symderiv.core.errors import OptionError, SymderivError
from symderiv.explain.compare import relation, transposed_picture
from symderiv.explain.derivation import Derivation, derive
from symderiv.proofs.gradient import gradient
from symderiv.proofs.index import tidy
from symderiv.proofs.verification import verify
from symderiv.render.html import HtmlDerivationPrinter, mathml
from symderiv.syntax.language import parse
from symderiv.syntax.printing import to_text
from symderiv.syntax.shapes import parse_shape_option

__all__ = ["LIMITS", "TARGETS", "run", "JOBS"]

#: Caps on a request's fields: characters of one text, items of one list.
LIMITS = {"text": 2000, "items": 16, "item": 200}
_LISTS = ("wrt", "shape", "fn", "symmetric", "emit")
#: The code export's targets, as ``symderiv gradient --emit``.
TARGETS = ("numpy", "torch", "jax")
_TEXTS = ("expr", "claim", "second", "layout", "upstream")


class _Request:
    """The request's fields, checked: texts are strings within the caps, lists are lists of such strings."""

    def __init__(self, body: Any, timeout: float | None) -> None:
        if not isinstance(body, dict):
            raise OptionError("the request body must be a JSON object")
        self.body = body
        self.timeout = timeout
        for name in _TEXTS:
            self.text(name)
        for name in _LISTS:
            self.items(name)

    def text(self, name: str, default: str = "") -> str:
        value = self.body.get(name, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise _field(OptionError(f"`{name}` must be a string"), name)
        if len(value) > LIMITS["text"]:
            raise _field(OptionError(f"`{name}` is longer than {LIMITS['text']} characters"), name)
        return value

    def items(self, name: str) -> list[str]:
        value = self.body.get(name) or []
        if isinstance(value, str):
            value = [value]
        ok = isinstance(value, list) and all(isinstance(v, str) and len(v) <= LIMITS["item"] for v in value)
        if not ok or len(value) > LIMITS["items"]:
            raise _field(OptionError(f"`{name}` must be a list of at most {LIMITS['items']} short strings"), name)
        return [v.strip() for v in value if v.strip()]

    def shapes(self) -> dict[str, ex.Shape] | None:
        result: dict[str, ex.Shape] = {}
        for item in self.items("shape"):
            try:
                name, shape = parse_shape_option(item)
            except SymderivError as err:
                raise _field(err, "shape", item) from None
            result[name] = shape
        return result or None

    def options(self) -> dict[str, Any]:
        return {"functions": self.items("fn"), "symmetric": self.items("symmetric"),
                "upstream": self.text("upstream", "G").strip() or "G"}

    def flag(self, name: str) -> bool:
        value = self.body.get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise _field(OptionError(f"`{name}` must be true or false"), name)
        return value

    def targets(self) -> list[str]:
        names = self.items("emit")
        for name in names:
            if name not in TARGETS:
                raise _field(OptionError(f"no code export for `{name}`", hint="emit numpy, torch or jax"),
                             "emit", name)
        if self.flag("forward") and not names:
            raise _field(OptionError("`forward` goes with `emit`", hint='for example "emit": "numpy"'), "forward")
        return list(dict.fromkeys(names))

    def layout(self) -> str:
        return self.text("layout", "denominator") or "denominator"

    def wrt(self) -> list[str]:
        names = self.items("wrt")
        if not names:
            raise _field(OptionError("name the matrix to differentiate with respect to",
                                     hint="for example W"), "wrt")
        return names


def _field(err: SymderivError, name: str, value: str | None = None) -> SymderivError:
    err.field = name  # type: ignore[attr-defined]
    if value is not None:
        err.value = value  # type: ignore[attr-defined]
    return err


def error_payload(err: SymderivError, body: Any) -> dict[str, Any]:
    """The error as JSON, with the form field it is about (``expr``, ``claim``, ``shape``, ...) when known.

    >>> error_payload(SymderivError("bad", text="W @", column=3), {"expr": "W @"})["error"]["field"]
    'expr'
    """
    field = getattr(err, "field", None)
    if field is None and err.text is not None and isinstance(body, dict):
        field = next((k for k in ("expr", "claim", "second") if body.get(k) == err.text), None)
    return {"error": {"message": err.message, "hint": err.hint, "column": err.column, "width": err.width,
                      "text": err.text if field in ("expr", "claim", "second") else getattr(err, "value", None),
                      "field": field or "form", "kind": type(err).__name__, "rendered": err.render()}}


class _BlockPrinter(HtmlDerivationPrinter):
    """The derivation as an HTML fragment: each block, and the final part, in its own ``<details>``."""

    def block_heading(self, block: Any) -> str:
        return "</details><details open class=\"block\"><summary>" + _strip_h2(super().block_heading(block)) + "</summary>"

    def heading(self, prose: tuple, level: int = 2) -> str:
        text = super().heading(prose, level)
        if level == 2 and prose == ("Putting it together",):
            return "</details><details open class=\"block\"><summary>" + _strip_h2(text) + "</summary>"
        return text

    def fragment(self) -> str:
        parts = self.body()
        # body(): title, intro paragraphs, then blocks; the conclusion closes the last block
        html_parts = parts[1:-1]
        text = "<details open class=\"block\"><summary>Derivation</summary>" + "\n".join(html_parts) + "</details>"
        text = text.replace("<details open class=\"block\"><summary>Derivation</summary></details>", "")
        return text + "\n" + parts[-1]


def _strip_h2(text: str) -> str:
    return text.removeprefix("<h2>").removesuffix("</h2>")


def derivation_dict(d: Derivation) -> dict[str, Any]:
    """A derivation as JSON: the result (the command line's builder), MathML, its HTML fragment and exports.

    >>> d = derivation_dict(derive("W @ X", "W"))
    >>> d["result"]["formula"], d["html"].startswith("<details open"), "documentclass" in d["latex"][:20]
    ('G @ X.T', True, True)
    """
    g = d.result
    return {"wrt": d.wrt, "expression": d.expression, "layout": d.layout, "result": g.to_dict(),
            "mathml": mathml(f"{g.lhs_latex} = {g.latex}", display=True),
            "html": _BlockPrinter(d).fragment(), "text": d.to_text(), "latex": d.to_latex(),
            "markdown": d.to_markdown(), "page": d.to_html()}


def _gradient(req: _Request) -> Any:
    targets, forward = req.targets(), req.flag("forward")
    results = gradient(req.text("expr"), wrt=req.wrt(), shapes=req.shapes(), layout=req.layout(),
                       timeout=req.timeout, budget=None, **req.options())
    assert isinstance(results, list)
    if targets:  # as `symderiv gradient --emit TARGET [--forward]`, one text per target, and the results
        return {"expression": results[0].expression, "wrt": [g.wrt for g in results], "forward": forward,
                "code": {t: to_code(results, t, forward=forward).rstrip("\n") + "\n" for t in targets},
                "gradients": [g.to_dict() for g in results]}
    payload = [g.to_dict() for g in results]  # as `symderiv gradient --json`
    return payload[0] if len(payload) == 1 else payload


def _verify(req: _Request) -> Any:
    wrt = req.wrt()
    verdict = verify(req.text("expr"), wrt=wrt[0], claim=req.text("claim"), shapes=req.shapes(), layout=req.layout(),
                     timeout=req.timeout, budget=None, **req.options())
    return verdict.to_dict()  # as `symderiv verify --json`


def _derive(req: _Request) -> Any:
    d = derive(req.text("expr"), req.wrt()[0], req.shapes(), layout=req.layout(), timeout=req.timeout,
               **req.options())
    return derivation_dict(d)


def picture(node: ex.Expr) -> ex.Expr:
    """A transposed picture with the outer transposes moved inside elementwise functions, ``f(A)ᵀ = f(Aᵀ)``.

    >>> to_text(picture(transposed_picture(parse("relu(W @ X + b)"))))
    'relu(X @ W + b)'
    """
    if isinstance(node, ex.Transpose) and isinstance(node.operand, ex.Apply):
        return replace(node.operand, operand=picture(tidy(ex.Transpose(node.operand.operand))))
    return node


def _compare(req: _Request) -> Any:
    """The expression against a second one; with no second, against its transposed picture (shapes transposed)."""
    first_text, wrt, shapes = req.text("expr"), req.wrt()[0], req.shapes()
    second_text = req.text("second").strip()
    second_shapes = shapes
    if not second_text:
        second_text = to_text(picture(transposed_picture(parse(first_text))))
        second_shapes = None if shapes is None else {k: (v[1], v[0]) for k, v in shapes.items()}
    first = derive(first_text, wrt, shapes, timeout=req.timeout, **req.options())
    try:
        second = derive(second_text, wrt, second_shapes, timeout=req.timeout, **req.options())
    except SymderivError as err:
        raise _field(err, "second", second_text) from None
    # relation() recognises the transposed picture with its transposes outside; picture() only moved them inside
    # elementwise functions (f(A)ᵀ = f(Aᵀ)), so the second is read in that spelling; its result is still verified
    transposed = transposed_picture(first.source)
    seen = replace(second, source=transposed) if picture(transposed) == picture(second.source) else second
    return {"first": derivation_dict(first), "second": derivation_dict(second), "relation": relation(first, seen)}


JOBS: dict[str, Callable[[_Request], Any]] = {
    "gradient": _gradient, "verify": _verify, "derive": _derive, "compare": _compare}


def run(kind: str, body: Any, timeout: float | None = None) -> tuple[int, Any]:
    """Run one job; ``(200, result)``, ``(400, error)`` for bad input, ``(404, ...)`` for an unknown job."""
    job = JOBS.get(kind)
    if job is None:
        return 404, {"error": {"message": f"no API `{html.escape(kind)}`", "field": "form"}}
    try:
        return 200, job(_Request(body, timeout))
    except SymderivError as err:
        return (400 if err.exit_code == 2 else 500), error_payload(err, body)
