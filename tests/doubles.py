"""Test doubles swapped in through the extension's dotted-path traits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.auth.authorizer import Authorizer

from omniscope_jupyter.scan.report import Finding, ScanReport
from omniscope_jupyter.stages import ScanStage


class SystemCallScanner(ScanStage):
    """Flags ``os.system`` as HIGH, like the real scanner's rule, without needing Bandit."""

    def __init__(self, **settings: Any) -> None:
        pass

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        findings = []
        for path in sorted(package_dir.rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if "os.system" in line:
                    findings.append(
                        Finding("T605", "HIGH", "HIGH", path.name, number, "os.system call")
                    )
        return ScanReport(findings=findings, scanners=["double"])


class SlowScanner(ScanStage):
    """A scan that takes ``SLOW_SCAN_SECONDS`` and finds nothing, like Bandit over a large package."""

    def scan(self, package_dir: Path, manifest: dict[str, Any]) -> ScanReport:
        import time

        time.sleep(SLOW_SCAN_SECONDS)
        return ScanReport(scanners=["slow"])


SLOW_SCAN_SECONDS = 3.0


class ReadOnlyAuthorizer(Authorizer):
    """Allows reading the plugin API, refuses every write and execute."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource.startswith("omniscope:plugins") and action != "read")


class FakeSandboxRunner:
    """Stands in for ``sandbox.runner.SandboxRunner`` without Docker: a run is a thread that
    waits until the test releases it (or the run is cancelled), then echoes its parameters.

    So the execution service's own logic — queueing, fairness, caps, cancel, records — is tested
    without an engine, beside the real tests that run it against Docker.
    """

    def __init__(self, settings: Any) -> None:
        import threading

        from omniscope_jupyter.sandbox.budget import ResultBudget

        self.settings = settings
        self.budget = ResultBudget(1 << 30)
        self.started: list[str] = []
        self.release = threading.Event()
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()

    def run(self, request: Any, cancelled: Any = None) -> Any:
        from omniscope_jupyter.sandbox.runner import RunOutcome, RunWithdrawn

        if request.on_start is not None and not request.on_start("fake-container"):
            raise RunWithdrawn()
        with self._lock:
            self.started.append(request.execution_id)
        while not self.release.wait(0.01):
            if request.execution_id in self._cancelled or (cancelled is not None and cancelled()):
                return RunOutcome(status="cancelled", errors=["cancelled"])
        return RunOutcome(status="succeeded", data={"parameters": request.parameters})

    def cancel(self, execution_id: str, token: str | None = None) -> bool:
        self._cancelled.add(execution_id)
        return True

    def reap(self) -> int:
        return 0

    def keep_warm(self) -> None:
        pass

    def shutdown(self) -> None:
        self.release.set()

    def forget_plugin(self, *args: Any, **kwargs: Any) -> None:
        pass

    def images(self) -> dict[str, str]:
        return {"python": "fake-runner", "r": "fake-runner"}

    def client(self) -> Any:
        """An engine that knows only the fake image (asked for the provenance's image id)."""
        from types import SimpleNamespace

        image = SimpleNamespace(id="sha256:" + "0" * 64)
        return SimpleNamespace(images=SimpleNamespace(get=lambda tag: image))
