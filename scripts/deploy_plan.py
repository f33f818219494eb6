"""``make deploy-plan``: print, never run, every command a deploy to Google Cloud runs.

The plan is generated from ``infra/functions.yaml`` (the declared functions, read by
``fashiontag.tools.deploy_spec``) and the Terraform in ``infra/``. Cloud Build runs exactly
these commands: its ``plan`` step calls this script with ``--write-dir`` and each later step
runs one of the phase scripts written there, so what a reviewer reads here is what the build does.

    python scripts/deploy_plan.py --project=my-project --region=europe-west1

Phases (one shell script each, POSIX ``sh`` so the Terraform image, which has no bash, runs
its own): enable APIs; create the image repository (a targeted Terraform apply); build and push
the training job's image (infra/training/Dockerfile); Terraform for everything else (buckets,
Pub/Sub, service accounts and roles, Firestore database, rules and indexes, scheduler, the
training job on that image); package the function bundles; deploy the functions and the
settings that only exist once a function does.
"""

from __future__ import annotations

import argparse
import shlex
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fashiontag import topology
from fashiontag.tools.deploy_spec import SPEC_PATH, Function, Spec, SpecError, load_spec

# APIs the Terraform resources and the function deploys use. The tests map every Terraform
# resource type to its API and fail when one is missing here.
APIS = (
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "eventarc.googleapis.com",
    "fcm.googleapis.com",  # notify's pushes (Firebase Cloud Messaging); no Terraform resource of its own
    "firebaserules.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "identitytoolkit.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
)

# Phase script names; cloudbuild.yaml runs each one in the image that has its tool.
PHASES = (
    "10-apis.sh",
    "20-registry.sh",
    "30-training-image.sh",
    "40-infra.sh",
    "50-package.sh",
    "60-functions.sh",
)
# The Artifact Registry repository (infra/training.tf) and the image the training job runs.
IMAGE_REPOSITORY = "fashiontag"
TRAINING_IMAGE_NAME = "train"
TRAINING_DOCKERFILE = "infra/training/Dockerfile"


@dataclass(frozen=True)
class Target:
    """Where to deploy: the values Cloud Build passes as substitutions."""

    project: str
    region: str
    upload_bucket: str
    model_bucket: str
    tf_state_bucket: str
    firebase_api_key: str = ""
    training_image: str = ""  # a prebuilt training image; empty: build one (phase 30) and use it
    image_tag: str = "latest"  # the tag of the image the deploy builds (Cloud Build: its BUILD_ID)
    bundle_root: str = "build/functions"
    python: str = ".venv/bin/python"

    def substitutions(self) -> dict[str, str]:
        return {
            "PROJECT": self.project,
            "REGION": self.region,
            "UPLOAD_BUCKET": self.upload_bucket,
            "MODEL_BUCKET": self.model_bucket,
            "FIREBASE_API_KEY": self.firebase_api_key,
        }

    def fill(self, value: str) -> str:
        """Replace ${PROJECT} and friends; an unknown placeholder is an error, not a literal."""
        try:
            return string.Template(value).substitute(self.substitutions())
        except (KeyError, ValueError) as error:
            raise SpecError(f"unknown placeholder in {value!r}: {error}") from None

    @property
    def builds_training_image(self) -> bool:
        return not self.training_image

    @property
    def training_image_ref(self) -> str:
        registry = f"{self.region}-docker.pkg.dev/{self.project}/{IMAGE_REPOSITORY}"
        return self.training_image or f"{registry}/{TRAINING_IMAGE_NAME}:{self.image_tag}"

    def sa_email(self, account_id: str) -> str:
        return f"{account_id}@{self.project}.iam.gserviceaccount.com"

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"


def _cmd(*argv: str) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def _env_flag(env: Mapping[str, str]) -> str:
    pairs = [f"{k}={v}" for k, v in sorted(env.items())]
    # gcloud splits on commas; a value holding one needs gcloud's alternate-delimiter syntax.
    if any("," in p for p in pairs):
        return "--set-env-vars=^|^" + "|".join(pairs)
    return "--set-env-vars=" + ",".join(pairs)


def apis_phase(target: Target) -> list[str]:
    return [_cmd("gcloud", "services", "enable", *APIS, f"--project={target.project}")]


def terraform_vars(target: Target) -> dict[str, str]:
    return {
        "project": target.project,
        "region": target.region,
        "upload_bucket": target.upload_bucket,
        "model_bucket": target.model_bucket,
        "training_image": target.training_image_ref,
    }


def pubsub_summary(spec: Spec) -> list[str]:
    """What Terraform creates in Pub/Sub, in words: fashiontag.topology, which tests/deploy
    checks infra/pubsub.tf against, for the functions this deploy declares."""
    lines = ["# Pub/Sub (infra/pubsub.tf, equal to fashiontag.topology; tests/deploy checks it):"]
    for topic in topology.TOPICS:
        lines.append(f"#   topic {topic}, dead letters to {topology.dead_letter(topic)}")
    storage = {fn.trigger.local_subscription: fn for fn in spec.functions.values() if fn.trigger.type == "storage"}
    for sub in topology.LOCAL_SUBSCRIPTIONS:
        policy = (
            f"retry {sub.retry.minimum_backoff_s}s..{sub.retry.maximum_backoff_s}s, "
            f"{sub.dead_letter_topic} after {sub.max_delivery_attempts} attempts"
        )
        if sub.name in storage:
            lines.append(f"#   Eventarc subscription of {storage[sub.name].name} (set after its deploy): {policy}")
        elif sub.target in spec.functions:
            lines.append(f"#   subscription {sub.name}: {sub.topic} -> {spec.functions[sub.target].name}, {policy}")
        else:
            lines.append(f"#   (not yet: {sub.name} -> {sub.target}, which is not deployed)")
    return lines


def _terraform_init(target: Target) -> str:
    return _cmd(
        "terraform",
        "-chdir=infra",
        "init",
        "-input=false",
        f"-backend-config=bucket={target.tf_state_bucket}",
        "-backend-config=prefix=fashiontag",
    )


def registry_phase(target: Target) -> list[str]:
    var_flags = [f"-var={k}={v}" for k, v in terraform_vars(target).items()]
    return [
        "# The image repository must exist before the training image is pushed, and the training",
        "# job cannot be created before its image exists: a targeted apply breaks that circle.",
        _terraform_init(target),
        _cmd(
            "terraform",
            "-chdir=infra",
            "apply",
            "-input=false",
            "-auto-approve",
            "-target=google_artifact_registry_repository.images",
            *var_flags,
        ),
    ]


def training_image_phase(target: Target) -> list[str]:
    if not target.builds_training_image:
        return [f"# The training job runs the prebuilt image {target.training_image}: nothing to build."]
    image = target.training_image_ref
    return [
        "# The training job's image: TensorFlow, the shared package and the shipped models.",
        _cmd("docker", "build", "-f", TRAINING_DOCKERFILE, "-t", image, "."),
        _cmd("docker", "push", image),
    ]


def infra_phase(target: Target, spec: Spec | None = None) -> list[str]:
    var_flags = [f"-var={k}={v}" for k, v in terraform_vars(target).items()]
    return [
        "# Buckets, Pub/Sub topics, dead-letter topics and subscriptions, service accounts and their",
        "# roles, the Firestore database with its rules (infra/firestore.rules) and composite",
        "# indexes, the retraining schedules and the training job: all in infra/*.tf.",
        *(pubsub_summary(spec) if spec else []),
        _terraform_init(target),
        _cmd("terraform", "-chdir=infra", "apply", "-input=false", "-auto-approve", *var_flags),
    ]


def package_phase(spec: Spec, target: Target) -> list[str]:
    return [
        _cmd(target.python, "scripts/package_function.py", fn.folder, f"{target.bundle_root}/{fn.folder}")
        for fn in spec.functions.values()
    ]


def deploy_command(spec: Spec, fn: Function, target: Target) -> str:
    argv = [
        "gcloud",
        "functions",
        "deploy",
        fn.name,
        "--gen2",
        f"--project={target.project}",
        f"--region={target.region}",
        f"--runtime={spec.runtime}",
        f"--source={target.bundle_root}/{fn.folder}",
        f"--entry-point={fn.entry_point}",
    ]
    trig = fn.trigger
    if trig.type == "storage":
        assert trig.event_type and trig.bucket and trig.service_account
        argv += [
            f"--trigger-event-filters=type={trig.event_type}",
            f"--trigger-event-filters=bucket={target.fill(trig.bucket)}",
            # Eventarc needs the trigger in the bucket's location; the bucket lives in REGION.
            f"--trigger-location={target.region}",
            f"--trigger-service-account={target.sa_email(trig.service_account)}",
            "--retry" if trig.retry else "--no-retry",
        ]
    elif trig.public:
        # Reachable by browsers; the function authenticates every request itself (why_public).
        argv += ["--trigger-http", "--allow-unauthenticated"]
    else:
        # HTTP functions and Pub/Sub push targets alike: IAM-authenticated.
        argv += ["--trigger-http", "--no-allow-unauthenticated"]
    argv += [
        f"--memory={fn.memory}",
        f"--cpu={fn.cpu}",
        f"--timeout={fn.timeout_s}s",
        f"--concurrency={fn.concurrency}",
        f"--min-instances={fn.min_instances}",
        f"--max-instances={fn.max_instances}",
        f"--service-account={target.sa_email(fn.service_account)}",
        f"--ingress-settings={fn.ingress}",
        _env_flag({k: target.fill(v) for k, v in fn.env.items()}),
        "--quiet",
    ]
    return _cmd(*argv)


def _invoker(fn: Function, target: Target, member: str) -> str:
    return _cmd(
        "gcloud",
        "functions",
        "add-invoker-policy-binding",
        fn.name,
        f"--project={target.project}",
        f"--region={target.region}",
        f"--member={member}",
    )


def after_deploy(fn: Function, target: Target) -> list[str]:
    """What can only be set once the function (its Cloud Run service, its trigger) exists."""
    trig = fn.trigger
    lines: list[str] = []
    if trig.service_account:
        # Eventarc, Pub/Sub push and Cloud Scheduler call the function as the trigger account.
        lines.append(_invoker(fn, target, f"serviceAccount:{target.sa_email(trig.service_account)}"))
    lines += [_invoker(fn, target, target.fill(member)) for member in trig.invokers]
    if trig.type == "storage":
        assert trig.delivery
        d = trig.delivery
        where = f"--project={target.project}"
        lines += [
            "# Eventarc created the Pub/Sub subscription carrying the bucket's events; give it the",
            f"# retry and dead-letter settings of its local stand-in {trig.local_subscription}.",
            "TRIGGER=$("
            + _cmd("gcloud", "functions", "describe", fn.name, "--gen2", where, f"--region={target.region}")
            + " --format='value(eventTrigger.trigger)')",
            'SUBSCRIPTION=$(gcloud eventarc triggers describe "$TRIGGER"'
            " --format='value(transport.pubsub.subscription)')",
            'gcloud pubsub subscriptions update "$SUBSCRIPTION" '
            + _cmd(
                f"--dead-letter-topic={target.topic_path(d.dead_letter_topic)}",
                f"--max-delivery-attempts={d.max_delivery_attempts}",
                f"--min-retry-delay={d.min_backoff_s}s",
                f"--max-retry-delay={d.max_backoff_s}s",
            ),
            "# Dead-lettering needs the Pub/Sub service agent to read the subscription.",
            'gcloud pubsub subscriptions add-iam-policy-binding "$SUBSCRIPTION" '
            '"--member=serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com" '
            "--role=roles/pubsub.subscriber",
        ]
    return lines


def functions_phase(spec: Spec, target: Target) -> list[str]:
    lines = [
        f"PROJECT_NUMBER=$(gcloud projects describe {shlex.quote(target.project)} --format='value(projectNumber)')"
    ]
    for fn in spec.functions.values():
        lines += [f"# --- {fn.name} (functions/{fn.folder}, {fn.trigger.type} trigger)"]
        lines += [deploy_command(spec, fn, target)]
        lines += after_deploy(fn, target)
    return lines


def missing_values(spec: Spec, target: Target) -> list[str]:
    """Substitutions a declared function uses but this deploy was not given."""
    return [
        f"{fn.folder} sets {name} from ${{{key}}}, which is empty (--{key.lower().replace('_', '-')})"
        for fn in spec.functions.values()
        for name, value in fn.env.items()
        for key, given in target.substitutions().items()
        if f"${{{key}}}" in value and not given
    ]


def phases(spec: Spec, target: Target) -> dict[str, list[str]]:
    return {
        PHASES[0]: apis_phase(target),
        PHASES[1]: registry_phase(target),
        PHASES[2]: training_image_phase(target),
        PHASES[3]: infra_phase(target, spec),
        PHASES[4]: package_phase(spec, target),
        PHASES[5]: functions_phase(spec, target),
    }


def render(plan: Mapping[str, list[str]]) -> str:
    out = [
        "# fashiontag deploy plan: the commands a deploy runs, in order. Nothing was run.",
        "# Cloud Build runs each section as its own script (cloudbuild.yaml).",
    ]
    for name, lines in plan.items():
        out += ["", f"# ===== {name} =====", *lines]
    return "\n".join(out) + "\n"


def write_scripts(plan: Mapping[str, list[str]], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, lines in plan.items():
        path = out_dir / name
        path.write_text(
            "#!/bin/sh\n# Written by scripts/deploy_plan.py; do not edit.\nset -eux\n" + "\n".join(lines) + "\n"
        )
        path.chmod(0o755)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--project", required=True, help="Google Cloud project id")
    parser.add_argument("--region", required=True, help="region of functions, buckets and jobs")
    parser.add_argument("--upload-bucket", help="default: PROJECT-uploads (the code's default)")
    parser.add_argument("--model-bucket", help="default: PROJECT-models")
    parser.add_argument("--tf-state-bucket", help="default: PROJECT-tfstate (created once, docs/deploy.md)")
    parser.add_argument("--firebase-api-key", default="", help="the project's Firebase Web API key (admin page)")
    parser.add_argument("--training-image", default="", help="a prebuilt training image (default: build one)")
    parser.add_argument("--image-tag", default="latest", help="tag of the training image the deploy builds")
    parser.add_argument("--strict", action="store_true", help="fail when a value a function needs is missing")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH, help="the declared functions")
    parser.add_argument("--write-dir", type=Path, help="also write one sh script per phase here")
    args = parser.parse_args(argv)
    if not args.project or not args.region:
        parser.error("--project and --region must not be empty (make deploy-plan PROJECT=... REGION=...)")
    target = Target(
        project=args.project,
        region=args.region,
        upload_bucket=args.upload_bucket or f"{args.project}-uploads",
        model_bucket=args.model_bucket or f"{args.project}-models",
        tf_state_bucket=args.tf_state_bucket or f"{args.project}-tfstate",
        firebase_api_key=args.firebase_api_key,
        training_image=args.training_image,
        image_tag=args.image_tag or "latest",
    )
    try:
        spec = load_spec(args.spec)
        plan = phases(spec, target)
    except SpecError as error:
        print(f"deploy_plan: {error}", file=sys.stderr)
        return 2
    missing = missing_values(spec, target)
    if missing and args.strict:
        print(f"deploy_plan: {'; '.join(missing)}", file=sys.stderr)
        return 2
    for problem in missing:
        print(f"# WARNING: {problem}")
    sys.stdout.write(render(plan))
    if args.write_dir:
        for path in write_scripts(plan, args.write_dir):
            print(f"# wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
