"""The category model in a real browser: Debian's Chromium driven by Playwright, offline.

Used by the browser tests and by ``make bench``: ``classify_in_page`` loads the admin page's
own ``classify.js`` from the admin server, fetches the active version as a seller's page does
(with the caller's ID token), and classifies photos with it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Runs in the page: the same calls as app.js's browserClassifier, timed, then every photo.
_CLASSIFY = """async ([token, photos]) => {
  const started = performance.now();
  const headers = { Authorization: `Bearer ${token}` };
  const answer = await fetch("/api/browser-model", { headers });
  const info = await answer.json();
  if (!answer.ok) throw new Error(info.error);
  const bytes = await (await fetch(info.model_url, { headers })).arrayBuffer();
  const module = await import("/assets/classify.js");
  const model = await module.loadClassifier(info, bytes);
  const loadMs = performance.now() - started;
  const results = [];
  for (const encoded of photos) {
    const blob = new Blob([Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0))]);
    const begun = performance.now();
    const result = await model.classify(blob);
    results.push({ probabilities: result.probabilities, ms: performance.now() - begun, modelMs: result.ms });
  }
  const fetched = performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/assets/litert/") || e.name.includes("/api/browser-model/"))
    .map((e) => ({ name: e.name, bytes: e.encodedBodySize, transferred: e.transferSize }));
  return { version: info.version, loadMs, results, fetched };
}"""


@dataclass(frozen=True)
class BrowserRun:
    version: str
    load_ms: float  # model metadata, runtime, model file, compilation
    probabilities: list[list[float]]  # calibrated, one list per photo
    photo_ms: list[float]  # decode, resize and run, per photo
    model_ms: list[float]  # the model's run alone
    fetched: list[dict[str, Any]]  # the runtime's and model's files: bytes, and bytes over the network


@contextmanager
def chromium() -> Iterator[Any]:
    """A browser whose every new context starts without cookies or cache (in memory)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def chromium_profile(folder: Path) -> Iterator[Any]:
    """A browser context with a profile on disk, as a person's browser has: its HTTP cache keeps
    what an in-memory one may not (LiteRT.js's WebAssembly is 9 MB)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(folder), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context
        finally:
            context.close()


def sign_in(page: Any, url: str, email: str, password: str, timeout_ms: float = 30_000) -> None:
    """Sign in through the page's own form and wait until it shows who signed in."""
    page.goto(url)
    page.fill("#sign-in-form input[name=email]", email)
    page.fill("#sign-in-form input[name=password]", password)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector(f"#who-email:has-text('{email}')", timeout=timeout_ms)


def classify_in_page(page: Any, token: str, photos: list[bytes]) -> BrowserRun:
    """Classify ``photos`` in ``page`` (already on the admin server's origin) as a seller would."""
    encoded = [base64.b64encode(p).decode() for p in photos]
    out = page.evaluate(_CLASSIFY, [token, encoded])
    return BrowserRun(
        version=out["version"],
        load_ms=out["loadMs"],
        probabilities=[r["probabilities"] for r in out["results"]],
        photo_ms=[r["ms"] for r in out["results"]],
        model_ms=[r["modelMs"] for r in out["results"]],
        fetched=out["fetched"],
    )
