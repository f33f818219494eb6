"""The training job for one retraining run: data, training, evaluation, gate, registry.

``python -m fashiontag.training.job --run REQUEST_ID`` — started by the retrain function (a
subprocess locally, a Cloud Run job execution in the cloud). It reads its parameters from
``retrain_runs/{REQUEST_ID}`` and writes its outcome there; the candidate and the active
version are evaluated on the same frozen evaluation set and the candidate is promoted only
when the gate says it is better.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fashiontag import config, datasets, evaluation, events, registry, retraining
from fashiontag.inference import CategoryModel
from fashiontag.training import data, report

log = logging.getLogger("fashiontag.training.job")
CANDIDATE_PHOTO_COUNT = 200  # rendering dominates the report's time


def run(request_id: str, work_dir: Path) -> dict[str, Any]:
    from fashiontag.training import category  # TensorFlow: only inside the job

    record = retraining.get_run(request_id)
    if record is None:
        raise SystemExit(f"no retrain run {request_id}")
    if record.get("status") in (retraining.DONE, retraining.FAILED, retraining.SKIPPED):
        log.info("run %s already %s", request_id, record["status"])
        return record
    params = retraining.RetrainParams(**record["params"])
    name, version = params.model, str(record["version"])
    started = time.monotonic()
    retraining.update_run(request_id, status=retraining.RUNNING, stage="building the data set")

    dataset = data.build_category_dataset(params.bootstrap_limit, params.seed)
    train_idx, val_idx = datasets.train_validation_split(len(dataset.x), max(len(dataset.x) // 10, 1), params.seed)
    out = work_dir / version
    retraining.update_run(request_id, stage="training", dataset=dataset.manifest)
    category.fit(
        dataset.x[train_idx],
        dataset.y[train_idx],
        dataset.x[val_idx],
        dataset.y[val_idx],
        category.TrainConfig(
            epochs=params.epochs,
            seed=params.seed,
            bn_momentum=0.99 if params.epochs * len(train_idx) / 128 > 2000 else 0.9,
        ),
        out,
    )
    retraining.update_run(request_id, stage="evaluating")
    result = report.write_report(
        out,
        name,
        version,
        f"retrain request {request_id}: {params}",
        (dataset.x[val_idx], dataset.y[val_idx]),
        dataset.manifest,
        photo_count=CANDIDATE_PHOTO_COUNT,
    )
    candidate = result["frozen_eval"]

    active_version = registry.active_version(name) or registry.ensure_registered_baseline(
        name, config.category_model_dir()
    )
    x_frozen, y_frozen = datasets.frozen_eval()
    active_model = CategoryModel.from_dir(registry.fetch(name, active_version))
    active = evaluation.evaluate(active_model, x_frozen, y_frozen)
    decision = evaluation.promotion_gate(
        candidate, active, config.promotion_margin(), config.promotion_max_class_drop()
    )
    metrics = {
        **registry.summary_metrics(result),
        "active_on_frozen_eval": {"version": active_version, "accuracy": active["accuracy"]},
        "gate": decision.as_dict(),
    }
    registry.register(name, version, out, metrics, dataset.manifest)
    summary = {
        "model": name,
        "version": version,
        "request_id": request_id,
        "candidate_accuracy": candidate["accuracy"],
        "active_version": active_version,
        "active_accuracy": active["accuracy"],
        "test_accuracy": result["test_accuracy"],
        "reasons": decision.reasons,
    }
    events.publish(config.TOPIC_MODEL_EVENTS, "model.trained", f"model.trained:{name}:{version}", summary)
    if decision.promote:
        registry.promote(name, version, by=f"retrain:{request_id}", reason="; ".join(decision.reasons))
        outcome = "promoted"
    else:
        registry.set_status(name, version, registry.REJECTED, rejection_reasons=decision.reasons)
        events.publish(config.TOPIC_MODEL_EVENTS, "model.rejected", f"model.rejected:{name}:{version}", summary)
        outcome = "rejected"
    retraining.update_run(
        request_id,
        status=retraining.DONE,
        stage="finished",
        outcome=outcome,
        result=summary,
        duration_s=round(time.monotonic() - started, 1),
    )
    return summary


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="the retrain request id")
    args = parser.parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="fashiontag-train-"))
    try:
        summary = run(args.run, work_dir)
        log.info("run %s: %s", args.run, summary)
    except Exception as error:
        log.exception("run %s failed", args.run)
        retraining.update_run(args.run, status=retraining.FAILED, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
