"""``make bench``, the browser's part: the category model run by the seller's page in Chromium.

On the bench's stack, the shipped category version is registered and a seller signs in to the
admin page in Debian's Chromium; the page's own ``classify.js`` then loads LiteRT.js and the
model exactly as the seller's page does and classifies the bench's photos:

- download: the bytes of the runtime (module and WebAssembly) and of the model file, as served
  (the admin function does not compress them) and gzip-compressed, for what a CDN-less
  deployment behind a compressing front end would send;
- cold: a fresh browser profile (on disk, as a person's), from asking for the model to the classifier being ready
  (downloads and WebAssembly compilation), then the first photo;
- warm: the same profile after a reload, everything from the HTTP cache (the addresses carry
  versions, so nothing is fetched again), and the median photo (decode, resize, run) and the
  median model run alone.
"""

from __future__ import annotations

import gzip
import statistics
import tempfile
from pathlib import Path
from typing import Any

import requests

from fashiontag import config, registry
from fashiontag.admin import identity
from fashiontag.local import stack
from fashiontag.tools.browser import BrowserRun, chromium_profile, classify_in_page, sign_in

EMAIL, PASSWORD = "bench-seller@bench.test", "bench-pass-1"
TOKEN = "JSON.parse(sessionStorage.getItem('fashiontag.session')).idToken"


def _download(token: str, run: BrowserRun) -> dict[str, Any]:
    files = {}
    for entry in run.fetched:
        data = requests.get(entry["name"], headers={"Authorization": f"Bearer {token}"}, timeout=60).content
        files[entry["name"].split("?")[0].rsplit("/", 1)[-1]] = {
            "bytes": len(data),
            "gzip_bytes": len(gzip.compress(data, 9)),
        }
    return {
        "files": files,
        "total_mb": round(sum(f["bytes"] for f in files.values()) / 1e6, 2),
        "total_gzip_mb": round(sum(f["gzip_bytes"] for f in files.values()) / 1e6, 2),
    }


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def bench_browser(cfg: stack.StackConfig, photos: list[Path]) -> dict[str, Any]:
    version = registry.ensure_registered_baseline(config.CATEGORY_MODEL_NAME, config.category_model_dir())
    identity.add_user(EMAIL, "seller", PASSWORD, None, "bench-seller")
    data = [p.read_bytes() for p in photos]
    with tempfile.TemporaryDirectory() as profile, chromium_profile(Path(profile)) as browser:
        page = browser.new_page()
        sign_in(page, cfg.url("admin") + "/", EMAIL, PASSWORD)
        token = page.evaluate(TOKEN)
        cold = classify_in_page(page, token, data)
        page.reload()
        warm = classify_in_page(page, token, data)
    return {
        "model": {"name": config.CATEGORY_MODEL_NAME, "version": version},
        "photos": len(data),
        "download": _download(token, cold),
        "cold_load_ms": round(cold.load_ms, 1),
        "cold_first_photo_ms": round(cold.photo_ms[0], 2),
        "warm_load_ms": round(warm.load_ms, 1),
        "warm_fetched_bytes": sum(e["transferred"] for e in warm.fetched),
        "warm_photo_ms_median": _median(warm.photo_ms),
        "warm_model_ms_median": _median(warm.model_ms),
    }
