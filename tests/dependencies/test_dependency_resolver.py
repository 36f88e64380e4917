"""The dependency stage against the real index, with pip in its resolver container: wheels-only
locks for the runner's Python, base packages left alone, pip's message on failure with nothing
left behind, R checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NoReturn

import pytest

from omniscope_jupyter.errors import InvalidPackage, SandboxUnavailable
from omniscope_jupyter.sandbox.dependencies import DependencyResolver, manylinux_platforms
from tests.prereq import missing

EXAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "examples"
# What the offline runner image reports (probe_runner_image): Debian's builds carry "+dfsg".
RUNNER_BASE = {
    "numpy": "2.2.4",
    "pandas": "2.2.3+dfsg",
    "pyarrow": "26.0.1",
    "python-dateutil": "2.9.0",
    "pytz": "2025.2",
    "six": "1.17.0",
}
R_IMAGE = {"jsonlite": "1.9.1", "R": "4.5.0"}
TABULATE = {
    "name": "tabulate",
    "version": "0.9.0",
    "sha256": "024ca478df22e9340661486f85298cff5f6dcdba14f3813e8830015b9ed1948f",
    "filename": "tabulate-0.9.0-py3-none-any.whl",
}


def no_pip() -> NoReturn:
    """The Docker client of pip's container, for cases that must not reach pip at all."""
    raise AssertionError("pip (and so Docker) must not be needed here")


@pytest.fixture(scope="module")
def docker_engine() -> None:
    """pip runs in the resolver container: these tests need the engine (and the index)."""
    from omniscope_jupyter.sandbox.container import docker_client

    try:
        docker_client().close()
    except SandboxUnavailable as exc:
        missing(exc.message)


def pip_in_docker(test):
    """Mark a test whose dependencies go to pip (in its container, on the real index)."""
    return pytest.mark.docker(pytest.mark.usefixtures("docker_engine")(test))


def resolver(cache: Path, **settings) -> DependencyResolver:
    return DependencyResolver(
        wheel_cache=cache, base_packages=RUNNER_BASE, r_packages=R_IMAGE, **settings
    )


def python_manifest(*dependencies: str) -> dict:
    return {"language": "python", "dependencies": list(dependencies)}


@pip_in_docker
def test_pure_python_wheel_is_locked_with_its_hash(tmp_path):
    lock = resolver(tmp_path).resolve(tmp_path, python_manifest("tabulate==0.9.0"))
    assert lock["resolved"] == [TABULATE]
    assert lock["target"] == {
        "python": "3.13", "implementation": "cp", "abi": "cp313", "arch": "x86_64",
        "glibc": "2.41",
    }  # fmt: skip
    assert lock["declared"] == ["tabulate==0.9.0"] and lock["base"] == []
    wheel = tmp_path / TABULATE["filename"]
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == TABULATE["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [TABULATE["filename"]]
    json.dumps(lock)  # stored with the plugin as JSON


@pip_in_docker
def test_lock_digest_is_stable_and_the_cache_is_reused(tmp_path):
    first = resolver(tmp_path).resolve(tmp_path, python_manifest("tabulate==0.9.0"))
    wheel = tmp_path / TABULATE["filename"]
    stamp = wheel.stat().st_mtime_ns
    again = resolver(tmp_path).resolve(tmp_path, python_manifest("tabulate==0.9.0"))
    assert again == first
    assert wheel.stat().st_mtime_ns == stamp  # not downloaded a second time


@pip_in_docker
def test_unknown_package_refuses_with_pips_message_and_leaves_nothing(tmp_path):
    cache = tmp_path / "wheels"
    with pytest.raises(InvalidPackage) as caught:
        resolver(cache).resolve(tmp_path, python_manifest("surely-not-a-real-pkg-xyz==1.0"))
    message = caught.value.message
    assert "No matching distribution found for surely-not-a-real-pkg-xyz==1.0" in message
    assert "WARNING" not in message
    assert "surely-not-a-real-pkg-xyz" in caught.value.details["pip_output"]
    assert not cache.exists() or list(cache.iterdir()) == []


@pip_in_docker
def test_a_failing_download_keeps_nothing_half_done(tmp_path):
    # Resolution succeeds, the download is refused: no wheel and no temp folder may remain.
    stage = resolver(tmp_path / "wheels")
    stage.python._resolve = lambda wanted, pins, stubs: ([{**TABULATE, "sha256": "0" * 64}], set())  # type: ignore[method-assign]
    with pytest.raises(InvalidPackage, match="cannot be resolved"):
        stage.resolve(tmp_path, python_manifest("tabulate==0.9.0"))
    assert list((tmp_path / "wheels").iterdir()) == []


def test_base_packages_accepted_by_the_specifier_are_not_resolved(tmp_path):
    lock = resolver(tmp_path, client_factory=no_pip).resolve(
        tmp_path, python_manifest("numpy", "pandas>=2.0", "pyarrow>=14,<27")
    )
    assert lock["resolved"] == []
    assert lock["base"] == [
        {"name": "numpy", "version": "2.2.4"},
        {"name": "pandas", "version": "2.2.3+dfsg"},
        {"name": "pyarrow", "version": "26.0.1"},
    ]
    assert list(tmp_path.iterdir()) == []


@pip_in_docker
def test_a_requirement_the_base_does_not_meet_is_resolved(tmp_path):
    lock = resolver(tmp_path).resolve(tmp_path, python_manifest("six==1.16.0"))
    assert [(w["name"], w["version"]) for w in lock["resolved"]] == [("six", "1.16.0")]
    assert lock["resolved"][0]["filename"] == "six-1.16.0-py2.py3-none-any.whl"


@pip_in_docker
def test_transitive_base_packages_are_pinned_not_reinstalled(tmp_path):
    # numexpr needs numpy: the image's numpy (2.2.4) is kept, only numexpr's wheel is locked,
    # and it is the CPython 3.13 manylinux build, not one for the host's Python.
    lock = resolver(tmp_path).resolve(tmp_path, python_manifest("numexpr"))
    assert [w["name"] for w in lock["resolved"]] == ["numexpr"]
    assert "-cp313-cp313-manylinux" in lock["resolved"][0]["filename"]
    assert {"name": "numpy", "version": "2.2.4"} in lock["base"]


@pip_in_docker
def test_markers_are_judged_for_the_runner_python(tmp_path):
    only_old = "tabulate==0.9.0; python_version < '3.12'"
    lock = resolver(tmp_path, client_factory=no_pip).resolve(tmp_path, python_manifest(only_old))
    assert lock["resolved"] == []
    old = resolver(tmp_path, python_version="3.11").resolve(tmp_path, python_manifest(only_old))
    assert [w["name"] for w in old["resolved"]] == ["tabulate"]
    assert old["target"]["abi"] == "cp311" and old["digest"] != lock["digest"]


@pytest.mark.parametrize(
    ("dependency", "message"),
    [
        ("not a requirement!", "is not a PEP 508 requirement"),
        ("evil @ https://example.com/evil.whl", "direct reference"),
    ],
)
def test_malformed_requirements_are_refused(tmp_path, dependency, message):
    with pytest.raises(InvalidPackage, match=message):
        resolver(tmp_path, client_factory=no_pip).resolve(tmp_path, python_manifest(dependency))


def test_r_dependencies_checked_against_the_r_image(tmp_path):
    stage = resolver(tmp_path, client_factory=no_pip)
    manifest = {"language": "r", "dependencies": ["stats", "jsonlite (>= 1.8)", "R (>= 4.3)"]}
    lock = stage.resolve(tmp_path, manifest)
    assert lock["resolved"] == [] and lock["target"] == {"r": "4.5.0"}
    assert lock["base"] == [
        {"name": "R", "version": "4.5.0"},
        {"name": "jsonlite", "version": "1.9.1"},
        {"name": "stats", "version": "4.5.0"},
    ]
    bad = {"language": "r", "dependencies": ["ggplot2", "jsonlite (>= 2.0)", "R (>= 5.0)"]}
    with pytest.raises(InvalidPackage) as caught:
        stage.resolve(tmp_path, bad)
    assert caught.value.details["missing"] == [
        "ggplot2 (not installed)",
        "jsonlite (>= 2.0; the image has 1.9.1)",
        "R (>= 5.0; the image has 4.5.0)",
    ]
    assert "ggplot2 (not installed)" in caught.value.message
    with pytest.raises(InvalidPackage, match="is not an R requirement"):
        stage.resolve(tmp_path, {"language": "r", "dependencies": ["jsonlite >= 1"]})


def test_r_builtin_packages_need_no_package_list(tmp_path):
    stage = DependencyResolver(wheel_cache=tmp_path, client_factory=no_pip)
    lock = stage.resolve(tmp_path, {"language": "r", "dependencies": ["stats", "utils"]})
    assert lock["base"] == []
    with pytest.raises(InvalidPackage, match="jsonlite"):
        stage.resolve(tmp_path, {"language": "r", "dependencies": ["jsonlite"]})


def test_package_lists_may_be_supplied_lazily(tmp_path):
    calls = []

    def base():
        calls.append("base")
        return RUNNER_BASE

    stage = DependencyResolver(wheel_cache=tmp_path, base_packages=base, client_factory=no_pip)
    assert calls == []  # nothing is read before a plugin needs it
    stage.resolve(tmp_path, python_manifest("numpy"))
    assert calls == ["base"]


@pytest.mark.parametrize("name", ["data_normalizer", "outlier_detector", "correlation_analyzer"])
def test_examples_need_nothing_beyond_the_runner_image(tmp_path, name):
    manifest = json.loads((EXAMPLES / name / "manifest.json").read_text())
    lock = resolver(tmp_path, client_factory=no_pip).resolve(EXAMPLES / name, manifest)
    assert lock["resolved"] == []


def test_manylinux_platforms_cover_every_older_glibc():
    tags = manylinux_platforms("x86_64", "2.41")
    assert tags[0] == "manylinux_2_41_x86_64" and "manylinux_2_5_x86_64" in tags
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_42_x86_64" not in tags
    assert "manylinux2014_aarch64" in manylinux_platforms("aarch64", "2.17")


@pip_in_docker
def test_extras_keep_the_image_version_and_add_their_packages(tmp_path):
    # pandas[output-formatting] = jinja2 + tabulate: pandas and jinja2 stay the image's;
    # tabulate is added, and so is tzdata: with extras pandas' own requirements are read from
    # the index, and PyPI's pandas needs tzdata where Debian's uses the system time zones.
    image = {**RUNNER_BASE, "Jinja2": "3.1.6", "MarkupSafe": "2.1.5"}
    stage = DependencyResolver(wheel_cache=tmp_path, base_packages=image)
    lock = stage.resolve(tmp_path, python_manifest("pandas[output-formatting]>=2"))
    assert [w["name"] for w in lock["resolved"]] == ["tabulate", "tzdata"]
    assert {"name": "pandas", "version": "2.2.3+dfsg"} in lock["base"]
    assert {"name": "jinja2", "version": "3.1.6"} in lock["base"]


@pip_in_docker
def test_image_packages_need_no_wheel_of_their_version_on_the_index(tmp_path):
    # Debian's markupsafe 2.1.5 predates Python 3.13, so the index has no cp313 wheel of it;
    # jinja2 needs markupsafe, and the image's copy must satisfy it as it is.
    image = {**RUNNER_BASE, "MarkupSafe": "2.1.5"}
    stage = DependencyResolver(wheel_cache=tmp_path, base_packages=image)
    lock = stage.resolve(tmp_path, python_manifest("jinja2==3.1.6"))
    assert [(w["name"], w["version"]) for w in lock["resolved"]] == [("Jinja2", "3.1.6")]
    assert lock["base"] == [{"name": "markupsafe", "version": "2.1.5"}]


@pip_in_docker
def test_a_package_without_a_wheel_is_refused_not_built(tmp_path):
    # odfpy publishes only a source distribution: building it would run its setup.py here.
    with pytest.raises(InvalidPackage, match="No matching distribution found for odfpy"):
        resolver(tmp_path).resolve(tmp_path, python_manifest("odfpy==1.4.1"))
