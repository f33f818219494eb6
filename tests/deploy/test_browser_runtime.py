"""LiteRT.js for the page: pinned with npm, bundled where it is served, served from the bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fashiontag.admin import browser_model
from fashiontag.tools.deploy_spec import Spec
from scripts import package_function
from tests.deploy.conftest import ROOT
from tests.deploy.drift.bundles import reachable
from tests.deploy.drift.repo import Repo


def test_the_runtime_is_pinned_and_installed() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = package["dependencies"]["@litertjs/core"]
    assert pinned[0].isdigit(), "an exact version, not a range"
    assert lock["packages"]["node_modules/@litertjs/core"]["version"] == pinned == browser_model.runtime_version()


def test_functions_that_serve_the_runtime_declare_it(repo: Repo, spec: Spec) -> None:
    for name, fn in spec.functions.items():
        serves = "fashiontag.admin.browser_model" in reachable(repo, repo.functions / name / "main.py").own
        assert serves == fn.browser_runtime, name


def test_the_admin_bundle_carries_the_runtime_and_serves_it_from_itself(tmp_path: Path, spec: Spec) -> None:
    for name, fn in spec.functions.items():
        out = tmp_path / name
        files = {f.relative_to(out).as_posix() for f in package_function.package(name, out)}
        vendored = {f for f in files if f.startswith("vendor/")}
        if not fn.browser_runtime:
            assert vendored == set(), name
            continue
        prefix = browser_model.BUNDLE_DIR.as_posix()
        expected = {f"{prefix}/{path}" for path, _ in browser_model.RUNTIME_FILES.values()}
        assert vendored == expected | {f"{prefix}/{browser_model.RUNTIME_PACKAGE}"}
        probe = (
            "import json\n"
            "from fashiontag.admin import browser_model as b\n"
            "path, kind = b.runtime_file(b.runtime_version(), 'litert_wasm_internal.wasm')\n"
            "print(json.dumps({'root': str(b.runtime_root()), 'kind': kind, 'module': len(b.runtime_module())}))\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FASHIONTAG_", "GOOGLE_", "PYTHONPATH"))}
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=out, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["root"] == str(out / browser_model.BUNDLE_DIR)
        assert found["kind"] == "application/wasm" and found["module"] > 10_000
