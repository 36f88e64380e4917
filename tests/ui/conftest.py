"""Browser-test fixtures: a real ``jupyter lab`` process with the extension, and headless Chromium.

The server runs as a subprocess, as a user starts it, so the test sees the labextension exactly
as installed (pytest-jupyter's in-process server would hide the sys-prefix labextensions behind
its temporary Jupyter paths). Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright
without ``playwright install``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..prereq import missing

CHROMIUM = os.environ.get("OMNISCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TOKEN = "omniscope-ui-test-token"
START_TIMEOUT = 90.0
# Screenshots of the panel's views (and of a failed test), for a person to look at; git-ignored.
SCREENSHOTS = Path(__file__).parent / "screenshots"
FAILURE_SCREENSHOT = SCREENSHOTS / "failure.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LabServer:
    """A running ``jupyter lab`` and a small REST client for its plugin API."""

    url: str
    token: str
    log: Path
    process: subprocess.Popen[bytes]

    def api(
        self, method: str, *path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """Call ``/api/plugins/<path>``; return (status, decoded JSON) whatever the status."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        if method in ("POST", "PUT") and data is None:
            data = b""
        request = urllib.request.Request(
            f"{self.url}api/plugins/{'/'.join(path)}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            with e:
                return e.code, json.loads(e.read() or b"{}")

    def page_config(self) -> dict[str, Any]:
        """JupyterLab's page config (what the front-end loads, e.g. ``federated_extensions``)."""
        request = urllib.request.Request(
            f"{self.url}lab", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            html = response.read().decode()
        start = html.index('id="jupyter-config-data"')
        start = html.index(">", start) + 1
        return dict(json.loads(html[start : html.index("</script>", start)]))

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _wait_until_serving(server: LabServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            if server.api("GET", "list")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {START_TIMEOUT}s:\n{server.log_tail()}")


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[LabServer]:
    """``jupyter lab`` on a free port with a fixed token, a fresh plugin store and no seeding.

    Jupyter's per-user folders point into ``tmp_path`` so the user's own config, settings and
    workspaces cannot change what the test sees; the sys-prefix ones (where pip puts the
    labextension and the server-extension switch) stay visible.
    """
    home = tmp_path / "jupyter"
    settings = home / "lab-settings"
    # JupyterLab would pop a "receive Jupyter news?" toast over the panel in the screenshot.
    notification = (
        settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    root = tmp_path / "root"
    root.mkdir()
    port = _free_port()
    log = tmp_path / "jupyter-lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                # CI and the development machines run as root.
                "--ServerApp.allow_root=True",
                # No look-ups on PyPI from JupyterLab's own extension manager.
                "--LabApp.extension_manager=readonly",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={root}",
                f"--OmniscopeApp.data_dir={tmp_path / 'store'}",
                f"--OmniscopeApp.sdk_root_dir={root}",
                "--OmniscopeApp.seed_marketplace=False",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
    server = LabServer(f"http://127.0.0.1:{port}/", TOKEN, log, process)
    try:
        _wait_until_serving(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium (1280x800)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failed browser test, keep what the page showed and what the server logged."""
    report = yield
    if report.when == "call" and report.failed:
        funcargs = getattr(item, "funcargs", {})
        page = funcargs.get("browser_page")
        if page is not None:
            from playwright.sync_api import Error as PlaywrightError

            try:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(FAILURE_SCREENSHOT))
                report.sections.append(("screenshot", str(FAILURE_SCREENSHOT)))
            except PlaywrightError as e:  # the page may be gone; the report matters more
                report.sections.append(("screenshot", f"none: {e}"))
        server = funcargs.get("lab_server")
        if server is not None:
            report.sections.append(("jupyter lab log", server.log_tail(80)))
    return report
