"""A reusable corpus of test uploads, built in memory and deterministically.

Two groups, keyed by the file NAME an uploader would use (names matter to the end-to-end tests
that upload them):

- ``bad_files()``: name -> (bytes, the rejection code ``images.decode`` must give). Every
  file is judged under ``BAD_FILE_LIMITS``: the default limits except a small ``max_bytes``
  (``SMALL_MAX_BYTES``), so that ``too-large.jpg`` (a valid photo padded past that limit) is
  refused as ``file_too_large`` while every other bad file is small enough to be refused for
  its own reason. A stack that should refuse ``too-large.jpg`` needs
  ``FASHIONTAG_MAX_UPLOAD_BYTES=SMALL_MAX_BYTES``.
- ``odd_valid_files()``: name -> bytes of awkward but valid photos of a garment (CMYK,
  16-bit, transparent, palette, WebP, EXIF-rotated, greyscale, a non-ASCII name, difficult
  backdrops); each must decode.
- ``empty_photos()``: name -> bytes of usable photos in which there is no garment: not
  rejected (nothing is wrong with the file) but sent to review, since no garment was found.

Garments come from the Fashion-MNIST train split, rendered as studio photos by
``fashiontag.renders.photos``; ``garment(seed)`` gives the 28x28 source and its label.
Everything is cached per process: build once, reuse in every test.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

from fashiontag import fashion_mnist as fmnist
from fashiontag.config import Limits
from fashiontag.renders import photos, sets

# Every bad file except too-large.jpg is well below this; too-large.jpg is half as large again.
SMALL_MAX_BYTES = 1_000_000
BAD_FILE_LIMITS = Limits(max_bytes=SMALL_MAX_BYTES, max_pixels=40_000_000, min_side=32)
# The pixel size claimed by the decompression-bomb PNG's header.
BOMB_SIDE = 50_000
NON_ASCII_NAME = "jupe-été-👗.jpg"
# The seed of the garment most odd valid files are made from.
MAIN_SEED = 7


# --- garments ---------------------------------------------------------------------------------


@functools.cache
def fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST train split (images, labels), loaded once."""
    return fmnist.load_fashion_mnist("train")


@functools.cache
def garment(seed: int) -> tuple[np.ndarray, int]:
    """A Fashion-MNIST train image (28x28 uint8, white garment on black) and its label."""
    images, labels = fashion_mnist()
    index = int(np.random.default_rng([seed, 0]).integers(len(images)))
    return images[index], int(labels[index])


def garment_label(seed: int) -> int:
    return garment(seed)[1]


@functools.cache
def _photo(seed: int) -> Image.Image:
    rng = np.random.default_rng([seed, 1])
    side = int(rng.integers(300, 801))
    return Image.fromarray(photos.render(garment(seed)[0], rng, photos.STUDIO, side=side, jpeg=False).rgb, "RGB")


def garment_photo(seed: int) -> Image.Image:
    """The garment of ``seed`` rendered as an upright RGB product photo (a fresh copy)."""
    return _photo(seed).copy()


def jpeg(photo: Image.Image, orientation: int = 1, seed: int = 0) -> bytes:
    """JPEG bytes of ``photo``; orientation 3, 6 or 8 stores it rotated with an EXIF tag."""
    return sets.encode_jpeg(photo, int(np.random.default_rng([seed, 2]).integers(78, 96)), orientation)


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def garment_on(seed: int, backdrop: np.ndarray, colour: tuple[int, int, int], fill: float = 0.7) -> Image.Image:
    """The garment of ``seed`` painted in ``colour`` onto ``backdrop`` (H, W, 3), centred."""
    h, w, _ = backdrop.shape
    g = int(min(h, w) * fill)
    alpha_img = Image.fromarray(garment(seed)[0], "L").resize((g, g), Image.Resampling.BICUBIC)
    alpha = np.asarray(alpha_img, dtype=np.float64)[..., None] / 255.0
    photo = backdrop.astype(np.float64).copy()
    top, left = (h - g) // 2, (w - g) // 2
    region = photo[top : top + g, left : left + g]
    region += alpha * (np.array(colour, dtype=np.float64) - region)
    noise = np.random.default_rng([seed, 3]).normal(0, 2.0, photo.shape)
    return Image.fromarray(np.clip(photo + noise, 0, 255).astype(np.uint8), "RGB")


def gradient_backdrop(h: int, w: int, start: tuple[int, int, int], end: tuple[int, int, int]) -> np.ndarray:
    """A diagonal gradient from ``start`` (top left) to ``end`` (bottom right)."""
    yy, xx = np.mgrid[0:h, 0:w]
    t = ((xx / max(w - 1, 1) + yy / max(h - 1, 1)) / 2)[..., None]
    return np.array(start, dtype=np.float64) * (1 - t) + np.array(end, dtype=np.float64) * t


def plain_backdrop(h: int, w: int, colour: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, dtype=np.float64), (h, w, 3)).copy()


def gradient_photo(seed: int) -> Image.Image:
    """A dark garment on a strong light-to-mid grey-beige gradient."""
    return garment_on(seed, gradient_backdrop(480, 640, (250, 248, 240), (150, 140, 130)), (40, 30, 90))


def dark_photo(seed: int) -> Image.Image:
    """A light garment on a dark backdrop: the garment is lighter than what surrounds it."""
    return garment_on(seed, plain_backdrop(600, 480, (28, 30, 36)), (225, 215, 200))


# --- bad files --------------------------------------------------------------------------------


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int = BOMB_SIDE, height: int = BOMB_SIDE) -> bytes:
    """A tiny valid PNG whose IHDR (with a correct CRC) claims ``width`` x ``height`` pixels."""
    data = bytearray(_save(Image.new("RGB", (4, 4), (200, 30, 30)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _animated(fmt: str) -> bytes:
    frames = [garment_photo(MAIN_SEED).resize((120, 120)), garment_photo(MAIN_SEED + 1).resize((120, 120))]
    if fmt == "GIF":
        frames = [f.convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=200, loop=0)


_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400" viewBox="0 0 400 400">
  <rect width="400" height="400" fill="#fff"/>
  <path d="M120 60 L280 60 L340 140 L300 160 L290 340 L110 340 L100 160 L60 140 Z" fill="#234"/>
</svg>
"""


# The first box of an iPhone HEIC photo (ISO base media file: size, "ftyp", brand "heic").
_HEIC_HEAD = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"


def _minimal_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def padded_jpeg(min_bytes: int) -> bytes:
    """A valid photo JPEG made larger than ``min_bytes`` with comment (COM) segments."""
    data = jpeg(garment_photo(MAIN_SEED))
    missing = max(0, min_bytes + 1 - len(data))
    segments = bytearray()
    while missing > 0:
        body = min(missing, 65533)
        segments += b"\xff\xfe" + struct.pack(">H", body + 2) + b"p" * body
        missing -= body + 4
    return data[:2] + bytes(segments) + data[2:]


@functools.cache
def bad_files() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expected rejection code), under ``BAD_FILE_LIMITS``."""
    photo_jpeg = jpeg(garment_photo(MAIN_SEED))
    progressive = _save(garment_photo(MAIN_SEED), "JPEG", quality=90, progressive=True)
    photo_png = _save(garment_photo(MAIN_SEED).resize((200, 150)), "PNG")
    return {
        "empty.jpg": (b"", "empty_file"),
        "notes-not-a-photo.jpg": (
            "Robe d'été, taille 38, coton bleu.\nPhoto à suivre.\n".encode(),
            "not_an_image",
        ),
        "truncated.jpg": (photo_jpeg[: int(len(photo_jpeg) * 0.6)], "corrupt_image"),
        "truncated-progressive.jpg": (progressive[: int(len(progressive) * 0.6)], "corrupt_image"),
        "truncated.png": (photo_png[: int(len(photo_png) * 0.6)], "corrupt_image"),
        "garbled.jpg": (b"\xff\xd8\xff" + np.random.default_rng(0).bytes(4000), "corrupt_image"),
        "bomb-50000x50000.png": (bomb_png(), "too_many_pixels"),
        "animated.gif": (_animated("GIF"), "animated_image"),
        "animated.png": (_animated("PNG"), "animated_image"),
        "animated.webp": (_animated("WEBP"), "animated_image"),
        "drawing.svg": (_SVG, "unsupported_format"),
        "document.pdf": (_minimal_pdf(), "unsupported_format"),
        "IMG_0001.HEIC": (_HEIC_HEAD + np.random.default_rng(1).bytes(2000), "unsupported_format"),
        "tiny-1x1.png": (_save(Image.new("RGB", (1, 1), (10, 10, 10)), "PNG"), "image_too_small"),
        "too-large.jpg": (padded_jpeg(SMALL_MAX_BYTES * 3 // 2), "file_too_large"),
    }


@functools.cache
def empty_photos() -> dict[str, bytes]:
    """name -> bytes of photos with no garment in them: a blank frame and empty backdrops."""
    blank = Image.new("RGB", (400, 400), (255, 255, 255))
    found = {"blank-white.jpg": _save(blank, "JPEG", quality=90)}
    for n, style in enumerate((photos.STUDIO, photos.EVERYDAY)):
        scene = photos.render(None, np.random.default_rng([5, n]), style, side=500, jpeg=False)
        found[f"empty-{'studio' if n == 0 else 'everyday'}-backdrop.jpg"] = jpeg(Image.fromarray(scene.rgb))
    return found


# --- odd but valid files ----------------------------------------------------------------------


def _png16_rgb(rgb: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG, written by hand (Pillow has no 16-bit RGB mode to save)."""
    h, w, _ = rgb.shape
    wide = rgb.astype(">u2") * 257  # 8 -> 16 bits, big-endian as PNG wants
    raw = b"".join(b"\x00" + wide[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def transparent_rgba(photo: Image.Image) -> Image.Image:
    """The photo cut out: background fully transparent (and black underneath), garment opaque."""
    rgb = np.asarray(photo, dtype=np.float64)
    border = np.concatenate([rgb[:8].reshape(-1, 3), rgb[-8:].reshape(-1, 3)])
    distance = np.abs(rgb - np.median(border, axis=0)).sum(axis=-1)
    alpha = np.clip((distance - 40.0) * 4.0, 0, 255).astype(np.uint8)
    out = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    out[..., :3] = np.where(alpha[..., None] > 0, rgb, 0).astype(np.uint8)
    out[..., 3] = alpha
    return Image.fromarray(out, "RGBA")


@functools.cache
def odd_valid_files() -> dict[str, bytes]:
    """name -> bytes of awkward but valid photos; all show the garment of ``MAIN_SEED``."""
    photo = garment_photo(MAIN_SEED)
    grey = photo.convert("L")
    grey16 = Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257)  # mode I;16
    palette_transparent = transparent_rgba(photo).convert("P", palette=Image.Palette.ADAPTIVE)
    # Pillow's RGBA->P keeps no alpha; mark the palette entry of the (black) background transparent.
    background_index = palette_transparent.getpixel((0, 0))
    return {
        "cmyk.jpg": _save(photo.convert("CMYK"), "JPEG", quality=90),
        "grey16.png": _save(grey16, "PNG"),
        "rgb16.png": _png16_rgb(np.asarray(photo)),
        "transparent.png": _save(transparent_rgba(photo), "PNG"),
        "palette.png": _save(photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64), "PNG"),
        "palette-transparent.png": _save(palette_transparent, "PNG", transparency=background_index),
        "photo.webp": _save(photo, "WEBP", quality=85),
        "exif-6.jpg": jpeg(photo, orientation=6),
        "exif-8.jpg": jpeg(photo, orientation=8),
        "grey.jpg": _save(grey, "JPEG", quality=90),
        NON_ASCII_NAME: jpeg(photo),
        "gradient-backdrop.jpg": jpeg(gradient_photo(MAIN_SEED)),
        "dark-backdrop.jpg": jpeg(dark_photo(MAIN_SEED)),
    }
