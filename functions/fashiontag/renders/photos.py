"""Fashion-MNIST garments rendered as the photos sellers take (numpy and Pillow, no TensorFlow).

A 28x28 garment becomes a coloured, possibly patterned garment lying on a backdrop (a bed
sheet, wood, tiles, dark cloth ...), scaled, moved and tilted, with its shadow, perhaps a stray
object at an edge, uneven light, a colour cast, blur, noise and JPEG artefacts. Two *styles*:
``STUDIO`` (light seamless backdrop, plain garment, catalogue framing) and ``EVERYDAY``.

Backdrop and fabric families are split in two: ``TRAIN_*`` families are the only ones training
renders with; ``HELD_OUT_*`` families are drawn only for evaluation, so a figure measured on them
says how the model does on surfaces and prints it never saw, not how well it learned this
renderer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fashiontag.renders import textures as tx

BACKDROPS: dict[str, tx.Generator] = {
    "studio": tx.studio,
    "plain": tx.plain,
    "sheet": tx.sheet,
    "wood": tx.wood,
    "tiles": tx.tiles,
    "woven": tx.woven,
    "concrete": tx.concrete,
    "dark_cloth": tx.dark_cloth,
    "carpet": tx.carpet,
    "gingham": tx.gingham,
    "marble": tx.marble,
    "brick": tx.brick,
    "floral": tx.floral,
}
PATTERNS: dict[str, tx.Generator] = {
    "solid": tx.solid,
    "stripes": tx.stripes,
    "checks": tx.checks,
    "denim": tx.denim,
    "print": tx.print_,
    "dots": tx.dots,
    "chevron": tx.chevron,
}
HELD_OUT_BACKDROPS = ("marble", "brick", "floral")
HELD_OUT_PATTERNS = ("dots", "chevron")
TRAIN_BACKDROPS = tuple(b for b in BACKDROPS if b not in HELD_OUT_BACKDROPS)
TRAIN_PATTERNS = tuple(p for p in PATTERNS if p not in HELD_OUT_PATTERNS)


@dataclass(frozen=True)
class Style:
    """What a set of photos may look like; every range is sampled uniformly per photo."""

    backdrops: tuple[str, ...]
    patterns: tuple[str, ...]
    fill: tuple[float, float]  # the garment's longest edge, as a share of the photo's shorter side
    offset: float  # how far off-centre, as a share of the free space
    tilt: float  # degrees either way
    stray_object: float  # probability of an unrelated object at an edge
    light: float  # strength of uneven light and vignetting
    cast: float  # colour cast (per-channel gain spread)
    exposure: tuple[float, float]
    blur: tuple[float, float]  # Gaussian radius in pixels of a 512-px photo
    noise: tuple[float, float]  # sensor noise sigma in grey levels
    jpeg: tuple[int, int]
    pattern_share: float  # probability of a patterned (not solid) garment


STUDIO = Style(
    backdrops=("studio",),
    patterns=("solid",),
    fill=(0.6, 0.9),
    offset=0.25,
    tilt=0.0,
    stray_object=0.0,
    light=0.06,
    cast=0.0,
    exposure=(0.95, 1.05),
    blur=(0.0, 0.6),
    noise=(1.0, 4.0),
    jpeg=(78, 95),
    pattern_share=0.0,
)
EVERYDAY = Style(
    backdrops=TRAIN_BACKDROPS,
    patterns=TRAIN_PATTERNS,
    fill=(0.35, 0.85),
    offset=0.9,
    tilt=15.0,
    stray_object=0.3,
    light=0.35,
    cast=0.08,
    exposure=(0.55, 1.15),
    blur=(0.0, 2.5),
    noise=(1.0, 10.0),
    jpeg=(45, 90),
    pattern_share=0.5,
)
# Evaluation only: everyday photos on backdrops and fabrics training never draws.
UNSEEN = replace(EVERYDAY, backdrops=HELD_OUT_BACKDROPS, patterns=("solid", *HELD_OUT_PATTERNS))
STYLES = {"studio": STUDIO, "everyday": EVERYDAY, "unseen": UNSEEN}


@dataclass(frozen=True)
class Scene:
    """A rendered photo and what the renderer knows about it."""

    rgb: np.ndarray  # uint8 (h, w, 3)
    mask: np.ndarray  # float32 (h, w): how much of each pixel is garment
    backdrop: str
    pattern: str
    quality: int  # the JPEG quality drawn for this photo


def _garment_layer(
    garment: np.ndarray, side: int, pattern: str, rng: np.random.Generator, pattern_share: float
) -> tuple[np.ndarray, np.ndarray, str]:
    """(RGB float, alpha 0..1) of the garment at ``side`` pixels, upright, and its pattern."""
    value = np.asarray(
        Image.fromarray(garment.astype(np.float32) / 255.0, "F").resize((side, side), Image.Resampling.BICUBIC)
    ).astype(np.float64)
    alpha = np.clip((value - 0.02) / 0.1, 0.0, 1.0)
    inside = value[alpha > 0.5]
    mean = float(inside.mean()) if inside.size else 0.5
    # Fashion-MNIST values are the garment's darkness in its studio shot: keep its seams, folds
    # and soles as shading relative to the garment's own mean.
    shade = np.clip(1.0 - rng.uniform(0.25, 0.7) * (value - mean) / max(mean, 0.1), 0.5, 1.3)
    # The anti-aliased outline is faint in Fashion-MNIST; shaded, it would glow like a halo.
    core = np.clip((garment.astype(np.float32) / 255.0 - 0.02) / 0.1, 0.0, 1.0)
    padded = np.pad(core, 1)
    core = np.min([padded[dy : dy + 28, dx : dx + 28] for dy in range(3) for dx in range(3)], axis=0)
    interior = np.asarray(Image.fromarray(core * 255.0, "F").resize((side, side), Image.Resampling.BILINEAR))
    shade = 1.0 + (shade - 1.0) * interior / 255.0
    first = tx.random_colour(rng)
    if pattern != "solid" and rng.random() < pattern_share:
        second = tx.random_colour(rng)
        if np.abs(second - first).sum() < 120:  # a pattern one cannot see is a solid garment
            second = 255.0 - first
        mix = PATTERNS[pattern](side, side, rng)
        rgb = first + (second - first) * mix[..., None]
    else:
        pattern = "solid"
        rgb = np.broadcast_to(first, (side, side, 3))
    return rgb * shade[..., None], alpha, pattern


def _rotate(layer: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate a float (h, w, c) layer about its centre, growing the canvas to keep the corners."""
    if not degrees:
        return layer
    channels = [
        np.asarray(
            Image.fromarray(layer[..., c].astype(np.float32), "F").rotate(
                degrees, Image.Resampling.BILINEAR, expand=True
            )
        )
        for c in range(layer.shape[2])
    ]
    return np.stack(channels, axis=-1).astype(np.float64)


def _stray_object(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A hanger, phone, shoe box or hand at one edge: (RGB float, alpha)."""
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    size = rng.uniform(0.1, 0.25) * min(h, w)
    edge = rng.integers(4)
    along = rng.uniform(0.1, 0.9)
    cx, cy = (
        (along * w, -size * 0.3)
        if edge == 0
        else (along * w, h + size * 0.3)
        if edge == 1
        else ((-size * 0.3, along * h) if edge == 2 else (w + size * 0.3, along * h))
    )
    box = (cx - size, cy - size * rng.uniform(0.4, 1.0), cx + size, cy + size * rng.uniform(0.4, 1.0))
    if rng.random() < 0.5:
        draw.ellipse(box, fill=255)
    else:
        draw.rounded_rectangle(box, radius=size * 0.2, fill=255)
    alpha = np.asarray(canvas, dtype=np.float32) / 255.0
    return np.broadcast_to(tx.random_colour(rng), (h, w, 3)), alpha


def _lighting(h: int, w: int, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative light (h, w, 3): a lamp to one side, vignetting, a colour cast, exposure."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.linspace(-0.5, 0.5, h)[:, None], np.linspace(-0.5, 0.5, w)[None, :]
    ramp = np.cos(angle) * xs + np.sin(angle) * ys
    light = 1.0 + rng.uniform(0, style.light) * ramp * 2 - rng.uniform(0, style.light) * (xs**2 + ys**2) * 2
    gain = 1.0 + rng.normal(0, style.cast, 3) if style.cast else np.ones(3)
    return (light[..., None] * gain * rng.uniform(*style.exposure)).astype(np.float32)


def render(
    garment: np.ndarray | None,
    rng: np.random.Generator,
    style: Style = EVERYDAY,
    side: int = 512,
    jpeg: bool = True,
) -> Scene:
    """One photo of ``garment`` (28x28 uint8, white on black, as Fashion-MNIST stores it).

    ``side`` is the photo's longer edge; ``garment=None`` renders the backdrop alone (a photo in
    which there is no garment to find). With ``jpeg`` the pixels have been through JPEG at the
    style's quality; without, the caller encodes them (``sets.encode_jpeg``).
    """
    aspect = float(rng.choice([1.0, 0.75, 4 / 3]))
    w, h = (side, round(side / aspect)) if aspect >= 1 else (round(side * aspect), side)
    backdrop = str(rng.choice(style.backdrops))
    photo = BACKDROPS[backdrop](h, w, rng).astype(np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    pattern = "none"

    if garment is not None:
        g = max(8, round(min(h, w) * rng.uniform(*style.fill)))
        colour, alpha, pattern = _garment_layer(garment, g, str(rng.choice(style.patterns)), rng, style.pattern_share)
        layer = _rotate(np.concatenate([colour, alpha[..., None]], axis=-1), rng.uniform(-style.tilt, style.tilt))
        lh, lw = layer.shape[:2]
        free_y, free_x = max(h - lh, 0), max(w - lw, 0)
        top = round(free_y / 2 + rng.uniform(-1, 1) * style.offset * free_y / 2) + (h - lh) * (free_y == 0) // 2
        left = round(free_x / 2 + rng.uniform(-1, 1) * style.offset * free_x / 2) + (w - lw) * (free_x == 0) // 2
        full = np.zeros((h, w, 4), dtype=np.float32)
        ys, xs = slice(max(top, 0), min(top + lh, h)), slice(max(left, 0), min(left + lw, w))
        full[ys, xs] = layer[ys.start - top : ys.stop - top, xs.start - left : xs.stop - left]
        mask = np.clip(full[..., 3], 0.0, 1.0)
        # The garment's shadow on the surface it lies on, offset away from the light.
        blur = max(1.0, g * rng.uniform(0.01, 0.05))
        soft = Image.fromarray((mask * 255).astype(np.uint8), "L").filter(ImageFilter.GaussianBlur(blur))
        shadow = np.asarray(soft, dtype=np.float32) / 255.0
        shift = rng.integers(-round(blur * 2) - 1, round(blur * 2) + 2, 2)
        shadow = np.roll(shadow, tuple(int(s) for s in shift), axis=(0, 1))
        photo *= 1.0 - rng.uniform(0.05, 0.35) * shadow[..., None]
        photo += mask[..., None] * (full[..., :3] - photo)

    if rng.random() < style.stray_object:
        colour, alpha = _stray_object(h, w, rng)
        alpha = alpha * (1.0 - mask)  # it lies beside the garment, not on it
        photo += alpha[..., None] * (colour - photo)

    photo *= _lighting(h, w, style, rng)
    img = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")
    radius = rng.uniform(*style.blur) * side / 512
    if radius > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    noise = rng.standard_normal((h, w, 3), dtype=np.float32) * rng.uniform(*style.noise)
    noisy = np.asarray(img, dtype=np.float32) + noise
    img = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    quality = int(rng.integers(style.jpeg[0], style.jpeg[1] + 1))
    if jpeg:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        img = Image.open(buf).convert("RGB")
    rgb = np.asarray(img, dtype=np.uint8)
    return Scene(rgb=rgb, mask=mask.astype(np.float32), backdrop=backdrop, pattern=pattern, quality=quality)
