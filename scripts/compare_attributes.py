"""Trouser attribute versions side by side, per family, on evaluation renders on backdrops training
never drew and on the training families (600 each): ``python scripts/compare_attributes.py v1 v2``.

The crops come from the shipped category model's garment map, as served.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fashiontag import synthetic
from fashiontag.inference import AttributeModel
from fashiontag.renders import photos
from fashiontag.training import attributes

ROOT = Path(__file__).resolve().parents[1]


def main(versions: list[str]) -> None:
    cfg = attributes.AttributeTrainConfig()
    families = synthetic.TROUSER_FAMILIES
    out: dict[str, dict[str, float]] = {}
    for kind, surfaces in (("unseen backdrops", photos.HELD_OUT_BACKDROPS), ("training families", None)):
        x, y = attributes.synthetic_trousers(600, cfg.seed + 1, evaluation=True, surfaces=surfaces)
        for version in versions:
            model = AttributeModel(ROOT / "models" / "attributes-trouser" / version)
            predicted = [model.predict(crop) for crop in x]
            out[f"{version}, {kind}"] = {
                f: round(float(np.mean([values.index(p[f]["label"]) == y[f][i] for i, p in enumerate(predicted)])), 3)
                for f, values in families.items()
            }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:] or ["v1", "v2"])
