"""dominant_colours: the garment's colours, measured from pixels where the garment map puts the
garment (as coarse as the model's, 16x16), never the backdrop's."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fashiontag import colours, images, synthetic
from fashiontag.inference import get_category_model
from tests import corpus

BLUES = {"navy", "blue", "denim", "light blue"}


def shirt_mask(h: int, w: int, scale: float = 0.8, centre: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """A T-shirt silhouette covering about ``scale`` of the frame's shorter side."""
    side = min(h, w) * scale
    cx, cy = centre[0] * w, centre[1] * h
    outline = [(-0.2, -0.5), (0.2, -0.5), (0.5, -0.3), (0.4, -0.1), (0.28, -0.18), (0.28, 0.5)]
    outline += [(-x, y) for x, y in reversed(outline)]
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).polygon([(cx + x * side, cy + y * side) for x, y in outline], fill=255)
    return np.asarray(img) > 0


def photo(
    backdrop: np.ndarray, mask: np.ndarray, colour: np.ndarray | tuple[int, int, int], seed: int = 0
) -> np.ndarray:
    """``colour`` (one RGB, or an (H, W, 3) array) painted where ``mask`` is set, with shading and noise."""
    h, w = mask.shape
    rng = np.random.default_rng(seed)
    out = backdrop.astype(np.float64).copy()
    paint = np.broadcast_to(np.asarray(colour, dtype=np.float64), (h, w, 3))
    # Soft fabric shading, so a garment is never a single flat colour.
    shading = 1.0 + 0.06 * np.sin(np.linspace(0, 6 * np.pi, w))[None, :, None]
    out[mask] = (paint * shading)[mask]
    out += rng.normal(0, 2.0, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def coarse(mask: np.ndarray, side: int = 16) -> np.ndarray:
    """A garment mask as the category model gives it: the share of garment in each of 16x16 cells."""
    img = Image.fromarray((mask * 255).astype(np.uint8), "L").resize((side, side), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0


def measure(rgb: np.ndarray, mask: np.ndarray, max_colours: int = 3, min_share: float = 0.05) -> list[dict[str, Any]]:
    return colours.dominant_colours(rgb, coarse(mask), max_colours, min_share)


def names(result: list[dict[str, Any]]) -> list[Any]:
    return [c["name"] for c in result]


def test_red_garment_on_white() -> None:
    h, w = 480, 400
    mask = shirt_mask(h, w)
    result = measure(photo(corpus.plain_backdrop(h, w, (250, 250, 250)), mask, (200, 30, 40)), mask)
    assert result[0]["name"] == "red"
    assert result[0]["share"] > 0.6


def test_navy_garment_on_a_light_grey_gradient() -> None:
    h, w = 512, 512
    backdrop = corpus.gradient_backdrop(h, w, (238, 238, 236), (185, 186, 190))
    mask = shirt_mask(h, w)
    result = measure(photo(backdrop, mask, (30, 40, 80)), mask)
    assert result[0]["name"] in BLUES
    assert result[0]["share"] > 0.6


def test_two_colour_garment_names_both() -> None:
    h, w = 400, 400
    mask = shirt_mask(h, w)
    halves = np.zeros((h, w, 3))
    halves[:, : w // 2] = (20, 20, 22)
    halves[:, w // 2 :] = (245, 245, 242)
    result = measure(photo(corpus.plain_backdrop(h, w, (128, 128, 128)), mask, halves), mask)
    assert set(names(result)[:2]) == {"black", "white"}
    for colour in result[:2]:
        assert 0.35 < colour["share"] < 0.65


@pytest.mark.parametrize(
    ("backdrop", "garment", "backdrop_names"),
    [
        ((217, 200, 170), (40, 130, 70), {"beige", "khaki", "cream"}),
        ((200, 200, 200), (200, 30, 40), {"light grey", "grey", "white"}),
        ((242, 234, 212), (30, 40, 80), {"cream", "white", "beige"}),
    ],
)
def test_a_small_garment_never_names_the_backdrop(
    backdrop: tuple[int, int, int], garment: tuple[int, int, int], backdrop_names: set[str]
) -> None:
    h, w = 480, 640
    mask = shirt_mask(h, w, scale=0.18, centre=(0.3, 0.6))
    assert mask.mean() < 0.05
    result = measure(photo(corpus.plain_backdrop(h, w, backdrop), mask, garment), mask)
    assert result, "the garment was not found"
    assert not set(names(result)) & backdrop_names, result
    assert result[0]["share"] > 0.8


def test_a_classic_wash_trouser_is_denim_blue_where_the_model_finds_it() -> None:
    model = get_category_model()
    for seed in range(3):
        rng = np.random.default_rng([seed, 1])
        labels = {**synthetic.sample_labels(rng), "wash": "classic", "distress": "clean_look"}
        rgb = np.asarray(synthetic.render_trouser(labels, rng))
        garment = model.predict(images.model_input(rgb)).garment
        assert garment.found
        result = colours.dominant_colours(rgb, garment.mask)
        assert result[0]["name"] in BLUES, (labels, result)
        # Shading may split the wash into two blues; what matters is that blue is most of it.
        assert sum(c["share"] for c in result if c["name"] in BLUES) > 0.8, (labels, result)


def test_an_empty_garment_map_has_no_colours() -> None:
    rgb = np.full((300, 400, 3), 128, dtype=np.uint8)
    assert colours.dominant_colours(rgb, np.zeros((16, 16), np.float32)) == []


def test_a_striped_garment_on_a_striped_sheet_names_the_garment_not_the_sheet() -> None:
    h, w = 480, 480
    yy, xx = np.mgrid[0:h, 0:w]
    sheet = np.where(((xx + yy) // 12 % 2 == 0)[..., None], (238, 232, 214), (200, 190, 160)).astype(np.float64)
    mask = shirt_mask(h, w, scale=0.6)
    stripes = np.where((yy // 16 % 2 == 0)[..., None], (25, 35, 90), (200, 30, 40)).astype(np.float64)
    result = measure(photo(sheet, mask, stripes), mask)
    assert set(names(result)[:2]) <= BLUES | {"red", "burgundy"}
    assert {n for n in names(result)} & BLUES and {n for n in names(result)} & {"red", "burgundy"}
    assert not set(names(result)) & {"cream", "beige", "khaki", "white", "tan"}


def test_result_shape_and_determinism() -> None:
    h, w = 400, 300
    mask = shirt_mask(h, w)
    rgb = photo(corpus.gradient_backdrop(h, w, (245, 240, 232), (210, 205, 200)), mask, (110, 75, 45))
    result = measure(rgb, mask, max_colours=2, min_share=0.01)
    assert result == measure(rgb, mask, max_colours=2, min_share=0.01)
    assert 1 <= len(result) <= 2
    assert [set(c) for c in result] == [{"name", "hex", "share"}] * len(result)
    shares = [c["share"] for c in result]
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) <= 1.0
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c["hex"]) for c in result)
    assert all(c["name"] in dict(colours.PALETTE) for c in result)
    assert result[0]["name"] == "brown"


def test_delta_e_2000_matches_published_values() -> None:
    # Pairs 1, 17 and 34 of Sharma, Wu and Dalal's CIEDE2000 test data.
    pairs = [
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
    ]
    for lab1, lab2, expected in pairs:
        assert colours.delta_e_2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)
