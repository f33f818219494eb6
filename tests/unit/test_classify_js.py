"""The browser's preprocessing (functions/admin/static/classify.js) against Pillow's, run with Node.

The sizes ``PIL.Image.thumbnail`` picks and the pixels of ``Image.resize(..., BOX)`` are what
the server's ``fashiontag.images`` uses; the page must repeat them. Whole photos in a real
browser are compared in tests/e2e/test_browser_model.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MODULE = Path(__file__).resolve().parents[2] / "functions" / "admin" / "static" / "classify.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (make deps needs it too)")


def _node(script: str, stdin: bytes = b"") -> object:
    program = f"import * as m from {json.dumps(MODULE.as_uri())};\n{script}"
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", program], input=stdin, capture_output=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_the_working_size_is_pillows_thumbnail_size() -> None:
    sizes = [(512, 512), (600, 400), (400, 600), (1023, 7), (7, 1023), (513, 512), (999, 333), (640, 481)]
    expected = []
    for w, h in sizes:
        img = Image.new("RGB", (w, h))
        img.thumbnail((512, 512), Image.Resampling.BOX)
        expected.append(list(img.size))
    script = f"console.log(JSON.stringify({json.dumps(sizes)}.map(([w, h]) => m.thumbnailSize(w, h))));"
    assert _node(script) == expected


@pytest.mark.parametrize(
    ("size", "out"),
    [
        ((300, 200), (64, 64)),
        ((512, 341), (64, 64)),
        ((90, 64), (64, 64)),
        ((64, 333), (64, 64)),
        ((341, 512), (64, 50)),
    ],
)
def test_box_resize_repeats_pillow_within_one_level(size: tuple[int, int], out: tuple[int, int]) -> None:
    w, h = size
    rgb = np.random.default_rng(w * 1000 + h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(rgb).resize(out, Image.Resampling.BOX), dtype=np.int16)
    script = (
        "const fs = (await import('node:fs')).default;"
        "const data = new Uint8Array(fs.readFileSync(0));"
        f"console.log(JSON.stringify(Array.from(m.boxResize(data, {w}, {h}, {out[0]}, {out[1]}))));"
    )
    got = np.array(_node(script, rgb.tobytes()), dtype=np.int16).reshape(expected.shape)
    assert np.abs(got - expected).max() <= 1
    if w == out[0] or h == out[1]:  # one pass only: integer for integer
        assert (got == expected).all()
