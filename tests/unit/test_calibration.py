"""Temperature scaling on synthetic over-confident predictions with a known answer."""

from __future__ import annotations

import numpy as np

from fashiontag import calibration


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions whose true calibrated form is softmax(z); the model reports softmax(3 z)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, size=(n, 10))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(10, p=p) for p in true])
    reported = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    return reported, labels


def test_fitted_temperature_recovers_the_overconfidence() -> None:
    probs, labels = _overconfident(6000, 1)
    t = calibration.fit_temperature(probs, labels)
    assert 2.6 < t < 3.4


def test_temperature_lowers_ece_and_keeps_every_prediction() -> None:
    probs, labels = _overconfident(6000, 2)
    t = calibration.fit_temperature(probs, labels)
    calibrated = calibration.apply_temperature(probs, t)
    assert (calibrated.argmax(axis=1) == probs.argmax(axis=1)).all()
    before = calibration.expected_calibration_error(probs, labels)
    after = calibration.expected_calibration_error(calibrated, labels)
    assert after < before / 3
    assert np.allclose(calibrated.sum(axis=1), 1.0)


def test_precision_at_threshold() -> None:
    probs = np.array([[0.95, 0.05], [0.92, 0.08], [0.6, 0.4], [0.1, 0.9]])
    labels = np.array([0, 1, 0, 1])
    precision, coverage = calibration.precision_at(probs, labels, 0.9)
    assert precision == 2 / 3 and coverage == 0.75
    assert calibration.precision_at(probs, labels, 0.99) == (None, 0.0)
