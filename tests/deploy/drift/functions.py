"""The declared functions against their code and Cloud Run's limits: entry points, triggers,
settings, service accounts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fashiontag.tools.deploy_spec import Spec
from tests.deploy import terraform as tf
from tests.deploy.drift.repo import Repo, attr_values, parse

# Cloud Run functions (2nd gen) limits and choices the declaration must respect.
GEN2_MEMORY = ("128Mi", "256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi")
EVENT_TIMEOUT_MAX_S = 540
HTTP_TIMEOUT_MAX_S = 3600
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")
ACCOUNT_PATTERN = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def decorated_entry_points(main_py: Path) -> dict[str, str]:
    """Function name -> ``http`` or ``cloud_event`` for every functions-framework entry point."""
    found: dict[str, str] = {}
    for node in ast.walk(parse(main_py)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            target = dec.func if isinstance(dec, ast.Call) else dec
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
            if name in ("http", "cloud_event"):
                found[node.name] = name
    return found


def check_functions(repo: Repo, spec: Spec) -> list[str]:
    problems = []
    folders = repo.function_folders()
    for folder in sorted(folders - set(spec.functions)):
        problems.append(
            f"functions/{folder}/main.py exists but {folder} is not declared in infra/functions.yaml "
            "(it would never be deployed)"
        )
    for folder in sorted(set(spec.functions) - folders):
        problems.append(f"infra/functions.yaml declares {folder} but functions/{folder}/main.py does not exist")
    for folder in sorted(set(spec.functions) & folders):
        fn = spec.functions[folder]
        entry_points = decorated_entry_points(repo.functions / folder / "main.py")
        kind = entry_points.get(fn.entry_point)
        if kind is None:
            problems.append(
                f"{folder}: entry point {fn.entry_point!r} is not a functions-framework function in "
                f"functions/{folder}/main.py (found: {sorted(entry_points) or 'none'})"
            )
        elif kind != fn.trigger.decorator:
            problems.append(
                f"{folder}: a {fn.trigger.type} trigger delivers to @functions_framework.{fn.trigger.decorator}, "
                f"but {fn.entry_point} is decorated @functions_framework.{kind}"
            )
        if not (repo.functions / folder / "requirements.txt").is_file():
            problems.append(f"functions/{folder}/requirements.txt is missing")
    return problems


def check_settings(spec: Spec) -> list[str]:
    problems = []
    match = re.fullmatch(r"python3(\d+)", spec.runtime)
    if not match or int(match.group(1)) < 11:
        problems.append(f"runtime {spec.runtime!r}: needs python311 or newer")
    names = [fn.name for fn in spec.functions.values()]
    accounts = [fn.service_account for fn in spec.functions.values()]
    if len(set(names)) != len(names):
        problems.append(f"two functions share a name: {names}")
    if len(set(accounts)) != len(accounts):
        problems.append(f"functions share a service account (one per function, least privilege): {accounts}")
    for fn in spec.functions.values():
        where = fn.folder
        if not NAME_PATTERN.fullmatch(fn.name):
            problems.append(f"{where}: name {fn.name!r} is not a valid 2nd gen name (lowercase, digits, hyphens)")
        if fn.memory not in GEN2_MEMORY:
            problems.append(f"{where}: memory {fn.memory!r} is not one of {GEN2_MEMORY}")
        if fn.concurrency > 1 and float(fn.cpu) < 1:
            problems.append(f"{where}: concurrency {fn.concurrency} needs cpu >= 1 (has {fn.cpu})")
        limit = HTTP_TIMEOUT_MAX_S if fn.trigger.type == "http" else EVENT_TIMEOUT_MAX_S
        if not 1 <= fn.timeout_s <= limit:
            problems.append(f"{where}: timeout {fn.timeout_s}s outside 1..{limit}s for a {fn.trigger.type} trigger")
        if not 0 <= fn.min_instances <= fn.max_instances:
            problems.append(f"{where}: min_instances {fn.min_instances} > max_instances {fn.max_instances}")
        for account in filter(None, (fn.service_account, fn.trigger.service_account)):
            if not ACCOUNT_PATTERN.fullmatch(account):
                problems.append(f"{where}: {account!r} is not a valid service account id (6-30 chars)")
        if fn.trigger.type == "storage" and not fn.trigger.retry:
            problems.append(f"{where}: storage trigger without retry: a transient failure would drop the upload")
        if fn.trigger.public and (fn.trigger.subscriptions or fn.trigger.invokers or fn.trigger.service_account):
            problems.append(f"{where}: a public function needs no invokers or push identity")
    return problems


def check_service_accounts(spec: Spec, cfg: tf.Config) -> list[str]:
    problems = []
    accounts = {str(a) for _, a in attr_values(cfg, "google_service_account", "account_id")}
    project_roles = {
        (str(cfg.attr(i, "role")), str(cfg.attr(i, "member"))) for i in cfg.instances("google_project_iam_member")
    }
    for fn in spec.functions.values():
        for account in filter(None, (fn.service_account, fn.trigger.service_account)):
            if account not in accounts:
                problems.append(f"{fn.folder}: service account {account} is not created in infra/iam.tf")
        if fn.trigger.type == "storage":
            if ("roles/eventarc.eventReceiver", f"serviceAccount:{fn.trigger.service_account}") not in project_roles:
                problems.append(
                    f"{fn.folder}: trigger account {fn.trigger.service_account} lacks eventarc.eventReceiver"
                )
            if not any(
                role == "roles/pubsub.publisher" and "google_storage_project_service_account" in member
                for role, member in project_roles
            ):
                problems.append(
                    "the Cloud Storage service agent lacks pubsub.publisher: storage triggers get no events"
                )
    return problems
