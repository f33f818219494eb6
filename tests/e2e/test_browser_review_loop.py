"""The whole review loop in a real browser: Debian's Chromium driven by Playwright.

A seller uploads two photos straight to the bucket (with per-file progress) and watches their
status change; a manager finds them in the queue, corrects one attribute, verifies and
publishes, and sends the seller a notification; the Firestore documents change accordingly;
the seller reads the notification; a buyer finds the product by filter, opens its
specification and sends feedback with a script in it, which the manager reads as plain text.
A screenshot of each page goes to the test's output folder (and to docs/screenshots/ with
FASHIONTAG_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore
from PIL import Image

from fashiontag import clients, config, contract
from fashiontag.admin import identity
from fashiontag.local.stack import StackConfig
from fashiontag.tools.browser import sign_in as sign_in_page
from tests import corpus

PASSWORD = "browser-pass-1"
TROUSERS_SEED, DRESS_SEED = 15, 19  # Fashion-MNIST train images: a trouser, a dress
INJECTION = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
TIMEOUT_MS = 30_000


@pytest.fixture
def shots(tmp_path: Path, repo_root: Path) -> Iterator[list[Path]]:
    taken: list[Path] = []
    yield taken
    if not os.environ.get("FASHIONTAG_UPDATE_SCREENSHOTS"):
        return  # a test run leaves the checkout untouched; set it to refresh docs/screenshots
    docs = repo_root / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    for path in taken:
        shutil.copy2(path, docs / path.name)


class Screens:
    """Screenshots, shrunk to a 96-colour palette: a few tens of KB each."""

    def __init__(self, folder: Path, taken: list[Path]) -> None:
        self.folder = folder
        self.taken = taken
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, name: str) -> None:
        """Once the page shows its view (or the sign-in form) and every picture has loaded."""
        page.wait_for_function(
            "() => document.querySelector('#view').children.length > 0 || !document.querySelector('#sign-in').hidden",
            timeout=TIMEOUT_MS,
        )
        page.wait_for_function(
            """() => [...document.querySelectorAll('#view img[data-src]')].every(
                i => i.classList.contains('missing') || (i.getAttribute('src') && i.complete && i.naturalWidth > 0))""",
            timeout=TIMEOUT_MS,
        )
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        with Image.open(path) as img:
            small = img.convert("RGB").quantize(colors=96, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)
        self.taken.append(path)


def _photos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, seed in (("trousers.jpg", TROUSERS_SEED), ("dress.jpg", DRESS_SEED)):
        path = folder / name
        corpus.garment_photo(seed).resize((600, 600)).save(path, "JPEG", quality=88)
        paths.append(path)
    return paths


def _sign_in(page: Any, url: str, email: str) -> None:
    sign_in_page(page, url, email, PASSWORD, TIMEOUT_MS)


def _flash(page: Any, text: str) -> None:
    try:
        page.wait_for_selector(f"#flash.ok:has-text('{text}')", timeout=TIMEOUT_MS)
    except Exception as error:  # say what the page showed instead
        shown = page.locator("#flash").evaluate("e => e.className + ': ' + e.textContent")
        raise AssertionError(f"expected flash {text!r}, page shows {shown!r}") from error


def _product_by_file(file_name: str) -> tuple[str, dict[str, Any]]:
    """The product of the upload of ``file_name`` (stored as ``{stem}-{token}.{ext}``)."""
    stem, ext = file_name.rsplit(".", 1)
    stored = re.compile(rf"uploads/[^/]+/{re.escape(stem)}-[0-9a-f]{{12}}\.{ext}")
    query = clients.firestore_client().collection(contract.PRODUCTS)
    for snap in query.stream():
        doc = snap.to_dict() or {}
        if stored.fullmatch(doc.get("image", {}).get("name", "")):
            return snap.id, doc
    raise AssertionError(f"no product for {file_name}")


def _history(product_id: str) -> list[dict[str, Any]]:
    ref = clients.firestore_client().collection(contract.PRODUCTS).document(product_id).collection("history")
    return sorted((s.to_dict() or {} for s in ref.stream()), key=lambda e: e["n"])


def test_seller_manager_buyer_review_loop(stack: StackConfig, browser: Any, tmp_path: Path, shots: list[Path]) -> None:
    url = stack.url("admin") + "/"
    identity.add_user("manager@browser.test", "manager", PASSWORD, "Mia Manager", "browser-manager")
    identity.add_user("seller@browser.test", "seller", PASSWORD, "Sam Seller", "browser-seller")
    identity.add_user("buyer@browser.test", "buyer", PASSWORD, "Bo Buyer", "browser-buyer")
    screen = Screens(tmp_path / "screenshots", shots)
    viewport = {"width": 1200, "height": 800}

    # --- the seller uploads two photos and watches them being classified ------------------
    seller = browser.new_context(viewport=viewport).new_page()
    seller.goto(url)
    screen(seller, "sign-in")
    _sign_in(seller, url, "seller@browser.test")
    screen(seller, "seller-empty")
    seller.set_input_files("form[data-upload] input[type=file]", [str(p) for p in _photos(tmp_path / "photos")])
    seller.click("form[data-upload] button[type=submit]")
    seller.wait_for_selector("ul.upload-list li.done >> nth=1", timeout=TIMEOUT_MS)
    assert seller.locator("ul.upload-list progress").count() == 2
    _flash(seller, "2 of 2 photos uploaded")
    # Live status: the table fills in and leaves "received" without a reload.
    seller.wait_for_function(
        """() => {
            const rows = [...document.querySelectorAll('tr[data-product]')];
            return rows.length === 2 && rows.every(r => ['auto_accepted', 'needs_review'].includes(r.dataset.status));
        }""",
        timeout=TIMEOUT_MS,
    )
    seller.wait_for_function(
        "() => [...document.querySelectorAll('tr[data-product] img.thumb')].every(i => i.complete && i.naturalWidth)",
        timeout=TIMEOUT_MS,
    )
    screen(seller, "seller-uploaded")
    trousers_id, trousers = _product_by_file("trousers.jpg")
    dress_id, _ = _product_by_file("dress.jpg")
    assert trousers["seller_id"] == "browser-seller"
    assert trousers["image"]["name"].startswith("uploads/browser-seller/trousers-")
    assert trousers["image"]["content_type"] == "image/jpeg"
    predicted = dict((trousers.get("spec") or {}).get("attributes") or {})
    new_fit = next(v for v in ("slim", "skinny", "regular") if v != predicted.get("fit"))  # a real correction

    # --- the manager reviews --------------------------------------------------------------
    manager = browser.new_context(viewport=viewport).new_page()
    _sign_in(manager, url, "manager@browser.test")
    manager.wait_for_selector(f"tr[data-product='{trousers_id}']", timeout=TIMEOUT_MS)
    manager.wait_for_selector(f"tr[data-product='{dress_id}']", timeout=TIMEOUT_MS)
    rows = manager.locator("tr[data-product]").evaluate_all("rows => rows.map(r => r.dataset.product)")
    assert rows.index(dress_id) < rows.index(trousers_id)  # lowest confidence first
    screen(manager, "manager-queue")

    manager.click(f"tr[data-product='{trousers_id}'] a[href='#/products/{trousers_id}']")
    manager.wait_for_selector("form.spec-form", timeout=TIMEOUT_MS)
    manager.select_option("form.spec-form select[name=category]", "trouser")
    manager.select_option("fieldset[data-category=trouser] select[name='attributes.fit']", new_fit)
    manager.click("form.spec-form button[type=submit]")
    _flash(manager, "Correction saved")
    # Each action re-renders the view after its flash: wait for the new view before the next one,
    # or a click or a typed text can land in the page being replaced.
    manager.wait_for_selector("table.history tbody tr >> nth=0", timeout=TIMEOUT_MS)
    manager.click("form[data-api$='/verify'] button")
    _flash(manager, "Verified")
    manager.wait_for_selector("h1 .status-verified", timeout=TIMEOUT_MS)
    manager.click("form[data-api$='/publish'] button")
    _flash(manager, "Published")
    manager.wait_for_selector("h1 .status-published", timeout=TIMEOUT_MS)
    notify = manager.locator("form[data-api='/api/notifications']")
    notify.locator("input[name=title]").fill("Your trousers are live")
    notify.locator("textarea[name=body]").fill(f"Fit corrected to {new_fit} and published.")
    notify.locator("button[type=submit]").click()
    _flash(manager, "Notification sent")
    manager.wait_for_selector("table.history tbody tr >> nth=2", timeout=TIMEOUT_MS)
    screen(manager, "manager-review")

    doc = (clients.firestore_client().collection(contract.PRODUCTS).document(trousers_id).get().to_dict()) or {}
    assert doc["status"] == contract.PUBLISHED
    # Only the fit changed: the other attributes (predicted, when a model predicts them) stay.
    assert doc["spec"]["attributes"] == {**predicted, "fit": new_fit} and doc["spec"]["source"] == "manager"
    assert doc["review"]["action"] == "publish"
    assert [(e["action"], e["by"]) for e in _history(trousers_id)] == [
        ("edit", "browser-manager"),
        ("verify", "browser-manager"),
        ("publish", "browser-manager"),
    ]

    # --- the seller reads the notification ------------------------------------------------
    seller.click("#nav a[href='#/notifications']")
    seller.wait_for_selector("ul.notifications li:has-text('Your trousers are live')", timeout=TIMEOUT_MS)
    screen(seller, "seller-notifications")

    # --- a buyer finds it by filter and sends feedback ------------------------------------
    buyer = browser.new_context(viewport=viewport).new_page()
    _sign_in(buyer, url, "buyer@browser.test")
    buyer.wait_for_selector("form[data-view=catalogue]", timeout=TIMEOUT_MS)
    buyer.select_option("form[data-view=catalogue] select[name=category]", "trouser")
    buyer.select_option("form[data-view=catalogue] select[name=attribute]", f"fit={new_fit}")
    buyer.click("form[data-view=catalogue] button[type=submit]")
    buyer.wait_for_selector(f"ul.grid a[href='#/products/{trousers_id}']", timeout=TIMEOUT_MS)
    assert buyer.locator("ul.grid li.item").count() == 1
    screen(buyer, "buyer-catalogue")
    buyer.click(f"ul.grid a[href='#/products/{trousers_id}']")
    buyer.wait_for_selector(f"table.spec td:has-text('{new_fit}')", timeout=TIMEOUT_MS)
    buyer.fill("form[data-api='/api/messages'] textarea[name=text]", INJECTION)
    buyer.click("form[data-api='/api/messages'] button[type=submit]")
    _flash(buyer, "Thank you")
    screen(buyer, "buyer-product")

    # --- the manager reads the feedback: the script is text, nothing ran -------------------
    manager.click("#nav a[href='#/messages']")
    manager.wait_for_selector("td.text:has-text('window.__pwned')", timeout=TIMEOUT_MS)
    assert manager.locator("td.text", has_text="onerror").first.inner_text() == INJECTION
    assert manager.evaluate("() => window.__pwned") is None
    assert manager.locator("#view img[src='x'], #view script").count() == 0
    screen(manager, "manager-messages")
    manager.click("#nav a[href='#/activity']")
    manager.wait_for_selector("table.activity td:has-text('publish')", timeout=TIMEOUT_MS)
    screen(manager, "manager-activity")
    manager.click("#nav a[href='#/models']")
    manager.wait_for_selector("button:has-text('Start retraining')", timeout=TIMEOUT_MS)
    screen(manager, "manager-models")
    message = next(iter(clients.firestore_client().collection("messages").stream())).to_dict() or {}
    assert message["from_role"] == "buyer" and message["product_id"] == trousers_id
    assert message["text"] == INJECTION


def test_no_role_link_shows_or_takes_focus_before_sign_in(stack: StackConfig, browser: Any) -> None:
    page = browser.new_page()
    page.goto(stack.url("admin") + "/")
    page.wait_for_selector("#sign-in-form", state="visible")
    shown = page.locator("#nav a").evaluate_all("links => links.filter(a => a.getClientRects().length > 0).length")
    assert shown == 0
    focused = set()
    for _ in range(12):  # every element a keyboard user reaches before signing in
        page.keyboard.press("Tab")
        focused.add(page.evaluate("() => document.activeElement && document.activeElement.closest('#nav') !== null"))
    assert focused == {False}


def test_a_picture_that_cannot_be_shown_is_a_labelled_frame(stack: StackConfig, browser: Any) -> None:
    from tests.functions.test_admin import make_product

    identity.add_user("frames@browser.test", "seller", PASSWORD, None, "frames-seller")
    make_product("frame-gone", "frames-seller")
    make_product("frame-bad", "frames-seller")
    bucket = clients.storage_client().bucket(config.upload_bucket())
    bucket.blob("derived/frame-gone/thumbnail.jpg").delete()
    bucket.blob("derived/frame-bad/thumbnail.jpg").upload_from_string(b"\xff\xd8\xff", content_type="image/jpeg")
    page = browser.new_page()
    sign_in_page(page, stack.url("admin") + "/", "frames@browser.test", PASSWORD, TIMEOUT_MS)
    page.goto(stack.url("admin") + "/#/seller")
    page.wait_for_function("() => document.querySelectorAll('span.thumb.none').length === 2", timeout=TIMEOUT_MS)
    assert page.locator("img.thumb").count() == 0
    assert page.locator("span.thumb.none").first.get_attribute("aria-label") == "photo: no picture"


PHONE = {"width": 390, "height": 844}
PHONE_VIEWS = {
    "manager": ("queue", "messages", "models", "activity", "catalogue"),
    "seller": ("seller",),
    "buyer": ("catalogue",),
}


def test_every_role_can_use_the_page_on_a_phone(
    stack: StackConfig, browser: Any, tmp_path: Path, shots: list[Path]
) -> None:
    """At 390 px nothing runs off the side: the page is no wider than the screen, and the links
    and "Sign out" are on it. A screenshot of each view goes to docs/screenshots/ (phone-*)."""
    from tests.functions.test_admin import make_product

    for n in range(3):
        make_product(f"phone-{n}", "phone-seller", conf=0.4 + n / 10)
    make_product("phone-pub", "phone-seller", status=contract.PUBLISHED, conf=0.97)
    screen = Screens(tmp_path / "phone", shots)
    for role, views in PHONE_VIEWS.items():
        email = f"{role}@phone.test"
        identity.add_user(email, role, PASSWORD, None, "phone-seller" if role == "seller" else None)
        page = browser.new_page(viewport=PHONE)
        _sign_in(page, stack.url("admin") + "/", email)
        for view in views:
            page.goto(f"{stack.url('admin')}/#/{view}")
            page.wait_for_function("() => document.querySelector('#view').children.length > 0", timeout=TIMEOUT_MS)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{role} {view}: the page is {width} px wide"
            for link in page.locator("#nav a:visible, #who button").all():
                box = link.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (role, view, box)
            screen(page, f"phone-{role}-{view}")
        page.close()


def test_a_manager_replies_to_a_message_from_the_list(stack: StackConfig, browser: Any) -> None:
    identity.add_user("replies@browser.test", "manager", PASSWORD, None, "replies-manager")
    identity.add_user("asks@browser.test", "seller", PASSWORD, "Asking Seller", "asks-seller")
    clients.firestore_client().collection(contract.MESSAGES).document("m-ask").set(
        {
            "from": "asks-seller",
            "from_name": "Asking Seller",
            "from_role": "seller",
            "to": "role:manager",
            "product_id": "p-asked",
            "text": "Is my dress a dress?",
            "created_at": firestore.SERVER_TIMESTAMP,
        }
    )
    page = browser.new_page()
    _sign_in(page, stack.url("admin") + "/", "replies@browser.test")
    page.goto(stack.url("admin") + "/#/messages")
    page.click("tr[data-message='m-ask'] button[data-reply-to]")
    form = page.locator("form[data-write]")
    assert form.locator("select[name=to]").input_value() == "asks-seller"
    assert form.locator("input[name=product_id]").input_value() == "p-asked"
    assert page.evaluate("() => document.activeElement.name") == "text"
