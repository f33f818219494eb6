"""Bytes in, specification out: the one path shared by on_upload, classify and the CLI.

Validate and decode the upload, reduce it to the model's input, predict the category and where
the garment is; then, from that one localisation, the attributes the taxonomy declares for
the category (or ``untrained``) and the garment's colours.
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
    """Validate, decode and classify one upload; raises ``Rejection`` for a file that is no usable photo.

    The models default to those shipped with the code; serving passes the registry's.
    """
    photo = images.decode(data, config.limits())
    model_input = images.model_input(photo.rgb)
    category = (model or get_category_model()).predict(model_input)
    attributes = attributes_for(category.label, photo.rgb, category.garment, attribute_models(category.label))
    found = colours.dominant_colours(photo.rgb, category.garment.mask) if category.garment.found else []
    return Classified(photo, model_input, category, attributes, found)


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
        "auto_accepted": category.auto_accepted,
        "review_reason": category.review_reason(),
        "attributes": result.attributes,
        "colours": result.colours,
        "model": category.model_dict(),
        "latency_ms": round(category.latency_ms, 3),
    }


def rejected(rejection: Rejection) -> dict[str, Any]:
    return {"status": "rejected", "rejection": rejection.as_dict()}
