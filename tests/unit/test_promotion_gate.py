"""The promotion gate: better by a margin overall, and no class falling beyond a bound."""

from __future__ import annotations

from typing import Any

from fashiontag.evaluation import promotion_gate


def _metrics(accuracy: float, per_class: dict[str, float], count: int = 5000) -> dict[str, Any]:
    return {"count": count, "accuracy": accuracy, "per_class_accuracy": per_class}


ACTIVE = _metrics(0.90, {"shirt": 0.70, "bag": 0.98})


def test_clearly_better_candidate_is_promoted() -> None:
    decision = promotion_gate(_metrics(0.92, {"shirt": 0.75, "bag": 0.98}), ACTIVE, 0.002, 0.02)
    assert decision.promote


def test_worse_candidate_is_refused() -> None:
    decision = promotion_gate(_metrics(0.85, {"shirt": 0.60, "bag": 0.97}), ACTIVE, 0.002, 0.02)
    assert not decision.promote
    assert any("below the required" in r for r in decision.reasons)
    assert any("shirt drops" in r for r in decision.reasons)


def test_better_overall_but_one_class_regresses_is_refused() -> None:
    decision = promotion_gate(_metrics(0.93, {"shirt": 0.65, "bag": 0.99}), ACTIVE, 0.002, 0.02)
    assert not decision.promote
    assert decision.reasons == ["class shirt drops from 70.0% to 65.0% (bound 2.0%)"]


def test_equal_is_not_better() -> None:
    assert not promotion_gate(ACTIVE, ACTIVE, 0.002, 0.02).promote


def test_different_evaluation_sets_are_not_compared() -> None:
    assert not promotion_gate(_metrics(0.99, {"shirt": 0.9, "bag": 0.99}, count=100), ACTIVE, 0.0, 1.0).promote


def test_first_version_needs_no_comparison() -> None:
    assert promotion_gate(ACTIVE, None, 0.002, 0.02).promote


def test_a_drop_within_sampling_noise_is_not_a_regression() -> None:
    active = {**_metrics(0.80, {"shirt": 0.60, "bag": 0.90}), "per_class_count": {"shirt": 100, "bag": 100}}
    noisy = {**_metrics(0.85, {"shirt": 0.57, "bag": 0.97}), "per_class_count": {"shirt": 100, "bag": 100}}
    assert promotion_gate(noisy, active, 0.002, 0.02).promote  # 3 points on 100 images is noise
    clear = {**noisy, "per_class_accuracy": {"shirt": 0.35, "bag": 0.99}}
    assert not promotion_gate(clear, active, 0.002, 0.02).promote


def test_classes_are_compared_by_f1_when_known() -> None:
    # The active model over-predicts shirts: high shirt recall, poor shirt F1. The candidate's
    # lower shirt recall with a better F1 is no regression.
    active = {**_metrics(0.80, {"shirt": 0.95, "bag": 0.90}), "per_class_f1": {"shirt": 0.60, "bag": 0.90}}
    candidate = {**_metrics(0.88, {"shirt": 0.80, "bag": 0.95}), "per_class_f1": {"shirt": 0.78, "bag": 0.94}}
    assert promotion_gate(candidate, active, 0.002, 0.02).promote


def _with_auto_accept(accuracy: float, precision: float, coverage: float) -> dict[str, Any]:
    return {
        **_metrics(accuracy, {"shirt": 0.7, "bag": 0.98}),
        "auto_accept": {"precision": precision, "coverage": coverage},
    }


def test_better_accuracy_but_less_precise_auto_accepts_is_refused() -> None:
    decision = promotion_gate(_with_auto_accept(0.93, 0.95, 0.7), _with_auto_accept(0.90, 0.995, 0.6), 0.002, 0.02)
    assert not decision.promote
    assert any("skip review" in r for r in decision.reasons)


def test_auto_accept_precision_within_noise_or_above_target_passes() -> None:
    decision = promotion_gate(_with_auto_accept(0.93, 0.992, 0.7), _with_auto_accept(0.90, 0.998, 0.6), 0.002, 0.02)
    assert decision.promote
