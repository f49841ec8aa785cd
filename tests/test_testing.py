"""symderiv.testing: assert_gradient reports and diagnoses, check_backward, identity tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import cases

import symderiv
from symderiv import OptionError
from symderiv.testing import (
    HOLDS,
    Identity,
    assert_gradient,
    check_backward,
    diagnose,
    identity_params,
    load_identities,
    verdict_report,
)

LINEAR = {"X": ("N", "K"), "W": ("K", "M"), "b": (1, "M")}
TWO_LAYER = "relu(X @ W1 + b1) @ W2 + b2"
TWO_LAYER_SHAPES = {"X": ("N", "D"), "W1": ("D", "H"), "b1": (1, "H"), "W2": ("H", "M"), "b2": (1, "M")}
DATA = Path(__file__).parent / "data" / "identities.toml"


def failure(*args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        assert_gradient(*args, **kwargs)
    return str(info.value)


def diagnosis_lines(report: str) -> list[str]:
    lines = report.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("  diagnosis:")), len(lines))
    return [line.strip().removeprefix("diagnosis:").strip() for line in lines[start:]]


# --------------------------------------------------------------------------
# assert_gradient


def test_assert_gradient_passes_and_returns_the_verdict():
    verdict = assert_gradient("X @ W + b", "W", "X.T @ G", shapes=LINEAR)
    assert verdict.holds and verdict == HOLDS


def test_wrong_claim_report_names_everything():
    report = failure("X @ W + b", "W", "G @ X.T", shapes=LINEAR)
    assert report.splitlines()[0] == "∂L/∂W = G @ X.T does not hold for L = X @ W + b"
    assert "  shapes:     X: N×K, W: K×M, b: 1×M" in report
    assert "  your claim: ∂L/∂W = G @ X.T" in report
    assert "  correct:    ∂L/∂W = X.T @ G" in report
    assert "your claim has the wrong shape" in diagnosis_lines(report)


def test_refuted_claim_report_has_entry_both_sides_and_witness():
    report = failure("W @ X", "W", "G @ X", {"W": (2, 2), "X": (2, 2)})
    assert "correct:    ∂L/∂W = G @ X.T" in report
    assert "at entry [" in report and "but the claim gives" in report
    assert "witness: W = [[" in report and "there ∂L/∂W[" in report


def test_diagnosis_transpose():
    # Rectangular: the transposed claim is M×K where ∂L/∂W is K×M.
    report = failure("X @ W + b", "W", "G.T @ X", shapes=LINEAR)
    assert "your claim is the transpose of the gradient: `(G.T @ X).T` holds" in diagnosis_lines(report)
    # Square: same shape, only the values tell; the claim is spelled without an outer .T.
    report = failure("W @ X", "W", "X @ G.T", {"W": (2, 2), "X": (2, 2)})
    assert "your claim has the wrong shape" not in report
    assert any(d.startswith("your claim is the transpose of the gradient") for d in diagnosis_lines(report))


def test_diagnosis_factor_order():
    report = failure("X @ W + b", "W", "G @ X.T", shapes=LINEAR)
    assert "factors in the wrong order: `X.T @ G` holds" in diagnosis_lines(report)
    # A reversed chain of three factors in a square (well-shaped) case.
    report = failure("A @ B @ C", "B", "C.T @ G @ A.T", {"A": (2, 2), "B": (2, 2), "C": (2, 2)})
    assert "factors in the wrong order: `A.T @ G @ C.T` holds" in diagnosis_lines(report)


def test_diagnosis_wrong_axis():
    report = failure("X @ W + b", "b", "sum(G, axis=1)", shapes=LINEAR)
    assert "summed over the wrong axis: `sum(G, axis=0)` holds" in diagnosis_lines(report)


def test_diagnosis_missing_step_mask():
    report = failure("relu(X @ W)", "W", "X.T @ G", {"X": (3, 2), "W": (2, 4)})
    (line,) = [d for d in diagnosis_lines(report) if d.startswith("missing")]
    assert line == ("missing the `step(X @ W)` mask: your claim is the gradient of `X @ W`, as if relu were the "
                    "identity; `X.T @ (G * step(X @ W))` holds")


def test_diagnosis_missing_mask_in_a_two_layer_claim():
    report = failure(TWO_LAYER, "W1", "X.T @ (G @ W2.T)", {"X": (3, 2), "W1": (2, 2), "b1": (1, 2), "W2": (2, 2),
                                                           "b2": (1, 2)})
    assert any(d.startswith("missing the `step(X @ W1 + b1)` mask") for d in diagnosis_lines(report))


def test_diagnosis_factor_of_two():
    report = failure("X @ W + b", "W", "2 * X.T @ G", shapes=LINEAR)
    assert "off by a factor of 2: your claim is 2 × the gradient (`0.5 * (2 * X.T @ G)` holds)" in \
        diagnosis_lines(report)


def test_diagnosis_other_constant():
    report = failure("x.T @ S @ x", "x", "S @ x", {"x": (3, 1), "S": (3, 3)}, symmetric=["S"])
    assert any(d.startswith("off by a factor of 1/2: your claim is 1/2 × the gradient") for d in
               diagnosis_lines(report))


def test_diagnosis_symmetric_only():
    report = failure("x.T @ A @ x", "x", "2 * A @ x", {"x": (3, 1), "A": (3, 3)})
    assert "your claim holds only when `A` is symmetric (it does with symmetric=['A'])" in diagnosis_lines(report)


def test_no_diagnosis_when_no_candidate_holds():
    report = failure("X @ W + b", "W", "X.T @ G + W", shapes=LINEAR)
    assert "correct:    ∂L/∂W = X.T @ G" in report
    assert "diagnosis" not in report


def test_diagnoses_come_from_verification_not_spelling():
    # The same claim text is a transpose in one problem and correct in another.
    assert diagnose("X @ W", "W", "G.T @ X", {"X": (3, 2), "W": (2, 4)}) == [
        "your claim has the wrong shape", "your claim is the transpose of the gradient: `(G.T @ X).T` holds"]
    assert diagnose("W.T @ X", "W", "X @ G.T", {"X": (3, 2), "W": (3, 4)}) == []


def test_options_reach_verify_and_gradient():
    assert_gradient("phi(W @ X)", "W", "(D * phi_prime(W @ X)) @ X.T", functions=["phi"], upstream="D")
    report = failure("phi(W @ X)", "W", "D @ X.T", functions=["phi"], upstream="D")
    assert "correct:    ∂L/∂W = (D * phi_prime(W @ X)) @ X.T" in report


def test_holds_sentinel_and_verdict_report():
    good = symderiv.verify("W @ X", "W", "G @ X.T", {"W": (2, 3), "X": (3, 2)})
    bad = symderiv.verify("W @ X", "W", "2 * G @ X.T", {"W": (2, 3), "X": (3, 2)})
    assert good == HOLDS and HOLDS == good and not (bad == HOLDS) and bad != HOLDS
    report = verdict_report(bad)
    assert "correct:    ∂L/∂W = G @ X.T" in report and "off by a factor of 2" in report
    assert "witness" not in verdict_report(bad, witness=False)
    assert verdict_report(good) == good.report()


# Derandomized: some random rational-function cases make the exact engine itself slow (see the report of
# issue 5); a fixed sample keeps this test's run time steady.
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases(max_depth=2, square_ops=False, max_size=2))
def test_derived_formula_passes_and_its_transpose_is_diagnosed(case):
    gradient = symderiv.gradient(case.text, wrt=case.wrt, shapes=case.shapes, functions=case.functions, check=False)
    assert_gradient(case.text, case.wrt, gradient.formula, case.shapes, functions=case.functions)
    rows, cols = case.shapes[case.wrt]
    if rows != cols:
        report = failure(case.text, case.wrt, f"({gradient.formula}).T", case.shapes, functions=case.functions)
        assert "your claim has the wrong shape" in report
        assert any(d.startswith("your claim is the transpose of the gradient") for d in diagnosis_lines(report))


# --------------------------------------------------------------------------
# check_backward


def linear_backward(dY, X, W, b):
    return dY @ W.T, X.T @ dY, dY.sum(axis=0)


def backward_failure(fn, expr="X @ W + b", wrt=("X", "W", "b"), shapes=None, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        check_backward(fn, expr, list(wrt), LINEAR if shapes is None else shapes, **kwargs)
    return str(info.value)


def test_correct_linear_backward_passes_on_rectangular_sizes():
    result = check_backward(linear_backward, "X @ W + b", ["X", "W", "b"], LINEAR)
    assert len(result.sizes) == 3 and result.max_error < 1e-12
    for sizes in result.sizes:
        assert len(set(sizes.values())) == 3  # N, K, M distinct: nothing is square by accident
    # A dict, a 2-D bias, a single wrt name and an explicit input order are all accepted.
    check_backward(lambda dY, X, W, b: {"W": X.T @ dY, "b": dY.sum(0, keepdims=True), "extra": 0},
                   "X @ W + b", ["W", "b"], LINEAR)
    check_backward(lambda dY, X, W, b: X.T @ dY, "X @ W + b", "W", LINEAR)
    check_backward(lambda dY, W, X, b: (X.T @ dY,), "X @ W + b", ["W"], LINEAR, inputs=["W", "X", "b"])


def test_buggy_dw_transposed():
    def bad(dY, X, W, b):
        return dY @ W.T, dY.T @ X, dY.sum(axis=0)

    report = backward_failure(bad)
    assert "∂L/∂W (returned value 2 of 3) is wrong; the derived gradient is X.T @ G" in report
    assert "shape: it has shape (" in report and "where `W` is K×M" in report
    assert "diagnosis: it is the transpose of the gradient" in report
    assert "∂L/∂X" not in report and "∂L/∂b" not in report


def test_buggy_db_wrong_axis():
    def bad(dY, X, W, b):
        return dY @ W.T, X.T @ dY, dY.sum(1)

    report = backward_failure(bad)
    assert "∂L/∂b (returned value 3 of 3) is wrong; the derived gradient is sum(G, axis=0)" in report
    line = next(x for x in report.splitlines() if "shape:" in x)
    # "has shape (6,) with N = 6 entries, where `b` is 1×M = 1×5 and needs M = 5", whatever the sizes drawn.
    assert " with N = " in line and "where `b` is 1×M = 1×" in line and "needs M = " in line
    assert "diagnosis: summed over the wrong axis: it equals sum(G, axis=1)" in report


def two_layer_backward(mask: bool):
    def backward(dY, X, W1, b1, W2, b2):
        Z = X @ W1 + b1
        H = np.maximum(Z, 0)
        dZ = (dY @ W2.T) * (Z > 0) if mask else dY @ W2.T
        return {"X": dZ @ W1.T, "W1": X.T @ dZ, "b1": dZ.sum(0), "W2": H.T @ dY, "b2": dY.sum(0)}
    return backward


def test_two_layer_backward_with_and_without_the_relu_mask():
    check_backward(two_layer_backward(True), TWO_LAYER, ["X", "W1", "b1", "W2", "b2"], TWO_LAYER_SHAPES)
    with pytest.raises(AssertionError) as info:
        check_backward(two_layer_backward(False), TWO_LAYER, ["X", "W1", "b1", "W2", "b2"], TWO_LAYER_SHAPES)
    report = str(info.value)
    for name in ("X", "W1", "b1"):
        assert f"∂L/∂{name} (returned[{name!r}]) is wrong" in report
    assert "∂L/∂W2" not in report and "∂L/∂b2" not in report
    assert report.count("diagnosis: missing the step(X @ W1 + b1) mask: it is the gradient of "
                        "(X @ W1 + b1) @ W2 + b2, as if relu were the identity") == 3


def test_backward_off_by_a_factor():
    def bad(dY, X, W, b):
        return dY @ W.T, 2 * X.T @ dY, dY.sum(axis=0)

    report = backward_failure(bad)
    assert "values: at [" in report and "diagnosis: off by a factor of 2: it is 2 × the gradient" in report


def test_backward_transposed_on_square_shapes_is_caught_by_values():
    def bad(dY, X, W, b):
        return dY @ W.T, dY.T @ X, dY.sum(axis=0)

    report = backward_failure(bad, shapes={"X": (3, 3), "W": (3, 3), "b": (1, 3)})
    assert "values: at [" in report and "diagnosis: it is the transpose of the gradient" in report


def test_backward_without_diagnosis_still_reports_values():
    report = backward_failure(lambda dY, X, W, b: (dY @ W.T, X.T @ dY + 1.0, dY.sum(0)))
    assert "∂L/∂W (returned value 2 of 3) is wrong" in report and "largest difference" in report
    assert "diagnosis" not in report


def test_backward_scalar_expression_gets_upstream_one():
    seen = []

    def backward(g, A, B):
        seen.append(g)
        return g * B.T

    check_backward(backward, "trace(A @ B)", "A", {"A": ("n", "m"), "B": ("m", "n")})
    assert seen == [1.0, 1.0, 1.0]


def test_backward_return_value_errors():
    with pytest.raises(AssertionError, match="returned no gradient for `b`"):
        check_backward(lambda dY, X, W, b: {"W": X.T @ dY}, "X @ W + b", ["W", "b"], LINEAR)
    with pytest.raises(AssertionError, match="returned 2 values; expected a dict or a tuple of 3"):
        check_backward(lambda dY, X, W, b: (1, 2), "X @ W + b", ["X", "W", "b"], LINEAR)
    with pytest.raises(OptionError, match="inputs must list each matrix"):
        check_backward(linear_backward, "X @ W + b", ["W"], LINEAR, inputs=["X", "W"])


# --------------------------------------------------------------------------
# identity tables


def test_identity_table_file_has_twenty_rows_that_all_check():
    rows = load_identities(DATA)
    assert len(rows) == 20 and len({r.test_id for r in rows}) == 20
    assert [r.holds for r in rows].count(False) == 1
    for row in rows:
        row.check()


def test_identity_json_and_list_sources(tmp_path):
    rows = [{"expr": "W @ X", "wrt": "W", "claim": "G @ X.T"}, {"expr": "W @ X", "wrt": "X", "claim": "W.T @ G"},
            {"expr": "W @ X", "wrt": "W", "claim": "G @ X.T", "shapes": {"W": [2, 3]}}]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"identity": rows}))
    loaded = load_identities(path)
    assert loaded == load_identities(rows)
    # Equal default ids are told apart by their row number.
    assert [r.test_id for r in loaded] == ["dW-W_X-0", "dX-W_X", "dW-W_X-2"]
    assert loaded[2].shapes == {"W": (2, 3)}
    assert [p.id for p in identity_params(path)] == ["dW-W_X-0", "dX-W_X", "dW-W_X-2"]


def test_identity_rows_that_are_wrong_or_malformed(tmp_path):
    with pytest.raises(AssertionError, match="does not hold"):
        Identity("W @ X", "W", "X.T @ G", {"W": (3, 2), "X": (2, 4)}).check()
    with pytest.raises(AssertionError, match="is listed as false, but it holds"):
        Identity("W @ X", "W", "G @ X.T", holds=False).check()
    with pytest.raises(OptionError, match="missing claim; unknown key clam"):
        load_identities([{"expr": "W @ X", "wrt": "W", "clam": "G @ X.T"}])
    bad = tmp_path / "rows.yaml"
    bad.write_text("")
    with pytest.raises(OptionError, match=r"\.toml or \.json"):
        load_identities(bad)
