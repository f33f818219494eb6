"""Evaluating a category model as served (LiteRT, calibrated), and the promotion gate.

No TensorFlow: the retrain job and the registry commands compare versions with this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fashiontag import calibration, config
from fashiontag.inference import CategoryModel


def predict_all(model: CategoryModel, x: np.ndarray, calibrated: bool = True) -> np.ndarray:
    """Probabilities (N, classes) for N normalised 28x28 images."""
    fn = model.probabilities if calibrated else model.raw_probabilities
    return np.stack([fn(img) for img in x])


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def metrics(probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    pred = probs.argmax(axis=1)
    matrix = confusion(labels, pred, len(class_names))
    per_class = {
        name: float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None for i, name in enumerate(class_names)
    }
    threshold = config.auto_accept_threshold()
    precision, coverage = calibration.precision_at(probs, labels, threshold)
    return {
        "count": len(labels),
        "accuracy": float((pred == labels).mean()),
        "per_class_accuracy": per_class,
        "ece": calibration.expected_calibration_error(probs, labels),
        "auto_accept": {"threshold": threshold, "precision": precision, "coverage": coverage},
        "confusion_matrix": matrix.tolist(),
    }


def evaluate(model: CategoryModel, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    return metrics(predict_all(model, x), y, model.labels)


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reasons": self.reasons}


def promotion_gate(
    candidate: dict[str, Any], active: dict[str, Any] | None, margin: float, max_class_drop: float
) -> GateDecision:
    """Promote only a candidate better by ``margin`` overall with no class worse by > ``max_class_drop``.

    Both metric sets must come from the same frozen evaluation set.
    """
    if active is None:
        return GateDecision(True, ["no active version to compare with"])
    if candidate["count"] != active["count"]:
        return GateDecision(False, ["candidate and active were evaluated on different sets"])
    reasons = []
    gain = candidate["accuracy"] - active["accuracy"]
    if gain < margin:
        reasons.append(
            f"accuracy {candidate['accuracy']:.2%} vs active {active['accuracy']:.2%}: "
            f"gain {gain:+.2%} is below the required {margin:+.2%}"
        )
    for name, value in candidate["per_class_accuracy"].items():
        before = active["per_class_accuracy"].get(name)
        if value is not None and before is not None and before - value > max_class_drop:
            reasons.append(f"class {name} drops from {before:.1%} to {value:.1%} (bound {max_class_drop:.1%})")
    if reasons:
        return GateDecision(False, reasons)
    return GateDecision(True, [f"accuracy {candidate['accuracy']:.2%} beats {active['accuracy']:.2%} by {gain:+.2%}"])
