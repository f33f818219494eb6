"""The photo renderer: reproducible labelled folders, families kept apart, masks that match."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fashiontag import config, evaluation, images, taxonomy
from fashiontag.renders import photos, pool, sets
from tests import corpus

COUNT = 12


@pytest.fixture(scope="module")
def fashion() -> tuple[np.ndarray, np.ndarray]:
    """A slice of Fashion-MNIST: enough to choose from, small enough to stay fast."""
    images_, labels = corpus.fashion_mnist()
    return images_[:2000], labels[:2000]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_files_other_seed_other_files(fashion: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    sets.write_photos(*fashion, tmp_path / "a", count=COUNT, seed=11, style="everyday")
    sets.write_photos(*fashion, tmp_path / "b", count=COUNT, seed=11, style="everyday")
    sets.write_photos(*fashion, tmp_path / "c", count=COUNT, seed=12, style="everyday")
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert files(tmp_path / "a") != files(tmp_path / "c")


def test_labels_csv_names_every_photo_and_what_was_drawn(
    fashion: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    written = sets.write_photos(*fashion, tmp_path, count=COUNT, seed=3, style="unseen", rotated_share=0.5)
    truth = evaluation.read_labels(tmp_path, taxonomy.load().labels)
    assert truth == {p.file: p.label for p in written}
    assert {p.backdrop for p in written} <= set(photos.HELD_OUT_BACKDROPS)
    assert any(p.orientation != 1 for p in written)
    for p in written:
        photo = images.decode((tmp_path / p.file).read_bytes(), config.limits())
        assert 480 <= max(photo.width, photo.height) <= 800


def test_exif_rotated_photos_decode_upright(fashion: tuple[np.ndarray, np.ndarray]) -> None:
    scene = photos.render(fashion[0][1], np.random.default_rng(1), photos.STUDIO, side=300, jpeg=False)
    from PIL import Image

    upright = images.decode(sets.encode_jpeg(Image.fromarray(scene.rgb), 95), config.limits()).rgb.astype(float)
    for orientation in (3, 6, 8):
        rotated = images.decode(sets.encode_jpeg(Image.fromarray(scene.rgb), 95, orientation), config.limits()).rgb
        assert rotated.shape == upright.shape
        assert np.abs(rotated.astype(float) - upright).mean() < 3


def test_training_never_draws_the_held_out_families() -> None:
    assert not set(photos.EVERYDAY.backdrops) & set(photos.HELD_OUT_BACKDROPS)
    assert not set(photos.EVERYDAY.patterns) & set(photos.HELD_OUT_PATTERNS)
    assert set(photos.UNSEEN.backdrops) == set(photos.HELD_OUT_BACKDROPS)
    assert set(photos.TRAIN_BACKDROPS) | set(photos.HELD_OUT_BACKDROPS) == set(photos.BACKDROPS)


@pytest.mark.parametrize("backdrop", sorted(photos.BACKDROPS))
def test_every_backdrop_renders_a_garment_where_its_mask_says(
    backdrop: str, fashion: tuple[np.ndarray, np.ndarray]
) -> None:
    style = photos.Style(**{**photos.EVERYDAY.__dict__, "backdrops": (backdrop,), "stray_object": 0.0})
    scene = photos.render(fashion[0][0], np.random.default_rng(4), style, side=160)
    assert scene.rgb.shape[:2] == scene.mask.shape and scene.backdrop == backdrop
    share = float((scene.mask > 0.5).mean())
    assert 0.03 < share < 0.8
    # The garment's pixels are not the backdrop's: their mean colours differ visibly.
    inside, outside = scene.rgb[scene.mask > 0.9].mean(axis=0), scene.rgb[scene.mask < 0.01].mean(axis=0)
    assert np.abs(inside - outside).sum() > 10 or scene.rgb[scene.mask > 0.9].std() > 10


def test_a_photo_without_garment_has_an_empty_mask_and_no_label(fashion: tuple[np.ndarray, np.ndarray]) -> None:
    rendered = pool.render_pool(fashion[0][:10], fashion[1][:10], "everyday", seed=1, empty_every=5, workers=1)
    empty = rendered.y == -1
    assert empty.sum() == 2
    assert rendered.mask[empty].max() == 0 and rendered.mask[~empty].max() > 200
    assert rendered.x.shape == (10, images.MODEL_SIDE, images.MODEL_SIDE, 3)


def test_render_pool_is_the_same_whatever_the_number_of_workers(fashion: tuple[np.ndarray, np.ndarray]) -> None:
    one = pool.render_pool(fashion[0][:6], fashion[1][:6], "studio", seed=2, workers=1)
    two = pool.render_pool(fashion[0][:6], fashion[1][:6], "studio", seed=2, workers=2)
    assert np.array_equal(one.x, two.x) and np.array_equal(one.mask, two.mask)
