"""Retraining on the stack: requests recorded once, a worse candidate never promoted, a better
one promoted and served without a redeploy, rollback and delete through the registry."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from functions_framework import create_app

from fashiontag import clients, config, contract, products, registry, retraining, synthetic
from fashiontag.inference import shipped_attribute_dir
from fashiontag.local import stack as local_stack
from fashiontag.local.stack import StackConfig
from fashiontag.training import data
from tests import corpus, events
from tests.helpers import EventTap, upload, wait_finished, wait_until

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "retrain" / "main.py"
MODEL = config.CATEGORY_MODEL_NAME


@pytest.fixture
def model_events(stack: StackConfig) -> Iterator[EventTap]:
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_MODEL_EVENTS)
    yield tap
    tap.close()


def _push(body: dict[str, Any] | bytes, message_id: str) -> dict[str, Any]:
    topic = contract.TOPIC_RETRAIN_REQUESTS
    return events.request(events.pubsub_message(body, topic, f"{topic}-retrain", message_id=message_id))


def _wait_run(request_id: str, timeout_s: float = 300) -> dict[str, Any]:
    run = retraining.wait_for_run(request_id, timeout_s)
    assert run is not None, f"retrain run {request_id} not finished: {retraining.get_run(request_id)}"
    return run


def test_a_request_delivered_twice_is_one_run(stack: StackConfig) -> None:
    client = create_app("retrain", str(SOURCE), "cloudevent").test_client()
    body = {"type": "retrain.requested", "request_id": "twice", "model": MODEL, "min_new_labels": 10**6}
    assert client.post("/", **_push(body, "m1")).status_code == 200
    assert client.post("/", **_push(body, "m2")).status_code == 200
    run = retraining.get_run("twice")
    assert run is not None and run["status"] == retraining.SKIPPED
    assert "new labels" in run["reason"]


def test_invalid_requests_are_recorded_and_acknowledged(stack: StackConfig) -> None:
    client = create_app("retrain", str(SOURCE), "cloudevent").test_client()
    assert client.post("/", **_push({"request_id": "bad", "model": "nope"}, "m3")).status_code == 200
    assert "no trainer" in (retraining.get_run("bad") or {})["error"]
    assert client.post("/", **_push(b"not json", "m4")).status_code == 200


@pytest.mark.training
@pytest.mark.timeout(900)  # two training jobs, each rendering its photos first
def test_worse_is_refused_better_is_promoted_and_served(
    stack: StackConfig, seller: str, model_events: EventTap
) -> None:
    # 1. A deliberately poor candidate (300 garments, one epoch) against the shipped baseline.
    weak = retraining.request(MODEL, "test", "test", epochs=1, bootstrap_limit=300)
    run = _wait_run(weak, timeout_s=600)
    assert run["status"] == retraining.DONE, run
    assert run["outcome"] == "rejected"
    weak_version = run["version"]
    assert registry.active_version(MODEL) == config.category_model_version()
    assert registry.get_version(MODEL, weak_version)["status"] == registry.REJECTED  # type: ignore[index]
    with pytest.raises(registry.RegistryError):
        registry.promote(MODEL, weak_version, "test")  # the gate's verdict needs a reason to override

    # 2. A manager forces it live anyway; a better candidate must then win through the gate.
    registry.promote(MODEL, weak_version, "test", reason="test: start from a weak model")
    better = retraining.request(MODEL, "test", "test", epochs=3, bootstrap_limit=1500)
    run = _wait_run(better, timeout_s=600)
    assert run["status"] == retraining.DONE and run["outcome"] == "promoted", run.get("result")
    better_version = run["version"]
    assert registry.active_version(MODEL) == better_version
    assert run["result"]["candidate_accuracy"] > run["result"]["active_accuracy"]
    types = [e["data"]["type"] for e in model_events.drain()]
    assert types.count("model.trained") == 2 and "model.rejected" in types and "model.promoted" in types

    # 3. on_upload serves the promoted version without a redeploy (refresh every 5 s locally).
    buf = io.BytesIO()
    corpus.garment_photo(5).save(buf, "JPEG")
    served: list[str] = []

    def serves_better() -> bool:
        _, product_id = upload(f"uploads/{seller}/after-{len(served)}.jpg", buf.getvalue())
        served.append(wait_finished(product_id)["prediction"]["model"]["version"])
        return served[-1] == better_version

    wait_until(serves_better, 30, lambda: f"on_upload served {served}, never {better_version}", interval_s=1)

    # 4. Rollback and delete.
    assert registry.rollback(MODEL, "test")["version"] == weak_version
    with pytest.raises(registry.RegistryError, match="active version"):
        registry.delete(MODEL, weak_version)
    registry.delete(MODEL, better_version)
    assert registry.get_version(MODEL, better_version) is None


@pytest.fixture
def paused_retrain_requests(stack: StackConfig) -> Iterator[None]:
    """Hold the stack's own retrain subscription, so a test's request starts no training job."""
    with local_stack.paused(stack, "retrain-requests-retrain"):
        yield


def test_enough_new_labels_request_a_retraining(
    stack: StackConfig, paused_retrain_requests: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASHIONTAG_AUTO_RETRAIN_LABELS", "3")
    tap = EventTap(stack.url("pubsub"), stack.project, contract.TOPIC_RETRAIN_REQUESTS)
    client = create_app("retrain", str(SOURCE), "cloudevent").test_client()
    collection = clients.firestore_client().collection(contract.PRODUCTS)
    reviewed = {"type": "product.reviewed", "product_id": "p0", "status": contract.VERIFIED}
    try:
        for n in range(2):
            collection.document(f"p{n}").set({"status": contract.VERIFIED, "spec": {"category": "bag"}})
        assert client.post("/", **_push(reviewed, "r1")).status_code == 200
        assert tap.drain(settle_s=0.5) == []  # two labels: not yet
        collection.document("p2").set({"status": contract.PUBLISHED, "spec": {"category": "bag"}})
        assert client.post("/", **_push(reviewed, "r2")).status_code == 200
        assert client.post("/", **_push({**reviewed, "type": "product.classified"}, "r3")).status_code == 200
        requests_seen = tap.drain()
    finally:
        tap.close()
    assert [m["data"]["request_id"] for m in requests_seen] == ["auto-category-shipped-1"]
    assert requests_seen[0]["data"]["min_new_labels"] == 3
    # Bags label the category model only; the trouser attribute model counts trousers.
    assert retraining.labels_since_active(retraining.TROUSER_ATTRIBUTES) == 0


@pytest.mark.training
def test_a_run_that_cannot_train_says_why(stack: StackConfig) -> None:
    # No synthetic renders and no verified trousers: no family has enough labels for a head.
    request_id = retraining.request(retraining.TROUSER_ATTRIBUTES, "test", "test", synthetic=0, eval_renders=50)
    run = _wait_run(request_id)
    assert run["status"] == retraining.FAILED
    assert "no family of trouser has 200 labels" in run["error"]
    assert registry.get_version(retraining.TROUSER_ATTRIBUTES, run["version"]) is None


@pytest.mark.training
def test_attribute_retraining_learns_from_corrections_and_is_gated(
    stack: StackConfig, seller: str, model_events: EventTap
) -> None:
    name = retraining.TROUSER_ATTRIBUTES
    rng = np.random.default_rng(8)
    truth = synthetic.sample_labels(rng)
    _, product_id = upload(f"uploads/{seller}/jeans.jpg", corpus.jpeg(synthetic.render_trouser(truth, rng)))
    wait_finished(product_id)
    spec = {"category": "trouser", "attributes": {"fit": truth["fit"], "fade": truth["fade"]}, "source": "manager"}
    products.product_ref(product_id).update({"status": contract.VERIFIED, "spec": spec})
    assert retraining.labels_since_active(name) == 1

    # A deliberately poor candidate (300 renders, 2 epochs) against the shipped version.
    request_id = retraining.request(name, "test", "test", epochs=2, synthetic=300, eval_renders=60)
    run = _wait_run(request_id)
    assert run["status"] == retraining.DONE and run["outcome"] == "rejected", run
    shipped = (shipped_attribute_dir("trouser") or Path("none")).name
    assert run["result"]["active_version"] == shipped and registry.active_version(name) == shipped
    assert run["result"]["candidate_accuracy"] < run["result"]["active_accuracy"]
    assert any(r.startswith("family ") for r in run["result"]["reasons"])
    record = registry.get_version(name, run["version"]) or {}
    assert record["status"] == registry.REJECTED
    frozen = record["metrics"]["frozen_eval"]
    assert set(frozen["per_class_accuracy"]) == set(synthetic.TROUSER_FAMILIES)
    # The verified trouser was either trained on or held out for the comparison, and is now seen.
    held_out = data.in_attribute_eval(product_id)
    assert record["dataset"]["verified_products"] == 1
    assert record["dataset"]["verified_products_held_out"] == int(held_out)
    assert frozen["count"] == 60 + int(held_out)
    events = [e["data"] for e in model_events.drain() if e["data"].get("version") == run["version"]]
    assert [e["type"] for e in events] == ["model.trained", "model.rejected"]


def test_an_attribute_model_is_registered_promoted_and_listed(
    stack: StackConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    from fashiontag.tools import cli

    folder = Path(__file__).resolve().parents[2] / "models" / "attributes-trouser" / "v1"
    assert cli.main(["models", "register", "--dir", str(folder), "--model", "attributes-trouser"]) == 0
    assert cli.main(["models", "promote", "v1", "--model", "attributes-trouser", "--by", "test"]) == 0
    assert registry.active_version("attributes-trouser") == "v1"
    assert cli.main(["models", "list", "--model", "attributes-trouser"]) == 0
    listed = capsys.readouterr().out
    assert "* v1" in listed and "active" in listed
    record = registry.get_version("attributes-trouser", "v1") or {}
    assert record["metrics"]["families"]["fit"]["accuracy"] > 0.9
    with pytest.raises(SystemExit, match="active version"):
        cli.main(["models", "delete", "v1", "--model", "attributes-trouser"])
