"""One client for the notebook layer: the running server's REST API, or the plugin system here.

Magics and widgets talk to a ``PluginBackend`` and never care which one they hold:

* ``ServerBackend`` calls the Jupyter server's ``/api/plugins`` REST API, so the server is the one
  place that runs containers and records history; the kernel needs no Docker socket. DataFrames
  travel as Arrow IPC bodies both ways (types and index intact), never spelled out as JSON.
* ``LocalBackend`` opens the plugin system in this process (``config.open_system``) where no
  server runs (plain IPython, papermill, CI); same calls, same answers.

``connect`` picks one, in order: a configured URL and token (``%config
OmniplugMagics.server_url=...``, ``.token``); ``OMNISCOPE_SERVER_URL``/``OMNISCOPE_TOKEN``, which the
server extension sets for the kernels it launches; the server whose runtime file
(``jpserver-*.json``) lists this kernel; else the local system.

A run is started with ``start`` and followed through its ``RunHandle``: new events (lines the
plugin printed, progress it reported), whether it finished, its ``PluginResult``, ``cancel``.
The caller picks the execution id, so it can follow and cancel a run whose request is still
being answered.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
import requests
from jupyter_core.paths import jupyter_runtime_dir

from .. import archive
from ..config import SERVER_URL_ENV, TOKEN_ENV, open_system
from ..core.system import PluginSystem
from ..errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PluginError,
    RemoteUnavailable,
    SandboxUnavailable,
    ScanRefused,
    TooLarge,
)
from ..sandbox.contracts import frame_records, wants_json
from ..sandbox.executions import ARROW_ANSWER_KEY
from ..sandbox.jobs import ARROW_STREAM
from ..sandbox.transfer import frame_to_ipc, read_table, table_to_frame
from .render import rendered

T = TypeVar("T")

#: Key of the output metadata that carries a result's provenance (``{"omniscope": {...}}``).
METADATA_KEY = "omniscope"
#: Statuses of a finished run.
_ERRORS: dict[int, type[PluginError]] = {
    400: InvalidRequest,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    422: ScanRefused,
    502: RemoteUnavailable,
    503: SandboxUnavailable,
}


class ServerUnreachable(PluginError):
    """The Jupyter server the notebook was told to use does not answer."""

    status = 502


# -- results and runs ---------------------------------------------------------------------------


@dataclass
class PluginResult:
    """A finished run as a notebook sees it: ``data`` (a DataFrame or JSON) and its record.

    Displayed, it shows its data and carries ``{"omniscope": {"execution_id", "provenance"}}`` in
    the output's metadata, so the notebook file records what produced each output.
    """

    data: Any
    answer: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.answer.get("status"))

    @property
    def execution_id(self) -> str:
        return str(self.answer.get("execution_id"))

    @property
    def plugin_id(self) -> str:
        return str(self.answer.get("plugin_id"))

    @property
    def provenance(self) -> dict[str, Any]:
        """The reproducibility stamp: plugin, version, sha256s, image, parameters, config, input."""
        return dict(self.answer.get("provenance") or {})

    @property
    def metadata(self) -> dict[str, Any]:
        """The output metadata that names this result's origin."""
        return {
            METADATA_KEY: {
                "execution_id": self.execution_id,
                "status": self.status,
                "provenance": self.provenance,
            }
        }

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        shown = rendered(str(self.answer.get("kind", "")), self.data)
        if shown is not self.data:  # a figure, chart, report or file: shown by kind, safely
            return shown._repr_mimebundle_(), self.metadata
        frame = self.data
        if isinstance(frame, pd.DataFrame):
            rows, columns = pd.get_option("display.max_rows"), pd.get_option("display.max_columns")
            shown = frame.to_html(max_rows=rows, max_cols=columns, notebook=True)
            bundle = {"text/plain": repr(frame), "text/html": shown}
        else:
            bundle = {"text/plain": json.dumps(self.data, indent=2, default=str)}
        return bundle, self.metadata


class RunHandle:
    """A started run: its events as they come, whether it ended, its result, and cancel.

    Backends build it from a future of the result, a poll of the events after a ``seq`` (answering
    ``(status, events)``), and a cancel call.
    """

    def __init__(
        self,
        plugin_id: str,
        execution_id: str,
        future: cf.Future[PluginResult],
        poll: Callable[[int], tuple[str, list[dict[str, Any]]]],
        cancel: Callable[[], dict[str, Any]],
    ) -> None:
        self.plugin_id = plugin_id
        self.execution_id = execution_id
        self._future = future
        self._poll = poll
        self._cancel = cancel
        self._seq = 0
        self.status = "queued"

    def events(self) -> list[dict[str, Any]]:
        """Events that arrived since the last call (and the run's status, in ``status``)."""
        status, events = self._poll(self._seq)
        fresh = [e for e in events if e["seq"] > self._seq]
        if fresh:
            self._seq = fresh[-1]["seq"]
        self.status = status
        return fresh

    def done(self) -> bool:
        return self._future.done()

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the end; True when it ended."""
        cf.wait([self._future], timeout=seconds)
        return self._future.done()

    def result(self) -> PluginResult:
        """The finished run (blocks); raises the backend's ``PluginError`` for a refused run."""
        return self._future.result()

    def cancel(self) -> dict[str, Any]:
        """Cancel the run (its container is killed and removed) and wait for its record."""
        try:
            return self._cancel()
        except Conflict:  # it finished meanwhile
            return {"execution_id": self.execution_id, "status": "finished"}


class PluginBackend(Protocol):
    """What magics and widgets need from the plugin system; two implementations below."""

    #: ``server`` or ``local``.
    kind: str

    @property
    def description(self) -> str:
        """A sentence saying where plugins run (printed once)."""
        ...

    def list_plugins(self) -> list[dict[str, Any]]: ...
    def details(self, plugin_id: str) -> dict[str, Any]: ...
    def install(
        self,
        path: Path,
        *,
        enable: bool = False,
        force: bool = False,
        dev: bool = False,
        if_missing: bool = False,
        upgrade: bool = False,
    ) -> dict[str, Any]: ...
    def install_from_marketplace(self, name: str, version: str | None = None) -> dict[str, Any]: ...
    def set_enabled(self, plugin_id: str, enabled: bool) -> dict[str, Any]: ...
    def update(self, plugin_id: str, version: str | None = None) -> dict[str, Any]: ...
    def rollback(self, plugin_id: str, version: str | None, reason: str) -> dict[str, Any]: ...
    def uninstall(self, plugin_id: str) -> dict[str, Any]: ...
    def scan(self, path: Path) -> dict[str, Any]: ...
    def scan_report(self, plugin_id: str) -> dict[str, Any]: ...
    def search(self, query: str = "") -> list[dict[str, Any]]: ...
    def catalog_entry(self, plugin_id: str) -> dict[str, Any]: ...
    def readme(self, plugin_id: str, version: str | None = None) -> dict[str, Any]: ...
    def reviews(self, plugin_id: str) -> dict[str, Any]: ...
    def review(self, plugin_id: str, text: str, rating: int | None = None) -> dict[str, Any]: ...
    def executions(self, plugin_id: str, page_size: int = 20) -> dict[str, Any]: ...
    def execution(self, plugin_id: str, execution_id: str) -> dict[str, Any]: ...
    def cancel(self, plugin_id: str, execution_id: str) -> dict[str, Any]: ...
    def start(
        self,
        plugin_id: str,
        frame: pd.DataFrame | None,
        *,
        parameters: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        extension_point: str | None = None,
        timeout: float | None = None,
    ) -> RunHandle: ...


def _run_body(
    parameters: dict[str, Any] | None,
    config: dict[str, Any] | None,
    extension_point: str | None,
    timeout: float | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"parameters": parameters or {}, "config": config or None}
    if extension_point is not None:
        body["extension_point"] = extension_point
    if timeout is not None:
        body["timeout"] = timeout
    return body


def _packed(path: Path, tmp: str) -> Path:
    """``path`` itself when it is an archive; a folder is packed first (as ``tar -czf`` would)."""
    if not path.exists():
        raise InvalidRequest(f"{path} does not exist")
    if path.is_dir():
        packed = Path(tmp) / f"{path.resolve().name}.tar.gz"
        archive.pack(path, packed)
        return packed
    return path


# -- in this process ----------------------------------------------------------------------------


class LocalBackend:
    """The plugin system opened in this kernel (needs the Docker socket to run plugins)."""

    kind = "local"

    def __init__(self, system: PluginSystem | None = None) -> None:
        self._system = system
        self._pool = cf.ThreadPoolExecutor(4, thread_name_prefix="omniplug-run")
        # Apart from the runs': a cancel must never wait for a run's thread to be free.
        self._calls = cf.ThreadPoolExecutor(2, thread_name_prefix="omniplug-call")

    @property
    def system(self) -> PluginSystem:
        if self._system is None:
            self._system = open_system()
        return self._system

    @property
    def description(self) -> str:
        return f"no Jupyter server found; plugins run from this kernel on the store {self.system.store}"

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run one of the system's coroutines to its end from blocking code (any thread).

        A kernel's main thread already runs an event loop, so the coroutine gets its own loop
        on a worker thread.
        """
        return self._calls.submit(asyncio.run, coroutine).result()

    def list_plugins(self) -> list[dict[str, Any]]:
        return self.system.list_plugins()

    def details(self, plugin_id: str) -> dict[str, Any]:
        return self.system.details(plugin_id)

    def install(
        self,
        path: Path,
        *,
        enable: bool = False,
        force: bool = False,
        dev: bool = False,
        if_missing: bool = False,
        upgrade: bool = False,
    ) -> dict[str, Any]:
        if not Path(path).exists():
            raise InvalidRequest(f"{path} does not exist")
        return self.system.install(
            path, enable=enable, force=force, dev=dev, if_missing=if_missing, upgrade=upgrade
        )

    def install_from_marketplace(self, name: str, version: str | None = None) -> dict[str, Any]:
        return self.system.install_from_marketplace({"name": name, "version": version})

    def set_enabled(self, plugin_id: str, enabled: bool) -> dict[str, Any]:
        return self.system.set_enabled(plugin_id, enabled)

    def update(self, plugin_id: str, version: str | None = None) -> dict[str, Any]:
        return self.system.update(plugin_id, version)

    def rollback(self, plugin_id: str, version: str | None, reason: str) -> dict[str, Any]:
        return self.system.rollback(plugin_id, version, reason)

    def uninstall(self, plugin_id: str) -> dict[str, Any]:
        return self.system.uninstall(plugin_id)

    def scan(self, path: Path) -> dict[str, Any]:
        if not Path(path).exists():
            raise InvalidRequest(f"{path} does not exist")
        return self.system.scan_package(path)

    def scan_report(self, plugin_id: str) -> dict[str, Any]:
        return self.system.scan_report(plugin_id)

    def search(self, query: str = "") -> list[dict[str, Any]]:
        return self.system.search_results(query)

    def catalog_entry(self, plugin_id: str) -> dict[str, Any]:
        return self.system.catalog_entry(plugin_id)

    def readme(self, plugin_id: str, version: str | None = None) -> dict[str, Any]:
        return self.system.readme(plugin_id, version)

    def reviews(self, plugin_id: str) -> dict[str, Any]:
        return self.system.reviews(plugin_id)

    def review(self, plugin_id: str, text: str, rating: int | None = None) -> dict[str, Any]:
        return self.system.review(plugin_id, text, rating=rating)

    def executions(self, plugin_id: str, page_size: int = 20) -> dict[str, Any]:
        return self.system.executions_page(plugin_id, 1, page_size)

    def execution(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        return self._wait(self.system.execution(plugin_id, execution_id))

    def cancel(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        return self._wait(self.system.cancel(plugin_id, execution_id))

    def start(
        self,
        plugin_id: str,
        frame: pd.DataFrame | None,
        *,
        parameters: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        extension_point: str | None = None,
        timeout: float | None = None,
    ) -> RunHandle:
        system, execution_id = self.system, str(uuid.uuid4())

        def run() -> PluginResult:
            result = system.run_frame(
                plugin_id,
                frame,
                parameters=parameters or {},
                config=config or None,
                extension_point=extension_point,
                timeout=timeout,
                execution_id=execution_id,
            )
            return PluginResult(data=result.data, answer=result.answer)

        def poll(after: int) -> tuple[str, list[dict[str, Any]]]:
            try:
                batch = system.execution_events(plugin_id, execution_id, after)
            except NotFound:  # not recorded yet (or refused before it was)
                return "queued", []
            return str(batch["status"]), list(batch["events"])

        return RunHandle(
            plugin_id,
            execution_id,
            self._pool.submit(run),
            poll,
            lambda: self.cancel(plugin_id, execution_id),
        )


# -- through the Jupyter server ------------------------------------------------------------------


@dataclass
class _EventBuffer:
    """Events read from the server's stream by a reader thread, and the run's status."""

    events: list[dict[str, Any]] = field(default_factory=list)
    status: str = "queued"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(event)
            self.status = "running"

    def after(self, seq: int) -> tuple[str, list[dict[str, Any]]]:
        with self.lock:
            return self.status, [e for e in self.events if e["seq"] > seq]


def _sse_messages(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` of each server-sent event in a stream of text lines."""
    name, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def _json_data(answer: dict[str, Any]) -> Any:
    """A JSON answer's data: a result frame (split form ``{"columns", "index", "data"}``) as a
    DataFrame, anything else as it is."""
    data = answer.get("data")
    if answer.get("output_shape") is not None and isinstance(data, dict) and "columns" in data:
        return pd.DataFrame(data["data"], columns=data["columns"], index=data.get("index"))
    return data


class ServerBackend:
    """The Jupyter server's ``/api/plugins`` REST API (the server runs and records every run)."""

    kind = "server"
    #: Seconds a quick request may take; runs and installs wait as long as the server works.
    TIMEOUT = 30.0

    def __init__(self, url: str, token: str = "", session: requests.Session | None = None) -> None:
        self.url = url.rstrip("/") + "/"
        self.api = self.url + "api/plugins"
        self.session = session or requests.Session()
        self.session.trust_env = False  # a proxy from the environment must not see the token
        if token:
            self.session.headers["Authorization"] = f"token {token}"
        self._pool = cf.ThreadPoolExecutor(8, thread_name_prefix="omniplug-http")

    @property
    def description(self) -> str:
        return f"plugins run through the Jupyter server at {self.url} (no Docker needed here)"

    def _send(
        self, method: str, path: str, *, timeout: float | None = TIMEOUT, **kw: Any
    ) -> requests.Response:
        """One request to ``/api/plugins/<path>``; an error answer raises its ``PluginError``."""
        try:
            response = self.session.request(
                method, f"{self.api}/{path}".rstrip("/"), timeout=(10, timeout), **kw
            )
        except requests.RequestException as exc:
            raise ServerUnreachable(
                f"the Jupyter server at {self.url} does not answer ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = {"message": response.text[:300]}
            if not isinstance(payload, dict):
                payload = {}
            message = payload.pop("message", None) or f"HTTP {response.status_code}"
            payload.pop("reason", None)
            raise _ERRORS.get(response.status_code, PluginError)(str(message), **payload)
        return response

    def _call(self, method: str, path: str, *, timeout: float | None = TIMEOUT, **kw: Any) -> Any:
        """``_send``, answering the decoded JSON."""
        response = self._send(method, path, timeout=timeout, **kw)
        try:
            return response.json() if response.content else {}
        except ValueError:
            raise PluginError(f"the server's answer to {path} is not JSON") from None

    def _execute(
        self, plugin_id: str, body: dict[str, Any], frame: pd.DataFrame | None
    ) -> tuple[dict[str, Any], Any]:
        """POST execute; ``(answer, data)``.

        A frame travels as an Arrow IPC body (the other fields as query arguments) and a
        result frame comes back as one, its answer in the stream's schema metadata: types and
        index survive, and nothing is spelled out as JSON. Without a frame: JSON both ways.
        """
        path = f"{plugin_id}/execute"
        if frame is None:
            answer = self._call("POST", path, json=body, timeout=None)
            return answer, _json_data(answer)
        query = {
            key: json.dumps(value) if key in ("parameters", "config") else str(value)
            for key, value in body.items()
            if value is not None
        }
        response = self._send(
            "POST",
            path,
            params=query,
            data=frame_to_ipc(frame),
            headers={"Content-Type": ARROW_STREAM, "Accept": f"{ARROW_STREAM}, application/json"},
            timeout=None,
        )
        if response.headers.get("Content-Type", "").startswith(ARROW_STREAM):
            table = read_table(response.content)
            answer = json.loads((table.schema.metadata or {})[ARROW_ANSWER_KEY])
            return answer, table_to_frame(table)
        answer = response.json()
        return answer, _json_data(answer)

    def _upload(self, path: str, package: Path, **fields: str) -> Any:
        with tempfile.TemporaryDirectory() as tmp, _packed(package, tmp).open("rb") as f:
            return self._call(
                "POST", path, files={"file": (Path(f.name).name, f)}, data=fields, timeout=None
            )

    def list_plugins(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "list")["plugins"])

    def details(self, plugin_id: str) -> dict[str, Any]:
        return dict(self._call("GET", plugin_id))

    def install(self, path: Path, *, enable: bool = False, **flags: bool) -> dict[str, Any]:
        fields = {name: "true" if on else "false" for name, on in flags.items()}
        result = dict(self._upload("install", Path(path), **fields))
        if enable and not result["enabled"]:
            self.set_enabled(result["plugin_id"], True)
            result["enabled"] = True
        return result

    def install_from_marketplace(self, name: str, version: str | None = None) -> dict[str, Any]:
        body = {"name": name, **({"version": version} if version else {})}
        return dict(self._call("POST", "marketplace/install", json=body, timeout=None))

    def set_enabled(self, plugin_id: str, enabled: bool) -> dict[str, Any]:
        return dict(self._call("POST", f"{plugin_id}/{'enable' if enabled else 'disable'}"))

    def update(self, plugin_id: str, version: str | None = None) -> dict[str, Any]:
        body = {"target_version": version}
        return dict(self._call("POST", f"{plugin_id}/update", json=body, timeout=None))

    def rollback(self, plugin_id: str, version: str | None, reason: str) -> dict[str, Any]:
        body = {"target_version": version, "reason": reason}
        return dict(self._call("POST", f"{plugin_id}/rollback", json=body))

    def uninstall(self, plugin_id: str) -> dict[str, Any]:
        return dict(self._call("DELETE", plugin_id))

    def scan(self, path: Path) -> dict[str, Any]:
        return dict(self._upload("sdk/scan", Path(path)))

    def scan_report(self, plugin_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"{plugin_id}/scan"))

    def search(self, query: str = "") -> list[dict[str, Any]]:
        return list(self._call("POST", "marketplace/search", json={"query": query})["results"])

    def catalog_entry(self, plugin_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"marketplace/plugins/{plugin_id}"))

    def readme(self, plugin_id: str, version: str | None = None) -> dict[str, Any]:
        params = {"version": version} if version else None
        return dict(self._call("GET", f"{plugin_id}/readme", params=params))

    def reviews(self, plugin_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"{plugin_id}/review"))

    def review(self, plugin_id: str, text: str, rating: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text, **({"rating": rating} if rating else {})}
        return dict(self._call("POST", f"{plugin_id}/review", json=body))

    def executions(self, plugin_id: str, page_size: int = 20) -> dict[str, Any]:
        params = {"page": 1, "page_size": page_size}
        return dict(self._call("GET", f"{plugin_id}/executions", params=params))

    def execution(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"{plugin_id}/executions/{execution_id}"))

    def cancel(self, plugin_id: str, execution_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"{plugin_id}/executions/{execution_id}/cancel", timeout=60))

    def start(
        self,
        plugin_id: str,
        frame: pd.DataFrame | None,
        *,
        parameters: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        extension_point: str | None = None,
        timeout: float | None = None,
    ) -> RunHandle:
        if extension_point is None:  # as a local run: the plugin's first declared one
            points = self.details(plugin_id).get("extension_points") or [None]
            extension_point = points[0]
        execution_id = str(uuid.uuid4())
        body = _run_body(parameters, config, extension_point, timeout)
        body["execution_id"] = execution_id
        if frame is not None and wants_json(self.details(plugin_id).get("manifest") or {}):
            # A plugin taking JSON gets a notebook's frame as records, as on a local run.
            body["input_data"], frame = frame_records(frame), None
        buffer, stop = _EventBuffer(), threading.Event()
        follower = self._pool.submit(self._follow, plugin_id, execution_id, buffer, stop)

        def run() -> PluginResult:
            try:
                answer, data = self._execute(plugin_id, body, frame)
            finally:
                stop.set()
            # The stream ends right after the record does: its last lines are worth a moment.
            cf.wait([follower], timeout=2)
            return PluginResult(data=data, answer={**answer, "data": None})

        return RunHandle(
            plugin_id,
            execution_id,
            self._pool.submit(run),
            buffer.after,
            lambda: self._cancel_when_recorded(plugin_id, execution_id, stop),
        )

    def _follow(
        self, plugin_id: str, execution_id: str, buffer: _EventBuffer, stop: threading.Event
    ) -> None:
        """Read the run's event stream into ``buffer`` until it ends (reconnecting as needed).

        The stream answers 404 until the server recorded the run (its request may still be
        uploading): retried while the run's own request is under way.
        """
        url = f"{self.api}/{plugin_id}/executions/{execution_id}/events"
        while True:
            after = buffer.events[-1]["seq"] if buffer.events else 0
            try:
                with self.session.get(
                    url, params={"after": after}, stream=True, timeout=(10, 60)
                ) as response:
                    if response.status_code == 200:
                        for name, data in _sse_messages(response.iter_lines(decode_unicode=True)):
                            message = json.loads(data)
                            if name == "end":
                                buffer.status = str(message.get("status"))
                                return
                            if name == "status":
                                buffer.status = str(message.get("status"))
                            elif isinstance(message, dict) and "seq" in message:
                                buffer.add(message)
                    elif response.status_code != 404:
                        return
            except (requests.RequestException, ValueError):
                pass
            if stop.wait(0.2):
                return

    def _cancel_when_recorded(
        self, plugin_id: str, execution_id: str, stop: threading.Event
    ) -> dict[str, Any]:
        """Cancel; a run not recorded yet (its request still uploading) is cancelled once it is."""
        while True:
            try:
                return self.cancel(plugin_id, execution_id)
            except NotFound:
                if stop.wait(0.1):  # its request ended without a record: nothing runs
                    return {"execution_id": execution_id, "status": "cancelled"}


# -- choosing one ---------------------------------------------------------------------------------

_KERNEL_FILE = re.compile(r"kernel-(?P<id>[0-9a-fA-F-]{8,})\.json$")


def kernel_id() -> str | None:
    """This kernel's id, from its connection file's name (None outside a kernel)."""
    try:
        from ipykernel.connect import get_connection_file

        match = _KERNEL_FILE.search(get_connection_file())
    except (ImportError, RuntimeError, AttributeError):
        return None
    return match.group("id") if match else None


def _runtime_servers(runtime_dir: Path) -> Iterator[dict[str, Any]]:
    """The running Jupyter servers' runtime files (``jpserver-<pid>.json``), live ones only."""
    for path in sorted(runtime_dir.glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(info, dict) and str(info.get("url", "")).startswith("http"):
            yield info


def find_server(
    environ: dict[str, str] | None = None,
    *,
    kernel: str | None = None,
    runtime_dir: Path | None = None,
) -> tuple[str, str] | None:
    """``(url, token)`` of the server this kernel belongs to, or None.

    ``OMNISCOPE_SERVER_URL``/``OMNISCOPE_TOKEN`` first; else the server whose runtime file
    lists this kernel among its kernels and serves ``/api/plugins``.
    """
    env = os.environ if environ is None else environ
    if env.get(SERVER_URL_ENV):
        return env[SERVER_URL_ENV], env.get(TOKEN_ENV, "")
    kernel = kernel or kernel_id()
    if not kernel:
        return None
    with requests.Session() as session:
        session.trust_env = False  # the token goes to the local server, never to a proxy
        for info in _runtime_servers(runtime_dir or Path(jupyter_runtime_dir())):
            url = str(info["url"]).rstrip("/") + "/"
            session.headers["Authorization"] = f"token {info.get('token', '')}"
            try:
                kernels = session.get(url + "api/kernels", timeout=3).json()
                ours = any(isinstance(k, dict) and k.get("id") == kernel for k in kernels)
                if ours and session.get(url + "api/plugins/extension-points", timeout=3).ok:
                    return url, str(info.get("token", ""))
            except (requests.RequestException, ValueError, TypeError):
                continue
    return None


def connect(server_url: str = "", token: str = "", mode: str = "auto") -> PluginBackend:
    """The backend to use: ``mode`` ``server`` (the configured or found one), ``local``, or
    ``auto`` (a server when there is one, else local)."""
    if mode == "local":
        return LocalBackend()
    found = (server_url, token) if server_url else find_server()
    if found is not None:
        return ServerBackend(*found)
    if mode == "server":
        raise ServerUnreachable(
            "no Jupyter server found for this kernel: set %config OmniplugMagics.server_url"
        )
    return LocalBackend()


_default: PluginBackend | None = None
_default_lock = threading.Lock()


def default_backend() -> PluginBackend:
    """The process-wide backend (``connect()``), made on first use; says once which it is."""
    global _default
    with _default_lock:
        if _default is None:
            _default = connect()
            print(f"omniplug: {_default.description}")
        return _default


def as_backend(target: PluginBackend | PluginSystem | None) -> PluginBackend:
    """A backend from what a widget was given: a backend, a ``PluginSystem``, or None."""
    if target is None:
        return default_backend()
    if isinstance(target, PluginSystem):
        return LocalBackend(target)
    return target


__all__ = [
    "METADATA_KEY",
    "LocalBackend",
    "PluginBackend",
    "PluginResult",
    "RunHandle",
    "ServerBackend",
    "ServerUnreachable",
    "as_backend",
    "connect",
    "default_backend",
    "find_server",
]
