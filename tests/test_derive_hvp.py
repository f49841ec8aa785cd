"""derive_hvp and ``hvp --derive``: an HVP explained as the gradient formula differentiated along V, block by block.

Every step is checked like a gradient derivation's; the last step identifies the derived gradient of the pairing
with the HVP symderiv proves (against the independent second-order oracle), checked exactly; a wrong
identification is caught; the assumptions have their own step.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from prose_corpus_assumed import HVPS

import symderiv
from symderiv.cli import main
from symderiv.core import expr as ex
from symderiv.core.errors import DerivationError
from symderiv.explain import second
from symderiv.explain.second import derive_hvp
from symderiv.render.text import TextPrinter

LOGISTIC = "sum(log(1 + exp(-y * (X @ w))))"
SHAPES = {"X": (3, 2), "w": (2, 1), "y": (3, 1)}


@pytest.mark.parametrize(("expression", "wrt", "shapes"), HVPS)
def test_every_step_is_checked_and_the_result_is_hvps(expression, wrt, shapes):
    d = derive_hvp(expression, wrt, "V", shapes)
    h = symderiv.hvp(expression, wrt, shapes=shapes)
    assert d.result.formula == h.formula and d.result.proof_status == h.proof_status
    assert all(s.checked for s in d.steps)
    assert d.intro[0][0] == "The Hessian-vector product along "
    last = d.final[-1]
    assert last.justification.startswith("This gradient of the scalar is the Hessian of the original loss applied to V")
    for text in (d.to_text(), d.to_markdown(), d.to_latex(), d.to_html()):
        assert "dL_d" not in text and "dL\\_d" not in text
    printer = TextPrinter(d.upstreams)
    for sentence in [printer.prose(p) for p in d.intro] + [last.justification, printer.prose(d.conclusion)]:
        assert not re.search(r"every\s*[,:]|\s[,;:]|\(\s*\)|  ", sentence), sentence


def test_the_logistic_hvp_under_signs_has_the_assumptions_step():
    d = derive_hvp(LOGISTIC, "w", "V", SHAPES, assume={"y": "signs"})
    s = "sigmoid(-y * (X @ w))"
    assert d.result.formula == f"X.T @ ((X @ V) * {s} * (1 - {s}))" and d.result.proof_status == "proved"
    assert any("y ** 2 = ones(3, 1) because the entries of y are +1 or -1" in st.justification for st in d.steps)
    assert "under the assumption y signs" in d.to_text(width=1000)


def test_a_wrong_identification_is_caught(monkeypatch):
    real = second.hvp

    def wrong(*args, **kwargs):
        r = real(*args, **kwargs)
        return replace(r, expr=ex.Mul(ex.Number(2), r.expr))

    monkeypatch.setattr(second, "hvp", wrong)
    with pytest.raises(DerivationError, match="is not the HVP"):
        derive_hvp("x.T @ A @ x", "x", "V", {"x": (3, 1)})


def test_command_line_every_format_and_json(capsys):
    args = ["hvp", "logdet(X)", "--wrt", "X", "--shape", "X=3,3", "--derive"]
    for fmt in ("text", "markdown", "latex", "html"):
        assert main([*args, fmt]) == 0
        assert "Hessian-vector product along" in capsys.readouterr().out
    assert main([*args, "text", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["result"]["kind"] == "hvp" and data["result"]["formula"] == "-inv(X).T @ V.T @ inv(X).T"
    assert data["steps"][-1]["justification"].startswith("This gradient of the scalar")
    assert main(["hvp", LOGISTIC, "--wrt", "w", "--shape", "X=3,2", "--shape", "w=2,1", "--shape", "y=3,1",
                 "--assume", "y=signs", "--derive", "text"]) == 0
    assert "Now the assumption is used: y is signs" in capsys.readouterr().out
