"""The admin function serves without TensorFlow or LiteRT (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import sys
from functions_framework import create_app

client = create_app("admin", "functions/admin/main.py", "http").test_client()
assert client.get("/").status_code == 200
assert client.get("/api/me").status_code == 401
import fashiontag.admin.demo_users, fashiontag.admin.models_view, fashiontag.admin.web  # every module
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "ai_edge_litert", "tflite_runtime"))
print(",".join(heavy))
"""


def test_admin_never_imports_tensorflow_or_litert(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=repo_root, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"admin imported: {result.stdout.strip()}"
