"""Procedural surfaces for rendered photos: backdrops sellers shoot on, and garment fabrics.

Every generator takes ``(h, w, rng)`` and returns float64 RGB (h, w, 3) in 0..255 (backdrops)
or a pattern of two or three colours (fabrics). They are grouped into *families* so that a
model can be trained on some and judged on others it never saw (``photos.FAMILIES``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

Generator = Callable[[int, int, np.random.Generator], np.ndarray]


# --- building blocks -------------------------------------------------------------------------


def smooth_noise(h: int, w: int, cells: float, rng: np.random.Generator) -> np.ndarray:
    """Value noise in -1..1: a coarse random grid of about ``cells`` cells a side, bicubic."""
    gh, gw = max(2, round(cells * h / max(h, w)) + 2), max(2, round(cells * w / max(h, w)) + 2)
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float64)


def fbm(h: int, w: int, rng: np.random.Generator, base: float = 3.0, octaves: int = 4) -> np.ndarray:
    """Fractal noise, roughly -1..1: octaves of value noise, each twice as fine and half as strong."""
    total = np.zeros((h, w))
    for o in range(octaves):
        total += smooth_noise(h, w, base * 2**o, rng) * 0.5**o
    return total / 1.9


def coords(h: int, w: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates rotated by ``angle`` (radians), in pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    c, s = np.cos(angle), np.sin(angle)
    return xx * c + yy * s, -xx * s + yy * c


def random_colour(rng: np.random.Generator, lightness: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """A colour with a random hue, saturation skewed low (as real fabrics and rooms are)."""
    v = rng.uniform(*lightness)
    sat = rng.beta(1.2, 2.5)
    hue = rng.uniform(0, 1)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
    rgb = v - v * sat * np.clip(np.minimum(k, 4 - k), 0, 1)
    return rgb * 255.0


def _paint(value: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return value[..., None] * colour[None, None, :]


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


# --- backdrops -------------------------------------------------------------------------------


def plain(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    return np.broadcast_to(random_colour(rng, (0.55, 1.0)), (h, w, 3)).copy()


def studio(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A light seamless backdrop, plain or with a soft gradient: the catalogue shot."""
    first = random_colour(rng, (0.82, 1.0)) * 0.3 + 255.0 * 0.7 * rng.uniform(0.85, 1.0)
    if rng.random() < 0.5:
        return np.broadcast_to(first, (h, w, 3)).copy()
    x, _ = coords(h, w, rng.uniform(0, 2 * np.pi))
    t = (x - x.min()) / max(np.ptp(x), 1e-6)
    return _mix(np.broadcast_to(first, (h, w, 3)), first * rng.uniform(0.75, 0.95), t)


def sheet(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A bed sheet: soft folds (warped ridges in one direction) over a light or mid colour."""
    x, y = coords(h, w, rng.uniform(0, np.pi))
    warp = fbm(h, w, rng, 2.0, 3) * rng.uniform(20, 60)
    period = rng.uniform(0.15, 0.5) * max(h, w)
    folds = np.sin(2 * np.pi * (x + warp) / period) * rng.uniform(0.05, 0.2)
    shade = 1.0 + folds + fbm(h, w, rng, 3.0, 3) * 0.08
    base = _paint(shade, random_colour(rng, (0.5, 1.0)))
    if rng.random() < 0.3:  # a faint printed sheet
        base *= 1 - 0.08 * (np.sin(2 * np.pi * y / rng.uniform(6, 20)) > 0.6)[..., None]
    return base


def wood(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Planks of wood: grain lines along the planks, a seam between them, varied brown."""
    angle = rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.05)
    x, y = coords(h, w, angle)
    plank = rng.uniform(0.15, 0.45) * max(h, w)
    index = np.floor(y / plank)
    warp = fbm(h, w, rng, 4.0, 3) * rng.uniform(2, 8)
    grain = np.sin((y + warp + index * 37.0) * rng.uniform(0.4, 1.2)) * 0.5 + 0.5
    colour = np.array([rng.uniform(110, 210), rng.uniform(70, 150), rng.uniform(30, 90)])
    tone = 1.0 + (np.sin(index * 12.9898) * 43758.5453 % 1 - 0.5) * 0.25 - grain * rng.uniform(0.08, 0.25)
    seam = np.abs(y - (index + 0.5) * plank) > plank / 2 - rng.uniform(0.5, 2.0)
    tone = np.where(seam, tone * 0.55, tone)
    del x
    return _paint(tone, colour)


def tiles(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Floor or wall tiles: square tiles of slightly varied colour with grout lines."""
    x, y = coords(h, w, rng.normal(0, 0.1) + rng.choice([0.0, np.pi / 4]))
    size = rng.uniform(0.12, 0.4) * max(h, w)
    ix, iy = np.floor(x / size), np.floor(y / size)
    jitter = (np.sin(ix * 12.9898 + iy * 78.233) * 43758.5453) % 1
    colour = random_colour(rng, (0.35, 1.0))
    tone = 1.0 + (jitter - 0.5) * rng.uniform(0.05, 0.2) + fbm(h, w, rng, 6.0, 2) * 0.04
    img = _paint(tone, colour)
    grout_w = rng.uniform(1.0, 4.0)
    grout = (np.minimum(x - ix * size, y - iy * size) < grout_w)[..., None]
    return np.where(grout, random_colour(rng, (0.3, 0.9)), img)


def woven(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Woven fabric (linen, canvas, a blanket): a fine over-under weave with slubs."""
    x, y = coords(h, w, rng.normal(0, 0.2))
    period = rng.uniform(2.5, 6.0)
    weave = np.sin(2 * np.pi * x / period) * np.sin(2 * np.pi * y / period)
    slub = fbm(h, w, rng, 12.0, 2)
    tone = 1.0 + weave * rng.uniform(0.04, 0.12) + slub * 0.06
    return _paint(tone, random_colour(rng, (0.25, 0.95)))


def concrete(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Concrete or stone: grey fractal mottling with dark pits."""
    tone = 1.0 + fbm(h, w, rng, 5.0, 5) * rng.uniform(0.08, 0.2)
    pits = rng.random((h, w)) < rng.uniform(0.001, 0.01)
    tone = np.where(pits, tone * 0.6, tone)
    grey = rng.uniform(90, 200)
    return _paint(tone, np.array([grey, grey, grey]) * (1 + rng.normal(0, 0.04, 3)))


def dark_cloth(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A dark throw, towel or sofa: near-black or deep colour with soft folds and pile."""
    tone = 1.0 + fbm(h, w, rng, 2.5, 3) * 0.25 + rng.normal(0, 0.03, (h, w))
    return _paint(tone, random_colour(rng, (0.05, 0.3)))


def carpet(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A rug or carpet: speckled pile of two tones."""
    a, b = random_colour(rng, (0.2, 0.8)), random_colour(rng, (0.2, 0.8))
    t = np.clip(rng.random((h, w)) * 0.6 + fbm(h, w, rng, 8.0, 2) * 0.5 + 0.2, 0, 1)
    return _mix(np.broadcast_to(a, (h, w, 3)), np.broadcast_to(b, (h, w, 3)), t)


def gingham(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A checked tablecloth or duvet: two colours overlaid in bands."""
    x, y = coords(h, w, rng.normal(0, 0.15))
    period = rng.uniform(0.04, 0.15) * max(h, w)
    bx = (x % period) < period / 2
    by = (y % period) < period / 2
    t = (bx.astype(float) + by.astype(float)) / 2
    light = random_colour(rng, (0.85, 1.0))
    dark = random_colour(rng, (0.3, 0.7))
    return _mix(np.broadcast_to(light, (h, w, 3)), np.broadcast_to(dark, (h, w, 3)), t)


def marble(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Marble or a stone worktop: light with dark, warped veins."""
    x, _ = coords(h, w, rng.uniform(0, np.pi))
    veins = np.abs(np.sin(x / rng.uniform(15, 40) + fbm(h, w, rng, 3.0, 5) * 5.0)) ** 0.3
    base = random_colour(rng, (0.75, 1.0))
    return _mix(np.broadcast_to(base * 0.6, (h, w, 3)), np.broadcast_to(base, (h, w, 3)), veins)


def brick(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A brick or painted block wall: offset rows with mortar."""
    row = rng.uniform(0.06, 0.14) * max(h, w)
    length = row * rng.uniform(2.0, 3.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = np.floor(yy / row)
    xs = xx + (r % 2) * length / 2
    c = np.floor(xs / length)
    jitter = (np.sin(r * 12.9898 + c * 78.233) * 43758.5453) % 1
    colour = np.array([rng.uniform(120, 200), rng.uniform(50, 110), rng.uniform(40, 90)])
    if rng.random() < 0.4:
        colour = random_colour(rng, (0.6, 0.95))
    tone = 0.85 + jitter * 0.25 + fbm(h, w, rng, 10.0, 2) * 0.06
    mortar = ((yy % row) < 2.0) | ((xs % length) < 2.0)
    img = _paint(tone, colour)
    return np.where(mortar[..., None], np.array([200.0, 195.0, 185.0]) * rng.uniform(0.6, 1.0), img)


def floral(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A printed duvet or curtain: scattered blossoms of several colours on a ground."""
    img = np.broadcast_to(random_colour(rng, (0.6, 1.0)), (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for _ in range(int(rng.integers(12, 40))):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        radius = rng.uniform(0.02, 0.07) * max(h, w)
        theta = np.arctan2(yy - cy, xx - cx)
        petal = radius * (0.6 + 0.4 * np.cos(5 * theta))
        inside = np.hypot(yy - cy, xx - cx) < petal
        img[inside] = random_colour(rng, (0.3, 0.95))
    return img


# --- fabrics (garment patterns): float (h, w) pattern index 0..1 mixed between colours ---------


def solid(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    return np.zeros((h, w))


def stripes(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = coords(h, w, rng.choice([0.0, np.pi / 2, np.pi / 4, -np.pi / 4]) + rng.normal(0, 0.05))
    period = rng.uniform(0.04, 0.2) * max(h, w)
    return ((x % period) < period * rng.uniform(0.3, 0.6)).astype(float)


def checks(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    x, y = coords(h, w, rng.normal(0, 0.05))
    period = rng.uniform(0.05, 0.2) * max(h, w)
    duty = rng.uniform(0.3, 0.6)
    return (((x % period) < period * duty).astype(float) + ((y % period) < period * duty)) / 2


def denim(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = coords(h, w, np.pi / 4)
    twill = (np.sin(2 * np.pi * x / rng.uniform(2.0, 4.0)) > 0).astype(float) * 0.4
    return np.clip(twill + fbm(h, w, rng, 6.0, 3) * 0.5 + 0.1, 0, 1)


def print_(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """An all-over print: irregular blotches (florals, animal print, camouflage)."""
    return (fbm(h, w, rng, rng.uniform(4, 12), 3) > rng.uniform(-0.1, 0.3)).astype(float)


def dots(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    x, y = coords(h, w, rng.normal(0, 0.3))
    period = rng.uniform(0.05, 0.15) * max(h, w)
    fx = (x % period) - period / 2
    fy = (y % period) - period / 2
    return (np.hypot(fx, fy) < period * rng.uniform(0.15, 0.35)).astype(float)


def chevron(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    x, y = coords(h, w, rng.normal(0, 0.1))
    period = rng.uniform(0.06, 0.18) * max(h, w)
    zig = np.abs((x % period) - period / 2)
    return (((y + zig) % period) < period / 2).astype(float)
