"""Model inputs rendered in bulk: garments as photos, already reduced to what the model sees.

Training and evaluation need tens of thousands of photos; each is rendered at a few hundred
pixels, passed through the serving preprocessing (``images.model_input``) and kept with its
garment mask at the model's mask resolution. Rendering runs in worker processes, seeded per
garment so a pool is the same whatever the number of workers, and is cached on disk.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from fashiontag import images
from fashiontag.renders import photos

MASK_SIDE = images.MODEL_SIDE // 4
# Photos are rendered at twice the model's side: the reduction to the model's input then
# averages pixels as it does for an upload, and the cost stays a few milliseconds a photo.
RENDER_SIDE = images.MODEL_SIDE * 2


@dataclass(frozen=True)
class Pool:
    x: np.ndarray  # uint8 (n, side, side, 3): model inputs
    mask: np.ndarray  # uint8 (n, MASK_SIDE, MASK_SIDE): garment coverage 0..255
    y: np.ndarray  # int16 (n,): category index, -1 where the photo holds no garment
    backdrop: np.ndarray  # str (n,)
    pattern: np.ndarray  # str (n,)


def reduce_mask(mask: np.ndarray) -> np.ndarray:
    """A coverage mask (h, w) 0..1 at the model's mask resolution, uint8 0..255."""
    img = Image.fromarray((np.clip(mask, 0, 1) * 255).astype(np.uint8), "L")
    return np.asarray(img.resize((MASK_SIDE, MASK_SIDE), Image.Resampling.BOX), dtype=np.uint8)


def clean_mask(garment: np.ndarray) -> np.ndarray:
    """The garment mask of a Fashion-MNIST image seen whole (``images.clean_input``)."""
    return reduce_mask(np.clip((garment.astype(np.float32) / 255.0 - 0.02) / 0.1, 0, 1))


def _render_chunk(args: tuple[np.ndarray, np.ndarray, str, int]) -> tuple[np.ndarray, ...]:
    garments, seeds, style_name, empty_every = args
    style = photos.STYLES[style_name]
    n = len(seeds)
    x = np.zeros((n, images.MODEL_SIDE, images.MODEL_SIDE, 3), dtype=np.uint8)
    masks = np.zeros((n, MASK_SIDE, MASK_SIDE), dtype=np.uint8)
    backdrops, patterns = [], []
    for i, seed in enumerate(seeds):
        rng = np.random.default_rng(int(seed))
        empty = empty_every > 0 and int(seed) % empty_every == 0
        scene = photos.render(None if empty else garments[i], rng, style, side=RENDER_SIDE)
        x[i] = images.model_input(scene.rgb)
        masks[i] = reduce_mask(scene.mask)
        backdrops.append(scene.backdrop)
        patterns.append(scene.pattern)
    return x, masks, np.array(backdrops), np.array(patterns)


def render_pool(
    garments: np.ndarray,
    labels: np.ndarray,
    style: str,
    seed: int,
    empty_every: int = 0,
    workers: int | None = None,
    cache_dir: Path | None = None,
) -> Pool:
    """One photo of each garment in ``style``; every ``empty_every``-th photo holds no garment."""
    key = hashlib.sha256(garments.tobytes() + labels.tobytes()).hexdigest()[:16]
    spec = {"style": style, "seed": seed, "empty_every": empty_every, "side": images.MODEL_SIDE, "garments": key}
    spec["style_spec"] = asdict(photos.STYLES[style])
    name = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = cache_dir / f"pool-{style}-{name}.npz" if cache_dir else None
    if path and path.is_file():
        with np.load(path) as z:
            return Pool(z["x"], z["mask"], z["y"], z["backdrop"], z["pattern"])

    seeds = np.random.default_rng(seed).integers(0, 2**62, len(garments))
    if empty_every:
        seeds = seeds - seeds % empty_every + np.arange(len(seeds)) % empty_every  # spreads the empties
    workers = workers or max(1, os.cpu_count() or 1)
    bounds = np.linspace(0, len(garments), workers * 8 + 1).astype(int)
    chunks = [(garments[a:b], seeds[a:b], style, empty_every) for a, b in itertools.pairwise(bounds)]
    with ProcessPoolExecutor(workers) as executor:
        parts = list(executor.map(_render_chunk, chunks))
    x, mask, backdrop, pattern = (np.concatenate([p[k] for p in parts]) for k in range(4))
    y = labels.astype(np.int16).copy()
    y[pattern == "none"] = -1
    pool = Pool(x, mask, y, backdrop, pattern)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=x, mask=mask, y=y, backdrop=backdrop, pattern=pattern)
    return pool


def clean_pool(garments: np.ndarray, labels: np.ndarray) -> Pool:
    """Fashion-MNIST images as they are, seen whole as a studio shot (no rendering)."""
    x = np.stack([images.clean_input(g) for g in garments])
    mask = np.stack([clean_mask(g) for g in garments])
    n = len(garments)
    return Pool(x, mask, labels.astype(np.int16), np.full(n, "clean"), np.full(n, "clean"))


PHOTO_KINDS = ("studio", "everyday", "unseen")


def photo_sets(
    garments: np.ndarray, labels: np.ndarray, count: int, seed: int, cache_dir: Path | None = None
) -> dict[str, Pool]:
    """``count`` photos of each kind (studio, everyday, unseen families) of seeded garments."""
    sets = {}
    for n, kind in enumerate(PHOTO_KINDS):
        chosen = np.sort(
            np.random.default_rng([seed, n]).choice(len(garments), min(count, len(garments)), replace=False)
        )
        sets[kind] = render_pool(garments[chosen], labels[chosen], kind, seed + n, cache_dir=cache_dir)
    return sets


def concat(pools: list[Pool]) -> Pool:
    return Pool(*(np.concatenate([getattr(p, f) for p in pools]) for f in ("x", "mask", "y", "backdrop", "pattern")))
