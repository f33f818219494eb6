"""Folders of rendered photos with their labels: the demo's uploads, evaluation sets, bench input.

Each folder holds JPEG files, 480 to 800 pixels, some stored rotated with an EXIF orientation
tag as phones do, and ``labels.csv`` (``file,label`` plus what the renderer drew), the format
``fashiontag evaluate`` reads. Rendering is seeded: a folder is reproducible.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fashiontag import taxonomy
from fashiontag.renders import photos

# EXIF orientation tag -> the rotation (counter-clockwise degrees) to store the pixels with, so
# that a viewer honouring the tag shows the garment upright.
_EXIF_ROTATIONS = {3: 180, 6: 90, 8: 270}
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class PhotoFile:
    file: str
    label: int
    source_index: int
    orientation: int
    backdrop: str
    pattern: str


def encode_jpeg(photo: Image.Image, quality: int, orientation: int = 1) -> bytes:
    """JPEG bytes; with ``orientation`` 3, 6 or 8 the pixels are stored rotated and tagged."""
    if orientation in _EXIF_ROTATIONS:
        photo = photo.rotate(_EXIF_ROTATIONS[orientation], expand=True)
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def photo_bytes(garment: np.ndarray, rng: np.random.Generator, style: str = "studio", orientation: int = 1) -> bytes:
    """One photo file of ``garment`` in ``style``, 480-800 px."""
    scene = photos.render(garment, rng, photos.STYLES[style], side=int(rng.integers(480, 801)), jpeg=False)
    return encode_jpeg(Image.fromarray(scene.rgb, "RGB"), scene.quality, orientation)


def write_photos(
    images: np.ndarray,
    labels: np.ndarray,
    out: Path,
    count: int,
    seed: int,
    style: str = "studio",
    rotated_share: float = 0.25,
    prefix: str = "photo",
) -> list[PhotoFile]:
    """Render ``count`` photos of randomly chosen ``images`` into ``out`` with labels.csv."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    chosen = rng.choice(len(images), size=count, replace=False)
    names = taxonomy.load().labels
    written = []
    for n, index in enumerate(chosen):
        orientation = int(rng.choice([3, 6, 8])) if rng.random() < rotated_share else 1
        scene = photos.render(images[index], rng, photos.STYLES[style], side=int(rng.integers(480, 801)), jpeg=False)
        name = f"{prefix}-{n:04d}.jpg"
        (out / name).write_bytes(encode_jpeg(Image.fromarray(scene.rgb, "RGB"), scene.quality, orientation))
        written.append(PhotoFile(name, int(labels[index]), int(index), orientation, scene.backdrop, scene.pattern))
    with (out / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "source_index", "orientation", "backdrop", "pattern"])
        writer.writerows(
            [p.file, names[p.label], p.source_index, p.orientation, p.backdrop, p.pattern] for p in written
        )
    return written


def read_labels(folder: Path) -> dict[str, int]:
    """file -> category index from ``folder/labels.csv``; labels may be names or indices."""
    names = taxonomy.load().labels
    with (folder / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    result = {}
    for row in rows:
        label = row["label"].strip()
        if label.isdigit() and int(label) < len(names):
            result[row["file"]] = int(label)
        elif label in names:
            result[row["file"]] = names.index(label)
        else:
            raise ValueError(
                f"{folder / 'labels.csv'}: {row['file']}: unknown label {label!r} (one of {', '.join(names)})"
            )
    return result
