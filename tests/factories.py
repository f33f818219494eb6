"""Documents tests put in the emulators, made one way: accounts as fashiontag.admin keeps them."""

from __future__ import annotations

from typing import Any

from fashiontag import clients, contract


def user(uid: str, role: str, tokens: list[str] | None = None) -> dict[str, Any]:
    """``users/{uid}`` with its role and, when given, the devices pushes go to."""
    doc: dict[str, Any] = {"email": f"{uid}@example.com", "role": role}
    if tokens is not None:
        doc["device_tokens"] = tokens
    clients.firestore_client().collection(contract.USERS).document(uid).set(doc)
    return doc
