"""Product-photo-like pictures rendered from Fashion-MNIST images, for the demo, tests and bench.

Each 28x28 garment becomes a coloured garment on a plain or gradient backdrop, 300 to 800
pixels, with lighting, noise and JPEG artefacts; some are stored rotated with an EXIF
orientation tag, as phone cameras do. Rendering is seeded, so a sample set is reproducible.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# EXIF orientation tag -> the rotation (counter-clockwise degrees) to store the pixels with, so
# that a viewer honouring the tag shows the garment upright.
_EXIF_ROTATIONS = {3: 180, 6: 90, 8: 270}
_ORIENTATION_TAG = 0x0112

_GARMENT_COLOURS = [
    (20, 20, 24),
    (30, 40, 90),
    (120, 20, 30),
    (60, 70, 40),
    (90, 55, 30),
    (70, 70, 75),
    (40, 80, 150),
    (150, 40, 60),
    (30, 90, 80),
    (110, 80, 140),
    (170, 60, 30),
    (50, 50, 50),
]
_LIGHT_BACKDROPS = [
    (250, 250, 250),
    (238, 236, 230),
    (225, 228, 232),
    (245, 238, 225),
    (215, 225, 240),
    (235, 225, 230),
    (228, 236, 226),
]


@dataclass(frozen=True)
class Sample:
    file: str
    label: int
    source_index: int
    orientation: int


def _backdrop(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    first = np.array(_LIGHT_BACKDROPS[rng.integers(len(_LIGHT_BACKDROPS))], dtype=np.float64)
    if rng.random() < 0.5:
        return np.broadcast_to(first, (h, w, 3)).copy()
    second = np.clip(first - rng.uniform(15, 45), 0, 255)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    t = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    t = (t - t.min()) / max(np.ptp(t), 1e-6)
    return first * (1 - t[..., None]) + second * t[..., None]


def render_photo(garment: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One 28x28 uint8 garment (white on black) as an upright RGB product photo."""
    side = int(rng.integers(300, 801))
    aspect = float(rng.choice([1.0, 0.75, 4 / 3]))
    w, h = (side, int(side / aspect)) if aspect >= 1 else (int(side * aspect), side)
    photo = _backdrop(h, w, rng)

    fill = rng.uniform(0.6, 0.85)
    g = int(min(h, w) * fill)
    alpha_img = Image.fromarray(garment, "L").resize((g, g), Image.Resampling.BICUBIC)
    alpha = np.asarray(alpha_img, dtype=np.float64) / 255.0
    top = (h - g) // 2 + int(rng.integers(-(h - g) // 4, (h - g) // 4 + 1))
    left = (w - g) // 2 + int(rng.integers(-(w - g) // 4, (w - g) // 4 + 1))
    colour = np.array(_GARMENT_COLOURS[rng.integers(len(_GARMENT_COLOURS))], dtype=np.float64)
    region = photo[top : top + g, left : left + g]
    region += alpha[..., None] * (colour - region)

    # Soft light from one side and sensor noise.
    yy, xx = np.mgrid[0:h, 0:w]
    light = 1.0 + rng.uniform(-0.06, 0.06) * (xx / w - 0.5) + rng.uniform(-0.06, 0.06) * (yy / h - 0.5)
    photo = photo * light[..., None] + rng.normal(0, rng.uniform(1.0, 4.0), photo.shape)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")


def encode_jpeg(photo: Image.Image, rng: np.random.Generator, orientation: int = 1) -> bytes:
    """JPEG bytes; with ``orientation`` 3, 6 or 8 the pixels are stored rotated and tagged."""
    if orientation in _EXIF_ROTATIONS:
        photo = photo.rotate(_EXIF_ROTATIONS[orientation], expand=True)
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=int(rng.integers(78, 96)), exif=exif.tobytes())
    return buf.getvalue()


def write_samples(
    images: np.ndarray,
    labels: np.ndarray,
    out: Path,
    count: int,
    seed: int,
    rotated_share: float = 0.25,
) -> list[Sample]:
    """Render ``count`` photos of randomly chosen ``images`` into ``out`` with labels.csv."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    chosen = rng.choice(len(images), size=count, replace=False)
    samples = []
    for n, index in enumerate(chosen):
        orientation = int(rng.choice([3, 6, 8])) if rng.random() < rotated_share else 1
        data = encode_jpeg(render_photo(images[index], rng), rng, orientation)
        name = f"sample-{n:03d}.jpg"
        (out / name).write_bytes(data)
        samples.append(Sample(name, int(labels[index]), int(index), orientation))
    with (out / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "source_index", "orientation"])
        writer.writerows([s.file, s.label, s.source_index, s.orientation] for s in samples)
    return samples


def read_labels(folder: Path) -> dict[str, int]:
    with (folder / "labels.csv").open(newline="") as f:
        return {row["file"]: int(row["label"]) for row in csv.DictReader(f)}
