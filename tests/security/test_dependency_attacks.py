"""Dependency strings as an attack: a manifest must not make anything build or run on the host.

A real malicious package (an in-tree build backend and a ``setup.py`` that write a marker file
and record who ran them) is referenced every way pip would accept: arbitrary equality with a
path, URLs, local folders, ``-e``, pip options, an injected second line. Each is refused at
install with HTTP 400 naming the string, and the marker never appears. Then pip itself is
fooled (handed the malicious sources inside its container): the code runs there, as user
65534 without the host's environment, and the host refuses what pip reports.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from omniscope_jupyter.errors import InvalidPackage, SandboxUnavailable
from omniscope_jupyter.sandbox.container import OWNER_LABEL, SANDBOX_NETWORK
from omniscope_jupyter.sandbox.dependencies import DependencyResolver
from omniscope_jupyter.sandbox.pip_container import (
    PIP_ENV,
    PURPOSE_LABEL,
    PipContainer,
    PipOutcome,
    Workspace,
)
from omniscope_jupyter.sandbox.settings import SandboxSettings

from ..api import assert_error, call, upload

pytestmark = pytest.mark.timeout(120)

SECRET = "fake-jupyter-token-0123456789"
TABULATE = {
    "name": "tabulate",
    "version": "0.9.0",
    "sha256": "024ca478df22e9340661486f85298cff5f6dcdba14f3813e8830015b9ed1948f",
    "filename": "tabulate-0.9.0-py3-none-any.whl",
}
BACKEND = """
import json, os
MARKER = {marker!r}


def pwn():
    record = json.dumps({{"uid": os.getuid(), "env": dict(os.environ)}})
    for path in (MARKER, "/out/pwned.json"):
        try:
            with open(path, "w") as handle:
                handle.write(record)
        except OSError:
            pass


def get_requires_for_build_wheel(config_settings=None):
    pwn()
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    pwn()
    info = os.path.join(metadata_directory, "evilpkg-1.0.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\\nName: evilpkg\\nVersion: 1.0\\n")
    return "evilpkg-1.0.dist-info"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    pwn()
    raise RuntimeError("evil")


build_sdist = build_editable = build_wheel
"""
PYPROJECT = """[build-system]
requires = []
build-backend = "evil_backend"
backend-path = ["."]

[project]
name = "evilpkg"
version = "1.0"
"""


@dataclass(frozen=True)
class Evil:
    """A malicious source tree, its sdist, and the marker file its code writes."""

    folder: Path
    sdist: Path
    marker: Path


@pytest.fixture
def evil(tmp_path: Path) -> Evil:
    folder = tmp_path / "evil"
    folder.mkdir()
    marker = tmp_path / "MARKER"
    (folder / "pyproject.toml").write_text(PYPROJECT)
    (folder / "evil_backend.py").write_text(BACKEND.format(marker=str(marker)))
    (folder / "setup.py").write_text("import evil_backend\nevil_backend.pwn()\n")
    sdist = tmp_path / "dist" / "evilpkg-1.0.tar.gz"
    sdist.parent.mkdir()
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(folder, arcname="evilpkg-1.0")
    # The control: the package's code really does leave the marker when it runs.
    subprocess.run([sys.executable, "setup.py"], cwd=folder, check=True)
    assert marker.is_file()
    marker.unlink()
    return Evil(folder=folder, sdist=sdist, marker=marker)


def attacks(evil: Evil) -> list[str]:
    """Every way of pointing pip at the malicious package (or at anything else)."""
    return [
        "x===/" + "../" * 12 + str(evil.sdist).lstrip("/"),
        f"evilpkg @ {evil.sdist.as_uri()}",
        "x @ https://files.example.invalid/evilpkg-1.0.tar.gz",
        "https://files.example.invalid/evilpkg-1.0.tar.gz",
        str(evil.sdist),
        "./evil",
        str(evil.folder),
        evil.folder.as_uri(),
        f"-e {evil.folder}",
        "--index-url=https://index.example.invalid/simple",
        "-r /etc/passwd",
        f"tabulate==0.9.0\n{evil.folder}",
        f"tabulate==0.9.0\r-e {evil.folder}",
        "tabulate===0.9.0",
        "tabulate==0.9.0\x00",
        "tabulate" + " " * 300,
    ]


ATTACK_IDS = [
    "arbitrary-equality-path", "file-direct-reference", "url-direct-reference", "bare-url",
    "sdist-path", "relative-folder", "absolute-folder", "file-url", "editable", "index-url",
    "requirements-file", "newline-second-line", "carriage-return-editable", "arbitrary-equality",
    "nul", "over-long",
]  # fmt: skip


def quotes(message: str, text: str) -> bool:
    """Whether ``message`` quotes ``text`` (as ``repr``), where the server may have replaced
    host folders by placeholders such as ``<tmp>``: it hides its layout from clients."""
    for quoted in re.findall(r"'(?:[^'\\]|\\.)*'", message):
        parts = re.split(r"(<\w+>)", quoted)
        pattern = "".join("/.*" if re.fullmatch(r"<\w+>", p) else re.escape(p) for p in parts)
        if re.fullmatch(pattern, repr(text)):
            return True
    return False


def no_pip() -> NoReturn:
    raise AssertionError("pip (and so Docker) must not be reached")


@pytest.mark.parametrize("index", range(len(ATTACK_IDS)), ids=ATTACK_IDS)
async def test_install_refuses_the_dependency_with_400_naming_it(
    jp_fetch: Any,
    package: Callable[..., Path],
    evil: Evil,
    index: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(evil.folder.parent)  # so that "./evil" would find the package
    dependency = attacks(evil)[index]
    status, body = await upload(jp_fetch, package(dependencies=["numpy", dependency]))
    assert_error(status, body, 400, "dependencies: '")
    (problem,) = body["problems"]
    shown = dependency if len(dependency) <= 200 else dependency[:80] + "..."
    assert quotes(problem, shown), (problem, dependency)
    status, _ = await call(jp_fetch, "GET", "my_plugin")
    assert status == 404
    assert not evil.marker.exists()


def test_the_stage_refuses_them_too_without_reaching_pip(tmp_path: Path, evil: Evil) -> None:
    # Past the manifest check (another caller, a swapped validator): the stage parses again.
    stage = DependencyResolver(wheel_cache=tmp_path / "wheels", client_factory=no_pip)
    for dependency in attacks(evil):
        with pytest.raises(InvalidPackage) as caught:
            stage.resolve(tmp_path, {"language": "python", "dependencies": [dependency]})
        assert caught.value.message.startswith("dependency '"), caught.value.message
    assert not evil.marker.exists()
    assert not (tmp_path / "wheels").exists()


@pytest.mark.parametrize(
    "dependency",
    ["jsonlite (>= 1.8)\nstats", "../jsonlite", "jsonlite; system('id')", "-e jsonlite", "a"],
)
def test_r_dependencies_are_names_and_bounds_only(tmp_path: Path, dependency: str) -> None:
    stage = DependencyResolver(wheel_cache=tmp_path, r_packages={"jsonlite": "1.9.1"})
    with pytest.raises(InvalidPackage, match="is not an R requirement|contains the character"):
        stage.resolve(tmp_path, {"language": "r", "dependencies": [dependency]})


# -- the host's side of pip's container, with pip replaced by a writer of hostile output ------


class HostilePip(PipContainer):
    """A pip "container" that writes the given report and wheels into ``/out`` (no Docker)."""

    def __init__(self, report: Any, wheels: dict[str, bytes | Path] | None = None) -> None:
        super().__init__()
        self.report = report
        self.wheels = wheels or {}
        self.calls: list[list[str]] = []

    def run(self, args: Sequence[str], workspace: Workspace) -> PipOutcome:
        self.calls.append(list(args))
        report = workspace.outputs / "report.json"
        if args[0] == "install" and isinstance(self.report, Path):
            report.symlink_to(self.report)
        elif args[0] == "install":
            report.write_text(json.dumps(self.report))
        for name, content in self.wheels.items():
            target = workspace.outputs / "wheels" / name
            if isinstance(content, Path):
                target.symlink_to(content)
            else:
                target.write_bytes(content)
        return PipOutcome(0, "")


def entry(url: str, sha256: str | None = TABULATE["sha256"], **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"url": url}
    if sha256 is not None:
        info["archive_info"] = {"hashes": {"sha256": sha256}}
    return {"metadata": {"name": "tabulate", "version": "0.9.0"}, "download_info": info, **extra}


INDEX_URL = "https://files.pythonhosted.org/packages/40/44/" + TABULATE["filename"]


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"install": [entry(INDEX_URL.replace(".whl", ".tar.gz"))]}, "no wheel with a sha256"),
        ({"install": [entry(INDEX_URL, sha256=None)]}, "no wheel with a sha256"),
        ({"install": [entry("file:///in/evilpkg-1.0.tar.gz")]}, "no wheel with a sha256"),
        ({"install": [entry("file:///in/stubs/tabulate-0.9.0-py3-none-any.whl")]}, "no wheel"),
        ({"install": [entry(INDEX_URL, is_direct=True)]}, "no wheel with a sha256"),
        ({"install": [entry(INDEX_URL.replace("tabulate-0.9.0", "numpy-2.0"))]}, "no wheel"),
        ({"install": [{"metadata": {"name": "x\n-e /tmp", "version": "1"}, "download_info": {}}]},
         "not a package name"),
        ({"install": [{"metadata": {"name": "tabulate\n", "version": "1"}, "download_info": {}}]},
         "not a package name"),
        ({"install": "everything"}, "no list of packages"),
    ],
    ids=[
        "sdist", "no-sha256", "local-file", "fake-stub", "direct", "other-wheel", "name",
        "name-newline", "shape",
    ],
)  # fmt: skip
def test_a_report_naming_anything_but_index_wheels_refuses_the_install(
    tmp_path: Path, report: Any, message: str
) -> None:
    pip = HostilePip(report=report)
    stage = DependencyResolver(wheel_cache=tmp_path / "wheels", base_packages={}, pip=pip)
    with pytest.raises(InvalidPackage, match=message):
        stage.resolve(tmp_path, {"language": "python", "dependencies": ["tabulate==0.9.0"]})
    assert [call[0] for call in pip.calls] == ["install"]  # nothing was downloaded
    assert list((tmp_path / "wheels").iterdir()) == []


def test_a_report_that_links_to_a_host_file_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "report-like.json"
    secret.write_text(json.dumps({"install": [entry(INDEX_URL)]}))
    pip = HostilePip(report=secret)
    stage = DependencyResolver(wheel_cache=tmp_path / "wheels", base_packages={}, pip=pip)
    with pytest.raises(InvalidPackage, match="report.json is a symbolic link"):
        stage.resolve(tmp_path, {"language": "python", "dependencies": ["tabulate==0.9.0"]})


@pytest.mark.parametrize("wheel", ["tampered", "symlink", "missing"])
def test_downloaded_wheels_are_hashed_on_the_host_before_the_cache(
    tmp_path: Path, wheel: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"host file")
    content: dict[str, bytes | Path] = {
        "tampered": {TABULATE["filename"]: b"not the locked wheel"},
        "symlink": {TABULATE["filename"]: secret},
        "missing": {},
    }[wheel]  # type: ignore[assignment]
    pip = HostilePip(report={"install": [entry(INDEX_URL)]}, wheels=content)
    stage = DependencyResolver(wheel_cache=tmp_path / "wheels", base_packages={}, pip=pip)
    with pytest.raises(InvalidPackage, match="downloaded wheel"):
        stage.resolve(tmp_path, {"language": "python", "dependencies": ["tabulate==0.9.0"]})
    assert [call[0] for call in pip.calls] == ["install", "download"]
    assert list((tmp_path / "wheels").iterdir()) == []


def test_without_docker_pip_is_503_but_the_image_s_packages_need_no_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    stage = DependencyResolver(wheel_cache=tmp_path, base_packages={"numpy": "2.2.4"})
    lock = stage.resolve(tmp_path, {"language": "python", "dependencies": ["numpy>=2"]})
    assert lock["base"] == [{"name": "numpy", "version": "2.2.4"}]
    with pytest.raises(SandboxUnavailable) as caught:
        stage.resolve(tmp_path, {"language": "python", "dependencies": ["tabulate==0.9.0"]})
    assert caught.value.status == 503


async def test_install_without_docker_is_503_only_when_pip_is_needed(
    jp_fetch: Any, package: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    status, body = await upload(jp_fetch, package(dependencies=["tabulate==0.9.0"]))
    assert_error(status, body, 503, "Docker")
    status, body = await upload(jp_fetch, package(dependencies=[]))
    assert status == 201, body


# -- the real resolver container ---------------------------------------------------------------


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every container made through docker-py, as inspected at creation (before removal)."""
    from docker.models.containers import ContainerCollection

    made: list[Any] = []
    create = ContainerCollection.create

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        container = create(self, *args, **kwargs)
        made.append(container)
        return container

    monkeypatch.setattr(ContainerCollection, "create", recording)
    return made


@pytest.fixture
def host_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUPYTER_TOKEN", "JUPYTERHUB_API_TOKEN", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, SECRET)


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready", "host_secrets")
def test_pip_runs_hardened_without_the_host_environment(
    tmp_path: Path, created: list[Any]
) -> None:
    settings = SandboxSettings(owner="attack-tests")
    stage = DependencyResolver(wheel_cache=tmp_path / "wheels", sandbox_settings=settings)
    lock = stage.resolve(tmp_path, {"language": "python", "dependencies": ["tabulate==0.9.0"]})
    assert lock["resolved"] == [TABULATE]
    # Only pip's: a session's warm sandbox pool may start containers of its own meanwhile.
    pips = [c for c in created if c.attrs["Config"]["Labels"].get(PURPOSE_LABEL) == "resolve-dependencies"]
    assert len(pips) == 2  # the dry run, then the hash-checked download
    for container in pips:
        config, host = container.attrs["Config"], container.attrs["HostConfig"]
        env = dict(item.split("=", 1) for item in config["Env"])
        assert set(env) <= set(PIP_ENV) | {"PATH"}, env
        assert SECRET not in json.dumps(container.attrs)
        assert config["User"] == "65534:65534" and config["WorkingDir"] == "/tmp"
        assert config["Labels"][OWNER_LABEL] == "attack-tests"
        assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["PidsLimit"] > 0 and host["Memory"] > 0
        assert host["NetworkMode"] == SANDBOX_NETWORK
        binds = {bind.split(":")[1]: bind.split(":")[2] for bind in host["Binds"]}
        assert binds["/in"] == "ro" and binds["/etc/omniscope/ca-certificates.crt"] == "ro"
        assert set(binds) == {"/in", "/out", "/etc/omniscope/ca-certificates.crt"}
        assert "--only-binary=:all:" in config["Cmd"]
        with pytest.raises(Exception, match="No such container"):
            container.reload()  # removed


@dataclass
class FooledPip:
    """pip as if fooled: whatever the lock asks for, it is handed the malicious sources."""

    real: PipContainer
    evil: Evil
    line: str
    seen: list[Any] = field(default_factory=list)

    def workspace(self, parent: Path) -> contextlib.AbstractContextManager[Workspace]:
        return self.real.workspace(parent)

    def run(self, args: Sequence[str], workspace: Workspace) -> PipOutcome:
        shutil.copy(self.evil.sdist, workspace.inputs / self.evil.sdist.name)
        shutil.copytree(self.evil.folder, workspace.inputs / "evil")
        for path in [workspace.inputs, *workspace.inputs.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        workspace.write_input("requirements.txt", self.line + "\n")
        outcome = self.real.run(args, workspace)
        pwned = workspace.outputs / "pwned.json"
        self.seen.append(json.loads(pwned.read_text()) if pwned.is_file() else None)
        return outcome


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready", "host_secrets")
@pytest.mark.parametrize(
    "line", ["x===/" + "../" * 12 + "in/evilpkg-1.0.tar.gz", "/in/evil"], ids=["sdist", "folder"]
)
def test_a_fooled_pip_builds_only_inside_its_container(
    tmp_path: Path, evil: Evil, line: str
) -> None:
    pip = FooledPip(PipContainer(), evil, line)
    stage = DependencyResolver(wheel_cache=tmp_path / "wheels", base_packages={}, pip=pip)
    with pytest.raises(InvalidPackage, match="evilpkg==1.0 has no wheel with a sha256"):
        stage.resolve(tmp_path, {"language": "python", "dependencies": ["tabulate==0.9.0"]})
    # The package's code did run, in the container: as nobody, with none of the host's secrets.
    (ran,) = pip.seen
    assert ran is not None and ran["uid"] == 65534
    assert SECRET not in json.dumps(ran["env"])
    assert not any(name.startswith(("JUPYTER", "AWS_")) for name in ran["env"])
    assert not evil.marker.exists()  # and never on the host
    assert list((tmp_path / "wheels").iterdir()) == []
