"""Bytes in, specification out: the one path shared by on_upload, classify and the CLI.

Validate and decode the upload, normalise it, predict the category, then the attributes the
taxonomy declares for that category (or ``untrained``), and measure the garment's colours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashiontag import colours, config, images
from fashiontag.errors import Rejection
from fashiontag.inference import (
    AttributeModel,
    CategoryModel,
    CategoryPrediction,
    attributes_for,
    get_category_model,
    shipped_attribute_model,
)

AttributeModels = Callable[[str], AttributeModel | None]


@dataclass(frozen=True)
class Classified:
    photo: images.Photo
    model_input: np.ndarray
    category: CategoryPrediction
    attributes: dict[str, dict[str, Any]]
    colours: list[dict[str, Any]]


def classify_bytes(
    data: bytes, model: CategoryModel | None = None, attribute_models: AttributeModels = shipped_attribute_model
) -> Classified:
    """Validate, normalise and classify one upload; raises ``Rejection`` for bad input.

    The models default to those shipped with the code; serving passes the registry's.
    """
    photo = images.decode(data, config.limits())
    model_input = images.normalise(photo.rgb)
    category = (model or get_category_model()).predict(model_input)
    attributes = attributes_for(category.label, photo.rgb, attribute_models(category.label))
    return Classified(photo, model_input, category, attributes, colours.dominant_colours(photo.rgb))


def record(
    data: bytes, model: CategoryModel | None = None, attribute_models: AttributeModels = shipped_attribute_model
) -> dict[str, Any]:
    """The JSON answer of ``fashiontag classify`` and the classify function for one image."""
    try:
        result = classify_bytes(data, model, attribute_models)
    except Rejection as rejection:
        return rejected(rejection)
    category = result.category
    return {
        "status": "ok",
        "category": category.category_dict(),
        "attributes": result.attributes,
        "colours": result.colours,
        "model": category.model_dict(),
        "latency_ms": round(category.latency_ms, 3),
    }


def rejected(rejection: Rejection) -> dict[str, Any]:
    return {"status": "rejected", "rejection": rejection.as_dict()}
