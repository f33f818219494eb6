"""The classify HTTP function through functions-framework's test client."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from fashiontag import config
from fashiontag.local.stack import StackConfig
from tests import corpus
from tests.helpers import upload, wait_finished

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "classify" / "main.py"


@pytest.fixture
def client(stack: StackConfig) -> FlaskClient:
    return create_app("classify", str(SOURCE), "http").test_client()


def _jpeg() -> bytes:
    return corpus.jpeg(corpus.garment_photo(3))


def test_image_body_is_classified(client: FlaskClient) -> None:
    response = client.post("/", data=_jpeg(), content_type="image/jpeg")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert len(body["category"]["top"]) == 3
    assert body["model"] == {"name": "category", "version": config.category_model_version()}


def test_bad_image_is_a_422_with_the_rejection(client: FlaskClient) -> None:
    response = client.post("/", data=b"%PDF-1.4 not a photo", content_type="image/jpeg")
    assert response.status_code == 422
    assert response.get_json()["rejection"]["code"] == "unsupported_format"


def test_malformed_requests(client: FlaskClient) -> None:
    assert client.get("/").status_code == 405
    assert client.post("/", json={"uri": 3}).status_code == 400
    assert client.post("/", json={"uri": "http://x/y"}).status_code == 400


def test_gs_uri_is_read_from_storage(stack: StackConfig, seller: str, client: FlaskClient) -> None:
    name = f"uploads/{seller}/by-uri.jpg"
    _, product_id = upload(name, _jpeg())
    ok = client.post("/", json={"uri": f"gs://{stack.upload_bucket}/{name}"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "ok"
    missing = client.post("/", json={"uri": f"gs://{stack.upload_bucket}/uploads/{seller}/none.jpg"})
    assert missing.status_code == 422
    assert missing.get_json()["rejection"]["code"] == "upload_missing"
    # The pipeline classifies the upload too; wait, so that its events do not spill into the next test.
    wait_finished(product_id)
