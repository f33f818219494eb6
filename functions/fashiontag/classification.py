"""Bytes in, category prediction out: the one path shared by on_upload, classify and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import config, images
from fashiontag.errors import Rejection
from fashiontag.inference import CategoryPrediction, get_category_model


@dataclass(frozen=True)
class Classified:
    photo: images.Photo
    model_input: np.ndarray
    category: CategoryPrediction


def classify_bytes(data: bytes, model_dir: Path | None = None) -> Classified:
    """Validate, normalise and classify one upload; raises ``Rejection`` for bad input."""
    photo = images.decode(data, config.limits())
    model_input = images.normalise(photo.rgb)
    category = get_category_model(model_dir).predict(model_input)
    return Classified(photo=photo, model_input=model_input, category=category)


def record(data: bytes, model_dir: Path | None = None) -> dict[str, Any]:
    """The JSON answer of ``fashiontag classify`` and the classify function for one image."""
    try:
        result = classify_bytes(data, model_dir)
    except Rejection as rejection:
        return rejected(rejection)
    category = result.category
    return {
        "status": "ok",
        "category": category.category_dict(),
        "model": category.model_dict(),
        "latency_ms": round(category.latency_ms, 3),
    }


def rejected(rejection: Rejection) -> dict[str, Any]:
    return {"status": "rejected", "rejection": rejection.as_dict()}
