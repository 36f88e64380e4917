"""Sandbox runner: runs one plugin job inside the container and writes its result.

In the pooled sandbox, ``omniscope_sandbox.py`` is the container's process: it forks one child
per run, which calls :func:`run_job` here (input memory-mapped, result frame into a sealed memfd,
events through a pipe); ``main`` below is the standalone one-shot form of the same job.

Protocol of the one-shot form (the host side is ``omniscope_jupyter/sandbox/runner.py``):

* The container starts with this script and no job. The plugin's files are mounted read-only
  at ``/plugin``, the job directory read-only at ``/job``, the output directory at ``/out``.
  Because the job arrives after start, a pool can start containers ahead of demand.
* The runner waits for ``/job/ready``, then reads ``/job/job.json`` (plugin id, language, entry
  point, config, parameters, extension point, how data travels) and ``/job/input.arrow``.
* It loads the plugin (Python class with ``execute``; R Reference Class through rpy2), calls
  ``execute(input_data)`` and writes ``/out/data.arrow`` when the result's ``data`` is a frame,
  then ``/out/result.json`` last, so a present ``result.json`` means the run is complete.

Only JSON and Arrow leave the container; the host validates both and never executes them.

Live events: while the plugin runs, ``/out/events.jsonl`` gets one JSON object a line, each with
a growing ``seq`` and ``t`` (seconds since the job started): ``{"type": "log", "stream":
"stdout"|"stderr", "text": ...}`` for every line the plugin prints (R's console output included),
``{"type": "progress", "fraction": 0..1, "message": ...}`` when it calls
``context["progress"](0.4, "fitting")`` (R: ``omniscope_progress(0.4, "fitting")``), and one
``{"type": "truncated"}`` when the file reaches ``EVENTS_CAP`` bytes (later events are dropped).
The host tails it (``omniscope_jupyter/sandbox/events.py``); the result never depends on it.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transfer

if int(pd.__version__.split(".")[0]) < 3:
    # Frames arrive as read-only views of their Arrow file (``transfer.table_to_frame``);
    # copy-on-write (pandas 3's only mode) lets a plugin write to them as to any frame.
    pd.set_option("mode.copy_on_write", True)

JOB = Path(os.environ.get("OMNISCOPE_JOB_DIR", "/job"))
OUT = Path(os.environ.get("OMNISCOPE_OUT_DIR", "/out"))
PLUGIN = Path(os.environ.get("OMNISCOPE_PLUGIN_DIR", "/plugin"))
R_HELPERS = Path(__file__).with_name("omniscope_runner.R")
EVENTS_FILE = "events.jsonl"
#: Bytes of events a run may write; past this one ``truncated`` event and no more.
EVENTS_CAP = 1 << 20
#: Longest text of one log event (a longer printed line is cut).
EVENT_TEXT_CAP = 2000


class EventLog:
    """Appends live events to ``/out/events.jsonl``: thread-safe, size-capped, never raises."""

    def __init__(self, path: Path, cap: int = EVENTS_CAP) -> None:
        self._lock = threading.Lock()
        self._room = cap
        self._seq = 0
        self._started = time.monotonic()
        try:
            self._file: Any = open(path, "a", encoding="utf-8")  # closed by close()
        except OSError:
            self._file = None  # events are a convenience: a run never fails for them

    def emit(self, kind: str, **fields: Any) -> None:
        with self._lock:
            if self._file is None:
                return
            self._seq += 1
            head = {"seq": self._seq, "t": round(time.monotonic() - self._started, 3)}
            line = json.dumps({**head, "type": kind, **fields}, default=str) + "\n"
            last = len(line.encode()) > self._room - 64
            if last:
                line = json.dumps({**head, "type": "truncated"}) + "\n"
            try:
                self._file.write(line)
                self._file.flush()
            except (OSError, ValueError):
                last = True
            self._room -= len(line.encode())
            if last:
                self._close()

    def _close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass
        self._file = None

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._close()


class LineTee(io.TextIOBase):
    """A text stream that passes writes on and also emits each complete line as a log event."""

    def __init__(self, stream: Any, name: str, events: EventLog) -> None:
        self._stream = stream
        self._name = name
        self._events = events
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._events.emit("log", stream=self._name, text=line[:EVENT_TEXT_CAP])
        if len(self._partial) > EVENT_TEXT_CAP:
            self._events.emit("log", stream=self._name, text=self._partial[:EVENT_TEXT_CAP])
            self._partial = ""
        return len(text) if written is None else written

    def flush(self) -> None:
        self._stream.flush()

    def finish(self) -> None:
        """Emit a last line printed without a newline."""
        if self._partial:
            self._events.emit("log", stream=self._name, text=self._partial)
            self._partial = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._stream, "encoding", "utf-8"))

    def fileno(self) -> int:
        return int(self._stream.fileno())


#: The run's event log, set by ``main`` (a no-op sink until then).
EVENTS = EventLog(Path(os.devnull))


def report_progress(fraction: Any, message: Any = "") -> None:
    """``context["progress"](fraction, message)``: how far the plugin is, from 0 to 1."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise TypeError(f"progress fraction must be a number, not {fraction!r}") from None
    if value != value:  # NaN
        raise ValueError("progress fraction must be a number between 0 and 1, not NaN")
    EVENTS.emit("progress", fraction=min(1.0, max(0.0, value)), message=str(message)[:500])


class PluginContractError(Exception):
    """The plugin does not have the shape the spec asks for."""


class RPluginError(Exception):
    """The R plugin stopped: R's own message and call stack, with no rpy2 frames."""

    def __init__(self, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.stack = "R call stack (most recent call first):\n" + "\n".join(stack) if stack else ""


#: Frames kept of a Python traceback (the innermost).
MAX_FRAMES = 50


def failure(exc: BaseException) -> dict[str, str]:
    """The ``error`` and ``traceback`` a failed run reports, as the plugin's author reads them.

    R: R's message and call stack. Python: the traceback from the plugin's first frame on (the
    runner's frames that led there say nothing about the plugin), its causes likewise.
    """
    if isinstance(exc, RPluginError):
        return {"error": exc.message, "traceback": exc.stack}
    report = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    link: traceback.TracebackException | None = report
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        frames = list(link.stack)
        first = next((i for i, f in enumerate(frames) if _is_plugin_file(f.filename)), len(frames))
        link.stack = traceback.StackSummary.from_list(frames[first:][-MAX_FRAMES:])
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return {"error": f"{type(exc).__name__}: {exc}", "traceback": "".join(report.format())}


def _is_plugin_file(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(PLUGIN.resolve())
    except (OSError, ValueError):
        return False


def wait_for_job(poll: float = 0.02) -> dict[str, Any]:
    """Block until the host has written the job, then return it."""
    ready = JOB / "ready"
    while not ready.exists():
        time.sleep(poll)
    return json.loads((JOB / "job.json").read_text(encoding="utf-8"))


def load_input(job: dict[str, Any]) -> Any:
    """The ``data`` the plugin receives: a DataFrame, plain JSON, or None when withheld."""
    kind = job.get("data_kind")
    if kind == "frame":
        return transfer.read_ipc_file(JOB / str(job.get("input_file", "input.arrow")))
    if kind == "json":
        return job.get("data")
    return None


def entry_path(job: dict[str, Any]) -> Path:
    """The entry file, refusing anything outside the plugin directory."""
    path = (PLUGIN / job["entry_point"]).resolve()
    if PLUGIN.resolve() not in path.parents or not path.is_file():
        raise PluginContractError(f"entry point {job['entry_point']!r} is not a file of the plugin")
    return path


#: The plugin loaded ahead of its job in this process (``preload_plugin``): its entry point
#: and what loading it gave (a module, R's generator, or the exception it raised).
PRELOADED: dict[str, Any] = {}


def preload_plugin(job: dict[str, Any]) -> None:
    """Load the plugin of ``job`` (its entry point and language) before its job arrives.

    The pooled runner calls this in a run's own process, forked for a container bound to this
    plugin version: the code that runs is the code the job would run first anyway, and the
    process is the run's, so nothing is shared with another run. Importing the module (for R:
    sourcing the file and its ``setRefClass``) is then off the run's path. A failure is kept
    and raised by the run, as if it had happened there.
    """
    PRELOADED.clear()
    PRELOADED["entry_point"] = job["entry_point"]
    try:
        if job.get("language") == "r":
            PRELOADED["loaded"] = _load_r(job)
        else:
            PRELOADED["loaded"] = _import_entry(job)
    except Exception as exc:  # noqa: BLE001 (raised again by the run it belongs to)
        PRELOADED["error"] = exc


def _preloaded(job: dict[str, Any]) -> Any:
    """What ``preload_plugin`` loaded for this job's entry point (raising its error), or None."""
    if PRELOADED.get("entry_point") != job.get("entry_point"):
        return None
    if "error" in PRELOADED:
        raise PRELOADED["error"]
    return PRELOADED.get("loaded")


def _import_entry(job: dict[str, Any]) -> Any:
    path = entry_path(job)
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("omniscope_plugin_entry", path)
    if spec is None or spec.loader is None:
        raise PluginContractError(f"cannot import {path.name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_python(job: dict[str, Any], input_data: dict[str, Any]) -> Any:
    """Import the entry module, find the plugin class, construct it with ``context``, execute."""
    path = entry_path(job)
    module = _preloaded(job) or _import_entry(job)
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and obj.__module__ == module.__name__ and callable(getattr(obj, "execute", None))
    ]
    context = {
        "plugin_id": job["plugin_id"],
        "version": job.get("version"),
        "config": job.get("config", {}),
        "parameters": job.get("parameters", {}),
        "extension_point": job.get("extension_point"),
        "permissions": job.get("permissions", []),
        "progress": report_progress,
    }
    if classes:
        cls = classes[0]
        # The spec's classes take ``__init__(self, context)``; a class without one takes nothing.
        instance = cls() if cls.__init__ is object.__init__ else cls(context)
        for name in ("plugin_id", "config", "context"):
            if not hasattr(instance, name):
                setattr(instance, name, context[name] if name != "context" else context)
        try:
            return instance.execute(input_data)
        finally:
            cleanup = getattr(instance, "cleanup", None)
            if callable(cleanup):
                cleanup()
    function = getattr(module, "execute", None)
    if callable(function):
        return function(input_data)
    raise PluginContractError(f"{path.name} defines no class with an execute method")


def _r_helpers() -> Any:
    """rpy2's R, with the runner's R functions defined (the pooled runner's zygote did it)."""
    import rpy2.robjects as ro

    if ".omniscope_run" not in ro.globalenv:
        # Without its source kept, the runner's own lines never show in a plugin's call stack.
        ro.r["source"](str(R_HELPERS), keep_source=False)
    return ro


def _r_progress() -> Any:
    """R's ``omniscope_progress(fraction, message)``, as an R function calling back here.

    It answers TRUE: rpy2 reports (on stderr) a Python callback that answers NULL.
    """
    import rpy2.rinterface as ri

    @ri.rternalize
    def progress(fraction: Any, message: Any) -> Any:
        report_progress(fraction[0], message[0])
        return ri.BoolSexpVector([True])

    return progress


def _load_r(job: dict[str, Any]) -> Any:
    """Source the entry file ahead of the job: R's list(generator, progress), or
    ``RPluginError`` as the run would have reported it."""
    ro = _r_helpers()
    loaded = ro.globalenv[".omniscope_guarded"](
        ro.globalenv[".omniscope_load"], str(entry_path(job)), _r_progress()
    )
    if "error" in list(loaded.names):
        raise RPluginError(str(loaded.rx2("error")[0]), [str(c) for c in loaded.rx2("stack")])
    return loaded


def run_r(job: dict[str, Any], input_data: dict[str, Any]) -> Any:
    """Source the entry file through rpy2 and call the Reference Class' ``$execute``."""
    import rpy2_frames

    ro = _r_helpers()
    loaded = _preloaded(job)
    frame = input_data.get("data")
    r_data = rpy2_frames.frame_to_r(frame) if isinstance(frame, pd.DataFrame) else ro.NULL
    rest = {k: v for k, v in input_data.items() if k != "data"}
    if frame is not None and not isinstance(frame, pd.DataFrame):
        rest["data"] = frame
    # ``.omniscope_guarded`` answers list(error, stack) when the plugin stops (see the R file).
    outcome = ro.globalenv[".omniscope_guarded"](
        ro.globalenv[".omniscope_run"],
        str(entry_path(job)),
        job["plugin_id"],
        json.dumps(job.get("config", {})),
        json.dumps(rest),
        r_data,
        not isinstance(frame, pd.DataFrame) and frame is not None,
        ro.NULL if loaded is not None else _r_progress(),
        loaded if loaded is not None else ro.NULL,
    )
    if "error" in list(outcome.names):
        raise RPluginError(str(outcome.rx2("error")[0]), [str(c) for c in outcome.rx2("stack")])
    # ``.omniscope_run`` answers list(json = <result without a frame>, frame = <data.frame|NULL>).
    result = json.loads(outcome.rx2("json")[0])
    if isinstance(result, dict) and ".omniscope_invalid" in result:
        raise PluginContractError(
            "execute must return a list(data, metadata, logs, warnings, errors), "
            f"not a {result['.omniscope_invalid']}"
        )
    r_frame = outcome.rx2("frame")
    if r_frame is not ro.NULL:
        if not isinstance(result, dict):
            result = {}
        result["data"] = rpy2_frames.frame_from_r(r_frame)
    if isinstance(result, dict) and "metadata" in result and result["metadata"] == []:
        result["metadata"] = {}  # jsonlite writes an empty named list as []
    return result


def write_result(payload: dict[str, Any]) -> None:
    """Write ``result.json`` atomically; its presence tells the host the run finished."""
    tmp = OUT / ".result.json.tmp"
    tmp.write_text(json.dumps(payload, allow_nan=False), encoding="utf-8")
    os.replace(tmp, OUT / "result.json")


def write_frame_file(frame: pd.DataFrame) -> None:
    """The one-shot runner's frame sink: ``/out/data.arrow``."""
    transfer.write_ipc(frame, str(OUT / "data.arrow"))


def encode_result(result: Any, write_frame: Any = None) -> dict[str, Any]:
    """Split a plugin's result into JSON plus, when ``data`` is a frame, the frame written by
    ``write_frame`` (default: ``/out/data.arrow``)."""
    if not isinstance(result, dict):
        return {"kind": "invalid", "type": type(result).__name__}
    body = dict(result)
    data = body.pop("data", None)
    data_kind = "none" if "data" not in result else "json"
    if isinstance(data, pd.DataFrame):
        (write_frame or write_frame_file)(data)
        data_kind, data = "frame", None
    return {
        "kind": "dict",
        "data_kind": data_kind,
        "data": transfer.to_jsonable(data),
        "body": transfer.to_jsonable(body),
    }


def peak_memory() -> int:
    """Peak resident memory of this process and its children, in bytes."""
    usage = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return usage * 1024


def start_events(path: Path | None = None) -> list[LineTee]:
    """Open the run's event log (``path``, default ``/out/events.jsonl``) and tee stdout/stderr
    into it; the tees to finish at the end."""
    global EVENTS
    EVENTS = EventLog(path or OUT / EVENTS_FILE)
    tees = [LineTee(sys.stdout, "stdout", EVENTS), LineTee(sys.stderr, "stderr", EVENTS)]
    sys.stdout, sys.stderr = tees  # type: ignore[assignment]
    return tees


def run_job(
    job: dict[str, Any], events_path: Path | None = None, write_frame: Any = None
) -> dict[str, Any]:
    """Run one job and return its result payload (what ``result.json`` holds)."""
    started = time.monotonic()
    tees = start_events(events_path)
    try:
        input_data = {
            "data": load_input(job),
            "parameters": job.get("parameters", {}),
            "config": job.get("config", {}),
            "extension_point": job.get("extension_point"),
        }
        if job.get("language") == "r":
            result = run_r(job, input_data)
        else:
            result = run_python(job, input_data)
        payload = {"status": "succeeded", "result": encode_result(result, write_frame)}
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        payload = {"status": "failed", **failure(exc)}
    payload["runner_seconds"] = round(time.monotonic() - started, 4)
    payload["peak_memory_bytes"] = peak_memory()
    for tee in tees:
        tee.finish()
    EVENTS.close()
    sys.stdout.flush()
    sys.stderr.flush()
    return payload


def main() -> int:
    write_result(run_job(wait_for_job()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
