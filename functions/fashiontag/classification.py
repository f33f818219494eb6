"""Bytes in, category prediction out: the one path shared by on_upload, classify and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fashiontag import config, images
from fashiontag.errors import Rejection
from fashiontag.inference import CategoryModel, CategoryPrediction, get_category_model


@dataclass(frozen=True)
class Classified:
    photo: images.Photo
    model_input: np.ndarray
    category: CategoryPrediction


def classify_bytes(data: bytes, model: CategoryModel | None = None) -> Classified:
    """Validate, normalise and classify one upload; raises ``Rejection`` for bad input.

    ``model`` defaults to the baseline shipped with the code; serving passes the registry's.
    """
    photo = images.decode(data, config.limits())
    model_input = images.normalise(photo.rgb)
    category = (model or get_category_model()).predict(model_input)
    return Classified(photo=photo, model_input=model_input, category=category)


def record(data: bytes, model: CategoryModel | None = None) -> dict[str, Any]:
    """The JSON answer of ``fashiontag classify`` and the classify function for one image."""
    try:
        result = classify_bytes(data, model)
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
