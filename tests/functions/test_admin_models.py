"""The models page's changes and the model for the browser, through the admin function on the emulators.

Versions are registered with real files in the model bucket; the admin function never runs
them (it hands the file over), so their model.tflite need not be a working model, except
where a version is loaded from the page: the stack's classify function checks it with LiteRT.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from google.cloud import firestore

from fashiontag import clients, config, contract, registry
from fashiontag.classification import record
from fashiontag.local.stack import StackConfig
from tests.functions.test_admin import SOURCE, Person, _jpeg, add_person, make_product
from tests.helpers import wait_until

CATEGORY = config.CATEGORY_MODEL_NAME
PHOTO_INPUT = {"shape": [64, 64, 3], "dtype": "float32", "range": [0, 255]}


@pytest.fixture
def client(stack: StackConfig) -> FlaskClient:
    return create_app("admin", str(SOURCE), "http").test_client()


@pytest.fixture
def people(stack: StackConfig) -> dict[str, Person]:
    return {
        "manager": add_person("mia@models.test", "manager"),
        "seller": add_person("sam@models.test", "seller", "seller-sam"),
    }


def register(tmp_path: Path, version: str, status: str = registry.CANDIDATE, input_spec: Any = None) -> bytes:
    """A version with its files in the model bucket; returns its model.tflite bytes."""
    folder = tmp_path / version
    folder.mkdir()
    tflite = f"TFL3 not a real model {version}".encode()
    (folder / "model.tflite").write_bytes(tflite)
    meta = {
        "name": CATEGORY,
        "version": version,
        "labels": ["t_shirt_top", "trouser"],
        "input": input_spec or PHOTO_INPUT,
        "temperature": 1.5,
        "auto_accept_threshold": 0.93,
    }
    (folder / "model.json").write_text(json.dumps(meta))
    registry.register(CATEGORY, version, folder, {"test_accuracy": 0.9}, {}, status=status)
    return tflite


def get(client: FlaskClient, who: Person, path: str) -> Any:
    return client.get(path, headers=who.headers)


def post(client: FlaskClient, who: Person, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, json=body or {}, headers=who.headers)


def model_objects() -> list[str]:
    return sorted(b.name for b in clients.storage_client().list_blobs(config.model_bucket()))


# --- the model in the browser ----------------------------------------------------------------


def test_a_seller_gets_the_active_version_and_its_file_at_a_lasting_address(
    client: FlaskClient, people: dict[str, Person], tmp_path: Path
) -> None:
    seller, manager = people["seller"], people["manager"]
    # Nothing registered yet: the baseline bundled with the functions serves, so the browser gets it.
    bundled = json.loads((config.category_model_dir() / "model.json").read_text())
    info = get(client, seller, "/api/browser-model").get_json()
    assert info["version"] == bundled["version"] and info["model_url"].endswith("?generation=bundled")
    answer = get(client, seller, info["model_url"])
    assert answer.status_code == 200 and answer.data == (config.category_model_dir() / "model.tflite").read_bytes()
    register(tmp_path, "b0")
    active = register(tmp_path, "b1")
    registry.promote(CATEGORY, "b1", "test")

    info = get(client, seller, "/api/browser-model").get_json()
    assert info["version"] == "b1" and info["labels"] == ["t_shirt_top", "trouser"]
    assert info["temperature"] == 1.5 and info["input"]["shape"] == [64, 64, 3]
    assert info["runtime_url"].startswith("/assets/litert/")
    assert info["model_url"].startswith("/api/browser-model/b1/model.tflite?generation=")
    answer = get(client, seller, info["model_url"])
    assert answer.status_code == 200 and answer.data == active
    assert answer.headers["Cache-Control"] == "private, max-age=31536000, immutable"

    # Sellers have the active version only; managers may try any registered one.
    assert get(client, seller, "/api/browser-model?version=b0").status_code == 404
    other = get(client, manager, "/api/browser-model?version=b0").get_json()
    assert other["version"] == "b0"
    assert get(client, seller, other["model_url"]).status_code == 404
    assert get(client, manager, other["model_url"]).status_code == 200
    assert get(client, manager, "/api/browser-model/b1/model.tflite?generation=x").status_code == 404
    # Once a version is active, the bundled baseline is no longer handed out.
    gone = f"/api/browser-model/{bundled['version']}/model.tflite?generation=bundled"
    assert get(client, seller, gone).status_code == 404

    runtime = client.get(f"{info['runtime_url']}litert.js")
    assert runtime.status_code == 200 and b'from "./wasm-utils.js"' in runtime.data
    assert runtime.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    wasm = client.get(f"{info['runtime_url']}litert_wasm_internal.wasm")
    assert wasm.headers["Content-Type"] == "application/wasm"
    assert client.get("/assets/litert/0.0.1/litert.js").status_code == 404
    # The policy lets the page compile WebAssembly, and still runs no eval().
    csp = runtime.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp and "'unsafe-eval'" not in csp


def test_a_version_that_does_not_take_a_photo_is_not_offered_to_the_browser(
    client: FlaskClient, people: dict[str, Person], tmp_path: Path
) -> None:
    register(tmp_path, "g1", input_spec={"shape": [28, 28, 1], "dtype": "float32", "range": [0, 255]})
    registry.promote(CATEGORY, "g1", "test")
    answer = get(client, people["seller"], "/api/browser-model")
    assert answer.status_code == 404 and "cannot run in the browser" in answer.get_json()["error"]


# --- promote, roll back, delete ---------------------------------------------------------------


def test_managers_promote_roll_back_and_delete_from_the_page(
    client: FlaskClient, people: dict[str, Person], tmp_path: Path
) -> None:
    manager = people["manager"]
    register(tmp_path, "c1")
    register(tmp_path, "c2", status=registry.REJECTED)
    register(tmp_path, "c3")

    assert post(client, manager, f"/api/models/{CATEGORY}/promote", {"version": "c1"}).status_code == 200
    page = get(client, manager, "/views/models").get_data(as_text=True)
    assert 'placeholder="The gate rejected it: why promote anyway?"' in page  # c2's form needs a reason

    refused = post(client, manager, f"/api/models/{CATEGORY}/promote", {"version": "c2"})
    assert refused.status_code == 409 and "give a reason" in refused.get_json()["error"]
    assert registry.active_version(CATEGORY) == "c1"
    forced = post(client, manager, f"/api/models/{CATEGORY}/promote", {"version": "c2", "reason": "photos look right"})
    assert forced.get_json() == {"model": CATEGORY, "version": "c2", "previous_version": "c1"}
    record = registry.get_version(CATEGORY, "c2") or {}
    assert record["status"] == registry.ACTIVE and record["promoted_by"] == manager.email

    page = get(client, manager, "/views/models").get_data(as_text=True)
    assert "Roll back to c1" in page
    assert post(client, manager, f"/api/models/{CATEGORY}/rollback").get_json()["version"] == "c1"
    assert registry.active_version(CATEGORY) == "c1"

    before = model_objects()
    active = post(client, manager, f"/api/models/{CATEGORY}/versions/c1/delete")
    assert active.status_code == 409 and "active version" in active.get_json()["error"]
    assert model_objects() == before and registry.get_version(CATEGORY, "c1")
    assert post(client, manager, f"/api/models/{CATEGORY}/versions/c3/delete").status_code == 200
    assert registry.get_version(CATEGORY, "c3") is None
    assert [o for o in model_objects() if "/c3/" in o] == []
    assert post(client, manager, f"/api/models/{CATEGORY}/versions/c3/delete").status_code == 409
    too_long = post(client, manager, f"/api/models/{CATEGORY}/promote", {"version": "c3", "reason": "x" * 501})
    assert too_long.status_code == 400


def test_the_runs_table_shows_who_asked(client: FlaskClient, people: dict[str, Person]) -> None:
    manager = people["manager"]
    runs = clients.firestore_client().collection(contract.RETRAIN_RUNS)
    for run_id, asker in (("by-manager", manager.uid), ("by-schedule", "scheduler")):
        runs.document(run_id).set(
            {
                "request": {"model": CATEGORY, "requested_by": asker},
                "status": "done",
                "created_at": firestore.SERVER_TIMESTAMP,
            }
        )
    page = get(client, manager, "/views/models").get_data(as_text=True)
    assert f"<td>{manager.email}</td>" in page and "<td>scheduler</td>" in page


# --- load a new version ------------------------------------------------------------------------


def load(client: FlaskClient, who: Person, version: str, files: dict[str, bytes]) -> Any:
    form: dict[str, Any] = {"version": version}
    form.update({name: (io.BytesIO(data), name) for name, data in files.items()})
    return client.post(
        f"/api/models/{CATEGORY}/versions", data=form, headers=who.headers, content_type="multipart/form-data"
    )


def shipped_files(version: str, **meta_changes: Any) -> dict[str, bytes]:
    """The shipped version's files under another version name (model.json changed as asked)."""
    folder = config.category_model_dir()
    meta = json.loads((folder / "model.json").read_text()) | {"version": version} | meta_changes
    return {"model.tflite": (folder / "model.tflite").read_bytes(), "model.json": json.dumps(meta).encode()}


def checked(upload_id: str) -> dict[str, Any]:
    ref = clients.firestore_client().collection(contract.MODEL_UPLOADS).document(upload_id)

    def done() -> dict[str, Any] | None:
        doc = ref.get().to_dict() or {}
        return doc if doc.get("status") != contract.UPLOAD_CHECKING else None

    return wait_until(done, 60, lambda: f"upload {upload_id} still {ref.get().to_dict()}")


def test_a_loaded_version_is_checked_by_classify_then_registered(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    manager = people["manager"]
    shipped = json.loads((config.category_model_dir() / "model.json").read_text())
    if shipped["input"]["shape"][-1] != 3:
        pytest.skip("the shipped category version takes no whole photo (v1): nothing loadable to send")
    files = shipped_files("up1") | {"model_card.md": b"# up1\nLoaded from the page."}
    answer = load(client, manager, "up1", files)
    assert answer.status_code == 202, answer.get_json()
    upload = checked(answer.get_json()["upload_id"])
    assert upload["status"] == contract.UPLOAD_REGISTERED and upload["by"] == manager.email
    record = registry.get_version(CATEGORY, "up1") or {}
    assert record["status"] == registry.CANDIDATE and registry.active_version(CATEGORY) is None
    assert sorted(record["artifacts"]["files"]) == ["model.json", "model.tflite", "model_card.md"]
    assert not [o for o in model_objects() if o.startswith(contract.STAGING_PREFIX)]
    page = get(client, manager, "/views/models").get_data(as_text=True)
    assert "status-registered" in page
    assert load(client, manager, "up1", files).status_code == 409  # registered already


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"model.tflite": b"TFL3" + bytes(range(256)) * 40}, "LiteRT"),  # not a flatbuffer LiteRT can open
        ({"labels": ["trouser", "dress"]}, "labels"),
        ({"input": {"shape": [28, 28, 1]}}, "whole photo"),
        ({"temperature": -1}, "temperature"),
    ],
)
def test_a_broken_version_is_refused_and_nothing_changes(
    client: FlaskClient, people: dict[str, Person], files: dict[str, Any], why: str
) -> None:
    manager = people["manager"]
    # A photo input and the taxonomy's labels unless the case breaks them: one fault at a time.
    sent = shipped_files("bad1", **({"input": PHOTO_INPUT} | {k: v for k, v in files.items() if k != "model.tflite"}))
    sent |= {k: v for k, v in files.items() if k == "model.tflite"}
    before = model_objects()
    answer = load(client, manager, "bad1", sent)
    assert answer.status_code == 202, answer.get_json()
    upload = checked(answer.get_json()["upload_id"])
    assert upload["status"] == contract.UPLOAD_REFUSED and why in upload["error"]
    assert registry.list_versions(CATEGORY) == [] and model_objects() == before


def test_what_the_admin_can_read_itself_is_refused_at_once(client: FlaskClient, people: dict[str, Person]) -> None:
    manager = people["manager"]
    good = shipped_files("v9")
    cases = [
        ("v9", {"model.json": good["model.json"]}, "Choose model.tflite"),
        ("v9", good | {"model.json": b"{not json"}, "not a JSON document"),
        ("v8", good, '"version": "v8"'),
        ("../x", good, "letters, digits"),
        ("v9", good | {"model.tflite": b"0" * 20_000_001}, "too large"),
    ]
    for version, files, message in cases:
        answer = load(client, manager, version, files)
        body = answer.get_json()
        said = " ".join([body["error"], *body.get("problems", [])])
        assert answer.status_code == 400 and message in said, (version, body)
    attribute = client.post("/api/models/attributes-trouser/versions", data={"version": "v9"}, headers=manager.headers)
    assert attribute.status_code == 400
    assert model_objects() == [] and list(clients.firestore_client().collection(contract.MODEL_UPLOADS).stream()) == []


# --- try a model -------------------------------------------------------------------------------


def try_model(client: FlaskClient, who: Person, version: str, photo: bytes | None = None, product_id: str = "") -> Any:
    form: dict[str, Any] = {"version": version, "product_id": product_id}
    if photo is not None:
        form["image"] = (io.BytesIO(photo), "photo.jpg", "image/jpeg")
    return client.post(
        f"/api/models/{CATEGORY}/try", data=form, headers=who.headers, content_type="multipart/form-data"
    )


def product_ids() -> list[str]:
    return sorted(d.id for d in clients.firestore_client().collection(contract.PRODUCTS).stream())


def test_a_manager_tries_a_version_on_a_photo_or_a_product_through_the_classify_function(
    client: FlaskClient, people: dict[str, Person]
) -> None:
    manager = people["manager"]
    photo = _jpeg()
    make_product("try1", "seller-sam")  # its photo is the same JPEG
    before = model_objects(), product_ids()
    expected = record(photo)  # what this code says in-process, with the bundled baseline

    answer = try_model(client, manager, "", photo)
    assert answer.status_code == 200, answer.get_json()
    server = answer.get_json()["server"]
    assert server["status"] == "ok" and server["model"] == expected["model"]
    assert server["category"] == expected["category"] and server["colours"] == expected["colours"]
    assert server["attributes"] == expected["attributes"]
    by_product = try_model(client, manager, "", product_id="try1").get_json()["server"]
    assert by_product["category"] == expected["category"]

    unusable = try_model(client, manager, "", b"not a photo at all").get_json()["server"]
    assert unusable["status"] == "rejected" and unusable["rejection"]["message"]
    unknown = try_model(client, manager, "v999", photo)
    assert unknown.status_code == 404 and "v999" in unknown.get_json()["error"]
    assert try_model(client, manager, "", photo, product_id="try1").status_code == 400
    assert try_model(client, manager, "").status_code == 400
    assert try_model(client, manager, "", product_id="no-such-product").status_code == 404
    assert try_model(client, people["seller"], "", photo).status_code == 403
    # Trying changes nothing.
    assert (model_objects(), product_ids()) == before
