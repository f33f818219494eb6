"""The dominant colours of the garment in a photo, measured from its pixels (not learned).

Which pixels are garment comes from the category model's garment map (``inference.Garment``):
the one localisation of the photo, learned on textured and dark backdrops, so a striped sheet
or a wooden floor is never measured as the garment. The garment's pixels are clustered (seeded
k-means in Lab), each cluster is named by the nearest entry of a small palette of named
colours, clusters with the same name are merged, and the result is each name's share of the
garment's pixels: a striped garment reports both its colours. ``hex`` is the measured
mean colour of the pixels behind a name (what the swatch should show); ``PALETTE`` holds the
reference colour of every name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image

from fashiontag.colour_names import PALETTE

# Work on a copy at most this many pixels a side: shares need a few thousand garment pixels,
# not hundreds of thousands, and box-averaging also evens out sensor and JPEG noise.
_SIDE = 128
# Fewer garment pixels than this share of the photo is no garment (dust, a crease, noise).
_MIN_FOREGROUND = 0.004
_MAX_SAMPLES = 5_000
_CLUSTERS = 5
_ITERATIONS = 8


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) in 0..255 to CIE Lab (D65), float64."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T
    xyz /= _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])
_PALETTE_NAMES = [name for name, _ in PALETTE]
_PALETTE_LAB = rgb_to_lab(np.array([_hex_to_rgb(value) for _, value in PALETTE], dtype=np.float64))


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray, k_l: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference between Lab colours, broadcasting over leading axes."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=np.float64), -1, 0)
    c7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    grey = c1p * c2p == 0
    dh = h2p - h1p
    dh = np.where(grey, 0.0, np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)))
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    h_sum = h1p + h2p
    h_mean = np.where(
        grey,
        h_sum,
        np.where(np.abs(h1p - h2p) <= 180, h_sum / 2, np.where(h_sum < 360, h_sum + 360, h_sum - 360) / 2),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    l_mean, c_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * t
    c7p = c_mean**7
    r_t = -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * 2 * np.sqrt(c7p / (c7p + 25.0**7))
    dl, dc, dhs = (l2 - l1) / (k_l * s_l), (c2p - c1p) / s_c, dhh / s_h
    return np.sqrt(dl**2 + dc**2 + dhs**2 + r_t * dc * dhs)


# Lightness weighs half as much as usual (k_L = 2, CIE's parametric factor for textiles): shading
# and folds make one fabric lighter and darker, and a red garment's shadows should stay red.
_TEXTILE_K_L = 2.0


def name_of(lab: np.ndarray) -> str:
    """The palette name nearest to one Lab colour (CIEDE2000, textile weighting)."""
    return _PALETTE_NAMES[int(np.argmin(delta_e_2000(_PALETTE_LAB, lab, _TEXTILE_K_L)))]


def _to_hex(rgb: np.ndarray) -> str:
    r, g, b = (round(float(x)) for x in np.clip(rgb, 0, 255))
    return f"#{r:02x}{g:02x}{b:02x}"


def _shrink(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    factor = math.ceil(max(arr.shape[:2]) / _SIDE)
    if factor <= 1:
        return arr
    return np.asarray(Image.fromarray(np.ascontiguousarray(arr), "RGB").reduce(factor))


# A pixel may be garment where the garment map, smoothed to the pixel grid, is at least this
# sure (the map is 16x16: its edges blend garment and backdrop); it is backdrop below _OUTSIDE.
_GARMENT_CORE = 0.75
_GARMENT_LOOSE = 0.4
_OUTSIDE = 0.15
# Candidate pixels this close (CIE76) to one of the backdrop's own colours are backdrop showing
# through the coarse map's edges, not garment.
_BACKDROP_DELTA_E = 10.0


def foreground(rgb: np.ndarray, garment_map: np.ndarray) -> np.ndarray:
    """Boolean mask of the garment's pixels in ``rgb`` (H, W, 3), from the model's garment map
    refined by colour: what the map calls garment, less what looks like the map's backdrop."""
    h, w = rgb.shape[:2]
    resized = Image.fromarray(np.asarray(garment_map, dtype=np.float32), "F").resize((w, h), Image.Resampling.BILINEAR)
    smooth = np.asarray(resized)
    minimum = max(25, int(_MIN_FOREGROUND * h * w))
    candidates = smooth >= _GARMENT_CORE
    if candidates.sum() < minimum:  # a thin garment (a sandal's straps) has no sure core
        candidates = smooth >= _GARMENT_LOOSE
    if candidates.sum() < minimum:
        return np.zeros((h, w), dtype=bool)
    outside = rgb[smooth < _OUTSIDE]
    if len(outside) >= minimum:
        step = max(1, len(outside) // 2000)
        backdrop, _ = _kmeans(rgb_to_lab(outside[::step]), 4)
        lab = rgb_to_lab(rgb[candidates])
        nearest = np.sqrt(((lab[:, None, :] - backdrop[None, :, :]) ** 2).sum(axis=-1)).min(axis=1)
        refined = candidates.copy()
        refined[candidates] = nearest > _BACKDROP_DELTA_E
        if refined.sum() >= minimum:
            return refined
    return candidates


def _kmeans(points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded k-means (k-means++ start): (centres, label of every point)."""
    rng = np.random.default_rng(0)
    centres = [points[int(rng.integers(len(points)))]]
    nearest = ((points - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = float(nearest.sum())
        if total <= 0:
            break
        centres.append(points[int(rng.choice(len(points), p=nearest / total))])
        nearest = np.minimum(nearest, ((points - centres[-1]) ** 2).sum(axis=1))
    centre_arr = np.array(centres)
    labels = np.zeros(len(points), dtype=np.intp)
    squared = (points**2).sum(axis=1)[:, None]
    for iteration in range(_ITERATIONS):
        distances = squared - 2.0 * points @ centre_arr.T + (centre_arr**2).sum(axis=1)[None, :]
        new_labels = distances.argmin(axis=1)
        if iteration and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        # Each centre moves to the mean of its members: sums by label in one pass per axis.
        counts = np.bincount(labels, minlength=len(centre_arr))
        sums = np.stack(
            [np.bincount(labels, weights=points[:, d], minlength=len(centre_arr)) for d in range(points.shape[1])],
            axis=1,
        )
        filled = counts > 0
        centre_arr[filled] = sums[filled] / counts[filled, None]
    return centre_arr, labels


def dominant_colours(
    rgb: np.ndarray, garment_map: np.ndarray, max_colours: int = 3, min_share: float = 0.05
) -> list[dict[str, Any]]:
    """Up to ``max_colours`` ``{"name", "hex", "share"}`` of the garment, largest share first.

    ``garment_map`` (any resolution, 0..1, covering the whole photo) says where the garment is.

    ``share`` is the part of the garment's pixels (not the photo's) the colour covers, rounded
    down to 3 decimals, so the shares sum to at most 1; names under ``min_share`` are left out.
    A photo where the map holds no garment gives ``[]``.
    """
    small = _shrink(rgb)
    mask = foreground(small, garment_map)
    if not mask.any():
        return []
    pixels = small[mask].astype(np.float64)
    if len(pixels) > _MAX_SAMPLES:
        # Evenly spaced rather than random: the same photo always gives the same answer.
        pixels = pixels[np.linspace(0, len(pixels) - 1, _MAX_SAMPLES).astype(np.intp)]
    lab = rgb_to_lab(pixels)
    centres, labels = _kmeans(lab, min(_CLUSTERS, len(lab)))
    counts: dict[str, int] = {}
    sums: dict[str, np.ndarray] = {}
    for j, centre in enumerate(centres):
        members = labels == j
        n = int(members.sum())
        if n == 0:
            continue
        name = name_of(centre)
        counts[name] = counts.get(name, 0) + n
        sums[name] = sums.get(name, np.zeros(3)) + pixels[members].sum(axis=0)
    result: list[dict[str, Any]] = [
        {"name": name, "hex": _to_hex(sums[name] / n), "share": math.floor(n / len(lab) * 1000) / 1000}
        for name, n in counts.items()
    ]
    result = [c for c in result if c["share"] >= min_share]
    result.sort(key=lambda c: (-c["share"], c["name"]))
    return result[:max_colours]
