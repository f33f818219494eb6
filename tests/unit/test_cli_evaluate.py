"""``fashiontag evaluate DIR``: a folder of photos with labels.csv scored as served, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fashiontag import taxonomy
from fashiontag.renders import sets
from fashiontag.tools import cli
from tests import corpus


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    images, labels = corpus.fashion_mnist()
    sets.write_photos(images[:500], labels[:500], root, count=24, seed=4, style="studio")
    (root / "broken.jpg").write_bytes(corpus.bad_files()["truncated.jpg"][0])
    with (root / "labels.csv").open("a") as f:
        f.write("broken.jpg,bag,,,,\n")
    return root


def test_json_report_counts_every_photo(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["evaluate", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["count"] == 25
    assert report["rejected"] == [{"file": "broken.jpg", "reason": "corrupt_image"}]
    names = taxonomy.load().labels
    assert set(report["per_class"]) <= set(names)
    assert sum(r["count"] for r in report["per_class"].values()) == 25
    right = sum(round(r["accuracy"] * r["count"]) for r in report["per_class"].values())
    assert abs(report["accuracy"] - right / 25) < 1e-9
    assert all(c["true"] != c["predicted"] and c["count"] > 0 for c in report["confusions"])
    assert sum(c["count"] for c in report["confusions"]) == 25 - right - 1  # the broken file is not a confusion
    aa = report["auto_accept"]
    assert 0.0 <= aa["share"] <= 1.0 and 0.5 <= aa["threshold"] <= 1.0
    assert aa["precision"] is None or 0.0 <= aa["precision"] <= 1.0


def test_human_report_and_clear_errors(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["evaluate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "auto-accepted" in out and "per class:" in out

    (tmp_path / "labels.csv").write_text("file,label\nx.jpg,sock\n")
    with pytest.raises(SystemExit, match="unknown label 'sock'"):
        cli.main(["evaluate", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"labels\.csv"):
        cli.main(["evaluate", str(tmp_path / "nowhere")])
