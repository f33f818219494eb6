"""`fashiontag stack up | status | down` on a second, separate stack: everything answers, and
nothing is left running afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from fashiontag.local import stack
from tests.helpers import wait_until

REQUIRED_ENV = {
    "GOOGLE_CLOUD_PROJECT",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "STORAGE_EMULATOR_HOST",
    "FASHIONTAG_UPLOAD_BUCKET",
    "ON_UPLOAD_URL",
}


def _cli(*args: str, state_dir: Path, port_base: int) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "fashiontag.tools.cli",
        *args,
        "--state-dir",
        str(state_dir),
        "--port-base",
        str(port_base),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=os.environ)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_stack_up_status_down(tmp_path: Path) -> None:
    base = int(os.environ.get("FASHIONTAG_TEST_PORT_BASE", "9500")) + 50
    up = _cli("stack", "up", state_dir=tmp_path, port_base=base)
    assert up.returncode == 0, up.stderr
    try:
        env = stack.load_env_file(tmp_path / "stack.env")
        assert set(env) >= REQUIRED_ENV
        cfg = stack.StackConfig.from_env(tmp_path, base)
        rows = stack.status(cfg)
        pids = [int(row["pid"]) for row in rows.values()]  # type: ignore[call-overload]
        assert all(row["answering"] for row in rows.values())
        assert requests.get(f"http://{env['FIRESTORE_EMULATOR_HOST']}/", timeout=5).ok
        topics = requests.get(
            f"http://{env['PUBSUB_EMULATOR_HOST']}/v1/projects/{env['GOOGLE_CLOUD_PROJECT']}/topics",
            timeout=5,
        ).json()["topics"]
        names = {t["name"].rsplit("/", 1)[1] for t in topics}
        assert {"product-events", "product-events-dead-letter", "retrain-requests"} <= names
        sub = requests.get(
            f"http://{env['PUBSUB_EMULATOR_HOST']}/v1/projects/{env['GOOGLE_CLOUD_PROJECT']}"
            "/subscriptions/upload-bucket-notifications-bridge",
            timeout=5,
        ).json()
        assert sub["deadLetterPolicy"]["maxDeliveryAttempts"] == 10
        assert sub["retryPolicy"]["minimumBackoff"] in ("1s", "1.000s")
        # supervisord runs the functions and the helpers; the scheduler calls the reconciler.
        assert {"delivery", "scheduler", "reconcile"} <= set(rows)
        scheduler_log = tmp_path / "logs" / "scheduler.log"
        wait_until(
            lambda: "reconcile: HTTP 200" in scheduler_log.read_text(),
            60,
            lambda: f"the scheduler never reached the reconciler: {scheduler_log.read_text()[-500:]}",
        )
        # A second `up` is a no-op that keeps the same processes.
        assert _cli("stack", "up", state_dir=tmp_path, port_base=base).returncode == 0
        assert [row["pid"] for row in stack.status(cfg).values()] == pids
        assert _cli("stack", "status", state_dir=tmp_path, port_base=base).returncode == 0
    finally:
        down = _cli("stack", "down", state_dir=tmp_path, port_base=base)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids)
    assert not (tmp_path / "stack.env").exists()
    assert _cli("stack", "status", state_dir=tmp_path, port_base=base).returncode == 3
