"""Evaluating a category model as served (LiteRT, calibrated), and the promotion gate.

No TensorFlow: the retrain job and the registry commands compare versions with this module.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import calibration, config, images
from fashiontag.errors import Rejection
from fashiontag.inference import AttributeModel, CategoryModel


def predict_all(model: CategoryModel, x: np.ndarray, calibrated: bool = True) -> np.ndarray:
    """Probabilities (N, classes) for N model inputs (``images.model_input``)."""
    fn = model.probabilities if calibrated else model.raw_probabilities
    return np.stack([fn(img) for img in x])


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def metrics(
    probs: np.ndarray, labels: np.ndarray, class_names: list[str], threshold: float | None = None
) -> dict[str, Any]:
    pred = probs.argmax(axis=1)
    matrix = confusion(labels, pred, len(class_names))
    per_class = {
        name: float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None for i, name in enumerate(class_names)
    }
    per_class_count = {name: int(matrix[i].sum()) for i, name in enumerate(class_names)}
    # F1 and not recall for the gate: a weak model that over-predicts a class gets a high recall
    # there, and a better model would look like a regression on it.
    predicted = matrix.sum(axis=0)
    per_class_f1 = {
        name: float(2 * matrix[i, i] / (matrix[i].sum() + predicted[i])) if matrix[i].sum() + predicted[i] else None
        for i, name in enumerate(class_names)
    }
    threshold = config.auto_accept_threshold() if threshold is None else threshold
    precision, coverage = calibration.precision_at(probs, labels, threshold)
    return {
        "count": len(labels),
        "accuracy": float((pred == labels).mean()),
        "per_class_accuracy": per_class,
        "per_class_count": per_class_count,
        "per_class_f1": per_class_f1,
        "ece": calibration.expected_calibration_error(probs, labels),
        "auto_accept": {"threshold": threshold, "precision": precision, "coverage": coverage},
        "confusion_matrix": matrix.tolist(),
    }


def evaluate(model: CategoryModel, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Metrics of ``model`` as served, auto-accepting at the version's own threshold."""
    return metrics(predict_all(model, x), y, model.labels, model.threshold)


def evaluate_attributes(
    model: AttributeModel | None, crops: np.ndarray, labels: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Per-family accuracy of an attribute model as served, in the shape ``promotion_gate`` reads.

    ``labels`` holds a value index per crop and family, -1 where the family is unlabelled. A
    family the model has no head for counts as wrong on every labelled crop: saying `untrained`
    is no answer, so a candidate that drops a family is seen to regress on it.
    """
    predictions = [model.predict(crop) for crop in crops] if model is not None else [{} for _ in crops]
    values = {f["id"]: f["values"] for f in model.families} if model is not None else {}
    per_family: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for family, truth in labels.items():
        labelled = np.flatnonzero(truth >= 0)
        counts[family] = len(labelled)
        if not len(labelled):
            per_family[family] = None
            continue
        right = sum(
            1
            for i in labelled
            if family in predictions[i] and values[family].index(predictions[i][family]["label"]) == truth[i]
        )
        per_family[family] = right / len(labelled)
    scored = [v for v in per_family.values() if v is not None]
    return {
        "count": len(crops),
        "accuracy": float(np.mean(scored)) if scored else 0.0,  # mean over families: each matters alike
        "per_class_accuracy": per_family,
        "per_class_count": counts,
        "compares": "family",
    }


# What auto-accepted answers must reach on held-out photos; a candidate below both this and the
# active version's precision would let more wrong answers skip review.
TARGET_PRECISION = 0.99


def _auto_accept_regression(candidate: dict[str, Any], active: dict[str, Any]) -> list[str]:
    """A reason to refuse when the candidate's auto-accepted answers are less precise than
    both the target and the active version's, beyond sampling noise; else nothing."""
    mine, theirs = candidate.get("auto_accept") or {}, active.get("auto_accept") or {}
    precision, before = mine.get("precision"), theirs.get("precision")
    if precision is None or before is None:
        return []
    accepted = max(1.0, float(mine.get("coverage", 0.0)) * candidate["count"])
    noise = float(np.sqrt(precision * (1 - precision) / accepted))
    if precision >= min(before, TARGET_PRECISION) - 2 * noise:
        return []
    return [
        f"auto-accepted answers {precision:.2%} precise vs active {before:.2%} "
        f"(target {TARGET_PRECISION:.0%}): more wrong answers would skip review"
    ]


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

    Both metric sets must come from the same frozen evaluation set. Classes are compared by F1
    where both sides have it (by recall otherwise). A class drop counts when it
    exceeds the bound and also twice its standard error on that set (when class counts are
    known), so sampling noise of a few hundred images per class does not veto a better model.
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
    per_class_n = candidate.get("per_class_count", {})
    key = "per_class_f1" if "per_class_f1" in candidate and "per_class_f1" in active else "per_class_accuracy"
    for name, value in candidate[key].items():
        before = active[key].get(name)
        if value is None or before is None or before - value <= max_class_drop:
            continue
        n = per_class_n.get(name)
        if n:
            # A drop within sampling noise of the frozen set is not evidence of a regression.
            noise = float(np.sqrt(before * (1 - before) / n + value * (1 - value) / n))
            if before - value <= 2 * noise:
                continue
        unit = candidate.get("compares", "class")
        reasons.append(f"{unit} {name} drops from {before:.1%} to {value:.1%} (bound {max_class_drop:.1%})")
    reasons += _auto_accept_regression(candidate, active)
    if reasons:
        return GateDecision(False, reasons)
    return GateDecision(True, [f"accuracy {candidate['accuracy']:.2%} beats {active['accuracy']:.2%} by {gain:+.2%}"])


def read_labels(folder: Path, class_names: list[str]) -> dict[str, int]:
    """file -> class index from ``folder/labels.csv`` (columns ``file,label``; names or indices)."""
    path = folder / "labels.csv"
    if not path.is_file():
        raise ValueError(f"{path} not found: a folder to evaluate needs labels.csv with columns file,label")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not {"file", "label"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: the header must name the columns file and label")
        rows = list(reader)
    result = {}
    for row in rows:
        label = (row["label"] or "").strip()
        if label.isdigit() and int(label) < len(class_names):
            result[row["file"]] = int(label)
        elif label in class_names:
            result[row["file"]] = class_names.index(label)
        else:
            raise ValueError(f"{path}: {row['file']}: unknown label {label!r} (one of {', '.join(class_names)})")
    return result


def evaluate_folder(folder: Path, model: CategoryModel) -> dict[str, Any]:
    """Score every photo listed in ``folder/labels.csv`` as serving would (decode to answer).

    A photo that is refused (not an image, too large ...) counts as wrong and is never accepted.
    """
    truth = read_labels(folder, model.labels)
    k = len(model.labels)
    predicted, confidence, accepted, rejected, no_garment = [], [], [], [], 0
    for name in truth:
        try:
            photo = images.decode((folder / name).read_bytes(), config.limits())
        except (Rejection, OSError) as error:
            rejected.append({"file": name, "reason": getattr(error, "code", type(error).__name__)})
            predicted.append(-1)
            confidence.append(0.0)
            accepted.append(False)
            continue
        prediction = model.predict(images.model_input(photo.rgb))
        predicted.append(model.labels.index(prediction.label))
        confidence.append(prediction.confidence)
        accepted.append(prediction.auto_accepted)
        no_garment += int(not prediction.garment.found)
    y = np.array(list(truth.values()))
    pred, acc = np.array(predicted), np.array(accepted, dtype=bool)
    right = pred == y
    scored = pred >= 0  # refused files are listed apart, not as confusions
    matrix = confusion(y[scored], pred[scored], k)
    pairs = sorted(
        ((int(matrix[i, j]), i, j) for i in range(k) for j in range(k) if i != j and matrix[i, j]), reverse=True
    )
    confusions = [{"true": model.labels[i], "predicted": model.labels[j], "count": n} for n, i, j in pairs]
    per_class = {
        name: {"count": int((y == i).sum()), "accuracy": float(right[y == i].mean())}
        for i, name in enumerate(model.labels)
        if (y == i).any()
    }
    return {
        "folder": str(folder),
        "model": {"name": model.name, "version": model.version},
        "count": len(y),
        "accuracy": float(right.mean()) if len(y) else None,
        "per_class": per_class,
        "confusions": confusions,
        "auto_accept": {
            "threshold": model.threshold,
            "share": float(acc.mean()) if len(y) else 0.0,
            "precision": float(right[acc].mean()) if acc.any() else None,
        },
        "no_garment_found": no_garment,
        "rejected": rejected,
    }
