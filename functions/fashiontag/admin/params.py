"""Request parameters of the admin page parsed and bounded: a bad value is a 400, never a 500."""

from __future__ import annotations

import math
from typing import Any

from fashiontag.admin.errors import Invalid


def number(value: Any, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid(f"{name} must be a number") from None
    if not math.isfinite(result):
        raise Invalid(f"{name} must be a finite number")
    return result


def fraction(value: Any, name: str) -> float | None:
    result = number(value, name)
    if result is not None and not 0.0 <= result <= 1.0:
        raise Invalid(f"{name} must be between 0 and 1")
    return result
