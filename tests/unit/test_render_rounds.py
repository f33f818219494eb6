"""``fashiontag train category --render-rounds N``: the training garments rendered N times over
with other seeds; round one, the held-out split and the calibration photos stay as they were."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashiontag import fashion_mnist
from fashiontag.training import category


def test_a_second_round_adds_other_photos_of_the_same_garments_and_changes_nothing_else(tmp_path: Path) -> None:
    x, y = fashion_mnist.load_fashion_mnist("train")
    garments, labels = x[:40], y[:40]
    one, calibration_one = category.build_examples(garments, labels, 5, tmp_path)
    two, calibration_two = category.build_examples(garments, labels, 5, tmp_path, rounds=2)
    rendered = 3 * (40 - 40 // 5)  # two everyday photos and one studio photo of each kept garment
    assert len(two.y) == len(one.y) + rendered
    assert np.array_equal(two.x[: len(one.y)], one.x)  # round one as it always was
    assert np.array_equal(calibration_two.x, calibration_one.x)
    extra = two.x[len(one.y) :]
    assert not np.array_equal(extra, one.x[:rendered])  # new photos, not copies
    assert sorted(two.y[len(one.y) :][two.y[len(one.y) :] >= 0]) == sorted(one.y[:rendered][one.y[:rendered] >= 0])
