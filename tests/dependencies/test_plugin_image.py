"""Per-plugin images on the real Docker engine: the runner image's facts, and a layer with a
plugin's locked wheels that the hardened runner imports without network, reused by its tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from omniscope_jupyter.errors import SandboxUnavailable
from omniscope_jupyter.sandbox.dependencies import DependencyResolver
from omniscope_jupyter.sandbox.plugin_image import DEPS_DIR, build_plugin_image, probe_runner_image
from tests.prereq import IN_CI, missing

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    from omniscope_jupyter.sandbox.container import docker_client

    try:
        return docker_client()
    except SandboxUnavailable as exc:
        missing(str(exc))


@pytest.fixture(scope="module")
def runner_tag(client) -> str:
    from omniscope_jupyter.sandbox.images import ensure_images, image_status

    status = image_status(client)
    if not status["ready"] and not IN_CI:
        missing("the sandbox runner image is not built (omniplug sandbox build)")
    return ensure_images(client)["python"]


@pytest.fixture(scope="module")
def facts(client, runner_tag) -> dict:
    return probe_runner_image(client, runner_tag)


def test_probe_reports_the_runner_python_and_packages(facts):
    assert facts["python_version"] == "3.13" and facts["arch"] == "x86_64"
    assert facts["glibc"].startswith("2.")
    assert {"numpy", "pandas", "pyarrow"} <= set(facts["python_packages"])
    assert "jsonlite" in facts["r_packages"] and facts["r_packages"]["R"].startswith("4.")


def run_python(client, image: str, code: str) -> str:
    # The hardening that matters here: no network (wheels must already be inside), read-only
    # root (files must be readable and byte-compiled ahead), the sandbox user.
    output = client.containers.run(
        image, ["python3", "-c", code], network_mode="none", user="65534:65534",
        read_only=True, environment={"HOME": "/tmp"}, remove=True,
    )  # fmt: skip
    return output.decode().strip()


def test_plugin_image_has_the_locked_wheels_over_the_runner(client, runner_tag, facts, tmp_path):
    resolver = DependencyResolver(
        wheel_cache=tmp_path / "wheels",
        base_packages=facts["python_packages"],
        python_version=facts["python_version"],
        glibc=facts["glibc"],
    )
    lock = resolver.resolve(tmp_path, {"language": "python", "dependencies": [
        "tabulate==0.9.0", "six==1.16.0", "numpy", "pandas>=2",
    ]})  # fmt: skip
    assert [w["name"] for w in lock["resolved"]] == ["six", "tabulate"]
    lines: list[str] = []
    tag = build_plugin_image(client, runner_tag, lock, tmp_path / "wheels", lines.append)
    try:
        assert tag.startswith("omniscope-plugin:") and any("Successfully" in line for line in lines)
        image = client.images.get(tag)
        assert (
            image.attrs["Config"]["User"] == client.images.get(runner_tag).attrs["Config"]["User"]
        )
        assert f"PYTHONPATH={DEPS_DIR}" in image.attrs["Config"]["Env"]
        out = run_python(client, tag, (
            "import tabulate, six, pandas, numpy;"
            "print(tabulate.__version__, six.__version__, tabulate.__file__);"
            "print(tabulate.tabulate([[1, 2]]).splitlines()[1])"
        ))  # fmt: skip
        assert out.splitlines() == [
            f"0.9.0 1.16.0 {DEPS_DIR}/tabulate/__init__.py",
            "1  2",
        ]
        # Built once: the same lock on the same runner reuses the image without building.
        again: list[str] = []
        assert (
            build_plugin_image(client, runner_tag, lock, tmp_path / "wheels", again.append) == tag
        )
        assert again == []
    finally:
        client.images.remove(tag, force=True)


def test_a_lock_without_wheels_runs_on_the_runner_image(client, runner_tag, tmp_path):
    lock = DependencyResolver(wheel_cache=tmp_path).resolve(
        tmp_path, {"language": "r", "dependencies": ["stats"]}
    )
    assert build_plugin_image(client, runner_tag, lock, tmp_path) == runner_tag


def test_a_wheel_missing_from_the_cache_is_refused(client, runner_tag, tmp_path):
    lock = {
        "digest": "0" * 64,
        "resolved": [
            {"name": "x", "version": "1", "sha256": "0" * 64, "filename": "x-1-py3-none-any.whl"}
        ],
    }
    from omniscope_jupyter.errors import InvalidPackage

    with pytest.raises(InvalidPackage, match="missing"):
        build_plugin_image(client, runner_tag, lock, Path(tmp_path))


PLUGIN_USING_TABULATE = """
import tabulate


class TablePlugin:
    def __init__(self, context):
        self.plugin_id = context["plugin_id"]

    def execute(self, input_data):
        rows = input_data["data"].values.tolist()
        return {
            "data": tabulate.tabulate(rows, tablefmt="plain"),
            "metadata": {"tabulate": tabulate.__version__, "from": tabulate.__file__},
            "logs": [], "warnings": [], "errors": [],
        }
"""


def test_a_plugin_imports_its_dependency_in_the_hardened_sandbox(
    client, runner_tag, facts, tmp_path
):
    import pandas as pd

    from omniscope_jupyter.sandbox.runner import RunRequest, SandboxRunner

    plugin_dir = tmp_path / "table_plugin"
    plugin_dir.mkdir()
    (plugin_dir / "table_plugin.py").write_text(PLUGIN_USING_TABULATE)
    resolver = DependencyResolver(
        wheel_cache=tmp_path / "wheels", base_packages=facts["python_packages"]
    )
    lock = resolver.resolve(plugin_dir, {"language": "python", "dependencies": ["tabulate"]})
    tag = build_plugin_image(client, runner_tag, lock, tmp_path / "wheels")
    try:
        outcome = SandboxRunner().run(
            RunRequest(
                execution_id="deps-" + lock["digest"][:12], plugin_id="table_plugin",
                version="1.0.0", language="python", entry_point="table_plugin.py",
                plugin_dir=plugin_dir, permissions=frozenset({"read_data", "write_data"}),
                config={}, parameters={}, extension_point="analysis",
                data=pd.DataFrame({"a": [1, 3], "b": [2, 4]}), timeout=60, image=tag,
            )
        )  # fmt: skip
        assert outcome.status == "succeeded", (outcome.errors, outcome.stderr)
        assert outcome.data == "1  2\n3  4"
        assert outcome.metadata["from"] == f"{DEPS_DIR}/tabulate/__init__.py"
    finally:
        client.images.remove(tag, force=True)
