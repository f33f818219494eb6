"""Every form field of the admin page's templates has a name a screen reader can say: it sits in
a <label>, or carries aria-label (the issue on the admin page for people, item 7)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "functions" / "admin" / "templates"
FIELDS = {"input", "select", "textarea"}
UNNAMED_TYPES = {"hidden", "submit", "button"}


class _Fields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_label = 0
        self.for_ids: set[str] = set()
        self.fields: list[tuple[int, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if found.get("for"):
                self.for_ids.add(str(found["for"]))
        elif tag in FIELDS and found.get("type") not in UNNAMED_TYPES and not self.in_label:
            self.fields.append((self.getpos()[0], found))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.in_label:
            self.in_label -= 1


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_every_field_is_labelled(template: str) -> None:
    parser = _Fields()
    parser.feed((TEMPLATES / template).read_text())
    unnamed = [
        f"line {line}: <{attrs.get('name')}>"
        for line, attrs in parser.fields
        if not attrs.get("aria-label") and not attrs.get("aria-labelledby") and attrs.get("id") not in parser.for_ids
    ]
    assert not unnamed, unnamed
