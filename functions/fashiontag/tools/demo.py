"""``make demo``: photos rendered from Fashion-MNIST *test* images go through the local stack.

Starts the stack (unless it runs already), uploads the photos as a seller, half of them studio
shots and half everyday photos (textured and dark backdrops, prints, tilt, bad light), waits
for each product to reach a terminal status, prints a table and the accuracy of each kind,
then keeps the stack up until Ctrl-C (or, with ``--once``, stops what it started and exits).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from fashiontag import config, contract, evaluation, fashion_mnist, products, synthetic, taxonomy
from fashiontag.admin import demo_users
from fashiontag.local import stack
from fashiontag.renders import sets
from fashiontag.tools import uploads

DEMO_SELLER = "demo-seller"
SAMPLE_SEED = 2026
WAIT_S = 60.0
TROUSERS = 8


def wait_for_products(product_ids: list[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    """Poll Firestore until every product is finished (terminal and published) or time runs out."""
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while len(found) < len(product_ids) and time.monotonic() < deadline:
        for pid in product_ids:
            if pid not in found:
                doc = products.get(pid)
                if doc and products.is_finished(doc):
                    found[pid] = doc
        time.sleep(0.2)
    return found


def _trouser_attributes(cfg: stack.StackConfig, count: int = TROUSERS) -> None:
    """Upload synthetic trousers with known attributes and show them as the paper's table does."""
    folder = cfg.state_dir / "demo-trousers"
    if not (folder / "labels.csv").is_file() or len(synthetic.read_dataset(folder)) != count:
        synthetic.write_dataset(folder, count, SAMPLE_SEED)
    rows = synthetic.read_dataset(folder)
    items = uploads.upload_files([folder / row["file"] for row in rows], DEMO_SELLER, progress=False)
    finished = wait_for_products([item.product_id for item in items], WAIT_S)
    families = list(synthetic.TROUSER_FAMILIES)
    print(f"\nattributes of {count} SYNTHETIC trousers (predicted, and the true value where it differs):")
    print(f"{'file':<18} {'category':<9} " + " ".join(f"{f:<14}" for f in families) + " colours")
    right = total = 0
    for row, item in zip(rows, items, strict=True):
        prediction = finished.get(item.product_id, {}).get("prediction", {})
        cells = []
        for family in families:
            predicted = prediction.get("attributes", {}).get(family, {}).get("label", "-")
            right, total = right + int(predicted == row[family]), total + 1
            cells.append(f"{predicted if predicted == row[family] else predicted + '≠' + row[family]:<14}")
        names = ", ".join(c["name"] for c in prediction.get("colours", []))
        print(f"{row['file']:<18} {prediction.get('category', {}).get('label', '-'):<9} {' '.join(cells)} {names}")
    print(f"attribute values right: {right}/{total} = {right / max(total, 1):.1%} (synthetic renders)")


def _latency_ms(doc: dict[str, Any], uploaded_at: float) -> float | None:
    at = doc.get("updated_at")
    return (at.timestamp() - uploaded_at) * 1000 if at else None


def run(cfg: stack.StackConfig, once: bool, count: int) -> int:
    was_running = stack.status(cfg)["on_upload"]["pid"] is not None
    print("starting the local stack ..." if not was_running else "using the running local stack")
    env = stack.up(cfg)
    os.environ.update(env)
    try:
        return _run(cfg, once, count)
    finally:
        if once and not was_running:
            stack.down(cfg)


KINDS = ("studio", "everyday")


def _photo_folder(cfg: stack.StackConfig, kind: str, count: int) -> tuple[list[Path], dict[str, int]]:
    folder = cfg.state_dir / f"demo-{kind}"
    labels = taxonomy.load().labels
    if not (folder / "labels.csv").is_file() or len(evaluation.read_labels(folder, labels)) != count:
        x_test, y_test = fashion_mnist.load_fashion_mnist("test")
        seed = SAMPLE_SEED + KINDS.index(kind)
        sets.write_photos(x_test, y_test, folder, count=count, seed=seed, style=kind, prefix=kind)
    truth = evaluation.read_labels(folder, labels)
    return sorted(folder / name for name in truth), truth


def _run(cfg: stack.StackConfig, once: bool, count: int) -> int:
    labels = taxonomy.load().labels
    folders = {kind: _photo_folder(cfg, kind, count // len(KINDS)) for kind in KINDS}
    files = [path for kind in KINDS for path in folders[kind][0]]
    truth = {name: label for kind in KINDS for name, label in folders[kind][1].items()}

    accounts = demo_users.ensure(seller_uid=DEMO_SELLER)
    print(f"uploading {len(files)} photos to gs://{config.upload_bucket()}/{contract.upload_folder(DEMO_SELLER)} ...")
    uploaded_at: dict[str, float] = {}
    done = []
    for path in files:
        item = uploads.upload_files([path], DEMO_SELLER, progress=False)[0]
        uploaded_at[item.product_id] = time.time()
        done.append(item)
    finished = wait_for_products([d.product_id for d in done], WAIT_S)

    print()
    print(f"{'file':<16} {'true label':<12} {'predicted':<12} {'conf':>5}  {'status':<13} {'latency':>9}")
    correct = {kind: 0 for kind in KINDS}
    shown_of = {kind: 0 for kind in KINDS}
    for item in done:
        kind = item.path.parent.name.removeprefix("demo-")
        doc = finished.get(item.product_id, {})
        true_label = labels[truth[item.path.name]]
        category = doc.get("prediction", {}).get("category", {})
        predicted = category.get("label") or doc.get("rejection", {}).get("code", "-")
        correct[kind] += int(predicted == true_label)
        shown_of[kind] += 1
        latency = _latency_ms(doc, uploaded_at[item.product_id]) if doc else None
        conf = f"{category['confidence']:.2f}" if "confidence" in category else "-"
        shown = f"{latency:.0f} ms" if latency is not None else "timeout"
        print(
            f"{item.path.name:<16} {true_label:<12} {predicted:<12} {conf:>5}  "
            f"{doc.get('status', 'pending'):<13} {shown:>9}"
        )
    missing = len(done) - len(finished)
    print()
    for kind in KINDS:
        n = max(shown_of[kind], 1)
        print(f"accuracy, {kind} photos: {correct[kind]}/{shown_of[kind]} = {correct[kind] / n:.1%}")
    if missing:
        print(f"{missing} not finished within {WAIT_S:.0f} s")
    _trouser_attributes(cfg)
    print(demo_users.summary(cfg.url("admin"), accounts))
    if once:
        return 0 if not missing else 1

    print(f"\nthe stack stays up; its settings are in {cfg.env_file}. Try:")
    print(f"  .venv/bin/fashiontag upload PHOTO.jpg --seller you --state-dir {cfg.state_dir}")
    print(f"  .venv/bin/fashiontag products --state-dir {cfg.state_dir}")
    print("Ctrl-C stops it.")
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
    print("\nstopping the stack ...")
    stack.down(cfg)
    return 0
