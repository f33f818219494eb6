"""From uploaded bytes to the model's input: sniff, bound, decode, normalise.

``decode`` turns any accepted image file into an upright 8-bit RGB array, refusing what is
not a single still image within the limits *before* the pixels are decoded.
``normalise`` turns such a photo into a 28x28 grey image made the way Fashion-MNIST was made
(background trimmed by the border colour, longest edge resized to 28, sharpened, centred,
negated), so one function serves training, serving and evaluation alike.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from fashiontag.config import Limits
from fashiontag.errors import Rejection

SIZE = 28
# Decoding works on at most this many pixels a side: the model sees 28, colours and the
# thumbnail need a few hundred, and a 40 MP photo decoded whole would cost 120 MB.
WORKING_SIDE = 512

_ORIENTATION_TAG = 0x0112
_ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_FRIENDLY = "Please upload a photo as JPEG, PNG or WebP."


@dataclass(frozen=True)
class Photo:
    """A decoded upload: ``rgb`` is upright, alpha flattened onto white, at most WORKING_SIDE."""

    rgb: np.ndarray
    format: str
    width: int
    height: int


def sniff(data: bytes) -> str:
    """The format named by the file's first bytes (never by its name), or raise Rejection."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM":
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head.startswith(b"%PDF"):
        raise Rejection("unsupported_format", f"This file is a PDF document, not a photo. {_FRIENDLY}")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg")):
        raise Rejection("unsupported_format", f"Vector drawings (SVG) are not accepted. {_FRIENDLY}")
    if head[4:8] == b"ftyp":
        raise Rejection("unsupported_format", f"HEIC/HEIF and video files are not accepted yet. {_FRIENDLY}")
    raise Rejection("not_an_image", f"This file is not an image we can read. {_FRIENDLY}")


def decode(data: bytes, limits: Limits) -> Photo:
    """Validate and decode an upload; every refusal is a Rejection with a seller-facing message."""
    if not data:
        raise Rejection("empty_file", "The file is empty. Please upload the photo again.")
    if len(data) > limits.max_bytes:
        raise too_large(len(data), limits)
    fmt = sniff(data)
    with warnings.catch_warnings():
        # We enforce our own pixel limit below; Pillow's bomb warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=_ACCEPTED)
        except Image.DecompressionBombError:
            raise _too_many_pixels(None, limits) from None
        except Exception:
            raise Rejection("corrupt_image", f"The image file is damaged and cannot be opened. {_FRIENDLY}") from None
        width, height = img.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels((width, height), limits)
        if min(width, height) < limits.min_side:
            raise Rejection(
                "image_too_small",
                f"The image is only {width}x{height} pixels; we need at least "
                f"{limits.min_side} pixels on each side to recognise a garment.",
            )
        if getattr(img, "n_frames", 1) > 1 and fmt in ("GIF", "WEBP", "PNG"):
            raise Rejection("animated_image", f"Animated images are not accepted; upload a single photo. {_FRIENDLY}")
        try:
            rgb = _to_rgb(img)
        except Rejection:
            raise
        except Exception:
            raise Rejection(
                "corrupt_image",
                f"The image file is damaged or incomplete (was the upload cut short?). {_FRIENDLY}",
            ) from None
    if img.getexif().get(_ORIENTATION_TAG, 1) in (5, 6, 7, 8):
        width, height = height, width  # stored sideways: report the size the seller sees
    return Photo(rgb=rgb, format=fmt, width=width, height=height)


def too_large(size: int, limits: Limits) -> Rejection:
    return Rejection(
        "file_too_large",
        f"The file is {size / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:g} MB. Please upload a smaller photo.",
    )


def _too_many_pixels(size: tuple[int, int] | None, limits: Limits) -> Rejection:
    dims = f" ({size[0]}x{size[1]})" if size else ""
    return Rejection(
        "too_many_pixels",
        f"The image is too large{dims}; the limit is {limits.max_pixels / 1e6:.0f} megapixels.",
    )


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Upright 8-bit RGB at working size, whatever the mode the file was stored in."""
    if img.format == "JPEG":
        # Let the JPEG decoder scale down by 1/2..1/8 while decoding: far less memory and time.
        img.draft(img.mode, (WORKING_SIDE, WORKING_SIDE))
    img.load()
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    img = img.convert("RGB")
    img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def _border(side: int) -> int:
    return max(2, side // 40)


def background(rgb: np.ndarray) -> np.ndarray:
    """Estimate the background colour at every pixel (H, W, 3) from the image border.

    A bilinear surface fitted to the border pixels covers plain and gradient backdrops; a
    second fit without the border pixels that disagree most keeps a garment touching the edge
    from pulling the estimate towards itself.
    """
    h, w, _ = rgb.shape
    b = _border(min(h, w))
    mask = np.zeros((h, w), dtype=bool)
    mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = True, True, True, True
    ys, xs = np.nonzero(mask)
    yy, xx = ys / max(h - 1, 1), xs / max(w - 1, 1)
    design = np.stack([np.ones_like(xx), xx, yy, xx * yy], axis=1)
    values = rgb[ys, xs].astype(np.float64)
    keep = np.ones(len(values), dtype=bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        residual = np.abs(values - design @ coef).sum(axis=1)
        keep = residual <= max(np.percentile(residual, 70) * 2.0, 12.0)
    gy, gx = np.mgrid[0:h, 0:w]
    gy, gx = gy / max(h - 1, 1), gx / max(w - 1, 1)
    full = np.stack([np.ones_like(gx), gx, gy, gx * gy], axis=-1)
    return np.clip(full @ coef, 0, 255)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def ink(rgb: np.ndarray) -> np.ndarray:
    """How much garment each pixel holds, 0..1: its darkness against the local background.

    Fashion-MNIST is a negated grey image of garments on white, so a pixel's value is its
    darkness. On a coloured or dark backdrop darkness is measured against the backdrop, and a
    garment lighter than its backdrop is measured by its lightness instead.
    """
    rgbf = rgb.astype(np.float64)
    bg = _grey(background(rgb))
    grey = _grey(rgbf)
    # Sensor and JPEG noise and the residue of an imperfect background fit stay below this
    # floor, in grey levels. It is absolute, not relative to the backdrop: a relative floor
    # is tiny for a garment lighter than a light backdrop, and the noise of an empty photo
    # would then be measured as a garment filling the frame.
    floor = 12.0
    darker = np.clip(bg - grey - floor, 0, None)
    lighter = np.clip(grey - bg - floor, 0, None)
    if darker.sum() >= lighter.sum():
        value = darker / np.maximum(bg - floor, 32.0)
    else:
        value = lighter / np.maximum(255.0 - bg - floor, 32.0)
    return np.clip(value, 0.0, 1.0)


def _bbox(value: np.ndarray) -> tuple[int, int, int, int] | None:
    h, w = value.shape
    on = value > 0.12
    rows = np.nonzero(on.sum(axis=1) >= max(2, w // 200))[0]
    cols = np.nonzero(on.sum(axis=0) >= max(2, h // 200))[0]
    if len(rows) == 0 or len(cols) == 0:
        return None
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) < 0.002 * h * w:
        return None
    return int(top), int(bottom), int(left), int(right)


def _garment_box(value: np.ndarray) -> tuple[int, int, int, int]:
    box = _bbox(value)
    if box is None:
        raise Rejection(
            "no_garment_found",
            "We could not find a garment in this photo: it looks empty, or the garment blends "
            "into the background. Photograph it against a plain, contrasting background.",
        )
    return box


def normalise(rgb: np.ndarray) -> np.ndarray:
    """A photo (H, W, 3 uint8) as the model's 28x28 uint8 input, Fashion-MNIST style."""
    value = ink(rgb)
    top, bottom, left, right = _garment_box(value)
    crop = value[top:bottom, left:right]
    h, w = crop.shape
    scale = SIZE / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray(crop.astype(np.float32), "F").resize((new_w, new_h), Image.Resampling.BOX)
    arr = np.asarray(small, dtype=np.float64)
    peak = np.percentile(arr, 99.5)
    arr = np.clip(arr / max(peak, 1e-6), 0.0, 1.0)
    grey = Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8), "L")
    grey = grey.filter(ImageFilter.UnsharpMask(radius=1, percent=60, threshold=0))
    canvas = Image.new("L", (SIZE, SIZE), 0)
    canvas.paste(grey, ((SIZE - new_w) // 2, (SIZE - new_h) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def garment_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """The garment in colour, trimmed like ``normalise``, padded square, (size, size, 3) uint8.

    The input of models that need colour and detail (attribute models declare ``size``).
    """
    top, bottom, left, right = _garment_box(ink(rgb))
    margin = max(2, (bottom - top + right - left) // 40)
    h, w, _ = rgb.shape
    top, left = max(0, top - margin), max(0, left - margin)
    bottom, right = min(h, bottom + margin), min(w, right + margin)
    crop = rgb[top:bottom, left:right]
    side = max(crop.shape[:2])
    fill = tuple(int(c) for c in np.median(np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]), axis=0))
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(Image.fromarray(crop, "RGB"), ((side - crop.shape[1]) // 2, (side - crop.shape[0]) // 2))
    return np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
