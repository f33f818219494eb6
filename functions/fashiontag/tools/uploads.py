"""Seller uploads from the command line: files into ``uploads/{seller_id}/`` of the bucket."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from fashiontag import clients, config, contract


@dataclass(frozen=True)
class Uploaded:
    path: Path
    bucket: str
    name: str
    generation: str
    product_id: str


def upload_files(paths: Sequence[Path], seller_id: str, progress: bool = True) -> list[Uploaded]:
    """Upload each file (its content untouched) under a name of its own and return where it went.

    The name keeps the file's and adds a token (``contract.unique_upload_name``); written with
    ifGenerationMatch=0, it can only create an object, never replace one (docs/decisions/0014).
    """
    bucket = clients.storage_client().bucket(config.upload_bucket())
    total = sum(p.stat().st_size for p in paths)
    done: list[Uploaded] = []
    with tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc="uploading") as bar:
        for path in paths:
            name = contract.unique_upload_name(seller_id, path.name)
            blob = bucket.blob(name)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            blob.upload_from_filename(str(path), content_type=content_type, if_generation_match=0)
            generation = str(blob.generation)
            done.append(
                Uploaded(path, bucket.name, name, generation, contract.product_id(bucket.name, name, generation))
            )
            bar.update(path.stat().st_size)
            bar.set_postfix_str(path.name[-30:])
    return done
