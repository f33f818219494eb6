"""scripts/package_function.py: each bundle holds its function, the shared package and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import package_function
from scripts.deploy_plan import Spec
from tests.deploy.conftest import ROOT


def _relative(files: list[Path], root: Path) -> set[str]:
    return {f.relative_to(root).as_posix() for f in files}


def test_a_bundle_has_the_function_the_package_and_the_active_model(tmp_path: Path) -> None:
    out = tmp_path / "on_upload"
    files = _relative(package_function.package("on_upload", out), out)
    assert {"main.py", "requirements.txt", "fashiontag/__init__.py", "fashiontag/ingest.py"} <= files
    assert {"models/taxonomy.yaml", "models/category/v4/model.tflite", "models/category/v4/model.json"} <= files
    assert not any(f.startswith(("fashiontag/training/", "fashiontag/local/", "fashiontag/tools/")) for f in files)
    assert not any("__pycache__" in f or f.endswith(".pyc") or f.startswith("README") for f in files)
    # Only the declared model version: no other folder under models/category.
    assert {f.split("/")[2] for f in files if f.startswith("models/category/")} == {"v4"}


def test_bundles_carry_only_the_models_they_declare(tmp_path: Path, spec: Spec) -> None:
    for name, fn in spec.functions.items():
        files = _relative(package_function.package(name, tmp_path / name), tmp_path / name)
        models = {f for f in files if f.startswith("models/")}
        if fn.models == "none":
            assert models == set(), name
        elif fn.models == "taxonomy":
            assert models == {"models/taxonomy.yaml"}, name
        else:
            assert "models/taxonomy.yaml" in models and f"models/category/{fn.model_version}/model.tflite" in models


def test_a_bundle_loads_its_function_and_model_from_itself(tmp_path: Path) -> None:
    """Import the bundle as the runtime would (the bundle folder first on sys.path)."""
    out = tmp_path / "classify"
    package_function.package("classify", out)
    probe = (
        "import json, main\n"
        "from fashiontag import config\n"
        "from fashiontag.inference import get_category_model\n"
        "model = get_category_model()\n"
        "print(json.dumps({'package': __import__('fashiontag').__file__, 'models': str(config.models_root()),"
        " 'version': model.version, 'entry': callable(main.classify)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FASHIONTAG_", "GOOGLE_", "PYTHONPATH"))}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=out, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(seen["package"]).resolve().is_relative_to(out.resolve())
    assert Path(seen["models"]).resolve() == (out / "models").resolve()
    assert seen["version"] == "v4" and seen["entry"]


def test_an_earlier_bundle_is_replaced_but_other_folders_are_not_touched(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    package_function.package("retrain", out)
    (out / "stale.txt").write_text("from an earlier build")
    package_function.package("retrain", out)
    assert not (out / "stale.txt").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(package_function.PackageError, match="refusing"):
        package_function.package("retrain", other)
    assert (other / "keep.txt").read_text() == "mine"


def test_undeclared_or_incomplete_functions_are_refused(tmp_path: Path) -> None:
    with pytest.raises(package_function.PackageError, match="not declared"):
        package_function.package("nonexistent", tmp_path / "x")


def test_the_command_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package_function.py"), "notify", str(tmp_path / "notify")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "notify" / "main.py").is_file()
    assert package_function.main(["nonexistent", str(tmp_path / "y")]) == 2
