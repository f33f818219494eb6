"""The garment taxonomy, read once from ``models/taxonomy.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from fashiontag import config


@dataclass(frozen=True)
class Family:
    id: str
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    families: tuple[Family, ...]


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[Category, ...]

    @property
    def labels(self) -> list[str]:
        return [c.id for c in self.categories]

    def index(self, label: str) -> int:
        return self.labels.index(label)

    def category(self, label: str) -> Category:
        for category in self.categories:
            if category.id == label:
                return category
        raise KeyError(f"unknown category {label!r}")

    def validate_spec(self, category: str, attributes: dict[str, str]) -> list[str]:
        """Problems with a specification, in words a manager understands; empty when valid."""
        if category not in self.labels:
            return [f"'{category}' is not a category; choose one of: {', '.join(self.labels)}"]
        families = {f.id: f for f in self.category(category).families}
        problems = []
        for family, value in attributes.items():
            if family not in families:
                allowed = ", ".join(families) or "none"
                problems.append(f"'{family}' is not an attribute of {category} (allowed: {allowed})")
            elif value not in families[family].values:
                choices = ", ".join(families[family].values)
                problems.append(f"'{value}' is not a {family} value; choose one of: {choices}")
        return problems


def parse(text: str) -> Taxonomy:
    raw = yaml.safe_load(text)
    families = {fid: Family(id=fid, name=f["name"], values=tuple(f["values"])) for fid, f in raw["families"].items()}
    categories = tuple(
        Category(id=c["id"], name=c["name"], families=tuple(families[f] for f in c.get("families", [])))
        for c in raw["categories"]
    )
    if len({c.id for c in categories}) != len(categories):
        raise ValueError("taxonomy: category ids must be unique")
    for family in families.values():
        if len(set(family.values)) != len(family.values):
            raise ValueError(f"taxonomy: values of {family.id} must be unique")
    return Taxonomy(categories=categories)


@lru_cache(maxsize=4)
def load(path: Path | None = None) -> Taxonomy:
    return parse((path or config.taxonomy_path()).read_text(encoding="utf-8"))
