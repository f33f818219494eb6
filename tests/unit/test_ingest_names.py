"""The loop guard and deterministic ids: pure logic."""

from __future__ import annotations

import pytest

from fashiontag.ingest import product_id_for, seller_of


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
    a = product_id_for("b", "uploads/s/x.jpg", "1")
    assert a == product_id_for("b", "uploads/s/x.jpg", "1")
    assert a != product_id_for("b", "uploads/s/x.jpg", "2")
    assert a != product_id_for("c", "uploads/s/x.jpg", "1")
    assert len(a) == 32 and a.isalnum()
