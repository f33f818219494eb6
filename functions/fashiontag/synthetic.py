"""SYNTHETIC labelled trouser photos: procedurally rendered, not photographs of real garments.

No public data set of garment attributes reaches this machine, so the attribute models of
issue #3 start from this generator: flat-lay product photos of jeans and other trousers drawn
from a handful of controlled parameters, so every photo's attributes are known exactly. The
families and their values are those of the category ``trouser`` in ``models/taxonomy.yaml``:

- fit: the leg width from hip to ankle (skinny narrow all along; slim a little wider; regular
  straight and wide; tapered wide at the thigh and narrow at the ankle; jogger loose with a
  gathered, ribbed cuff);
- rise: the distance from the waistband to the crotch (with the waist narrowing as it rises);
- fade: lighter thighs and knees and whiskers around the crotch, by strength;
- distress: many small frayed patches and holes, or one horizontal slit at each knee;
- wash: the denim's base colour (near-black, light blue, mid indigo, dark indigo);
- length: full, or cropped around mid-calf.

Everything else varies so the task is not trivial: photo size and aspect, backdrop (plain or
gradient, light or mid tone), lighting, a soft shadow, pose (rotation, leg spread, asymmetry),
scale and position, colour jitter within each wash, stitching colour, what a hole shows,
sensor noise and (in ``write_dataset``) JPEG quality.

Rendering is deterministic per generator state. Every random draw is made in the same order
whatever the labels, so two renders from equal generator states with different labels differ
only in what the labels control (plus the framing that follows from the garment's shape, and a
backdrop swap where the wash would otherwise vanish into it): useful for controlled tests.

Models trained only on this data learn the rendering; they are a starting point until managers'
verified labels exist, and every row written here carries ``synthetic=1`` to keep them apart.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from fashiontag import taxonomy

CATEGORY = "trouser"
TROUSER_FAMILIES: dict[str, tuple[str, ...]] = {
    family.id: family.values for family in taxonomy.load().category(CATEGORY).families
}

# --- geometry, in garment units: about 1.0 from waistband to ankle -----------------------------

# Half the width of the hips; at the crotch each leg is this wide.
_HIP = 0.215
_WAISTBAND = 0.042
_INSEAM = 0.76
_CROPPED = 0.70  # of the full inseam: the hem then falls around mid-calf
# How far each leg's inner edge moves off the centre line just below the crotch.
_PART = 0.012
# Belt loops across the front of the waistband.
_LOOPS = (-0.185, -0.105, 0.105, 0.185)

# Leg width (one leg, flat) at fractions of the inseam: crotch, thigh, knee, calf, ankle.
_T = np.array([0.0, 0.12, 0.45, 0.80, 1.0])
_FIT_WIDTH: dict[str, tuple[float, ...]] = {
    "skinny": (_HIP, 0.160, 0.108, 0.086, 0.076),
    "slim": (_HIP, 0.178, 0.138, 0.118, 0.108),
    "regular": (_HIP, 0.200, 0.178, 0.172, 0.170),
    "tapered": (_HIP, 0.206, 0.160, 0.116, 0.092),
    "jogger": (_HIP, 0.208, 0.190, 0.178, 0.172),  # gathered into the cuff below
}
# A jogger's elastic cuff (width, length) and the blousing above it, in garment units.
_CUFF_WIDTH, _CUFF, _BLOUSE = 0.082, 0.045, 0.075

# Waistband -> crotch distance, and the waist half-width it implies: a low rise sits on the
# hips (as wide as they are), a high rise at the narrower natural waist.
_RISE: dict[str, tuple[float, float]] = {
    "low": (0.185, 0.214),
    "mid": (0.250, 0.198),
    "high": (0.320, 0.180),
}

# --- colour -------------------------------------------------------------------------------------

# Denim base colour and the colour it fades towards where worn.
_WASH: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "clean_black": ((30, 30, 34), (118, 118, 124)),
    "light_washed": ((146, 172, 204), (214, 224, 236)),
    "classic": ((70, 102, 150), (170, 192, 220)),
    "dark": ((30, 40, 72), (104, 126, 168)),
}
# Fade: (strength of the worn areas, number of whiskers a side, whisker strength).
_FADE: dict[str, tuple[float, int, float]] = {
    "clean_look": (0.0, 0, 0.0),
    "light_fade": (0.30, 4, 0.35),
    "heavy_fade": (0.62, 7, 0.70),
}
_DISTRESS = ("clean_look", "high_distress", "knee_slit")
_LENGTH = {"full": 1.0, "cropped": _CROPPED}

_LIGHT_BACKDROPS = (
    (248, 248, 246),
    (240, 238, 232),
    (232, 232, 234),
    (243, 235, 222),
    (226, 232, 238),
    (238, 228, 228),
    (230, 236, 228),
)
_MID_BACKDROPS = (
    (182, 182, 180),
    (192, 180, 162),
    (170, 178, 168),
    (178, 172, 182),
    (198, 190, 178),
    (164, 170, 180),
)
_BACKDROPS = _LIGHT_BACKDROPS + _MID_BACKDROPS
# Below this RGB distance a backdrop would swallow the garment; a photographer would not pick it.
_MIN_CONTRAST = 75.0

_THREADS_BLUE = ((206, 150, 70), (196, 164, 112), (222, 190, 120))
_THREAD_BLACK = (88, 88, 92)
_SKIN = ((226, 178, 148), (200, 146, 112), (240, 200, 172))
_DENIM_REVERSE = (206, 212, 222)
_FRAY = np.array((236, 236, 228), dtype=np.float32)

# Every renderer rule is keyed by a taxonomy value; fail at import, not mid-render, if the
# taxonomy gains a value this module cannot draw.
_RULES: dict[str, Any] = {
    "fit": _FIT_WIDTH,
    "rise": _RISE,
    "fade": _FADE,
    "distress": _DISTRESS,
    "wash": _WASH,
    "length": _LENGTH,
}
if set(TROUSER_FAMILIES) != set(_RULES) or any(
    set(values) != set(_RULES[family]) for family, values in TROUSER_FAMILIES.items()
):
    raise RuntimeError("synthetic: models/taxonomy.yaml trouser families and the renderer disagree")

_MAX_PATCHES = 24
_MAX_WHISKERS = 8


def sample_labels(rng: np.random.Generator) -> dict[str, str]:
    """One value per trouser family, each drawn uniformly and independently."""
    return {family: str(values[int(rng.integers(len(values)))]) for family, values in TROUSER_FAMILIES.items()}


def _check(labels: dict[str, str]) -> None:
    for family, values in TROUSER_FAMILIES.items():
        if labels.get(family) not in values:
            raise ValueError(f"{family} must be one of {', '.join(values)}; got {labels.get(family)!r}")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _line(dist_px: np.ndarray, half_width: float = 0.9) -> np.ndarray:
    """Anti-aliased line intensity 0..1 from the distance to the line's centre, in pixels."""
    return np.clip(1.0 - np.abs(dist_px) * (1.0 / half_width), 0.0, 1.0)


def _dash(along_px: np.ndarray, period: float = 4.2) -> np.ndarray:
    """Stitches: on for 62% of each period along the seam."""
    return ((along_px * (1.0 / period)) % 1.0 < 0.62).astype(np.float32)


@dataclass(frozen=True)
class _Draws:
    """Every random choice behind one photo, drawn in a fixed order whatever the labels."""

    height: int
    width: int
    backdrop_index: int
    gradient: bool
    gradient_drop: float
    gradient_angle: float
    light: tuple[float, float]
    theta: float
    spread: tuple[float, float]
    bend: tuple[float, float]
    hem_jitter: tuple[float, float]
    fill: float
    offset: tuple[float, float]
    inseam: float
    rise_jitter: float
    colour_jitter: tuple[float, ...]
    thread_index: int
    hole_kind: int
    hole_skin: int
    twill_period: float
    twill_phase: float
    slub: np.ndarray
    whiskers: np.ndarray
    patches: np.ndarray
    slits: np.ndarray
    shadow: tuple[float, float, float]
    noise: np.ndarray


def _draw(rng: np.random.Generator) -> _Draws:
    # Python floats, not numpy float64 scalars: those would promote the float32 arrays they meet.
    def pair(low: float, high: float) -> tuple[float, float]:
        first, second = rng.uniform(low, high, 2)
        return float(first), float(second)

    long_side = int(rng.integers(300, 641))
    width = long_side if rng.random() < 0.4 else round(long_side * 0.75)
    return _Draws(
        height=long_side,
        width=width,
        backdrop_index=int(rng.integers(len(_BACKDROPS))),
        gradient=bool(rng.random() < 0.5),
        gradient_drop=float(rng.uniform(0.04, 0.16)),
        gradient_angle=float(rng.uniform(0.0, 2 * math.pi)),
        light=pair(-0.08, 0.08),
        theta=math.radians(float(rng.uniform(-6.0, 6.0))),
        spread=pair(0.0, 0.05),
        bend=pair(-0.012, 0.012),
        hem_jitter=pair(-0.012, 0.012),
        fill=float(rng.uniform(0.74, 0.9)),
        offset=pair(-0.7, 0.7),
        inseam=_INSEAM * float(rng.uniform(0.97, 1.03)),
        rise_jitter=float(rng.uniform(-0.008, 0.008)),
        colour_jitter=tuple(float(x) for x in rng.uniform(-1.0, 1.0, 4)),
        thread_index=int(rng.integers(len(_THREADS_BLUE))),
        hole_kind=int(rng.integers(3)),
        hole_skin=int(rng.integers(len(_SKIN))),
        twill_period=float(rng.uniform(2.6, 3.6)),
        twill_phase=float(rng.uniform(0.0, 2 * math.pi)),
        slub=rng.standard_normal(512, dtype=np.float32),
        whiskers=rng.random((2, _MAX_WHISKERS, 4)),
        patches=rng.random((_MAX_PATCHES, 6)),
        slits=rng.random((2, 3)),
        shadow=(float(rng.uniform(-1, 1)), float(rng.uniform(0.2, 1)), float(rng.uniform(0.04, 0.09))),
        noise=rng.standard_normal((long_side, width, 3), dtype=np.float32) * float(rng.uniform(1.0, 3.5)),
    )


class _Shape:
    """The trouser's outline in garment units; legs are indexed 0 (left) and 1 (right)."""

    SIDES = (-1.0, 1.0)

    def __init__(self, labels: dict[str, str], draws: _Draws):
        rise, self.waist = _RISE[labels["rise"]]
        self.rise = rise + draws.rise_jitter
        self.fit = labels["fit"]
        self.widths = np.array(_FIT_WIDTH[self.fit])
        self.inseam = draws.inseam
        self.hem = tuple(_LENGTH[labels["length"]] + j for j in draws.hem_jitter)  # fraction of inseam
        self.spread, self.bend = draws.spread, draws.bend

    def centre(self, i: int, t: Any) -> Any:
        # Flat, the legs part just below the crotch however wide they are, then drift apart.
        part = _PART * _smoothstep(t * (1.0 / 0.12))
        return self.SIDES[i] * (_HIP / 2 + part + self.spread[i] * t + self.bend[i] * np.sin(np.pi * t))

    def width(self, i: int, t: Any) -> Any:
        width = np.interp(t, _T, self.widths).astype(np.float32)
        if self.fit != "jogger":
            return width
        # The loose leg is gathered into a short elastic cuff at the hem, whatever the length.
        to_hem = (self.hem[i] - t) * self.inseam
        blouse = _smoothstep((to_hem - _CUFF) / _BLOUSE)
        return np.where(to_hem < _CUFF, _CUFF_WIDTH, _CUFF_WIDTH + (width - _CUFF_WIDTH) * blouse)

    def extent(self) -> tuple[float, float, float, float]:
        """(u_lo, u_hi, v_lo, v_hi): the garment's box, belt loops and spread legs included."""
        reach = _HIP
        for i in range(2):
            t = np.linspace(0.0, self.hem[i], 33)
            reach = max(reach, float(np.max(np.abs(self.centre(i, t)) + self.width(i, t) / 2)))
        return -reach, reach, -0.008, self.rise + self.inseam * max(self.hem)


class _Canvas:
    """The garment's pixel box, with every pixel's garment coordinates (u across, v down)."""

    def __init__(self, shape: _Shape, draws: _Draws):
        h, w = draws.height, draws.width
        u_lo, u_hi, v_lo, v_hi = shape.extent()
        gw, gh = u_hi - u_lo, v_hi - v_lo
        self.cos, self.sin = math.cos(draws.theta), math.sin(draws.theta)
        c, s = abs(self.cos), abs(self.sin)
        self.scale = draws.fill * min(h / (gh * c + gw * s), w / (gw * c + gh * s))  # px per unit
        box_w, box_h = (gw * c + gh * s) * self.scale, (gh * c + gw * s) * self.scale
        self.cx = w / 2 + draws.offset[0] * (w - box_w) / 2
        self.cy = h / 2 + draws.offset[1] * (h - box_h) / 2
        self.gu, self.gv = (u_lo + u_hi) / 2, (v_lo + v_hi) / 2
        self.x0, self.x1 = max(int(self.cx - box_w / 2) - 3, 0), min(int(self.cx + box_w / 2) + 4, w)
        self.y0, self.y1 = max(int(self.cy - box_h / 2) - 3, 0), min(int(self.cy + box_h / 2) + 4, h)
        dx = np.arange(self.x0, self.x1, dtype=np.float32)[None, :] + (0.5 - self.cx)
        dy = np.arange(self.y0, self.y1, dtype=np.float32)[:, None] + (0.5 - self.cy)
        self.u = self.gu + (self.cos * dx + self.sin * dy) / self.scale
        self.v = self.gv + (self.cos * dy - self.sin * dx) / self.scale

    def window(self, cu: float, cv: float, ru: float, rv: float) -> tuple[slice, slice]:
        """Slices of the box covering the garment rectangle centred (cu, cv), half-sides ru, rv."""
        du, dv = (cu - self.gu) * self.scale, (cv - self.gv) * self.scale
        px = self.cx + self.cos * du - self.sin * dv - self.x0
        py = self.cy + self.sin * du + self.cos * dv - self.y0
        c, s = abs(self.cos), abs(self.sin)
        hx, hy = (c * ru + s * rv) * self.scale + 3, (s * ru + c * rv) * self.scale + 3
        return slice(max(int(py - hy), 0), max(int(py + hy) + 1, 0)), slice(
            max(int(px - hx), 0), max(int(px + hx) + 1, 0)
        )


Surface = Callable[[int, int], np.ndarray]


def render_trouser(labels: dict[str, str], rng: np.random.Generator, surface: Surface | None = None) -> Image.Image:
    """A synthetic flat-lay photo (RGB) of trousers with the given attribute ``labels``.

    ``surface(h, w)`` gives the backdrop (float RGB 0..255) the trousers lie on (a bed sheet, a
    floor: ``renders.textures``); by default a plain or gradient one. It draws from its own
    generator, so the trousers stay the same whatever they lie on.
    """
    _check(labels)
    draws = _draw(rng)
    shape = _Shape(labels, draws)
    canvas = _Canvas(shape, draws)
    u, v, scale = canvas.u, canvas.v, canvas.scale
    rise, inseam = shape.rise, shape.inseam

    # Signed distance to the outline (garment units, > 0 inside) gives anti-aliased edges.
    t = (v - rise) / inseam
    tc = np.clip(t, 0.0, 1.0)
    body_half = shape.waist + (_HIP - shape.waist) * _smoothstep(v / (0.6 * rise))
    d_body = np.minimum(body_half - np.abs(u), np.minimum(v, rise + 0.004 - v))
    centres = [shape.centre(i, tc) for i in range(2)]
    halves = [shape.width(i, tc) / 2 for i in range(2)]
    d_legs = [
        np.minimum(np.minimum(halves[i] - np.abs(u - centres[i]), (shape.hem[i] - t) * inseam), v - rise + 0.03)
        for i in range(2)
    ]
    d_loops = np.full_like(u, -1.0)
    loops = canvas.window(0.0, _WAISTBAND / 2, _HIP, _WAISTBAND)
    for loop_u in _LOOPS:
        lu, lv = u[loops], v[loops]
        d_loop = np.minimum(np.minimum(0.0105 - np.abs(lu - loop_u), lv + 0.007), _WAISTBAND + 0.006 - lv)
        np.maximum(d_loops[loops], d_loop, out=d_loops[loops])
    inside = np.maximum(np.maximum(d_body, d_loops), np.maximum(d_legs[0], d_legs[1]))
    alpha = np.clip(0.5 + inside * scale, 0.0, 1.0)
    # The side of the line between the legs (not the deeper leg: above the crotch both are equal).
    right = u > (centres[0] + centres[1]) * 0.5

    # Denim: a diagonal twill, slub streaks, darker towards every edge and seam.
    up, vp = u * scale, v * scale
    shade = 1.0 + 0.07 * np.sin((up + vp) * (2 * math.pi / draws.twill_period) + draws.twill_phase)
    # Warp yarns vary in thickness, which shows as faint streaks along the leg.
    shade += 0.035 * draws.slub[up.astype(np.int32) % len(draws.slub)]
    shade *= 1.0 - 0.22 * np.exp(-np.maximum(inside, 0.0) * (scale / 2.2))
    shade *= np.where(v < _WAISTBAND, 0.92, 1.0) * (1.0 - 0.45 * _line((v - _WAISTBAND) * scale, 1.1))
    in_legs = t > 0.005
    for i in range(2):
        inner = centres[i] - shape.SIDES[i] * halves[i]
        shade *= 1.0 - 0.4 * _line((u - inner) * scale, 1.3) * in_legs
    seam = canvas.window(0.0, (_WAISTBAND + rise) / 2, 0.01, (rise - _WAISTBAND) / 2)
    shade[seam] *= 1.0 - 0.35 * _line(u[seam] * scale, 1.0) * (v[seam] > _WAISTBAND) * (v[seam] < rise)

    wear = _wear(labels["fade"], shape, canvas, draws, t, centres, halves, right)
    base, faded = (np.array(c, dtype=np.float32) for c in _WASH[labels["wash"]])
    jitter = draws.colour_jitter
    # Proportional jitter: an additive one would tint near-black denim purple or green.
    base = np.clip(base * (1 + 0.07 * jitter[0] + 0.04 * np.array(jitter[1:], np.float32)), 0, 255)
    garment = (base + (faded - base) * wear[..., None]) * shade[..., None]

    _stitching(garment, labels, shape, canvas, draws, t, right)
    _hardware(garment, canvas)
    bg = _backdrop(draws, base) if surface is None else surface(draws.height, draws.width).astype(np.float32)
    _distress(garment, labels["distress"], shape, canvas, draws, bg, faded)
    return _compose(garment, alpha, bg, canvas, draws)


def _wear(
    fade: str,
    shape: _Shape,
    canvas: _Canvas,
    draws: _Draws,
    t: np.ndarray,
    centres: list[np.ndarray],
    halves: list[np.ndarray],
    right: np.ndarray,
) -> np.ndarray:
    """0..1: how far each pixel has faded; the middle of the thighs and knees, and whiskers."""
    strength, n_whiskers, whisker_strength = _FADE[fade]
    u, v, scale = canvas.u, canvas.v, canvas.scale
    wear = np.zeros_like(u)
    if strength == 0:
        return wear
    across = np.where(right, (u - centres[1]) / halves[1], (u - centres[0]) / halves[0])
    along = np.exp(-(((t - 0.2) / 0.17) ** 2)) + 0.8 * np.exp(-(((t - 0.47) / 0.08) ** 2)) + 0.2
    along = np.clip(along, 0.0, 1.0) * _smoothstep((t + 0.22) * (1.0 / 0.16))
    wear = strength * np.clip(1.0 - across * across, 0.0, 1.0) ** 1.3 * along
    # Whiskers: creases worn light, fanning out from the crotch towards the hips.
    width_px = max(1.2, 0.005 * scale)
    for i, sign in enumerate(shape.SIDES):
        for k in range(n_whiskers):
            a, b, c, d = draws.whiskers[i, k]
            start_u = sign * (0.02 + 0.03 * a)
            start_v = shape.rise - 0.07 + 0.13 * k / (n_whiskers - 1) + 0.02 * (b - 0.5)
            angle = math.radians(-8 + 26 * c)
            length = 0.08 + 0.07 * d
            dir_u, dir_v = sign * math.cos(angle), -math.sin(angle)
            win = canvas.window(start_u + dir_u * length / 2, start_v + dir_v * length / 2, length / 2, length / 2)
            rel_u, rel_v = u[win] - start_u, v[win] - start_v
            along_w = (rel_u * dir_u + rel_v * dir_v) * (1.0 / length)
            off = (rel_v * dir_u - rel_u * dir_v) * (scale / width_px)
            streak = np.exp(-(off * off)) * np.sin(np.pi * np.clip(along_w, 0.0, 1.0))
            np.maximum(wear[win], whisker_strength * streak, out=wear[win])
    return np.clip(wear, 0.0, 0.9)


def _stitching(
    garment: np.ndarray,
    labels: dict[str, str],
    shape: _Shape,
    canvas: _Canvas,
    draws: _Draws,
    t: np.ndarray,
    right: np.ndarray,
) -> None:
    """Topstitching in contrasting thread (grey on black denim), pockets, fly, hems or cuffs."""
    u, v, scale = canvas.u, canvas.v, canvas.scale
    black = labels["wash"] == "clean_black"
    thread = np.array(_THREAD_BLACK if black else _THREADS_BLUE[draws.thread_index], np.float32)

    def sew(win: tuple[slice, slice], stitch: np.ndarray) -> None:
        garment[win] += (thread - garment[win]) * (0.85 * stitch)[..., None]

    band = canvas.window(0.0, _WAISTBAND / 2, _HIP, _WAISTBAND / 2)
    bu, bv = u[band], v[band]
    dash = _dash(bu * scale)
    sew(band, np.maximum(_line((bv - 0.009) * scale), _line((bv - _WAISTBAND + 0.009) * scale)) * dash)

    # The fly's J: straight down beside the centre seam, curving into it above the crotch.
    fly_u, fly_top, fly_bottom = 0.04, _WAISTBAND + 0.01, shape.rise - 0.035
    fly_turn = fly_bottom - 0.06
    fly = canvas.window(fly_u / 2, (fly_top + fly_bottom) / 2, fly_u / 2 + 0.01, (fly_bottom - fly_top) / 2 + 0.01)
    fu, fv = u[fly], v[fly]
    straight = _line((fu - fly_u) * scale) * ((fv > fly_top) & (fv < fly_turn))
    radius = np.sqrt((fu / fly_u) ** 2 + ((fv - fly_turn) / (fly_bottom - fly_turn)) ** 2)
    curve = _line((radius - 1.0) * (min(fly_u, fly_bottom - fly_turn) * scale)) * ((fu > 0) & (fv >= fly_turn))
    sew(fly, np.maximum(straight, curve) * _dash(fv * scale))

    # Front pockets: a scoop from the waistband to the side seam, its edge in shadow.
    pocket_u, pocket_v = _HIP - 0.115, 0.085
    for sign in shape.SIDES:
        win = canvas.window(
            sign * (_HIP - pocket_u / 2), _WAISTBAND + pocket_v / 2, pocket_u / 2 + 0.01, pocket_v / 2 + 0.01
        )
        pu, pv = u[win], v[win]
        ring = np.sqrt(((pu - sign * _HIP) / pocket_u) ** 2 + ((pv - _WAISTBAND) / pocket_v) ** 2)
        zone = (pv > _WAISTBAND) & (sign * pu < _HIP)
        edge = (ring - 1.0) * (min(pocket_u, pocket_v) * scale)
        garment[win] *= (1.0 - 0.35 * _line(edge, 1.2) * zone)[..., None]
        sew(win, _line(edge + 2.2) * zone * _dash(pu * scale))

    # Hems: a stitched fold; joggers get a ribbed elastic cuff instead.
    for i in range(2):
        hem_v = shape.rise + shape.inseam * shape.hem[i]
        span = _CUFF + 0.012 if shape.fit == "jogger" else 0.03
        half = float(shape.width(i, shape.hem[i] - 0.05)) / 2 + 0.03
        win = canvas.window(float(shape.centre(i, shape.hem[i])), hem_v - span / 2, half, span / 2 + 0.01)
        to_hem = (shape.hem[i] - t[win]) * shape.inseam
        mine = (right[win] if i == 1 else ~right[win]) & (t[win] > 0)
        if shape.fit == "jogger":
            rib = 0.82 + 0.18 * np.sin(u[win] * (scale * 2 * math.pi / 3.5))
            garment[win] *= np.where(mine & (to_hem < _CUFF), rib, 1.0)[..., None]
            garment[win] *= (1.0 - 0.4 * _line((to_hem - _CUFF) * scale, 1.2) * mine)[..., None]
        else:
            garment[win] *= (1.0 - 0.3 * _line((to_hem - 0.022) * scale, 1.0) * mine)[..., None]
            sew(win, _line((to_hem - 0.014) * scale) * mine * _dash(u[win] * scale))


def _hardware(garment: np.ndarray, canvas: _Canvas) -> None:
    """The waistband button and the pocket rivets: metal discs with a highlight."""
    metal = np.array((186, 176, 156), np.float32)
    u, v, scale = canvas.u, canvas.v, canvas.scale
    for cu, cv, r in (
        (0.0, _WAISTBAND / 2, 0.016),
        (-0.112, _WAISTBAND + 0.006, 0.006),
        (0.112, _WAISTBAND + 0.006, 0.006),
    ):
        win = canvas.window(cu, cv, r, r)
        dist = np.hypot(u[win] - cu, v[win] - cv) * scale
        disc = np.clip(r * scale + 0.5 - dist, 0.0, 1.0)
        glint = 0.7 + 0.5 * np.clip(1.0 - np.hypot(u[win] - cu + r / 3, v[win] - cv + r / 3) / r, 0, 1)
        garment[win] += (metal * glint[..., None] - garment[win]) * disc[..., None]


def _distress(
    garment: np.ndarray,
    distress: str,
    shape: _Shape,
    canvas: _Canvas,
    draws: _Draws,
    bg: np.ndarray,
    faded: np.ndarray,
) -> None:
    """Frayed patches and holes all over the thighs and knees, or one slit at each knee."""
    holes: list[tuple[float, float, float, float, float]] = []  # u, v, half-width, half-height, open
    if distress == "high_distress":
        for k in range(_MAX_PATCHES - 6 + int(draws.patches[0, 5] * 6)):
            i = k % 2
            a, b, c, d, e, _ = draws.patches[k]
            t = 0.06 + 0.58 * a
            if t > shape.hem[i] - 0.06:
                continue
            u = float(shape.centre(i, t)) + (c - 0.5) * 0.6 * float(shape.width(i, t))
            holes.append((u, shape.rise + t * shape.inseam, 0.014 + 0.03 * d, 0.004 + 0.007 * e, 0.5 + 0.5 * b))
    elif distress == "knee_slit":
        for i in range(2):
            a, b, c = draws.slits[i]
            t = 0.45 + 0.04 * (a - 0.5)
            width = float(shape.width(i, t))
            u = float(shape.centre(i, t)) + 0.1 * (b - 0.5) * width
            holes.append((u, shape.rise + t * shape.inseam, width * (0.32 + 0.06 * c), 0.011 + 0.004 * b, 1.0))
    if not holes:
        return
    region = bg[canvas.y0 : canvas.y1, canvas.x0 : canvas.x1]
    for cu, cv, ru, rv, openness in holes:
        win = canvas.window(cu, cv, 1.7 * ru, 1.7 * rv)
        r = np.hypot((canvas.u[win] - cu) / ru, (canvas.v[win] - cv) / rv)
        # Loose white weft threads cross the opening; what shows through depends on the photo.
        threads = (np.sin(canvas.v[win] * (canvas.scale * 2 * math.pi / 2.6)) > 0.1).astype(np.float32)
        if draws.hole_kind == 0:
            through: np.ndarray = np.array(_SKIN[draws.hole_skin], np.float32)
        elif draws.hole_kind == 1:
            through = np.array(_DENIM_REVERSE, np.float32)
        else:
            through = region[win]
        # A worn halo around the opening, and a white fringe at its rim.
        halo = np.clip((1.7 - r) / 0.7, 0.0, 1.0) * 0.45
        fringe = np.clip((1.25 - r) / 0.25, 0.0, 1.0) * (0.6 + 0.4 * threads)
        opening = np.clip((0.8 - r) / 0.1, 0.0, 1.0) * (openness * (1.0 - 0.75 * threads))
        patch = garment[win]
        patch += (faded - patch) * halo[..., None]
        patch += (_FRAY - patch) * fringe[..., None]
        patch += (through - patch) * opening[..., None]


def _backdrop(draws: _Draws, garment: np.ndarray) -> np.ndarray:
    """The backdrop (plain or a gradient): the drawn one, or the next with enough contrast."""
    colour = np.array(_LIGHT_BACKDROPS[0], np.float32)
    for step in range(len(_BACKDROPS)):
        candidate = np.array(_BACKDROPS[(draws.backdrop_index + step) % len(_BACKDROPS)], np.float32)
        if float(np.linalg.norm(candidate - garment)) >= _MIN_CONTRAST:
            colour = candidate
            break
    h, w = draws.height, draws.width
    if not draws.gradient:
        return np.broadcast_to(colour, (h, w, 3)).copy()
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    xx = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    ramp = math.cos(draws.gradient_angle) * xx + math.sin(draws.gradient_angle) * yy
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    return colour * (1.0 - draws.gradient_drop * ramp)[..., None]


def _compose(garment: np.ndarray, alpha: np.ndarray, bg: np.ndarray, canvas: _Canvas, draws: _Draws) -> Image.Image:
    """The garment on its backdrop with a soft shadow, then lighting and sensor noise."""
    h, w = draws.height, draws.width
    dx, dy, strength = draws.shadow
    # The shadow is offset from the garment and spreads beyond its box: draw it on the whole frame,
    # blurring a quarter-size mask (as soft, and far cheaper).
    mask = Image.new("L", (w, h), 0)
    mask.paste(
        Image.fromarray((alpha * 255).astype(np.uint8), "L"),
        (canvas.x0 + int(dx * 0.01 * h), canvas.y0 + int(dy * 0.012 * h)),
    )
    blurred = mask.reduce(4).filter(ImageFilter.GaussianBlur(max(1.0, 0.012 * h)))
    shadow = np.asarray(blurred.resize((w, h), Image.Resampling.BILINEAR), np.float32) * (strength / 255)
    photo = bg
    photo *= (1.0 - shadow)[..., None]
    region = photo[canvas.y0 : canvas.y1, canvas.x0 : canvas.x1]
    region += (np.clip(garment, 0, 255) - region) * alpha[..., None]
    light_x, light_y = draws.light
    light = (
        1.0
        + light_x * np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
        + light_y * np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    )
    photo *= light[..., None]
    photo += draws.noise
    photo += 0.5
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8), "RGB")


# --- data set files ---------------------------------------------------------------------------

FIELDS = ("file", "category", *TROUSER_FAMILIES, "synthetic")


def write_dataset(out: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """Render ``count`` labelled photos into ``out`` as ``trouser-NNNNN.jpg`` plus ``labels.csv``.

    Photo ``n`` depends only on (``seed``, ``n``), so any one can be re-rendered on its own.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for n in range(count):
        rng = np.random.default_rng([seed, n])
        labels = sample_labels(rng)
        photo = render_trouser(labels, rng)
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=int(rng.integers(72, 96)))
        name = f"trouser-{n:05d}.jpg"
        (out / name).write_bytes(buf.getvalue())
        rows.append({"file": name, "category": CATEGORY, **labels, "synthetic": 1})
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def read_dataset(folder: Path | str) -> list[dict[str, Any]]:
    """The rows of a data set's ``labels.csv``, as ``write_dataset`` returned them."""
    with (Path(folder) / "labels.csv").open(newline="", encoding="utf-8") as f:
        rows: list[dict[str, Any]] = list(csv.DictReader(f))
    for row in rows:
        row["synthetic"] = int(row["synthetic"])
    return rows
