"""The bundles: imports reachable from each main.py (and the training job) against the
requirements that install them; never TensorFlow in serving."""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fashiontag.tools.deploy_spec import Spec
from scripts.package_function import EXCLUDED_SUBPACKAGES
from tests.deploy.drift.repo import Repo, parse_source


def module_file(package: Path, dotted: str) -> Path | None:
    parts = dotted.split(".")[1:]
    if not parts:
        return package / "__init__.py"
    rel = Path(*parts)
    for candidate in (package / rel.with_suffix(".py"), package / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Reach:
    """What main.py imports, transitively.

    ``eager``: imported when the function loads (module-level imports of modules that are
    themselves loaded eagerly); these must be installed. ``lazy``: imported inside a function
    body, which runs only if that code path does (``retraining`` imports the Cloud Run client
    only to start a job); not required, but still never TensorFlow nor a left-out package.
    """

    own: set[str]
    eager: set[str]
    lazy: set[str]


@functools.lru_cache(maxsize=1024)
def _imports(source: str) -> tuple[tuple[str, bool], ...]:
    """(dotted name, at module level) for every absolute import in a module's source."""
    module = parse_source(source)
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, top) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, top))
                found.extend((f"{child.module}.{a.name}", top) for a in child.names)
            visit(child, top)

    visit(module, True)
    return tuple(found)


def reachable(repo: Repo, main_py: Path) -> Reach:
    reach = Reach(set(), set(), set())
    todo: list[tuple[Path, bool]] = [(main_py, True)]
    done: dict[Path, bool] = {}
    while todo:
        path, eager = todo.pop()
        if path in done and (done[path] or not eager):
            continue  # already seen at least as eagerly
        done[path] = eager
        for dotted, top in _imports(path.read_text()):
            now = eager and top
            head = dotted.split(".")[0]
            if head == "fashiontag":
                file = module_file(repo.package, dotted)
                if file is not None:
                    reach.own.add(dotted)
                    todo.append((file, now))
            elif head not in sys.stdlib_module_names and head != "__future__":
                (reach.eager if now else reach.lazy).add(dotted)
    reach.lazy -= reach.eager
    return reach


@functools.cache
def _top_level_dists() -> dict[str, list[str]]:
    return dict(md.packages_distributions())


@functools.cache
def _dist_files(dist: str) -> tuple[str, ...]:
    return tuple(str(f) for f in (md.distribution(dist).files or ()))


AMBIGUOUS = "?"


@functools.cache
def distribution_of(module: str) -> str | None:
    """The installed distribution providing ``module``; None when none does.

    Namespace packages (``google``) are shared by many distributions: the deepest part of the
    dotted name that one distribution's files hold decides; ``AMBIGUOUS`` when none decides.
    """
    candidates = set(_top_level_dists().get(module.split(".")[0], []))
    if len(candidates) <= 1:
        return canonicalize_name(candidates.pop()) if candidates else None
    parts = module.split(".")
    while len(parts) > 1:
        path = "/".join(parts)
        owners = {d for d in candidates if any(f == path + ".py" or f.startswith(path + "/") for f in _dist_files(d))}
        if len(owners) == 1:
            return canonicalize_name(owners.pop())
        if owners:
            return AMBIGUOUS
        parts.pop()
    return AMBIGUOUS


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            pins[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    return pins


@functools.cache
def _closure(names: frozenset[str]) -> frozenset[str]:
    """The listed distributions and everything they require (extras off), as installed here."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return frozenset(seen)


def _lock_mismatches(repo: Repo, requirements: Path) -> list[str]:
    lock = _pins(repo.root / "requirements.lock")
    where = requirements.relative_to(repo.root)
    return [
        f"{where} pins {name}=={version}, requirements.lock has {lock.get(name)}"
        for name, version in sorted(_pins(requirements).items())
        if lock.get(name) != version
    ]


def _unprovided(who: str, modules: Iterable[str], requirements: Path, repo: Repo) -> list[str]:
    """Third-party modules ``who`` imports that its requirements file does not install."""
    closure = _closure(frozenset(_pins(requirements)))
    problems = []
    for module in sorted(modules):
        dist = distribution_of(module)
        if dist is None:
            problems.append(f"{who}: imports {module}, which no installed distribution provides")
        elif dist != AMBIGUOUS and dist not in closure:
            problems.append(
                f"{who}: imports {module} (from {dist}), which {requirements.relative_to(repo.root)} "
                "neither lists nor gets through a listed package"
            )
    return problems


def check_bundles(repo: Repo, spec: Spec, forbidden: Sequence[str] = ("tensorflow", "keras")) -> list[str]:
    problems = []
    for folder in sorted(set(spec.functions) & repo.function_folders()):
        requirements = repo.functions / folder / "requirements.txt"
        if not requirements.is_file():
            continue
        problems += _lock_mismatches(repo, requirements)
        reach = reachable(repo, repo.functions / folder / "main.py")
        for module in sorted(reach.own):
            if len(parts := module.split(".")) > 1 and parts[1] in EXCLUDED_SUBPACKAGES:
                problems.append(f"{folder}: reaches {module}, which the bundle leaves out")
        for module in sorted(reach.lazy | reach.eager):
            if module.split(".")[0] in forbidden:
                problems.append(f"{folder}: reaches {module}; serving never imports TensorFlow")
        problems += _unprovided(
            folder, (m for m in reach.eager if m.split(".")[0] not in forbidden), requirements, repo
        )
        for name in sorted(_pins(requirements)):
            if name in forbidden or name.startswith("tensorflow"):
                problems.append(f"functions/{folder}/requirements.txt installs {name}")
    return problems


TRAINING_JOB_MODULE = "fashiontag.training.job"


def check_training_image(repo: Repo) -> list[str]:
    """The training image runs the job retrain launches, with everything the job imports."""
    from fashiontag import retraining

    folder = repo.root / "infra" / "training"
    dockerfile = (folder / "Dockerfile").read_text()
    problems = []
    if f'"-m", "{TRAINING_JOB_MODULE}"' not in dockerfile:
        problems.append(f"infra/training/Dockerfile: the entrypoint must run python -m {TRAINING_JOB_MODULE}")
    if TRAINING_JOB_MODULE not in Path(retraining.__file__).read_text():
        problems.append(f"fashiontag.retraining no longer launches {TRAINING_JOB_MODULE}")
    requirements = folder / "requirements.txt"
    problems += _lock_mismatches(repo, requirements)
    job = module_file(repo.package, TRAINING_JOB_MODULE)
    if job is None:
        return [*problems, f"{TRAINING_JOB_MODULE} does not exist"]
    reach = reachable(repo, job)
    left_out = [m for m in sorted(reach.own) if m.split(".")[1:2] == ["local"]]
    problems += [f"the training job reaches {m}, which the image leaves out" for m in left_out]
    # The job runs the lazy imports too (TensorFlow inside its functions): all must be there.
    problems += _unprovided("the training image", reach.eager | reach.lazy, requirements, repo)
    return problems
