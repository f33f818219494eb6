"""The browser the browser tests drive: Debian's Chromium through Playwright (no download)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fashiontag.tools import browser as chromium


@pytest.fixture
def browser() -> Iterator[Any]:
    if not chromium.CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make deps)")
    with chromium.chromium() as launched:
        yield launched
