"""Verdict statuses (SPEC section 6): proved, probabilistic, refuted, undecided; what each prints and means."""

import pytest

from symderiv import gradient, verify
from symderiv.core.errors import BudgetError, OptionError
from symderiv.core.status import Status, exit_code, headline
from symderiv.proofs.verification import ProofRecord, Verdict
from symderiv.syntax.language import parse
from symderiv.syntax.shapes import infer_shapes
from symderiv.testing import assert_gradient

XWV = {"X": ("N", "K"), "W": ("K", "H"), "V": ("H", "M")}
TRACE_CLAIM = "eye(n) + (trace(eye(n)) - 2) * (trace(eye(n)) - 3) * W"
# P vanishes at each of the twelve small witness values 0.1 tried: ±1, ±2, ±3, ±1/2, ±3/2, 1/3, -2/3.
VANISHING = ("(W - 1) * (W + 1) * (W - 2) * (W + 2) * (W - 3) * (W + 3) * (W - 1/2) * (W + 1/2) * (W - 3/2) "
             "* (W + 3/2) * (W - 1/3) * (W + 2/3)")


# -- the status type -------------------------------------------------------------------


def test_status_is_a_string_enum_and_only_two_statuses_hold():
    v = verify("W @ X", "W", "G @ X.T", {"W": (3, 2), "X": (2, 4)})
    assert isinstance(v.status, Status) and v.status == "proved" and v.status is Status.PROVED
    assert [s.value for s in Status] == ["proved", "probabilistic", "refuted", "undecided"]
    assert [s.holds for s in Status] == [True, True, False, False]
    assert [exit_code(s) for s in Status] == [0, 0, 1, 4]


@pytest.mark.parametrize("status, holds", [("proved", True), ("probabilistic", True), ("refuted", False),
                                           ("undecided", False), ("shape", False), ("checked", False)])
def test_holds_follows_the_status_whatever_the_constructor_was_told(status, holds):
    # Code written for 0.1 passes holds=True with the old "checked" status; that must not count as a proof.
    v = Verdict(True, status, "", "W", "W", "G")
    assert v.holds is holds and bool(v) is holds
    assert v.status in ("proved", "probabilistic", "refuted", "undecided")


def test_a_verdict_is_immutable_once_built():
    import dataclasses

    v = Verdict(True, "proved", "proved", "W", "W", "G")
    for name, value in [("status", "refuted"), ("holds", False), ("reason", "patched"), ("checked_at_sizes", True)]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(v, name, value)
    w = dataclasses.replace(v, status="undecided")  # a changed verdict is a new one, holds following its status
    assert (v.status, v.holds, w.status, w.holds) == ("proved", True, "undecided", False)


def test_report_first_lines():
    assert verify("W @ X", "W", "G @ X.T", {"W": (2, 2), "X": (2, 2)}).report().startswith("PROVED  ")
    assert verify("W @ X", "W", "2 * G @ X.T", {"W": (2, 2), "X": (2, 2)}).report().startswith("NOT PROVED  ")
    assert verify("trace(W)", "W", TRACE_CLAIM).report().startswith("UNDECIDED  ")
    record = ProofRecord("random", error_exponent=61)
    v = Verdict(True, "probabilistic", "probabilistic: ...", "W @ X", "W", "G @ X.T", None, record)
    assert v.report().splitlines()[0].startswith("PROVED (probabilistic, error ≤ 2^-61)  ")
    assert headline(Status.UNDECIDED) == "UNDECIDED" and headline(Status.REFUTED) == "NOT PROVED"


def test_proof_record_carries_the_error_exponent():
    assert ProofRecord("exact").error_exponent is None
    assert ProofRecord("random", error_exponent=60).error_exponent == 60


def test_a_wrong_shape_is_refuted_with_a_shape_reason():
    v = verify("W @ X", "W", "X.T @ G", {"W": (3, 2), "X": (2, 4)})
    assert v.status == "refuted" and v.reason.startswith("shape:") and not v


# -- symbolic shapes: checked is not proved ----------------------------------------------


def test_sample_sizes_are_distinct_per_dimension_name():
    typing = infer_shapes(parse("X @ W @ V"), XWV)
    first, second = typing.assignments(2)
    for a in (first, second):
        assert len(set(a.values())) == len(a)
    assert all(first[d] != second[d] for d in first)


def test_a_claim_that_needs_two_dimensions_equal_is_refuted():
    v = verify("sum(X @ W @ V) / sum(ones(N, 1))", "W", "X.T @ ones(N, M) @ V.T / sum(ones(M, 1))", XWV)
    assert v.status == "refuted" and v.counterexample is not None


def test_a_claim_true_at_the_sample_sizes_only_is_undecided():
    v = verify("trace(W)", "W", TRACE_CLAIM)
    assert v.status == "undecided" and not v and v.checked_at_sizes and v.exit_code == 4
    assert "{W: 2×2}" in v.reason and "{W: 3×3}" in v.reason


def test_symbolic_shapes_proved_versus_undecided():
    proved = verify("W @ X", "W", "G @ X.T", {"W": ("H", "m"), "X": ("m", "n")})
    assert proved.status == "proved" and proved.proof.all_shapes
    undecided = verify("sqrt(W)", "W", "G / (sqrt(W) + sqrt(W))")
    assert undecided.status == "undecided" and not undecided.proof.all_shapes


def test_assert_gradient_fails_on_undecided_and_says_how_to_prove():
    with pytest.raises(AssertionError) as info:
        assert_gradient("trace(W)", "W", TRACE_CLAIM)
    message = str(info.value)
    assert "undecided" in message and "concrete shapes" in message and "all-shapes" in message


# -- exact statuses for the hard cases -----------------------------------------------------


def test_a_true_identity_decided_only_by_function_identities_is_undecided():
    # W * relu(W) has gradient relu(W) + W * step(W) = 2 relu(W), but only through relu(x) = x * step(x).
    v = verify("W * relu(W)", "W", "2 * G * relu(W)", {"W": (2, 2)})
    assert v.status == "undecided"


def test_a_vanishing_polynomial_claim_is_refuted():
    v = verify("W * W", "W", f"2 * G * W + {VANISHING}", {"W": (1, 2)})
    assert v.status == "refuted" and v.counterexample is not None
    assert v.counterexample.gradient_value != v.counterexample.claim_value


# -- method auto ---------------------------------------------------------------------------


def test_auto_is_the_default_and_goes_randomized_past_the_budget():
    v = verify("W @ X", "W", "G @ X.T", {"W": (300, 300), "X": (300, 300)})
    assert v.status == "probabilistic" and v.proof.method == "random"
    with pytest.raises(BudgetError):
        verify("W @ X", "W", "G @ X.T", {"W": (300, 300), "X": (300, 300)}, method="exact")


def test_gradient_falls_back_to_the_randomized_test_and_says_so():
    g = gradient("W @ ones(200, 100)", "W", {"W": (300, 200)})
    assert g.formula == "G @ ones(100, 200)" and g.proof_status == "probabilistic"
    assert g.to_dict()["proof"]["status"] == "probabilistic"


def test_an_all_shapes_proof_stands_when_the_second_opinion_is_over_budget():
    v = verify("W @ X", "W", "G @ X.T", {"W": ("H", "m"), "X": ("m", "n")}, budget=1)
    assert v.status == "proved" and v.proof.all_shapes and "second opinion was skipped" in v.reason


def test_a_confirmed_concrete_refutation_overrides_an_all_shapes_proof(monkeypatch):
    import symderiv.proofs.index

    # a broken engine (verify asks for the proof and the lemmas it rests on)
    monkeypatch.setattr(symderiv.proofs.index, "prove_all_shapes_with_lemmas", lambda *args, **kwargs: (True, []))
    v = verify("W @ X", "W", "2 * G @ X.T", {"W": ("H", "m"), "X": ("m", "n")})
    assert v.status == "refuted" and "engines disagree" in v.reason


@pytest.mark.parametrize("kwargs", [{"method": "random", "strict": True}, {"budget": -5}, {"budget": 0},
                                    {"budget": 2.5}, {"budget": True}, {"method": "fast"}])
def test_bad_options_are_option_errors(kwargs):
    with pytest.raises(OptionError):
        verify("W @ X", "W", "G @ X.T", {"W": (2, 2), "X": (2, 2)}, **kwargs)


def test_gradient_checks_its_options_too():
    with pytest.raises(OptionError):
        gradient("W @ X", "W", budget=-5)


def test_the_plugin_report_of_an_undecided_verdict_says_so_and_how_to_prove():
    from symderiv.testing import HOLDS, verdict_report

    v = verify("W * relu(W)", "W", "2 * G * relu(W)", {"W": (2, 2)})
    assert v != HOLDS
    report = verdict_report(v)
    assert "is not proved (undecided)" in report and "to prove:" in report and "PROVED" not in report
    symbolic = verdict_report(verify("trace(W)", "W", TRACE_CLAIM))
    assert symbolic.startswith("UNDECIDED  ") and "concrete shapes" in symbolic
