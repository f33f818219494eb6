"""The category model in the seller's browser against the server, in Debian's Chromium.

- Parity: 200 photos (garments rendered as product photos; JPEGs stored in every EXIF
  orientation, and PNGs) classified by the page's own ``classify.js`` with the active version
  fetched through the admin function, and by the server's own code (``classification.record``,
  what on_upload and classify record, with the same version in Python LiteRT): the top-1
  category agrees on at least 99% of them, and the probabilities the server reports (its
  top 3) within 0.01.
- The seller's page: each chosen photo shows the browser's category while its upload is still
  held back, and the server's record follows.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fashiontag import clients, config, contract, registry
from fashiontag.admin import identity
from fashiontag.classification import record
from fashiontag.inference import CategoryModel
from fashiontag.local.stack import StackConfig
from fashiontag.tools.browser import classify_in_page, sign_in
from tests import corpus
from tests.helpers import sign_in as sign_in_token
from tests.helpers import wait_until

PASSWORD = "model-pass-1"
TIMEOUT_MS = 30_000
PHOTOS = 200


@pytest.fixture
def shipped(stack: StackConfig) -> str:
    """The shipped category version, registered and active, as a deployed project has it."""
    meta = json.loads((config.category_model_dir() / "model.json").read_text())
    if meta["input"]["shape"][-1] != 3:
        pytest.skip("the shipped category version takes no whole photo (v1): the browser does not run it")
    return registry.ensure_registered_baseline(config.CATEGORY_MODEL_NAME, config.category_model_dir())


def _photo(seed: int) -> bytes:
    """Every fifth a PNG, the rest JPEGs in turn stored upright, upside down and sideways."""
    photo = corpus.garment_photo(seed)
    if seed % 5 == 4:
        buf = io.BytesIO()
        photo.save(buf, "PNG")
        return buf.getvalue()
    return corpus.jpeg(photo, orientation=(1, 3, 6, 8)[seed % 4], seed=seed)


def test_browser_and_server_agree_on_200_photos(stack: StackConfig, browser: Any, shipped: str) -> None:
    photos = [_photo(seed) for seed in range(PHOTOS)]
    model = CategoryModel.from_dir(config.category_model_dir())
    server = [record(p, model) for p in photos]  # what the server records, top-3 included

    identity.add_user("parity@model.test", "seller", PASSWORD, None, "parity-seller")
    page = browser.new_page()
    page.goto(stack.url("admin") + "/")
    run = classify_in_page(page, sign_in_token("parity@model.test", PASSWORD), photos)

    assert run.version == shipped
    labels = model.labels
    agree, worst = 0, 0.0
    for answer, in_browser in zip(server, run.probabilities, strict=True):
        category = answer["category"]
        agree += labels[int(np.argmax(in_browser))] == category["label"]
        for scored in category["top"]:  # the server rounds to 4 places
            worst = max(worst, abs(in_browser[labels.index(scored["label"])] - scored["confidence"]))
    assert agree >= 0.99 * PHOTOS, f"top-1 agrees on {agree} of {PHOTOS}"
    assert worst <= 0.01, f"probabilities differ by up to {worst:.4f}"


def test_a_seller_sees_the_browser_category_before_the_upload_finishes(
    stack: StackConfig, browser: Any, shipped: str, tmp_path: Path
) -> None:
    identity.add_user("early@model.test", "seller", PASSWORD, None, "early-seller")
    paths = []
    for seed in (15, 19, 23):
        path = tmp_path / f"garment-{seed}.jpg"
        path.write_bytes(corpus.jpeg(corpus.garment_photo(seed), seed=seed))
        paths.append(path)
    page = browser.new_page()
    sign_in(page, stack.url("admin") + "/", "early@model.test", PASSWORD, TIMEOUT_MS)

    held: list[Any] = []  # the uploads to the bucket, kept waiting until the page has its answers

    def hold(route: Any) -> None:
        if route.request.method == "PUT":
            held.append(route)
        else:
            route.continue_()

    page.route(f"{stack.url('storage')}/**", hold)
    page.set_input_files("form[data-upload] input[type=file]", [str(p) for p in paths])
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_function(
        "() => document.querySelectorAll('ul.upload-list .guess[data-browser-category]').length === 3",
        timeout=TIMEOUT_MS,
    )
    rows = page.locator("ul.upload-list li").evaluate_all(
        """items => items.map(li => [li.querySelector('.file').textContent,
            li.querySelector('.guess').dataset.browserCategory, li.querySelector('.state').textContent])"""
    )
    assert all(state != "uploaded" for _, _, state in rows)
    products = clients.firestore_client().collection(contract.PRODUCTS)
    assert list(products.stream()) == []  # nothing reached the bucket yet
    # While the photos are on their way: no second click, and leaving the page asks first.
    assert page.locator("form[data-upload] button[type=submit]").is_disabled()
    leaving = """() => { const e = new Event('beforeunload', {cancelable: true});
                         dispatchEvent(e); return e.defaultPrevented; }"""
    assert page.evaluate(leaving) is True

    # Playwright hands the page's requests over only while it waits on the page.
    wait_until(lambda: len(held) == 3 or page.wait_for_timeout(100), 30, lambda: f"{len(held)} uploads started")
    for route in held:
        route.continue_()
    page.wait_for_selector("ul.upload-list li.done >> nth=2", timeout=TIMEOUT_MS)
    # One line of totals once the server has classified the whole batch.
    page.wait_for_selector("#flash:has-text('All 3 photos are classified')", timeout=TIMEOUT_MS)
    assert page.evaluate(leaving) is False and page.locator("form[data-upload] button[type=submit]").is_enabled()

    guessed = {name: label for name, label, _ in rows}

    def recorded() -> dict[str, str] | None:
        found = {}
        for snap in products.stream():
            doc = snap.to_dict() or {}
            label = ((doc.get("prediction") or {}).get("category") or {}).get("label")
            if label:  # stored as {stem}-{token}.{ext}: the name the seller chose, back
                found[re.sub(r"-[0-9a-f]{12}(\.\w+)$", r"\1", doc["image"]["name"].rsplit("/", 1)[-1])] = label
        return found if len(found) == 3 else None

    assert wait_until(recorded, 30, lambda: f"server predictions: {recorded()}") == guessed  # the record agrees


def test_a_manager_tries_the_model_in_the_page_server_and_browser_side_by_side(
    stack: StackConfig, browser: Any, tmp_path: Path
) -> None:
    """On a fresh project (nothing registered): both sides run the baseline bundled with the code."""
    identity.add_user("tries@model.test", "manager", PASSWORD, None, "tries-manager")
    photo = corpus.jpeg(corpus.garment_photo(31), seed=31)
    path = tmp_path / "garment.jpg"
    path.write_bytes(photo)
    expected = record(photo, CategoryModel.from_dir(config.category_model_dir()))["category"]

    page = browser.new_page()
    sign_in(page, stack.url("admin") + "/", "tries@model.test", PASSWORD, TIMEOUT_MS)
    page.goto(stack.url("admin") + "/#/models")
    page.set_input_files("form[data-try] input[name=image]", str(path))
    page.click("form[data-try] button[type=submit]")
    page.wait_for_function(
        """() => ['server', 'browser'].every(side => {
             const cell = document.querySelector(`td[data-${side}=category]`);
             return cell && cell.textContent && cell.textContent !== '…';
           })""",
        timeout=TIMEOUT_MS,
    )
    cells = page.locator("table[data-try-result] td[data-server], table[data-try-result] td[data-browser]")
    shown = dict(
        cells.evaluate_all(
            "tds => tds.map(td => [(td.dataset.server ? 's:' + td.dataset.server : "
            "'b:' + td.dataset.browser), td.textContent])"
        )
    )
    label = expected["label"].replace("_", " ")
    assert shown["s:category"].startswith(label) and shown["b:category"].startswith(label), shown
    assert (
        shown["s:version"]
        == shown["b:version"]
        == json.loads((config.category_model_dir() / "model.json").read_text())["version"]
    )
    assert shown["s:colours"] not in ("", "-", "…") and shown["s:outcome"] not in ("", "-", "…")
    assert registry.active_version(config.CATEGORY_MODEL_NAME) is None  # trying registered nothing


def test_a_failed_upload_can_be_sent_again_and_only_it(stack: StackConfig, browser: Any, tmp_path: Path) -> None:
    identity.add_user("retry@model.test", "seller", PASSWORD, None, "retry-seller")
    paths = []
    for seed in (41, 42):
        path = tmp_path / f"garment-{seed}.jpg"
        path.write_bytes(corpus.jpeg(corpus.garment_photo(seed), seed=seed))
        paths.append(path)
    page = browser.new_page()
    sign_in(page, stack.url("admin") + "/", "retry@model.test", PASSWORD, TIMEOUT_MS)
    puts: list[str] = []

    def fail_the_first_try_of_the_second(route: Any) -> None:
        if route.request.method == "PUT":
            puts.append(route.request.url)
            if len(puts) == 2:
                route.abort()
                return
        route.continue_()

    page.route(f"{stack.url('storage')}/**", fail_the_first_try_of_the_second)
    page.set_input_files("form[data-upload] input[type=file]", [str(p) for p in paths])
    page.click("form[data-upload] button[type=submit]")
    retry = "form[data-upload] button[data-retry]"
    page.wait_for_selector(f"{retry}:has-text('Retry the 1 that failed')", timeout=TIMEOUT_MS)
    assert page.locator("ul.upload-list li.failed").count() == 1
    page.click(retry)
    page.wait_for_selector("#flash:has-text('The photo is classified')", timeout=TIMEOUT_MS)
    assert len(puts) == 3 and page.locator("ul.upload-list li.failed").count() == 0
    assert page.locator(retry).count() == 0
    products = list(clients.firestore_client().collection(contract.PRODUCTS).stream())
    assert len(products) == 2  # each photo once


def test_a_report_opens_under_its_version_with_a_title(stack: StackConfig, browser: Any, shipped: str) -> None:
    identity.add_user("reads@model.test", "manager", PASSWORD, None, "reads-manager")
    page = browser.new_page()
    sign_in(page, stack.url("admin") + "/", "reads@model.test", PASSWORD, TIMEOUT_MS)
    page.goto(stack.url("admin") + "/#/models")
    page.click(f"table.versions tr[data-version='{shipped}'] button[data-open$='report.json']")
    panel = page.locator("[data-report-panel]")
    panel.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert panel.locator("[data-report-title]").text_content() == f"category {shipped}: report.json"
    assert '"test_accuracy"' in (panel.locator("[data-report]").text_content() or "")
    # Right under the table of versions, not at the foot of the page.
    above = "() => document.querySelector('[data-report-panel]').previousElementSibling.matches('table.versions')"
    assert page.evaluate(above)
    panel.locator("[data-close-report]").click()
    assert panel.is_hidden()
