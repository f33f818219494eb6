"""``make chaos``: uploads through the whole local stack while its processes die and freeze.

Starts its own stack (``--port-base``, ``--state-dir``), uploads ``--uploads`` files at
``--rate`` a second (garment photos rendered from Fashion-MNIST's test split, 2% files that are
no image, every 25th photo under a name an earlier one had), and injects, at set shares of the
burst:

    15%  on_upload SIGKILLed and kept down for --down-s seconds, then started again
    40%  the Firestore emulator frozen (SIGSTOP) for 5 s
    55%  the delivery process SIGKILLed (supervisord restarts it)
    70%  the bridge SIGKILLed (supervisord restarts it)
    85%  the reconcile function SIGKILLed (supervisord restarts it)

then waits until every upload has a finished product and writes ``bench/chaos.json``: how
many uploads ended terminal, products per upload, good photos rejected, bad files not
rejected, the time from on_upload's restart to the last terminal upload, upload-to-finished
latency, restarts, delivery retries and dead letters.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import sys
import threading
import time
import xmlrpc.client
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashiontag import clients, config, contract, dead_letters, fashion_mnist, products
from fashiontag.local import stack
from fashiontag.renders import sets

ROOT = Path(__file__).resolve().parents[1]
BAD_SHARE = 0.02
SAME_NAME_EVERY = 25


@dataclass(frozen=True)
class Upload:
    name: str
    generation: str
    good: bool
    at: dt.datetime

    @property
    def product_id(self) -> str:
        return contract.product_id(config.upload_bucket(), self.name, self.generation)


def _files(count: int, seed: int) -> list[tuple[str, bytes, bool]]:
    """(original file name, bytes, is a photo) for each upload."""
    x, _ = fashion_mnist.load_fashion_mnist("test")
    rng = np.random.default_rng(seed)
    files = []
    for i in range(count):
        name = f"IMG_{(i - 1 if i % SAME_NAME_EVERY == 0 and i else i):04d}.jpg"
        if rng.random() < BAD_SHARE:
            files.append((name, b"this is not a photo\n" * 20, False))
        else:
            garment = x[int(rng.integers(len(x)))]
            files.append((name, sets.photo_bytes(garment, rng, "studio"), True))
    return files


def _pid(cfg: stack.StackConfig, name: str) -> int:
    pid = stack.status(cfg)[name]["pid"]
    assert isinstance(pid, int), f"{name} is not running"
    return pid


class Faults:
    """The fault schedule, applied as the burst passes each share; what happened, with times."""

    def __init__(self, cfg: stack.StackConfig, total: int, down_s: float) -> None:
        self.cfg = cfg
        self.down_s = down_s
        self.plan = {int(total * share): kind for share, kind in
                     ((0.15, "kill_on_upload"), (0.40, "freeze_firestore"), (0.55, "kill_delivery"),
                      (0.70, "kill_bridge"), (0.85, "kill_reconcile"))}  # fmt: skip
        self.log: list[dict[str, Any]] = []
        self.on_upload_back: float | None = None
        self.threads: list[threading.Thread] = []

    def at(self, index: int) -> None:
        kind = self.plan.get(index)
        if kind is None:
            return
        self.log.append({"fault": kind, "after_uploads": index, "at": time.time()})
        if kind == "kill_on_upload":
            killed = _pid(self.cfg, "on_upload")
            os.killpg(killed, signal.SIGKILL)
            keep_down = threading.Thread(target=self._keep_down, args=(stack.supervisor_rpc(self.cfg), killed))
            keep_down.start()
            self.threads.append(keep_down)
        elif kind == "freeze_firestore":
            pid = _pid(self.cfg, "firestore")
            os.kill(pid, signal.SIGSTOP)
            thaw = threading.Timer(5.0, os.kill, (pid, signal.SIGCONT))
            thaw.start()
            self.threads.append(thaw)
        else:
            os.killpg(_pid(self.cfg, kind.removeprefix("kill_")), signal.SIGKILL)

    def _keep_down(self, rpc: Any, killed: int) -> None:
        # supervisord starts it again within a second; stop that new process at once, as if
        # the platform could not start it, and let it come back after down_s.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = rpc.getProcessInfo("on_upload")
            if info["pid"] != killed and info["statename"] in ("STARTING", "RUNNING", "BACKOFF"):
                try:
                    rpc.stopProcess("on_upload")
                    break
                except xmlrpc.client.Fault:  # it changed state meanwhile: look again
                    pass
            time.sleep(0.05)
        time.sleep(self.down_s)
        rpc.startProcess("on_upload")
        self.on_upload_back = time.time()
        self.log.append({"fault": "on_upload_started_again", "at": self.on_upload_back})

    def join(self) -> None:
        for thread in self.threads:
            thread.join()


def _burst(cfg: stack.StackConfig, files: list[tuple[str, bytes, bool]], rate: float, faults: Faults) -> list[Upload]:
    bucket = clients.storage_client().bucket(config.upload_bucket())
    seller = "chaos"

    def one(item: tuple[str, bytes, bool]) -> Upload:
        name, data, good = item
        blob = bucket.blob(contract.unique_upload_name(seller, name))
        blob.upload_from_string(data, content_type="image/jpeg", if_generation_match=0)
        return Upload(blob.name, str(blob.generation), good, blob.time_created or dt.datetime.now(dt.UTC))

    started = time.monotonic()
    pending = []
    with futures.ThreadPoolExecutor(max_workers=8) as pool:
        for i, item in enumerate(files):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            faults.at(i)
            pending.append(pool.submit(one, item))
    return [f.result() for f in pending]


def _finished(uploads: list[Upload]) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    ids = [u.product_id for u in uploads]
    for start in range(0, len(ids), 200):
        refs = [products.product_ref(pid) for pid in ids[start : start + 200]]
        for snap in clients.firestore_client().get_all(refs):
            doc = snap.to_dict() if snap.exists else None
            if doc and products.is_finished(doc):
                done[snap.id] = doc
    return done


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2) if ordered else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = stack.StackConfig.from_env(args.state_dir, args.port_base)
    os.environ.update(stack.up(cfg))
    clients.reset()
    stack.reset(cfg)
    try:
        files = _files(args.uploads, args.seed)
        faults = Faults(cfg, len(files), args.down_s)
        began = time.time()
        uploads = _burst(cfg, files, args.rate, faults)
        burst_s = time.time() - began
        faults.join()
        deadline = time.monotonic() + args.timeout_s
        done = _finished(uploads)
        while len(done) < len(uploads) and time.monotonic() < deadline:
            time.sleep(2)
            done = _finished(uploads)
        all_done_at = time.time()
        names = {u.name for u in uploads}
        stored = [
            s.to_dict() or {}
            for s in clients.firestore_client().collection(contract.PRODUCTS).stream()
            if ((s.to_dict() or {}).get("image") or {}).get("name") in names
        ]
        latencies = [
            (doc["event"]["published_at"] - u.at).total_seconds()
            for u in uploads
            if (doc := done.get(u.product_id)) and isinstance(doc.get("event", {}).get("published_at"), dt.datetime)
        ]
        logs = cfg.state_dir / "logs"
        delivery_log = (logs / "delivery.log").read_text() if (logs / "delivery.log").is_file() else ""
        dead_letters.collect()
        back = faults.on_upload_back
        return {
            "command": " ".join(["python scripts/chaos.py", *sys.argv[1:]]),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "uploads": len(uploads),
            "good_photos": sum(u.good for u in uploads),
            "bad_files": sum(not u.good for u in uploads),
            "same_named": sum(1 for i in range(len(files)) if i and i % SAME_NAME_EVERY == 0),
            "rate_per_s": args.rate,
            "burst_s": round(burst_s, 1),
            "on_upload_down_s": args.down_s,
            "faults": faults.log,
            "terminal": len(done),
            "not_terminal": len(uploads) - len(done),
            "products_for_these_uploads": len(stored),
            "duplicate_products": len(stored) - len({(d.get("image") or {}).get("name") for d in stored}),
            "good_photos_rejected": sum(
                1 for u in uploads if u.good and done.get(u.product_id, {}).get("status") == contract.REJECTED
            ),
            "bad_files_not_rejected": sum(
                1 for u in uploads if not u.good and done.get(u.product_id, {}).get("status") != contract.REJECTED
            ),
            "last_terminal_after_on_upload_restart_s": round(all_done_at - back, 1) if back else None,
            "upload_to_finished_s": {
                "p50": _percentile(latencies, 0.5),
                "p95": _percentile(latencies, 0.95),
                "max": round(max(latencies), 2) if latencies else 0.0,
                "mean": round(statistics.fmean(latencies), 2) if latencies else 0.0,
            },
            "restarts_logged": len(stack.restarts(cfg)),
            "delivery_retries": delivery_log.count(" failed ("),
            "dead_lettered_by_delivery": delivery_log.count("dead-lettered"),
            "dead_letters_waiting": dead_letters.waiting_count(),
        }
    finally:
        if not args.keep:
            stack.down(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="uploads a second")
    parser.add_argument("--down-s", type=float, default=60.0, help="how long on_upload stays down")
    parser.add_argument("--timeout-s", type=float, default=480.0, help="how long to wait for the last upload")
    parser.add_argument("--port-base", type=int, default=9800)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".fashiontag" / "chaos")
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "chaos.json")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = not result["not_terminal"] and not result["duplicate_products"] and not result["good_photos_rejected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
