"""First use without friction (issue 12, items 3-7): what a newcomer meets on the first day.

Honest timeouts, no false refusals of the spec's own steps, checked parameters, a dev loop
without version bumps, and answers that read the same everywhere. Only the two runner tests need
Docker; the rest run the real pipeline on a temporary store, with the sandbox's runner faked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from omniscope_jupyter import archive
from omniscope_jupyter.cli import main
from omniscope_jupyter.config import OmniscopeConfig, open_system
from omniscope_jupyter.core.lifecycle import PluginManager
from omniscope_jupyter.errors import InvalidPackage, InvalidRequest
from omniscope_jupyter.extension_points import EXTENSION_POINT_NAMES
from omniscope_jupyter.manifest import validate_manifest
from omniscope_jupyter.marketplace import Marketplace
from omniscope_jupyter.sandbox.executions import ExecutionService
from omniscope_jupyter.sandbox.jobs import PluginTarget, build_request
from omniscope_jupyter.sandbox.runner import RunOutcome, RunRequest, SandboxRunner
from omniscope_jupyter.sandbox.settings import SandboxSettings
from omniscope_jupyter.scan.scanner import PackageScanner
from omniscope_jupyter.sdk import create_project
from omniscope_jupyter.store import Execution, HistoryEntry, Plugin

from .api import assert_error, call, upload
from .helpers import REPO, manifest

EXAMPLES = REPO / "plugins" / "examples"
pytestmark = pytest.mark.timeout(120)


def _no_r(*args: Any) -> str:
    raise AssertionError("this test scans no R")


def target_of(tmp_path: Path, **fields: Any) -> PluginTarget:
    """An enabled installed plugin as a run sees it, its manifest made of ``fields``."""
    m = manifest(dependencies=[], **fields)
    return PluginTarget(plugin_id=m["name"], version=m["version"], path=tmp_path, manifest=m)


class FakeRunner(SandboxRunner):
    """A runner that keeps each request and answers ``outcome`` without Docker."""

    def __init__(self, settings: SandboxSettings, outcome: RunOutcome) -> None:
        super().__init__(settings)
        self.outcome = outcome
        self.requests: list[RunRequest] = []

    def run(self, request: RunRequest, cancelled: Callable[[], bool] | None = None) -> RunOutcome:
        self.requests.append(request)
        return self.outcome


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[PluginManager]:
    """A store with the real scanner (Python only) and declared dependencies."""
    store = PluginManager(tmp_path / "store", scanner=PackageScanner(r_runner=_no_r))
    yield store
    store.close()


def service_with(manager: PluginManager, outcome: RunOutcome, **settings: Any) -> ExecutionService:
    config = SandboxSettings(work_dir=manager.layout.data_dir / "runs", **settings)
    return ExecutionService(manager.sessions, FakeRunner(config, outcome), config)


# -- 3. honest timeouts ---------------------------------------------------------------------


def test_a_run_gets_the_default_timeout_asks_up_to_the_maximum_and_no_more(
    tmp_path: Path,
) -> None:
    settings = OmniscopeConfig().sandbox_settings()
    assert (settings.timeout, settings.max_timeout) == (60.0, 600.0)
    target = target_of(tmp_path)
    limits = {"max_timeout": settings.max_timeout, "default_timeout": settings.timeout}
    asked = {None: 60.0, 300: 300.0, 600: 600.0}
    for timeout, granted in asked.items():
        body = {} if timeout is None else {"timeout": timeout}
        request, warnings = build_request("x", target, body, **limits)
        assert (request.timeout, warnings) == (granted, [])
    with pytest.raises(InvalidRequest, match=r"timeout 601 s is above .* maximum of 600 s"):
        build_request("x", target, {"timeout": 601}, **limits)


async def test_a_timeout_above_the_maximum_is_a_400(
    jp_fetch: Any, package: Callable[..., Path]
) -> None:
    assert (await upload(jp_fetch, package(dependencies=[])))[0] == 201
    await call(jp_fetch, "POST", "my_plugin", "enable")
    status, body = await call(jp_fetch, "POST", "my_plugin", "execute", body={"timeout": 3600})
    assert_error(status, body, 400, "maximum of 600 s", "sandbox_max_timeout")


# -- 4. no false refusals, no blind spots -----------------------------------------------------


def test_the_spec_tar_of_a_scaffold_whose_test_ran_installs_without_its_caches(
    tmp_path: Path, manager: PluginManager
) -> None:
    """The spec's steps: create, run the scaffold's own test, ``tar -czf``, install."""
    create_project(tmp_path, {"name": "my_plugin"})
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"], cwd=tmp_path / "my_plugin", env=env,
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert (tmp_path / "my_plugin" / "__pycache__").is_dir()
    assert (tmp_path / "my_plugin" / ".pytest_cache").is_dir()
    subprocess.run(["tar", "-czf", "my_plugin.tar.gz", "my_plugin/"], cwd=tmp_path, check=True)
    result = manager.install(tmp_path / "my_plugin.tar.gz")
    assert result["scan"]["passed"] and result["action"] == "installed"
    [warning] = [w for w in result["warnings"] if "left out" in w]
    assert "__pycache__/" in warning and ".pytest_cache/" in warning
    installed = manager.installed("my_plugin").path
    assert sorted(p.name for p in installed.iterdir()) == [
        ".gitignore", "README.md", "manifest.json", "my_plugin.py", "test_my_plugin.py",
    ]  # fmt: skip


def test_installing_a_folder_says_what_packing_left_out(tmp_path: Path) -> None:
    created = Path(create_project(tmp_path, {"name": "packed"})["path"])
    (created / "__pycache__").mkdir()
    (created / "__pycache__" / "packed.cpython-313.pyc").write_bytes(b"\x00stale")
    system = open_system(data_dir=str(tmp_path / "store"), user="ana")
    try:
        result = system.install(created)
    finally:
        system.close()
    assert result["scan"]["passed"]
    assert any("__pycache__/" in w for w in result["warnings"]), result["warnings"]


# -- 5. parameters have a schema too ---------------------------------------------------------

PARAMETERS = {
    "method": {"type": "string", "choices": ["zscore", "minmax"], "description": "How"},
    "ddof": {"type": "integer", "minimum": 0, "maximum": 1, "default": 1, "description": "d"},
    "column": {"type": "string", "required": True, "description": "Which column"},
}


def test_manifest_checks_choices_bounds_and_required_in_config_and_parameters() -> None:
    assert validate_manifest(manifest(parameters=PARAMETERS)).data["parameters"] == PARAMETERS
    assert "parameters" not in validate_manifest(manifest()).data  # absent stays absent: unchecked
    required_config = {"k": {"type": "number", "required": True, "description": "k"}}
    assert validate_manifest(manifest(config=required_config)).data["config"] == required_config
    bad = {
        "a": {"type": "string", "choices": ["x"], "default": "y"},
        "b": {"type": "integer", "minimum": 5, "maximum": 1},
        "c": {"type": "string", "minimum": 0},
        "d": {"type": "number", "required": "yes"},
        "e": {"type": "integer", "maximum": 10, "default": 11},
    }
    with pytest.raises(InvalidPackage) as raised:
        validate_manifest(manifest(config={"n": {"type": "number"}}, parameters=bad))
    assert sorted(p.split(":")[0] for p in raised.value.details["problems"]) == [
        "config.n.default",
        "parameters.a.default",
        "parameters.b.minimum",
        "parameters.c.minimum",
        "parameters.d.required",
        "parameters.e.default",
    ]


@pytest.mark.parametrize(
    ("parameters", "fragments"),
    [
        ({"methd": "zscore", "column": "a"}, ["unknown parameter 'methd'", "mean 'method'"]),
        ({"method": "log", "column": "a"}, ["'method' must be one of 'zscore', 'minmax'"]),
        ({"ddof": 2, "column": "a"}, ["'ddof' must be at most 1, got 2"]),
        ({"ddof": "1", "column": "a"}, ["'ddof' must be of type integer, got str"]),
        ({"method": "zscore"}, ["parameter 'column' is required"]),
    ],
)
def test_parameters_are_checked_against_the_declared_schema(
    tmp_path: Path, parameters: dict[str, Any], fragments: list[str]
) -> None:
    target = target_of(tmp_path, parameters=PARAMETERS)
    with pytest.raises(InvalidRequest) as raised:
        build_request("x", target, {"parameters": parameters}, max_timeout=600)
    for fragment in fragments:
        assert fragment in raised.value.message, raised.value.message


def test_declared_parameters_get_their_defaults_and_undeclared_pass_unchecked(
    tmp_path: Path,
) -> None:
    checked = target_of(tmp_path, parameters=PARAMETERS)
    request, _ = build_request("x", checked, {"parameters": {"column": "a"}}, max_timeout=600)
    assert request.parameters == {"column": "a", "ddof": 1}
    free = target_of(tmp_path)
    request, _ = build_request("x", free, {"parameters": {"anything": [1]}}, max_timeout=600)
    assert request.parameters == {"anything": [1]}


@pytest.mark.parametrize(
    ("example", "good", "bad", "fragment"),
    [
        ("data_normalizer", {"method": "robust"}, {"methd": "zscore"}, "did you mean 'method'"),
        ("data_normalizer", {"ddof": 0}, {"method": "log"}, "'zscore', 'minmax', 'robust'"),
        ("correlation_analyzer", {"threshold": 0.5}, {"threshold": 2}, "must be at most 1"),
        ("outlier_detector", {"columns": ["a"]}, {"method": "lof"}, "'iqr', 'zscore'"),
    ],
)
def test_the_examples_declare_their_parameters(
    example: str, good: dict[str, Any], bad: dict[str, Any], fragment: str
) -> None:
    folder = EXAMPLES / example
    data = validate_manifest(json.loads((folder / "manifest.json").read_text()), folder).as_dict()
    target = PluginTarget(example, data["version"], folder, data)
    body = {"extension_point": data["extension_points"][0], "input_data": {"a": [1.0, 2.0]}}
    request, _ = build_request("x", target, {**body, "parameters": good}, max_timeout=600)
    assert request.parameters == good
    with pytest.raises(InvalidRequest, match=fragment):
        build_request("x", target, {**body, "parameters": bad}, max_timeout=600)


def test_the_scaffold_declares_what_it_reads(tmp_path: Path) -> None:
    """Each scaffold's manifest declares every parameter its processing reads, and ``method``."""
    for point in sorted(EXTENSION_POINT_NAMES):
        for language in ("python", "r"):
            name = f"p_{point}_{language}"
            made = create_project(
                tmp_path, {"name": name, "language": language, "extension_points": [point]}
            )
            source = (Path(made["path"]) / made["manifest"]["entry_point"]).read_text()
            declared = set(made["manifest"]["parameters"])
            read = _parameters_read(source)
            assert "method" in declared and read <= declared, (point, language, read - declared)


def _parameters_read(source: str) -> set[str]:
    """Names a plugin's code reads from ``parameters`` (``.get("x"`` or ``parameters$x``)."""
    found = re.findall(r"parameters\.get\(\s*[\"'](\w+)", source)
    found += re.findall(r"parameters\$(\w+)", source)
    found += re.findall(r"parameters\[\[\s*[\"'](\w+)", source)
    return set(found)


def test_several_extension_points_and_none_named_is_a_400_listing_them(tmp_path: Path) -> None:
    target = target_of(tmp_path, extension_points=["analysis", "preprocessing"])
    with pytest.raises(InvalidRequest, match="several extension points.*analysis, preprocessing"):
        build_request("x", target, {}, max_timeout=600)


# -- 6. a dev loop without version bumps -------------------------------------------------------


def test_dev_replaces_in_place_is_marked_everywhere_and_never_published(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--data-dir", str(tmp_path / "store"), "--json"]
    project = Path(create_project(tmp_path, {"name": "loop"})["path"])
    assert main(["dev", str(project), "--enable", *store]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["version"], first["active_version"], first["dev"]) == ("1.0.0-dev",) * 2 + (
        True,
    )
    entry = project / "loop.py"
    entry.write_text(entry.read_text().replace("Processing completed", "Second try"))
    assert main(["dev", str(project), *store]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["action"], second["version"]) == ("replaced", "1.0.0-dev")
    system = open_system(data_dir=str(tmp_path / "store"), user="ana")
    try:
        details = system.details("loop")
        assert details["versions"] == ["1.0.0-dev"] and details["dev"] is True
        assert [v["dev"] for v in details["versions_detail"]] == [True]
        assert [p["dev"] for p in system.list_plugins()] == [True]
        history = system.history("loop")
        assert [(h["action"], h["dev"]) for h in history] == [
            ("install-dev", True), ("enable", True), ("replace-dev", True),
        ]  # fmt: skip
        installed = system._manager.installed("loop").path
        assert "Second try" in (installed / "loop.py").read_text()
        assert len(list(installed.parent.iterdir())) == 1  # the replaced folder is gone
        manifest_file = project / "manifest.json"
        manifest_file.write_text(manifest_file.read_text().replace('"1.0.0"', '"1.0.0-dev"', 1))
        packed = tmp_path / "loop.tar.gz"
        archive.pack(project, packed)
        with pytest.raises(InvalidPackage, match="development version and is never published"):
            system.publish(packed)
        with pytest.raises(InvalidPackage, match="omniplug dev"):
            system.install(packed)  # a -dev manifest is not a release to install
    finally:
        system.close()


def test_install_if_missing_and_upgrade_are_idempotent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--data-dir", str(tmp_path / "store"), "--json"]
    project = Path(create_project(tmp_path, {"name": "nb"})["path"])

    def install(*flags: str) -> dict[str, Any]:
        assert main(["install", str(project), *flags, *store]) == 0
        return dict(json.loads(capsys.readouterr().out))

    assert install("--if-missing")["action"] == "installed"
    again = install("--if-missing")
    assert (again["action"], again["version"], again["warnings"]) == ("unchanged", "1.0.0", [])
    path = project / "manifest.json"
    path.write_text(path.read_text().replace('"version": "1.0.0"', '"version": "1.1.0"'))
    upgraded = install("--upgrade")
    assert (upgraded["action"], upgraded["active_version"]) == ("upgraded", "1.1.0")
    assert install("--upgrade")["action"] == "unchanged"
    path.write_text(path.read_text().replace('"version": "1.1.0"', '"version": "1.0.5"'))
    older = install("--upgrade")
    assert (older["action"], older["active_version"]) == ("unchanged", "1.1.0")
    assert main(["install", str(project), "--if-missing", "--upgrade", *store]) == 2


# -- 7. consistent answers --------------------------------------------------------------------


def test_every_stored_time_reads_back_timezone_aware_utc(
    manager: PluginManager, tmp_path: Path
) -> None:
    """SQLite keeps no offset: a record read back (e.g. ``started_at``) must not turn naive."""
    manager.install(_package(tmp_path, "timed"))
    with manager.sessions.begin() as s:
        s.add(Execution(id="e1", plugin_name="timed", version="1.0.0", extension_point="analysis",
                        status="running"))  # fmt: skip
    with manager.sessions() as s:
        times = [s.scalars(select(Execution)).one().started_at]
        times += [s.scalars(select(Plugin)).one().installed_at]
        times += [h.at for h in s.scalars(select(HistoryEntry))]
    assert times and all(t.utcoffset() == timedelta(0) for t in times), times


def test_a_review_shows_its_authors_current_rating_and_rate_answers_like_review(
    manager: PluginManager, package: Callable[..., Path]
) -> None:
    manager.install(package(dependencies=[]))
    market = Marketplace(manager)
    reviewed = market.reviews.review("my_plugin", "Good start.", rating=2, user="bob")
    rated = market.reviews.rate("my_plugin", 5, user="bob")
    assert set(reviewed) - {"review"} == set(rated)
    assert (rated["user_rating"], rated["rating"]) == (5, {"average": 5.0, "count": 1})
    assert (reviewed["user_rating"], reviewed["review"]["rating"]) == (2, 2)
    [shown] = market.reviews.list("my_plugin")["reviews"]
    assert (shown["text"], shown["rating"]) == ("Good start.", 5)


def test_a_frame_too_large_for_the_history_warns_nobody(
    manager: PluginManager, tmp_path: Path
) -> None:
    """That the history keeps only the shape is the server's concern: a log line, no warning."""
    big = pd.DataFrame({"x": range(250_000)})
    service = service_with(manager, RunOutcome(status="succeeded", data=big))
    manager.install(_package(tmp_path, "big"))
    manager.set_enabled("big", True)
    answer = service.run_frame(manager.installed("big"), pd.DataFrame({"a": [1]})).answer
    assert answer["status"] == "succeeded" and answer["warnings"] == []
    assert service._get("big", answer["execution_id"])["data"] is None


def test_a_series_is_a_one_column_frame_and_duplicate_columns_are_named(
    manager: PluginManager, tmp_path: Path
) -> None:
    service = service_with(manager, RunOutcome(status="succeeded"))
    manager.install(_package(tmp_path, "cols"))
    manager.set_enabled("cols", True)
    target = manager.installed("cols")
    service.run_frame(target, pd.Series([1.0, 2.0], name="x"))
    service.run_frame(target, pd.Series([3, 4]))
    sent = [r.data for r in service.runner.requests]  # type: ignore[attr-defined]
    assert [list(f.columns) for f in sent] == [["x"], ["value"]]
    assert sent[0]["x"].tolist() == [1.0, 2.0]
    twice = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"])
    with pytest.raises(InvalidRequest, match="duplicate column name.*'a'; give every column"):
        service.run_frame(target, twice)
    split = {"columns": ["a", "a"], "index": [0], "data": [[1, 2]]}
    with pytest.raises(InvalidRequest, match="duplicate column name"):
        service.run(target, {"input_data": split})


def _package(tmp_path: Path, name: str) -> Path:
    from .helpers import build_package

    return build_package(
        tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.tar.gz", top=name, name=name,
        entry_point=f"{name}.py", dependencies=[],
    )  # fmt: skip


R_FAILS = """
Probe <- setRefClass("Probe",
  fields = list(plugin_id = "character", config = "list"),
  methods = list(
    helper = function(x) {
      stop("no good input: ", x)
    },
    execute = function(input_data) {
      .self$helper(3)
    }
  )
)
"""
PY_FAILS = """
class Probe:
    def helper(self, x):
        raise ValueError(f"no good input: {x}")

    def execute(self, input_data):
        return self.helper(3)
"""


@pytest.mark.docker
@pytest.mark.timeout(300)
@pytest.mark.usefixtures("docker_ready")
@pytest.mark.parametrize("language", ["r", "python"])
def test_errors_show_the_plugins_message_and_frames_not_the_runners(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, language: str
) -> None:
    entry = "probe.R" if language == "r" else "probe.py"
    root = tmp_path / "probe"
    root.mkdir(mode=0o755)
    (root / entry).write_text(R_FAILS if language == "r" else PY_FAILS)
    (root / entry).chmod(0o644)
    target = PluginTarget("probe", "1.0.0", root, manifest(
        name="probe", language=language, entry_point=entry, dependencies=[], config={},
    ))  # fmt: skip
    # A short work dir: the pool's control socket lives in it, and socket paths are short.
    runs = tmp_path_factory.mktemp("runs")
    settings = SandboxSettings(owner=f"test-{uuid.uuid4().hex[:8]}", work_dir=runs)
    runner = SandboxRunner(settings)
    try:
        answer = _run_recorded(runner, settings, tmp_path, target)
    finally:
        runner.shutdown()  # drains its pool: no container of this test outlives it
    assert answer["status"] == "failed"
    message, stack = answer["errors"]
    if language == "r":
        assert message == "Error in .self$helper(3) : no good input: 3"
        assert stack.splitlines()[:3] == [
            "R call stack (most recent call first):",
            '3: stop("no good input: ", x) at probe.R#6',
            "2: .self$helper(3) at probe.R#9",
        ]
    else:
        assert message == "ValueError: no good input: 3"
        assert 'File "/plugin/probe.py", line 7, in execute' in stack
    for runner_detail in ("rpy2", "omniscope_runner", "importlib"):
        assert runner_detail not in stack, stack


def _run_recorded(
    runner: SandboxRunner, settings: SandboxSettings, tmp_path: Path, target: PluginTarget
) -> dict[str, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from omniscope_jupyter.store.orm import Base

    engine = create_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    Base.metadata.create_all(engine)
    service = ExecutionService(sessionmaker(engine, expire_on_commit=False), runner, settings)
    return service.run(target, {"input_data": {"a": [1, 2]}})



async def test_idempotent_and_dev_installs_through_rest(
    jp_fetch: Any, package: Callable[..., Path]
) -> None:
    """The install route takes the same flags as ``omniplug install`` (and the magics)."""
    from .api import upload

    archive = package(version="1.0.0")
    status, first = await upload(jp_fetch, archive)
    assert status == 201 and first["action"] == "installed", first
    status, again = await upload(jp_fetch, archive, if_missing="true")
    assert status == 201 and again["action"] == "unchanged", again
    status, dev = await upload(jp_fetch, package(version="1.1.0"), dev="true")
    assert status == 201 and dev["dev"] is True and dev["action"] == "installed", dev
    status, bad = await upload(jp_fetch, archive, upgrade="maybe")
    assert status == 400 and "upgrade must be true or false" in bad["message"]
