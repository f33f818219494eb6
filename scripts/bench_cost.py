"""The cost of one upload on the local stack, for ``make bench`` (docs/cost.md uses its figures).

- ``calls_per_upload``: calls to Firestore, Pub/Sub and Storage per classified upload, counted
  in-process (``fashiontag.tools.calls``) while the real on_upload entry point handles real
  CloudEvents, after a first upload has warmed the instance.
- ``cpu_per_upload``: CPU time (user + system, children included) of every process of the
  stack, read from /proc before and after a steady stream of uploads, divided by the uploads.
- ``latency``: upload returned -> product terminal (its completing write, Firestore's server
  timestamp) at a steady rate; ``burst``: N uploads sent at once by 4 threads, first sent ->
  last terminal.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import products, topology
from fashiontag.local import stack
from fashiontag.tools import uploads
from fashiontag.tools.calls import counting

ROOT = Path(__file__).resolve().parents[1]
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and the children it has reaped (utime, stime, cutime, cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _TICK


def _tree(pid: int) -> list[int]:
    """``pid`` and its living descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_by_process(cfg: stack.StackConfig) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, row in stack.status(cfg).items():
        pid = row.get("pid")
        if isinstance(pid, int):
            out[name] = sum(_cpu_s(p) for p in _tree(pid))
    return out


def _terminal_at(product_id: str) -> float | None:
    doc = products.get(product_id) or {}
    done = (doc.get("event") or {}).get("published_at")
    return float(done.timestamp()) if done else None


def _wait_terminal(sent: dict[str, float], timeout_s: float) -> dict[str, float]:
    """product id -> seconds from sent to terminal, for those terminal within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    took: dict[str, float] = {}
    while len(took) < len(sent) and time.monotonic() < deadline:
        for pid, at in sent.items():
            if pid not in took and (done := _terminal_at(pid)) is not None:
                took[pid] = done - at
        time.sleep(0.2)
    return took


def calls_per_upload(cfg: stack.StackConfig, photo: Path, uploads_counted: int = 10) -> dict[str, float]:
    from functions_framework import create_app

    from tests import events  # the CloudEvents the tests send

    refresh = os.environ.get("FASHIONTAG_MODEL_REFRESH_SECONDS")
    os.environ["FASHIONTAG_MODEL_REFRESH_SECONDS"] = "3600"  # a registry look per upload is not the steady state
    app = create_app("on_upload", str(ROOT / "functions/on_upload/main.py"), "cloudevent")
    spent: Counter[str] = Counter()
    try:
        with stack.paused(cfg, topology.LOCAL_SUBSCRIPTIONS[0].name), counting(cfg.url("storage")) as calls:
            for n in range(uploads_counted + 1):
                item = uploads.upload_files([photo], "bench-calls", progress=False)[0]
                before = calls.copy()
                event = events.storage_finalized(item.name, item.generation)
                assert app.test_client().post("/", **events.request(event)).status_code == 200
                if n:  # the first one warms the instance up (models, registry)
                    spent.update(calls - before)
    finally:
        os.environ.pop("FASHIONTAG_MODEL_REFRESH_SECONDS")
        if refresh is not None:
            os.environ["FASHIONTAG_MODEL_REFRESH_SECONDS"] = refresh
    per_upload = {name: round(count / uploads_counted, 2) for name, count in sorted(spent.items())}
    totals: dict[str, float] = {}
    for name, count in per_upload.items():
        service = name.split(".")[0]
        totals[service] = totals.get(service, 0.0) + count
    return {**per_upload, **{f"{service} (all)": round(n, 2) for service, n in totals.items()}}


def _send(photos: list[Path], seller: str, at: Callable[[int], float]) -> dict[str, float]:
    """Uploads each photo when ``at(n)`` (perf_counter) is reached; product id -> wall time sent."""
    sent: dict[str, float] = {}
    lock = threading.Lock()

    def one(n: int) -> None:
        time.sleep(max(0.0, at(n) - time.perf_counter()))
        item = uploads.upload_files([photos[n]], seller, progress=False)[0]
        with lock:
            sent[item.product_id] = time.time()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(len(photos))))
    return sent


def _summary(took: dict[str, float], sent: int) -> dict[str, Any]:
    values = np.array(sorted(took.values())) * 1000
    return {
        "uploads": sent,
        "terminal": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "max_ms": round(float(values.max()), 1),
    }


def steady(photos: list[Path], rate: float, duration_s: float) -> dict[str, Any]:
    count = min(len(photos), int(rate * duration_s))
    start = time.perf_counter() + 0.2
    sent = _send(photos[:count], f"bench-rate-{int(rate)}", lambda n: start + n / rate)
    return {"rate_per_s": rate, **_summary(_wait_terminal(sent, 120), len(sent))}


def burst(photos: list[Path], count: int) -> dict[str, Any]:
    started = time.time()
    sent = _send(photos[:count], "bench-burst", lambda n: 0.0)
    sent_in = time.time() - started
    took = _wait_terminal(sent, 120)
    last = max(at + took[pid] for pid, at in sent.items() if pid in took)
    return {
        **_summary(took, len(sent)),
        "all_sent_s": round(sent_in, 2),
        "first_sent_to_last_terminal_s": round(last - started, 2),
    }


def cpu_per_upload(cfg: stack.StackConfig, photos: list[Path], rate: float) -> dict[str, Any]:
    steady(photos[:5], rate, 1.0)  # every process has loaded what it loads once (models, clients)
    before = cpu_by_process(cfg)
    result = steady(photos, rate, len(photos) / rate)
    time.sleep(2)  # what follows a product's completion (notify's push) finishes too
    after = cpu_by_process(cfg)
    per = {name: round((after[name] - before.get(name, 0.0)) / len(photos) * 1000, 2) for name in after}
    per = dict(sorted(per.items(), key=lambda kv: -kv[1]))
    return {
        "uploads": len(photos),
        "rate_per_s": rate,
        "cpu_ms_per_upload": per,
        "cpu_ms_per_upload_all": round(sum(per.values()), 1),
        "latency": result,
    }


def bench_cost(cfg: stack.StackConfig, photos: list[Path], burst_size: int = 100) -> dict[str, Any]:
    """Everything above, in one run on one stack; ``photos`` are distinct 800-px JPEGs."""
    out: dict[str, Any] = {"photo_bytes_median": int(np.median([p.stat().st_size for p in photos]))}
    print("  calls per upload ...", flush=True)
    out["calls_per_upload"] = calls_per_upload(cfg, photos[0])
    print("  CPU per upload, 200 uploads at 8 a second ...", flush=True)
    out["cpu"] = cpu_per_upload(cfg, photos[:200], 8.0)
    for rate in (10.0, 20.0):
        print(f"  latency at {rate:g} a second ...", flush=True)
        out[f"latency_{int(rate)}_per_s"] = steady(photos, rate, 15.0)
    print(f"  a burst of {burst_size} ...", flush=True)
    out[f"burst_{burst_size}"] = burst(photos, burst_size)
    return out
