"""``fashiontag classify``: offline, in-process, one JSON line per file; serving never imports TensorFlow.

These tests check the contract of the answer, never its accuracy (the model cards and
``make bench`` measure that).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fashiontag import config, taxonomy
from fashiontag.tools import cli
from tests import corpus

VALID = ["exif-6.jpg", "photo.webp", "cmyk.jpg", corpus.NON_ASCII_NAME]
BAD = ["empty.jpg", "notes-not-a-photo.jpg", "truncated.jpg", "drawing.svg"]
# Usable photos with nothing in them: classified, and sent to review with the reason.
EMPTY = ["blank-white.jpg"]


@pytest.fixture(autouse=True)
def _shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FASHIONTAG_MODELS_ROOT",
        "FASHIONTAG_CATEGORY_MODEL_VERSION",
        "FASHIONTAG_MAX_UPLOAD_BYTES",
        "FASHIONTAG_MAX_PIXELS",
        "FASHIONTAG_MIN_SIDE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Valid photos and bad files side by side, plus a hidden file the walk must skip."""
    root = tmp_path / "uploads"
    root.mkdir()
    odd, bad = corpus.odd_valid_files(), corpus.bad_files()
    for name in VALID:
        (root / name).write_bytes(odd[name])
    for name in BAD:
        (root / name).write_bytes(bad[name][0])
    for name in EMPTY:
        (root / name).write_bytes(corpus.empty_photos()[name])
    (root / ".hidden.jpg").write_bytes(odd["photo.webp"])
    return root


def run_classify(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    status = cli.main(["classify", *argv, "--json"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(line.strip() for line in lines)
    return status, [json.loads(line) for line in lines]


def check_ok(record: dict[str, Any]) -> None:
    labels = taxonomy.load().labels
    assert record["status"] == "ok"
    keys = {"file", "status", "category", "auto_accepted", "review_reason", "attributes", "colours", "model"}
    assert set(record) == keys | {"latency_ms"}
    assert record["auto_accepted"] == (record["review_reason"] is None)
    declared = {f.id for f in taxonomy.load().category(record["category"]["label"]).families}
    assert set(record["attributes"]) == declared  # every family: a prediction or "untrained"
    for prediction in record["attributes"].values():
        assert prediction == {"status": "untrained"} or set(prediction) == {"label", "confidence", "top"}
    assert len(record["colours"]) <= 3
    for colour in record["colours"]:
        assert set(colour) == {"name", "hex", "share"} and colour["hex"].startswith("#")
    category = record["category"]
    assert set(category) == {"label", "confidence", "top"}
    top = category["top"]
    assert len(top) == 3
    for scored in top:
        assert set(scored) == {"label", "confidence"}
        assert scored["label"] in labels
        assert isinstance(scored["confidence"], float) and 0.0 <= scored["confidence"] <= 1.0
    assert len({s["label"] for s in top}) == 3
    confidences = [s["confidence"] for s in top]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) <= 1.0 + 1e-3
    assert (category["label"], category["confidence"]) == (top[0]["label"], top[0]["confidence"])
    assert confidences[0] >= 1 / len(labels) - 1e-3  # the best of a distribution over all labels
    assert record["model"] == {"name": "category", "version": config.category_model_version()}
    assert isinstance(record["latency_ms"], int | float) and record["latency_ms"] >= 0


def check_rejected(record: dict[str, Any], code: str) -> None:
    assert record["status"] == "rejected"
    assert set(record) == {"file", "status", "rejection"}
    assert record["rejection"]["code"] == code
    assert isinstance(record["rejection"]["message"], str) and len(record["rejection"]["message"]) > 10


def test_classify_reports_every_file_and_never_stops(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone.jpg"
    single = tmp_path / "single.png"
    single.write_bytes(corpus.odd_valid_files()["palette.png"])

    status, records = run_classify([str(folder), str(missing), str(single)], capsys)

    assert status == 0
    walked = sorted(VALID + BAD + EMPTY)
    assert [Path(r["file"]).name for r in records] == [*walked, "gone.jpg", "single.png"]
    assert all(Path(r["file"]).parent == folder for r in records[: len(walked)])
    by_name = {Path(r["file"]).name: r for r in records}
    for name in VALID:
        check_ok(by_name[name])
    check_ok(by_name["single.png"])
    bad = corpus.bad_files()
    for name in BAD:
        check_rejected(by_name[name], bad[name][1])
    check_rejected(by_name["gone.jpg"], "unreadable_file")
    for name in EMPTY:
        check_ok(by_name[name])
        assert by_name[name]["review_reason"]["code"] == "no_garment_found" and by_name[name]["colours"] == []


def test_json_lines_keep_non_ascii_names(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = folder / corpus.NON_ASCII_NAME
    status = cli.main(["classify", str(path), "--json"])
    out = capsys.readouterr().out
    assert status == 0
    assert corpus.NON_ASCII_NAME in out  # written as is, not as \\u escapes
    (record,) = [json.loads(line) for line in out.splitlines()]
    assert record["file"] == str(path)
    check_ok(record)


def test_explicit_model_dir_and_human_output(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_dir = config.category_model_dir()
    status, records = run_classify(["--model-dir", str(model_dir), str(folder / "cmyk.jpg")], capsys)
    assert status == 0
    check_ok(records[0])

    status = cli.main(["classify", str(folder / "cmyk.jpg"), str(folder / "empty.jpg")])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0 and len(lines) == 2
    assert lines[0].startswith(f"{folder / 'cmyk.jpg'}: ")
    assert "rejected [empty_file]" in lines[1]


def test_serving_modules_never_import_tensorflow(folder: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import fashiontag.tools.cli, fashiontag.classification, fashiontag.ingest, fashiontag.inference
        assert fashiontag.tools.cli.main(["classify", {str(folder / "photo.webp")!r}, "--json"]) == 0
        loaded = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith(("tensorflow.", "keras")))
        assert not loaded, loaded
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"
