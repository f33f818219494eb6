"""The garment taxonomy, read once from ``models/taxonomy.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from fashiontag import config


@dataclass(frozen=True)
class Category:
    id: str
    name: str


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]

    @property
    def labels(self) -> list[str]:
        return [c.id for c in self.categories]

    def index(self, label: str) -> int:
        return self.labels.index(label)


def parse(text: str) -> Taxonomy:
    raw = yaml.safe_load(text)
    categories = tuple(Category(id=c["id"], name=c["name"]) for c in raw["categories"])
    if len({c.id for c in categories}) != len(categories):
        raise ValueError("taxonomy: category ids must be unique")
    return Taxonomy(categories=categories)


@lru_cache(maxsize=4)
def load(path: Path | None = None) -> Taxonomy:
    return parse((path or config.taxonomy_path()).read_text(encoding="utf-8"))
