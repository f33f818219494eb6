"""Build one function's deploy bundle: ``python scripts/package_function.py NAME OUT_DIR``.

A bundle is what ``gcloud functions deploy --source=OUT_DIR`` uploads, and nothing more:

    OUT_DIR/main.py, requirements.txt   the function folder functions/NAME (README excluded)
    OUT_DIR/fashiontag/                 the shared package, without training/ (TensorFlow),
                                        local/ (emulator stack) and tools/ (the command line, the
                                        demo): none of them may run in a function
    OUT_DIR/models/taxonomy.yaml        for functions declared ``models: taxonomy`` or ``category``
    OUT_DIR/models/category/VERSION/    for ``models: category``: the baseline model named by the
                                        function's FASHIONTAG_CATEGORY_MODEL_VERSION
    OUT_DIR/vendor/@litertjs/           for ``browser_runtime: true``: the LiteRT.js files the page
                                        loads (``fashiontag.admin.browser_model.RUNTIME_FILES``)

``fashiontag.config.models_root()`` finds ``models/`` next to the package, so a bundle needs
no FASHIONTAG_MODELS_ROOT. The function's own requirements.txt is the only one installed:
the serving functions get LiteRT and never TensorFlow.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from fashiontag.admin import browser_model
from fashiontag.tools.deploy_spec import Spec, SpecError, load_spec

REPO = Path(__file__).resolve().parents[1]

# Sub-packages of fashiontag that never ship in a function.
EXCLUDED_SUBPACKAGES = ("training", "local", "tools")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


class PackageError(RuntimeError):
    pass


def _looks_like_bundle(path: Path) -> bool:
    return (path / "main.py").is_file() and (path / "fashiontag").is_dir()


def _prepare(out_dir: Path) -> None:
    """An empty OUT_DIR; an earlier bundle there is replaced, anything else is refused."""
    if out_dir.exists() and any(out_dir.iterdir()):
        if not _looks_like_bundle(out_dir):
            raise PackageError(f"{out_dir} is not empty and is not a function bundle; refusing to clear it")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def package(name: str, out_dir: Path, repo: Path = REPO, spec: Spec | None = None) -> list[Path]:
    """Write the bundle of functions/NAME into OUT_DIR; returns the files written (sorted)."""
    spec = spec or load_spec(repo / "infra" / "functions.yaml")
    if name not in spec.functions:
        raise PackageError(f"{name} is not declared in infra/functions.yaml")
    fn = spec.functions[name]
    source = repo / "functions" / name
    for required in ("main.py", "requirements.txt"):
        if not (source / required).is_file():
            raise PackageError(f"functions/{name}/{required} is missing")

    _prepare(out_dir)
    shutil.copytree(
        source, out_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "README*")
    )

    package_src = repo / "functions" / "fashiontag"

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(_IGNORED(directory, names))
        if Path(directory) == package_src:
            skipped |= {n for n in names if n in EXCLUDED_SUBPACKAGES}
        return skipped

    shutil.copytree(package_src, out_dir / "fashiontag", ignore=ignore)

    models = repo / "models"
    if fn.models in ("taxonomy", "category"):
        (out_dir / "models").mkdir()
        shutil.copy2(models / "taxonomy.yaml", out_dir / "models" / "taxonomy.yaml")
    if fn.models == "category":
        version = fn.model_version
        if not version:
            raise PackageError(f"{name} bundles the category model but sets no FASHIONTAG_CATEGORY_MODEL_VERSION")
        model_dir = models / "category" / version
        if not (model_dir / "model.tflite").is_file():
            raise PackageError(f"{model_dir} has no model.tflite")
        shutil.copytree(model_dir, out_dir / "models" / "category" / version, ignore=_IGNORED)
    if fn.browser_runtime:
        _copy_browser_runtime(repo, out_dir)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


def _copy_browser_runtime(repo: Path, out_dir: Path) -> None:
    """The LiteRT.js files the page loads, as npm installed them (package-lock.json pins them)."""
    source, target = repo / browser_model.NPM_DIR, out_dir / browser_model.BUNDLE_DIR
    wanted = [browser_model.RUNTIME_PACKAGE, *(path for path, _ in browser_model.RUNTIME_FILES.values())]
    for relative in wanted:
        if not (source / relative).is_file():
            raise PackageError(f"{source / relative} is missing: run `make deps` (npm ci)")
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target / relative)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build one function's deploy bundle.")
    parser.add_argument("name", help="folder under functions/, as declared in infra/functions.yaml")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    try:
        files = package(args.name, args.out_dir)
    except (PackageError, SpecError) as error:
        print(f"package_function: {error}", file=sys.stderr)
        return 2
    size = sum(f.stat().st_size for f in files)
    print(f"{args.out_dir}: {len(files)} files, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
