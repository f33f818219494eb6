"""The page in Chromium keeps itself current and pages through long lists (the issue on the
admin page for people, items 3, 4 and 5): notifications and status changes appear without a
reload, an upload's progress survives a change of view, every list has a next page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.cloud import firestore

from fashiontag import clients, contract
from fashiontag.admin import identity
from fashiontag.local.stack import StackConfig
from tests import corpus
from tests.e2e.test_browser_review_loop import PASSWORD, TIMEOUT_MS, _sign_in
from tests.functions.test_admin import make_product


def _notify(nid: str, to: str, title: str) -> None:
    clients.firestore_client().collection(contract.NOTIFICATIONS).document(nid).set(
        {
            "to": to,
            "kind": "manager.notice",
            "title": title,
            "body": "b",
            "read": False,
            "created_at": firestore.SERVER_TIMESTAMP,
        }
    )


def test_notifications_and_status_changes_appear_without_a_reload(stack: StackConfig, browser: Any) -> None:
    identity.add_user("live-seller@browser.test", "seller", PASSWORD, None, "live-seller")
    identity.add_user("live-manager@browser.test", "manager", PASSWORD, None, "live-manager")
    make_product("live-a", "live-seller", conf=0.5)
    make_product("live-b", "live-seller", conf=0.6)

    seller = browser.new_page()
    _sign_in(seller, stack.url("admin") + "/", "live-seller@browser.test")
    seller.wait_for_selector("tr[data-product='live-a'][data-status='needs_review']", timeout=TIMEOUT_MS)
    assert seller.locator("#unread").is_hidden()
    manager = browser.new_page()
    _sign_in(manager, stack.url("admin") + "/", "live-manager@browser.test")
    manager.wait_for_selector("tr[data-product='live-a']", timeout=TIMEOUT_MS)
    banner = manager.locator("[data-live-banner]")
    assert banner.is_hidden()
    for page in (seller, manager):  # both live streams are open
        page.wait_for_selector("body[data-live=open]", timeout=TIMEOUT_MS)

    # A manager verifies one product (straight in Firestore: the page must notice by itself).
    products = clients.firestore_client().collection(contract.PRODUCTS)
    products.document("live-a").update({"status": contract.VERIFIED, "updated_at": firestore.SERVER_TIMESTAMP})
    _notify("live-n1", "live-seller", "Your coat is verified")
    seller.wait_for_selector("tr[data-product='live-a'][data-status='verified']", timeout=TIMEOUT_MS)
    seller.wait_for_selector("#unread:has-text('1 unread')", timeout=TIMEOUT_MS)
    seller.wait_for_selector("[data-live-notifications] :text('Your coat is verified')", timeout=TIMEOUT_MS)
    # The queue is not reshuffled under the manager's pointer: a banner offers the changes.
    banner.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert manager.locator("tr[data-product='live-a']").count() == 1
    manager.click("[data-live-banner] button[data-reload]")
    manager.wait_for_selector("tr[data-product='live-a']", state="detached", timeout=TIMEOUT_MS)

    # Marking all read brings the count down everywhere, again without a reload.
    seller.click("[data-live-notifications] form[data-api$='read-all'] button")
    seller.wait_for_selector("#unread", state="hidden", timeout=TIMEOUT_MS)


def test_long_lists_have_a_next_page_and_a_way_back(stack: StackConfig, browser: Any) -> None:
    identity.add_user("pages-manager@browser.test", "manager", PASSWORD, None, "pages-manager")
    for n, conf in enumerate((0.3, 0.4, 0.5)):
        make_product(f"pg-{n}", "pages-seller", conf=conf)
    page = browser.new_page()
    _sign_in(page, stack.url("admin") + "/", "pages-manager@browser.test")
    page.goto(stack.url("admin") + "/#/queue?limit=2")
    page.wait_for_selector("tr[data-product='pg-1']", timeout=TIMEOUT_MS)
    assert page.locator("tr[data-product='pg-2']").count() == 0
    page.click("a[data-next-page]")
    page.wait_for_selector("tr[data-product='pg-2']", timeout=TIMEOUT_MS)
    assert page.locator("tr[data-product='pg-0']").count() == 0
    assert page.locator("a[data-next-page]").count() == 0
    page.click("a[data-first-page]")
    page.wait_for_selector("tr[data-product='pg-0']", timeout=TIMEOUT_MS)


def test_an_upload_keeps_its_progress_when_the_seller_changes_view(
    stack: StackConfig, browser: Any, tmp_path: Path
) -> None:
    identity.add_user("slow-seller@browser.test", "seller", PASSWORD, None, "slow-seller")
    files = []
    for n, seed in enumerate((15, 19)):
        path = tmp_path / f"slow-{n}.png"
        corpus.garment_photo(seed).resize((700, 700)).save(path, "PNG")  # ~0.5 MB: seconds on a slow line
        files.append(str(path))
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, stack.url("admin") + "/", "slow-seller@browser.test")
    page.wait_for_selector("form[data-upload]", timeout=TIMEOUT_MS)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 150_000},
    )
    page.set_input_files("form[data-upload] input[type=file]", files)
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector("#upload-status:has-text('Uploading')", timeout=TIMEOUT_MS)
    page.goto(stack.url("admin") + "/#/notifications")
    page.wait_for_selector("#view ul.notifications", timeout=TIMEOUT_MS)
    assert page.locator("#upload-status").is_visible()  # still said on another view
    page.goto(stack.url("admin") + "/#/seller")
    page.wait_for_selector("form[data-upload]", timeout=TIMEOUT_MS)
    rows = page.locator("ul.upload-list li")
    assert rows.count() == 2  # the batch's rows came back with their progress bars
    assert page.locator("form[data-upload] button[type=submit]").is_disabled()
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.wait_for_selector("ul.upload-list li.done >> nth=1", timeout=TIMEOUT_MS)
    page.wait_for_selector("#upload-status", state="hidden", timeout=TIMEOUT_MS)
    assert page.locator("form[data-upload] button[type=submit]").is_enabled()
