"""classify_bytes with the shipped model: one localisation feeds the category, the crop and the colours."""

from __future__ import annotations

import numpy as np
import pytest

from fashiontag import classification, taxonomy
from fashiontag.inference import get_category_model
from tests import corpus


@pytest.mark.parametrize("name", sorted(corpus.empty_photos()))
def test_a_photo_without_garment_goes_to_review_with_a_reason(name: str) -> None:
    result = classification.classify_bytes(corpus.empty_photos()[name])
    assert not result.category.garment.found
    assert not result.category.auto_accepted
    reason = result.category.review_reason()
    assert reason is not None and reason["code"] == "no_garment_found"
    assert result.colours == []
    record = classification.record(corpus.empty_photos()[name])
    assert record["status"] == "ok" and record["review_reason"]["code"] == "no_garment_found"


def test_a_garment_is_found_where_it_lies_and_coloured() -> None:
    photo = corpus.jpeg(corpus.garment_photo(corpus.MAIN_SEED))
    result = classification.classify_bytes(photo)
    garment = result.category.garment
    assert garment.found
    h, w = result.photo.rgb.shape[:2]
    top, bottom, left, right = garment.box(h, w) or (0, 0, 0, 0)
    assert 0 <= top < bottom <= h and 0 <= left < right <= w
    # The studio render fills 60-90% of the shorter side: the box is neither a speck nor the frame.
    assert 0.1 < (bottom - top) * (right - left) / (h * w) < 0.95
    assert result.colours and result.colours[0]["share"] > 0.3
    assert result.category.label in taxonomy.load().labels


def test_confidence_below_the_version_threshold_is_explained() -> None:
    model = get_category_model()
    assert 0.5 <= model.threshold <= 1.0
    record = classification.record(corpus.jpeg(corpus.garment_photo(corpus.MAIN_SEED)))
    confident = record["category"]["confidence"] >= model.threshold
    assert record["auto_accepted"] == confident
    assert (record["review_reason"] is None) == confident
    if not confident:
        assert record["review_reason"]["code"] == "low_confidence"
        assert f"{model.threshold:.0%}" in record["review_reason"]["message"]


def test_the_model_input_is_what_the_browser_can_make() -> None:
    model = get_category_model()
    assert model.input_shape == (64, 64, 3)
    probs = model.probabilities(np.zeros((64, 64, 3), np.uint8))
    assert probs.shape == (len(model.labels),) and abs(float(probs.sum()) - 1) < 1e-4
