"""The synthetic trouser data set: reproducible, labelled, and each label visibly drawn.

Renders from equal generator states with different labels differ only in what the labels
control, so most checks compare a pair (or a row) of renders made from one seed.
"""

from __future__ import annotations

import collections
import functools
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashiontag import classification, synthetic, taxonomy

BASE = {
    "fit": "regular",
    "rise": "mid",
    "fade": "clean_look",
    "distress": "clean_look",
    "wash": "classic",
    "length": "full",
}
SEEDS = range(5)


def render(seed: int, **changes: str) -> np.ndarray:
    """``BASE`` with ``changes`` rendered from ``seed``; cached, as several tests share renders."""
    return _render(seed, tuple(sorted(changes.items())))


@functools.cache
def _render(seed: int, changes: tuple[tuple[str, str], ...]) -> np.ndarray:
    rgb = np.asarray(synthetic.render_trouser({**BASE, **dict(changes)}, np.random.default_rng([seed, 42])))
    rgb.flags.writeable = False
    return rgb


def backdrop(rgb: np.ndarray) -> np.ndarray:
    """The renderer's plain or gradient backdrop, as a plane fitted to the photo's border."""
    h, w, _ = rgb.shape
    yy, xx = np.mgrid[0:h, 0:w]
    border = np.zeros((h, w), dtype=bool)
    border[:4], border[-4:], border[:, :4], border[:, -4:] = True, True, True, True
    design = np.stack([np.ones(h * w), xx.ravel() / w, yy.ravel() / h], axis=1)
    coef, *_ = np.linalg.lstsq(
        design[border.ravel()], rgb.reshape(-1, 3)[border.ravel()].astype(np.float64), rcond=None
    )
    return (design @ coef).reshape(h, w, 3)


def garment_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels far from the estimated backdrop: further than the garment's soft shadow reaches."""
    distance = np.linalg.norm(rgb.astype(np.float64) - backdrop(rgb), axis=-1)
    return distance > 40.0


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def leg_width(rgb: np.ndarray) -> float:
    """Mean width of both legs over the lower half of the garment, relative to its height."""
    mask = garment_mask(rgb)
    top, bottom, _, _ = bbox(mask)
    height = bottom - top
    legs = mask[top + height // 2 : bottom - height // 20]
    return float(legs.sum(axis=1).mean()) / height


def crotch(rgb: np.ndarray) -> float:
    """Where the legs part, as a fraction of the garment's height from the waistband."""
    mask = garment_mask(rgb)
    top, bottom, _, _ = bbox(mask)
    parted = []
    for y in range(top, bottom):
        cols = np.nonzero(mask[y])[0]
        middle = (cols[0] + cols[-1]) // 2
        parted.append(not mask[y, middle - 1 : middle + 2].any())
    # Below the belt loops (which part the top rows too), the first rows to stay parted.
    start = (bottom - top) // 12
    for y in range(start, len(parted) - 3):
        if all(parted[y : y + 3]):
            return y / (bottom - top)
    raise AssertionError("the legs never part")


def grey(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def test_families_come_from_the_taxonomy() -> None:
    families = taxonomy.load().category("trouser").families
    assert {f.id: f.values for f in families} == synthetic.TROUSER_FAMILIES
    assert set(synthetic.TROUSER_FAMILIES) == {"fit", "rise", "fade", "distress", "wash", "length"}


def test_labels_cover_every_value_uniformly() -> None:
    rng = np.random.default_rng(0)
    counts = {family: collections.Counter[str]() for family in synthetic.TROUSER_FAMILIES}
    for _ in range(400):
        for family, value in synthetic.sample_labels(rng).items():
            counts[family][value] += 1
    for family, values in synthetic.TROUSER_FAMILIES.items():
        assert set(counts[family]) == set(values)
        expected = 400 / len(values)
        assert min(counts[family].values()) > 0.6 * expected, (family, counts[family])


def test_rendering_is_deterministic_per_seed() -> None:
    labels = {**BASE, "distress": "high_distress", "fade": "heavy_fade"}
    first = synthetic.render_trouser(labels, np.random.default_rng(5)).tobytes()
    again = synthetic.render_trouser(labels, np.random.default_rng(5)).tobytes()
    other = synthetic.render_trouser(labels, np.random.default_rng(6)).tobytes()
    assert first == again
    assert first != other


def test_unknown_values_are_refused() -> None:
    with pytest.raises(ValueError, match="fit must be one of"):
        synthetic.render_trouser({**BASE, "fit": "bootcut"}, np.random.default_rng(0))


def test_dataset_round_trips_through_labels_csv(tmp_path: Path) -> None:
    rows = synthetic.write_dataset(tmp_path / "a", count=8, seed=3)
    again = synthetic.write_dataset(tmp_path / "b", count=8, seed=3)
    assert synthetic.read_dataset(tmp_path / "a") == rows == again
    header = (tmp_path / "a" / "labels.csv").read_text().splitlines()[0]
    assert header == "file,category,fit,rise,fade,distress,wash,length,synthetic"
    assert [r["file"] for r in rows] == [f"trouser-{n:05d}.jpg" for n in range(8)]
    for row in rows:
        assert row["category"] == "trouser" and row["synthetic"] == 1
        assert taxonomy.load().validate_spec("trouser", {f: row[f] for f in synthetic.TROUSER_FAMILIES}) == []
        data = (tmp_path / "a" / row["file"]).read_bytes()
        assert data == (tmp_path / "b" / row["file"]).read_bytes()
        photo = Image.open(io.BytesIO(data))
        assert photo.format == "JPEG" and photo.mode == "RGB"
        width, height = photo.size
        assert 300 <= height <= 640
        assert width in (height, round(height * 0.75))


def test_skinny_legs_are_narrower_than_slim_than_regular() -> None:
    for seed in SEEDS:
        skinny, slim, regular = (leg_width(render(seed, fit=fit)) for fit in ("skinny", "slim", "regular"))
        assert skinny < slim < regular, (seed, skinny, slim, regular)
        assert skinny < 0.8 * regular


def test_tapered_legs_narrow_towards_the_ankle_and_joggers_gather_into_a_cuff() -> None:
    def thigh_to_ankle(rgb: np.ndarray) -> float:
        mask = garment_mask(rgb)
        top, bottom, _, _ = bbox(mask)
        height = bottom - top
        thigh = mask[top + int(0.4 * height)].sum()
        ankle = mask[bottom - int(0.02 * height) - 2].sum()
        return float(ankle / thigh)

    for seed in SEEDS:
        regular, tapered, jogger = (thigh_to_ankle(render(seed, fit=f)) for f in ("regular", "tapered", "jogger"))
        assert tapered < 0.8 * regular, (seed, regular, tapered)
        assert jogger < 0.7 * regular, (seed, regular, jogger)


def test_the_crotch_sits_lower_as_the_rise_gets_higher() -> None:
    for seed in SEEDS:
        low, mid, high = (crotch(render(seed, rise=rise)) for rise in ("low", "mid", "high"))
        assert low < mid < high, (seed, low, mid, high)


def test_cropped_legs_are_shorter_than_full_ones() -> None:
    def height_to_width(rgb: np.ndarray) -> float:
        top, bottom, left, right = bbox(garment_mask(rgb))
        return (bottom - top) / (right - left)

    for seed in SEEDS:
        full, cropped = (height_to_width(render(seed, length=length)) for length in ("full", "cropped"))
        assert cropped < 0.85 * full, (seed, full, cropped)


def test_a_knee_slit_adds_light_pixels_at_knee_height() -> None:
    for seed in SEEDS:
        clean, slit = render(seed), render(seed, distress="knee_slit")
        lighter = grey(slit) - grey(clean) > 40
        top, bottom, _, _ = bbox(garment_mask(clean))
        rows = (np.nonzero(lighter)[0] - top) / (bottom - top)
        assert lighter.sum() > 0.002 * garment_mask(clean).sum(), seed
        # The knee: a little below the middle of the garment, and nowhere else.
        assert 0.45 < np.median(rows) < 0.7, (seed, np.median(rows))
        assert np.percentile(rows, 5) > 0.35 and np.percentile(rows, 95) < 0.8


def test_high_distress_scatters_light_patches_over_thighs_and_knees() -> None:
    for seed in SEEDS:
        clean, distressed = render(seed), render(seed, distress="high_distress")
        lighter = grey(distressed) - grey(clean) > 40
        assert _blobs(lighter) >= 8, seed


def _blobs(mask: np.ndarray) -> int:
    """Connected regions of ``mask`` (4-neighbourhood), counted by a simple flood fill."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    count = 0
    for y, x in zip(*np.nonzero(mask), strict=True):
        if labels[y, x]:
            continue
        count += 1
        stack = [(y, x)]
        labels[y, x] = count
        while stack:
            cy, cx = stack.pop()
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not labels[ny, nx]:
                    labels[ny, nx] = count
                    stack.append((ny, nx))
    return count


def test_fades_lighten_the_thighs_by_strength() -> None:
    for seed in SEEDS:
        mask = garment_mask(render(seed))
        top, bottom, _, _ = bbox(mask)
        thighs = slice(top + (bottom - top) // 4, top + (bottom - top) // 2)
        clean, light, heavy = (
            float(grey(render(seed, fade=fade))[thighs][mask[thighs]].mean())
            for fade in ("clean_look", "light_fade", "heavy_fade")
        )
        assert clean + 5 < light < heavy - 5, (seed, clean, light, heavy)


def test_washes_differ_in_lightness_and_colour() -> None:
    for seed in SEEDS:
        means = {}
        for wash in synthetic.TROUSER_FAMILIES["wash"]:
            rgb = render(seed, wash=wash)
            means[wash] = rgb[garment_mask(rgb)].astype(np.float64).mean(axis=0)
        lightness = {wash: float(grey(mean)) for wash, mean in means.items()}
        assert lightness["clean_black"] + 60 < lightness["light_washed"]
        assert lightness["clean_black"] < lightness["dark"] < lightness["classic"] < lightness["light_washed"]
        r, _, b = means["clean_black"]
        assert b - r < 12, "black denim is not blue"
        for wash in ("dark", "classic", "light_washed"):
            r, _, b = means[wash]
            assert b > r + 25, (wash, means[wash])


def test_the_category_model_sees_trousers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped category model (trained on Fashion-MNIST) labels most renders ``trouser``."""
    for name in ("FASHIONTAG_MODELS_ROOT", "FASHIONTAG_CATEGORY_MODEL_VERSION", "FASHIONTAG_MAX_PIXELS"):
        monkeypatch.delenv(name, raising=False)
    seen: collections.Counter[str] = collections.Counter()
    for n in range(40):
        rng = np.random.default_rng([7, n])
        photo = synthetic.render_trouser(synthetic.sample_labels(rng), rng)
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=88)
        seen[classification.classify_bytes(buf.getvalue()).category.label] += 1
    assert seen["trouser"] >= 0.8 * 40, dict(seen)
