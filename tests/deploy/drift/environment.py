"""Environment reads in the shipped code against the catalogue in infra/functions.yaml."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from fashiontag.tools.deploy_spec import Spec, SpecError
from scripts import deploy_plan
from scripts.package_function import EXCLUDED_SUBPACKAGES
from tests.deploy.drift.repo import Repo, literal, parse, parse_source

_ENV_CALLS = {"_env", "getenv"}


def env_reads(path: Path) -> dict[str, int]:
    """Variable name -> first line, for every literal environment read in one module."""
    return dict(_env_reads(path.read_text()))


@functools.lru_cache(maxsize=1024)
def _env_reads(source: str) -> tuple[tuple[str, int], ...]:
    found: dict[str, int] = {}

    def note(node: ast.expr | None, line: int) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.setdefault(node.value, line)

    for node in ast.walk(parse_source(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            environ_method = (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "environ"
                and func.attr in ("get", "setdefault", "pop")
            )
            if (environ_method or name in _ENV_CALLS) and node.args:
                note(node.args[0], node.lineno)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "environ":
                note(node.slice, node.lineno)
        elif isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Attribute) and c.attr == "environ" for c in node.comparators
        ):
            note(node.left, node.lineno)
    return tuple(found.items())


def shipped_modules(repo: Repo) -> list[Path]:
    """The package's modules as a bundle carries them (no training/, local/ or tools/)."""
    return sorted(
        p for p in repo.package.rglob("*.py") if p.relative_to(repo.package).parts[0] not in EXCLUDED_SUBPACKAGES
    )


def check_environment(repo: Repo, spec: Spec) -> list[str]:
    problems = []
    read: dict[str, str] = {}
    for module in shipped_modules(repo):
        for name, line in env_reads(module).items():
            read.setdefault(name, f"{module.relative_to(repo.root)}:{line}")
    for name in sorted(set(read) - set(spec.environment)):
        problems.append(
            f"{name} is read at {read[name]} but not listed under environment in infra/functions.yaml "
            "(say whether the cloud must set it or its default is safe)"
        )
    runtime = {name for name, var in spec.environment.items() if var.policy == "runtime"}
    for name in sorted(set(spec.environment) - set(read) - runtime):
        problems.append(f"infra/functions.yaml lists {name}, which no shipped module reads any more")
    target = deploy_plan.Target("p", "r", "u", "m", "s")
    for fn in spec.functions.values():
        for name, value in fn.env.items():
            var = spec.environment.get(name)
            if var is None:
                problems.append(f"{fn.folder}: sets {name}, which is not in the environment catalogue")
            elif var.policy == "local":
                problems.append(f"{fn.folder}: sets {name}, a local-only variable ({var.why})")
            try:
                target.fill(value)
            except SpecError as error:
                problems.append(f"{fn.folder}: {error}")
        for var in spec.environment.values():
            if var.required_by(fn) and var.name not in fn.env:
                problems.append(f"{fn.folder}: must set {var.name} at deploy ({var.why})")
    return problems


def env_default(repo: Repo, name: str) -> str | None:
    """The literal default of ``_env(name, "...")`` in config.py."""
    for node in ast.walk(parse(repo.package / "config.py")):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "_env"
            and len(node.args) == 2
            and literal(node.args[0]) == name
        ):
            return literal(node.args[1])
    return None
