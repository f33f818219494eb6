"""dominant_colours: the garment's colours, measured from pixels, never the backdrop's."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fashiontag import colours, samples, synthetic
from tests import corpus

BLUES = {"navy", "blue", "denim"}


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


def names(result: list[dict[str, object]]) -> list[object]:
    return [c["name"] for c in result]


def test_red_garment_on_white() -> None:
    h, w = 480, 400
    result = colours.dominant_colours(
        photo(corpus.plain_backdrop(h, w, (250, 250, 250)), shirt_mask(h, w), (200, 30, 40))
    )
    assert result[0]["name"] == "red"
    assert result[0]["share"] > 0.6


def test_navy_garment_on_a_light_grey_gradient() -> None:
    h, w = 512, 512
    backdrop = corpus.gradient_backdrop(h, w, (238, 238, 236), (185, 186, 190))
    result = colours.dominant_colours(photo(backdrop, shirt_mask(h, w), (30, 40, 80)))
    assert result[0]["name"] in BLUES
    assert result[0]["share"] > 0.6


def test_two_colour_garment_names_both() -> None:
    h, w = 400, 400
    mask = shirt_mask(h, w)
    halves = np.zeros((h, w, 3))
    halves[:, : w // 2] = (20, 20, 22)
    halves[:, w // 2 :] = (245, 245, 242)
    result = colours.dominant_colours(photo(corpus.plain_backdrop(h, w, (128, 128, 128)), mask, halves))
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
    result = colours.dominant_colours(photo(corpus.plain_backdrop(h, w, backdrop), mask, garment))
    assert result, "the garment was not found"
    assert not set(names(result)) & backdrop_names, result
    assert result[0]["share"] > 0.8


def test_a_classic_wash_trouser_is_denim_blue() -> None:
    for seed in range(3):
        rng = np.random.default_rng([seed, 1])
        labels = {**synthetic.sample_labels(rng), "wash": "classic", "distress": "clean_look"}
        result = colours.dominant_colours(np.asarray(synthetic.render_trouser(labels, rng)))
        assert result[0]["name"] in BLUES, (labels, result)
        assert result[0]["share"] > 0.6


@pytest.mark.parametrize("kind", ["white", "grey", "noisy backdrop"])
def test_an_empty_photo_has_no_colours(kind: str) -> None:
    if kind == "noisy backdrop":
        rgb = np.asarray(samples.render_photo(np.zeros((28, 28), np.uint8), np.random.default_rng(5)))
    else:
        rgb = np.full((300, 400, 3), 255 if kind == "white" else 128, dtype=np.uint8)
    assert colours.dominant_colours(rgb) == []


def test_result_shape_and_determinism() -> None:
    h, w = 400, 300
    rgb = photo(corpus.gradient_backdrop(h, w, (245, 240, 232), (210, 205, 200)), shirt_mask(h, w), (110, 75, 45))
    result = colours.dominant_colours(rgb, max_colours=2, min_share=0.01)
    assert result == colours.dominant_colours(rgb, max_colours=2, min_share=0.01)
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
