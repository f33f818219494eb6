"""The auto-accept threshold: the lowest confidence whose accepted answers are precise enough."""

from __future__ import annotations

import numpy as np

from fashiontag import calibration


def _scored(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-class predictions whose confidence is exactly the chance of being right, most of
    them confident (as a trained model's are)."""
    rng = np.random.default_rng(seed)
    confidence = 1.0 - 0.5 * rng.random(n) ** 3
    right = rng.random(n) < confidence
    probs = np.stack([confidence, 1 - confidence], axis=1)
    return probs, np.where(right, 0, 1)


def test_threshold_keeps_precision_above_the_target_on_fresh_data() -> None:
    probs, labels = _scored(20000, 1)
    threshold, precision, coverage = calibration.choose_threshold(probs, labels, 0.99)
    assert precision is not None and precision >= 0.99
    # Calibrated confidences: accepting from t on is precise by the mean confidence above t,
    # 0.99 from about t = 0.96 on; the interval's lower end asks for a little more.
    assert 0.96 < threshold < 0.99
    fresh, fresh_labels = _scored(20000, 2)
    fresh_precision, fresh_coverage = calibration.precision_at(fresh, fresh_labels, threshold)
    assert fresh_precision is not None and fresh_precision >= 0.99
    assert 0.3 < coverage < 0.5 and abs(fresh_coverage - coverage) < 0.02


def test_a_few_lucky_hits_do_not_set_the_threshold() -> None:
    probs = np.array([[0.99, 0.01], [0.98, 0.02], [0.97, 0.03], [0.6, 0.4]])
    labels = np.array([0, 0, 0, 1])
    # Three right answers cannot show 99% precision: nothing is accepted without review.
    assert calibration.choose_threshold(probs, labels, 0.99) == (1.0, None, 0.0)


def test_a_model_that_is_always_right_accepts_from_the_floor() -> None:
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.5, 1.0, 5000)
    probs = np.stack([confidence, 1 - confidence], axis=1)
    threshold, precision, coverage = calibration.choose_threshold(probs, np.zeros(5000, int), 0.99, floor=0.5)
    assert precision == 1.0 and threshold >= 0.5
    assert coverage == float((confidence >= threshold).mean())
