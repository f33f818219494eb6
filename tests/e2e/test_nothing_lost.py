"""Nothing lost (issue 9), on the real local stack: processes killed and frozen mid-burst,
same-named uploads, deliveries that never came, dead letters.

Each test checks the three promises: every upload ends in a terminal state, with exactly one
product, and no good photo is rejected.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.api_core import exceptions as gexc

from fashiontag import clients, config, contract, dead_letters, products, reconciler, topology
from fashiontag.local import stack as local_stack
from fashiontag.local.stack import StackConfig
from fashiontag.tools import uploads
from tests import corpus
from tests.helpers import wait_finished, wait_until

BRIDGE_SUB = next(s for s in topology.LOCAL_SUBSCRIPTIONS if s.target == "storage_bridge")


def _photo(seed: int) -> bytes:
    return corpus.jpeg(corpus.garment_photo(seed), seed=seed)


def _burst(seller: str, count: int, per_second: float, at: dict[int, threading.Event]) -> list[tuple[str, str]]:
    """Upload ``count`` garment photos at a steady rate; sets ``at[i]`` once i are uploaded."""
    bucket = clients.storage_client().bucket(config.upload_bucket())
    done: list[tuple[str, str]] = []
    for i in range(count):
        started = time.monotonic()
        blob = bucket.blob(contract.unique_upload_name(seller, f"IMG_{i:04d}.jpg"))
        blob.upload_from_string(_photo(i), content_type="image/jpeg", if_generation_match=0)
        done.append((blob.name, str(blob.generation)))
        if i + 1 in at:
            at[i + 1].set()
        time.sleep(max(0.0, 1 / per_second - (time.monotonic() - started)))
    return done


def _all_finished(uploaded: list[tuple[str, str]], timeout_s: float) -> list[dict[str, object]]:
    """Every upload's product once all are finished; fails naming the unfinished ones."""
    ids = [contract.product_id(config.upload_bucket(), name, gen) for name, gen in uploaded]

    def finished() -> list[dict[str, object]] | None:
        docs = [products.get(pid) for pid in ids]
        return docs if all(d and products.is_finished(d) for d in docs) else None  # type: ignore[return-value]

    def unfinished() -> str:
        waiting = [pid for pid in ids if not products.is_finished(products.get(pid) or {})]
        return f"{len(waiting)} of {len(ids)} uploads have no finished product, e.g. {waiting[:3]}"

    return wait_until(finished, timeout_s, unfinished, interval_s=0.5)


def _assert_one_good_product_each(uploaded: list[tuple[str, str]], docs: list[dict[str, object]]) -> None:
    names = {name for name, _ in uploaded}
    stored = [
        snap.to_dict() or {}
        for snap in clients.firestore_client().collection(contract.PRODUCTS).stream()
        if ((snap.to_dict() or {}).get("image") or {}).get("name") in names
    ]
    assert len(stored) == len(uploaded)  # one product per upload, no duplicate
    assert [d["status"] for d in docs if d["status"] == contract.REJECTED] == []  # no good photo rejected


def _program_pid(cfg: StackConfig, name: str) -> int | None:
    pid = local_stack.status(cfg)[name]["pid"]
    return int(pid) if isinstance(pid, int) else None


def test_a_function_killed_mid_burst_is_restarted_and_loses_nothing(stack: StackConfig, seller: str) -> None:
    killed_at = {10: threading.Event()}
    uploaded: list[tuple[str, str]] = []
    burst = threading.Thread(target=lambda: uploaded.extend(_burst(seller, 30, 10.0, killed_at)))
    burst.start()
    assert killed_at[10].wait(30)
    before = _program_pid(stack, "on_upload")
    assert before is not None
    os.killpg(before, signal.SIGKILL)  # the instance dies with everything it runs
    burst.join(60)

    def restarted() -> int | None:
        pid = _program_pid(stack, "on_upload")
        return pid if pid not in (None, before) and local_stack.status(stack)["on_upload"]["answering"] else None

    wait_until(restarted, 60, lambda: "on_upload was not started again")
    assert any("on_upload" in line for line in local_stack.restarts(stack))  # and the restart is logged
    _assert_one_good_product_each(uploaded, _all_finished(uploaded, 120))


def test_a_frozen_firestore_emulator_loses_nothing(stack: StackConfig, seller: str) -> None:
    frozen_at = {5: threading.Event()}
    uploaded: list[tuple[str, str]] = []
    burst = threading.Thread(target=lambda: uploaded.extend(_burst(seller, 15, 5.0, frozen_at)))
    burst.start()
    firestore_pid = _program_pid(stack, "firestore")
    assert firestore_pid is not None and frozen_at[5].wait(30)
    os.kill(firestore_pid, signal.SIGSTOP)
    try:
        time.sleep(4)
    finally:
        os.kill(firestore_pid, signal.SIGCONT)
    burst.join(60)
    _assert_one_good_product_each(uploaded, _all_finished(uploaded, 120))


def test_a_same_named_reupload_makes_a_second_product_and_keeps_the_first_photo(
    stack: StackConfig, seller: str, tmp_path: Path
) -> None:
    first, second = _photo(1), _photo(2)
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(first)
    [one] = uploads.upload_files([photo], seller, progress=False)
    photo.write_bytes(second)
    [two] = uploads.upload_files([photo], seller, progress=False)
    assert one.name != two.name and one.name.startswith(f"uploads/{seller}/IMG_0001-")
    first_doc, second_doc = wait_finished(one.product_id, 30), wait_finished(two.product_id, 30)
    assert first_doc["status"] != contract.REJECTED and second_doc["status"] != contract.REJECTED
    bucket = clients.storage_client().bucket(config.upload_bucket())
    # Nothing of ours can replace an upload: creating an existing name is refused.
    with pytest.raises(gexc.PreconditionFailed):
        bucket.blob(one.name).upload_from_string(second, content_type="image/jpeg", if_generation_match=0)
    # A client that overwrites anyway makes a new generation; the first stays readable (versioning).
    bucket.blob(one.name).upload_from_string(second, content_type="image/jpeg")
    image = first_doc["image"]
    kept = bucket.blob(image["name"], generation=int(image["generation"])).download_as_bytes()
    assert kept == first


@pytest.fixture
def held_deliveries(stack: StackConfig) -> Iterator[None]:
    """No upload reaches on_upload by itself: as if every delivery had been lost."""
    with local_stack.paused(stack, BRIDGE_SUB.name):
        yield


def test_the_reconciler_drives_what_no_delivery_brought_once_however_many_run(
    stack: StackConfig, seller: str, held_deliveries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASHIONTAG_RECONCILE_GRACE_SECONDS", "0")
    uploaded = _burst(seller, 6, 50.0, {})
    # A product whose delivery died holding the lease: still received, the lease long expired.
    name, generation = uploaded[0]
    stuck = contract.product_id(config.upload_bucket(), name, generation)
    image = {"bucket": config.upload_bucket(), "name": name, "generation": generation}
    products.claim(stuck, {"seller_id": seller, "image": image}, "dead-delivery")
    products.product_ref(stuck).update({"lease.until": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)})

    reports: list[reconciler.Report] = []
    runs = [threading.Thread(target=lambda: reports.append(reconciler.reconcile())) for _ in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(120)
    again = reconciler.reconcile()  # a later run finds nothing left to do
    docs = [products.get(contract.product_id(config.upload_bucket(), n, g)) or {} for n, g in uploaded]
    assert all(products.is_finished(d) for d in docs)
    _assert_one_good_product_each(uploaded, docs)
    processed = sum(r.redriven.get(s, 0) for r in reports for s in (contract.NEEDS_REVIEW, contract.AUTO_ACCEPTED))
    assert processed == len(uploaded)  # each upload classified by exactly one run
    assert again.finished == len(uploaded) and not again.redriven


def _dead_letter(stack: StackConfig, topic: str, data: bytes, attributes: dict[str, str]) -> None:
    url = f"{stack.url('pubsub')}/v1/projects/{stack.project}/topics/{topology.dead_letter(topic)}:publish"
    message = {"data": base64.b64encode(data).decode(), "attributes": attributes}
    requests.post(url, json={"messages": [message]}, timeout=10).raise_for_status()


def test_dead_letters_are_counted_listed_and_replayed(
    stack: StackConfig, seller: str, held_deliveries: None, repo_root: Path
) -> None:
    # An upload whose every delivery failed, as the delivery process dead-letters it ...
    [(name, generation)] = _burst(seller, 1, 50.0, {})
    blob = clients.storage_client().bucket(config.upload_bucket()).get_blob(name)
    assert blob is not None
    notification = {
        "bucket": blob.bucket.name,
        "name": name,
        "generation": generation,
        "size": str(blob.size),
        "contentType": "image/jpeg",
    }
    _dead_letter(
        stack,
        topology.UPLOAD_NOTIFICATIONS,
        json.dumps(notification).encode(),
        {"eventType": "OBJECT_FINALIZE", "objectId": name},
    )
    # ... and an event notify never took.
    event = {"type": contract.MESSAGE_SENT, "event_id": "dl-test", "to": seller}
    _dead_letter(
        stack,
        contract.TOPIC_MESSAGE_EVENTS,
        json.dumps(event).encode(),
        {"type": contract.MESSAGE_SENT, "event_id": "dl-test"},
    )

    assert dead_letters.collect() == 2
    assert dead_letters.collect() == 0 and dead_letters.waiting_count() == 2
    env = {**os.environ, "FASHIONTAG_STATE_DIR": str(stack.state_dir)}
    cli = [str(repo_root / ".venv" / "bin" / "fashiontag"), "dead-letters"]
    listed = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert "2 waiting" in listed.stdout and "message-events" in listed.stdout
    replayed = subprocess.run([*cli, "replay"], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "republished" in replayed.stdout
    assert dead_letters.waiting_count() == 0
    product = products.get(contract.product_id(config.upload_bucket(), name, generation)) or {}
    assert products.is_finished(product) and product["status"] != contract.REJECTED
