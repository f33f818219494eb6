"""The two kinds of failure every handler distinguishes (DESIGN.md section 6)."""

from __future__ import annotations


class Rejection(Exception):
    """A permanent problem with the upload itself: recorded, acknowledged, never retried.

    ``code`` is stable and machine-readable; ``message`` is written for the seller.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class RetryLater(Exception):
    """A transient condition: the handler raises it so the event is delivered again."""
