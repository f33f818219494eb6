"""sniff, decode and the model's input against the test corpus: refusals, odd formats, resizing."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashiontag import config, images
from fashiontag.config import Limits
from fashiontag.errors import Rejection
from tests import corpus

BAD = corpus.bad_files()
ODD = corpus.odd_valid_files()
# Odd valid files that are the main photo itself (others show it on another backdrop).
SAME_PHOTO = [name for name in ODD if "backdrop" not in name]
EXPECTED_FORMAT = {".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".gif": "GIF"}


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def grey(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float64)


def judge(data: bytes, limits: Limits) -> str:
    """The rejection code decoding gives ``data``, or "ok"."""
    try:
        images.model_input(images.decode(data, limits).rgb)
    except Rejection as rejection:
        return rejection.code
    return "ok"


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    """The main photo as decoded from a plain, untagged JPEG: the reference orientation."""
    return images.decode(corpus.jpeg(corpus.garment_photo(corpus.MAIN_SEED)), config.limits()).rgb


# --- bad files --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_gives_its_code_and_a_message_for_sellers(name: str) -> None:
    data, code = BAD[name]
    with pytest.raises(Rejection) as caught:
        images.decode(data, corpus.BAD_FILE_LIMITS)
    rejection = caught.value
    assert rejection.code == code
    message = rejection.message
    assert len(message) > 20 and message[0].isupper() and message.rstrip().endswith(".")
    for jargon in ("Traceback", "Error", "errno", "PIL", "numpy", "None", "cannot identify", "0x"):
        assert jargon not in message, f"{name}: {message!r} speaks {jargon!r}"
    assert rejection.as_dict() == {"code": code, "message": message}


@pytest.mark.parametrize("name", sorted(n for n in BAD if BAD[n][1] != "file_too_large"))
def test_bad_files_keep_their_code_under_default_limits(name: str) -> None:
    data, code = BAD[name]
    assert judge(data, config.limits()) == code


def test_too_large_file_is_a_valid_photo_refused_only_for_its_size() -> None:
    data, _ = BAD["too-large.jpg"]
    assert len(data) > corpus.SMALL_MAX_BYTES
    assert judge(data, config.limits()) == "ok"
    with pytest.raises(Rejection) as caught:
        images.decode(data, corpus.BAD_FILE_LIMITS)
    assert caught.value.code == "file_too_large"
    assert "1.5 MB" in caught.value.message and "limit is 1 MB" in caught.value.message


def test_size_is_checked_before_anything_else() -> None:
    tiny = Limits(max_bytes=10, max_pixels=40_000_000, min_side=32)
    for data in (b"not an image at all", corpus.bomb_png(), BAD["document.pdf"][0]):
        with pytest.raises(Rejection) as caught:
            images.decode(data, tiny)
        assert caught.value.code == "file_too_large"


def test_pixel_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(img: Image.Image) -> np.ndarray:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(images, "_to_rgb", must_not_decode)
    # 50000x50000 (2.5 GP) refused at once, without allocating the pixels.
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(Rejection) as caught:
        images.decode(corpus.bomb_png(), config.limits())
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert caught.value.code == "too_many_pixels"
    assert elapsed < 0.2
    assert peak < 5_000_000
    # 8000x6000 is below Pillow's own bomb threshold: our limit refuses it, naming the size.
    with pytest.raises(Rejection) as caught:
        images.decode(corpus.bomb_png(8000, 6000), config.limits())
    assert caught.value.code == "too_many_pixels"
    assert "8000x6000" in caught.value.message and "40 megapixels" in caught.value.message
    # And the limit is the configured one, applied to real files too.
    small = Limits(max_bytes=10_000_000, max_pixels=10_000, min_side=32)
    with pytest.raises(Rejection) as caught:
        images.decode(ODD["photo.webp"], small)
    assert caught.value.code == "too_many_pixels"


def test_pixel_limit_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASHIONTAG_MAX_PIXELS", "100000")
    assert judge(ODD["grey.jpg"], config.limits()) == "too_many_pixels"
    monkeypatch.setenv("FASHIONTAG_MIN_SIDE", "1000")
    monkeypatch.delenv("FASHIONTAG_MAX_PIXELS")
    assert judge(ODD["grey.jpg"], config.limits()) == "image_too_small"


# --- sniffing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ODD))
def test_sniff_reads_the_content(name: str) -> None:
    assert images.sniff(ODD[name]) == EXPECTED_FORMAT[Path(name).suffix]


def test_sniff_ignores_the_name_and_knows_what_it_refuses() -> None:
    # The same bytes under any name are the same format: sniff never sees a name.
    assert images.sniff(ODD["palette.png"]) == "PNG"
    assert images.decode(ODD["palette.png"], config.limits()).format == "PNG"
    for data in (
        b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>",
        b"<!DOCTYPE svg>",
        b"%PDF-1.7\n",
    ):
        with pytest.raises(Rejection) as caught:
            images.sniff(data)
        assert caught.value.code == "unsupported_format"
    for data in (b"PK\x03\x04 a zip", b"\x00" * 64, "été".encode()):
        with pytest.raises(Rejection) as caught:
            images.sniff(data)
        assert caught.value.code == "not_an_image"


# --- odd but valid files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_valid_file_decodes_upright_rgb_and_becomes_a_model_input(name: str, upright: np.ndarray) -> None:
    photo = images.decode(ODD[name], config.limits())
    rgb = photo.rgb
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert max(rgb.shape[:2]) <= images.WORKING_SIDE
    assert photo.format == EXPECTED_FORMAT[Path(name).suffix]
    if name in SAME_PHOTO:
        assert rgb.shape == upright.shape
        assert correlation(grey(rgb), grey(upright)) > 0.9
    small = images.model_input(rgb)
    assert small.shape == (images.MODEL_SIDE, images.MODEL_SIDE, 3) and small.dtype == np.uint8
    if name in SAME_PHOTO:
        assert correlation(grey(small), grey(images.model_input(upright))) > 0.95


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_photo_decodes_like_the_upright_one(orientation: int, upright: np.ndarray) -> None:
    data = corpus.jpeg(corpus.garment_photo(corpus.MAIN_SEED), orientation=orientation)
    stored = Image.open(io.BytesIO(data))
    assert stored.getexif()[0x0112] == orientation
    size = corpus.garment_photo(corpus.MAIN_SEED).size
    assert stored.size == (size[::-1] if orientation in (6, 8) else size)
    rgb = images.decode(data, config.limits()).rgb
    assert rgb.shape == upright.shape
    r = correlation(grey(rgb), grey(upright))
    assert r > 0.95
    # The raw stored pixels, merely resized, would not match: the rotation was applied.
    raw = np.asarray(stored.convert("L").resize(upright.shape[1::-1]), dtype=np.float64)
    assert correlation(raw, grey(upright)) < r - 0.15


def test_transparent_background_is_composited_onto_white() -> None:
    for name in ("transparent.png", "palette-transparent.png"):
        rgb = images.decode(ODD[name], config.limits()).rgb
        corners = rgb[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert (corners == 255).all(), name
        # The garment is still there, as dark as it was.
        assert rgb.min() < 100
    # Fully transparent black stays white, never black.
    clear = np.zeros((64, 64, 4), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(clear, "RGBA").save(buf, "PNG")
    assert (images.decode(buf.getvalue(), config.limits()).rgb == 255).all()


def test_sixteen_bit_greyscale_keeps_its_tones(upright: np.ndarray) -> None:
    rgb = images.decode(ODD["grey16.png"], config.limits()).rgb
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    # Scaled from 16 to 8 bits, not clipped: the mean grey matches the 8-bit photo's.
    assert abs(grey(rgb).mean() - grey(upright).mean()) < 3


def test_large_photos_are_decoded_at_working_size() -> None:
    big = corpus.garment_photo(corpus.MAIN_SEED).resize((3000, 2250))
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=85)
    photo = images.decode(buf.getvalue(), config.limits())
    assert (photo.width, photo.height) == (3000, 2250)
    assert photo.rgb.shape == (384, 512, 3)


# --- the model's input: the whole photo, resized ---------------------------------------------


def test_model_input_is_the_area_average_of_the_photo() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (256, 128, 3), dtype=np.uint8)
    small = images.model_input(rgb)
    # 256x128 to 64x64: each input pixel averages a 4x2 block (squashed, never cropped).
    expected = rgb.reshape(64, 4, 64, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(small.astype(np.float64) - expected).max() <= 1.0


def test_clean_input_is_the_fashion_mnist_image_as_a_studio_shot() -> None:
    source, _ = corpus.garment(corpus.MAIN_SEED)
    small = images.clean_input(source)
    assert small.shape == (images.MODEL_SIDE, images.MODEL_SIDE, 3)
    assert (small[..., 0] == small[..., 1]).all()
    back = np.asarray(Image.fromarray(small[..., 0]).resize((28, 28), Image.Resampling.BOX), dtype=np.float64)
    assert correlation(255 - back, source) > 0.97


def test_crop_box_keeps_the_garment_square_and_pads_with_the_edge_colour() -> None:
    rgb = np.full((300, 200, 3), 240, np.uint8)
    rgb[100:200, 50:100] = (200, 20, 20)
    crop = images.crop_box(rgb, (100, 200, 50, 100), 64)
    assert crop.shape == (64, 64, 3)
    assert tuple(crop[32, 32]) == (200, 20, 20)
    assert tuple(crop[32, 2]) == (240, 240, 240)  # padded beside the tall garment
    assert images.crop_box(rgb, None, 32).shape == (32, 32, 3)
