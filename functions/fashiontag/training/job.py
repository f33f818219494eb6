"""The training job for one retraining run: data, training, evaluation, gate, registry.

``python -m fashiontag.training.job --run REQUEST_ID`` — started by the retrain function (a
subprocess locally, a Cloud Run job execution in the cloud). It reads its parameters from
``retrain_runs/{REQUEST_ID}`` and writes its outcome there; the candidate and the active
version are evaluated on the same frozen evaluation set and the candidate is promoted only
when the gate says it is better.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc

from fashiontag import config, contract, evaluation, events, registry, retraining
from fashiontag.inference import AttributeModel, CategoryModel, shipped_attribute_dir
from fashiontag.training import data, report

log = logging.getLogger("fashiontag.training.job")
CANDIDATE_PHOTO_COUNT = 200  # rendering dominates the report's time


@dataclass(frozen=True)
class Candidate:
    """A trained version, its figures and the active version's on the same frozen set."""

    out: Path
    evaluated: dict[str, Any]
    active_version: str
    active: dict[str, Any] | None  # None: the active version cannot be compared (nor served)
    metrics: dict[str, Any]  # what the registry records
    manifest: dict[str, Any]
    held_out: dict[str, Any]  # the candidate's own held-out figure (test split, or synthetic test renders)


def run(request_id: str, work_dir: Path) -> dict[str, Any]:
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
    train = _category_candidate if name == config.CATEGORY_MODEL_NAME else _attribute_candidate
    candidate = train(request_id, params, work_dir / version)

    decision = evaluation.promotion_gate(
        candidate.evaluated, candidate.active, config.promotion_margin(), config.promotion_max_class_drop()
    )
    active_accuracy = candidate.active["accuracy"] if candidate.active else None
    metrics = {
        **candidate.metrics,
        "active_on_frozen_eval": {"version": candidate.active_version, "accuracy": active_accuracy},
        "gate": decision.as_dict(),
    }
    registry.register(name, version, candidate.out, metrics, candidate.manifest)
    summary = {
        "model": name,
        "version": version,
        "request_id": request_id,
        "candidate_accuracy": candidate.evaluated["accuracy"],
        "active_version": candidate.active_version,
        "active_accuracy": active_accuracy,
        **candidate.held_out,
        "reasons": decision.reasons,
    }
    events.publish(contract.TOPIC_MODEL_EVENTS, "model.trained", f"model.trained:{name}:{version}", summary)
    if decision.promote:
        registry.promote(name, version, by=f"retrain:{request_id}", reason="; ".join(decision.reasons))
        outcome = "promoted"
    else:
        registry.set_status(name, version, registry.REJECTED, rejection_reasons=decision.reasons)
        events.publish(contract.TOPIC_MODEL_EVENTS, "model.rejected", f"model.rejected:{name}:{version}", summary)
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


def _category_candidate(request_id: str, params: retraining.RetrainParams, out: Path) -> Candidate:
    from fashiontag.training import baseline, category  # TensorFlow: only inside the job

    name = params.model
    dataset = data.build_category_dataset(params.bootstrap_limit, params.seed)
    retraining.update_run(request_id, stage="rendering photos", dataset=dataset.manifest)
    verified = category.Examples.inputs_only(dataset.verified_x, dataset.verified_y)
    train, calibration = category.build_examples(dataset.x, dataset.y, params.seed, baseline.CACHE_DIR, [verified])
    retraining.update_run(request_id, stage="training")
    steps = params.epochs * category.TrainConfig.epoch_examples / category.TrainConfig.batch_size
    category.fit(
        train,
        category.Examples.of(baseline.calibration_subset(calibration)),
        category.TrainConfig(
            epochs=params.epochs,
            seed=params.seed,
            epoch_examples=min(category.TrainConfig.epoch_examples, len(train.y)),
            bn_momentum=0.99 if steps > 2000 else 0.9,
        ),
        out,
    )
    retraining.update_run(request_id, stage="evaluating")
    result = report.write_report(
        out,
        name,
        out.name,
        f"retrain request {request_id}: {params}",
        calibration,
        dataset.manifest,
        photo_count=CANDIDATE_PHOTO_COUNT,
    )
    active_version = registry.active_version(name) or registry.ensure_registered_baseline(
        name, config.category_model_dir()
    )
    active_model = CategoryModel.from_dir(registry.fetch(name, active_version))
    if active_model.input_shape != CategoryModel.from_dir(out).input_shape:
        active = None  # reads photos another way: this code cannot serve it, so it cannot stay
    else:
        x_frozen, y_frozen = report.frozen_photo_eval()
        active = evaluation.evaluate(active_model, x_frozen, y_frozen)
    return Candidate(
        out=out,
        evaluated=result["frozen_eval"],
        active_version=active_version,
        active=active,
        metrics=registry.summary_metrics(result),
        manifest=dataset.manifest,
        held_out={"test_accuracy": result["test_accuracy"], "photo_accuracy": result["photo_accuracy"]["accuracy"]},
    )


def _attribute_candidate(request_id: str, params: retraining.RetrainParams, out: Path) -> Candidate:
    from fashiontag.training import attributes  # TensorFlow: only inside the job

    name = params.model
    category = config.attribute_model_category(name)
    x_eval, y_eval, eval_counts = attributes.evaluation_set(category, params.eval_renders)
    retraining.update_run(request_id, stage="training")
    cfg = attributes.AttributeTrainConfig(
        epochs=params.epochs, synthetic=params.synthetic, seed=params.seed, verified=True
    )
    result = attributes.train(category, cfg, out, command=f"retrain request {request_id}: {params}")
    retraining.update_run(request_id, stage="evaluating")
    candidate_eval = evaluation.evaluate_attributes(AttributeModel(out), x_eval, y_eval)
    active_version = registry.active_version(name)
    shipped = shipped_attribute_dir(category)
    if not active_version and shipped:
        active_version = registry.ensure_registered_baseline(name, shipped)
    active_model = AttributeModel(registry.fetch(name, active_version)) if active_version else None
    active_eval = evaluation.evaluate_attributes(active_model, x_eval, y_eval)
    manifest = {
        "synthetic": result["data"]["synthetic"],
        # Every verified label this version has seen, trained on or held out: the automatic
        # trigger counts labels beyond these.
        "verified_products": result["data"]["verified_products"] + eval_counts["verified_products"],
        "verified_products_held_out": eval_counts["verified_products"],
        "evaluation_renders": eval_counts["synthetic"],
        "seed": params.seed,
    }
    held_out = {f: r["accuracy"] for f, r in result["families"].items()}
    return Candidate(
        out=out,
        evaluated=candidate_eval,
        active_version=active_version or "none",
        active=active_eval,
        metrics={**registry.summary_metrics(result), "frozen_eval": candidate_eval},
        manifest=manifest,
        held_out={"held_out_synthetic_accuracy": held_out},
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="the retrain request id")
    args = parser.parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="fashiontag-train-"))
    try:
        summary = run(args.run, work_dir)
        log.info("run %s: %s", args.run, summary)
    except (Exception, SystemExit) as error:
        # SystemExit too: training code exits with a reason when it cannot train (too few
        # labels), and the run must say so rather than stay "running".
        log.exception("run %s failed", args.run)
        with contextlib.suppress(gexc.NotFound):  # no run record to mark
            retraining.update_run(args.run, status=retraining.FAILED, error=f"{type(error).__name__}: {error}")
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
