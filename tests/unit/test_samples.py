"""write_samples: reproducible product-photo sample sets with labels.csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashiontag import config, images, samples
from tests import corpus

COUNT = 16


@pytest.fixture(scope="module")
def fashion() -> tuple[np.ndarray, np.ndarray]:
    """A slice of Fashion-MNIST: enough to choose from, small enough to stay fast."""
    images_, labels = corpus.fashion_mnist()
    return images_[:2000], labels[:2000]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_files_other_seed_other_files(fashion: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    first = samples.write_samples(*fashion, tmp_path / "a", count=COUNT, seed=11)
    again = samples.write_samples(*fashion, tmp_path / "b", count=COUNT, seed=11)
    other = samples.write_samples(*fashion, tmp_path / "c", count=COUNT, seed=12)
    assert first == again
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert first != other
    assert files(tmp_path / "a")["sample-000.jpg"] != files(tmp_path / "c")["sample-000.jpg"]


def test_labels_csv_describes_every_sample(fashion: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    images_, labels = fashion
    written = samples.write_samples(images_, labels, tmp_path, count=COUNT, seed=3)
    assert len(written) == COUNT
    with (tmp_path / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["file", "label", "source_index", "orientation"]
    assert [r["file"] for r in rows] == [f"sample-{n:03d}.jpg" for n in range(COUNT)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([r["file"] for r in rows] + ["labels.csv"])
    assert len({r["source_index"] for r in rows}) == COUNT  # drawn without replacement
    for row, sample in zip(rows, written, strict=True):
        assert int(row["label"]) == labels[int(row["source_index"])] == sample.label
        assert int(row["orientation"]) == sample.orientation
    assert samples.read_labels(tmp_path) == {s.file: s.label for s in written}


def test_photos_are_300_to_800_pixels_and_some_are_exif_rotated(
    fashion: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    written = samples.write_samples(*fashion, tmp_path, count=24, seed=5, rotated_share=0.5)
    rotated = [s for s in written if s.orientation != 1]
    assert rotated and len(rotated) < len(written)
    for sample in written:
        data = (tmp_path / sample.file).read_bytes()
        stored = Image.open(io.BytesIO(data))
        assert stored.format == "JPEG" and stored.mode == "RGB"
        assert stored.getexif().get(0x0112) == sample.orientation
        # The longest edge is 300..800 px; the other follows the 1:1, 3:4 or 4:3 aspect.
        assert 300 <= max(stored.size) <= 800
        assert min(stored.size) >= 0.75 * max(stored.size) - 1
        # Decoded upright: a quarter turn swaps which edge is the longer one.
        h, w, _ = images.decode(data, config.limits()).rgb.shape
        if stored.width != stored.height:
            turned = sample.orientation in (6, 8)
            assert (w > h) == ((stored.width > stored.height) != turned)


def test_rotated_samples_decode_upright(fashion: tuple[np.ndarray, np.ndarray]) -> None:
    # The same render stored with each orientation decodes to the same upright picture.
    photo = samples.render_photo(fashion[0][1], np.random.default_rng(1))
    decoded = [
        images.decode(samples.encode_jpeg(photo, np.random.default_rng(2), o), config.limits()).rgb
        for o in (1, 3, 6, 8)
    ]
    reference = decoded[0].astype(np.float64)
    for rgb in decoded[1:]:
        assert rgb.shape == reference.shape
        assert np.abs(rgb.astype(np.float64) - reference).mean() < 4
