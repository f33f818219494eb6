"""Fixtures shared by every test: an isolated environment, and the local stack for e2e tests."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fashiontag import clients

_CLOUD_VARS = (
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_CLOUD_PROJECT",
    "FASHIONTAG_UPLOAD_BUCKET",
    "FASHIONTAG_AUTO_ACCEPT_THRESHOLD",
    "FASHIONTAG_LEASE_SECONDS",
    "FASHIONTAG_PUSH_MODE",
    "FIREBASE_AUTH_EMULATOR_HOST",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e, and every test that needs the local stack, is an ``e2e`` test.

    Function-level tests drive the real entry points, some of them against the emulators;
    marking by the fixture too keeps ``make test-fast`` (``-m "not e2e"``) free of emulators.
    """
    e2e = Path(__file__).resolve().parent / "e2e"
    for item in items:
        if item.path.is_relative_to(e2e) or "stack_env" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    """No test sees the developer's cloud settings; e2e tests get the stack's instead."""
    for name in _CLOUD_VARS:
        monkeypatch.delenv(name, raising=False)
    if "stack" in request.fixturenames:
        stack_env: dict[str, str] = request.getfixturevalue("stack_env")
        for key, value in stack_env.items():
            monkeypatch.setenv(key, value)
    clients.reset()
    yield
    clients.reset()


@pytest.fixture(scope="session")
def stack_config(tmp_path_factory: pytest.TempPathFactory):
    from fashiontag.local import stack

    base = int(os.environ.get("FASHIONTAG_TEST_PORT_BASE", "9500"))
    # The tests call the reconciler themselves: a scheduled run could re-drive an upload that a
    # test holds back on purpose, or one that reset() is deleting.
    cfg = stack.StackConfig.from_env(tmp_path_factory.mktemp("stack"), base)
    return dataclasses.replace(cfg, reconcile_every_s=0)


@pytest.fixture(scope="session")
def stack_env(stack_config) -> Iterator[dict[str, str]]:
    """The local stack, started once per test session and stopped at its end."""
    from fashiontag.local import stack

    env = stack.up(stack_config)
    yield env
    stack.down(stack_config)


@pytest.fixture
def stack(stack_config, stack_env):
    """Per test: the running stack with Firestore and the upload bucket emptied."""
    from fashiontag.local import stack as local_stack

    local_stack.reset(stack_config)
    return stack_config


@pytest.fixture
def seller() -> str:
    return f"seller-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
