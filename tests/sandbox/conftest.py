"""Fixtures of the sandbox tests: the real Docker engine, the runner images, tiny plugins."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import docker
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from omniscope_jupyter.errors import SandboxUnavailable
from omniscope_jupyter.sandbox.container import OWNER_LABEL, RUN_LABEL, docker_client
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.images import ensure_images, image_status
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.runner import SandboxRunner
from omniscope_jupyter.sandbox.settings import SandboxSettings
from omniscope_jupyter.store.orm import Base, Execution
from tests.prereq import missing

OWNER = f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def engine_client() -> docker.DockerClient:
    try:
        return docker_client()
    except SandboxUnavailable as exc:
        missing(f"Docker engine: {exc.message}")
        raise


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory: pytest.TempPathFactory) -> SandboxSettings:
    return SandboxSettings(
        memory="256m",
        cpus=1.0,
        timeout=60,
        log_cap_bytes=16 * 1024,
        owner=OWNER,
        work_dir=tmp_path_factory.mktemp("runs"),
    )


@pytest.fixture(scope="session")
def images(engine_client: docker.DockerClient, sandbox_settings: SandboxSettings) -> dict[str, str]:
    """Build the runner images once (cached by tag across sessions)."""
    status = image_status(engine_client, sandbox_settings)
    if not status["ready"] and os.geteuid() != 0 and not status.get("base", {}).get("present"):
        missing("sandbox images (build them once as root: omniplug sandbox build)")
    return ensure_images(engine_client, progress=print, settings=sandbox_settings)


@pytest.fixture(scope="session")
def runner(images: dict[str, str], sandbox_settings: SandboxSettings) -> Iterator[SandboxRunner]:
    runner = SandboxRunner(sandbox_settings)
    yield runner
    runner.shutdown()
    client = docker.from_env()
    # Containers whose process went (other processes' runs, runners whose engine connection was
    # cut) end on their own when their socket closes, or are reaped as a dead process's. A live
    # pool's (another directory's session runner) are its own teardown's to check.
    deadline = time.monotonic() + 60
    while True:
        labelled = client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={OWNER}"})
        left = [c for c in labelled if not runner.pool.keeps(c.labels or {})]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(1)
        runner.reap()
    assert not left, f"labelled containers left after the suite: {[c.labels for c in left]}"


@pytest.fixture
def service(runner: SandboxRunner, tmp_path: Path) -> ExecutionService:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    Base.metadata.create_all(engine)
    return ExecutionService(sessionmaker(engine, expire_on_commit=False), runner, runner.settings)


ServiceFactory = Callable[..., ExecutionService]


@pytest.fixture
def service_with(service: ExecutionService, images: dict[str, str]) -> Iterator[ServiceFactory]:
    """``service_with(max_concurrent_runs=2)``: a service on the same store with other settings."""
    made: list[SandboxRunner] = []

    def make(**changes: Any) -> ExecutionService:
        settings = replace(service.settings, **changes)
        made.append(SandboxRunner(settings))
        return ExecutionService(service.session_factory, made[-1], settings)

    yield make
    for runner in made:
        runner.close()


PluginFactory = Callable[..., PluginTarget]


@pytest.fixture
def make_plugin(tmp_path: Path) -> PluginFactory:
    """Write a one-file plugin (Python or R) with its manifest; return its PluginTarget."""

    def make(
        code: str,
        *,
        language: str = "python",
        permissions: tuple[str, ...] = ("read_data", "write_data"),
        config: dict[str, Any] | None = None,
        name: str = "probe",
        enabled: bool = True,
    ) -> PluginTarget:
        root = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        entry = f"{name}.{'R' if language == 'r' else 'py'}"
        (root / entry).write_text(textwrap.dedent(code))
        manifest = {
            "name": name,
            "version": "1.0.0",
            "language": language,
            "entry_point": entry,
            "extension_points": ["analysis", "preprocessing"],
            "permissions": list(permissions),
            "config": config or {},
        }
        (root / "manifest.json").write_text(json.dumps(manifest))
        root.chmod(0o755)
        for f in root.iterdir():
            f.chmod(0o644)
        return PluginTarget(
            plugin_id=f"{name}_{uuid.uuid4().hex[:6]}",
            version="1.0.0",
            path=root,
            manifest=manifest,
            enabled=enabled,
        )

    return make


@functools.cache
def _engine() -> docker.DockerClient:
    """One client for the polling helpers below: a new one per poll leaked its socket, and a
    leaked socket's ResourceWarning fails whichever test the garbage collector runs in."""
    return docker.from_env()


def labelled(execution_id: str) -> list[Any]:
    """Containers labelled with this run's id (one-shot ones; pooled ones carry a token)."""
    client = _engine()
    return client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={execution_id}"})


def with_token(token: str | None) -> list[Any]:
    """The container of a pool token, while it exists."""
    if not token:
        return []
    client = _engine()
    # Listed sparse, then inspected one by one: a container removed off the run's path in
    # between is gone, not an error (a plain list inspects inside and raises NotFound).
    found = []
    for container in client.containers.list(
        all=True, sparse=True, filters={"label": f"{RUN_LABEL}={token}"}
    ):
        try:
            container.reload()
        except docker.errors.NotFound:
            continue
        found.append(container)
    return found


def served_by(service: ExecutionService, execution_id: str) -> list[Any]:
    """The container that served a run of this process, while it exists."""
    return with_token(service.runner.served.get(execution_id))


def retired(service: ExecutionService, execution_id: str, seconds: float = 60) -> bool:
    """Whether the container that served a run is gone (its removal is off the run's path)."""
    deadline = time.monotonic() + seconds
    while served_by(service, execution_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def token_of(service: ExecutionService, execution_id: str) -> str | None:
    """The container token a running run's record names (any process's run)."""
    with service.session_factory() as session:
        row = session.get(Execution, execution_id)
        return None if row is None else (row.result or {}).get("sandbox")


# Another process on the same store (as `omniplug run` or a notebook kernel would be).
OTHER_PROCESS = """
import json, sys
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget
from omniscope_jupyter.sandbox.runner import SandboxRunner
from omniscope_jupyter.sandbox.settings import SandboxSettings

spec = json.loads(sys.argv[1])
settings = SandboxSettings(**{**spec["settings"], "work_dir": Path(spec["settings"]["work_dir"]),
                              "cache_dir": Path(spec["settings"]["cache_dir"])})
target = PluginTarget(**{**spec["target"], "path": Path(spec["target"]["path"])})
engine = create_engine(spec["db"])
service = ExecutionService(sessionmaker(engine, expire_on_commit=False), SandboxRunner(settings))
answer = service.run(target, spec["body"])
print(json.dumps({"status": answer["status"], "execution_id": answer["execution_id"]}))
"""


def start_other_process(
    service: ExecutionService, target: PluginTarget, body: dict[str, Any] | None = None
) -> subprocess.Popen[str]:
    """``omniplug run`` or a kernel on the same store: a process running ``target`` once."""
    engine = service.session_factory.kw["bind"]  # type: ignore[attr-defined]
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(service.settings).items()}
    body = body or {"extension_point": "analysis", "parameters": {"seconds": 60}}
    spec = {"settings": settings, "target": {**asdict(target), "path": str(target.path)},
            "db": str(engine.url), "body": body}
    return subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, json.dumps(spec)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_container(service: ExecutionService, target: PluginTarget) -> tuple[str, Any]:
    """The execution id and container of the other process's run, once it runs."""
    for _ in range(240):
        history = service.page(target.plugin_id)["executions"]
        if history and history[0]["status"] == "running":
            execution_id = history[0]["execution_id"]
            containers = with_token(token_of(service, execution_id))
            if containers and containers[0].status == "running":
                return execution_id, containers[0]
        time.sleep(0.25)
    pytest.fail("the other process's run never started")


def gone(token: str, seconds: float = 60) -> bool:
    """Whether the container of ``token`` disappears within ``seconds`` (not a timing test:
    a generous bound on something that must happen)."""
    deadline = time.monotonic() + seconds
    while with_token(token):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def run_in_a_killed_process(service: ExecutionService, target: Any) -> tuple[str, str]:
    """Start a run in another process, SIGKILL that process mid-run; the run's id and token."""
    other = start_other_process(service, target)
    try:
        execution_id, container = wait_for_container(service, target)
    finally:
        other.send_signal(signal.SIGKILL)
        other.communicate()
    return str(execution_id), str(container.labels[RUN_LABEL])
