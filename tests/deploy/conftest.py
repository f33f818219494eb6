"""Fixtures of the deploy checks: the repository as it is, and disposable copies of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fashiontag.tools.deploy_spec import Spec, load_spec
from tests.deploy import terraform as tf
from tests.deploy.drift.repo import Repo

ROOT = Path(__file__).resolve().parents[2]
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", ".terraform")


@pytest.fixture(scope="session")
def repo() -> Repo:
    return Repo(ROOT)


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(ROOT / "infra" / "functions.yaml")


@pytest.fixture(scope="session")
def cfg() -> tf.Config:
    return tf.load(ROOT / "infra")


@pytest.fixture
def copy(tmp_path: Path) -> Repo:
    """A copy of what the checks read (functions/, infra/, requirements.lock), free to break."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("functions", "infra"):
        shutil.copytree(ROOT / name, root / name, ignore=_COPY_IGNORE)
    shutil.copy2(ROOT / "requirements.lock", root / "requirements.lock")
    return Repo(root)


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) in a file of a copy."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))
