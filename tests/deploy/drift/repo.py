"""What every drift check reads: a repository tree, the local Pub/Sub declaration, parsed sources.

A check never imports the code it checks (``ast`` only), so it can run on a copy; only the
topology is taken as a value, which a test may replace.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

from fashiontag import topology as real_topology
from fashiontag.tools.deploy_spec import Spec, load_spec
from tests.deploy import terraform as tf


@dataclass(frozen=True)
class Topology:
    """The local Pub/Sub declaration (fashiontag.topology) as plain values."""

    topics: tuple[str, ...]
    subscriptions: tuple[real_topology.PushSubscription, ...]

    @staticmethod
    def dead_letter(topic: str) -> str:
        return real_topology.dead_letter(topic)

    @classmethod
    def current(cls) -> Topology:
        return cls(tuple(real_topology.TOPICS), tuple(real_topology.LOCAL_SUBSCRIPTIONS))


@dataclass(frozen=True)
class Repo:
    root: Path

    @property
    def functions(self) -> Path:
        return self.root / "functions"

    @property
    def package(self) -> Path:
        return self.root / "functions" / "fashiontag"

    @property
    def infra(self) -> Path:
        return self.root / "infra"

    def spec(self) -> Spec:
        return load_spec(self.infra / "functions.yaml")

    def terraform(self) -> tf.Config:
        return tf.load(self.infra)

    def function_folders(self) -> set[str]:
        return {
            d.name
            for d in self.functions.iterdir()
            if d.is_dir() and d.name != "fashiontag" and (d / "main.py").is_file()
        }


def parse(path: Path) -> ast.Module:
    return parse_source(path.read_text())


@functools.lru_cache(maxsize=1024)
def parse_source(source: str) -> ast.Module:
    # Keyed by content: the copies the bite tests break share every unchanged file's tree.
    # Nothing here mutates a tree.
    return ast.parse(source)


def literal(node: ast.expr) -> str:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else "?"


def attr_values(cfg: tf.Config, rtype: str, attr: str) -> list[tuple[tf.Instance, object]]:
    return [(inst, cfg.attr(inst, attr)) for inst in cfg.instances(rtype)]
