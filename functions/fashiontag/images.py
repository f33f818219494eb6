"""From uploaded bytes to the model's input: sniff, bound, decode, resize.

``decode`` turns any accepted image file into an upright 8-bit RGB array, refusing what is
not a single still image within the limits *before* the pixels are decoded.
``model_input`` reduces such a photo to the category model's input: the whole photo, resized.
Nothing else happens outside the model, so training, serving, evaluation and the browser
prepare a photo the same way (docs/decisions/0011).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from fashiontag.config import Limits
from fashiontag.errors import Rejection

# The category model's input: the whole photo, squashed to a square of this side. Small
# enough to run in a millisecond, large enough to keep a garment that fills a third of the
# frame at about Fashion-MNIST's own 28 pixels.
MODEL_SIDE = 64
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


def model_input(rgb: np.ndarray, side: int = MODEL_SIDE) -> np.ndarray:
    """The category model's input: the upright photo (H, W, 3 uint8) area-averaged to (side, side, 3).

    Nothing else happens outside the model (no cropping, no backdrop estimate), so a browser
    repeats it exactly: decode, orient, resize.
    """
    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]), "RGB")
    return np.asarray(img.resize((side, side), Image.Resampling.BOX), dtype=np.uint8)


def clean_input(garment: np.ndarray, side: int = MODEL_SIDE) -> np.ndarray:
    """A Fashion-MNIST image (28x28, white garment on black) as the photo it was made from."""
    grey = np.repeat((255 - garment)[..., None], 3, axis=-1).astype(np.uint8)
    return model_input(grey, side)


def crop_box(rgb: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> np.ndarray:
    """The garment inside ``box`` (top, bottom, left, right), with a margin, padded square with
    the photo's edge colour and resized to (size, size, 3) uint8; the whole photo without a box.

    The input of models that need colour and detail (attribute models declare ``size``).
    """
    h, w, _ = rgb.shape
    top, bottom, left, right = box or (0, h, 0, w)
    margin = max(2, (bottom - top + right - left) // 40)
    top, left = max(0, top - margin), max(0, left - margin)
    bottom, right = min(h, bottom + margin), min(w, right + margin)
    crop = rgb[top:bottom, left:right]
    side = max(crop.shape[:2])
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    fill = tuple(int(c) for c in np.median(edge, axis=0))
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(
        Image.fromarray(np.ascontiguousarray(crop), "RGB"), ((side - crop.shape[1]) // 2, (side - crop.shape[0]) // 2)
    )
    return np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
