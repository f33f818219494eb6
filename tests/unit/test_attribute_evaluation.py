"""Attribute versions compared as served: per-family accuracy, and a dropped family counts as wrong."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fashiontag import config, images, synthetic
from fashiontag.evaluation import evaluate_attributes, promotion_gate
from fashiontag.inference import AttributeModel, shipped_attribute_dir
from fashiontag.training import data

FAMILIES = synthetic.TROUSER_FAMILIES


@pytest.fixture(scope="module")
def renders() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    photos: list[np.ndarray] = []
    labels: dict[str, list[int]] = {f: [] for f in FAMILIES}
    for n in range(40):
        rng = np.random.default_rng([99, n])
        truth = synthetic.sample_labels(rng)
        buf = io.BytesIO()
        synthetic.render_trouser(truth, rng).save(buf, "JPEG", quality=90)
        photos.append(images.decode(buf.getvalue(), config.limits()).rgb)
        for family, values in FAMILIES.items():
            labels[family].append(values.index(truth[family]))
    return data.garment_crops(photos, 64), {f: np.array(v) for f, v in labels.items()}


@pytest.fixture(scope="module")
def shipped() -> AttributeModel:
    model_dir = shipped_attribute_dir("trouser")
    assert model_dir is not None
    return AttributeModel(model_dir)


def test_the_shipped_model_reads_renders(shipped, renders) -> None:
    crops, labels = renders
    result = evaluate_attributes(shipped, crops, labels)
    assert result["count"] == 40 and result["compares"] == "family"
    assert set(result["per_class_accuracy"]) == set(FAMILIES)
    assert result["accuracy"] > 0.8  # v1 scores 94-100% per family on held-out renders
    assert result["per_class_count"]["fit"] == 40


def test_unlabelled_crops_do_not_count(shipped, renders) -> None:
    crops, labels = renders
    partial = {**labels, "rise": np.full(len(crops), -1)}
    result = evaluate_attributes(shipped, crops, partial)
    assert result["per_class_accuracy"]["rise"] is None and result["per_class_count"]["rise"] == 0
    full = evaluate_attributes(shipped, crops, labels)
    assert result["per_class_accuracy"]["fit"] == full["per_class_accuracy"]["fit"]


def test_no_model_scores_zero_and_a_model_that_drops_a_family_is_refused(shipped, renders) -> None:
    crops, labels = renders
    nothing = evaluate_attributes(None, crops, labels)
    assert nothing["accuracy"] == 0.0
    active = evaluate_attributes(shipped, crops, labels)
    # A candidate with every family of the active version but one: that family counts as wrong.
    candidate = {**active, "per_class_accuracy": {**active["per_class_accuracy"], "wash": 0.0}}
    candidate["accuracy"] = float(np.mean(list(candidate["per_class_accuracy"].values())))
    decision = promotion_gate(candidate, active, 0.002, 0.02)
    assert not decision.promote
    assert any(r.startswith("family wash drops") for r in decision.reasons)
