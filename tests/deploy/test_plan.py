"""scripts/deploy_plan.py, cloudbuild.yaml and `make deploy-plan`: what a deploy would run."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from fashiontag import topology
from fashiontag.tools.deploy_spec import Spec, SpecError
from scripts import deploy_plan
from scripts.deploy_plan import Target
from tests.deploy.conftest import ROOT

TARGET = Target(
    project="acme-tags",
    region="europe-west4",
    upload_bucket="acme-uploads",
    model_bucket="acme-models",
    tf_state_bucket="acme-tfstate",
    firebase_api_key="AIza-test-key",
)


@pytest.fixture(scope="module")
def plan(spec: Spec) -> dict[str, list[str]]:
    return deploy_plan.phases(spec, TARGET)


@pytest.fixture(scope="module")
def text(plan: dict[str, list[str]]) -> str:
    return deploy_plan.render(plan)


def _deploys(text: str) -> dict[str, list[str]]:
    """Function name -> argv of its `gcloud functions deploy` line."""
    found = {}
    for line in text.splitlines():
        if line.startswith("gcloud functions deploy "):
            argv = shlex.split(line)
            found[argv[3]] = argv
    return found


def test_the_plan_deploys_every_declared_function_with_its_settings(spec: Spec, text: str) -> None:
    deploys = _deploys(text)
    assert set(deploys) == {fn.name for fn in spec.functions.values()}
    for fn in spec.functions.values():
        argv = deploys[fn.name]
        assert "--gen2" in argv and f"--runtime={spec.runtime}" in argv
        assert f"--entry-point={fn.entry_point}" in argv
        assert f"--source=build/functions/{fn.folder}" in argv
        for flag in (
            f"--memory={fn.memory}",
            f"--cpu={fn.cpu}",
            f"--timeout={fn.timeout_s}s",
            f"--concurrency={fn.concurrency}",
            f"--min-instances={fn.min_instances}",
            f"--max-instances={fn.max_instances}",
            f"--service-account={fn.service_account}@acme-tags.iam.gserviceaccount.com",
        ):
            assert flag in argv, (fn.name, flag)
        env = next(a for a in argv if a.startswith("--set-env-vars="))
        assert "${" not in env and "GOOGLE_CLOUD_PROJECT=acme-tags" in env
        public = "--allow-unauthenticated" in argv
        assert public == fn.trigger.public
        assert public or "--no-allow-unauthenticated" in argv or fn.trigger.type == "storage"


def test_on_upload_gets_the_eventarc_storage_trigger_with_retries(text: str) -> None:
    argv = _deploys(text)["on-upload"]
    assert "--trigger-event-filters=type=google.cloud.storage.object.v1.finalized" in argv
    assert "--trigger-event-filters=bucket=acme-uploads" in argv
    assert "--trigger-location=europe-west4" in argv and "--retry" in argv
    assert "--trigger-service-account=fashiontag-trigger@acme-tags.iam.gserviceaccount.com" in argv


def test_classify_is_http_and_iam_authenticated(text: str) -> None:
    argv = _deploys(text)["classify"]
    assert "--trigger-http" in argv and "--no-allow-unauthenticated" in argv


def test_the_plan_names_every_topic_and_dead_letter_topic(text: str) -> None:
    for topic in topology.TOPICS:
        assert f"topic {topic}, dead letters to {topology.dead_letter(topic)}" in text
    for sub in topology.LOCAL_SUBSCRIPTIONS:
        assert sub.name in text and sub.dead_letter_topic in text


def test_the_eventarc_subscription_gets_the_local_retry_and_dead_letter_settings(text: str) -> None:
    bridge = next(s for s in topology.LOCAL_SUBSCRIPTIONS if s.target == "storage_bridge")
    update = next(line for line in text.splitlines() if line.startswith("gcloud pubsub subscriptions update"))
    assert f"--dead-letter-topic=projects/acme-tags/topics/{bridge.dead_letter_topic}" in update
    assert f"--max-delivery-attempts={bridge.max_delivery_attempts}" in update
    assert f"--min-retry-delay={bridge.retry.minimum_backoff_s}s" in update
    assert f"--max-retry-delay={bridge.retry.maximum_backoff_s}s" in update


def test_terraform_gets_every_value_and_the_state_bucket(text: str) -> None:
    assert "terraform -chdir=infra init -input=false -backend-config=bucket=acme-tfstate" in text
    apply = next(line for line in text.splitlines() if line.startswith("terraform -chdir=infra apply"))
    for flag in ("-var=project=acme-tags", "-var=region=europe-west4", "-var=upload_bucket=acme-uploads"):
        assert flag in apply


def test_the_plan_enables_the_apis_and_packages_every_function(spec: Spec, plan: dict[str, list[str]]) -> None:
    assert all(api in plan["10-apis.sh"][0] for api in deploy_plan.APIS)
    packaged = [shlex.split(line)[2] for line in plan["50-package.sh"]]
    assert packaged == list(spec.functions)


def test_the_training_image_is_built_pushed_and_given_to_the_job(plan: dict[str, list[str]]) -> None:
    image = "europe-west4-docker.pkg.dev/acme-tags/fashiontag/train:latest"
    registry = next(line for line in plan["20-registry.sh"] if line.startswith("terraform -chdir=infra apply"))
    assert "-target=google_artifact_registry_repository.images" in registry
    commands = [line for line in plan["30-training-image.sh"] if not line.startswith("#")]
    assert commands == [
        f"docker build -f infra/training/Dockerfile -t {image} .",
        f"docker push {image}",
    ]
    assert (ROOT / "infra" / "training" / "Dockerfile").is_file()
    infra = next(line for line in plan["40-infra.sh"] if line.startswith("terraform -chdir=infra apply"))
    assert f"-var=training_image={image}" in infra and "-target" not in infra


def test_a_prebuilt_training_image_is_used_as_it_is(spec: Spec) -> None:
    target = deploy_plan.Target("p", "r", "u", "m", "s", training_image="r-docker.pkg.dev/p/x/train@sha256:ab")
    plan = deploy_plan.phases(spec, target)
    assert not any(line.startswith("docker") for line in plan["30-training-image.sh"])
    assert "-var=training_image=r-docker.pkg.dev/p/x/train@sha256:ab" in " ".join(plan["40-infra.sh"])


def test_the_phase_scripts_are_valid_sh(tmp_path: Path, plan: dict[str, list[str]]) -> None:
    written = deploy_plan.write_scripts(plan, tmp_path)
    assert [p.name for p in written] == list(deploy_plan.PHASES)
    for path in written:
        assert path.read_text().startswith("#!/bin/sh\n")
        if shutil.which("sh"):
            subprocess.run(["sh", "-n", str(path)], check=True, timeout=10)


def test_the_command_line_prints_the_plan_and_refuses_missing_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy_plan.main(["--project=p1", "--region=r1"]) == 0
    out = capsys.readouterr().out
    assert "gcloud functions deploy on-upload" in out
    assert "# WARNING: admin sets FASHIONTAG_FIREBASE_API_KEY" in out  # printed, not fatal
    assert deploy_plan.main(["--project=p1", "--region=r1", "--strict"]) == 2
    with pytest.raises(SystemExit):
        deploy_plan.main(["--region=r1"])


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(SpecError, match="unknown placeholder"):
        TARGET.fill("${NOPE}")


def test_make_deploy_plan_calls_the_script() -> None:
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "deploy-plan", "PROJECT=acme-tags", "REGION=europe-west4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert 'scripts/deploy_plan.py --project="acme-tags" --region="europe-west4"' in done.stdout


# --- cloudbuild.yaml --------------------------------------------------------------------------------

BUILTINS = {"PROJECT_ID", "PROJECT_NUMBER", "BUILD_ID", "LOCATION", "COMMIT_SHA", "SHORT_SHA", "BRANCH_NAME"}


@pytest.fixture(scope="module")
def build() -> dict:
    loaded: dict = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    return loaded


def test_cloudbuild_lints_type_checks_and_runs_the_suite_on_the_emulators(build: dict) -> None:
    steps = {s["id"]: s for s in build["steps"]}
    assert ".venv/bin/ruff check" in " ".join(steps["lint"]["args"])
    assert ".venv/bin/mypy" in " ".join(steps["typecheck"]["args"])
    test = steps["test"]
    assert test["name"].startswith("python:3.11")
    assert "make test" in test["args"][-1]


def test_cloudbuild_runs_every_phase_the_plan_writes_in_order(build: dict) -> None:
    steps = build["steps"]
    ids = [s["id"] for s in steps]
    runs = {
        phase: next(s["id"] for s in steps if f"build/deploy/{phase}" in " ".join(s.get("args", [])))
        for phase in deploy_plan.PHASES
    }
    assert ids.index("plan") < min(ids.index(i) for i in runs.values())
    for step in steps:
        assert all(dep in ids[: ids.index(step["id"])] for dep in step.get("waitFor", [])), step["id"]
    plan_step = " ".join(next(s for s in steps if s["id"] == "plan")["args"])
    assert "--write-dir=build/deploy" in plan_step and "--strict" in plan_step


def test_cloudbuild_uses_only_substitutions_it_declares(build: dict) -> None:
    raw = (ROOT / "cloudbuild.yaml").read_text()
    body = "\n".join(line.split("#", 1)[0] for line in raw.splitlines())
    used = set(re.findall(r"(?<!\$)\$\{?([A-Z_][A-Z0-9_]*)\}?", body))
    declared = set(build["substitutions"]) | BUILTINS
    assert used - declared == set(), "undeclared (or a shell $VAR not escaped as $$VAR)"
    assert all(name.startswith("_") for name in build["substitutions"])
