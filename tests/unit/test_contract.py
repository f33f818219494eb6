"""The data contract's rules: the loop guard, deterministic ids, paths, the auto-accept rule."""

from __future__ import annotations

import pytest

from fashiontag import contract
from fashiontag.contract import product_id, seller_of


@pytest.mark.parametrize(
    ("name", "seller"),
    [
        ("uploads/alice/photo.jpg", "alice"),
        ("uploads/alice/batch/photo.jpg", "alice"),
        ("uploads/bob/jupe-été.jpg", "bob"),
        ("uploads/photo.jpg", None),
        ("uploads//photo.jpg", None),
        ("uploads/alice/", None),
        ("derived/abc/input.png", None),
        ("elsewhere/uploads/alice/x.jpg", None),
        ("Uploads/alice/x.jpg", None),
    ],
)
def test_seller_of(name: str, seller: str | None) -> None:
    assert seller_of(name) == seller


def test_product_id_is_deterministic_per_generation() -> None:
    a = product_id("b", "uploads/s/x.jpg", "1")
    assert a == product_id("b", "uploads/s/x.jpg", "1")
    assert a != product_id("b", "uploads/s/x.jpg", "2")
    assert a != product_id("c", "uploads/s/x.jpg", "1")
    assert len(a) == 32 and a.isalnum()


def test_upload_paths_round_trip_through_the_loop_guard() -> None:
    name = contract.upload_object_name("alice", "photo.jpg")
    assert name == "uploads/alice/photo.jpg"
    assert seller_of(name) == "alice"
    assert contract.upload_folder("alice") == "uploads/alice/"
    with pytest.raises(ValueError):
        contract.upload_object_name("a/b", "photo.jpg")


def test_the_auto_accept_rule() -> None:
    assert contract.status_for(0.9, 0.9) == contract.AUTO_ACCEPTED
    assert contract.status_for(0.89, 0.9) == contract.NEEDS_REVIEW


def test_model_versions_sort_as_numbers() -> None:
    versions = ["v10", "v2", "v1", "v9"]
    assert sorted(versions, key=contract.version_key) == ["v1", "v2", "v9", "v10"]
    stamped = ["20261201-000000-b", "20261130-031500-ab12cd", "20261130-031500-ab12ce"]
    assert sorted(stamped, key=contract.version_key) == sorted(stamped)
